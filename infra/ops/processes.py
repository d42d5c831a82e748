"""A process's history: export it whole with its chain checked; re-run the public projection of a copy.

`process export` writes every history entry of one agency's copy of a NUP as JSON lines (the fields
the entry's SHA-256 covers, RFC 8785, plus `hash`), then checks the chain exactly as the API does
(chalicelib.domain.history.verify over services.processes.whole_history, against the head the
process holds). The verdict goes to stderr, so stdout stays pure JSON lines; exit status 1 when the
chain is broken, naming the first entry that fails and why.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from chalicelib.bootstrap import Services
from chalicelib.domain.history import HistoryEntry, verify
from chalicelib.domain.nup import parse_current_nup
from chalicelib.services.processes import whole_history
from infra.ops.console import CheckFailed, OpsError


def _repository(services: Services) -> Any:
    """The processes store, on the CLI's settings (the service keeps its own private)."""
    from pynamodb.connection import Connection

    from chalicelib.store.processes import DynamoProcessRepository

    settings = services.settings
    return DynamoProcessRepository(Connection(region=settings.region, host=settings.endpoint_url))


def entry_json(entry: HistoryEntry) -> dict[str, Any]:
    return {**entry.payload(), "hash": entry.hash}


def export(services: Services, nup_text: str, agency_id: str, out: str | None) -> None:
    nup = parse_current_nup(nup_text, "nup").digits
    process = services.processes.get(agency_id, nup)
    entries = whole_history(_repository(services), agency_id, nup)
    target: TextIO
    if out:
        try:
            target = Path(out).open("w", encoding="utf-8")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise OpsError(f"cannot write {out}: {error.strerror}") from None
    else:
        target = sys.stdout
    try:
        for entry in entries:
            target.write(json.dumps(entry_json(entry), ensure_ascii=False) + "\n")
    finally:
        if out:
            target.close()
    check = verify(entries, process.history_seq, process.history_head)
    where = f" to {out}" if out else ""
    report = sys.stderr
    count = f"{len(entries)} history entr{'y' if len(entries) == 1 else 'ies'}"
    print(
        f"{count} of {parse_current_nup(nup).masked} (agency {agency_id}) exported{where}; "
        f"the process holds entry {process.history_seq} as its head",
        file=report,
    )
    if check.intact:
        print(
            "chain: intact (every link and content hash verified, ending at the process's head)", file=report
        )
        return
    broken = next((e for e in entries if e.seq == check.first_broken_seq), None)
    context = (
        f" ({broken.at:%Y-%m-%d %H:%M:%S} UTC, {broken.operation}: {broken.description})" if broken else ""
    )
    print(f"chain: BROKEN at entry {check.first_broken_seq}{context}: {check.reason}", file=report)
    raise CheckFailed


def project(services: Services, nup_text: str, agency_id: str) -> None:
    nup = parse_current_nup(nup_text, "nup").digits
    services.processes.get(agency_id, nup)  # an unknown copy is the operator's mistake: say so
    changed = services.tracking.project_copy(agency_id, nup)
    state = "updated" if changed else "already up to date"
    print(f"public record of {parse_current_nup(nup).masked}, agency {agency_id}'s part: {state}")


def add_parsers(groups: Any) -> None:
    process = groups.add_parser("process", help="export a process's history and check its chain")
    actions = process.add_subparsers(dest="action", required=True)
    exporting = actions.add_parser(
        "export",
        help="the whole history as JSON lines, and its chain verified (exit 1 if broken)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exporting.add_argument("nup", help="the NUP, masked or digits only")
    exporting.add_argument("--agency", required=True, help="whose copy (a NUP has one per agency)")
    exporting.add_argument("--out", help="write the JSON lines here (default: stdout)")
    projecting = actions.add_parser(
        "project",
        help="rebuild the copy's part of the public record (what the processes stream's handler does)",
    )
    projecting.add_argument("nup")
    projecting.add_argument("--agency", required=True)


def run(args: argparse.Namespace, services: Services) -> None:
    if args.action == "export":
        export(services, args.nup, args.agency, args.out)
    else:
        project(services, args.nup, args.agency)
