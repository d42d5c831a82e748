"""Settings read from the environment: the bus's automatic-cancel deadline and its refusals."""

from __future__ import annotations

import pytest

from chalicelib.config import REQUIRED, ConfigurationError, Settings

BASE = {name: f"valor-{index}" for index, name in enumerate(REQUIRED)}


def test_the_bus_deadline_is_the_national_8_days_unless_configured() -> None:
    assert Settings.from_env(BASE).bus_deadline_days == 8
    assert Settings.from_env({**BASE, "PEN_BARRAMENTO_PRAZO_DIAS": "3"}).bus_deadline_days == 3


@pytest.mark.parametrize("raw", ["0", "-1", "oito", "2.5"])
def test_a_bad_deadline_stops_the_start_with_the_variable_named(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="PEN_BARRAMENTO_PRAZO_DIAS"):
        Settings.from_env({**BASE, "PEN_BARRAMENTO_PRAZO_DIAS": raw})


def test_a_missing_table_is_named() -> None:
    env = {k: v for k, v in BASE.items() if k != "PEN_TABLE_TRAMITES"}
    with pytest.raises(ConfigurationError, match="PEN_TABLE_TRAMITES"):
        Settings.from_env(env)
