"""Operator CLI: the Repositório de Estruturas, agency API credentials, and day-two work on the
queues, the bus and the processes.

    python -m infra.ops --local agency add --name "Ministério da Saúde" --sigla MS
    python -m infra.ops --stage prod --profile pen-prod \
        token issue --agency 100 --name "SEI" --scopes processos
    python -m infra.ops --local queues
    python -m infra.ops --local dlq show barramento
    python -m infra.ops --local tramites stuck --older-than 2h
    python -m infra.ops --local process export 10001.000001/2026-45 --agency 1001 --out h.jsonl
    python -m infra.ops receipt verify recibo.json --api https://api.example.gov.br

It drives the same services as the API (chalicelib.bootstrap.build), against the local stack
(--local reads .local/stack.json), any endpoint (--endpoint), or AWS (--stage/--profile/--region).
Exit status: 0 done, 1 a check failed (a broken history chain, a receipt that does not verify),
2 the operator's mistake or a refusal (printed without a traceback).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chalicelib.config import ENV_ENDPOINT, ENV_REGION, Settings
from chalicelib.domain.credentials import parse_scopes
from chalicelib.domain.errors import DomainError
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import StructureQuery
from infra.ops import processes as ops_processes
from infra.ops import queues as ops_queues
from infra.ops import receipts as ops_receipts
from infra.ops import tables as ops_tables
from infra.ops import tramites as ops_tramites
from infra.ops.console import CheckFailed, OpsError
from infra.resources import STACK

__all__ = ["CheckFailed", "OpsError", "main", "parser", "run"]


def _yes_no(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"", "none"}:
            return None
        if text in {"sim", "s", "yes", "y", "true", "1"}:
            return True
        if text in {"nao", "não", "n", "no", "false", "0"}:
            return False
    return value


class StructureRow(BaseModel):
    """One row of an import file (JSON list of objects, or CSV with these column names)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[1-9][0-9]{0,11}$")
    nome: str = Field(min_length=1, max_length=250)
    sigla: str = Field(min_length=1, max_length=30)
    pai_id: str | None = None
    codigo_protocolo: str | None = None
    email_contato: str | None = None
    ativo: bool = True
    pode_enviar: bool = True
    pode_receber: bool = True

    @field_validator("pai_id", "codigo_protocolo", "email_contato", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("ativo", "pode_enviar", "pode_receber", mode="before")
    @classmethod
    def _booleans(cls, value: Any) -> Any:
        parsed = _yes_no(value)
        return True if parsed is None else parsed

    def to_domain(self) -> Structure:
        return Structure(
            id=self.id,
            name=self.nome,
            acronym=self.sigla,
            agency_id=self.id if self.pai_id is None else "",
            parent_id=self.pai_id,
            active=self.ativo,
            can_send=self.pode_enviar,
            can_receive=self.pode_receber,
            protocol_code=self.codigo_protocolo,
            contact_email=self.email_contato,
        )


def read_rows(path: Path) -> list[Structure]:
    """Reads and checks the whole file before anything is written; lists every bad row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise OpsError(f"cannot read {path}: {error.strerror}") from None
    raw: list[dict[str, Any]]
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        raw = data.get("estruturas", []) if isinstance(data, dict) else data
    elif path.suffix.lower() == ".csv":
        raw = list(csv.DictReader(text.splitlines()))
    else:
        raise OpsError("import takes a .json or a .csv file")
    rows: list[Structure] = []
    problems: list[str] = []
    for number, item in enumerate(raw, start=1):
        try:
            rows.append(StructureRow.model_validate(item).to_domain())
        except ValidationError as error:
            for e in error.errors(include_url=False):
                problems.append(f"row {number}: {'.'.join(map(str, e['loc']))}: {e['msg']}")
    ids = [r.id for r in rows]
    problems += [f"id {i} appears more than once" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise OpsError("the file has errors, nothing was imported:\n  " + "\n  ".join(problems))
    return rows


def _client_id(value: str) -> str:
    """A client id as `token list` shows it: never empty (an empty key is a DynamoDB error, not a 404)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("a client id is required: `token list --agency ID` shows them")
    return value.strip()


def _settings(args: argparse.Namespace) -> Settings:
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile
    if args.local:
        from infra.local.state import read_stack

        stack = read_stack()
        env = dict(stack["environment"])
        env[ENV_ENDPOINT] = stack["endpoint"]
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    else:
        env = STACK.environment(args.stage)
        if args.endpoint:
            env[ENV_ENDPOINT] = args.endpoint
    env[ENV_REGION] = args.region or env.get(ENV_REGION) or os.environ.get("AWS_REGION") or "sa-east-1"
    return Settings.from_env(env)


def _print_structures(structures: Iterable[Structure], as_json: bool) -> None:
    items = list(structures)
    if as_json:
        print(json.dumps([s.__dict__ for s in items], ensure_ascii=False, indent=2))
        return
    for s in items:
        kind = "órgão " if s.is_agency else "unidade"
        code = f" NUP {s.protocol_code}" if s.protocol_code else ""
        flags = "" if s.active else " (inativa)"
        print(f"{s.id:>12}  {kind}  {s.acronym:<12} {s.name}{code}{flags}  [órgão {s.agency_id}]")


def _progress(total: int) -> Any:
    def show(done: int, item: Structure) -> None:
        if sys.stderr.isatty() or done == total or done % 100 == 0:
            end = "\n" if done == total else "\r"
            print(f"[{done:>6}/{total}] {done * 100 // max(total, 1):>3}%  {item.acronym:<20}", end=end,
                  file=sys.stderr, flush=True)  # fmt: skip

    return show


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    mapping = {"name": "name", "sigla": "acronym", "parent": "parent_id", "contact_email": "contact_email",
               "protocol_code": "protocol_code", "active": "active", "can_send": "can_send",
               "can_receive": "can_receive"}  # fmt: skip
    changes = {
        field: getattr(args, arg) for arg, field in mapping.items() if getattr(args, arg, None) is not None
    }
    if getattr(args, "no_protocol_code", False):
        changes["protocol_code"] = None
    return changes


def run(args: argparse.Namespace) -> None:
    from chalicelib.bootstrap import build

    if args.group == "receipt":  # offline: no stack needed
        ops_receipts.run(args)
        return
    settings = _settings(args)
    if args.group in {"queues", "dlq"}:
        ops_queues.run(args, settings)
        return
    if args.group == "table":
        ops_tables.run(args, settings)
        return
    services = build(settings)
    if args.group == "tramites":
        ops_tramites.run(args, services)
        return
    if args.group == "process":
        ops_processes.run(args, services)
        return
    registry, credentials = services.registry, services.credentials
    command = (args.group, args.action)
    if command == ("structure", "list"):
        query = StructureQuery(
            acronym=args.sigla, name=args.nome, agency_id=args.orgao, agencies_only=args.orgaos
        )
        cursor = None
        while True:
            page = registry.search(query, cursor, 100)
            _print_structures(page.items, args.json)
            cursor = page.cursor
            if cursor is None or args.json:
                break
    elif command == ("structure", "show"):
        _print_structures([registry.get(args.id)], True)
    elif command in {("agency", "add"), ("unit", "add")}:
        parent = getattr(args, "parent", None)
        structure = Structure(
            id=args.id or "",
            name=args.name,
            acronym=args.sigla,
            agency_id="",
            parent_id=parent,
            protocol_code=getattr(args, "protocol_code", None),
            contact_email=getattr(args, "contact_email", None),
            active=not args.inactive,
            can_send=not args.no_send,
            can_receive=not args.no_receive,
        )
        _print_structures([registry.save(structure)], args.json)
    elif command in {("agency", "host"), ("agency", "unhost")}:
        profile = services.hosted.set_hosted(args.id, args.action == "host")
        state = "hosted: trâmites to it are imported automatically" if profile.hosted else "not hosted"
        print(f"agency {profile.agency_id} is {state}")
    elif command == ("structure", "update"):
        current = registry.get(args.id)
        changes = _changes(args)
        if not changes:
            raise OpsError("nothing to change: pass at least one option")
        _print_structures([registry.save(current.changed(**changes))], args.json)
    elif command == ("structure", "import"):
        rows = read_rows(Path(args.file))
        if args.dry_run:
            print(f"{len(rows)} rows are valid; nothing was written (--dry-run)")
            return
        result = registry.import_many(rows, progress=_progress(len(rows)))
        print(f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}")
    elif command == ("structure", "rewrite"):
        done = registry.rewrite_all(progress=lambda done, total, item: _progress(total)(done, item))
        print(f"rewrote {done} structures")
    elif command == ("token", "issue"):
        expires = datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
        issued = credentials.issue(args.agency, args.name, parse_scopes(args.scopes), expires)
        _print_token(issued.client.__dict__, issued.token)
    elif command == ("token", "rotate"):
        issued = credentials.rotate(args.client_id)
        _print_token(issued.client.__dict__, issued.token)
    elif command == ("token", "revoke"):
        client = credentials.revoke(args.client_id, reason=args.reason or "")
        print(
            f"client {client.id} revoked at {client.revoked_at:%Y-%m-%d %H:%M:%S} UTC; "
            "its token no longer works"
        )
    elif command == ("token", "list"):
        cursor = None
        while True:
            clients = credentials.list_for_agency(args.agency, cursor, 100)
            for c in clients.items:
                state = (
                    "revoked"
                    if c.revoked_at
                    else ("expires " + f"{c.expires_at:%Y-%m-%d}" if c.expires_at else "active")
                )
                print(f"{c.id}  {c.name:<30} {','.join(sorted(c.scopes)):<28} {state}")
            cursor = clients.cursor
            if cursor is None:
                break


def _print_token(client: dict[str, Any], token: str) -> None:
    print(
        f"client   {client['id']} (agency {client['agency_id']}, scopes {','.join(sorted(client['scopes']))})"
    )
    print(f"token    {token}")
    print("Shown once: only its hash is stored. Hand it to the agency over a secure channel.")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m infra.ops", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    target = root.add_argument_group("target")
    target.add_argument("--local", action="store_true", help="the stack started by `make run`")
    target.add_argument("--endpoint", help="an AWS-compatible endpoint URL")
    target.add_argument("--stage", default="prod", help="stack stage in AWS (default: prod)")
    target.add_argument("--profile", help="AWS profile")
    target.add_argument("--region", help="AWS region (default: sa-east-1)")
    root.add_argument("--json", action="store_true", help="machine-readable output where it applies")
    groups = root.add_subparsers(dest="group", required=True)

    structure = groups.add_parser("structure", help="list, show, update, import structures").add_subparsers(
        dest="action", required=True
    )
    listing = structure.add_parser("list")
    listing.add_argument("--sigla")
    listing.add_argument("--nome")
    listing.add_argument("--orgao", help="only this agency's structures")
    listing.add_argument("--orgaos", action="store_true", help="only the agencies, not their units")
    structure.add_parser("show").add_argument("id")
    update = structure.add_parser("update")
    update.add_argument("id")
    update.add_argument("--name")
    update.add_argument("--sigla")
    update.add_argument("--parent")
    update.add_argument("--contact-email")
    update.add_argument("--protocol-code")
    update.add_argument("--no-protocol-code", action="store_true", help="release the protocol code")
    for flag in ("active", "can-send", "can-receive"):
        update.add_argument(f"--{flag}", type=_yes_no, metavar="yes|no")
    importing = structure.add_parser("import", help="a hierarchy from a .json or .csv file")
    importing.add_argument("file")
    importing.add_argument("--dry-run", action="store_true")
    structure.add_parser(
        "rewrite", help="write every structure again, so a registry index added by an upgrade covers it"
    )

    for kind in ("agency", "unit"):
        add = groups.add_parser(
            kind, help=f"add an {kind}" + (", host or unhost it" if kind == "agency" else "")
        ).add_subparsers(dest="action", required=True)
        command = add.add_parser("add")
        command.add_argument("--id", help="the national registry's id (default: a new one)")
        command.add_argument("--name", required=True)
        command.add_argument("--sigla", required=True)
        if kind == "agency":
            command.add_argument("--contact-email", help="receives credential notices")
        else:
            command.add_argument("--parent", required=True, help="the agency or unit above it")
            command.add_argument("--protocol-code", help="5-digit NUP code of a protocol unit")
        command.add_argument("--inactive", action="store_true")
        command.add_argument("--no-send", action="store_true", help="cannot send through the bus")
        command.add_argument("--no-receive", action="store_true", help="cannot receive through the bus")
        if kind == "agency":
            hosting = "the platform runs this agency's processes and imports what it receives"
            add.add_parser("host", help=hosting).add_argument("id")
            add.add_parser("unhost", help="the agency uses the bus from its own system only").add_argument(
                "id"
            )

    token = groups.add_parser("token", help="agency API clients").add_subparsers(dest="action", required=True)
    issue = token.add_parser("issue")
    issue.add_argument("--agency", required=True)
    issue.add_argument("--name", required=True, help="which system uses it, e.g. 'SEI do MS'")
    issue.add_argument("--scopes", required=True, help="comma-separated: processos, barramento, admin")
    issue.add_argument("--expires-in-days", type=int)
    token.add_parser("rotate").add_argument("client_id", type=_client_id)
    revoke = token.add_parser("revoke")
    revoke.add_argument("client_id", type=_client_id)
    revoke.add_argument("--reason")
    token.add_parser("list").add_argument("--agency", required=True)

    ops_queues.add_parsers(groups)
    ops_tramites.add_parsers(groups)
    ops_processes.add_parsers(groups)
    ops_receipts.add_parsers(groups)
    ops_tables.add_parsers(groups)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        run(args)
    except DomainError as error:
        details = "".join(f"\n  {f.field}: {f.message}" for f in error.fields)
        print(f"error: {error.detail}{details}", file=sys.stderr)
        return 2
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except CheckFailed as failed:  # the report is printed already
        if str(failed):
            print(f"error: {failed}", file=sys.stderr)
        return 1
    except Exception as error:  # the local stack not running, AWS credentials missing...
        if type(error).__name__ in {"StackNotRunningError", "NoCredentialsError", "EndpointConnectionError"}:
            print(f"error: {error}", file=sys.stderr)
            return 2
        raise
    return 0
