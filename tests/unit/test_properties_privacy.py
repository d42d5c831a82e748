"""Property tests: random processes, held by one to three agencies (hosted copies and outside systems'
records), with random access levels for the process and each document, random opt-ins and random
holders, never put a field their level forbids into the public base (the stored parts), the public
view, the search index or a citizen's e-mail.

Every free-text field of every source carries its own marker word, so a leak is a plain substring
test on the bytes that leave: the stored blob (decompressed), the API's JSON, the search hit and
the digest e-mail (subject, text and HTML). test_tracking_domain.py covers one hosted copy with fixed
texts; this adds several sources, outside systems, documents and the e-mail.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.api.tracking import ProcessoPublicoOut
from chalicelib.domain.documents import Component, Document, Origin
from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.processes import AccessLevel, Interested, OpenUnit, Process
from chalicelib.domain.tracking import (
    Agency,
    OutsideMovement,
    OutsideRecord,
    PublicDocument,
    PublicInterested,
    PublicPart,
    PublicRecord,
    assign_windows,
    new_movements,
    part_from_copy,
    part_from_outside,
    search_hit,
)
from chalicelib.services.citizen_mail import digest_mail
from chalicelib.services.site_links import SiteLinks
from chalicelib.store.tracking import decode_parts, encode_parts

NUP = "25000000001202611"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AGENCIES = (
    Agency("100", "MS", "Ministério da Saúde"),
    Agency("200", "INSS", "Instituto Nacional do Seguro Social"),
    Agency("300", "MGI", "Ministério da Gestão"),
)
LINKS = SiteLinks("https://acompanhe.pen.example.gov.br")
WINDOW = 7
LEVELS = st.sampled_from(list(AccessLevel))
# Document numbers: a public document's may be published; any other's never. Distinct ranges, so a
# leaked number is a substring no date, NUP or other number can produce.
PUBLIC_NUMBER_BASE = 41_000
HIDDEN_NUMBER_BASE = 97_000


@dataclass
class Markers:
    """Marker words, by what may publish them."""

    header: dict[str, set[str]] = field(default_factory=dict)  # agency id -> its header's markers
    never: set[str] = field(default_factory=set)  # descriptions, people, full CPFs: never public
    units: dict[str, str] = field(default_factory=dict)  # agency id -> the unit label its movements show
    publishable: dict[str, bool] = field(default_factory=dict)  # agency id -> its level allows publishing
    next_id: int = 0

    def new(self, agency_id: str | None = None) -> str:
        self.next_id += 1
        word = f"QZK{self.next_id:03d}XW"
        if agency_id is None:
            self.never.add(word)
        else:
            self.header.setdefault(agency_id, set()).add(word)
        return word


def _cpf(seed: int) -> str:
    # 11 digits that occur in no date, time, NUP or document number of the test.
    return f"8{seed:02d}76543218"[:11]


source_plans = st.fixed_dictionaries(
    {
        "outside": st.booleans(),
        "level": LEVELS,
        "doc_levels": st.lists(st.tuples(LEVELS, st.booleans()), max_size=4),  # (level, cancelled)
        "opt_in": st.booleans(),
        "holding": st.booleans(),
        "moves": st.lists(
            st.tuples(st.integers(0, 5_000), st.sampled_from(["01", "02", "04", "05", "12", "99"])),
            min_size=1,
            max_size=5,
            unique_by=lambda move: move[0],
        ),
    }
)


def _hosted_part(plan: dict[str, Any], agency: Agency, markers: Markers) -> PublicPart:
    docs = []
    for order, (level, cancelled) in enumerate(plan["doc_levels"], start=1):
        base = PUBLIC_NUMBER_BASE if level is AccessLevel.PUBLICO and not cancelled else HIDDEN_NUMBER_BASE
        docs.append(
            Document(nup=NUP, order=order, origin=Origin.INTERNO, kind=88, access_level=level,
                     legal_basis=None if level is AccessLevel.PUBLICO else 1, unit_id="101",
                     created_by=markers.new(), created_at=T0, updated_at=T0,
                     component=Component("x", 1, "text/html", f"{markers.new()}.html"),
                     description=markers.new(), number=base + int(agency.id) + order,
                     cancelled_at=T0 if cancelled else None, cancel_reason=markers.new() if cancelled else None)
        )  # fmt: skip
    markers.never |= {str(d.number) for d in docs if d.number and d.number >= HIDDEN_NUMBER_BASE}
    docs_level = max((d.access_level for d in docs if d.cancelled_at is None), default=AccessLevel.PUBLICO)
    level = plan["level"]
    effective = max(level, docs_level)
    markers.publishable[agency.id] = effective is AccessLevel.PUBLICO or (
        effective is AccessLevel.RESTRITO and plan["opt_in"]
    )
    markers.units[agency.id] = f"UNIDADE{agency.id}"
    interested = (Interested(markers.new(agency.id), _cpf(int(agency.id) // 100)),)
    markers.never.add(interested[0].tax_id or "")
    process = Process(nup=NUP, agency_id=agency.id, opening_unit_id="101", process_type=markers.new(agency.id),
                      specification=markers.new(agency.id), interested=interested, access_level=level,
                      legal_basis=None if level is AccessLevel.PUBLICO else 1, created_at=T0, updated_at=T0,
                      open_units=(OpenUnit("101", T0),) if plan["holding"] else (),
                      suspension_reason=markers.new(), documents=tuple(docs),
                      documents_access_level=docs_level)  # fmt: skip
    history = tuple(
        HistoryEntry(
            nup=NUP,
            seq=seq,
            at=T0 + timedelta(minutes=minutes),
            unit_id="101",
            user=markers.new(),
            operation=operation,
            description=markers.new(),
            previous_hash="",
        )
        for seq, (minutes, operation) in enumerate(sorted(plan["moves"]), start=1)
    )
    return part_from_copy(
        process,
        history,
        agency=agency,
        unit_label=lambda _: markers.units[agency.id],
        restricted_opt_in=plan["opt_in"],
    )


def _outside_part(plan: dict[str, Any], agency: Agency, markers: Markers) -> PublicPart:
    level = plan["level"]
    markers.publishable[agency.id] = level is AccessLevel.PUBLICO or (
        level is AccessLevel.RESTRITO and plan["opt_in"]
    )
    markers.units[agency.id] = f"EXTERNA{agency.id}"
    public_docs = [lvl is AccessLevel.PUBLICO and not cancelled for lvl, cancelled in plan["doc_levels"]]
    record = OutsideRecord(
        nup=NUP,
        level=plan["level"],
        produced_on=date(2026, 2, 1),
        process_type=markers.new(agency.id),
        specification=markers.new(agency.id),
        interested=(PublicInterested(markers.new(agency.id), None),),
        # An outside system sends only what it may publish of its documents: the record's level decides.
        documents=tuple(
            PublicDocument(
                kind="Ofício", number=str(PUBLIC_NUMBER_BASE + int(agency.id) + i), on=date(2026, 2, 1)
            )
            for i, public in enumerate(public_docs)
            if public
        ),
        movements=tuple(
            OutsideMovement(f"item-{i}", T0 + timedelta(minutes=minutes), markers.units[agency.id], operation)
            for i, (minutes, operation) in enumerate(plan["moves"])
        ),
    )
    return part_from_outside(record, None, agency=agency, restricted_opt_in=plan["opt_in"])


def _forbidden(record: PublicRecord, markers: Markers, *, shown: bool) -> set[str]:
    """Markers that must not appear: in the base (shown False) or in what the public sees."""
    words = set(markers.never)
    current = record.current
    for part in record.parts:
        own = markers.header.get(part.agency.id, set())
        if not markers.publishable[part.agency.id]:
            words.add(markers.units[part.agency.id])  # not even when it moved, nor where
        if shown:
            if not (current is not None and part is current and part.full):
                words |= own
        elif not part.full:
            words |= own
    return words


def _leaks(text: str, words: set[str]) -> set[str]:
    return {w for w in words if w in text}


@settings(max_examples=250)
@given(st.lists(source_plans, min_size=1, max_size=3))
def test_no_random_record_leaks_a_field_its_level_forbids(plans: list[dict[str, Any]]) -> None:
    markers = Markers()
    record = PublicRecord(NUP)
    for agency, plan in zip(AGENCIES, plans, strict=False):
        builder = _outside_part if plan["outside"] else _hosted_part
        record = record.with_part(builder(plan, agency, markers))
    record, _ = assign_windows(None, record, WINDOW)

    # The public base: what is stored (the bytes themselves, decompressed).
    blob = encode_parts(record.parts)
    stored_text = zlib.decompress(blob).decode()
    assert not _leaks(stored_text, _forbidden(record, markers, shown=False))
    stored = PublicRecord(NUP, decode_parts(blob))
    for part in stored.parts:
        assert part.published == markers.publishable[part.agency.id], part
        if not part.published:
            assert (part.process_type, part.specification, part.interested, part.documents, part.movements) == (
                None, None, (), (), ()
            )  # fmt: skip
        elif not part.full:
            assert (part.process_type, part.specification, part.interested, part.documents) == (
                None, None, (), ()
            )  # fmt: skip

    movements = new_movements(stored, WINDOW)
    if not stored.visible:
        # The NUP answers as unknown: nothing to show, search or mail.
        assert stored.movements == ()
        assert movements == ()
        assert search_hit(stored) is None
        return

    shown = _forbidden(stored, markers, shown=True)
    view = json.dumps(ProcessoPublicoOut.from_domain(stored).wire(), ensure_ascii=False)
    assert not _leaks(view, shown)
    hit = search_hit(stored)
    assert (hit is not None) == stored.full
    if hit is not None:
        assert not _leaks(repr(hit), shown)

    # The citizen's e-mail carries the NUP and the movements only: no header field of any source.
    mail = digest_mail(
        "cidada@example.org",
        NUP,
        movements,
        links=LINKS,
        subscription_id="s" * 32,
        unsubscribe_token="t" * 43,
    )
    everything = set(markers.never).union(*markers.header.values())
    for text in (mail.subject, mail.text, mail.html or ""):
        assert not _leaks(text, everything)
