"""The ports the services need. Adapters in chalicelib/store implement them; tests pass fakes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from chalicelib.domain.agency_keys import AgencyKey
from chalicelib.domain.bus import Manifest, Tramite
from chalicelib.domain.credentials import ApiClient
from chalicelib.domain.documents import Declaration, Document, StoredObject
from chalicelib.domain.events import ProcessEvent
from chalicelib.domain.following import AddressQuota, Subscription
from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.hosting import HostingProfile
from chalicelib.domain.processes import OpenUnit, Process
from chalicelib.domain.signatures import JsonValue, PublicKey, Stamp
from chalicelib.domain.structures import Structure
from chalicelib.domain.tracking import PublicRecord, SearchHit, SearchQuery

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `cursor` is opaque and None on the last page."""

    items: Sequence[T]
    cursor: str | None = None


@dataclass(frozen=True)
class StructureQuery:
    acronym: str | None = None
    name: str | None = None
    agency_id: str | None = None
    can_receive: bool | None = None
    active: bool | None = None
    agencies_only: bool = False  # only the agencies (the tree's roots), not their units


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None  # sent as the alternative to `text` when given


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class StructureRepository(Protocol):
    def get(self, structure_id: str) -> Structure | None: ...

    def put(self, structure: Structure) -> Structure:
        """Creates (version 0) or replaces the stored version `structure.version`; returns the stored
        one with its new version. Raises Conflict on a stale version or a protocol code in use."""
        ...

    def search(self, query: StructureQuery, cursor: str | None, limit: int) -> Page[Structure]: ...

    def next_id(self) -> str:
        """A fresh structure id from an atomic counter."""
        ...


class ClientRepository(Protocol):
    def get(self, client_id: str) -> ApiClient | None:
        """A strongly consistent read: a revocation is seen by the very next request."""
        ...

    def put(self, client: ApiClient) -> ApiClient:
        """Creates (version 0) or replaces the stored version; raises Conflict when stale."""
        ...

    def list_by_agency(self, agency_id: str, cursor: str | None, limit: int) -> Page[ApiClient]: ...


class MailOutbox(Protocol):
    def enqueue(self, message: MailMessage) -> None:
        """Hands an e-mail to the asynchronous mail leg (a queue with a dead-letter queue)."""
        ...


class MailSender(Protocol):
    def send(self, message: MailMessage) -> str:
        """Sends now (called by the mail worker); returns the provider's message id."""
        ...


@dataclass(frozen=True)
class ProcessWrite:
    """One process's part of an atomic change: its new state (version = the one read), the history
    entry that records the change, and the units/relations the change adds or removes."""

    process: Process
    entry: HistoryEntry
    open_units: tuple[OpenUnit, ...] = ()
    close_units: tuple[str, ...] = ()
    relations: tuple[tuple[str, str], ...] = ()  # (kind, other nup of the same agency)
    # Documents pillar: documents added or changed (version = the one read; 0 for a new one), the
    # document numbers the change takes, and the pending uploads it consumes.
    documents: tuple[Document, ...] = ()
    numbers: tuple[DocumentNumber, ...] = ()
    finished_uploads: tuple[str, ...] = ()
    # Signatures: the public lookup key a document gets with its first signature.
    verifications: tuple[VerificationKey, ...] = ()


@dataclass(frozen=True)
class ImportWrite:
    """A trâmite's import into an agency's copy of a process (new, or existing: the return path).

    `process` is the copy as it will be stored (version = the one read, 0 for a new copy), with its
    `received` documents; `entries` are every history entry the import adds, oldest first, the last
    one recording the receipt; `documents` the documents it adds and `open_units` the units it opens.
    Everything is derived from the manifest, the IDT and the receipt time, so a redelivered import
    builds the very same write."""

    process: Process
    entries: tuple[HistoryEntry, ...]
    documents: tuple[Document, ...]
    open_units: tuple[OpenUnit, ...]
    idt: str
    nre: str
    received_at: datetime


@dataclass(frozen=True)
class InboxItem:
    nup: str
    open_unit: OpenUnit
    process_type: str = ""
    specification: str = ""
    access_level: int = 1


class ProcessRepository(Protocol):
    """Processes, each identified by (agency, NUP): the bus imports a process into another agency of
    the platform under the same NUP, and the two copies are independent processes."""

    def get(self, agency_id: str, nup: str) -> Process | None:
        """The agency's process with its open units and relations, in one query."""
        ...

    def copies(self, nup: str) -> list[Process]:
        """Every agency's copy of a NUP (public tracking, the bus's import), ordered by agency id.
        Through an eventually consistent index: a copy created a moment ago may be missing."""
        ...

    def last_sequence(self, unit_code: str, year: int) -> int:
        """The last NUP sequence issued by a protocol unit in a year (0 when none)."""
        ...

    def create(self, write: ProcessWrite, unit_code: str, year: int, sequence: int) -> Process:
        """Stores a new process with sequence `sequence`, in the same transaction that moves the
        unit's sequence from `sequence - 1`: a failed request consumes no number. Raises
        SequenceTaken when another request took that number first."""
        ...

    def apply(self, writes: Sequence[ProcessWrite]) -> list[Process]:
        """Applies every write atomically; Conflict when any process changed since it was read."""
        ...

    def history(self, agency_id: str, nup: str, cursor: str | None, limit: int) -> Page[HistoryEntry]: ...

    def inbox(self, unit_id: str, cursor: str | None, limit: int) -> Page[InboxItem]: ...

    def imported(self, agency_id: str, nup: str, idt: str) -> bool:
        """Whether trâmite `idt` was already imported into the agency's copy of the NUP."""
        ...

    def import_copy(self, write: ImportWrite) -> Process:
        """Stores an import once per IDT: the change of the copy (version-guarded, or created) and a
        marker of the IDT in one transaction. Documents and history entries that do not fit in it are
        written before it, idempotently (a rewrite of the same item is harmless; a different item in
        its place is a Conflict). Conflict when the marker already exists or the copy changed since
        it was read. Writes no verification keys: they belong to the copy that was signed."""
        ...

    def find_verification(self, code: str, crc: str) -> VerificationKey | None:
        """The signed document a verification code and CRC name, in one read by that key (the code
        alone is not unique; the pair is), with the agency whose copy of the process holds it; None
        when no document has them."""
        ...


class Signer(Protocol):
    """The platform's signing key (documents' authenticity stamps, bus receipts)."""

    def sign(self, message: bytes) -> Stamp:
        """ECDSA P-256 / SHA-256 over `message` (any size); the stamp names the key that verifies it."""
        ...

    def public_keys(self) -> list[PublicKey]:
        """Every key whose stamps are still to be verified (SubjectPublicKeyInfo PEM), for publishing."""
        ...


class EventRepository(Protocol):
    def add(self, event: ProcessEvent, received_at: datetime) -> bool:
        """Stores the event once; False (and no change) when its key is already stored."""
        ...

    def for_process(self, agency_id: str, nup: str) -> list[ProcessEvent]:
        """The events of one agency's copy of the process (see ProcessRepository)."""
        ...


# --- documents pillar ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationKey:
    """The public lookup key of a signed document: its verification code and CRC point to it. Written
    once, with the document's first signature, in the same transaction; never rewritten."""

    code: str
    crc: str
    agency_id: str  # whose copy of the process: copies of a NUP hold different documents
    nup: str
    order: int


@dataclass(frozen=True)
class DocumentNumber:
    """A number taken from the counter of (unit, espécie, year): it moves from `number - 1` to
    `number` in the same transaction as the document, so a failed request takes no number."""

    unit_id: str
    kind: int
    year: int
    number: int


@dataclass(frozen=True)
class PendingUpload:
    """An external document waiting for its file: created when the upload is handed out, consumed by
    the transaction that creates the document. It lives outside the process's partition, so an
    abandoned upload leaves nothing in the process."""

    id: str
    nup: str
    agency_id: str
    unit_id: str
    user: str
    kind: int
    access_level: int
    legal_basis: int | None
    description: str | None
    declaration: Declaration
    created_at: datetime
    expires_at: datetime
    multipart_id: str | None = None


@dataclass(frozen=True)
class PresignedRequest:
    """An HTTP request a client makes straight to the content store."""

    method: str
    url: str
    headers: dict[str, str]


class UploadRepository(Protocol):
    def put_upload(self, upload: PendingUpload) -> None: ...

    def get_upload(self, upload_id: str) -> PendingUpload | None: ...

    def last_number(self, unit_id: str, kind: int, year: int) -> int:
        """The last document number of an espécie issued by a unit in a year (0 when none)."""
        ...


class BlobStore(Protocol):
    """The content store (S3): objects addressed by their SHA-256; bytes go straight between the
    client and the store through presigned requests, never through the API."""

    def put(self, key: str, data: bytes, sha256: str, media_type: str) -> None:
        """Stores small content written through the API (internal documents), checksum-verified."""
        ...

    def read(self, key: str) -> bytes | None:
        """A small object's bytes, whole (the bus's manifests and records); None when there is none."""
        ...

    def inspect(self, key: str, *, sniff: bool = True) -> StoredObject | None:
        """Size, SHA-256 (whole object, or S3's composite for multipart) and, with `sniff`, the first
        bytes of a stored object (a ranged GET; the bus, which never looks inside, skips it); None
        when there is none."""
        ...

    def discard(self, key: str) -> None:
        """Removes an object whose bytes failed verification (it must not squat its content address)."""
        ...

    def presign_put(
        self, key: str, sha256: str, size: int, media_type: str, expires: int
    ) -> PresignedRequest:
        """A single PUT that the store accepts only with these bytes (checksum header signed)."""
        ...

    def start_multipart(self, key: str, media_type: str) -> str:
        """Starts a multipart upload with SHA-256 part checksums; returns its id."""
        ...

    def presign_part(
        self, key: str, multipart_id: str, number: int, sha256: str, expires: int
    ) -> PresignedRequest: ...

    def complete_multipart(self, key: str, multipart_id: str, declaration: Declaration) -> None:
        """Joins the uploaded parts (each with its declared SHA-256); ContentMismatch when parts are
        missing or differ from the declaration."""
        ...

    def presign_get(self, key: str, file_name: str, media_type: str, expires: int) -> str: ...


class AgencyKeyRepository(Protocol):
    def keys_of(self, agency_id: str) -> list[AgencyKey]:
        """Every key the agency registered, revoked ones included, oldest first."""
        ...

    def add(self, key: AgencyKey) -> None: ...

    def revoke(self, agency_id: str, key_id: str, at: datetime) -> AgencyKey | None: ...


class HostingRepository(Protocol):
    def get(self, agency_id: str) -> HostingProfile:
        """The agency's profile; a default one (not hosted, every espécie) when none was stored."""
        ...

    def put(self, profile: HostingProfile, at: datetime) -> HostingProfile: ...


class BusWorkQueue(Protocol):
    """Where the bus's state changes wait for the platform's own work on them (hosted agencies)."""

    def enqueue(self, idt: str, state: int) -> None: ...


class ManifestCodec(Protocol):
    """The bus's wire form of a manifest (JSON): what is stored and what receivers read."""

    def to_json(self, manifest: Manifest) -> JsonValue: ...

    def from_json(self, data: JsonValue) -> Manifest:
        """InvalidInput when `data` is not a manifest."""
        ...


class TramiteRepository(Protocol):
    """The bus's trâmites. At most one open trâmite (state 1 to 5 or 8) per NRE."""

    def add(self, tramite: Tramite) -> Tramite:
        """add_all of one trâmite."""
        ...

    def add_all(self, tramites: Sequence[Tramite]) -> list[Tramite]:
        """Stores the new trâmites of one send (version 0, open, one NRE, one per receiver) and claims
        their NRE, atomically; returns them at version 1. Conflict when an IDT exists or the NRE already
        has an open trâmite."""
        ...

    def get(self, idt: str) -> Tramite | None: ...

    def save(self, tramite: Tramite) -> Tramite:
        """Stores a move of a stored trâmite, read at `tramite.version`; returns it one version later.
        A move into a final state (6, 7, 9, 10) releases the NRE. Conflict when the trâmite changed
        since it was read (e.g. a recibo and a recusa racing: exactly one wins)."""
        ...

    def by_nre(self, nre: str, cursor: str | None, limit: int) -> Page[Tramite]:
        """The NRE's trâmites, oldest first."""
        ...

    def by_nup(self, nup: str, cursor: str | None, limit: int) -> Page[Tramite]:
        """The process's trâmites (NUP, 17 digits), oldest first."""
        ...

    def pending_for(self, agency_id: str, cursor: str | None, limit: int) -> Page[Tramite]:
        """The trâmites waiting for `agency_id` (see bus.pending_agency), oldest state change first."""
        ...

    def due_for_auto_cancel(self, before: datetime, cursor: str | None, limit: int) -> Page[Tramite]:
        """The trâmites in states 1 to 4 whose automatic-cancel deadline (bus.auto_cancel_at) is at or
        before `before`, earliest deadline first."""
        ...


# --- public tracking ------------------------------------------------------------------------------


class PublicRecordRepository(Protocol):
    """The public base: one record per NUP, and the search index kept with it."""

    def get(self, nup: str, *, consistent: bool = True) -> PublicRecord | None:
        """One read (GetItem); a citizen's lookup reads eventually consistent (half the cost)."""
        ...

    def save(self, record: PublicRecord, previous: PublicRecord | None) -> PublicRecord:
        """Stores `record` (read at `record.version`; `previous` is what was read, None when new) and
        returns it one version later. Writes the record item, plus the name-index items whose names
        were added or removed (only when the published interessados change). Conflict when the
        record changed since it was read."""
        ...

    def search(self, query: SearchQuery, cursor: str | None, limit: int) -> Page[SearchHit]:
        """Público records matching every given criterion, through an index (never a scan)."""
        ...


class PublicationRepository(Protocol):
    """Each agency's choice to publish its restrito processes (NUP, agency and history only)."""

    def publishes_restricted(self, agency_id: str) -> bool: ...

    def set_publishes_restricted(self, agency_id: str, value: bool, at: datetime) -> None: ...


class SubscriptionRepository(Protocol):
    def get(self, subscription_id: str) -> Subscription | None: ...

    def quota(self, address: str) -> AddressQuota:
        """The address's counters (a fresh one at version 0 when none is stored)."""
        ...

    def save(self, subscription: Subscription, quota: AddressQuota | None = None) -> Subscription:
        """Stores the subscription read at `subscription.version` (0: new) and, in the same
        transaction, the quota read at `quota.version`. Conflict when either changed since."""
        ...

    def followers(self, nup: str, cursor: str | None, limit: int) -> Page[Subscription]:
        """The NUP's confirmed subscriptions, in a stable order (pages of a fan-out)."""
        ...

    def suppressed(self, address: str) -> bool: ...

    def suppress(self, address: str, reason: str, at: datetime) -> None:
        """Puts the address on the suppression list (bounces, complaints): no mail is sent to it."""
        ...


class NoticeQueue(Protocol):
    """The notices' fan-out work: one message per page of followers."""

    def schedule_digest(self, nup: str, window: int, delay_seconds: int) -> None:
        """The first page of the digest of `window`, delivered once the window has closed."""
        ...

    def continue_digest(self, nup: str, window: int, after: str) -> None:
        """The next page, after the follower cursor `after`."""
        ...


class Once(Protocol):
    """Runs an action at most once per key (a notice per subscription and window)."""

    def run(self, key: str, action: Callable[[], None]) -> bool:
        """Runs `action` unless it already completed under `key`; False when it had."""
        ...
