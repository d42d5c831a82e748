"""The machine a benchmark ran on, recorded with every result (bench/results/*.json)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return None


def info(runs: int) -> dict[str, Any]:
    return {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": f"{platform.system()} {platform.machine()}",
        "runs": runs,
        # Other work on the machine slows every timing alike; ratios measured in one run survive it.
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def line() -> str:
    """The machine in one phrase, for results that keep it as text."""
    here = info(runs=0)
    return (
        f"{here['cores']} cores ({here['cpu']}), {here['memory_gib']} GiB, {here['python']}, "
        f"{here['platform']}, load average {here['load_average_1min']}"
    )


def describe(machine: dict[str, Any]) -> str:
    """One line for a results section: where, when and how many runs."""
    return (
        f"{machine['cores']} cores ({machine.get('cpu', '?')}), {machine.get('memory_gib', '?')} GiB, "
        f"{machine['python']}, {machine['platform']}; recorded "
        f"{machine['recorded_at']}; {machine['runs']} run(s); load average at the start "
        f"{machine.get('load_average_1min', '?')}"
    )
