"""DynamoDB adapter of the public base (PublicRecordRepository).

One item per NUP (pk "R#<nup>"): its parts, already filtered by the privacy rules, as
zlib-compressed JSON in `partes`, so a lookup is one GetItem of a small item. While the record is
público the item also carries the search attributes (busca_orgao, busca_tipo, busca_data and the
hit's summary `resumo`), which put it in the sparse indexes por_orgao and por_tipo; otherwise they
are absent, so restrito, sigiloso and hidden records are never found by a search.

Interessados' names are searched through one small item per name (pk "N#<nup>#<name>", index
por_nome). They are written in the same transaction as the record, only when the published names
(or the summary they carry, save its update time) change: most events write the record item alone.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.domain.errors import Conflict
from chalicelib.domain.processes import AccessLevel
from chalicelib.domain.structures import normalize
from chalicelib.domain.tracking import (
    MIN_NAME_PREFIX,
    Agency,
    PublicDocument,
    PublicInterested,
    PublicMovement,
    PublicPart,
    PublicRecord,
    SearchHit,
    SearchQuery,
    Source,
    search_hit,
)
from chalicelib.services.ports import Page
from chalicelib.store import cursors
from chalicelib.store.models import PublicNameItem, PublicRecordItem

_CONDITION_FAILED = "ConditionalCheckFailed"
# A transaction holds at most 100 items: the record plus, at worst, every indexed name removed and
# as many new ones added. Names past this bound (a process with dozens of interessados) are not
# searchable; the lookup still shows them all.
MAX_INDEXED_NAMES = 49
_DATE_END = "#~"  # sorts after "#<nup>" (digits): the end of a day in busca_data


def _pk(nup: str) -> str:
    return f"R#{nup}"


def _name_pk(nup: str, name: str) -> str:
    return f"N#{nup}#{name}"


# --- parts <-> compressed JSON ---------------------------------------------------------------------


def _movement_json(m: PublicMovement) -> list[Any]:
    return [m.at.isoformat(), m.unit, m.operation, m.item_id, m.window]


def _movement(raw: list[Any]) -> PublicMovement:
    at, unit, operation, item_id, window = raw
    return PublicMovement(datetime.fromisoformat(at), unit, operation, item_id, window)


def _part_json(part: PublicPart) -> dict[str, Any]:
    return {
        "o": [part.agency.id, part.agency.acronym, part.agency.name],
        "f": part.source.value,
        "l": int(part.level),
        "p": part.published,
        "a": part.holding,
        "u": part.last_at.isoformat(),
        "t": part.process_type,
        "e": part.specification,
        "d": part.produced_on.isoformat() if part.produced_on else None,
        "i": [[i.name, i.tax_id] for i in part.interested],
        "c": [[d.kind, d.number, d.on.isoformat()] for d in part.documents],
        "m": [_movement_json(m) for m in part.movements],
    }


def _part(raw: dict[str, Any]) -> PublicPart:
    return PublicPart(
        agency=Agency(*raw["o"]),
        source=Source(raw["f"]),
        level=AccessLevel(raw["l"]),
        published=bool(raw["p"]),
        holding=bool(raw.get("a", True)),
        last_at=datetime.fromisoformat(raw["u"]),
        process_type=raw["t"],
        specification=raw["e"],
        produced_on=date.fromisoformat(raw["d"]) if raw["d"] else None,
        interested=tuple(PublicInterested(name, tax_id) for name, tax_id in raw["i"]),
        documents=tuple(
            PublicDocument(kind, number, date.fromisoformat(on)) for kind, number, on in raw["c"]
        ),
        movements=tuple(_movement(m) for m in raw["m"]),
    )


def encode_parts(parts: tuple[PublicPart, ...]) -> bytes:
    text = json.dumps([_part_json(p) for p in parts], ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode(), 9)


def decode_parts(blob: bytes) -> tuple[PublicPart, ...]:
    return tuple(_part(raw) for raw in json.loads(zlib.decompress(blob)))


# --- search summaries ------------------------------------------------------------------------------


def _summary(hit: SearchHit) -> str:
    return json.dumps(
        {
            "n": hit.nup,
            "o": [hit.agency.id, hit.agency.acronym, hit.agency.name],
            "t": hit.process_type,
            "e": hit.specification,
            "d": hit.produced_on.isoformat(),
            "u": hit.updated_at.isoformat(),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _hit(summary: str) -> SearchHit:
    raw = json.loads(summary)
    return SearchHit(
        nup=raw["n"],
        agency=Agency(*raw["o"]),
        process_type=raw["t"],
        specification=raw["e"],
        produced_on=date.fromisoformat(raw["d"]),
        updated_at=datetime.fromisoformat(raw["u"]),
    )


def _date_key(hit: SearchHit) -> str:
    return f"{hit.produced_on.isoformat()}#{hit.nup}"


def _names(record: PublicRecord | None) -> tuple[str, ...]:
    return () if record is None else record.search_names[:MAX_INDEXED_NAMES]


def _name_basis(hit: SearchHit | None) -> tuple[Any, ...] | None:
    """What a name item carries, save the update time (which changes on every movement)."""
    if hit is None:
        return None
    return (hit.agency, hit.process_type, hit.specification, hit.produced_on)


def to_item(record: PublicRecord) -> PublicRecordItem:
    item = PublicRecordItem(pk=_pk(record.nup), nup=record.nup, partes=encode_parts(record.parts))
    if record.version:
        item.versao = record.version
    hit = search_hit(record) if record.full else None
    if hit is not None:
        item.resumo = _summary(hit)
        item.busca_orgao = hit.agency.id
        item.busca_tipo = normalize(hit.process_type)
        item.busca_data = _date_key(hit)
    return item


def _name_item(name: str, hit: SearchHit) -> PublicNameItem:
    return PublicNameItem(
        pk=_name_pk(hit.nup, name),
        nup=hit.nup,
        nome_prefixo=name[:MIN_NAME_PREFIX],
        nome_ordem=f"{name}#{hit.nup}",
        resumo=_summary(hit),
        orgao_id=hit.agency.id,
        tipo=normalize(hit.process_type),
        data=hit.produced_on.isoformat(),
    )


class DynamoPublicRecordRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, nup: str, *, consistent: bool = True) -> PublicRecord | None:
        try:
            item = PublicRecordItem.get(_pk(nup), consistent_read=consistent)
        except PublicRecordItem.DoesNotExist:
            return None
        return PublicRecord(nup=item.nup, parts=decode_parts(item.partes), version=int(item.versao or 0))

    def save(self, record: PublicRecord, previous: PublicRecord | None) -> PublicRecord:
        item = to_item(record)
        hit = search_hit(record) if record.full else None
        before_hit = search_hit(previous) if previous is not None and previous.full else None
        before, after = set(_names(previous)), set(_names(record))
        # When the summary the name items carry changed, they are all rewritten.
        to_put = after if _name_basis(hit) != _name_basis(before_hit) else after - before
        try:
            with TransactWrite(connection=self._connection) as transaction:
                condition: Condition | None = None
                if record.version == 0:
                    condition = PublicRecordItem.pk.does_not_exist()
                transaction.save(item, condition=condition)
                for name in sorted(before - after):
                    transaction.delete(PublicNameItem(pk=_name_pk(record.nup, name)))
                if hit is not None:
                    for name in sorted(to_put):
                        transaction.save(_name_item(name, hit))
        except TransactWriteError as error:
            reasons = [r.code if r is not None else None for r in error.cancellation_reasons or []]
            if _CONDITION_FAILED in reasons:
                raise Conflict(
                    f"O registro público do NUP {record.nup} foi alterado por outra operação; "
                    "releia e repita."
                ) from error
            raise
        return PublicRecord(nup=record.nup, parts=record.parts, version=record.version + 1)

    def search(self, query: SearchQuery, cursor: str | None, limit: int) -> Page[SearchHit]:
        """The most selective criterion picks the index (name, then type, then agency); the others
        filter. Date ranges are key conditions on the agency and type indexes (newest first) and
        filters on the name index (alphabetical)."""
        plan = _by_name(query) if query.name_prefix is not None else _by_record(query)
        key_names = {"pk", *plan.keys}
        start = cursors.decode(cursor, query, key_names)
        results = plan.index.query(
            plan.hash_value,
            range_key_condition=plan.range_condition,
            filter_condition=_all(plan.filters),
            scan_index_forward=plan.forward,
            last_evaluated_key=start,
            page_size=limit + 1,  # one past the page says whether there is a next, in the same Query
        )
        items: list[Any] = []
        for item in results:
            items.append(item)
            if len(items) > limit:
                break
        page = items[:limit]
        next_key = None
        if len(items) > limit:
            last = page[-1]
            next_key = {name: {"S": getattr(last, name)} for name in sorted(key_names)}
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for item in page:  # two interessados of one process may match the same prefix
            if item.nup not in seen and item.resumo:
                seen.add(item.nup)
                hits.append(_hit(item.resumo))
        return Page(hits, cursors.encode(next_key, query))


@dataclass(frozen=True)
class _Plan:
    index: Any
    hash_value: str
    keys: tuple[str, str]
    range_condition: Condition | None
    filters: list[Condition]
    forward: bool


def _all(filters: list[Condition]) -> Condition | None:
    condition: Condition | None = None
    for extra in filters:
        condition = extra if condition is None else condition & extra
    return condition


def _by_name(query: SearchQuery) -> _Plan:
    prefix = normalize(query.name_prefix or "")
    filters: list[Condition] = []
    if query.agency_id is not None:
        filters.append(PublicNameItem.orgao_id == query.agency_id)
    if query.process_type is not None:
        filters.append(PublicNameItem.tipo == normalize(query.process_type))
    if query.produced_from is not None:
        filters.append(PublicNameItem.data >= query.produced_from.isoformat())
    if query.produced_to is not None:
        filters.append(PublicNameItem.data <= query.produced_to.isoformat())
    return _Plan(
        index=PublicNameItem.by_name,
        hash_value=prefix[:MIN_NAME_PREFIX],
        keys=("nome_prefixo", "nome_ordem"),
        range_condition=PublicNameItem.nome_ordem.startswith(prefix),
        filters=filters,
        forward=True,
    )


def _by_record(query: SearchQuery) -> _Plan:
    filters: list[Condition] = []
    index: Any
    if query.process_type is not None:
        kind = normalize(query.process_type)
        index, hash_value, keys = PublicRecordItem.by_type, kind, ("busca_tipo", "busca_data")
        if query.agency_id is not None:
            filters.append(PublicRecordItem.busca_orgao == query.agency_id)
    elif query.agency_id is not None:
        index, hash_value, keys = PublicRecordItem.by_agency, query.agency_id, ("busca_orgao", "busca_data")
    else:
        raise ValueError("a search needs a name prefix, an agency or a type")
    low = query.produced_from.isoformat() if query.produced_from else None
    high = query.produced_to.isoformat() + _DATE_END if query.produced_to else None
    attribute = PublicRecordItem.busca_data
    range_condition: Condition | None = None
    if low is not None and high is not None:
        range_condition = attribute.between(low, high)
    elif low is not None:
        range_condition = attribute >= low
    elif high is not None:
        range_condition = attribute <= high
    return _Plan(index, hash_value, keys, range_condition, filters, forward=False)
