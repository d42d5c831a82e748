"""Scheduled work: the bus's automatic cancel of trâmites stuck in states 1 to 4 past the deadline
(PEN_BARRAMENTO_PRAZO_DIAS, 8 days by the national rule). The run is idempotent: a trâmite cancelled,
or moved, since the index was read is left alone, so an overlapping or repeated run is harmless."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.bootstrap import services
from chalicelib.observability import logger

bp = Blueprint(__name__)


@bp.schedule(Rate(15, unit=Rate.MINUTES))
def cancel_stalled_tramites(event: Any) -> dict[str, Any]:
    cancelled = services().bus.cancel_stalled()
    logger.info("stalled trâmites cancelled", extra={"count": len(cancelled), "idts": cancelled[:50]})
    return {"cancelados": len(cancelled)}
