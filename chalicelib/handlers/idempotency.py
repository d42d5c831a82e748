"""`Idempotency-Key` for POSTs, on Powertools idempotency with its DynamoDB table.

The key is scoped to the API client and the route, so two agencies can never collide; the stored
record is the first answer (status and body), and the request payload is validated on replay: the
same key with another body is refused (422) instead of silently returning an unrelated result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from chalicelib.domain.errors import Conflict, FieldError, InvalidInput

KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
EXPIRES_AFTER_SECONDS = 24 * 3600

_CONFIG = IdempotencyConfig(
    event_key_jmespath="chave",
    payload_validation_jmespath="conteudo",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EXPIRES_AFTER_SECONDS,
)


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key came with another request body."""


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise InvalidInput(
            "Idempotency-Key inválida.",
            [
                FieldError(
                    "Idempotency-Key", "use de 8 a 128 caracteres: letras, dígitos, '.', '_', ':' ou '-'"
                )
            ],
        )
    return key


def run_once(
    *,
    store: Any,
    lambda_context: Any,
    scope: str,
    key: str,
    payload: Any,
    execute: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Runs `execute` once per (scope, key); replays return its first result."""
    if lambda_context is not None:
        _CONFIG.register_lambda_context(lambda_context)

    def call(request: dict[str, Any]) -> dict[str, Any]:
        return execute()

    guarded = idempotent_function(
        call, data_keyword_argument="request", persistence_store=store, config=_CONFIG, key_prefix="pen-api"
    )
    try:
        result: dict[str, Any] = guarded(request={"chave": f"{scope}|{check_key(key)}", "conteudo": payload})
    except IdempotencyValidationError:
        raise IdempotencyKeyReused from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            "Uma requisição com esta Idempotency-Key ainda está em andamento; aguarde e repita."
        ) from None
    return result
