"""Bus addresses and the parties of a trâmite.

An address is what the Repositório de Estruturas names: (repositório, estrutura id). The registry
says which agency owns the structure; a trâmite keeps both, because every check of who may act on
it is made against the caller's agency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.errors import FieldError

ID_PATTERN = re.compile(r"^[1-9][0-9]{0,11}$")  # the registry's ids (structures.ID_PATTERN)
BUS_ID_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-]{0,63}$")
"""IDT and NRE, assigned by this bus: up to 64 letters, digits or hyphens, not starting with a hyphen."""


@dataclass(frozen=True)
class Address:
    """A place that sends or receives through the bus: (repositório, estrutura)."""

    repository: str
    structure_id: str

    def __str__(self) -> str:
        return f"{self.repository}/{self.structure_id}"


def address_problems(address: Address, field: str) -> list[FieldError]:
    """The bad parts of `address`, named `<field>.repositorio` / `<field>.estrutura`."""
    problems: list[FieldError] = []
    if not ID_PATTERN.match(address.repository):
        problems.append(
            FieldError(f"{field}.repositorio", "deve ser o id numérico do repositório de estruturas")
        )
    if not ID_PATTERN.match(address.structure_id):
        problems.append(FieldError(f"{field}.estrutura", "deve ser o id numérico de uma estrutura"))
    return problems


class Role(StrEnum):
    """The two parties of a trâmite."""

    REMETENTE = "remetente"
    DESTINATARIO = "destinatario"

    @property
    def label(self) -> str:
        return "remetente" if self is Role.REMETENTE else "destinatário"


@dataclass(frozen=True)
class Actor:
    """Who acts: the calling agency and API client (and the person named in X-Usuario, if any).

    The bus itself acts as `BUS` (custody check, automatic cancel): its agency id is not numeric, so
    it never matches an agency of the registry."""

    agency_id: str
    client_id: str
    user: str | None = None


BUS = Actor(agency_id="barramento", client_id="barramento")
