"""`Once` on Powertools idempotency (the same persistence layer as the API's Idempotency-Key, under
its own key prefix): an action keyed by a notice's key runs at most once to completion.

A failed action leaves no record, so the retry runs it again; a completed one is never run again
while its record lives (EXPIRES_AFTER_SECONDS: longer than any redelivery of a notices message). Two
deliveries racing on the same key: the second raises (already in progress) and its message is
retried later, when the first has completed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError

from chalicelib.observability import logger

KEY_PREFIX = "pen-avisos"  # distinct from the API's "pen-api"
EXPIRES_AFTER_SECONDS = 14 * 24 * 3600  # SQS keeps a message at most 14 days

_CONFIG = IdempotencyConfig(
    event_key_jmespath="chave",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=EXPIRES_AFTER_SECONDS,
)


def register_lambda_context(context: Any) -> None:
    """With the Lambda's context, an in-progress record expires with the invocation, so a crashed
    run does not block the notice until EXPIRES_AFTER_SECONDS."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        _CONFIG.register_lambda_context(context)


class PowertoolsOnce:
    def __init__(self, persistence_store: Any) -> None:
        self._store = persistence_store

    def run(self, key: str, action: Callable[[], None]) -> bool:
        ran: list[bool] = []

        def call(work: dict[str, Any]) -> dict[str, Any]:
            action()
            ran.append(True)
            return {"feito": True}

        guarded = idempotent_function(
            call, data_keyword_argument="work", persistence_store=self._store, config=_CONFIG,
            key_prefix=KEY_PREFIX,
        )  # fmt: skip
        try:
            guarded(work={"chave": key})
        except IdempotencyPersistenceLayerError:
            if not ran:
                raise  # nothing ran: the message is retried
            # The action ran (an e-mail went out) but its completion was not recorded: report it as
            # done, so the page does not fail and send it again once the in-progress record expires.
            # Only a second fault (SQS delivering this page again after that) could still resend it.
            logger.warning("completion of a once-only action not recorded", extra={"chave": key[:8]})
        return bool(ran)
