"""HTTP middleware: correlation id, body size limit, problem+json for framework errors, access log
and metrics. Registered by app.py; runs around every route, including Chalice's own 405/415."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit
from chalice import Response
from chalice.app import Request

from chalicelib.api import problems
from chalicelib.handlers.errors import as_problem, problem_response
from chalicelib.observability import logger, metrics

CORRELATION_HEADER = "X-Correlation-Id"
_METRICS_LOCK = threading.Lock()
_CORRELATION_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")


def correlation_id(request: Request) -> str:
    incoming = request.headers.get(CORRELATION_HEADER.lower()) if request.headers else None
    if incoming and _CORRELATION_PATTERN.match(incoming):
        return str(incoming)
    return str(uuid.uuid4())


def http_pipeline(request: Request, get_response: Callable[[Request], Response]) -> Response:
    started = time.perf_counter()
    cid = correlation_id(request)
    logger.set_correlation_id(cid)
    body = request.raw_body or b""
    if len(body) > problems.MAX_BODY_BYTES:
        response = problem_response(problems.TOO_LARGE, problems.DETAIL_TOO_LARGE)
    else:
        response = as_problem(get_response(request))
    response.headers = {**(response.headers or {}), CORRELATION_HEADER: cid}
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    # Never log headers or bodies: they carry tokens and personal data.
    logger.info(
        "request",
        extra={
            "method": request.method,
            "path": request.context.get("resourcePath") if request.context else None,
            "status": response.status_code,
            "elapsed_ms": elapsed_ms,
        },
    )
    # Metrics is one shared buffer: a threaded local server must not flush another request's metrics.
    with _METRICS_LOCK:
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        if response.status_code >= 500:
            metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
        elif response.status_code >= 400:
            metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()
    return response
