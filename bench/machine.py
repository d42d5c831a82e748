"""The machine a benchmark ran on, recorded with every result (bench/results/*.json)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any


def info(runs: int) -> dict[str, Any]:
    return {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": f"{platform.system()} {platform.machine()}",
        "runs": runs,
        # Other work on the machine slows every timing alike; ratios measured in one run survive it.
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def describe(machine: dict[str, Any]) -> str:
    """One line for a results section: where, when and how many runs."""
    return (
        f"{machine['cores']} cores, {machine['python']}, {machine['platform']}; recorded "
        f"{machine['recorded_at']}; {machine['runs']} run(s); load average at the start "
        f"{machine.get('load_average_1min', '?')}"
    )
