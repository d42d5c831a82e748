"""Scheduled work: the bus's automatic cancel of trâmites stuck in states 1 to 4 past the deadline
(PEN_BARRAMENTO_PRAZO_DIAS, 8 days by the national rule). The run is idempotent: a trâmite cancelled,
or moved, since the index was read is left alone, so an overlapping or repeated run is harmless.

Each run then counts the trâmites stuck in each open state past that state's threshold
(services/stuck.py, STUCK_AFTER) and publishes the counts, 0 included, as the TramitesParados gauge
(dimension Estado): the stuck-trâmite alarms read it (infra/monitoring.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Blueprint, Rate

from chalicelib.bootstrap import services
from chalicelib.domain.bus import TramiteState
from chalicelib.observability import STATE_DIMENSION, STUCK_TRAMITES, logger, publish
from chalicelib.services.stuck import STUCK_AFTER

bp = Blueprint(__name__)


@bp.schedule(Rate(15, unit=Rate.MINUTES))
def cancel_stalled_tramites(event: Any) -> dict[str, Any]:
    current = services()
    cancelled = current.bus.cancel_stalled()
    logger.info("stalled trâmites cancelled", extra={"count": len(cancelled), "idts": cancelled[:50]})
    # After the cancel: what it just cancelled is no longer stuck.
    counts = current.stuck.find(STUCK_AFTER).counts
    publish_stuck_counts(counts)
    logger.info("stuck trâmites counted", extra={"parados": {s.name: n for s, n in counts.items()}})
    return {"cancelados": len(cancelled)}


def publish_stuck_counts(counts: Mapping[TramiteState, int]) -> None:
    """One TramitesParados line per state, so each state's alarm always has a data point."""
    for state, count in counts.items():
        publish(STUCK_TRAMITES, count, dimensions={STATE_DIMENSION: state.name})
