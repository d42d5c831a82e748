"""CPF and CNPJ: the tax ids of interessados (people and organisations).

Check digits follow the Receita Federal rules (mod 11). CNPJ also accepts the alphanumeric form
that the Receita Federal issues from July 2026 (Instrução Normativa RFB nº 2.229/2024): the first
12 positions are 0-9 or A-Z, the last 2 are digits, each character counts as ``ord(c) - 48``
(so "0".."9" are 0..9 and "A" is 17) and the weights and mod 11 stay as for the numeric CNPJ. The
Receita's published example ``12.ABC.345/01DE-35`` is in the tests.

Public display (LGPD): a CPF identifies a person, so wherever it is shown to the public only its
middle 6 digits appear, ``***.456.789-**`` (first 3 and last 2 digits hidden), the masking the
federal government uses on its transparency sites. A CNPJ identifies an organisation, not a
person, and is public record, so it is shown in full, ``12.345.678/0001-95``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.errors import FieldError, InvalidInput

_SEPARATORS = re.compile(r"[\s./\-]")
_CPF = re.compile(r"^[0-9]{11}$")
_CNPJ = re.compile(r"^[0-9A-Z]{12}[0-9]{2}$")
_MAX_INPUT = 64
_CPF_WEIGHTS = tuple(range(11, 1, -1))  # 11, 10, ..., 2
_CNPJ_WEIGHTS = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


class TaxIdKind(StrEnum):
    CPF = "CPF"
    CNPJ = "CNPJ"


def _mod11(values: list[int], weights: tuple[int, ...]) -> int:
    # Weights are aligned to the right: the last value always takes weight 2.
    total = sum(v * w for v, w in zip(values, weights[-len(values) :], strict=True))
    rest = total % 11
    return 0 if rest < 2 else 11 - rest


def cpf_check_digits(first9: str) -> str:
    """The 2 check digits of a CPF from its first 9 digits."""
    values = [int(c) for c in first9]
    dv1 = _mod11(values, _CPF_WEIGHTS)
    dv2 = _mod11([*values, dv1], _CPF_WEIGHTS)
    return f"{dv1}{dv2}"


def cnpj_check_digits(first12: str) -> str:
    """The 2 check digits of a CNPJ from its first 12 characters (digits or, since 2026, A-Z)."""
    values = [ord(c) - 48 for c in first12]
    dv1 = _mod11(values, _CNPJ_WEIGHTS)
    dv2 = _mod11([*values, dv1], _CNPJ_WEIGHTS)
    return f"{dv1}{dv2}"


def _clean(text: str, kind: str, field: str) -> str:
    if len(text) > _MAX_INPUT:
        raise _invalid(kind, "o texto informado é longo demais", field)
    return _SEPARATORS.sub("", text).upper()


def _invalid(kind: str, problem: str, field: str) -> InvalidInput:
    return InvalidInput(f"{kind} inválido: {problem}.", [FieldError(field, problem)])


def _check_cpf(value: str, field: str) -> str:
    if not _CPF.match(value):
        raise _invalid("CPF", "deve ter 11 dígitos, com ou sem pontuação", field)
    if len(set(value)) == 1:
        raise _invalid("CPF", "não pode ter todos os dígitos iguais", field)
    if value[9:] != cpf_check_digits(value[:9]):
        raise _invalid("CPF", "os dígitos verificadores não conferem", field)
    return value


def _check_cnpj(value: str, field: str) -> str:
    if not _CNPJ.match(value):
        raise _invalid(
            "CNPJ", "deve ter 14 caracteres: 12 letras ou dígitos e 2 dígitos verificadores", field
        )
    if len(set(value)) == 1:
        raise _invalid("CNPJ", "não pode ter todos os caracteres iguais", field)
    if value[12:] != cnpj_check_digits(value[:12]):
        raise _invalid("CNPJ", "os dígitos verificadores não conferem", field)
    return value


def validate_cpf(text: str, field: str = "cpf") -> str:
    """The 11 digits of a valid CPF typed with or without punctuation; InvalidInput otherwise."""
    return _check_cpf(_clean(text, "CPF", field), field)


def validate_cnpj(text: str, field: str = "cnpj") -> str:
    """The 14 characters (upper case) of a valid CNPJ, numeric or alphanumeric, typed with or
    without punctuation; InvalidInput otherwise."""
    return _check_cnpj(_clean(text, "CNPJ", field), field)


def format_cpf(digits: str) -> str:
    """``123.456.789-09``: the full CPF, for the agency's own screens only."""
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"


def mask_cpf(digits: str) -> str:
    """``***.456.789-**``: the CPF as it may be shown to the public."""
    return f"***.{digits[3:6]}.{digits[6:9]}-**"


def format_cnpj(value: str) -> str:
    """``12.345.678/0001-95`` (or ``12.ABC.345/01DE-35``)."""
    return f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}"


@dataclass(frozen=True, repr=False)
class TaxId:
    """A valid CPF or CNPJ. Its repr masks a CPF, so one never leaks into logs whole."""

    kind: TaxIdKind
    digits: str

    @property
    def formatted(self) -> str:
        """Full punctuated form, for the owning agency."""
        return format_cpf(self.digits) if self.kind is TaxIdKind.CPF else format_cnpj(self.digits)

    @property
    def public(self) -> str:
        """Form for public display: a CPF masked, a CNPJ in full (see the module docstring)."""
        return mask_cpf(self.digits) if self.kind is TaxIdKind.CPF else format_cnpj(self.digits)

    def __repr__(self) -> str:
        return f"TaxId({self.kind.value} {self.public})"


def parse_document(text: str, field: str = "documento") -> TaxId:
    """A CPF (11 digits) or CNPJ (14 characters) typed with or without punctuation. The length
    decides which one it is; InvalidInput naming ``field`` if it is neither or fails its check."""
    value = _clean(text, "Documento", field)
    if len(value) == 11:
        return TaxId(TaxIdKind.CPF, _check_cpf(value, field))
    if len(value) == 14:
        return TaxId(TaxIdKind.CNPJ, _check_cnpj(value, field))
    problem = "informe um CPF (11 dígitos) ou um CNPJ (14 caracteres), com ou sem pontuação"
    raise InvalidInput(f"Documento inválido: {problem}.", [FieldError(field, problem)])
