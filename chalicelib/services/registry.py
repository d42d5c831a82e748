"""Use cases of the Repositório de Estruturas: agency systems read it, operators write it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, structure_not_found
from chalicelib.domain.structures import Structure, validate_structure
from chalicelib.services.ports import Page, StructureQuery, StructureRepository

MAX_DEPTH = 30
MAX_PAGE = 100


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


class Registry:
    def __init__(self, structures: StructureRepository, cache_seconds: float = 60.0) -> None:
        self._structures = structures
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Structure | None]] = {}

    def find(self, structure_id: str) -> Structure | None:
        """A structure for the other services' checks (the unit acting, its protocol unit).

        Units change rarely and every process operation looks one up, so lookups are cached in
        the container for `cache_seconds`: an operator's change reaches running Lambdas within
        that time. Reads through the registry's own API (`get`, `search`) are never cached.
        """
        now = time.monotonic()
        cached = self._cache.get(structure_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._structures.get(structure_id)
        if self._cache_seconds > 0:
            self._cache[structure_id] = (now + self._cache_seconds, found)
        return found

    def get(self, structure_id: str) -> Structure:
        found = self._structures.get(structure_id)
        if found is None:
            raise structure_not_found(structure_id)
        return found

    def search(self, query: StructureQuery, cursor: str | None = None, limit: int = 50) -> Page[Structure]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                "Tamanho de página inválido.", [FieldError("limite", f"deve estar entre 1 e {MAX_PAGE}")]
            )
        return self._structures.search(query, cursor, limit)

    def save(self, structure: Structure) -> Structure:
        """Creates or updates one structure (agency or unit) after checking it against the tree."""
        if not structure.id:
            structure = structure.changed(id=self._structures.next_id())
        if structure.parent_id is None:
            structure = structure.changed(agency_id=structure.id)
        parent = self._parent_of(structure)
        if parent is not None:
            structure = structure.changed(agency_id=parent.agency_id)
        validate_structure(structure, parent)
        current = self._structures.get(structure.id)
        if current is not None:
            if current.is_agency != structure.is_agency or current.agency_id != structure.agency_id:
                raise Conflict(
                    f"A estrutura {structure.id} já existe em outro órgão ou com outro tipo; "
                    "uma estrutura não muda de órgão."
                )
            self._check_no_cycle(structure)
            structure = structure.changed(version=current.version)
        stored = self._structures.put(structure)
        self._cache.pop(stored.id, None)
        return stored

    def import_many(
        self, structures: Iterable[Structure], progress: Callable[[int, Structure], None] | None = None
    ) -> ImportResult:
        """Saves a whole hierarchy; parents are saved before their children whatever the input order."""
        ordered = _parents_first(list(structures))
        created = updated = unchanged = 0
        for done, item in enumerate(ordered, start=1):
            current = self._structures.get(item.id) if item.id else None
            if current is not None and current.changed(version=0) == _resolved(item, current):
                unchanged += 1
            else:
                self.save(item)
                if current is None:
                    created += 1
                else:
                    updated += 1
            if progress is not None:
                progress(done, item)
        return ImportResult(created=created, updated=updated, unchanged=unchanged)

    def each(self, query: StructureQuery, page_size: int = MAX_PAGE) -> Iterator[Structure]:
        """Every structure the query finds, page after page."""
        cursor: str | None = None
        while True:
            page = self.search(query, cursor, page_size)
            yield from page.items
            cursor = page.cursor
            if cursor is None:
                return

    def rewrite_all(self, progress: Callable[[int, int, Structure], None] | None = None) -> int:
        """Writes every structure again, as this version stores it, so an index added later (the
        agencies-only index of 2026-11-27) covers the items written before it. Each write is
        version-checked: an edit made meanwhile wins (Conflict), and a rerun finishes the job."""
        everything = list(self.each(StructureQuery()))
        for done, structure in enumerate(everything, start=1):
            self._structures.put(structure)
            self._cache.pop(structure.id, None)
            if progress is not None:
                progress(done, len(everything), structure)
        return len(everything)

    def _parent_of(self, structure: Structure) -> Structure | None:
        if structure.parent_id is None:
            return None
        return self._structures.get(structure.parent_id)

    def _check_no_cycle(self, structure: Structure) -> None:
        seen = {structure.id}
        parent_id = structure.parent_id
        for _ in range(MAX_DEPTH):
            if parent_id is None:
                return
            if parent_id in seen:
                raise InvalidInput(
                    "A hierarquia ficaria circular.",
                    [FieldError("paiId", "a estrutura superior é subordinada a esta estrutura")],
                )
            seen.add(parent_id)
            parent = self._structures.get(parent_id)
            parent_id = parent.parent_id if parent else None
        raise InvalidInput(
            "Hierarquia profunda demais.", [FieldError("paiId", f"no máximo {MAX_DEPTH} níveis")]
        )


def _resolved(item: Structure, current: Structure) -> Structure:
    """What `item` would be once saved, to tell an unchanged row of an import from a real update."""
    return item.changed(agency_id=current.agency_id, version=0)


def _parents_first(items: list[Structure]) -> list[Structure]:
    by_id = {s.id: s for s in items}
    ordered: list[Structure] = []
    placed: set[str] = set()

    def place(item: Structure, depth: int = 0) -> None:
        if item.id in placed or depth > MAX_DEPTH:
            return
        if item.parent_id in by_id:
            place(by_id[item.parent_id], depth + 1)
        placed.add(item.id)
        ordered.append(item)

    for item in items:
        place(item)
    return ordered
