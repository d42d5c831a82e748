"""Composition root: builds the services from the settings, once per process.

Tests replace the whole set with `use(...)` (fakes for unit tests, moto-backed for integration).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from pynamodb.connection import Connection

from chalicelib.api.bus import ManifestJson
from chalicelib.config import Settings
from chalicelib.domain.documents import FileLimits
from chalicelib.services.agency_keys import AgencyKeys
from chalicelib.services.bus import Bus
from chalicelib.services.credentials import Credentials
from chalicelib.services.documents import DocumentPolicy, Documents
from chalicelib.services.events import EventLog
from chalicelib.services.following import Following
from chalicelib.services.hosted import HostedBus
from chalicelib.services.ports import BusWorkQueue, Clock, MailSender, Signer, SystemClock
from chalicelib.services.processes import Processes
from chalicelib.services.registry import Registry
from chalicelib.services.signatures import Signatures
from chalicelib.services.site_links import SiteLinks
from chalicelib.services.stuck import StuckTramites
from chalicelib.services.tracking import PublicTracking
from chalicelib.services.transfers import ProcessTransfers


@dataclass(frozen=True)
class Services:
    settings: Settings
    registry: Registry
    credentials: Credentials
    mail_sender: MailSender
    clock: Clock
    processes: Processes
    events: EventLog
    documents: Documents
    signatures: Signatures
    bus: Bus
    transfers: ProcessTransfers
    hosted: HostedBus
    agency_keys: AgencyKeys
    bus_work: BusWorkQueue
    tracking: PublicTracking
    following: Following
    stuck: StuckTramites
    site_links: SiteLinks  # the citizens' site's addresses the API hands out
    idempotency_store: Any  # a Powertools persistence layer, used by handlers/idempotency.py


def build(settings: Settings) -> Services:
    # Adapters are imported here, and only here, so services never depend on them.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from chalicelib.store import aws
    from chalicelib.store.agency_keys import DynamoAgencyKeyRepository
    from chalicelib.store.blobs import S3BlobStore, needs_computed_checksums, s3_client
    from chalicelib.store.bus_queue import SqsBusWorkQueue
    from chalicelib.store.clients import DynamoClientRepository
    from chalicelib.store.documents import DynamoUploadRepository
    from chalicelib.store.events import DynamoEventRepository
    from chalicelib.store.following import DynamoSubscriptionRepository
    from chalicelib.store.hosting import DynamoHostingRepository
    from chalicelib.store.mail import SesMailSender, SqsMailOutbox
    from chalicelib.store.models import bind_models
    from chalicelib.store.notice_queue import SqsNoticeQueue
    from chalicelib.store.once import PowertoolsOnce
    from chalicelib.store.processes import DynamoProcessRepository
    from chalicelib.store.publication import DynamoPublicationRepository
    from chalicelib.store.signer import KmsSigner, UnconfiguredSigner
    from chalicelib.store.structures import DynamoStructureRepository
    from chalicelib.store.tracking import DynamoPublicRecordRepository
    from chalicelib.store.tramites import DynamoTramiteRepository

    bind_models(settings)
    clock = SystemClock()
    connection = Connection(region=settings.region, host=settings.endpoint_url)
    registry = Registry(DynamoStructureRepository(connection), settings.registry_cache_seconds)
    outbox = SqsMailOutbox(aws.client("sqs", settings), settings.queue_correio)
    credentials = Credentials(DynamoClientRepository(), registry, clock, outbox)
    sender = SesMailSender(
        aws.client("sesv2", settings), settings.mail_sender, settings.mail_configuration_set
    )
    idempotency = DynamoDBPersistenceLayer(
        table_name=settings.table_idempotencia, boto3_client=aws.client("dynamodb", settings)
    )
    process_repository = DynamoProcessRepository(connection)
    processes = Processes(process_repository, registry, clock)
    s3 = s3_client(settings.region, settings.endpoint_url)
    blobs = S3BlobStore(
        s3,
        settings.bucket_documentos or "",
        # Only off AWS (moto, the local stack), where S3 keeps no checksums: see store/blobs.py.
        compute_missing_checksums=needs_computed_checksums(settings.endpoint_url),
    )
    policy = document_policy(settings)
    documents = Documents(
        processes,
        process_repository,
        DynamoUploadRepository(),
        blobs,
        clock=clock,
        policy=policy,
    )
    signer: Signer = (
        KmsSigner(
            aws.client("kms", settings),
            settings.signing_key,
            clock=clock,
            retired=settings.retired_signing_keys,
        )
        if settings.signing_key
        else UnconfiguredSigner()
    )
    signatures = Signatures(
        processes,
        process_repository,
        signer,
        blobs,
        registry=registry,
        clock=clock,
        download_seconds=policy.download_seconds,
    )
    events = EventLog(DynamoEventRepository(), clock)
    agency_key_repository = DynamoAgencyKeyRepository()
    tramites = DynamoTramiteRepository(connection, settings.bus_deadline_days)
    bus = Bus(
        tramites,
        registry,
        blobs,
        codec=ManifestJson(),
        agency_keys=agency_key_repository,
        signer=signer,
        clock=clock,
        auto_cancel_days=settings.bus_deadline_days,
        single_upload_max=settings.documents_single_upload_max,
        min_part_size=settings.documents_min_part_size,
    )
    transfers = ProcessTransfers(process_repository, registry, clock)
    hosted = HostedBus(
        bus,
        processes,
        transfers,
        DynamoHostingRepository(),
        registry,
        limits=policy.limits_for,
        clock=clock,
    )
    public_records = DynamoPublicRecordRepository(connection)
    notices = SqsNoticeQueue(aws.client("sqs", settings), settings.queue_avisos)
    tracking = PublicTracking(
        public_records,
        process_repository,
        registry,
        DynamoPublicationRepository(),
        notices,
        tramites=tramites,
        clock=clock,
        window_seconds=settings.notice_window_seconds,
    )
    site_links = SiteLinks(settings.public_base_url)
    following = Following(
        DynamoSubscriptionRepository(connection),
        public_records,
        outbox=outbox,
        sender=sender,
        notices=notices,
        once=PowertoolsOnce(idempotency),
        clock=clock,
        links=site_links,
        window_seconds=settings.notice_window_seconds,
    )
    return Services(
        settings=settings,
        registry=registry,
        credentials=credentials,
        mail_sender=sender,
        clock=clock,
        processes=processes,
        events=events,
        documents=documents,
        signatures=signatures,
        bus=bus,
        transfers=transfers,
        hosted=hosted,
        agency_keys=AgencyKeys(agency_key_repository, clock),
        bus_work=SqsBusWorkQueue(aws.client("sqs", settings), settings.queue_barramento),
        idempotency_store=idempotency,
        tracking=tracking,
        following=following,
        stuck=StuckTramites(tramites, registry, clock, auto_cancel_days=settings.bus_deadline_days),
        site_links=site_links,
    )


def document_policy(settings: Settings) -> DocumentPolicy:
    default = FileLimits(settings.documents_max_size, settings.documents_media_types)
    return DocumentPolicy(
        default_limits=default,
        agency_limits={
            agency: FileLimits(size, types) for agency, size, types in settings.documents_agency_limits
        },
        multipart_threshold=settings.documents_single_upload_max,
        min_part_size=settings.documents_min_part_size,
    )


_override: list[Services] = []


@cache
def _from_env() -> Services:
    return build(Settings.from_env())


def services() -> Services:
    return _override[-1] if _override else _from_env()


@contextmanager
def use(replacement: Services) -> Iterator[Services]:
    _override.append(replacement)
    try:
        yield replacement
    finally:
        _override.pop()


def reset() -> None:
    """Forgets the cached services (after the environment changed: tests, the local stack)."""
    _from_env.cache_clear()
