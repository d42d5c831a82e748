"""Domain rules of the Repositório de Estruturas."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.structures import Structure, normalize, validate_structure

AGENCY = Structure(id="100", name="Ministério da Saúde", acronym="MS", agency_id="100")


def fields_of(error: pytest.ExceptionInfo[InvalidInput]) -> set[str]:
    return {f.field for f in error.value.fields}


def test_normalize_ignores_case_accents_and_extra_spaces() -> None:
    assert normalize("  Ministério   da SAÚDE ") == "ministerio da saude"


def test_valid_agency_and_unit_pass() -> None:
    validate_structure(AGENCY, None)
    unit = Structure(id="101", name="Protocolo", acronym="PROT", agency_id="100", parent_id="100",
                     protocol_code="25000")  # fmt: skip
    validate_structure(unit, AGENCY)


def test_every_bad_field_is_listed_at_once() -> None:
    bad = Structure(id="0x1", name="", acronym="com espaço", agency_id="0x1", protocol_code="123",
                    contact_email="not-an-email")  # fmt: skip
    with pytest.raises(InvalidInput) as error:
        validate_structure(bad, None)
    assert fields_of(error) == {"id", "nome", "sigla", "codigoProtocolo", "emailContato"}


def test_unit_without_existing_parent_is_refused() -> None:
    unit = Structure(id="101", name="Protocolo", acronym="PROT", agency_id="100", parent_id="555")
    with pytest.raises(InvalidInput) as error:
        validate_structure(unit, None)
    assert fields_of(error) == {"paiId"}


def test_unit_under_a_parent_of_another_agency_is_refused() -> None:
    other = Structure(id="200", name="INSS", acronym="INSS", agency_id="200")
    unit = Structure(id="101", name="Protocolo", acronym="PROT", agency_id="100", parent_id="200")
    with pytest.raises(InvalidInput) as error:
        validate_structure(unit, other)
    assert "outro órgão" in error.value.fields[0].message
