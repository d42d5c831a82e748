"""NUP: Número Único de Protocolo (Portaria Interministerial nº 11/2019).

The current form has 17 digits, masked ``NNNNN.SSSSSS/AAAA-DD``: the 5-digit code of the unidade
protocolizadora, a 6-digit sequence restarted every year, the 4-digit year and two mod-11 check
digits. Only that form opens or addresses a process here.

Two older forms are still printed on paper and stored by other systems, so lookups accept them:
13 digits ``NNNNN.NNNNNN/AA`` (no check digits) and 21 digits ``NNNNNNN.NNNNNNNN/AAAA-DD`` (check
digits mod 97). People type numbers with or without punctuation; we keep digits and show the mask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.errors import FieldError, InvalidInput

UNIT_CODE_PATTERN = re.compile(r"^[0-9]{5}$")
MAX_SEQUENCE = 999_999
# Characters people type around the digits of a protocol number.
_SEPARATORS = re.compile(r"[\s./\-]")
_DIGITS = re.compile(r"^[0-9]*$")
_CHECK_DIGITS = re.compile(r"^[0-9]{2}$")
# Far longer than any form; refused before any other work.
_MAX_INPUT = 64
_FORMS_HINT = "NNNNN.SSSSSS/AAAA-DD"


class NupFormat(StrEnum):
    """Which numbering a protocol number follows; the value is its number of digits."""

    CURRENT = "17"  # Portaria Interministerial 11/2019
    LEGACY_13 = "13"  # NNNNN.NNNNNN/AA, no check digits
    LEGACY_21 = "21"  # NNNNNNN.NNNNNNNN/AAAA-DD, check digits mod 97


def _mod11_digit(digits: str) -> int:
    """One NUP check digit: weights 2, 3, ... from the rightmost digit; 10 becomes 0, 11 becomes 1."""
    total = sum(int(d) * weight for weight, d in enumerate(reversed(digits), start=2))
    dv = 11 - total % 11
    return dv % 10  # 10 -> 0, 11 -> 1, the rest unchanged


def check_digits_17(first15: str) -> str:
    """Both check digits of a 17-digit NUP from its first 15 digits."""
    dv1 = _mod11_digit(first15)
    dv2 = _mod11_digit(first15 + str(dv1))
    return f"{dv1}{dv2}"


def check_digits_21(first19: str) -> str:
    """Check digits of the old 21-digit form: 98 - (int(digits + "00") mod 97), two digits."""
    return f"{98 - int(first19 + '00') % 97:02d}"


def _mask(digits: str) -> str:
    if len(digits) == 17:
        return f"{digits[:5]}.{digits[5:11]}/{digits[11:15]}-{digits[15:]}"
    if len(digits) == 21:
        return f"{digits[:7]}.{digits[7:15]}/{digits[15:19]}-{digits[19:]}"
    return f"{digits[:5]}.{digits[5:11]}/{digits[11:]}"


def _invalid(detail: str, problem: str, field: str) -> InvalidInput:
    return InvalidInput(detail, [FieldError(field, problem)])


def _wrong_check_digits(digits: str, field: str) -> InvalidInput:
    return _invalid(
        f"O NUP {_mask(digits)} é inválido: os dígitos verificadores não conferem.",
        "os dígitos verificadores não conferem",
        field,
    )


def _part_problems(unit_code: str, sequence: int, year: int) -> list[FieldError]:
    problems: list[FieldError] = []
    if not UNIT_CODE_PATTERN.match(unit_code):
        problems.append(FieldError("nup", "o código da unidade protocolizadora tem 5 dígitos"))
    if not 1 <= sequence <= MAX_SEQUENCE:
        problems.append(FieldError("nup", f"o número sequencial vai de 1 a {MAX_SEQUENCE}"))
    if not 1000 <= year <= 9999:
        problems.append(FieldError("nup", "o ano tem 4 dígitos"))
    return problems


@dataclass(frozen=True)
class Nup:
    """A 17-digit NUP. Building one checks every part, so an instance is always valid."""

    unit_code: str
    sequence: int
    year: int
    check_digits: str

    def __post_init__(self) -> None:
        problems = _part_problems(self.unit_code, self.sequence, self.year)
        if not _CHECK_DIGITS.match(self.check_digits):
            problems.append(FieldError("nup", "os dígitos verificadores são 2 dígitos"))
        if problems:
            raise InvalidInput("O NUP tem partes inválidas.", problems)
        if self.check_digits != check_digits_17(self._first15):
            raise _wrong_check_digits(self._first15 + self.check_digits, "nup")

    @classmethod
    def issue(cls, unit_code: str, sequence: int, year: int) -> Nup:
        """The NUP a protocol unit gives its ``sequence``-th process of ``year``."""
        if _part_problems(unit_code, sequence, year):
            return cls(unit_code, sequence, year, "00")  # raises, listing the bad parts
        return cls(unit_code, sequence, year, check_digits_17(f"{unit_code}{sequence:06d}{year:04d}"))

    @property
    def _first15(self) -> str:
        return f"{self.unit_code}{self.sequence:06d}{self.year:04d}"

    @property
    def digits(self) -> str:
        """The 17 digits, as stored."""
        return self._first15 + self.check_digits

    @property
    def masked(self) -> str:
        """``NNNNN.SSSSSS/AAAA-DD``, as shown to people."""
        return _mask(self.digits)

    def __str__(self) -> str:
        return self.masked


@dataclass(frozen=True)
class ParsedNup:
    """A protocol number read from text: which form it is and its canonical digits."""

    format: NupFormat
    digits: str

    @property
    def masked(self) -> str:
        return _mask(self.digits)

    @property
    def is_current(self) -> bool:
        return self.format is NupFormat.CURRENT

    def __str__(self) -> str:
        return self.masked


def parse_nup(text: str, field: str = "nup") -> ParsedNup:
    """Reads a protocol number in any accepted form (17, 13 or 21 digits), with or without
    punctuation and spaces. Anything else raises InvalidInput naming ``field``."""
    if len(text) > _MAX_INPUT:
        raise _invalid(
            "O NUP informado é longo demais.", f"informe 17 dígitos, no formato {_FORMS_HINT}", field
        )
    digits = _SEPARATORS.sub("", text)
    if not digits:
        raise _invalid("Informe o NUP.", f"é obrigatório: 17 dígitos, no formato {_FORMS_HINT}", field)
    if not _DIGITS.match(digits):
        raise _invalid(
            "O NUP informado é inválido: use apenas dígitos, com ou sem pontuação.",
            "aceita apenas dígitos, pontos, barra, hífen e espaços",
            field,
        )
    if len(digits) == 17:
        if digits[15:] != check_digits_17(digits[:15]):
            raise _wrong_check_digits(digits, field)
        sequence, year = int(digits[5:11]), int(digits[11:15])
        if sequence == 0 or year < 1000:
            raise _invalid(
                f"O NUP {_mask(digits)} é inválido: sequencial ou ano fora do intervalo permitido.",
                "o sequencial começa em 000001 e o ano tem 4 dígitos",
                field,
            )
        return ParsedNup(NupFormat.CURRENT, digits)
    if len(digits) == 21:
        if digits[19:] != check_digits_21(digits[:19]):
            raise _wrong_check_digits(digits, field)
        return ParsedNup(NupFormat.LEGACY_21, digits)
    if len(digits) == 13:
        return ParsedNup(NupFormat.LEGACY_13, digits)
    hint = " Faltam os 2 dígitos verificadores?" if len(digits) == 15 else ""
    raise _invalid(
        f"O NUP informado tem {len(digits)} dígitos; o NUP tem 17 dígitos, no formato {_FORMS_HINT}.{hint}",
        f"deve ter 17 dígitos ({_FORMS_HINT}); para consulta, também 13 ou 21 dígitos",
        field,
    )


def parse_current_nup(text: str, field: str = "nup") -> Nup:
    """Reads a 17-digit NUP, the only form that opens or addresses a process. The older forms are
    refused with a message that says they serve only for lookup."""
    parsed = parse_nup(text, field)
    if not parsed.is_current:
        raise _invalid(
            f"O número {parsed.masked} segue o formato antigo de {parsed.format.value} dígitos, aceito "
            f"apenas para consulta. Para autuar ou movimentar processos, use o NUP de 17 dígitos "
            f"({_FORMS_HINT}).",
            "deve ser um NUP de 17 dígitos",
            field,
        )
    d = parsed.digits
    return Nup(d[:5], int(d[5:11]), int(d[11:15]), d[15:])
