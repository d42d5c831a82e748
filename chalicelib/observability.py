"""Powertools Logger, Tracer and Metrics, created once. Their settings come from POWERTOOLS_*
variables, which the template and the local stack set (Powertools reads them itself).

Metrics reach CloudWatch as EMF lines in the function's log (no PutMetricData call). The app's own,
in namespace PEN, each with the `service` dimension Powertools adds (infra/monitoring.py alarms and
charts them by the same names):

- Requests, ClientErrors, ServerErrors: every HTTP answer (handlers/middleware.py);
- TramitesParados (Estado): per open bus state, the trâmites stuck in it past the state's threshold,
  a gauge the bus's schedule publishes on every run, 0 included (handlers/schedules.py);
- TramitesPorEstado (Estado): trâmites entering each state, counted from the trâmites table's stream
  (handlers/bus_worker.py);
- AvisosEnviados: movement notices actually e-mailed to citizens (handlers/notices_worker.py).

Dimensions stay low-cardinality: a state's name, never a NUP, an IDT or an address.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

SERVICE = "pen"
NAMESPACE = "PEN"
STATE_DIMENSION = "Estado"
STUCK_TRAMITES = "TramitesParados"
TRAMITES_BY_STATE = "TramitesPorEstado"
NOTICES_SENT = "AvisosEnviados"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


def publish(
    name: str,
    value: float,
    *,
    dimensions: Mapping[str, str] | None = None,
    unit: MetricUnit = MetricUnit.Count,
) -> None:
    """Publishes one metric now, as its own EMF line with its own dimensions. Not through `metrics`:
    its buffer is shared by every instance and holds one dimension set, while these differ per line
    (one per bus state); a buffer of its own also keeps a threaded local server from mixing them.
    Honours POWERTOOLS_METRICS_DISABLED as `metrics` does."""
    line = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE)
    for dimension, dimension_value in (dimensions or {}).items():
        line.add_dimension(name=dimension, value=dimension_value)
    line.add_metric(name=name, unit=unit, value=value)
    line.flush_metrics()
