"""Where the running local stack tells other processes about itself: `.local/` at the repo root.

`stack.json` (endpoint, API URL, ports, stage, resource environment) exists while the stack runs;
`demo-credentials.json` holds the demo tokens of the last start. `PEN_LOCAL_DIR` moves the folder
(the e2e tests use it so they never touch a developer's running demo).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV_LOCAL_DIR = "PEN_LOCAL_DIR"
ENV_API_PORT = "PEN_API_PORT"
ENV_MOTO_PORT = "PEN_MOTO_PORT"
ENV_SITE_PORT = "PEN_SITE_PORT"
DEFAULT_API_PORT = 8000
DEFAULT_MOTO_PORT = 8001
DEFAULT_SITE_PORT = 8002
HOST = "127.0.0.1"
STAGE = "local"
REGION = "sa-east-1"

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = "stack.json"
CREDENTIALS_FILE = "demo-credentials.json"
SENT_MAIL_PATH = "/_local/ses/sent.json"  # on the moto server: what SES sent (infra/local/moto_server.py)


class StackNotRunningError(RuntimeError):
    """No local stack answers: `make run` first."""


def local_dir() -> Path:
    configured = os.environ.get(ENV_LOCAL_DIR)
    return Path(configured) if configured else ROOT / ".local"


def site_dir() -> Path:
    """Where the local stack builds the site it serves: its own folder, so stacks never share one."""
    return local_dir() / "site"


def write_json(name: str, data: Any) -> Path:
    folder = local_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.chmod(0o600)  # demo tokens, but tokens all the same
    temporary.replace(path)
    return path


def read_stack() -> dict[str, Any]:
    """The running stack's description (`stack.json`); raises StackNotRunningError when there is none."""
    path = local_dir() / STACK_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackNotRunningError(
            f"The local stack is not running ({path} does not exist). Start it with `make run`."
        ) from None
    return data


def remove_stack_file() -> None:
    (local_dir() / STACK_FILE).unlink(missing_ok=True)
