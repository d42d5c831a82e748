"""The return path: a process sent A -> B comes back B -> A under the same NRE with every document
of the previous trâmite at the same order and with the same SHA-256; only new documents follow."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.bus import Address, Header, Manifest, ReturnMismatch, check_return, return_problems
from chalicelib.domain.errors import InvalidInput
from tests.unit.test_bus_manifest import SHA, make_component, make_document, make_manifest

A_TO_B = Header(Address("1", "101"), Address("1", "201"), nre="NRE-7")
B_TO_A = Header(Address("1", "201"), Address("1", "101"), nre="NRE-7")
PREVIOUS = make_manifest(
    make_document(1, SHA[1], internal=True), make_document(2, SHA[2], SHA[3]), make_document(3, SHA[4]),
    header=A_TO_B,
)  # fmt: skip


def back(*documents: object, **process: object) -> Manifest:
    return make_manifest(*documents, header=B_TO_A, **process)  # type: ignore[arg-type]


def problems(new: Manifest) -> list[tuple[str, str]]:
    return [(p.field, p.message) for p in return_problems(PREVIOUS, new)]


def test_the_same_documents_come_back() -> None:
    check_return(PREVIOUS, back(*PREVIOUS.documents))


def test_new_documents_may_follow_the_old_ones() -> None:
    check_return(
        PREVIOUS, back(*PREVIOUS.documents, make_document(4, SHA[5], internal=True), make_document(5))
    )


def test_metadata_other_than_content_may_change() -> None:
    """Access, description, signatures added at B: what is checked is order and content."""
    relabelled = replace(PREVIOUS.documents[1], access_level=2, legal_basis=4, description="Parecer revisto")
    check_return(PREVIOUS, back(PREVIOUS.documents[0], relabelled, PREVIOUS.documents[2]))


def test_a_changed_hash_is_named_with_both_values() -> None:
    doc2 = PREVIOUS.documents[1]
    rerendered = replace(doc2, components=(doc2.components[0], make_component(2, SHA[9], 1009)))
    new = back(PREVIOUS.documents[0], rerendered, PREVIOUS.documents[2], make_document(4))
    assert problems(new) == [
        (
            "documentos.1.componentes.1.sha256",
            f"o componente 2 do documento 2 (Parecer) mudou: o SHA-256 era {SHA[3]} e agora é {SHA[9]}. "
            "Documentos já tramitados voltam exatamente como foram recebidos: não os gere de novo (nova "
            "renderização, conversão ou assinatura embutida mudam o hash); envie os arquivos recebidos.",
        )
    ]
    with pytest.raises(ReturnMismatch) as raised:
        check_return(PREVIOUS, new)
    assert isinstance(raised.value, InvalidInput)
    assert raised.value.detail == (
        "O processo volta pelo NRE NRE-7 com 1 divergência nos documentos de trâmites anteriores. Os "
        "documentos já tramitados (1 a 3) voltam na mesma ordem e com os mesmos SHA-256; só documentos "
        "novos podem ser acrescentados, a partir da posição 4."
    )


def test_reordered_documents_are_each_named_with_where_they_went() -> None:
    doc1, doc2, doc3 = PREVIOUS.documents
    swapped = back(doc1, replace(doc3, order=2), replace(doc2, order=3))
    assert [field for field, _ in problems(swapped)] == ["documentos.1", "documentos.2"]
    first, second = (message for _, message in problems(swapped))
    assert first.startswith("o documento 2 (Parecer) do envio anterior está agora na posição 3;")
    assert "devolva-o na posição 2 e acrescente os documentos novos depois do documento 3" in first
    assert second.startswith("o documento 3 (Parecer) do envio anterior está agora na posição 2;")


def test_a_removed_document_is_named() -> None:
    doc1, _, doc3 = PREVIOUS.documents
    assert problems(back(doc1, replace(doc3, order=2))) == [
        ("documentos.1", "o documento 2 (Parecer) do envio anterior não está no manifesto; devolva todos os 3 "
         "documentos já tramitados, nas mesmas posições, e acrescente os novos depois deles"),
        ("documentos.2", "o documento 3 (Parecer) do envio anterior está agora na posição 2; os documentos já "
         "tramitados mantêm a ordem: devolva-o na posição 3 e acrescente os documentos novos depois do "
         "documento 3"),
    ]  # fmt: skip
    assert [field for field, _ in problems(back(doc1, PREVIOUS.documents[1]))] == ["documentos.2"]
    assert "não está no manifesto" in problems(back(doc1, PREVIOUS.documents[1]))[0][1]


def test_what_takes_an_old_place_decides_between_changed_and_removed() -> None:
    doc1, _, doc3 = PREVIOUS.documents
    # New content at position 2, and the old document 2 nowhere: document 2 was changed.
    [(field, message)] = problems(back(doc1, make_document(2, SHA[2], SHA[8]), doc3))
    assert field == "documentos.1.componentes.1.sha256"
    assert message.startswith("o componente 2 do documento 2 (Parecer) mudou")
    # Another old document at position 2, and the old document 2 nowhere: document 2 was removed.
    found = problems(back(doc1, replace(doc3, order=2), make_document(3, SHA[8])))
    assert [(f, m.split(";")[0]) for f, m in found] == [
        ("documentos.1", "o documento 2 (Parecer) do envio anterior não está no manifesto"),
        ("documentos.2", "o documento 3 (Parecer) do envio anterior está agora na posição 2"),
    ]


def test_a_component_added_or_removed_is_named() -> None:
    doc1, doc2, doc3 = PREVIOUS.documents
    shorter = replace(doc2, components=doc2.components[:1])
    assert problems(back(doc1, shorter, doc3))[0][0] == "documentos.1.componentes"
    assert (
        "tinha 2 componente(s) digital(is) no envio anterior e agora tem 1"
        in problems(back(doc1, shorter, doc3))[0][1]
    )
    longer = replace(doc2, components=(*doc2.components, make_component(3, SHA[9], 1009)))
    assert [f for f, _ in problems(back(doc1, longer, doc3))] == ["documentos.1.componentes"]


def test_every_violation_is_listed_at_once() -> None:
    doc1, _, doc3 = PREVIOUS.documents
    changed1 = replace(
        doc1, components=(make_component(1, SHA[7], 1007, signatures=doc1.components[0].signatures),)
    )
    new = back(changed1, replace(doc3, order=2), make_document(3, SHA[8]), nup="23037.000002/2020-39")
    assert [field for field, _ in problems(new)] == [
        "processo.nup", "documentos.0.componentes.0.sha256", "documentos.1", "documentos.2",
    ]  # fmt: skip
    with pytest.raises(ReturnMismatch, match="com 4 divergências"):
        check_return(PREVIOUS, new)


def test_the_nup_may_be_written_with_or_without_punctuation() -> None:
    check_return(PREVIOUS, back(*PREVIOUS.documents, nup="23037001462202165"))
