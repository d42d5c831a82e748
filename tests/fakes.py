"""In-memory fakes of the services' ports. They obey the same contract tests as the DynamoDB
adapters (tests/contract), so unit tests that use them are testing real behaviour."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from chalicelib.domain.bus import AUTO_CANCEL_DAYS, Tramite, auto_cancel_at, pending_agency
from chalicelib.domain.credentials import ApiClient
from chalicelib.domain.errors import Conflict
from chalicelib.domain.structures import Structure, normalize
from chalicelib.services.ports import MailMessage, Page, StructureQuery
from chalicelib.store import cursors

T = TypeVar("T")


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def _page(items: Sequence[T], cursor: str | None, limit: int, query: object, key: str) -> Page[T]:
    start = 0
    if cursor:
        decoded = cursors.decode(cursor, query, {"pos"})
        assert decoded is not None
        start = int(decoded["pos"]["S"])
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    next_cursor = cursors.encode({"pos": {"S": str(start + limit)}}, query) if more else None
    return Page(chunk, next_cursor)


class InMemoryStructures:
    def __init__(self) -> None:
        self.rows: dict[str, Structure] = {}
        self.codes: dict[str, str] = {}
        self._ids = itertools.count(1)

    def get(self, structure_id: str) -> Structure | None:
        return self.rows.get(structure_id)

    def put(self, structure: Structure) -> Structure:
        current = self.rows.get(structure.id)
        if (current.version if current else 0) != structure.version:
            if structure.version == 0:
                raise Conflict(f"A estrutura {structure.id} já existe.")
            raise Conflict(f"A estrutura {structure.id} foi alterada por outra operação; releia e repita.")
        code = structure.protocol_code
        if code is not None and self.codes.get(code, structure.id) != structure.id:
            raise Conflict(f"O código de unidade protocolizadora {code} já pertence a outra estrutura.")
        if current is not None and current.protocol_code and current.protocol_code != code:
            del self.codes[current.protocol_code]
        if code is not None:
            self.codes[code] = structure.id
        stored = replace(structure, version=structure.version + 1)
        self.rows[structure.id] = stored
        return stored

    def search(self, query: StructureQuery, cursor: str | None, limit: int) -> Page[Structure]:
        def keep(s: Structure) -> bool:
            return (
                (query.acronym is None or normalize(s.acronym) == normalize(query.acronym))
                and (query.name is None or normalize(query.name) in normalize(s.name))
                and (query.agency_id is None or s.agency_id == query.agency_id)
                and (query.can_receive is None or s.can_receive == query.can_receive)
                and (query.active is None or s.active == query.active)
                and (not query.agencies_only or s.is_agency)
            )

        rows = sorted(
            (s for s in self.rows.values() if keep(s)), key=lambda s: (normalize(s.name), s.id.zfill(12))
        )
        return _page(rows, cursor, limit, query, "id")

    def next_id(self) -> str:
        return str(900_000_000 + next(self._ids))


class InMemoryClients:
    def __init__(self) -> None:
        self.rows: dict[str, ApiClient] = {}

    def get(self, client_id: str) -> ApiClient | None:
        return self.rows.get(client_id)

    def put(self, client: ApiClient) -> ApiClient:
        current = self.rows.get(client.id)
        if (current.version if current else 0) != client.version:
            raise Conflict(f"O cliente {client.id} foi alterado por outra operação; releia e repita.")
        stored = replace(client, version=client.version + 1)
        self.rows[client.id] = stored
        return stored

    def list_by_agency(self, agency_id: str, cursor: str | None, limit: int) -> Page[ApiClient]:
        rows = sorted((c for c in self.rows.values() if c.agency_id == agency_id), key=lambda c: c.id)
        return _page(rows, cursor, limit, ("clientes", agency_id), "id")


class RecordingOutbox:
    def __init__(self) -> None:
        self.messages: list[MailMessage] = []

    def enqueue(self, message: MailMessage) -> None:
        self.messages.append(message)


def secret_of(token: str) -> str:
    """The secret part of a token (it may itself contain '_', so never split on it)."""
    from chalicelib.domain.credentials import PresentedToken

    return PresentedToken.from_authorization(f"Bearer {token}").secret


class InMemoryTramites:
    """TramiteRepository in memory: the same conditions as DynamoTramiteRepository (IDT unique, one
    open trâmite per NRE, optimistic locking) and the same orderings."""

    def __init__(self, auto_cancel_days: int = AUTO_CANCEL_DAYS) -> None:
        self.rows: dict[str, Tramite] = {}
        self.open_by_nre: dict[str, set[str]] = {}
        self.auto_cancel_days = auto_cancel_days

    def add(self, tramite: Tramite) -> Tramite:
        return self.add_all([tramite])[0]

    def add_all(self, tramites: Sequence[Tramite]) -> list[Tramite]:
        if (
            not tramites
            or len({t.nre for t in tramites}) != 1
            or any(t.version or t.state.final for t in tramites)
        ):
            raise ValueError("add_all stores the new, open trâmites of one send (one NRE, version 0)")
        for tramite in tramites:
            if tramite.idt in self.rows:
                raise Conflict(f"O trâmite {tramite.idt} já existe.")
        nre = tramites[0].nre
        owners = self.open_by_nre.get(nre)
        if owners:
            raise Conflict(
                f"Já existe um trâmite aberto para o NRE {nre} ({', '.join(sorted(owners))}): aguarde a "
                "sua conclusão, cancele-o ou dê ciência da recusa antes de iniciar outro."
            )
        self.open_by_nre[nre] = {t.idt for t in tramites}
        stored = [replace(t, version=1) for t in tramites]
        self.rows.update((t.idt, t) for t in stored)
        return stored

    def get(self, idt: str) -> Tramite | None:
        return self.rows.get(idt)

    def save(self, tramite: Tramite) -> Tramite:
        if not tramite.version:
            raise ValueError("save stores a move of a stored trâmite; use add for a new one")
        current = self.rows.get(tramite.idt)
        if current is None or current.version != tramite.version:
            raise Conflict(
                f"O trâmite {tramite.idt} foi alterado por outra operação ao mesmo tempo; releia-o e "
                "repita se ainda couber."
            )
        if tramite.state.final:
            self.open_by_nre.get(tramite.nre, set()).discard(tramite.idt)
        stored = replace(tramite, version=tramite.version + 1)
        self.rows[tramite.idt] = stored
        return stored

    def _by_creation(self, keep: Callable[[Tramite], bool]) -> list[Tramite]:
        return sorted((t for t in self.rows.values() if keep(t)), key=lambda t: (t.created_at, t.idt))

    def by_nre(self, nre: str, cursor: str | None, limit: int) -> Page[Tramite]:
        rows = self._by_creation(lambda t: t.nre == nre)
        return _page(rows, cursor, limit, ("tramites-nre", nre), "idt")

    def by_nup(self, nup: str, cursor: str | None, limit: int) -> Page[Tramite]:
        rows = self._by_creation(lambda t: t.nup == nup)
        return _page(rows, cursor, limit, ("tramites-nup", nup), "idt")

    def pending_for(self, agency_id: str, cursor: str | None, limit: int) -> Page[Tramite]:
        rows = sorted(
            (t for t in self.rows.values() if pending_agency(t) == agency_id),
            key=lambda t: (t.updated_at, t.idt),
        )
        return _page(rows, cursor, limit, ("pendencias", agency_id), "idt")

    def due_for_auto_cancel(self, before: datetime, cursor: str | None, limit: int) -> Page[Tramite]:
        if before.tzinfo is None:
            raise ValueError("before needs a time zone (use UTC)")
        due = []
        for tramite in self.rows.values():
            deadline = auto_cancel_at(tramite, self.auto_cancel_days)
            if deadline is not None and deadline <= before:
                due.append((deadline, tramite.idt, tramite))
        rows = [t for _, _, t in sorted(due, key=lambda d: (d[0], d[1]))]
        return _page(rows, cursor, limit, ("cancelamento", before.astimezone(UTC).isoformat()), "idt")
