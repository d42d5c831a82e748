"""A process's history as a hash chain.

Every operation appends an entry that carries the hash of the previous one; the process holds the
head. Changing, removing or reordering any stored entry breaks the chain, and `verify` says where.
Hashes are SHA-256 over the entry's RFC 8785 canonical JSON, so any other implementation can check
them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.signatures import canonical_json

GENESIS = "0" * 64


@dataclass(frozen=True)
class HistoryEntry:
    nup: str
    seq: int
    at: datetime
    unit_id: str
    user: str
    operation: str  # national operation code
    description: str
    previous_hash: str
    hash: str = ""

    def payload(self) -> dict[str, str | int]:
        return {
            "nup": self.nup,
            "seq": self.seq,
            "em": self.at.isoformat().replace("+00:00", "Z"),
            "unidade": self.unit_id,
            "usuario": self.user,
            "operacao": self.operation,
            "descricao": self.description,
            "hashAnterior": self.previous_hash,
        }

    def computed_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.payload())).hexdigest()

    def sealed(self) -> HistoryEntry:
        return HistoryEntry(**{**self.__dict__, "hash": self.computed_hash()})


def next_entry(
    *,
    nup: str,
    head_seq: int,
    head_hash: str,
    at: datetime,
    unit_id: str,
    user: str,
    operation: str,
    description: str,
) -> HistoryEntry:
    return HistoryEntry(
        nup=nup,
        seq=head_seq + 1,
        at=at,
        unit_id=unit_id,
        user=user,
        operation=operation,
        description=description,
        previous_hash=head_hash or GENESIS,
    ).sealed()


@dataclass(frozen=True)
class ChainCheck:
    intact: bool
    entries: int
    first_broken_seq: int | None = None
    reason: str = ""


def verify(entries: Iterable[HistoryEntry], head_seq: int, head_hash: str) -> ChainCheck:
    """Checks every link and that the chain ends at the head the process holds."""
    previous = GENESIS
    count = 0
    for expected_seq, entry in enumerate(entries, start=1):
        count += 1
        if entry.seq != expected_seq:
            return ChainCheck(
                False, count, expected_seq, f"falta a entrada {expected_seq} ou ela está fora de ordem"
            )
        if entry.previous_hash != previous:
            return ChainCheck(False, count, entry.seq, "o elo com a entrada anterior não confere")
        if entry.computed_hash() != entry.hash:
            return ChainCheck(False, count, entry.seq, "o conteúdo da entrada foi alterado")
        previous = entry.hash
    if count != head_seq or previous != (head_hash or GENESIS):
        return ChainCheck(
            False, count, min(count + 1, head_seq) or None, "o histórico não termina no registro do processo"
        )
    return ChainCheck(True, count)
