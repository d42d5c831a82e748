"""What every operator command shares: its error type, tables, progress lines and confirmations."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any


class OpsError(Exception):
    """A mistake of the operator's, or a refusal: printed without a traceback, exit status 2."""


class CheckFailed(Exception):
    """A verification that ran and failed (a broken history chain, a receipt that does not verify):
    the report is already printed; exit status 1."""


def json_flag(parser: argparse.ArgumentParser) -> None:
    """`--json` after the command too (the root's `--json` before it works as well)."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON output")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Sequence[int] = ()) -> None:
    """A plain text table: one header line, one line per row; the columns in `right` (numbers)
    aligned right."""
    text = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(line[i]) for line in text) for i in range(len(headers))]
    for number, line in enumerate(text):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(line)
        ]
        print("  ".join(cells).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in widths))


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


class Progress:
    """`[  n/total]` on stderr: every step on a terminal, else every `every` steps and the last."""

    def __init__(self, total: int, label: str = "", every: int = 100) -> None:
        self.total = max(total, 0)
        self.label = label
        self.every = every
        self.done = 0
        self._open = False

    def step(self, note: str = "") -> None:
        self.done += 1
        last = self.done >= self.total
        if sys.stderr.isatty() or last or self.done % self.every == 0:
            width = len(str(max(self.total, self.done)))
            end = "\n" if last else "\r"
            line = f"[{self.done:>{width}}/{self.total}] {self.label}{note}"
            print(line, end=end, file=sys.stderr, flush=True)
            self._open = not last

    def close(self) -> None:
        """Ends the line when the run stopped before `total` (fewer messages than counted)."""
        if self._open:
            print(file=sys.stderr, flush=True)
            self._open = False


def confirm(question: str, assume_yes: bool) -> bool:
    """Asks on the terminal (stdin); anything but y/yes/s/sim, or no answer at all, is a no."""
    if assume_yes:
        return True
    print(f"{question} [y/N] ", end="", flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in {"y", "yes", "s", "sim"}


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `8d` (or a bare number of hours)."""
    value = text.strip().lower()
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    try:
        if value and value[-1] in units:
            return timedelta(**{units[value[-1]]: float(value[:-1])})
        return timedelta(hours=float(value))
    except ValueError:
        raise OpsError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 8d)") from None


def age(since: datetime, now: datetime | None = None) -> str:
    """How long ago, briefly: `3d 4h`, `2h 05m`, `40s`."""
    seconds = int(((now or datetime.now(UTC)) - since).total_seconds())
    if seconds < 0:
        return "0s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
