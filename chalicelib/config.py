"""Settings: the only place that reads the environment.

The cloud template and the local stack both set these variables from the same resource definitions
(infra/resources.py), so a name never has to be typed twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# Variable names shared with infra/resources.py, which sets them.
ENV_STAGE = "PEN_STAGE"
ENV_REGION = "AWS_REGION"
ENV_ENDPOINT = "PEN_AWS_ENDPOINT"
ENV_TABLE_ESTRUTURAS = "PEN_TABLE_ESTRUTURAS"
ENV_TABLE_CLIENTES = "PEN_TABLE_CLIENTES"
ENV_TABLE_IDEMPOTENCIA = "PEN_TABLE_IDEMPOTENCIA"
ENV_TABLE_PROCESSOS = "PEN_TABLE_PROCESSOS"
ENV_QUEUE_CORREIO = "PEN_QUEUE_CORREIO"
ENV_BUCKET_DOCUMENTOS = "PEN_BUCKET_DOCUMENTOS"
ENV_SIGNING_KEY = "PEN_SIGNING_KEY"
ENV_MAIL_SENDER = "PEN_MAIL_SENDER"
ENV_MAIL_CONFIGURATION_SET = "PEN_MAIL_CONFIGURATION_SET"
ENV_PUBLIC_BASE_URL = "PEN_PUBLIC_BASE_URL"

REQUIRED = (
    ENV_TABLE_ESTRUTURAS,
    ENV_TABLE_CLIENTES,
    ENV_TABLE_IDEMPOTENCIA,
    ENV_TABLE_PROCESSOS,
    ENV_QUEUE_CORREIO,
)


class ConfigurationError(RuntimeError):
    """A required setting is missing: the deployment or the local stack is wired wrong."""


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    endpoint_url: str | None
    table_estruturas: str
    table_clientes: str
    table_idempotencia: str
    table_processos: str
    queue_correio: str
    # Used from the processes pillar on: document contents and the platform's signing key.
    bucket_documentos: str | None
    signing_key: str | None
    mail_sender: str
    mail_configuration_set: str | None
    public_base_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [name for name in REQUIRED if not env.get(name)]
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            stage=env.get(ENV_STAGE, "local"),
            region=env.get(ENV_REGION) or env.get("AWS_DEFAULT_REGION") or "sa-east-1",
            endpoint_url=env.get(ENV_ENDPOINT) or None,
            table_estruturas=env[ENV_TABLE_ESTRUTURAS],
            table_clientes=env[ENV_TABLE_CLIENTES],
            table_idempotencia=env[ENV_TABLE_IDEMPOTENCIA],
            table_processos=env[ENV_TABLE_PROCESSOS],
            queue_correio=env[ENV_QUEUE_CORREIO],
            bucket_documentos=env.get(ENV_BUCKET_DOCUMENTOS) or None,
            signing_key=env.get(ENV_SIGNING_KEY) or None,
            mail_sender=env.get(ENV_MAIL_SENDER, "nao-responda@pen.example.gov.br"),
            mail_configuration_set=env.get(ENV_MAIL_CONFIGURATION_SET) or None,
            public_base_url=env.get(ENV_PUBLIC_BASE_URL, "http://127.0.0.1:8000"),
        )
