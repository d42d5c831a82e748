"""What tells operators something is wrong: alarms to one SNS topic (an e-mail subscription when the
`AlarmEmail` parameter is set) and one CloudWatch dashboard.

Alarms: any message in a dead-letter or on-failure queue (infra/template.py, next to each queue); the
API's 5xx rate; every function's errors and throttles; SES's reputation (bounce rate over 5%, complaint
rate over 0.1%: above these AWS reviews, then pauses, the account's sending); per open bus state, more
trâmites stuck in it than the `StuckTramitesThreshold` parameter (the app's TramitesParados gauge).
docs/DEPLOY.md and docs/OPERATIONS.md say what to do for each.

The app's own metrics (namespace PEN, chalicelib/observability.py) carry the `service` dimension
Powertools adds to every metric: an alarm or a chart names it too, or it reads no data.
"""

from __future__ import annotations

import json

from chalicelib.domain.bus import TramiteState
from chalicelib.observability import (
    NAMESPACE,
    NOTICES_SENT,
    SERVICE,
    STATE_DIMENSION,
    STUCK_TRAMITES,
    TRAMITES_BY_STATE,
)
from chalicelib.services.stuck import OPEN_STATES, STUCK_AFTER
from infra.cfn import Json, ref, sub
from infra.chalice_app import ChaliceApp
from infra.data_key import DATA_KEY
from infra.resources import Stack

ALARMS_TOPIC = "AlarmesTopic"
ALARM_EMAIL = "AlarmEmail"  # template parameter
HAS_ALARM_EMAIL = "HasAlarmEmail"
DASHBOARD = "PainelDashboard"
API_NAME = "pen"  # Chalice's app name: the REST API's title, which API Gateway's metrics are named by
API_STAGE = "api"
API_5XX_PERCENT = 1.0  # over five minutes
BOUNCE_RATE = 0.05
COMPLAINT_RATE = 0.001
PERIOD = 300
# Stuck trâmites: the schedule publishes the gauge every 15 minutes; the alarm reads the highest value
# of each half hour, so a run landing late in its period never leaves a period without data.
STUCK_THRESHOLD = "StuckTramitesThreshold"  # template parameter
STUCK_THRESHOLD_DEFAULT = 10
STUCK_PERIOD = 1800


def alarm_actions() -> list[Json]:
    return [ref(ALARMS_TOPIC)]


def alarm_email_parameter() -> Json:
    return {
        "Type": "String",
        "Default": "",
        "Description": "E-mail the alarms go to (it must confirm the subscription); empty: none",
        "AllowedPattern": r"^$|^[^@\s]+@[^@\s]+$",
    }


def stuck_threshold_parameter() -> Json:
    # Not 0: with a thousand agencies, one agency's system down for a day always leaves a few trâmites
    # behind, which `tramites stuck` and the dashboard show; an alarm that is always on gets ignored.
    # More than 10 in one state at once is a pattern (the platform's bus worker, a large agency, the
    # bus itself). Set 0 to be told of every single one.
    return {
        "Type": "Number",
        "Default": STUCK_THRESHOLD_DEFAULT,
        "MinValue": 0,
        "Description": "Stuck-trâmite alarms: trâmites stuck in one bus state (no state change for a day) "
        "above which the state's alarm fires; 0: any",
    }


def monitoring_parameters() -> dict[str, Json]:
    """The template parameters the alarms read."""
    return {ALARM_EMAIL: alarm_email_parameter(), STUCK_THRESHOLD: stuck_threshold_parameter()}


def state_slug(state: TramiteState) -> str:
    """`RECIBO_ENVIADO` -> `recibo-enviado`: the state in an alarm's name."""
    return state.name.lower().replace("_", "-")


def _app_metric(name: str, **dimensions: str) -> list[str]:
    """A dashboard line of one of the app's metrics, with the dimension Powertools adds."""
    line = [NAMESPACE, name]
    for dimension, value in {**dimensions, "service": SERVICE}.items():
        line += [dimension, value]
    return line


def alarm(stack: Stack, stage: str, suffix: str, description: str, **properties: object) -> Json:
    """An alarm named `pen-<stage>-<suffix>` to the alarms topic. Its description ends with where the
    runbook says what to do: docs/OPERATIONS.md has an anchor named after the suffix for each."""
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": stack.name(stage, suffix),
            "AlarmDescription": f"{description} O que fazer: docs/OPERATIONS.md#{suffix}",
            "TreatMissingData": "notBreaching",
            "AlarmActions": alarm_actions(),
            "OKActions": alarm_actions(),
            **properties,
        },
    }


def _mail_rate_alarm(
    stack: Stack, stage: str, suffix: str, *, metric: str, threshold: float, what: str
) -> Json:
    """SES's reputation metric over its review threshold: AWS reviews, then pauses, the sending."""
    return alarm(
        stack,
        stage,
        suffix,
        f"A taxa de {what} do SES passou de {threshold:.1%}: a AWS pode pausar o envio.",
        Namespace="AWS/SES",
        MetricName=metric,
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
    )


def _function_alarms(stack: Stack, stage: str, app: ChaliceApp) -> dict[str, Json]:
    alarms: dict[str, Json] = {}
    for function in app.functions:
        for metric, what in (("Errors", "falhou"), ("Throttles", "foi limitada (throttling)")):
            alarms[f"{function.logical_id}{metric}Alarm"] = alarm(
                stack,
                stage,
                f"{function.name}-{metric.lower()}",
                f"A função {function.name} {what} nos últimos 5 minutos.",
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": ref(function.logical_id)}],
                Statistic="Sum",
                Period=PERIOD,
                EvaluationPeriods=1,
                Threshold=0,
                ComparisonOperator="GreaterThanThreshold",
            )
    return alarms


def _stuck_alarms(stack: Stack, stage: str) -> dict[str, Json]:
    alarms: dict[str, Json] = {}
    for state in OPEN_STATES:
        hours = int(STUCK_AFTER[state].total_seconds() // 3600)
        camel = "".join(word.capitalize() for word in state.name.split("_"))
        alarms[f"TramitesParados{camel}Alarm"] = alarm(
            stack,
            stage,
            f"tramites-parados-{state_slug(state)}",
            f"Mais trâmites do que o limite {STUCK_THRESHOLD} estão parados no estado {state.value} "
            f"({state.label}) há mais de {hours} h sem mudança de estado: liste-os com `python -m "
            f"infra.ops tramites stuck --state {state.value} --older-than {hours}h`.",
            Namespace=NAMESPACE,
            MetricName=STUCK_TRAMITES,
            Dimensions=[
                {"Name": STATE_DIMENSION, "Value": state.name},
                {"Name": "service", "Value": SERVICE},
            ],
            Statistic="Maximum",
            Period=STUCK_PERIOD,
            EvaluationPeriods=1,
            Threshold=ref(STUCK_THRESHOLD),
            ComparisonOperator="GreaterThanThreshold",
        )
    return alarms


def _api_metric(metric_id: str, name: str) -> Json:
    return {
        "Id": metric_id,
        "ReturnData": False,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/ApiGateway",
                "MetricName": name,
                "Dimensions": [{"Name": "ApiName", "Value": API_NAME}, {"Name": "Stage", "Value": API_STAGE}],
            },
            "Period": PERIOD,
            "Stat": "Sum",
        },
    }


def monitoring_resources(stack: Stack, stage: str, app: ChaliceApp) -> dict[str, Json]:
    resources: dict[str, Json] = {
        ALARMS_TOPIC: {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": stack.name(stage, "alarmes"), "KmsMasterKeyId": ref(DATA_KEY)},
        },
        f"{ALARMS_TOPIC}Email": {
            "Type": "AWS::SNS::Subscription",
            "Condition": HAS_ALARM_EMAIL,
            "Properties": {"TopicArn": ref(ALARMS_TOPIC), "Protocol": "email", "Endpoint": ref(ALARM_EMAIL)},
        },
        "Api5xxAlarm": alarm(
            stack,
            stage,
            "api-5xx",
            f"Mais de {API_5XX_PERCENT:g}% das requisições à API terminaram em erro 5xx em 5 minutos.",
            Metrics=[
                _api_metric("erros", "5XXError"),
                _api_metric("total", "Count"),
                {"Id": "taxa", "Expression": "IF(total > 0, 100 * erros / total, 0)", "ReturnData": True},
            ],
            EvaluationPeriods=1,
            Threshold=API_5XX_PERCENT,
            ComparisonOperator="GreaterThanThreshold",
        ),
        "MailBounceRateAlarm": _mail_rate_alarm(
            stack,
            stage,
            "ses-devolucoes",
            metric="Reputation.BounceRate",
            threshold=BOUNCE_RATE,
            what="devoluções",
        ),
        "MailComplaintRateAlarm": _mail_rate_alarm(
            stack,
            stage,
            "ses-reclamacoes",
            metric="Reputation.ComplaintRate",
            threshold=COMPLAINT_RATE,
            what="reclamações",
        ),
        DASHBOARD: {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": stack.name(stage, "painel"),
                "DashboardBody": dashboard_body(stack, stage, app),
            },
        },
    }
    resources.update(_function_alarms(stack, stage, app))
    resources.update(_stuck_alarms(stack, stage))
    return resources


def dashboard_body(stack: Stack, stage: str, app: ChaliceApp) -> Json:
    """The flows that matter: requests and errors, the functions, the queues' depths, e-mail, the
    trâmites (state changes and the stuck ones) and the notices sent to citizens."""
    api = ["AWS/ApiGateway", "{name}", "ApiName", API_NAME, "Stage", API_STAGE]
    queues = [stack.name(stage, q.suffix) for q in stack.queues]
    dead = [stack.dlq_name(stage, q) for q in stack.queues]
    dead += [stack.stream_dlq_name(stage, t) for t in stack.stream_consumers]

    def widget(title: str, metrics: list[list[str]], x: int, y: int, stat: str = "Sum") -> dict[str, object]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {"title": title, "region": "${AWS::Region}", "stat": stat, "period": 300,
                           "metrics": metrics},
        }  # fmt: skip

    functions = [f.logical_id for f in app.functions]
    requests = [[s.format(name=n) for s in api] for n in ("Count", "4XXError", "5XXError")]
    latency = [[s.format(name="Latency") for s in api]]
    errors = [["AWS/Lambda", "Errors", "FunctionName", f"${{{f}}}"] for f in functions]
    throttles = [["AWS/Lambda", "Throttles", "FunctionName", f"${{{f}}}"] for f in functions]
    depth = "ApproximateNumberOfMessagesVisible"
    waiting = [["AWS/SQS", depth, "QueueName", q] for q in queues]
    failed = [["AWS/SQS", depth, "QueueName", q] for q in dead]
    mail = [["AWS/SES", m] for m in ("Send", "Bounce", "Complaint")]
    notices = [_app_metric(NOTICES_SENT)]
    by_state = [_app_metric(TRAMITES_BY_STATE, **{STATE_DIMENSION: s.name}) for s in TramiteState]
    stuck = [_app_metric(STUCK_TRAMITES, **{STATE_DIMENSION: s.name}) for s in OPEN_STATES]
    widgets = [
        widget("API: requisições e erros", requests, 0, 0),
        widget("API: latência (p95)", latency, 12, 0, "p95"),
        widget("Funções: erros", errors, 0, 6),
        widget("Funções: throttles", throttles, 12, 6),
        widget("Filas: mensagens visíveis", waiting, 0, 12, "Maximum"),
        widget("Filas mortas: mensagens", failed, 12, 12, "Maximum"),
        widget("E-mail: enviados, devoluções, reclamações", mail, 0, 18),
        widget("Avisos de movimentação enviados aos cidadãos", notices, 12, 18),
        widget("Trâmites: entradas em cada estado", by_state, 0, 24),
        widget("Trâmites parados por estado (há mais de um dia)", stuck, 12, 24, "Maximum"),
    ]
    return sub(json.dumps({"widgets": widgets}, ensure_ascii=False))
