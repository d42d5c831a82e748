"""The bus for the agencies hosted on this platform: the platform is their bus client.

Sending: a hosted agency's process goes through the very same bus as anyone's (send, custody,
receipt), built from its copy here; its components are already in the content store, so nothing is
uploaded, and the process is locked while the trâmite is open.

The worker (`handle`): every trâmite state change reaches a queue (the trâmites table's stream feeds
it), and the platform does what a hosted party's system would do in that state:
- receiver hosted, state 2 to 4: check the agency's reception rules (refuse with the national motivo),
  take delivery (4), import the process into the receiving unit (exactly once per trâmite) and send
  the recibo de conclusão (5);
- sender hosted, for the trâmites the platform started from its processes (an agency may also use
  the bus API from a system of its own, which then closes its trâmites itself): fetch the recibo
  (5 -> 6) and conclude the process as sent; acknowledge a refusal (8 -> 9); unlock the process when
  the trâmite ends without delivery (7, 9, 10).

It acts on the trâmite's CURRENT state, read afresh, never on the state a message names: a late,
repeated or out-of-order message finds the work done and does nothing. Every step is idempotent, so
a crash at any point is repaired by the redelivery.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from chalicelib.domain.bus import (
    Address,
    IllegalTransition,
    Refusal,
    RefusalReason,
    Tramite,
    TramiteState,
    clip_justification,
)
from chalicelib.domain.catalogs import DOCUMENT_KINDS
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.domain.documents import FileLimits
from chalicelib.domain.errors import Conflict, DomainError, FieldError, Forbidden, InvalidInput
from chalicelib.domain.hosting import HostingProfile, reception_refusal
from chalicelib.services.bus import Bus
from chalicelib.services.ports import Clock, HostingRepository
from chalicelib.services.processes import Actor, Processes
from chalicelib.services.registry import Registry
from chalicelib.services.transfers import ProcessTransfers

PLATFORM_CLIENT = "plataforma"  # the client id the platform acts under for a hosted agency
REGISTRY_REPOSITORY = "1"  # the Repositório de Estruturas this platform keeps (the national id)
_BUS_SCOPE = frozenset({Scope.BARRAMENTO})


def _platform(agency_id: str) -> Caller:
    return Caller(agency_id, PLATFORM_CLIENT, _BUS_SCOPE)


class HostedBus:
    def __init__(
        self,
        bus: Bus,
        processes: Processes,
        transfers: ProcessTransfers,
        hosting: HostingRepository,
        registry: Registry,
        *,
        limits: Callable[[str], FileLimits],
        clock: Clock,
    ) -> None:
        self._bus = bus
        self._processes = processes
        self._transfers = transfers
        self._hosting = hosting
        self._registry = registry
        self._limits = limits
        self._clock = clock

    # --- hosting profiles ------------------------------------------------------------------------------

    def profile(self, agency_id: str) -> HostingProfile:
        return self._hosting.get(agency_id)

    def limits(self, agency_id: str) -> FileLimits:
        """The file limits the agency applies to its own documents, and so to what it receives."""
        return self._limits(agency_id)

    def set_hosted(self, agency_id: str, hosted: bool) -> HostingProfile:
        """The operator's switch (infra/ops/): the platform imports and closes this agency's trâmites."""
        if self._registry.find(agency_id) is None:
            raise InvalidInput(
                "Órgão desconhecido.", [FieldError("orgao", f"{agency_id} não está no registro")]
            )
        return self._hosting.put(replace(self._hosting.get(agency_id), hosted=hosted), self._clock.now())

    def set_kinds(self, agency_id: str, kinds: frozenset[int] | None) -> HostingProfile:
        """The espécies the agency accepts through the bus (None: all), set by its admin."""
        unknown = sorted(k for k in kinds or () if k not in DOCUMENT_KINDS)
        if unknown:
            raise InvalidInput(
                "Espécie documental desconhecida.",
                [FieldError("especies", f"não estão na lista nacional: {', '.join(map(str, unknown))}")],
            )
        if kinds is not None and not kinds:
            raise InvalidInput(
                "Lista de espécies vazia.",
                [FieldError("especies", "informe ao menos uma espécie, ou omita o campo para aceitar todas")],
            )
        return self._hosting.put(replace(self._hosting.get(agency_id), kinds=kinds), self._clock.now())

    # --- sending -----------------------------------------------------------------------------------------

    def send(
        self,
        actor: Actor,
        nup: str,
        unit_id: str,
        receivers: Sequence[Address],
        *,
        urgent: bool = False,
        urgency_reason: str | None = None,
    ) -> list[Tramite]:
        """Sends the agency's copy of `nup` from `unit_id` to every receiver: zero bytes uploaded (the
        components are in custody already), the process locked, each trâmite in state 2."""
        if not self._hosting.get(actor.agency_id).hosted:
            raise Forbidden(
                "O seu órgão não está hospedado nesta plataforma: envie processos pelo barramento "
                "(POST /barramento/tramites)."
            )
        caller = _platform(actor.agency_id)
        process = self._processes.get(actor.agency_id, nup)
        sender = Address(REGISTRY_REPOSITORY, unit_id)
        # A process keeps its NRE for good, even when its first send was cancelled before the lock.
        nre = process.nre or self._bus.known_nre(process.nup)
        manifest = self._transfers.outgoing_manifest(
            actor, nup, unit_id, sender, receivers, nre, urgent, urgency_reason
        )
        sent = self._bus.send(caller, manifest, receivers)
        idts = [t.idt for t in sent.tramites]
        try:
            if sent.uploads:  # a document's content is missing from the store: never send it incomplete
                missing = ", ".join(u.component.name for u in sent.uploads)
                raise Conflict(
                    f"O conteúdo destes arquivos não está no repositório de documentos: {missing}."
                )
            self._transfers.lock(
                actor.agency_id,
                nup,
                idts,
                sent.tramites[0].nre,
                actor.user,
                unit_id,
                expected_version=process.version,  # the manifest is of this version
            )
        except DomainError:
            for idt in idts:
                self._bus.cancel(caller, idt)
            raise
        return [self._bus.confirm_components(caller, idt)[0] for idt in idts]

    # --- the worker ---------------------------------------------------------------------------------------

    def handle(self, idt: str) -> str:
        """Does the platform's part on the trâmite in its current state; returns what it did (for the
        log): "importado", "recusado", "entregue", "desbloqueado" or "nada"."""
        tramite = self._bus.tramite(idt)
        if tramite.state in (
            TramiteState.COMPONENTES_ENVIADOS,
            TramiteState.METADADOS_RECEBIDOS,
            TramiteState.COMPONENTES_RECEBIDOS,
        ):
            if self._hosting.get(tramite.receiver_agency_id).hosted:
                return self._receive(tramite)
            return "nada"
        if tramite.history[0].by.client_id != PLATFORM_CLIENT:
            return "nada"  # sent by the agency's own system through the API: it closes the trâmite itself
        return self._close(tramite)

    def _receive(self, tramite: Tramite) -> str:
        agency = tramite.receiver_agency_id
        caller = _platform(agency)
        manifest = self._bus.manifest_of(tramite.idt)
        refusal = reception_refusal(self._hosting.get(agency), self._limits(agency), manifest)
        try:
            if refusal is not None:
                self._bus.refuse(caller, tramite.idt, refusal)
                return "recusado"
            taken = self._bus.take_delivery(caller, tramite.idt)
        except IllegalTransition:
            return "nada"  # the sender cancelled meanwhile: the message of that change closes it
        try:
            self._transfers.import_process(
                agency,
                tramite.receiver.structure_id,
                manifest,
                idt=tramite.idt,
                nre=tramite.nre,
                received_at=_custody_time(taken),
                sender_label=self._label(tramite.sender),
            )
        except DomainError as error:  # the process cannot live here as sent: the sender must know why
            self._bus.refuse(
                caller, tramite.idt, Refusal(RefusalReason.OUTRO, clip_justification(error.detail))
            )
            return "recusado"
        try:
            self._bus.conclude(caller, tramite.idt)
        except IllegalTransition as error:
            if error.current not in (TramiteState.RECIBO_ENVIADO, TramiteState.RECIBO_RECEBIDO):
                raise
        return "importado"

    def _close(self, tramite: Tramite) -> str:
        caller = _platform(tramite.sender_agency_id)
        agency, nup, idt = tramite.sender_agency_id, tramite.nup, tramite.idt
        if tramite.state is TramiteState.INICIADO:
            return "nada"  # the platform is still sending it (custody follows in the same request)
        if tramite.state is TramiteState.RECIBO_ENVIADO:
            tramite = self._bus.receipt(caller, idt)
        elif tramite.state is TramiteState.RECUSADO:
            tramite = self._bus.acknowledge_refusal(caller, idt)
        if idt not in self._processes.get(agency, nup).locked_by:
            return "nada"  # released already
        receiver = self._label(tramite.receiver)
        delivered = tramite.state is TramiteState.RECIBO_RECEBIDO
        if delivered:
            note = f"Recibo de conclusão do trâmite {idt} recebido: processo entregue a {receiver}."
        elif tramite.refusal is not None:
            note = f"Trâmite {idt} recusado por {receiver}: {tramite.refusal.summary}. Processo desbloqueado."
        elif tramite.state is TramiteState.CANCELADO_AUTOMATICAMENTE:
            note = f"Trâmite {idt} para {receiver} cancelado automaticamente (prazo). Processo desbloqueado."
        else:
            note = f"Trâmite {idt} para {receiver} cancelado. Processo desbloqueado."
        self._transfers.release(agency, nup, idt, delivered=delivered, note=note)
        return "entregue" if delivered else "desbloqueado"

    def _label(self, address: Address) -> str:
        """How people here read an address: the structure's acronym (e.g. PROTOCOLO/INSS)."""
        found = self._registry.find(address.structure_id)
        return found.acronym if found is not None else f"estrutura {address.structure_id}"


def _custody_time(tramite: Tramite) -> datetime:
    """When the trâmite reached custody (state 2): the same on every redelivery."""
    return next(c.at for c in tramite.history if c.state is TramiteState.COMPONENTES_ENVIADOS)
