"""Settings: the only place that reads the environment.

The cloud template and the local stack both set these variables from the same resource definitions
(infra/resources.py), so a name never has to be typed twice.
"""

from __future__ import annotations

import json
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
ENV_TABLE_EVENTOS = "PEN_TABLE_EVENTOS"
ENV_TABLE_TRAMITES = "PEN_TABLE_TRAMITES"
ENV_TABLE_PUBLICO = "PEN_TABLE_PUBLICO"
ENV_TABLE_ACOMPANHAMENTOS = "PEN_TABLE_ACOMPANHAMENTOS"
ENV_QUEUE_CORREIO = "PEN_QUEUE_CORREIO"
ENV_QUEUE_BARRAMENTO = "PEN_QUEUE_BARRAMENTO"
ENV_QUEUE_AVISOS = "PEN_QUEUE_AVISOS"
ENV_QUEUE_CORREIO_EVENTOS = "PEN_QUEUE_CORREIO_EVENTOS"
ENV_BUCKET_DOCUMENTOS = "PEN_BUCKET_DOCUMENTOS"
ENV_SIGNING_KEY = "PEN_SIGNING_KEY"
# Keys that signed before a rotation (comma-separated ARNs, may be empty): never used to sign, only
# published in /publico/chaves next to the current one, so stamps they made keep verifying.
ENV_SIGNING_KEYS_RETIRED = "PEN_SIGNING_KEYS_RETIRED"
ENV_MAIL_SENDER = "PEN_MAIL_SENDER"
DEFAULT_MAIL_SENDER = "nao-responda@pen.example.gov.br"  # the local stack's and the tests'
ENV_MAIL_CONFIGURATION_SET = "PEN_MAIL_CONFIGURATION_SET"
ENV_PUBLIC_BASE_URL = "PEN_PUBLIC_BASE_URL"
# Documents: limits of external files (defaults below; per agency as JSON
# {"<agency id>": {"tamanhoMaximo": <bytes>, "tipos": ["application/pdf", ...]}}) and the size above
# which an upload goes in parts, and the smallest part accepted (S3's minimum is 5 MiB).
ENV_DOCS_MAX_SIZE = "PEN_DOCUMENTOS_TAMANHO_MAXIMO"
ENV_DOCS_MEDIA_TYPES = "PEN_DOCUMENTOS_TIPOS"
ENV_DOCS_AGENCY_LIMITS = "PEN_DOCUMENTOS_LIMITES_POR_ORGAO"
ENV_DOCS_SINGLE_UPLOAD_MAX = "PEN_DOCUMENTOS_LIMITE_ENVIO_UNICO"
ENV_DOCS_MIN_PART = "PEN_DOCUMENTOS_PARTE_MINIMA"
# The bus: days a trâmite may stay in states 1-4 without a state change before it is cancelled
# automatically (the national rule is 8).
ENV_BUS_DEADLINE_DAYS = "PEN_BARRAMENTO_PRAZO_DIAS"
# Public tracking: movements published within one window (seconds) go to followers as one digest.
# The digest waits in SQS until its window closes, and SQS delays at most 15 minutes.
ENV_NOTICE_WINDOW = "PEN_AVISOS_JANELA_SEGUNDOS"
MAX_NOTICE_WINDOW = 840  # 15 min of SQS delay, less a minute of margin
# Structures: how long a container keeps a unit it looked up for a check (0: never kept). A change
# an operator makes to the registry reaches running Lambdas within this time.
ENV_REGISTRY_CACHE = "PEN_ESTRUTURAS_CACHE_SEGUNDOS"
MIB = 1024 * 1024
DEFAULT_DOCS_MEDIA_TYPES = frozenset(
    {"application/pdf", "image/jpeg", "image/png", "image/tiff", "video/mp4"}
)
AgencyFileLimits = tuple[tuple[str, int, frozenset[str]], ...]  # (agency id, max size, MIME types)

REQUIRED = (
    ENV_TABLE_ESTRUTURAS,
    ENV_TABLE_CLIENTES,
    ENV_TABLE_IDEMPOTENCIA,
    ENV_TABLE_PROCESSOS,
    ENV_TABLE_EVENTOS,
    ENV_TABLE_TRAMITES,
    ENV_QUEUE_CORREIO,
    ENV_QUEUE_BARRAMENTO,
    ENV_TABLE_PUBLICO,
    ENV_TABLE_ACOMPANHAMENTOS,
    ENV_QUEUE_AVISOS,
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
    table_eventos: str
    table_tramites: str
    queue_correio: str
    queue_barramento: str
    table_publico: str
    table_acompanhamentos: str
    queue_avisos: str
    # Used from the processes pillar on: document contents and the platform's signing key.
    bucket_documentos: str | None
    signing_key: str | None
    mail_sender: str
    mail_configuration_set: str | None
    public_base_url: str
    documents_max_size: int = 1024 * MIB
    documents_media_types: frozenset[str] = DEFAULT_DOCS_MEDIA_TYPES
    documents_agency_limits: AgencyFileLimits = ()
    documents_single_upload_max: int = 100 * MIB  # larger files go as multipart
    documents_min_part_size: int = 5 * MIB
    bus_deadline_days: int = 8
    notice_window_seconds: int = 600
    registry_cache_seconds: int = 60
    retired_signing_keys: tuple[str, ...] = ()  # published, never used to sign (docs/OPERATIONS.md)

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
            table_eventos=env[ENV_TABLE_EVENTOS],
            table_tramites=env[ENV_TABLE_TRAMITES],
            queue_correio=env[ENV_QUEUE_CORREIO],
            queue_barramento=env[ENV_QUEUE_BARRAMENTO],
            table_publico=env[ENV_TABLE_PUBLICO],
            table_acompanhamentos=env[ENV_TABLE_ACOMPANHAMENTOS],
            queue_avisos=env[ENV_QUEUE_AVISOS],
            bucket_documentos=env.get(ENV_BUCKET_DOCUMENTOS) or None,
            signing_key=env.get(ENV_SIGNING_KEY) or None,
            mail_sender=env.get(ENV_MAIL_SENDER, DEFAULT_MAIL_SENDER),
            mail_configuration_set=env.get(ENV_MAIL_CONFIGURATION_SET) or None,
            public_base_url=env.get(ENV_PUBLIC_BASE_URL, "http://127.0.0.1:8000"),
            documents_max_size=_positive(env, ENV_DOCS_MAX_SIZE, 1024 * MIB),
            documents_media_types=_media_types(env.get(ENV_DOCS_MEDIA_TYPES)) or DEFAULT_DOCS_MEDIA_TYPES,
            documents_agency_limits=_agency_limits(env.get(ENV_DOCS_AGENCY_LIMITS)),
            documents_single_upload_max=_positive(env, ENV_DOCS_SINGLE_UPLOAD_MAX, 100 * MIB),
            documents_min_part_size=_positive(env, ENV_DOCS_MIN_PART, 5 * MIB),
            bus_deadline_days=_positive(env, ENV_BUS_DEADLINE_DAYS, 8),
            notice_window_seconds=_notice_window(env),
            registry_cache_seconds=_whole(env, ENV_REGISTRY_CACHE, 60),
            retired_signing_keys=_retired_keys(env.get(ENV_SIGNING_KEYS_RETIRED), env.get(ENV_SIGNING_KEY)),
        )


def _whole(env: Mapping[str, str], name: str, default: int, *, least: int = 0) -> int:
    raw = env.get(name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < least:
        wanted = "a positive whole number" if least == 1 else f"a whole number ({least} or more)"
        raise ConfigurationError(f"{name} must be {wanted}, not {raw!r}")
    return int(raw)


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    return _whole(env, name, default, least=1)


def _notice_window(env: Mapping[str, str]) -> int:
    window = _positive(env, ENV_NOTICE_WINDOW, 600)
    if window > MAX_NOTICE_WINDOW:
        raise ConfigurationError(
            f"{ENV_NOTICE_WINDOW} must be at most {MAX_NOTICE_WINDOW} seconds, not {window}"
        )
    return window


def _retired_keys(raw: str | None, current: str | None) -> tuple[str, ...]:
    """The retired keys in the order given, each once, blanks and the current key left out (a
    rotation's parameters may still name the key it rotated to)."""
    keys: list[str] = []
    for key in (k.strip() for k in (raw or "").split(",")):
        if key and key != current and key not in keys:
            keys.append(key)
    return tuple(keys)


def _media_types(raw: str | None) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in (raw or "").split(",") if t.strip())


def _agency_limits(raw: str | None) -> AgencyFileLimits:
    if not raw:
        return ()
    try:
        data = json.loads(raw)
        limits = tuple(
            (str(agency), int(rule["tamanhoMaximo"]), frozenset(str(t).lower() for t in rule["tipos"]))
            for agency, rule in sorted(data.items())
        )
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ConfigurationError(
            f"{ENV_DOCS_AGENCY_LIMITS} must be JSON like "
            '{"<agency id>": {"tamanhoMaximo": <bytes>, "tipos": ["application/pdf"]}}'
        ) from error
    return limits
