"""The Repositório de Estruturas: agencies (órgãos) and their units (unidades) in a hierarchy.

An agency is a structure without a parent; a unit hangs from its agency or from another unit of
the same agency. Protocol units carry the 5-digit code that opens their NUPs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from email_validator import EmailNotValidError, validate_email

from chalicelib.domain.errors import FieldError, InvalidInput

ID_PATTERN = re.compile(r"^[1-9][0-9]{0,11}$")
PROTOCOL_CODE_PATTERN = re.compile(r"^[0-9]{5}$")
ACRONYM_PATTERN = re.compile(r"^[0-9A-Za-zÀ-ÿ/\-_.]{1,30}$")
MAX_NAME = 250


def normalize(text: str) -> str:
    """Case- and accent-insensitive form used for search and ordering."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


@dataclass(frozen=True)
class Structure:
    id: str
    name: str
    acronym: str
    agency_id: str
    parent_id: str | None = None
    active: bool = True
    can_send: bool = True
    can_receive: bool = True
    protocol_code: str | None = None
    contact_email: str | None = None
    version: int = 0

    @property
    def is_agency(self) -> bool:
        return self.parent_id is None

    def changed(self, **changes: object) -> Structure:
        return replace(self, **changes)  # type: ignore[arg-type]


def validate_structure(structure: Structure, parent: Structure | None) -> None:
    """Checks one structure against its parent; raises InvalidInput listing every bad field."""
    problems = _field_problems(structure) + _tree_problems(structure, parent)
    if problems:
        raise InvalidInput("A estrutura tem dados inválidos.", problems)


def _field_problems(structure: Structure) -> list[FieldError]:
    problems: list[FieldError] = []
    if not ID_PATTERN.match(structure.id):
        problems.append(FieldError("id", "deve ser um número inteiro positivo de até 12 dígitos"))
    if not structure.name.strip() or len(structure.name) > MAX_NAME:
        problems.append(FieldError("nome", f"é obrigatório e tem no máximo {MAX_NAME} caracteres"))
    if not ACRONYM_PATTERN.match(structure.acronym):
        problems.append(FieldError("sigla", "é obrigatória, sem espaços, com até 30 caracteres"))
    if structure.protocol_code is not None and not PROTOCOL_CODE_PATTERN.match(structure.protocol_code):
        problems.append(FieldError("codigoProtocolo", "deve ter exatamente 5 dígitos"))
    if structure.contact_email is not None:
        try:
            validate_email(structure.contact_email, check_deliverability=False)
        except EmailNotValidError:
            problems.append(FieldError("emailContato", "não é um endereço de e-mail válido"))
    return problems


def _tree_problems(structure: Structure, parent: Structure | None) -> list[FieldError]:
    if structure.is_agency:
        if structure.agency_id != structure.id:
            return [FieldError("orgaoId", "um órgão é o seu próprio órgão")]
        return []
    if parent is None:
        return [FieldError("paiId", f"a estrutura superior {structure.parent_id} não existe")]
    if parent.id == structure.id:
        return [FieldError("paiId", "uma estrutura não pode ser superior a si mesma")]
    if parent.agency_id != structure.agency_id:
        return [FieldError("paiId", "a estrutura superior pertence a outro órgão")]
    return []
