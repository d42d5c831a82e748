"""Use cases of the bus for agency systems (scope `barramento`): the whole life of a trâmite.

Sender: send a process to one or several receivers (manifest + the components still needed), confirm
the uploads (custody, state 2, recibo de envio), fetch the recibo de conclusão (6), acknowledge a
refusal (9), cancel (7). Receiver: read the trâmite (3), download each component (4 once all are
downloaded), send the recibo de conclusão (5) or refuse (8). Both: pendências (with a bounded
long-poll) and listings with the whole state history. The bus itself: automatic cancel (10).

Every move reads the trâmite, applies a pure move from chalicelib.domain.bus and saves it on the
version read; a concurrent change makes the save fail, and the move is tried again on a fresh read,
where the domain either applies it or answers 409 with the state the other move left.

Where things live. The trâmite itself (states, downloads recorded, recibo de conclusão) is the
TramiteRepository's item. The manifest is stored as RFC 8785 canonical JSON in the content store under
its own SHA-256 (blob_key), like any component; the trâmite's record there (services/tramite_records.py)
names it, lists the components custody must find and, from state 2, holds the recibo de envio.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from chalicelib.domain.agency_keys import verify_signature
from chalicelib.domain.bus import (
    AUTO_CANCEL_DAYS,
    Action,
    Actor,
    Address,
    IllegalTransition,
    IssuedReceipt,
    Manifest,
    ManifestComponent,
    Pendency,
    ReceiptRecord,
    ReceiverSignature,
    Refusal,
    SendReceiptRecord,
    Tramite,
    TramiteState,
    acknowledge_refusal,
    auto_cancel,
    cancel,
    check_move,
    check_return,
    complete_upload,
    components_to_request,
    fetch_component,
    fetch_metadata,
    fetch_receipt,
    pendency_for,
    receiver_statement,
    refuse,
    send_receipt,
    start,
    tramite_not_found,
    validate_manifest,
)
from chalicelib.domain.bus.addresses import Role
from chalicelib.domain.credentials import Caller
from chalicelib.domain.documents import (
    blob_key,
    parts_problems,
)
from chalicelib.domain.errors import Conflict, ContentMismatch, FieldError, Forbidden, InvalidInput, NotFound
from chalicelib.domain.signatures import JsonValue, canonical_json
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import (
    AgencyKeyRepository,
    BlobStore,
    Clock,
    ManifestCodec,
    Page,
    PresignedRequest,
    Signer,
    TramiteRepository,
)
from chalicelib.services.registry import Registry
from chalicelib.services.tramite_records import (
    JSON_TYPE,
    ListedComponent,
    SendReceipt,
    TramiteRecord,
    TramiteRecords,
    sha256_b64,
)

UPLOAD_EXPIRES = 3600
DOWNLOAD_EXPIRES = 900
MAX_PAGE = 100
MAX_RECEIVERS = 20  # one send: one transaction holds its trâmites and the NRE guard
MAX_WAIT = 20  # seconds a pendências long-poll may wait: well inside API Gateway's 29 s
POLL_EVERY = 1.0  # seconds between the long-poll's queries
MOVE_ATTEMPTS = 4  # a move lost to a concurrent change is tried again on a fresh read


@dataclass(frozen=True)
class ComponentUpload:
    """A component the sender still has to upload: one presigned request that takes only its bytes, or
    (a large file) one per part, each taking only that part's bytes."""

    component: ManifestComponent
    upload: PresignedRequest | None
    parts: tuple[PresignedRequest, ...] = ()


@dataclass(frozen=True)
class Sent:
    tramites: tuple[Tramite, ...]  # one per receiver, in the order they were named
    manifest_sha256: str
    uploads: tuple[ComponentUpload, ...]


@dataclass(frozen=True)
class ComponentDownload:
    sha256: str
    size: int
    url: str
    expires_in: int
    tramite: Tramite


@dataclass(frozen=True)
class TramiteView:
    tramite: Tramite
    manifest: JsonValue
    manifest_sha256: str
    receipt: SendReceipt | None


class Bus:
    def __init__(
        self,
        tramites: TramiteRepository,
        registry: Registry,
        blobs: BlobStore,
        *,
        codec: ManifestCodec,
        agency_keys: AgencyKeyRepository,
        signer: Signer,
        clock: Clock,
        auto_cancel_days: int = AUTO_CANCEL_DAYS,
        single_upload_max: int = 100 * 1024 * 1024,
        min_part_size: int = 5 * 1024 * 1024,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._tramites = tramites
        self._registry = registry
        self._blobs = blobs
        self._records = TramiteRecords(blobs)
        self._codec = codec
        self._agency_keys = agency_keys
        self._signer = signer
        self._clock = clock
        self._auto_cancel_days = auto_cancel_days
        self._single_upload_max = single_upload_max
        self._min_part_size = min_part_size
        self._sleep = sleep

    # --- send ---------------------------------------------------------------------------------------

    def send(self, caller: Caller, manifest: Manifest, receivers: Sequence[Address] = ()) -> Sent:
        """One trâmite per receiver (`receivers`, or the manifest's single destinatário), all started
        together under the process's NRE. A process coming back under its NRE must bring every document
        of its last delivered trâmite unchanged (check_return)."""
        header = manifest.header
        addressed = tuple(receivers) or (header.receiver,)
        found_receivers = self._check_addresses(caller, header.sender, addressed)
        validate_manifest(manifest)
        nup = "".join(c for c in manifest.process.nup if c.isdigit())
        nre = self._nre_for(header.nre, nup)
        if header.nre is not None:
            self._check_return(header.nre, manifest)
        now = self._clock.now()
        by = Actor(caller.agency_id, caller.client_id)
        started = [
            start(
                idt=uuid.uuid4().hex,
                nre=nre,
                nup=nup,
                sender=header.sender,
                receiver=receiver,
                sender_agency_id=caller.agency_id,
                receiver_agency_id=found.agency_id,
                by=by,
                at=now,
            )
            for receiver, found in zip(addressed, found_receivers, strict=True)
        ]
        self._check_parts(manifest)
        components = {c.sha256: c for _, c in manifest.components()}
        held = {sha for sha, c in components.items() if self._in_custody(ListedComponent.of(c))}
        uploads = [self._upload_for(c) for c in components_to_request(manifest, held)]
        started_parts = {u.upload.component.sha256: u.multipart_id for u in uploads if u.multipart_id}
        listed = tuple(ListedComponent.of(c, started_parts.get(c.sha256)) for c in components.values())
        manifest_shas = []
        for tramite in started:
            # Each receiver reads the manifest addressed to it; the NRE is the one the bus assigned.
            own = replace(manifest, header=replace(header, receiver=tramite.receiver, nre=nre))
            document = canonical_json(self._codec.to_json(own))
            manifest_sha = sha256_b64(document)
            self._blobs.put(blob_key(manifest_sha), document, manifest_sha, JSON_TYPE)
            self._records.write(tramite.idt, TramiteRecord(manifest_sha, listed))
            manifest_shas.append(manifest_sha)
        stored = self._tramites.add_all(started)  # Conflict: the NRE has an open trâmite
        return Sent(tuple(stored), manifest_shas[0], tuple(u.upload for u in uploads))

    def _check_parts(self, manifest: Manifest) -> None:
        """Files above the single-upload limit declare their parts; smaller ones do not."""
        problems = [
            problem
            for d_index, document in enumerate(manifest.documents)
            for c_index, component in enumerate(document.components)
            for problem in parts_problems(
                component.declaration(),
                self._single_upload_max,
                self._min_part_size,
                f"documentos.{d_index}.componentes.{c_index}.partes",
            )
        ]
        if problems:
            raise InvalidInput("O envio em partes dos componentes grandes está mal declarado.", problems)

    def _upload_for(self, component: ManifestComponent) -> _Upload:
        key = blob_key(component.sha256)
        declaration = component.declaration()
        if not declaration.multipart:
            single = self._blobs.presign_put(
                key, component.sha256, component.size, component.media_type, UPLOAD_EXPIRES
            )
            return _Upload(ComponentUpload(component, single), None)
        multipart_id = self._blobs.start_multipart(key, component.media_type)
        parts = tuple(
            self._blobs.presign_part(key, multipart_id, number, digest, UPLOAD_EXPIRES)
            for number, digest in enumerate(declaration.part_digests, start=1)
        )
        return _Upload(ComponentUpload(component, None, parts), multipart_id)

    def _check_return(self, nre: str, manifest: Manifest) -> None:
        """Against the manifest of the NRE's last delivered trâmite (state 6): what the receiver holds."""
        delivered: Tramite | None = None
        cursor: str | None = None
        while True:
            page = self._tramites.by_nre(nre, cursor, MAX_PAGE)
            delivered = next(
                (t for t in reversed(page.items) if t.state is TramiteState.RECIBO_RECEBIDO), delivered
            )
            cursor = page.cursor
            if cursor is None:
                break
        if delivered is not None:
            check_return(self.manifest_of(delivered.idt), manifest)

    def manifest_of(self, idt: str) -> Manifest:
        """The manifest a trâmite carries (for the bus's own workers: no party check)."""
        return self._codec.from_json(self._manifest_json(idt, self._records.read(idt)))

    def _manifest_json(self, idt: str, record: TramiteRecord) -> JsonValue:
        document = self._blobs.read(blob_key(record.manifest_sha256))
        if document is None:
            raise NotFound(f"O manifesto do trâmite {idt} não está no barramento.")
        parsed: JsonValue = json.loads(document)
        return parsed

    def _check_addresses(
        self, caller: Caller, sender: Address, receivers: tuple[Address, ...]
    ) -> list[Structure]:
        """The receivers' structures, once the sender and every receiver pass the registry's rules."""
        if len(receivers) > MAX_RECEIVERS:
            raise InvalidInput(
                "Destinatários demais.",
                [FieldError("cabecalho.destinatarios", f"envie a no máximo {MAX_RECEIVERS} de uma vez")],
            )
        found_sender = self._structure(sender, "remetente")
        if found_sender.agency_id != caller.agency_id:
            raise Forbidden(f"O endereço remetente {sender} não pertence ao seu órgão.")
        problems: list[FieldError] = []
        if not found_sender.active:
            problems.append(FieldError("cabecalho.remetente.estrutura", "a estrutura está desativada"))
        elif not found_sender.can_send:
            problems.append(
                FieldError("cabecalho.remetente.estrutura", "a estrutura não está habilitada a enviar")
            )
        found: list[Structure] = []
        single = len(receivers) == 1
        for index, receiver in enumerate(receivers):
            path = "cabecalho.destinatario" if single else f"cabecalho.destinatarios.{index}"
            structure = self._structure(receiver, "destinatario")
            found.append(structure)
            if receiver in receivers[:index]:
                problems.append(FieldError(path, "destinatário repetido"))
            elif receiver == sender:
                problems.append(FieldError(path, "deve ser diferente do remetente"))
            elif not structure.active:
                problems.append(FieldError(f"{path}.estrutura", "a estrutura está desativada"))
            elif not structure.can_receive:
                problems.append(FieldError(f"{path}.estrutura", "a estrutura não está habilitada a receber"))
        if problems:
            raise InvalidInput("O trâmite não pode ser feito entre estes endereços.", problems)
        return found

    def _structure(self, address: Address, role: str) -> Structure:
        found = self._registry.find(address.structure_id) if address.structure_id.isdigit() else None
        if found is None:
            raise NotFound(
                f"A estrutura {address.structure_id} ({role}) não existe no repositório de estruturas."
            )
        return found

    def _nre_for(self, nre: str | None, nup: str) -> str:
        if nre is None:
            if self._tramites.by_nup(nup, None, 1).items:
                raise Conflict(
                    f"O processo {nup} já tramitou pelo barramento: informe o NRE dele em cabecalho.nre."
                )
            return uuid.uuid4().hex
        first = self._tramites.by_nre(nre, None, 1).items
        if not first:
            raise InvalidInput(
                "NRE desconhecido.", [FieldError("cabecalho.nre", "nenhum trâmite tem este NRE")]
            )
        if first[0].nup != nup:
            raise InvalidInput(
                "O NRE é de outro processo.",
                [FieldError("cabecalho.nre", f"pertence ao processo {first[0].nup}, não a {nup}")],
            )
        return nre

    def _in_custody(self, component: ListedComponent) -> bool:
        return component.matches(self._blobs.inspect(blob_key(component.sha256), sniff=False))

    # --- custody ------------------------------------------------------------------------------------

    def confirm_components(self, caller: Caller, idt: str) -> tuple[Tramite, SendReceipt]:
        """1 -> 2 once every component is in custody and intact; Conflict listing the missing or
        corrupt ones otherwise (a corrupt object is removed, so the sender can upload it again)."""
        tramite = self._party(caller, idt)
        if Role.REMETENTE not in tramite.roles_of(caller.agency_id):
            raise Forbidden(f"Só o remetente confirma os componentes do trâmite {idt}.")
        record = self._records.read(idt)
        receipt = record.send_receipt or self._issue_send_receipt(tramite, idt, record)
        # The receipt is stored before the move: a crash in between leaves a receipt and state 1, and the
        # retried confirmation finishes the move with the same receipt (the move is idempotent in 2-6).
        at = receipt.record.issued_at
        return self._update(tramite, lambda t: complete_upload(t, at)), receipt

    def uploads(self, caller: Caller, idt: str) -> tuple[ComponentUpload, ...]:
        """Fresh upload requests for the components the bus still lacks (state 1): after the first
        ones expired, or after custody discarded a corrupt file (a file in parts gets a new multipart
        upload). Empty once every component is in custody."""
        tramite = self._party(caller, idt)
        if Role.REMETENTE not in tramite.roles_of(caller.agency_id):
            raise Forbidden(f"Só o remetente envia os componentes do trâmite {idt}.")
        if tramite.state is not TramiteState.INICIADO:
            raise IllegalTransition(
                idt,
                tramite.state,
                Action.COMPLETE_UPLOAD,
                f"O trâmite {idt} está em '{tramite.state.label}' ({tramite.state.value}): o barramento já "
                "tem todos os componentes.",
            )
        record = self._records.read(idt)
        fresh: list[ComponentUpload] = []
        listed: list[ListedComponent] = []
        for item in record.components:
            if self._in_custody(item):
                listed.append(item)
                continue
            upload = self._upload_for(item.component())
            fresh.append(upload.upload)
            listed.append(replace(item, multipart_id=upload.multipart_id or item.multipart_id))
        if tuple(listed) != record.components:
            self._records.write(idt, record.with_components(tuple(listed)))
        return tuple(fresh)

    def _issue_send_receipt(self, tramite: Tramite, idt: str, record: TramiteRecord) -> SendReceipt:
        """Checks custody of every component, then stamps and stores the recibo de envio."""
        missing: list[str] = []
        corrupt: list[str] = []
        for item in record.components:
            key = blob_key(item.sha256)
            if item.multipart_id:  # join the parts first; a second join is harmless
                try:
                    self._blobs.complete_multipart(key, item.multipart_id, item.declaration())
                except ContentMismatch:
                    missing.append(item.sha256)
                    continue
            stored = self._blobs.inspect(key, sniff=False)
            if stored is None:
                missing.append(item.sha256)
            elif not item.matches(stored):
                self._blobs.discard(key)
                corrupt.append(item.sha256)
        if missing or corrupt:
            fields = [FieldError(f"componentes.{sha}", "não foi enviado") for sha in missing] + [
                FieldError(
                    f"componentes.{sha}", "chegou diferente do declarado e foi descartado; envie de novo"
                )
                for sha in corrupt
            ]
            raise Conflict(
                f"O barramento ainda não tem todos os componentes do trâmite {idt}: "
                f"{len(missing)} faltando, {len(corrupt)} corrompido(s).",
                fields,
            )
        now = self._clock.now()
        receipt_record = SendReceiptRecord.for_tramite(tramite, record.hashes, now)
        canonical = receipt_record.to_canonical()
        receipt = SendReceipt(receipt_record, canonical, self._signer.sign(canonical))
        self._records.write(idt, replace(record, send_receipt=receipt))
        return receipt

    # --- receiving ----------------------------------------------------------------------------------

    def get(self, caller: Caller, idt: str) -> TramiteView:
        """A party's view; the receiver's read of a trâmite in state 2 moves it to 3 (metadados recebidos)."""
        tramite = self._party(caller, idt)
        if Role.DESTINATARIO in tramite.roles_of(caller.agency_id):
            by = self._actor(caller)
            tramite = self._update(tramite, lambda t: fetch_metadata(t, by, self._clock.now()))
        record = self._records.read(idt)
        manifest = self._manifest_json(idt, record)
        return TramiteView(tramite, manifest, record.manifest_sha256, record.send_receipt)

    def download(self, caller: Caller, idt: str, sha256: str) -> ComponentDownload:
        """A presigned GET of one component. The receiver's downloads are recorded in state 3, and the
        last one moves the trâmite to 4; the sender may download too, once the bus has them all."""
        tramite = self._party(caller, idt)
        record = self._records.read(idt)
        item = record.component(sha256)
        if item is None:
            raise NotFound(f"O trâmite {idt} não tem um componente digital com o SHA-256 {sha256}.")
        if Role.DESTINATARIO in tramite.roles_of(caller.agency_id):
            by = self._actor(caller)
            hashes = frozenset(record.hashes)
            tramite = self._update(
                tramite, lambda t: fetch_component(t, sha256, hashes, by, self._clock.now())
            )
        elif tramite.state is TramiteState.INICIADO:
            raise IllegalTransition(
                idt,
                tramite.state,
                Action.FETCH_COMPONENTS,
                f"O trâmite {idt} ainda espera os componentes digitais: baixe-os depois da custódia "
                "(estado 2).",
            )
        url = self._blobs.presign_get(blob_key(sha256), item.name, item.media_type, DOWNLOAD_EXPIRES)
        return ComponentDownload(sha256, item.size, url, DOWNLOAD_EXPIRES, tramite)

    def take_delivery(self, caller: Caller, idt: str) -> Tramite:
        """The receiver takes the whole trâmite at once, as a system hosted here does (its components are
        already where the bus keeps them): metadata and every component recorded, 2 -> 4 in one write;
        a no-op from 4 to 6."""
        tramite = self._party(caller, idt)
        by = self._actor(caller)
        hashes = frozenset(self._records.read(idt).hashes)
        now = self._clock.now()

        def take(current: Tramite) -> Tramite:
            taken = fetch_metadata(current, by, now)
            for sha256 in sorted(hashes):
                taken = fetch_component(taken, sha256, hashes, by, now)
            return current if taken.state is current.state and taken.fetched == current.fetched else taken

        return self._update(tramite, take)

    def statement(self, caller: Caller, idt: str) -> bytes:
        """What the receiver signs to add its own signature to the recibo (receipts.receiver_statement)."""
        tramite = self._party(caller, idt)
        if Role.DESTINATARIO not in tramite.roles_of(caller.agency_id):
            raise Forbidden(f"Só o destinatário assina o recibo de conclusão do trâmite {idt}.")
        return receiver_statement(tramite, self._records.read(idt).hashes)

    def conclude(self, caller: Caller, idt: str, signature: ReceiverSignature | None = None) -> Tramite:
        """4 -> 5: the bus builds the recibo de conclusão over the trâmite and its components' hashes
        (and the receiver's own signature, when given and valid), stamps it with the platform key and
        stores it with the move, in one conditional write."""
        tramite = self._party(caller, idt)
        by = self._actor(caller)
        check_move(tramite, Action.SEND_RECEIPT, by)  # before the signing call, which costs
        hashes = self._records.read(idt).hashes
        if signature is not None:
            self._check_receiver_signature(caller.agency_id, receiver_statement(tramite, hashes), signature)
        now = self._clock.now()
        canonical = ReceiptRecord.for_tramite(tramite, hashes, now, signature).to_canonical()
        issued = IssuedReceipt(canonical, self._signer.sign(canonical))
        return self._update(tramite, lambda t: send_receipt(t, by, now, issued))

    def _check_receiver_signature(
        self, agency_id: str, statement: bytes, signature: ReceiverSignature
    ) -> None:
        key = next((k for k in self._agency_keys.keys_of(agency_id) if k.id == signature.key_id), None)
        if key is None or not key.active:
            state = "revogada" if key is not None else "não registrada pelo seu órgão"
            raise InvalidInput(
                "Chave de assinatura inválida.",
                [FieldError("assinatura.chave", f"a chave {signature.key_id} está {state}")],
            )
        if not verify_signature(key, statement, signature.value):
            raise InvalidInput(
                "A assinatura do destinatário não confere.",
                [
                    FieldError(
                        "assinatura.valor",
                        "não é uma assinatura SHA-256 da declaração do recibo "
                        "(GET .../recibo/declaracao) com esta chave",
                    )
                ],
            )

    def refuse(self, caller: Caller, idt: str, refusal: Refusal) -> Tramite:
        """2-4 -> 8, with the motivo and justificativa the sender will see."""
        by = self._actor(caller)
        return self._update(self._party(caller, idt), lambda t: refuse(t, by, self._clock.now(), refusal))

    # --- closing ------------------------------------------------------------------------------------

    def receipt(self, caller: Caller, idt: str) -> Tramite:
        """The trâmite with its recibo de conclusão. The sender's first fetch moves 5 -> 6 (the process
        is delivered); the receiver may read the receipt it sent, without a move."""
        tramite = self._party(caller, idt)
        if Role.REMETENTE in tramite.roles_of(caller.agency_id):
            by = self._actor(caller)
            return self._update(tramite, lambda t: fetch_receipt(t, by, self._clock.now()))
        if tramite.receipt is None:
            raise IllegalTransition(
                idt,
                tramite.state,
                Action.FETCH_RECEIPT,
                f"O trâmite {idt} está em '{tramite.state.label}' ({tramite.state.value}): ainda não "
                "tem recibo de conclusão.",
            )
        return tramite

    def acknowledge_refusal(self, caller: Caller, idt: str) -> Tramite:
        """8 -> 9: the sender saw the refusal; its process is unlocked."""
        by = self._actor(caller)
        return self._update(self._party(caller, idt), lambda t: acknowledge_refusal(t, by, self._clock.now()))

    def cancel(self, caller: Caller, idt: str, reason: str | None = None) -> Tramite:
        """1-4 -> 7 by the sender (`reason`: an operator's, on its behalf; kept in the history)."""
        by = self._actor(caller)
        return self._update(self._party(caller, idt), lambda t: cancel(t, by, self._clock.now(), reason))

    def cancel_stalled(self, batch: int = 50) -> list[str]:
        """The schedule's work: every trâmite in 1-4 past its deadline goes to 10. A trâmite that moved
        meanwhile is left alone (its deadline moved with it). Returns the IDTs cancelled."""
        now = self._clock.now()
        cancelled: list[str] = []
        cursor: str | None = None
        while True:
            page = self._tramites.due_for_auto_cancel(now, cursor, batch)
            for due in page.items:
                try:
                    self._tramites.save(auto_cancel(due, now, self._auto_cancel_days))
                except Conflict:
                    continue  # changed since the index was read: the next run sees its new deadline
                cancelled.append(due.idt)
            cursor = page.cursor
            if cursor is None:
                return cancelled

    # --- reads --------------------------------------------------------------------------------------

    def pendencies(
        self, caller: Caller, cursor: str | None = None, limit: int = 50, wait: int = 0
    ) -> Page[Pendency]:
        """The caller's pendências. With `wait` (seconds, up to MAX_WAIT) and nothing pending, the
        request stays open, polling the index, until something arrives or the time is up."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                "Tamanho de página inválido.", [FieldError("limite", f"deve estar entre 1 e {MAX_PAGE}")]
            )
        if not 0 <= wait <= MAX_WAIT:
            raise InvalidInput(
                "Espera inválida.", [FieldError("espera", f"deve estar entre 0 e {MAX_WAIT} segundos")]
            )
        polls = math.ceil(wait / POLL_EVERY)
        while True:
            page = self._tramites.pending_for(caller.agency_id, cursor, limit)
            items = [p for t in page.items if (p := pendency_for(t, caller.agency_id)) is not None]
            if items or page.cursor or polls <= 0:
                return Page(items, page.cursor)
            polls -= 1
            self._sleep(POLL_EVERY)

    def find(
        self,
        caller: Caller,
        *,
        idt: str | None = None,
        nre: str | None = None,
        nup: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[Tramite]:
        """The caller's trâmites of one IDT, NRE or NUP (exactly one), oldest first, each with its whole
        state history. Trâmites between other agencies are left out."""
        given = [name for name, value in (("idt", idt), ("nre", nre), ("nup", nup)) if value]
        if len(given) != 1:
            raise InvalidInput(
                "Informe exatamente um filtro.",
                [FieldError(name, "use um só: idt, nre ou nup") for name in given or ["idt", "nre", "nup"]],
            )
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                "Tamanho de página inválido.", [FieldError("limite", f"deve estar entre 1 e {MAX_PAGE}")]
            )
        if idt:
            found = self._tramites.get(idt)
            mine = found is not None and bool(found.roles_of(caller.agency_id))
            return Page([found] if found is not None and mine else [], None)
        digits = "".join(c for c in nup or "" if c.isdigit())
        if nre:
            page = self._tramites.by_nre(nre, cursor, limit)
        elif digits:
            page = self._tramites.by_nup(digits, cursor, limit)
        else:  # a NUP without a digit names no process (and DynamoDB refuses an empty key)
            return Page([], None)
        return Page([t for t in page.items if t.roles_of(caller.agency_id)], page.cursor)

    def known_nre(self, nup: str) -> str | None:
        """The NRE of a process that already travelled through the bus (one per NUP, for good)."""
        first = self._tramites.by_nup(nup, None, 1).items
        return first[0].nre if first else None

    def tramite(self, idt: str) -> Tramite:
        """A trâmite as stored, for the bus's own workers (no party check: never behind an API route)."""
        found = self._tramites.get(idt)
        if found is None:
            raise tramite_not_found(idt)
        return found

    def _party(self, caller: Caller, idt: str) -> Tramite:
        tramite = self._tramites.get(idt)
        if tramite is None:
            raise tramite_not_found(idt)
        tramite.require_party(caller.agency_id)
        return tramite

    @staticmethod
    def _actor(caller: Caller) -> Actor:
        return Actor(caller.agency_id, caller.client_id)

    def _update(self, tramite: Tramite, move: Callable[[Tramite], Tramite]) -> Tramite:
        """Applies `move` and saves it on the version read; when another write got there first, reads
        again and re-applies (the domain then decides: same result, no-op, or a 409 naming the state
        the other write left). No write when the move changes nothing."""
        for _ in range(MOVE_ATTEMPTS - 1):
            moved = move(tramite)
            if moved is tramite:
                return tramite
            try:
                return self._tramites.save(moved)
            except Conflict:
                fresh = self._tramites.get(tramite.idt)
                if fresh is None:
                    raise tramite_not_found(tramite.idt) from None
                tramite = fresh
        moved = move(tramite)
        return tramite if moved is tramite else self._tramites.save(moved)


@dataclass(frozen=True)
class _Upload:
    upload: ComponentUpload
    multipart_id: str | None  # a multipart upload this send started (joined at custody)
