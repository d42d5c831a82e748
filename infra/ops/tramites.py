"""Trâmites stuck in a non-final state, and what an operator can do about one: retry the bus step
the platform owes it, or cancel it.

Where the stuck ones come from: chalicelib/services/stuck.py, the search the bus's schedule also runs
to publish the stuck counts (index Queries only, never a Scan of the trâmites table):

* states 1 to 4: the automatic-cancel index (`cancelamento`, sparse: exactly the trâmites in 1-4,
  keyed by their deadline, i.e. their last state change plus PEN_BARRAMENTO_PRAZO_DIAS), the one
  `Bus.cancel_stalled` reads: one Query for all of them;
* states 5 and 8 (waiting for the sender to fetch the receipt or acknowledge the refusal): the
  pendências index (`pendencias`, keyed by the agency the trâmite waits for, oldest change first):
  one Query per agency of the registry (listed by the registry's own index), with progress.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from chalicelib.bootstrap import Services
from chalicelib.domain.bus import (
    AUTO_CANCEL_STATES,
    Tramite,
    TramiteState,
    auto_cancel_at,
    pending_agency,
)
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.services.stuck import OPEN_STATES
from infra.ops.console import (
    OpsError,
    Progress,
    age,
    json_flag,
    parse_duration,
    print_json,
    print_table,
    utc_text,
)

OPERATOR_CLIENT = "operador-plataforma"  # the API client named in the history for an operator's move


def stuck(services: Services, states: list[int] | None, older_than: str, as_json: bool) -> None:
    try:
        wanted = frozenset(TramiteState(s) for s in states) if states else frozenset(OPEN_STATES)
    except ValueError as error:
        raise OpsError(str(error)) from None
    final = sorted(s.value for s in wanted if s.final)
    if final:
        raise OpsError(f"state(s) {', '.join(map(str, final))} are final: nothing stays stuck there")
    threshold = parse_duration(older_than)
    found = services.stuck.find(
        dict.fromkeys(wanted, threshold),
        progress=lambda total: Progress(total, "agencies' pendências read", every=50),
    )
    now = found.at
    changed_before = found.changed_before(threshold)
    tramites = found.tramites
    counts = found.counts
    if as_json:
        print_json(
            {
                "paradosHaMais": older_than,
                "mudancaAntesDe": changed_before.isoformat(),
                "porEstado": {str(s.value): counts.get(s, 0) for s in sorted(wanted)},
                "tramites": [_tramite_json(t, services) for t in tramites],
            }
        )
        return
    since = utc_text(changed_before)
    print(f"trâmites with no state change for more than {older_than} (since before {since})\n")
    print_table(
        ["state", "", "count", "oldest change"],
        [
            [s.value, s.label, counts.get(s, 0),
             next((utc_text(t.updated_at) for t in tramites if t.state is s), "")]
            for s in sorted(wanted)
        ],
        right=(0, 2),
    )  # fmt: skip
    if not tramites:
        return
    print()
    print_table(
        ["idt", "state", "for", "nup", "from", "to", "waits for"],
        [
            [t.idt, t.state.value, age(t.updated_at, now), t.nup, _party(services, t.sender_agency_id),
             _party(services, t.receiver_agency_id), _waits_for(services, t)]
            for t in tramites
        ],
        right=(1,),
    )  # fmt: skip
    print("\n`tramites retry IDT` re-queues the platform's step; `tramites cancel IDT` explains a cancel.")


def _party(services: Services, agency_id: str) -> str:
    found = services.registry.find(agency_id)
    return f"{found.acronym} ({agency_id})" if found is not None else agency_id


def _hosted(services: Services, agency_id: str) -> bool:
    return services.hosted.profile(agency_id).hosted


def _waits_for(services: Services, tramite: Tramite) -> str:
    agency = pending_agency(tramite)
    if agency is None:  # state 1: the sender still uploading
        agency = tramite.sender_agency_id
    return f"{_party(services, agency)}" + (" [hosted: the platform]" if _hosted(services, agency) else "")


def _tramite_json(tramite: Tramite, services: Services) -> dict[str, Any]:
    agency = pending_agency(tramite) or tramite.sender_agency_id
    return {
        "idt": tramite.idt,
        "nre": tramite.nre,
        "nup": tramite.nup,
        "estado": tramite.state.value,
        "descricaoEstado": tramite.state.label,
        "desde": tramite.updated_at.isoformat(),
        "orgaoRemetente": tramite.sender_agency_id,
        "orgaoDestinatario": tramite.receiver_agency_id,
        "aguarda": agency,
        "aguardaHospedado": _hosted(services, agency),
    }


# --- retry ----------------------------------------------------------------------------------------


def retry(services: Services, idt: str, now: bool) -> None:
    tramite = services.bus.tramite(idt)
    state = tramite.state
    print(f"trâmite {idt}: state {state.value} ({state.label}) since {utc_text(tramite.updated_at)}")
    if now:
        done = services.hosted.handle(idt)
        after = services.bus.tramite(idt).state
        print(f"bus step run here: {done!r}; now in state {after.value} ({after.label})")
    else:
        # What forward_tramite_changes does for each state change: one message for run_bus_work.
        services.bus_work.enqueue(idt, int(state))
        print("queued for the bus worker (run_bus_work), which acts on the trâmite's current state")
    agency = pending_agency(tramite)
    if agency is not None and not _hosted(services, agency):
        print(f"note: in this state the trâmite waits for {_party(services, agency)}, which is not hosted "
              "here: the platform has no step to do; that agency's own system must act")  # fmt: skip


# --- cancel ---------------------------------------------------------------------------------------


def cancel(services: Services, idt: str, reason: str, as_sender: bool) -> None:
    tramite = services.bus.tramite(idt)
    state = tramite.state
    days = services.settings.bus_deadline_days
    if state.final:
        raise OpsError(f"trâmite {idt} is already in a final state: {state.value} ({state.label})")
    if state not in AUTO_CANCEL_STATES:
        what = ("the sender fetching the recibo de conclusão (→ 6)" if state is TramiteState.RECIBO_ENVIADO
                else "the sender's ciência of the refusal (→ 9)")  # fmt: skip
        raise OpsError(
            f"trâmite {idt} is in {state.value} ({state.label}): no cancel exists from here; only {what} "
            "ends it. If the sender is hosted here, `tramites retry` re-runs the platform's step."
        )
    deadline = auto_cancel_at(tramite, days)
    assert deadline is not None  # noqa: S101 (states 1-4)
    if not as_sender:
        due = (
            "it is past that deadline: the schedule cancels it at its next run (every 15 minutes)"
            if deadline <= datetime.now(UTC)
            else f"this one at {utc_text(deadline)} if nothing moves before"
        )
        raise OpsError(
            "the bus has no operator cancel: by the national rules only the sender cancels a trâmite in "
            f"1-4 (→ 7), and the bus itself cancels it automatically after {days} days with no state "
            f"change (→ 10); {due}. To cancel it now on the sender's behalf, repeat with --as-sender: "
            f"the history will show agency {tramite.sender_agency_id} with the client {OPERATOR_CLIENT}."
        )
    caller = Caller(tramite.sender_agency_id, OPERATOR_CLIENT, frozenset({Scope.BARRAMENTO}))
    cancelled = services.bus.cancel(caller, idt, reason)
    print(f"trâmite {idt} cancelled on behalf of the sender {_party(services, tramite.sender_agency_id)}: "
          f"state {cancelled.state.value} ({cancelled.state.label}); the history keeps the reason: "
          f"{cancelled.history[-1].detail}")  # fmt: skip
    if _hosted(services, tramite.sender_agency_id):
        print("The sender is hosted: the bus worker unlocks its process when the change reaches it.")


# --- the CLI --------------------------------------------------------------------------------------


def add_parsers(groups: Any) -> None:
    tramites = groups.add_parser("tramites", help="trâmites stuck per state; retry or cancel one")
    actions = tramites.add_subparsers(dest="action", required=True)
    stuck_parser = actions.add_parser(
        "stuck",
        help="trâmites in a non-final state with no change for longer than a threshold",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stuck_parser.add_argument(
        "--state",
        type=int,
        action="append",
        metavar="N",
        help="only state N (repeatable; default 1-5, 8)",
    )
    stuck_parser.add_argument("--older-than", default="2h", help="e.g. 30m, 2h, 8d (default 2h)")
    json_flag(stuck_parser)
    retry_parser = actions.add_parser(
        "retry", help="re-queue the platform's bus step for a trâmite (what the trâmites stream does)"
    )
    retry_parser.add_argument("idt")
    retry_parser.add_argument("--now", action="store_true", help="run the step here instead of queueing it")
    cancel_parser = actions.add_parser(
        "cancel", help="cancel a trâmite in states 1-4 (on the sender's behalf: --as-sender)"
    )
    cancel_parser.add_argument("idt")
    cancel_parser.add_argument("--reason", required=True, help="why (kept in the trâmite's history, pt-BR)")
    cancel_parser.add_argument(
        "--as-sender", action="store_true", help="cancel as the sending agency (→ 7); without it, explains"
    )


def run(args: argparse.Namespace, services: Services) -> None:
    if args.action == "stuck":
        stuck(services, args.state, args.older_than, args.json)
    elif args.action == "retry":
        retry(services, args.idt, args.now)
    else:
        cancel(services, args.idt, args.reason, args.as_sender)
