"""Powertools Logger, Tracer and Metrics, created once. Their settings come from POWERTOOLS_*
variables, which the template and the local stack set (Powertools reads them itself)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "pen"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace="PEN")
