"""The stack's resources, described once.

Both the cloud template (infra/template.py) and the local stack (infra/local/) are generated from
these definitions, so the two can never drift. Table key schemas come from the PynamoDB models
(chalicelib/store/models.py); everything else about a resource is stated here. Each resource names
the environment variable (chalicelib/config.py) through which the functions find it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib import config
from chalicelib.store.models import TABLE_MODELS
from infra.site import content_security_policy

DAY = 24 * 3600
STREAM_VIEWS = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
MAX_STREAM_BATCH = 10_000  # Lambda's limits for a DynamoDB event source mapping
MAX_STREAM_RETRIES = 10_000


@dataclass(frozen=True)
class Table:
    logical_id: str
    suffix: str  # physical name: pen-<stage>-<suffix>
    env: str
    model_field: str | None = None  # Settings field whose PynamoDB model defines the keys
    # For tables without a PynamoDB model (Powertools idempotency): a single string hash key.
    hash_key: str | None = None
    ttl_attribute: str | None = None
    stream: bool = False
    stream_view: str = "NEW_AND_OLD_IMAGES"
    # The Chalice `@app.on_dynamodb_record` function (Lambda) that consumes the stream. The decorator's
    # stream_arn is nominal: the template points the trigger at this table's StreamArn, and the local
    # worker polls this table's stream (docs/ARCHITECTURE.md, "An event").
    stream_handler: str | None = None
    # The consumer's event source mapping (Lambda's names in the comments). These win over the
    # decorator's batch_size and starting_position.
    stream_batch_size: int = 10  # BatchSize
    # StartingPosition: TRIM_HORIZON, so what was written before the consumer existed (a first deploy,
    # a handler added later) is still delivered; LATEST would skip it.
    stream_starting_position: str = "TRIM_HORIZON"
    # MaximumRetryAttempts: a record that keeps failing goes to the on-failure queue after this many
    # retries instead of blocking its shard until the stream trims it (24 h). -1: retry until then.
    stream_max_retries: int = 10
    # BisectBatchOnFunctionError: a batch whose invocation fails is split in two and retried (the
    # splits do not count as retries), isolating the record that fails from the ones that do not.
    stream_bisect_on_error: bool = True
    stream_dlq_retention_seconds: int = 14 * DAY  # SQS's maximum: time to look at what failed

    def __post_init__(self) -> None:
        if self.stream_view not in STREAM_VIEWS:
            raise ValueError(f"table {self.logical_id}: stream_view must be one of {', '.join(STREAM_VIEWS)}")
        if self.stream_handler is None:
            return
        if not self.stream:
            raise ValueError(f"table {self.logical_id}: stream_handler is set, so stream must be True")
        if self.stream_starting_position not in STARTING_POSITIONS:
            allowed = ", ".join(STARTING_POSITIONS)
            raise ValueError(f"table {self.logical_id}: stream_starting_position must be one of {allowed}")
        if not 1 <= self.stream_batch_size <= MAX_STREAM_BATCH:
            raise ValueError(f"table {self.logical_id}: stream_batch_size must be 1..{MAX_STREAM_BATCH}")
        if not -1 <= self.stream_max_retries <= MAX_STREAM_RETRIES:
            raise ValueError(f"table {self.logical_id}: stream_max_retries must be -1..{MAX_STREAM_RETRIES}")


@dataclass(frozen=True)
class Queue:
    logical_id: str
    suffix: str
    env: str
    handler: str  # the Chalice SQS handler (Lambda function) that consumes it
    visibility_timeout: int = 60  # at least 6x the consumer's timeout is the AWS advice; ours is short
    max_receive_count: int = 5
    batch_size: int = 10
    # SQS's default, stated: shorter than the dead-letter queue's, so a message that lands there late
    # in its life still gets the whole DLQ retention (SQS keeps the original enqueue time).
    retention_seconds: int = 4 * DAY
    dlq_retention_seconds: int = 14 * DAY  # SQS's maximum: time to look at what failed


@dataclass(frozen=True)
class SigningKey:
    """A KMS signing key of the stack. The template also takes, per key, two optional parameters
    (docs/OPERATIONS.md, "Rotating the signing key"): `<logical_id>Arn`, another key to sign with
    (empty: this one), and `<logical_id>RetiredArns`, the keys signed with before, comma-separated,
    which the functions may only read the public half of (they publish them, `retired_env`)."""

    logical_id: str
    env: str  # the ARN of the key to sign with
    description: str
    retired_env: str  # the retired keys' ARNs, comma-separated (may be empty)
    key_spec: str = "ECC_NIST_P256"  # ECDSA P-256 with SHA-256: verifiable with plain openssl

    @property
    def arn_parameter(self) -> str:
        return f"{self.logical_id}Arn"

    @property
    def retired_parameter(self) -> str:
        return f"{self.logical_id}RetiredArns"

    @property
    def has_arn_condition(self) -> str:
        return f"Has{self.logical_id}Arn"

    @property
    def has_retired_condition(self) -> str:
        return f"Has{self.logical_id}RetiredArns"


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    suffix: str
    env: str


@dataclass(frozen=True)
class Access:
    """What one function of the app reaches through the code it runs, by logical id. Its own trigger
    (the queue or table stream it consumes, the on-failure queue) is granted from the Queue or Table
    that names it, not here. infra/iam.py turns this into the function's role; the e2e and
    integration tests check every AWS call each function made against that role
    (tests/least_privilege.py), so a missing grant fails the build before it fails a deploy."""

    reads: tuple[str, ...] = ()  # tables: GetItem and Query, on the table and its indexes
    writes: tuple[str, ...] = ()  # tables: the reads, plus Put, Update, Delete and ConditionCheck

    sends: tuple[str, ...] = ()  # queues: SendMessage
    reads_objects: tuple[str, ...] = ()  # buckets: GetObject
    writes_objects: tuple[str, ...] = ()  # buckets: GetObject, PutObject, DeleteObject, multipart uploads
    signs: tuple[str, ...] = ()  # signing keys: Sign, GetPublicKey
    mails: bool = False  # SES SendEmail, from the configured sender only


@dataclass(frozen=True)
class MailSetup:
    configuration_set_suffix: str = "correio"
    env_configuration_set: str = config.ENV_MAIL_CONFIGURATION_SET
    env_sender: str = config.ENV_MAIL_SENDER
    events_queue: str = "CorreioEventosQueue"  # logical id of the queue SES's bounces and complaints reach


# The citizens' site: an S3 bucket behind CloudFront, which also forwards /publico/* to the API (one
# origin: no CORS, and CloudFront caches the public lookups for their max-age). These headers are set
# by the distribution's response headers policy on every file of the site; the local stack's site
# server (infra/local/site.py) sends the same ones.
SITE_SECURITY_HEADERS = {
    # The policy the pages also carry in their <meta> (infra/site.py), plus what only a header can say.
    "Content-Security-Policy": f"{content_security_policy()}; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The landing pages carry single-use tokens in their query: never in a Referer.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
SITE_API_PATH = "/publico/*"  # the distribution's behaviour towards API Gateway


@dataclass(frozen=True)
class Stack:
    tables: tuple[Table, ...]
    queues: tuple[Queue, ...]
    buckets: tuple[Bucket, ...] = ()
    keys: tuple[SigningKey, ...] = ()
    mail: MailSetup = field(default_factory=MailSetup)
    # Chalice function name -> what its code reaches; a function not named here gets only its trigger.
    access: dict[str, Access] = field(default_factory=dict)

    def name(self, stage: str, suffix: str) -> str:
        return f"pen-{stage}-{suffix}"

    def __post_init__(self) -> None:
        handlers = [t.stream_handler for t in self.tables if t.stream_handler is not None]
        repeated = sorted({h for h in handlers if handlers.count(h) > 1})
        if repeated:
            raise ValueError(f"a function consumes one stream, but several tables name {', '.join(repeated)}")

    def dlq_name(self, stage: str, queue: Queue) -> str:
        return self.name(stage, queue.suffix) + "-dlq"

    @property
    def stream_consumers(self) -> tuple[Table, ...]:
        """The tables whose stream a function of the app consumes (`Table.stream_handler`)."""
        return tuple(t for t in self.tables if t.stream_handler is not None)

    def stream_dlq_name(self, stage: str, table: Table) -> str:
        """The on-failure destination of a stream consumer: records that exhausted their retries."""
        return self.name(stage, table.suffix) + "-stream-dlq"

    def key_alias(self, stage: str, key: SigningKey) -> str:
        return f"alias/{self.name(stage, key.logical_id.lower())}"

    def environment(self, stage: str) -> dict[str, str]:
        """Environment variables naming each resource, for a stage with deterministic names."""
        env = {config.ENV_STAGE: stage}
        for table in self.tables:
            env[table.env] = self.name(stage, table.suffix)
        for queue in self.queues:
            env[queue.env] = self.name(stage, queue.suffix)  # the local stack replaces it with the URL
        for bucket in self.buckets:
            env[bucket.env] = self.name(stage, bucket.suffix)
        env[self.mail.env_configuration_set] = self.name(stage, self.mail.configuration_set_suffix)
        return env


STACK = Stack(
    tables=(
        Table("EstruturasTable", "estruturas", config.ENV_TABLE_ESTRUTURAS, model_field="table_estruturas"),
        Table("ClientesTable", "clientes", config.ENV_TABLE_CLIENTES, model_field="table_clientes"),
        Table(
            "ProcessosTable",
            "processos",
            config.ENV_TABLE_PROCESSOS,
            model_field="table_processos",
            stream=True,
            stream_handler="record_process_events",
            ttl_attribute="expiracao",  # pending uploads that were never confirmed
        ),
        Table("EventosTable", "eventos", config.ENV_TABLE_EVENTOS, model_field="table_eventos"),
        Table(
            "TramitesTable",
            "tramites",
            config.ENV_TABLE_TRAMITES,
            model_field="table_tramites",
            stream=True,
            stream_handler="forward_tramite_changes",  # to the bus work queue (hosted agencies)
        ),
        Table(
            "PublicoTable",
            "publico",
            config.ENV_TABLE_PUBLICO,
            model_field="table_publico",
        ),
        Table(
            "AcompanhamentosTable",
            "acompanhamentos",
            config.ENV_TABLE_ACOMPANHAMENTOS,
            model_field="table_acompanhamentos",
            ttl_attribute="expira",  # cancelled subscriptions, some days after they ended
        ),
        Table(
            "IdempotenciaTable",
            "idempotencia",
            config.ENV_TABLE_IDEMPOTENCIA,
            hash_key="id",
            ttl_attribute="expiration",
        ),
    ),
    queues=(
        Queue("CorreioQueue", "correio", config.ENV_QUEUE_CORREIO, handler="send_mail"),
        Queue("BarramentoQueue", "barramento", config.ENV_QUEUE_BARRAMENTO, handler="run_bus_work"),
        # Public tracking's notices: one message per page of followers of a NUP's digest.
        Queue("AvisosQueue", "avisos", config.ENV_QUEUE_AVISOS, handler="run_notices"),
        # SES bounces and complaints, through the configuration set's SNS topic.
        Queue(
            "CorreioEventosQueue",
            "correio-eventos",
            config.ENV_QUEUE_CORREIO_EVENTOS,
            handler="record_mail_events",
        ),
    ),
    buckets=(Bucket("DocumentosBucket", "documentos", config.ENV_BUCKET_DOCUMENTOS),),
    keys=(
        SigningKey(
            "AssinaturaKey",
            config.ENV_SIGNING_KEY,
            "PEN: carimbos de autenticidade de documentos e recibos do barramento",
            config.ENV_SIGNING_KEYS_RETIRED,
        ),
    ),
    access={
        # Every route: processes, documents, the bus's sending side, the registry and credentials
        # (agency admins), public lookups, following. Not the event log (only its recorder writes it).
        "api_handler": Access(
            writes=(
                "EstruturasTable",
                "ClientesTable",
                "ProcessosTable",
                "TramitesTable",
                "PublicoTable",  # outside systems' records (Protocolo Integrado)
                "AcompanhamentosTable",
                "IdempotenciaTable",
            ),
            sends=("CorreioQueue", "AvisosQueue"),
            writes_objects=("DocumentosBucket",),  # presigned uploads are signed with this role
            signs=("AssinaturaKey",),  # stamps, receipts, the published key
        ),
        # Looks the bearer token's client up, nothing else.
        "agency_auth": Access(reads=("ClientesTable",)),
        "send_mail": Access(mails=True),
        # Bounces and complaints: the suppression list lives with the subscriptions.
        "record_mail_events": Access(writes=("AcompanhamentosTable",)),
        # A page of a NUP's followers: each gets the window's digest once; the next page is queued.
        "run_notices": Access(
            reads=("PublicoTable", "AcompanhamentosTable"),
            writes=("IdempotenciaTable",),
            sends=("AvisosQueue",),
            mails=True,
        ),
        # The event log, the public projection and its notices, from the processes' stream.
        "record_process_events": Access(
            reads=("EstruturasTable", "ClientesTable", "ProcessosTable"),
            writes=("EventosTable", "PublicoTable"),
            sends=("AvisosQueue",),
        ),
        "forward_tramite_changes": Access(sends=("BarramentoQueue",)),
        # Hosted agencies' side of the bus: imports (reading the sender's content), receipts.
        "run_bus_work": Access(
            reads=("ClientesTable", "EstruturasTable"),
            writes=("ProcessosTable", "TramitesTable"),
            reads_objects=("DocumentosBucket",),
            signs=("AssinaturaKey",),
        ),
        # Cancels what is past its deadline; counts what is stuck per state, agency by agency
        # (the registry's agencies, then each one's pendências: no Scan).
        "cancel_stalled_tramites": Access(reads=("EstruturasTable",), writes=("TramitesTable",)),
    },
)


def key_schema(table: Table) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, object]]]:
    """(AttributeDefinitions, KeySchema, GlobalSecondaryIndexes) in DynamoDB's API/CloudFormation shape."""
    if table.model_field is None:
        assert table.hash_key is not None  # noqa: S101
        return (
            [{"AttributeName": table.hash_key, "AttributeType": "S"}],
            [{"AttributeName": table.hash_key, "KeyType": "HASH"}],
            [],
        )
    schema = TABLE_MODELS[table.model_field]._get_schema()
    hash_first = {"HASH": 0, "RANGE": 1}

    def keys(items: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
        return sorted(
            ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in items),
            key=lambda k: hash_first[k["KeyType"]],
        )

    def projection(gsi: Mapping[str, Any]) -> dict[str, object]:
        given = gsi["projection"]
        shaped: dict[str, object] = {"ProjectionType": given["ProjectionType"]}
        if given.get("NonKeyAttributes"):
            shaped["NonKeyAttributes"] = sorted(given["NonKeyAttributes"])
        return shaped

    indexes: list[dict[str, object]] = [
        {"IndexName": gsi["index_name"], "KeySchema": keys(gsi["key_schema"]), "Projection": projection(gsi)}
        for gsi in sorted(schema.get("global_secondary_indexes", []), key=lambda g: g["index_name"])
    ]
    attributes = sorted(
        (
            {"AttributeName": a["AttributeName"], "AttributeType": a["AttributeType"]}
            for a in schema["attribute_definitions"]
        ),
        key=lambda a: a["AttributeName"],
    )
    return attributes, keys(schema["key_schema"]), indexes
