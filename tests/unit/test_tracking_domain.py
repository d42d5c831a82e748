"""The public base's rules: what of a process a citizen may see, how parts from several sources and
redelivered events converge, and the notification windows movements are stamped with."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.api.tracking import ProcessoPublicoOut
from chalicelib.domain.catalogs import DOCUMENT_KINDS
from chalicelib.domain.documents import Component, Document, Origin
from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.processes import AccessLevel, Interested, OpenUnit, Process
from chalicelib.domain.tracking import (
    Agency,
    OutsideMovement,
    OutsideRecord,
    PublicRecord,
    assign_windows,
    new_movements,
    part_from_copy,
    part_from_outside,
    search_hit,
)
from chalicelib.store.tracking import decode_parts, encode_parts

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NUP = "25000000001202611"
MS = Agency("100", "MS", "Ministério da Saúde")
INSS = Agency("200", "INSS", "Instituto Nacional do Seguro Social")
CPF = "52998224725"
SECRET_WORDS = ("Segredo", "Fulano", "52998224725", "529.982.247-25", "Motivo particular")


def labels(unit_id: str) -> str:
    return {"101": "PROT", "102": "DIV"}.get(unit_id, unit_id)


def document(order: int, level: AccessLevel, *, cancelled: bool = False) -> Document:
    return Document(nup=NUP, order=order, origin=Origin.INTERNO, kind=88, access_level=level, legal_basis=None,
                    unit_id="101", created_by="ana", created_at=T0, updated_at=T0,
                    component=Component("x", 1, "text/html", "d.html"), description="Segredo no documento",
                    number=order, cancelled_at=T0 if cancelled else None)  # fmt: skip


def process(level: AccessLevel, docs: tuple[Document, ...] = (), agency_id: str = "100") -> Process:
    docs_level = max((d.access_level for d in docs if d.cancelled_at is None), default=AccessLevel.PUBLICO)
    return Process(nup=NUP, agency_id=agency_id, opening_unit_id="101", process_type="Requerimento",
                   specification="Segredo de Fulano", interested=(Interested("Fulano de Tal", CPF),),
                   access_level=level, legal_basis=None if level is AccessLevel.PUBLICO else 1,
                   created_at=T0, updated_at=T0, documents=docs, documents_access_level=docs_level)  # fmt: skip


def entry(seq: int, minutes: int, unit: str = "101", operation: str = "05") -> HistoryEntry:
    return HistoryEntry(nup=NUP, seq=seq, at=T0 + timedelta(minutes=minutes), unit_id=unit, user="ana",
                        operation=operation, description="Motivo particular", previous_hash="")  # fmt: skip


HISTORY = (entry(1, 0), entry(2, 5, "101", "02"), entry(3, 9, "102", "04"))


def record_of(
    proc: Process, history: tuple[HistoryEntry, ...] = HISTORY, opt_in: bool = False
) -> PublicRecord:
    part = part_from_copy(proc, history, agency=MS, unit_label=labels, restricted_opt_in=opt_in)
    return PublicRecord(NUP).with_part(part)


def view(record: PublicRecord) -> dict[str, Any]:
    return ProcessoPublicoOut.from_domain(record).wire()


# --- privacy ----------------------------------------------------------------------------------------


def test_a_public_process_shows_its_header_masked_cpf_documents_and_history_newest_first() -> None:
    shown = view(record_of(process(AccessLevel.PUBLICO, (document(1, AccessLevel.PUBLICO),))))
    assert shown["nup"] == "25000.000001/2026-11"
    assert shown["orgao"] == {"id": "100", "sigla": "MS", "nome": "Ministério da Saúde"}
    assert shown["nivelAcesso"] == 1
    assert shown["interessados"] == [{"nome": "Fulano de Tal", "documento": "***.982.247-**"}]
    assert shown["documentos"] == [{"especie": DOCUMENT_KINDS[88].name, "numero": "1", "data": "2026-03-01"}]
    assert [a["unidade"] for a in shown["andamentos"]] == ["DIV", "PROT", "PROT"]
    assert shown["andamentos"][0]["data"] == "2026-03-01T12:09:00Z"
    assert "Motivo particular" not in json.dumps(shown, ensure_ascii=False)


def test_a_restricted_process_shows_only_nup_agency_and_history_and_only_with_the_opt_in() -> None:
    proc = process(AccessLevel.RESTRITO)
    assert not record_of(proc, opt_in=False).visible
    shown = view(record_of(proc, opt_in=True))
    assert set(shown) == {"nup", "orgao", "nivelAcesso", "andamentos", "operacoes", "atualizadoEm"}
    assert shown["nivelAcesso"] == 2


def test_a_secret_process_or_a_secret_document_hides_the_nup_even_with_the_opt_in() -> None:
    assert not record_of(process(AccessLevel.SIGILOSO), opt_in=True).visible
    hidden_by_document = process(AccessLevel.PUBLICO, (document(1, AccessLevel.SIGILOSO),))
    assert not record_of(hidden_by_document, opt_in=True).visible
    assert record_of(hidden_by_document).movements == ()


def test_restricted_and_cancelled_documents_are_not_listed() -> None:
    docs = (document(1, AccessLevel.PUBLICO), document(2, AccessLevel.PUBLICO, cancelled=True))
    shown = view(record_of(process(AccessLevel.PUBLICO, docs)))
    assert [d["numero"] for d in shown["documentos"]] == ["1"]


@given(
    level=st.sampled_from(list(AccessLevel)),
    doc_levels=st.lists(st.sampled_from(list(AccessLevel)), max_size=4),
    opt_in=st.booleans(),
    moves=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from(["101", "102"]),
            st.sampled_from(["01", "02", "04", "05", "12"]),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda move: move[0],
    ),
)
def test_no_random_process_ever_publishes_a_field_its_level_forbids(
    level: AccessLevel, doc_levels: list[AccessLevel], opt_in: bool, moves: list[tuple[int, str, str]]
) -> None:
    docs = tuple(document(i + 1, lvl) for i, lvl in enumerate(doc_levels))
    proc = process(level, docs)
    history = tuple(entry(i + 1, minutes, unit, op) for i, (minutes, unit, op) in enumerate(sorted(moves)))
    stored = PublicRecord(NUP, decode_parts(encode_parts(record_of(proc, history, opt_in).parts)))
    effective = proc.effective_access_level
    if effective is AccessLevel.SIGILOSO or (effective is AccessLevel.RESTRITO and not opt_in):
        assert not stored.visible
        assert stored.movements == ()
        assert search_hit(stored) is None
        part = stored.parts[0]
        assert (part.process_type, part.specification, part.interested, part.documents, part.movements) == (
            None, None, (), (), ()
        )  # fmt: skip
        return
    shown = view(stored)
    text = json.dumps(shown, ensure_ascii=False)
    assert "Motivo particular" not in text
    assert CPF not in text
    assert "Segredo no documento" not in text
    if effective is AccessLevel.RESTRITO:
        # Not only hidden from the view: never stored in the public base.
        part = stored.parts[0]
        assert (part.process_type, part.specification, part.interested, part.documents) == (
            None,
            None,
            (),
            (),
        )
        assert set(shown) == {"nup", "orgao", "nivelAcesso", "andamentos", "operacoes", "atualizadoEm"}
        assert "Fulano" not in text
        assert "Segredo" not in text
        assert "Requerimento" not in text
        assert search_hit(stored) is None
    else:
        assert shown["nivelAcesso"] == 1
        assert search_hit(stored) is not None
    assert len(shown["andamentos"]) == len(history)


def test_an_outside_restricted_record_without_opt_in_and_a_secret_one_publish_nothing() -> None:
    outside = OutsideRecord(nup=NUP, level=AccessLevel.RESTRITO, produced_on=date(2026, 3, 1),
                            process_type="Requerimento", specification="Segredo",
                            movements=(OutsideMovement("a", T0, "PROT", "05"),))  # fmt: skip
    assert not part_from_outside(outside, None, agency=MS, restricted_opt_in=False).published
    secret = OutsideRecord(**{**outside.__dict__, "level": AccessLevel.SIGILOSO})
    assert not part_from_outside(secret, None, agency=MS, restricted_opt_in=True).published


# --- convergence -----------------------------------------------------------------------------------


def test_the_part_depends_on_the_history_not_on_the_order_events_arrive() -> None:
    """The projection reads the copy's whole history: any arrival order yields the same part."""
    proc = process(AccessLevel.PUBLICO)
    forward = part_from_copy(proc, sorted(HISTORY, key=lambda e: e.seq), agency=MS, unit_label=labels,
                             restricted_opt_in=False)  # fmt: skip
    assert forward == part_from_copy(proc, HISTORY, agency=MS, unit_label=labels, restricted_opt_in=False)


def test_parts_merged_in_any_order_give_the_same_record_and_count_a_shared_movement_once() -> None:
    sent = part_from_copy(process(AccessLevel.PUBLICO), HISTORY[:2], agency=MS, unit_label=labels,
                          restricted_opt_in=False)  # fmt: skip
    imported_history = (*HISTORY[:2], entry(3, 30, "900", "04"))
    received = part_from_copy(process(AccessLevel.PUBLICO, agency_id="200"), imported_history, agency=INSS,
                              unit_label=labels, restricted_opt_in=False)  # fmt: skip
    one = PublicRecord(NUP).with_part(sent).with_part(received)
    other = PublicRecord(NUP).with_part(received).with_part(sent)
    assert one == other
    assert one.current is not None
    assert one.current.agency == INSS
    assert len(one.movements) == 3


def test_an_imported_copy_naming_the_senders_units_otherwise_does_not_repeat_their_movements() -> None:
    """The bus carries the sender's units by name; the receiver's registry does not know them by that
    name, so its part labels them differently. A send to two units at once is two movements."""
    sent_history = (entry(1, 0), entry(2, 5, "101", "02"), entry(3, 5, "102", "02"))
    sent = part_from_copy(process(AccessLevel.PUBLICO), sent_history, agency=MS, unit_label=labels,
                          restricted_opt_in=False)  # fmt: skip
    by_name = {"101": "Protocolo Central", "102": "Divisão de Atendimento"}
    imported = (*sent_history, entry(4, 30, "900", "04"))
    received = part_from_copy(process(AccessLevel.PUBLICO, agency_id="200"), imported, agency=INSS,
                              unit_label=lambda u: by_name.get(u, u), restricted_opt_in=False)  # fmt: skip
    for record in (PublicRecord(NUP).with_part(sent).with_part(received),
                   PublicRecord(NUP).with_part(received).with_part(sent)):  # fmt: skip
        shown = sorted((m.at - T0, m.unit, m.operation) for m in record.movements)
        assert shown == [
            (timedelta(0), "PROT", "05"),
            (timedelta(minutes=5), "DIV", "02"),
            (timedelta(minutes=5), "PROT", "02"),
            (timedelta(minutes=30), "900", "04"),
        ]
    also_sent = replace(received, movements=(*received.movements, received.movements[1]))
    assert len(PublicRecord(NUP).with_part(sent).with_part(also_sent).movements) == 5  # a third envio


def test_a_process_turning_secret_at_its_newest_holder_hides_the_whole_nup() -> None:
    sent = part_from_copy(process(AccessLevel.PUBLICO), HISTORY[:2], agency=MS, unit_label=labels,
                          restricted_opt_in=False)  # fmt: skip
    secret = part_from_copy(process(AccessLevel.SIGILOSO, agency_id="200"), (entry(9, 60),), agency=INSS,
                            unit_label=labels, restricted_opt_in=False)  # fmt: skip
    assert not PublicRecord(NUP).with_part(sent).with_part(secret).visible


def test_a_resent_outside_item_changes_nothing_and_a_new_one_is_added() -> None:
    first = OutsideRecord(nup=NUP, level=AccessLevel.PUBLICO, produced_on=date(2026, 3, 1), process_type="T",
                          specification="E", movements=(OutsideMovement("a", T0, "PROT", "05"),))  # fmt: skip
    part = part_from_outside(first, None, agency=MS, restricted_opt_in=False)
    assert part_from_outside(first, part, agency=MS, restricted_opt_in=False) == part
    later = OutsideRecord(**{**first.__dict__, "movements": (OutsideMovement("b", T0 + timedelta(hours=1),
                                                                             "DIV", "04"),)})  # fmt: skip
    grown = part_from_outside(later, part, agency=MS, restricted_opt_in=False)
    assert [m.item_id for m in grown.movements] == ["a", "b"]


# --- windows -----------------------------------------------------------------------------------------


def test_new_movements_get_the_current_window_and_known_ones_keep_theirs() -> None:
    proc = process(AccessLevel.PUBLICO)
    first, fresh = assign_windows(None, record_of(proc, HISTORY[:2]), 7)
    assert fresh
    assert [m.window for m in first.movements] == [7, 7]
    second, fresh = assign_windows(first, first.with_part(record_of(proc, HISTORY).parts[0]), 8)
    assert fresh
    assert [m.window for m in second.movements] == [7, 7, 8]
    assert [m.unit for m in new_movements(second, 8)] == ["DIV"]
    again, fresh = assign_windows(second, second.with_part(record_of(proc, HISTORY).parts[0]), 9)
    assert not fresh
    assert again.parts == second.parts


def test_hidden_movements_get_no_window_and_are_announced_when_the_process_becomes_public() -> None:
    hidden, fresh = assign_windows(None, record_of(process(AccessLevel.SIGILOSO)), 3)
    assert not fresh
    shown, fresh = assign_windows(
        hidden, hidden.with_part(record_of(process(AccessLevel.PUBLICO)).parts[0]), 4
    )
    assert fresh
    assert {m.window for m in shown.movements} == {4}


@pytest.mark.parametrize("opt_in", [True, False])
def test_the_stored_form_round_trips_every_field(opt_in: bool) -> None:
    record, _ = assign_windows(None, record_of(process(AccessLevel.PUBLICO, (document(1, AccessLevel.PUBLICO),)),
                                               opt_in=opt_in), 5)  # fmt: skip
    assert decode_parts(encode_parts(record.parts)) == record.parts


def test_the_agency_holding_the_process_speaks_for_it_even_when_the_sender_moved_last() -> None:
    # The sender's copy, closed when the trâmite was delivered, records the receipt after the receiver
    # imported it: the receiver, where the process is open, still decides the header.
    closed = process(AccessLevel.PUBLICO)
    sent = part_from_copy(closed, (*HISTORY, entry(9, 90, "101", "01")), agency=MS, unit_label=labels,
                          restricted_opt_in=False)  # fmt: skip
    opened = process(AccessLevel.PUBLICO, agency_id="200").changed(
        open_units=(OpenUnit("900", T0 + timedelta(minutes=30)),)
    )
    received = part_from_copy(opened, (*HISTORY, entry(4, 30, "900", "04")), agency=INSS, unit_label=labels,
                              restricted_opt_in=False)  # fmt: skip
    assert not sent.holding
    assert received.holding
    record = PublicRecord(NUP).with_part(sent).with_part(received)
    assert record.current is not None
    assert record.current.agency == INSS
