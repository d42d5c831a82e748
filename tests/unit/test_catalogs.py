"""The national lists: hipóteses legais, espécies documentais and history operations."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.domain import catalogs
from chalicelib.domain.catalogs import (
    DOCUMENT_KINDS,
    HISTORY_OPERATIONS,
    LEGAL_HYPOTHESES,
    PlatformOperation,
    document_kind,
    document_kinds,
    history_operation,
    history_operations,
    legal_hypotheses,
    legal_hypothesis,
    operation_for,
)
from chalicelib.domain.errors import InvalidInput


def test_reference_examples_of_document_kinds() -> None:
    assert document_kind(88).name == "Ofício"
    assert document_kind(95).name == "Parecer"
    assert document_kind(999).name == "Outra"


def test_document_kinds_cover_1_to_186_and_999() -> None:
    assert [k.code for k in document_kinds()] == [*range(1, 187), 999]
    names = [k.name for k in document_kinds()]
    assert len(set(names)) == len(names)
    assert all(name.strip() == name and name for name in names)
    assert document_kind(1).name == "Abaixo-assinado"
    assert document_kind(177).name == "Vídeo"
    assert document_kind(178).name == "Alegações"
    assert document_kind(186).name == "Estudo"


@pytest.mark.parametrize("code", [0, 187, 998, 1000, -1])
def test_unknown_document_kind_is_invalid_input(code: int) -> None:
    with pytest.raises(InvalidInput) as error:
        document_kind(code)
    assert error.value.detail == f"A espécie documental {code} não existe na lista nacional."
    assert [f.field for f in error.value.fields] == ["especie"]


def test_common_legal_hypotheses_are_present_with_their_legal_basis() -> None:
    labels = {h.label for h in legal_hypotheses()}
    for expected in (
        "Informação Pessoal (Art. 31 da Lei nº 12.527/2011)",
        "Documento Preparatório (Art. 7º, § 3º, da Lei nº 12.527/2011)",
        "Controle Interno (Art. 26, § 3º, da Lei nº 10.180/2001)",
        "Situação Econômico-Financeira de Sujeito Passivo (Art. 198, caput, da Lei nº 5.172/1966 - CTN)",
        "Operações Bancárias (Art. 1º da Lei Complementar nº 105/2001)",
        "Segredo de Justiça no Processo Civil (Art. 189 do Código de Processo Civil)",
        "Segredo de Justiça no Processo Penal (Art. 201, § 6º, do Código de Processo Penal)",
        "Sigilo de Empresa em Situação Falimentar (Art. 169 da Lei nº 11.101/2005)",
        "Investigação de Responsabilidade de Servidor (Art. 150 da Lei nº 8.112/1990)",
        "Direito Autoral (Art. 24, III, da Lei nº 9.610/1998)",
        "Proteção da Propriedade Intelectual de Software (Art. 2º da Lei nº 9.609/1998)",
        "Protocolo -Pendente Análise de Restrição de Acesso (Art. 6º, III, da Lei nº 12.527/2011)",
    ):
        assert expected in labels


def test_legal_hypothesis_lookup_by_id() -> None:
    personal = legal_hypothesis(4)
    assert personal.name == "Informação Pessoal"
    assert personal.legal_basis == "Art. 31 da Lei nº 12.527/2011"
    ids = [h.id for h in legal_hypotheses()]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == len(LEGAL_HYPOTHESES)


@pytest.mark.parametrize("hypothesis_id", [0, 20, 21, 24, 999])
def test_unknown_legal_hypothesis_is_invalid_input(hypothesis_id: int) -> None:
    with pytest.raises(InvalidInput) as error:
        legal_hypothesis(hypothesis_id, field="documentos[2].hipoteseLegal")
    assert error.value.detail == f"A hipótese legal {hypothesis_id} não existe na lista nacional."
    assert [f.field for f in error.value.fields] == ["documentos[2].hipoteseLegal"]


def test_history_operations_are_the_18_national_codes() -> None:
    assert [o.code for o in history_operations()] == [f"{n:02d}" for n in range(1, 19)]
    assert history_operation("01").name == "Registro"
    assert history_operation("05").name == "Autuação"
    assert history_operation("06").name == "Juntada por anexação"


@pytest.mark.parametrize("code", ["00", "1", "19", "99", ""])
def test_unknown_history_operation_is_invalid_input(code: str) -> None:
    with pytest.raises(InvalidInput) as error:
        history_operation(code)
    assert "não existe na lista nacional de operações" in error.value.detail
    assert [f.field for f in error.value.fields] == ["operacao"]


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        (PlatformOperation.CREATE_PROCESS, "05"),
        (PlatformOperation.SEND_TO_UNIT, "02"),
        (PlatformOperation.RECEIVE, "04"),
        (PlatformOperation.MERGE, "06"),
        (PlatformOperation.CANCEL_DOCUMENT, "03"),
        (PlatformOperation.UPDATE_METADATA, "01"),
        (PlatformOperation.ADD_DOCUMENT, "01"),
        (PlatformOperation.SIGN_DOCUMENT, "01"),
        (PlatformOperation.RELATE, "01"),
        (PlatformOperation.SUSPEND, "01"),
        (PlatformOperation.RESUME, "01"),
        (PlatformOperation.CONCLUDE, "01"),
        (PlatformOperation.REOPEN, "01"),
    ],
)
def test_platform_operations_map_to_national_codes(operation: PlatformOperation, code: str) -> None:
    assert operation_for(operation) == HISTORY_OPERATIONS[code]


def test_every_platform_operation_has_a_code() -> None:
    for operation in PlatformOperation:
        assert operation_for(operation).code in HISTORY_OPERATIONS


def test_catalogs_are_immutable() -> None:
    with pytest.raises(TypeError):
        DOCUMENT_KINDS[1000] = DOCUMENT_KINDS[999]  # type: ignore[index]
    with pytest.raises(TypeError):
        LEGAL_HYPOTHESES[99] = LEGAL_HYPOTHESES[4]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalogs.legal_hypothesis(4).name = "x"  # type: ignore[misc]
    assert isinstance(legal_hypotheses(), tuple)
    assert isinstance(document_kinds(), tuple)
