"""Settings read from the environment: the bus's automatic-cancel deadline, the registry cache, and
their refusals."""

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


def test_the_registry_cache_lasts_a_minute_unless_configured_and_0_turns_it_off() -> None:
    assert Settings.from_env(BASE).registry_cache_seconds == 60
    assert Settings.from_env({**BASE, "PEN_ESTRUTURAS_CACHE_SEGUNDOS": "0"}).registry_cache_seconds == 0
    assert Settings.from_env({**BASE, "PEN_ESTRUTURAS_CACHE_SEGUNDOS": "600"}).registry_cache_seconds == 600


@pytest.mark.parametrize("raw", ["-1", "um minuto", "1.5"])
def test_a_bad_registry_cache_stops_the_start_with_the_variable_named(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="PEN_ESTRUTURAS_CACHE_SEGUNDOS"):
        Settings.from_env({**BASE, "PEN_ESTRUTURAS_CACHE_SEGUNDOS": raw})
