"""The manifest a sender declares: every field rule, the national pre-send rules, and which components
the sender still has to upload."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.domain.bus import (
    Address,
    ComponentSignature,
    Header,
    HistoryItem,
    Identification,
    Interested,
    Manifest,
    ManifestComponent,
    ManifestDocument,
    ManifestProcess,
    Producer,
    components_to_request,
    validate_manifest,
)
from chalicelib.domain.documents import Origin, sha256_b64
from chalicelib.domain.errors import InvalidInput

BRT = timezone(timedelta(hours=-3))
PRODUCED = datetime(2026, 3, 2, 9, 0, tzinfo=BRT)
REGISTERED = datetime(2026, 3, 2, 9, 5, tzinfo=BRT)
NUP = "23037.001462/2021-65"
CPF = "529.982.247-25"
CNPJ = "11.222.333/0001-81"
SHA = [sha256_b64(f"arquivo {n}".encode()) for n in range(10)]
SIGNATURE = ComponentSignature("Assinado por Maria (Analista)", REGISTERED, "MEUCIQDxyz==", None)


def make_component(
    order: int = 1, sha: str = SHA[0], size: int = 1000, **changes: object
) -> ManifestComponent:
    base = ManifestComponent(order=order, name=f"arquivo{order}.pdf", sha256=sha, size=size,
                             media_type="application/pdf")  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def make_document(order: int = 1, *shas: str, internal: bool = False, **changes: object) -> ManifestDocument:
    signatures = (SIGNATURE,) if internal else ()
    components = tuple(
        make_component(n, sha, 1000 + SHA.index(sha), signatures=signatures)
        for n, sha in enumerate(shas or (SHA[order],), start=1)
    )
    base = ManifestDocument(
        order=order, kind=88 if internal else 95, origin=Origin.INTERNO if internal else Origin.EXTERNO,
        access_level=1, legal_basis=None, produced_at=PRODUCED, registered_at=REGISTERED,
        producer=Producer("Coordenação de Protocolo", "CGPRO", None), components=components,
        identification=Identification("12", "CGPRO", 2026),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def make_process(**changes: object) -> ManifestProcess:
    base = ManifestProcess(
        nup=NUP, access_level=1, legal_basis=None, process_type="Licitação: Pregão eletrônico",
        specification="Aquisição de material de escritório", produced_at=PRODUCED, registered_at=REGISTERED,
        producer=Producer("Maria da Silva", "Coordenação de Protocolo", CPF),
        interested=(Interested("Maria da Silva", CPF), Interested("Papelaria Brasil Ltda", CNPJ)),
        related=("23037.000001/2020-94",),
        history=(HistoryItem(PRODUCED, "Coordenação de Protocolo", "05", "maria", "Autuação do processo"),),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def make_manifest(*documents: ManifestDocument, header: Header | None = None, **process: object) -> Manifest:
    return Manifest(
        header=header or Header(Address("1", "101"), Address("1", "201")),
        process=make_process(**process),
        documents=documents or (make_document(1, internal=True), make_document(2)),
    )


def fields_of(manifest: Manifest) -> list[str]:
    with pytest.raises(InvalidInput) as raised:
        validate_manifest(manifest)
    return [f.field for f in raised.value.fields]


def message_for(manifest: Manifest, field: str) -> str:
    with pytest.raises(InvalidInput) as raised:
        validate_manifest(manifest)
    return next(f.message for f in raised.value.fields if f.field == field)


def test_a_good_manifest_passes() -> None:
    validate_manifest(make_manifest())
    restricted = make_manifest(
        make_document(1, internal=True, access_level=2, legal_basis=4), access_level=2, legal_basis=4
    )
    validate_manifest(restricted)
    validate_manifest(
        make_manifest(header=Header(Address("1", "101"), Address("2", "101"), "NRE-1", True, "Prazo"))
    )


def test_every_problem_is_listed_with_its_path() -> None:
    bad_component = make_component(1, "ab" * 32, 0, media_type="pdf", name="a/b.pdf")
    manifest = Manifest(
        header=Header(Address("1", "x"), Address("1", "201"), nre="-1", urgent=True),
        process=make_process(nup="23037.001462/2021-66", specification="", interested=(), access_level=3),
        documents=(
            make_document(1, internal=True),
            make_document(3, kind=187, access_level=2),
            replace(make_document(3), components=(make_component(1, SHA[5]), bad_component)),
        ),
    )
    with pytest.raises(InvalidInput) as raised:
        validate_manifest(manifest)
    assert [f.field for f in raised.value.fields] == [
        "cabecalho.remetente.estrutura",
        "cabecalho.nre",
        "cabecalho.motivoUrgencia",
        "processo.nup",
        "processo.nivelAcesso",
        "processo.especificacao",
        "processo.interessados",
        "documentos.1.ordem",
        "documentos.1.especie",
        "documentos.1.hipoteseLegal",
        "documentos.2.componentes.1.ordem",
        "documentos.2.componentes.1.nomeArquivo",
        "documentos.2.componentes.1.tamanho",
        "documentos.2.componentes.1.tipoMidia",
        "documentos.2.componentes.1.sha256",
    ]
    assert raised.value.detail == (
        "O processo não pode ser enviado pelo barramento: o manifesto tem 15 problemas. Corrija cada "
        "campo listado e envie de novo."
    )


def test_the_path_names_the_component_inside_the_document() -> None:
    docs = (
        make_document(1),
        make_document(2),
        replace(make_document(3), components=(make_component(1, "x"),)),
    )
    assert fields_of(make_manifest(*docs)) == ["documentos.2.componentes.0.sha256"]


# --- the national module's pre-send rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "field", "message"),
    [
        (make_manifest(specification=""), "processo.especificacao", "preenchimento obrigatório"),
        (make_manifest(specification="  "), "processo.especificacao", "preenchimento obrigatório"),
        (make_manifest(interested=()), "processo.interessados", "pelo menos um interessado"),
        (Manifest(make_manifest().header, make_process(), ()), "documentos", "pelo menos um documento"),
        (make_manifest(access_level=3, legal_basis=4), "processo.nivelAcesso", "sigiloso (nível 3) não pode"),
        (make_manifest(make_document(1, access_level=3, legal_basis=4)), "documentos.0.nivelAcesso",
         "o documento sigiloso (nível 3) não pode ser enviado"),
        (make_manifest(access_level=2), "processo.hipoteseLegal", "obrigatória: o processo é restrito"),
        (make_manifest(make_document(1, access_level=2)), "documentos.0.hipoteseLegal",
         "obrigatória: o documento é restrito"),
        (make_manifest(access_level=2, legal_basis=99), "processo.hipoteseLegal", "lista nacional"),
        (make_manifest(legal_basis=4), "processo.hipoteseLegal", "público não tem hipótese legal"),
        (make_manifest(access_level=0), "processo.nivelAcesso", "use 1 (público), 2 (restrito) ou 3"),
        (make_manifest(make_document(1, internal=True), make_document(2, internal=True, components=(
            make_component(1, SHA[2]),))), "documentos.1",
         "o documento 2 é interno e não foi assinado; assine-o (ou cancele-o) antes de enviar o processo"),
    ],
)  # fmt: skip
def test_pre_send_rules(manifest: Manifest, field: str, message: str) -> None:
    assert fields_of(manifest) == [field]
    assert message in message_for(manifest, field)


def test_an_external_document_needs_no_signature_and_one_signed_component_signs_a_document() -> None:
    validate_manifest(make_manifest(make_document(1)))
    two = make_document(1, SHA[1], SHA[2], internal=True)
    half_signed = replace(two, components=(two.components[0], replace(two.components[1], signatures=())))
    validate_manifest(make_manifest(half_signed))


# --- field rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        (make_manifest(process_type="x" * 101), "processo.tipo"),
        (make_manifest(specification="x" * 101), "processo.especificacao"),
        (make_manifest(interested=(Interested("x" * 151),)), "processo.interessados.0.nome"),
        (make_manifest(interested=(Interested("Ana", CNPJ), Interested("Rui", "123.456.789-00"))),
         "processo.interessados.1.cpfCnpj"),
        (make_manifest(producer=Producer("Maria", None, "1234")), "processo.produtor.cpfCnpj"),
        (make_manifest(producer=Producer("")), "processo.produtor.nome"),
        (make_manifest(nup="23037.001462/21"), "processo.nup"),  # 13 digits: lookup only
        (make_manifest(produced_at=datetime(2026, 3, 2, 9, 0)), "processo.dataProducao"),
        (make_manifest(registered_at=PRODUCED - timedelta(seconds=1)), "processo.dataRegistro"),
        (make_manifest(related=(NUP,)), "processo.relacionados.0"),
        (make_manifest(related=("23037.000001/2020-94", "2303700000120209 4")), "processo.relacionados.1"),
        (make_manifest(related=("123",)), "processo.relacionados.0"),
        (make_manifest(history=(HistoryItem(PRODUCED, "Protocolo", "19"),)), "processo.historico.0.operacao"),
        (make_manifest(history=(HistoryItem(datetime(2026, 1, 1), "Protocolo", "01"),)), "processo.historico.0.data"),
        (make_manifest(history=(HistoryItem(PRODUCED, "", "01"),)), "processo.historico.0.unidade"),
        (make_manifest(make_document(1, kind=0)), "documentos.0.especie"),
        (make_manifest(make_document(1, identification=Identification(year=26))), "documentos.0.identificacao.ano"),
        (make_manifest(make_document(1, description="x" * 251)), "documentos.0.descricao"),
        (make_manifest(make_document(1, components=())), "documentos.0.componentes"),
        (make_manifest(make_document(1, components=(make_component(2),))), "documentos.0.componentes.0.ordem"),
        (make_manifest(make_document(1, components=(make_component(size=-1),))), "documentos.0.componentes.0.tamanho"),
        (make_manifest(make_document(1, components=(make_component(name=" a.pdf"),))),
         "documentos.0.componentes.0.nomeArquivo"),
        (make_manifest(make_document(1, components=(make_component(sha=SHA[0].rstrip("=")),))),
         "documentos.0.componentes.0.sha256"),
        (make_manifest(make_document(1, components=(make_component(signatures=(replace(SIGNATURE, value="*"),)),))),
         "documentos.0.componentes.0.assinaturas.0.valor"),
        (make_manifest(make_document(1, components=(make_component(signatures=(replace(SIGNATURE, reason=""),)),))),
         "documentos.0.componentes.0.assinaturas.0.razao"),
        (make_manifest(make_document(1, components=(make_component(
            signatures=(replace(SIGNATURE, certificate_chain="não é base64"),)),))),
         "documentos.0.componentes.0.assinaturas.0.cadeiaCertificado"),
        (make_manifest(header=Header(Address("1", "101"), Address("1", "101"))), "cabecalho.destinatario"),
        (make_manifest(header=Header(Address("0", "101"), Address("1", "201"))), "cabecalho.remetente.repositorio"),
        (make_manifest(header=Header(Address("1", "101"), Address("1", "201"), urgency_reason="x")),
         "cabecalho.motivoUrgencia"),
        (make_manifest(header=Header(Address("1", "101"), Address("1", "201"), urgent=True, urgency_reason="")),
         "cabecalho.motivoUrgencia"),
    ],
)  # fmt: skip
def test_each_field_rule(manifest: Manifest, field: str) -> None:
    assert fields_of(manifest) == [field]


def test_only_a_history_description_may_span_lines() -> None:
    validate_manifest(
        make_manifest(history=(HistoryItem(PRODUCED, "Protocolo", "01", None, "linha 1\nlinha 2"),))
    )
    assert fields_of(make_manifest(specification="linha 1\nlinha 2")) == ["processo.especificacao"]
    assert fields_of(make_manifest(history=(HistoryItem(PRODUCED, "Protocolo", "01", None, "a\x00b"),))) == [
        "processo.historico.0.descricao"
    ]


def test_legacy_nups_are_fine_as_related_processes() -> None:
    validate_manifest(make_manifest(related=("23037.001462/21", "0000001.00000001/2020-69")))


def test_documents_keep_their_order_from_1_without_gaps() -> None:
    assert fields_of(make_manifest(make_document(2), make_document(1))) == [
        "documentos.0.ordem",
        "documentos.1.ordem",
    ]
    assert "deve ser 2" in message_for(
        make_manifest(make_document(1), make_document(3)), "documentos.1.ordem"
    )
    assert fields_of(make_manifest(make_document(1), make_document(1))) == ["documentos.1.ordem"]


def test_the_same_content_always_has_the_same_size() -> None:
    twice = make_manifest(make_document(1, SHA[1]), replace(make_document(2), components=(
        make_component(1, SHA[1], 5),)))  # fmt: skip
    assert fields_of(twice) == ["documentos.1.componentes.0.tamanho"]
    assert "declarado com 1001 bytes em documentos.0.componentes.0" in message_for(
        twice, "documentos.1.componentes.0.tamanho"
    )
    validate_manifest(make_manifest(make_document(1, SHA[1]), make_document(2, SHA[1])))


def test_limits_are_inclusive() -> None:
    validate_manifest(
        make_manifest(process_type="x" * 100, specification="y" * 100, interested=(Interested("z" * 150),))
    )


# --- components to upload ----------------------------------------------------------------------------------------


def test_components_to_request_skips_what_the_bus_holds_and_repeats() -> None:
    manifest = make_manifest(
        make_document(1, SHA[1], SHA[2], internal=True),
        make_document(2, SHA[3], SHA[1]),
        make_document(3, SHA[2]),
    )
    assert [c.sha256 for c in components_to_request(manifest, set())] == [SHA[1], SHA[2], SHA[3]]
    assert [c.sha256 for c in components_to_request(manifest, {SHA[2]})] == [SHA[1], SHA[3]]
    assert components_to_request(manifest, {SHA[1], SHA[2], SHA[3], SHA[9]}) == ()
    first = components_to_request(manifest, set())[0]
    assert (first.size, first.media_type) == (1001, "application/pdf")


def test_component_hashes_are_distinct_and_sorted() -> None:
    manifest = make_manifest(
        make_document(1, SHA[3], SHA[1]), make_document(2, SHA[1]), make_document(3, SHA[2])
    )
    assert manifest.component_hashes == tuple(sorted({SHA[1], SHA[2], SHA[3]}))
    assert list(manifest.component_hashes) != [SHA[3], SHA[1], SHA[2]]


def test_times_in_any_time_zone_are_compared_as_instants() -> None:
    validate_manifest(
        make_manifest(produced_at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC), registered_at=PRODUCED)
    )
