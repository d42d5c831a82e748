"""The stack's resources, described once.

Both the cloud template (infra/template.py) and the local stack (infra/local/) are generated from
these definitions, so the two can never drift. Table key schemas come from the PynamoDB models
(chalicelib/store/models.py); everything else about a resource is stated here. Each resource names
the environment variable (chalicelib/config.py) through which the functions find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib import config
from chalicelib.store.models import TABLE_MODELS

DAY = 24 * 3600


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
    logical_id: str
    env: str
    description: str
    key_spec: str = "ECC_NIST_P256"  # ECDSA P-256 with SHA-256: verifiable with plain openssl


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    suffix: str
    env: str


@dataclass(frozen=True)
class MailSetup:
    configuration_set_suffix: str = "correio"
    env_configuration_set: str = config.ENV_MAIL_CONFIGURATION_SET
    env_sender: str = config.ENV_MAIL_SENDER


@dataclass(frozen=True)
class Stack:
    tables: tuple[Table, ...]
    queues: tuple[Queue, ...]
    buckets: tuple[Bucket, ...] = ()
    keys: tuple[SigningKey, ...] = ()
    mail: MailSetup = field(default_factory=MailSetup)

    def name(self, stage: str, suffix: str) -> str:
        return f"pen-{stage}-{suffix}"

    def dlq_name(self, stage: str, queue: Queue) -> str:
        return self.name(stage, queue.suffix) + "-dlq"

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
            "IdempotenciaTable",
            "idempotencia",
            config.ENV_TABLE_IDEMPOTENCIA,
            hash_key="id",
            ttl_attribute="expiration",
        ),
    ),
    queues=(Queue("CorreioQueue", "correio", config.ENV_QUEUE_CORREIO, handler="send_mail"),),
    buckets=(Bucket("DocumentosBucket", "documentos", config.ENV_BUCKET_DOCUMENTOS),),
    keys=(
        SigningKey(
            "AssinaturaKey",
            config.ENV_SIGNING_KEY,
            "PEN: carimbos de autenticidade de documentos e recibos do barramento",
        ),
    ),
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

    def keys(items: list[dict[str, str]]) -> list[dict[str, str]]:
        return sorted(
            ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in items),
            key=lambda k: hash_first[k["KeyType"]],
        )

    indexes: list[dict[str, object]] = [
        {
            "IndexName": gsi["index_name"],
            "KeySchema": keys(gsi["key_schema"]),
            "Projection": {"ProjectionType": gsi["projection"]["ProjectionType"]},
        }
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
