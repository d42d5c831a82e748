"""Monthly AWS cost at a national volume, from the AWS calls that bench/ measured (bench/results/*.json)
and a dated price table. Prints the tables docs/COST.md shows.

    .venv/bin/python -m bench.cost

Every number that is not read from bench/results or from the template's own constants (the WebACL's
rules, the access log's format, the logs' retention) is an assumption stated in VOLUME, DURATION_MS or
ITEMS below; change them here and rerun. Prices are USD; where the stored price pages gave no
sa-east-1 value the us-east-1 value is used and marked "us-east-1 (estimate)". The tables also go to
bench/results/cost.md (`make bench` runs this last, after the benches whose results it reads).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.services.stuck import PAGE as STUCK_PAGE
from infra.access_logs import ACCESS_LOG_FIELDS, LOG_RETENTION_DAYS
from infra.edge import MANAGED_RULE_GROUPS
from infra.template import FUNCTION_LOG_RETENTION_DAYS

RESULTS = Path(__file__).resolve().parent / "results"
MONTH_S = 30 * 24 * 3600
YEAR = 12

# --- Prices, read 2026-11-27 from stored copies of the pages named (docs/COST.md lists them) ---------


@dataclass(frozen=True)
class Price:
    value: float
    unit: str
    region: str
    source: str


WAF_REGION = "all regions (third-party quote)"
PRICES: dict[str, Price] = {
    "lambda_request": Price(0.20 / 1e6, "request", "us-east-1 (estimate)", "aws.amazon.com/lambda/pricing"),
    "lambda_gb_s": Price(
        0.0000166667, "GB-second, x86", "us-east-1 (estimate)", "aws.amazon.com/lambda/pricing"
    ),
    "apigw_request": Price(3.50 / 1e6, "REST request, first 333 M", "us-east-1 (estimate)", "AWS whitepaper"),
    "ddb_wru": Price(0.625 / 1e6, "write request unit", "us-east-1 (estimate)", "airbyte.com, 2025-07-21"),
    "ddb_rru": Price(0.125 / 1e6, "read request unit", "us-east-1 (estimate)", "airbyte.com, 2025-07-21"),
    "ddb_gb_month": Price(0.25, "GB-month", "us-east-1 (estimate)", "aws.amazon.com/pt/dynamodb/pricing"),
    "s3_gb_month": Price(0.023, "GB-month, Standard", "us-east-1 (estimate)", "third-party notes"),
    "s3_put": Price(0.005 / 1e3, "PUT/COPY/POST/LIST", "us-east-1 (estimate)", "third-party notes"),
    "s3_get": Price(0.0004 / 1e3, "GET/HEAD", "us-east-1 (estimate)", "third-party notes"),
    "sqs_request": Price(0.40 / 1e6, "standard request (64 KB)", "us-east-1 (estimate)", "third-party"),
    "ses_email": Price(0.10 / 1e3, "e-mail", "all regions", "SES pricing (third-party quotes)"),
    "kms_key_month": Price(1.00, "key-month", "all regions", "aws.amazon.com/kms/pricing"),
    "kms_asym_request": Price(
        0.15 / 1e4, "asymmetric (ECC) request", "us-east-1 (estimate)", "infracost output"
    ),
    "cf_gb_sa": Price(
        0.110,
        "GB out, South America, first 10 TB",
        "South America edges",
        "aws.amazon.com/cloudfront/pricing",
    ),
    "cf_https_sa": Price(
        0.0220 / 1e4, "HTTPS request, South America", "UNVERIFIED", "not found in the stored pages"
    ),
    "logs_ingest_gb": Price(
        0.50, "GB ingested, Standard class", "us-east-1 (estimate)", "c3x.dev, June 2026"
    ),
    "logs_gb_month": Price(0.03, "GB-month stored", "us-east-1 (estimate)", "c3x.dev, June 2026"),
    # WAF: AWS's networking blog says its pricing is the same in every region; the values are quoted
    # by third parties (no stored copy of aws.amazon.com/waf/pricing). AWS's own managed groups used
    # here (common, known bad inputs) carry no fee of their own.
    "waf_web_acl_month": Price(5.00, "WebACL-month", WAF_REGION, "c3x.dev; awsnegotiations.com, 2026"),
    "waf_rule_month": Price(1.00, "rule-month (a managed group: one)", WAF_REGION, "c3x.dev; aws.github.io"),
    "waf_request": Price(0.60 / 1e6, "request inspected", WAF_REGION, "c3x.dev; awsnegotiations.com, 2026"),
}
CF_FREE_GB, CF_FREE_REQUESTS = 1024, 10_000_000  # CloudFront's always-free tier, per month

# --- Assumptions: a national volume -------------------------------------------------------------------

VOLUME: dict[str, float] = {
    "agencies": 1_000,
    "processes_per_year": 5_000_000,
    "movements_per_year": 20_000_000,  # sends and conclusions in units: 4 per process
    "send_share": 0.5,  # half the movements are sends, half conclusions
    "documents_per_process": 3,
    "document_kib": 300,  # average PDF
    "reads_per_process": 10,  # reads of a process with its documents over its first year
    "history_reads_per_process": 1,
    "public_share": 0.7,  # processes whose movements the public base shows
    "tramites_per_year": 600_000,  # bus: about 12% of processes leave their agency
    "tramite_documents": 5,
    "hosted_share": 0.7,  # trâmites between two agencies hosted here; the rest reach outside systems
    "outside_systems": 200,  # agencies running their own system against the bus
    "pendencias_poll_s": 60,  # each polls pendências once a minute without espera (short poll)
    "lookup_rps_peak": 50,
    "lookup_rps_avg": 10,
    "lookup_edge_hit": 0.3,  # share of lookups CloudFront answers from its 60 s cache
    "first_visit_share": 0.3,  # the rest come back with the assets cached
    "followed_share": 0.1,  # processes with at least one follower
    "followers_per_followed": 2,
    "subscriptions_per_year": 1_000_000,  # each sends one confirmation e-mail
    # Functions' logs: the app's "request" line, Lambda's START/END/REPORT, EMF metric lines, warnings.
    "log_bytes_per_invocation": 1_500,
    "log_retention_months": FUNCTION_LOG_RETENTION_DAYS / 30,  # infra/template.py: 90 days
    # Access logs (infra/access_logs.py), kept LOG_RETENTION_DAYS (365).
    "s3_log_bytes_per_line": 700,  # S3 server access log; presigned URIs carry their long query string
    "cf_log_bytes_per_line": 500,  # CloudFront standard log: ~33 tab-separated fields, no cookies
    "cf_log_gzip_ratio": 0.2,  # CloudFront delivers its standard logs gzipped
    # The registry: agencies above, plus their units (services/stuck.py lists only the agencies on
    # every schedule run).
    "registry_units": 30_000,  # ~30 units an agency
    "structure_item_bytes": 350,  # an `estruturas` item as its indexes return it
    "schedule_runs_per_month": 4 * 24 * 30,  # cancel_stalled_tramites: Rate(15 minutes)
}
# The API's WebACL (infra/edge.py): the follow form's rate rule, AWS's managed groups (each billed as one
# rule) and the host rule that exists with a truststore (mutual TLS, as prod is meant to run).
WAF_RULES = 1 + len(MANAGED_RULE_GROUPS) + 1

DURATION_MS = {  # average billed duration at 512 MB (.chalice/config.json, stage prod)
    "api": 60,
    "authorizer": 15,
    "stream_batch": 150,
    "bus_worker": 400,
    "notices": 150,
    "mail": 150,
    "query": 8,  # one DynamoDB Query, in-region, as the schedule makes them one after another
}
MEMORY_GB = 512 / 1024

# DynamoDB items written per operation, with their sizes in bytes. Processes: measured on 2026-11-27
# with bench/counting.py's items hook around bench/processes.py's operations (bench/results/
# processes.json records the calls, not the items). Tracking: bench/results/tracking.json counts one
# item; its size is an estimate. Bus and idempotency: estimates (the bus bench counts calls only).
ITEMS: dict[str, list[int]] = {
    "create process": [26, 411, 342, 236],  # sequence, #M, H#, #U (transaction)
    "send to a unit": [411, 330, 249, 236],  # #M, H#, new #U, #U kept (transaction)
    "conclude in a unit": [33, 411, 335, 236],  # delete #U, #M, H#, #U (transaction)
    "start an upload": [319],  # ENVIO# (PutItem, TTL)
    "confirm an upload": [44, 411, 363, 236, 334],  # delete ENVIO#, #M, H#, #U, D# (transaction)
    "sign a document": [411, 376, 236, 984, 67],  # #M, H#, #U, D# with signature, CRC# (transaction)
    "projection": [1500],  # the public record (transaction), parts as compressed JSON
}
GSI_WRITES = {  # extra index writes: caixa (ALL) on #U items, copias (KEYS_ONLY) on a new #M
    "create process": 2,
    "send to a unit": 2,
    "conclude in a unit": 2,
    "confirm an upload": 1,
    "sign a document": 1,
    "projection": 2,  # por_orgao and por_tipo summaries
}
TRANSACTIONAL = {"create process", "send to a unit", "conclude in a unit", "confirm an upload",
                 "sign a document", "projection"}  # fmt: skip


def wru(op: str) -> float:
    units = sum(max(1, math.ceil(size / 1024)) for size in ITEMS[op])
    return units * (2 if op in TRANSACTIONAL else 1) + GSI_WRITES.get(op, 0)


def load(name: str) -> Any:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def interpolate(one: dict[str, int], ten: dict[str, int], documents: float) -> dict[str, float]:
    share = (documents - 1) / 9
    return {k: one.get(k, 0) + (ten.get(k, 0) - one.get(k, 0)) * share for k in {*one, *ten}}


@dataclass
class Op:
    name: str
    per_month: float
    calls: dict[str, float]  # AWS calls of one operation, from bench/results
    source: str
    wru: float = 0.0  # DynamoDB write units of one operation
    rru: float | None = None  # read units of one operation, when not the flat per-call estimate
    api: bool = True  # an API Gateway request (+ authorizer + handler invocations)
    authorizer: bool = True


def operations() -> list[Op]:  # noqa: PLR0915 - one table of assumptions, read top to bottom
    v = VOLUME
    processes = load("processes")["aws_calls_per_operation"]
    bus = load("bus")
    tracking = load("tracking")["by_base_size"][-1]  # the 100,001-record base
    month = 1 / YEAR
    proc_m = v["processes_per_year"] * month
    mov_m = v["movements_per_year"] * month
    docs_m = proc_m * v["documents_per_process"]
    p = "processes.json"

    def calls(name: str) -> dict[str, float]:
        return {k: float(n) for k, n in processes[name]["calls"].items()}

    ops = [
        Op("create process", proc_m, calls("create process"), p, wru("create process")),
        Op("send to a unit", mov_m * v["send_share"], calls("send to a unit"), p, wru("send to a unit")),
        Op(
            "conclude in a unit",
            mov_m * (1 - v["send_share"]),
            calls("conclude in a unit"),
            p,
            wru("conclude in a unit"),
        ),
        Op("start an upload", docs_m, calls("start an upload"), p, wru("start an upload")),
        Op("confirm an upload", docs_m, calls("confirm an upload"), p, wru("confirm an upload")),
        Op("sign a document", docs_m, calls("sign a document"), p, wru("sign a document")),
        Op(
            "read process with documents",
            proc_m * v["reads_per_process"],
            calls("read process with its documents"),
            p,
        ),
        Op(
            "history page + verification",
            proc_m * v["history_reads_per_process"],
            calls("history page + verification"),
            p,
        ),
    ]
    # Every H# item leaves through the stream: event log (1 conditional put) + projection of the copy.
    events_m = proc_m + mov_m + 2 * docs_m  # create, movements, confirm, sign
    projection = {k: float(n) for k, n in tracking["projection"]["aws_calls"].items()}
    projection["DynamoDB.PutItem"] = 1.0  # the event log's put (services/events)
    public = v["public_share"]
    projection["SQS.SendMessage"] = public  # a digest message per fresh public movement
    ops.append(Op("stream: event + projection", events_m, projection, "tracking.json",
                  1 + wru("projection"), api=False))  # fmt: skip

    # The bus, interpolated to the assumed documents per trâmite.
    d = v["tramite_documents"]
    hosted_m = v["tramites_per_year"] * month * v["hosted_share"]
    outside_m = v["tramites_per_year"] * month * (1 - v["hosted_share"])
    one, ten = bus["hosted_to_hosted"]
    hosted: dict[str, float] = {}
    for step in one["operations"]:
        part = interpolate(one["operations"][step]["calls"], ten["operations"][step]["calls"], d)
        for k, n in part.items():
            hosted[k] = hosted.get(k, 0) + n
    ops.append(Op("bus: hosted to hosted trâmite", hosted_m, hosted, "bus.json hosted_to_hosted",
                  wru=22 + 3 * d, api=True))  # fmt: skip
    one, ten = bus["runs"]
    outside: dict[str, float] = {}
    requests = 0.0
    for step in one["operations"]:
        part = interpolate(one["operations"][step]["calls"], ten["operations"][step]["calls"], d)
        for k, n in part.items():
            outside[k] = outside.get(k, 0) + n
        requests += 1
    per_component = ten["operations"]["download a component"]["calls"]
    for k, n in per_component.items():
        outside[k] = outside.get(k, 0) + n * (d - 1)
    requests += d - 1
    ops.append(Op(f"bus: trâmite with an outside system ({requests:.0f} requests)", outside_m, outside,
                  "bus.json runs", wru=14 + d))  # fmt: skip
    ops[-1].per_month *= requests  # priced per request: calls spread over the requests
    ops[-1].calls = {k: n / requests for k, n in outside.items()}
    ops[-1].wru /= requests
    polls = v["outside_systems"] * MONTH_S / v["pendencias_poll_s"]
    ten_pend = ten["operations"]["pendências (receiver)"]["calls"]
    ops.append(Op("bus: pendências poll", polls, {k: float(n) for k, n in ten_pend.items()}, "bus.json"))

    # Public lookups through CloudFront; the edge answers some from its 60 s cache.
    lookups = v["lookup_rps_avg"] * MONTH_S
    lookup_calls = {k: float(n) for k, n in tracking["lookup"]["aws_calls"].items()}
    ops.append(Op("public lookup (edge miss)", lookups * (1 - v["lookup_edge_hit"]), lookup_calls,
                  "tracking.json", authorizer=False))  # fmt: skip
    # Notices: a page per digest message (GetItem record, Query followers), an e-mail per follower.
    followed_moves = v["movements_per_year"] * month * public * v["followed_share"]
    emails = followed_moves * v["followers_per_followed"]
    notice = {"DynamoDB.GetItem": 1.0, "DynamoDB.Query": 1.0}
    ops.append(Op("notices: digest page", events_m * public, notice, "estimate", api=False))
    per_mail = {"SES.SendEmail": 1.0, "DynamoDB.GetItem": 1.0}  # suppression check
    ops.append(Op("notices: e-mail", emails, per_mail, "estimate", wru=3, api=False))  # idempotency
    subs = v["subscriptions_per_year"] * month
    sub_calls = {"DynamoDB.PutItem": 1.0, "SQS.SendMessage": 1.0, "SES.SendEmail": 1.0}
    ops.append(Op("follow + confirmation e-mail", subs, sub_calls, "estimate", wru=2, authorizer=False))
    run = schedule_run()
    ops.append(Op("schedule: cancel + stuck count (a run)", v["schedule_runs_per_month"],
                  {"DynamoDB.Query": run["queries"]}, "services/stuck.py, counted", rru=run["rru"],
                  api=False))  # fmt: skip
    return ops


def schedule_run() -> dict[str, float]:
    """One run of cancel_stalled_tramites: the cancel's Query of the auto-cancel index (nothing due, as
    a rule), the stuck count's Query of the same index, the agencies listed through the registry's
    agencies-only index (their units are not read), one pendências Query per agency.

    Each page of the listing is one Query of PAGE + 1 items (the one past the page says whether there
    is a next). Counted on DynamoDB Local (tests/contract/test_stuck_calls.py)."""
    v = VOLUME
    structures = v["agencies"]
    pages = math.ceil(structures / STUCK_PAGE)
    listing_queries = pages
    listing_rru = listing_queries * 0.5 * math.ceil((STUCK_PAGE + 1) * v["structure_item_bytes"] / 4096)
    queries = 2 + listing_queries + v["agencies"]
    rru = 2 * 0.5 + listing_rru + v["agencies"] * 0.5  # an index Query is eventually consistent; 4 KB
    return {"queries": queries, "rru": rru, "listing_queries": listing_queries, "structures": structures,
            "seconds": queries * DURATION_MS["query"] / 1000}  # fmt: skip


def monthly(ops: list[Op]) -> dict[str, float]:
    v = VOLUME
    n: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        n[key] = n.get(key, 0.0) + value

    for op in ops:
        for call, count in op.calls.items():
            add(call, count * op.per_month)
        add("ddb_wru", op.wru * op.per_month)
        if op.rru is not None:  # read units counted apart: keep its calls out of the flat estimate
            add("rru_apart", op.rru * op.per_month)
            add("get_apart", op.calls.get("DynamoDB.GetItem", 0) * op.per_month)
            add("query_apart", op.calls.get("DynamoDB.Query", 0) * op.per_month)
        if op.api:
            add("apigw", op.per_month)
            add("lambda_api", op.per_month)
            if op.authorizer:
                add("lambda_authorizer", op.per_month)
                add("DynamoDB.GetItem", op.per_month)  # the authorizer's consistent GetItem
        else:
            add("lambda_async", op.per_month)
    posts = sum(o.per_month for o in ops if o.api and o.wru > 0)
    add("ddb_wru", posts * 3)  # Powertools idempotency: in-progress put + completion with the answer
    add("DynamoDB.PutItem", posts)
    add("DynamoDB.UpdateItem", posts)
    gets = n.get("DynamoDB.GetItem", 0) - n.get("get_apart", 0)
    queries = n.get("DynamoDB.Query", 0) - n.get("query_apart", 0)
    n["ddb_rru"] = gets + 2 * queries + n.get("rru_apart", 0)  # a Query: ~2 units
    # Site: visits = lookups; the first visit fetches 8 files, a repeat 3 (bench/results/site.json).
    site = load("site")
    visits = v["lookup_rps_avg"] * MONTH_S
    first, repeat = v["first_visit_share"], 1 - v["first_visit_share"]
    n["cf_requests"] = visits * (first * site["first_visit"]["from_network"]
                                 + repeat * site["repeat_visit"]["from_network"])  # fmt: skip
    n["cf_gb"] = visits * (first * site["first_visit"]["bytes_on_wire"]
                           + repeat * site["repeat_visit"]["bytes_on_wire"]) / 1e9  # fmt: skip
    n["visits"] = visits
    return n


def lambda_gb_s(ops: list[Op], n: dict[str, float]) -> dict[str, float]:
    v = VOLUME
    stream_batches = sum(o.per_month for o in ops if o.name.startswith("stream")) / 5  # ~5 records a batch
    notices = sum(o.per_month for o in ops if o.name.startswith("notices: digest"))
    invocations = {
        "API handler": (n["lambda_api"], DURATION_MS["api"]),
        "authorizer": (n["lambda_authorizer"], DURATION_MS["authorizer"]),
        "stream consumers": (stream_batches, DURATION_MS["stream_batch"]),
        "bus worker": (v["tramites_per_year"] / YEAR * v["hosted_share"] * 2, DURATION_MS["bus_worker"]),
        "notices worker": (notices / 5, DURATION_MS["notices"]),
        "stalled-trâmite schedule": (v["schedule_runs_per_month"], schedule_run()["seconds"] * 1000),
    }
    counts = {k: c for k, (c, _) in invocations.items()}
    return counts | {f"{k} GB-s": c * ms / 1000 * MEMORY_GB for k, (c, ms) in invocations.items()}


def table(rows: list[list[str]], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def fmt(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:,.1f} M"
    if x >= 1e3:
        return f"{x / 1e3:,.0f} k"
    return f"{x:,.1f}"


def usd(x: float) -> str:
    return f"${x:,.0f}" if x >= 10 else f"${x:,.2f}"


def storage() -> dict[str, float]:
    v = VOLUME
    p = v["processes_per_year"]
    entries = 1 + v["movements_per_year"] / p + 2 * v["documents_per_process"]  # history entries
    overhead = 100  # DynamoDB's per-item overhead in storage
    per_process = (
        411 + 2 * 240 + 2 * 240  # #M, open units and their caixa index copies
        + entries * (345 + overhead)
        + v["documents_per_process"] * (984 + 67 + 2 * overhead)  # D# and CRC#
    )  # fmt: skip
    processos_gb = p * per_process / 1e9
    eventos_gb = p * entries * (400 + overhead) / 1e9
    publico_gb = p * v["public_share"] * (1500 + 2 * 300) / 1e9  # record + two index summaries
    tramites_gb = v["tramites_per_year"] * 4 * 1500 / 1e9  # item + index copies
    s3_gb = p * v["documents_per_process"] * v["document_kib"] * 1024 / 1e9
    return {
        "DynamoDB GB per year": processos_gb + eventos_gb + publico_gb + tramites_gb,
        "S3 GB per year": s3_gb,
    }


# A typical value of each field of the API's access log (infra/access_logs.py, ACCESS_LOG_FIELDS): a
# lookup from a browser through CloudFront. Its JSON is the line's size; a field missing here fails.
ACCESS_LOG_SAMPLE = {
    "requestId": "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    "requestTime": "1795780800123",
    "ip": "130.176.212.15",
    # The viewer's: the distribution forwards every header but Host (AllViewerExceptHostHeader).
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "domainName": "abcdef1234.execute-api.sa-east-1.amazonaws.com",
    "httpMethod": "GET",
    "resourcePath": "/publico/processos/{nup}",
    "protocol": "HTTP/1.1",
    "status": "200",
    "responseLength": "1834",
    "responseLatency": "74",
    "integrationLatency": "61",
    "errorType": "-",
    "wafStatus": "200",
    "authorizerStatus": "-",
}


def access_log_line_bytes() -> int:
    line = {k: ACCESS_LOG_SAMPLE[k] for k in ACCESS_LOG_FIELDS}
    return len(json.dumps(line, separators=(",", ":")).encode()) + 1


def costs(ops: list[Op]) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    n = monthly(ops)
    lam = lambda_gb_s(ops, n)
    price = {k: p.value for k, p in PRICES.items()}
    invocations = sum(c for k, c in lam.items() if not k.endswith("GB-s"))
    gb_s = sum(c for k, c in lam.items() if k.endswith("GB-s"))
    st = storage()
    ddb_gb_avg = st["DynamoDB GB per year"] / 2  # first year: the average of a linear growth
    s3_gb_avg = st["S3 GB per year"] / 2
    logs_gb = invocations * VOLUME["log_bytes_per_invocation"] / 1e9
    kept = LOG_RETENTION_DAYS / 30  # months an access log stays: steady state, reached after a year
    api_log_gb = n["apigw"] * access_log_line_bytes() / 1e9
    s3_log_gb = (n.get("S3.PutObject", 0) + n.get("S3.GetObject", 0) + n.get("S3.HeadObject", 0)
                 + VOLUME["processes_per_year"] / YEAR * VOLUME["documents_per_process"]  # presigned PUTs
                 ) * VOLUME["s3_log_bytes_per_line"] / 1e9  # fmt: skip
    cf_log_gb = n["cf_requests"] * VOLUME["cf_log_bytes_per_line"] * VOLUME["cf_log_gzip_ratio"] / 1e9
    log_bucket_gb = (s3_log_gb + cf_log_gb) * kept
    kms_requests = n.get("KMS.Sign", 0)
    presigned = VOLUME["processes_per_year"] / YEAR * VOLUME["documents_per_process"]  # the clients' PUTs
    s3_puts = n.get("S3.PutObject", 0) + presigned
    s3_gets = n.get("S3.GetObject", 0) + n.get("S3.HeadObject", 0)
    cf_gb = max(0.0, n["cf_gb"] - CF_FREE_GB)
    cf_req = max(0.0, n["cf_requests"] - CF_FREE_REQUESTS)
    emails = n.get("SES.SendEmail", 0)
    sqs = n.get("SQS.SendMessage", 0) * 3  # send, receive, delete (Lambda's empty polls not counted)
    c = {
        "API Gateway (REST)": n["apigw"] * price["apigw_request"],
        "Lambda requests": invocations * price["lambda_request"],
        "Lambda compute (512 MB)": gb_s * price["lambda_gb_s"],
        "DynamoDB writes": n["ddb_wru"] * price["ddb_wru"],
        "DynamoDB reads": n["ddb_rru"] * price["ddb_rru"],
        "DynamoDB storage (year-1 average)": ddb_gb_avg * price["ddb_gb_month"],
        "S3 storage (year-1 average)": s3_gb_avg * price["s3_gb_month"],
        "S3 requests": s3_puts * price["s3_put"] + s3_gets * price["s3_get"],
        "SQS": sqs * price["sqs_request"],
        "SES": emails * price["ses_email"],
        "KMS (1 key + Sign)": price["kms_key_month"] + kms_requests * price["kms_asym_request"],
        "CloudFront (site + lookups)": cf_gb * price["cf_gb_sa"] + cf_req * price["cf_https_sa"],
        "CloudWatch Logs (functions, 90 days)": logs_gb * price["logs_ingest_gb"]
        + logs_gb * VOLUME["log_retention_months"] * price["logs_gb_month"],
        "CloudWatch Logs (API access log, 365 days)": api_log_gb * price["logs_ingest_gb"]
        + api_log_gb * kept * price["logs_gb_month"],
        "S3 log bucket (server access + CloudFront logs, 365 days)": log_bucket_gb * price["s3_gb_month"],
        f"WAF (API WebACL, {WAF_RULES} rules)": price["waf_web_acl_month"]
        + WAF_RULES * price["waf_rule_month"]
        + n["apigw"] * price["waf_request"],
    }
    quantities = {
        "API Gateway requests": n["apigw"],
        "Lambda invocations": invocations,
        "Lambda GB-seconds": gb_s,
        "DynamoDB WRU": n["ddb_wru"],
        "DynamoDB RRU": n["ddb_rru"],
        "DynamoDB GB stored (year-1 average)": ddb_gb_avg,
        "S3 GB stored (year-1 average)": s3_gb_avg,
        "S3 PUT (incl. the clients' presigned uploads)": s3_puts,
        "S3 GET + HEAD": s3_gets,
        "SQS requests": sqs,
        "SES e-mails": emails,
        "KMS Sign": kms_requests,
        "CloudFront requests": n["cf_requests"],
        "CloudFront GB out": n["cf_gb"],
        "CloudWatch Logs GB ingested (functions)": logs_gb,
        f"API access log GB ingested ({access_log_line_bytes()} bytes a line)": api_log_gb,
        "API access log GB stored (steady state)": api_log_gb * kept,
        "S3 server access logs GB written": s3_log_gb,
        "CloudFront standard logs GB written (gzipped)": cf_log_gb,
        "log bucket GB stored (steady state)": log_bucket_gb,
        "WAF requests inspected": n["apigw"],
    }
    return c, quantities, lam


def main() -> None:
    lines: list[str] = []
    report(lines.append)
    text = "\n".join(lines)
    print(text)
    head = "# Monthly AWS cost: the tables docs/COST.md shows (`python -m bench.cost`)\n\n"
    (RESULTS / "cost.md").write_text(head + text + "\n", encoding="utf-8")


def report(emit: Callable[[str], None]) -> None:
    ops = operations()
    emit("## Monthly operations and their AWS calls\n")
    rows = []
    for op in ops:
        which = ", ".join(f"{k.split('.')[-1]} ×{n:g}" for k, n in sorted(op.calls.items()) if n)
        rows.append([op.name, fmt(op.per_month), which, f"{op.wru:g}", op.source])
    emit(table(rows, ["operation", "per month", "AWS calls each", "WRU each", "from"]))
    c, q, lam = costs(ops)
    emit("\n## Monthly quantities\n")
    emit(table([[k, fmt(x)] for k, x in q.items()], ["quantity", "per month"]))
    emit("\n## Lambda\n")
    rows = [[k, fmt(x), fmt(lam[f"{k} GB-s"]), f"{DURATION_MS_NAME.get(k, '')}"] for k, x in lam.items()
            if not k.endswith("GB-s")]  # fmt: skip
    emit(table(rows, ["function", "invocations", "GB-s", "ms assumed"]))
    run = schedule_run()
    emit("\n## The stalled-trâmite schedule (a run every 15 minutes)\n")
    rows = [[f"{VOLUME['agencies']:,.0f}", f"{run['structures']:,.0f}", f"{run['listing_queries']:,.0f}",
             f"{run['queries']:,.0f}", f"{run['rru']:,.0f}", f"{run['seconds']:.0f} s"]]  # fmt: skip
    emit(table(rows, ["agencies", "structures listed", "listing Queries", "Queries a run", "RRU a run",
                      f"run time at {DURATION_MS['query']} ms a Query"]))  # fmt: skip
    emit("\n## Monthly cost (USD)\n")
    total = sum(c.values())
    rows = [[k, usd(x), f"{100 * x / total:.0f}%"] for k, x in sorted(c.items(), key=lambda kv: -kv[1])]
    rows.append(["**total**", f"**{usd(total)}**", "100%"])
    emit(table(rows, ["service", "per month", "share"]))
    st = storage()
    emit("\n## Storage growth\n")
    rows = [[k, f"{x:,.0f}", f"{5 * x:,.0f}"] for k, x in st.items()]
    emit(table(rows, ["store", "added per year (GB)", "after 5 years (GB)"]))
    emit("\n## What if outside systems long-poll pendências (espera=20, one poll always open)\n")
    systems, wait = VOLUME["outside_systems"], 20
    gb_s = systems * MONTH_S * MEMORY_GB
    queries = systems * MONTH_S  # the long-poll queries once a second (services/bus.py POLL_EVERY)
    requests = systems * MONTH_S / wait
    extra = gb_s * PRICES["lambda_gb_s"].value + 2 * queries * PRICES["ddb_rru"].value
    extra += requests * (PRICES["apigw_request"].value + 2 * PRICES["lambda_request"].value
                         + PRICES["waf_request"].value)  # fmt: skip
    rows = [[f"{systems:.0f}", f"{systems:.0f}", fmt(gb_s), fmt(queries), usd(extra)]]
    emit(table(rows, ["systems", "Lambda concurrency held", "GB-s", "Queries", "extra per month"]))
    emit("\n## Prices used\n")
    rows = [[k, f"{p.value:.10g}", p.unit, p.region, p.source] for k, p in PRICES.items()]
    emit(table(rows, ["price", "USD", "per", "region", "source"]))


DURATION_MS_NAME = {
    "API handler": DURATION_MS["api"],
    "authorizer": DURATION_MS["authorizer"],
    "stream consumers": DURATION_MS["stream_batch"],
    "bus worker": DURATION_MS["bus_worker"],
    "notices worker": DURATION_MS["notices"],
    "stalled-trâmite schedule": round(schedule_run()["seconds"] * 1000),
}

if __name__ == "__main__":
    main()
