"""Trâmites: the record of one transfer and the pure functions that move it between states.

A trâmite is one transfer of a process from a sender to a receiver. Each move is a pure function
that returns the new Trâmite (its history one item longer) or raises, checking in this order:

1. the caller's agency is a party (sender or receiver). Otherwise NotFound: a trâmite of other
   agencies looks exactly like one that does not exist (the tenancy rule of the whole API).
2. the caller is the party the move belongs to. Otherwise WrongParty (a Forbidden, 403): the
   caller does see the trâmite, so hiding it would mislead, and no state would ever let it act, so
   a 409 (which says "not now") would mislead too. Moves of the bus itself (custody, automatic
   cancel) skip both checks.
3. the current state allows the move. Otherwise IllegalTransition (a Conflict, 409), whose detail
   names the current state, the refused move and what can be done in that state.

Moves that record a fact the caller observed (all components in custody, metadata or components
downloaded, receipt fetched) change nothing when the trâmite is already past them on its normal
path: a redelivered message or a second download is harmless. Decisions (receipt, refusal,
cancel, ciência, automatic cancel) are never repeated: a second one is a Conflict, which is what
makes a receipt and a refusal racing for the same trâmite end with exactly one winner.

    1 iniciado --(bus: all components in custody)--> 2 --(receiver: metadata)--> 3
    3 --(receiver: components)--> 4 --(receiver: recibo)--> 5 --(sender: fetches recibo)--> 6
    1..4 --(sender: cancel)--> 7          2..4 --(receiver: recusa)--> 8 --(sender: ciência)--> 9
    1..4 --(bus: 8 days with no state change)--> 10
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from types import MappingProxyType

from chalicelib.domain.bus.addresses import BUS, BUS_ID_PATTERN, Actor, Address, Role, address_problems
from chalicelib.domain.bus.refusal import Refusal
from chalicelib.domain.bus.states import (
    AUTO_CANCEL_DAYS,
    AUTO_CANCEL_STATES,
    LEGAL_MOVES,
    MOVES,
    Action,
    IllegalTransition,
    TramiteState,
    WrongParty,
    tramite_not_found,
)
from chalicelib.domain.errors import FieldError, Forbidden, InvalidInput
from chalicelib.domain.nup import parse_current_nup
from chalicelib.domain.signatures import Stamp

# --- the trâmite ---------------------------------------------------------------------------------------


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a time zone (use UTC)")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class StateChange:
    """One item of a trâmite's history: the state it entered, when, who moved it, and a pt-BR note."""

    state: TramiteState
    at: datetime
    by: Actor
    detail: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at, "at"))


@dataclass(frozen=True)
class IssuedReceipt:
    """A recibo de conclusão as issued: the exact bytes stamped (RFC 8785, see receipts.ReceiptRecord)
    and the platform's stamp over them. It travels with the move to state 5, in the same write, so a
    trâmite in 5 or 6 always has one and a refused trâmite never does."""

    canonical: bytes
    stamp: Stamp


_WITH_RECEIPT = frozenset({TramiteState.RECIBO_ENVIADO, TramiteState.RECIBO_RECEBIDO})


@dataclass(frozen=True)
class Tramite:
    """One transfer of a process. `history` holds every state change, the first one into state 1;
    its last item is the current state. `fetched` holds the SHA-256 of the components the receiver
    has downloaded so far (state 3), `receipt` the recibo de conclusão (states 5 and 6). Built by
    `start` and the move functions, or read back from the store (the invariants are checked either
    way)."""

    idt: str
    nre: str
    nup: str  # 17 digits
    sender: Address
    receiver: Address
    sender_agency_id: str
    receiver_agency_id: str
    history: tuple[StateChange, ...]
    refusal: Refusal | None = None
    fetched: frozenset[str] = frozenset()
    receipt: IssuedReceipt | None = None
    version: int = 0

    def __post_init__(self) -> None:
        if not self.history or self.history[0].state is not TramiteState.INICIADO:
            raise ValueError("a trâmite's history starts in state 1")
        states = [change.state for change in self.history]
        if not all(pair in LEGAL_MOVES for pair in pairwise(states)):
            raise ValueError(f"a trâmite's history has an illegal move: {states}")
        refused = self.state in (TramiteState.RECUSADO, TramiteState.CIENCIA_RECUSA)
        if refused != (self.refusal is not None):
            raise ValueError("a trâmite carries its refusal exactly in states 8 and 9")
        if (self.state in _WITH_RECEIPT) != (self.receipt is not None):
            raise ValueError("a trâmite carries its recibo de conclusão exactly in states 5 and 6")

    @property
    def state(self) -> TramiteState:
        return self.history[-1].state

    @property
    def created_at(self) -> datetime:
        return self.history[0].at

    @property
    def updated_at(self) -> datetime:
        """When the state last changed (repeated downloads do not count)."""
        return self.history[-1].at

    def roles_of(self, agency_id: str) -> frozenset[Role]:
        """The roles `agency_id` plays here: none, one, or (an agency sending to itself) both."""
        roles = set()
        if agency_id == self.sender_agency_id:
            roles.add(Role.REMETENTE)
        if agency_id == self.receiver_agency_id:
            roles.add(Role.DESTINATARIO)
        return frozenset(roles)

    def require_party(self, agency_id: str) -> frozenset[Role]:
        """The caller's roles; NotFound when it has none (it may not even learn the trâmite exists)."""
        roles = self.roles_of(agency_id)
        if not roles:
            raise tramite_not_found(self.idt)
        return roles


def start(
    *,
    idt: str,
    nre: str,
    nup: str,
    sender: Address,
    receiver: Address,
    sender_agency_id: str,
    receiver_agency_id: str,
    by: Actor,
    at: datetime,
) -> Tramite:
    """A new trâmite in state 1. InvalidInput lists bad ids, addresses and NUP; Forbidden when the
    caller is not the agency of the sender address (the service resolves both from the registry)."""
    problems: list[FieldError] = []
    for name, value in (("idt", idt), ("nre", nre)):
        if not BUS_ID_PATTERN.match(value):
            problems.append(FieldError(name, "use até 64 letras, dígitos ou hífens"))
    problems += address_problems(sender, "remetente") + address_problems(receiver, "destinatario")
    if sender == receiver:
        problems.append(FieldError("destinatario", "deve ser diferente do remetente"))
    try:
        digits = parse_current_nup(nup).digits
    except InvalidInput as error:
        problems += error.fields
        digits = nup
    if problems:
        raise InvalidInput("O trâmite tem dados inválidos.", problems)
    if by.agency_id != sender_agency_id:
        raise Forbidden(f"O endereço remetente {sender} não pertence ao seu órgão.")
    note = f"Trâmite iniciado de {sender} para {receiver}; aguardando os componentes digitais."
    return Tramite(
        idt=idt,
        nre=nre,
        nup=digits,
        sender=sender,
        receiver=receiver,
        sender_agency_id=sender_agency_id,
        receiver_agency_id=receiver_agency_id,
        history=(StateChange(TramiteState.INICIADO, at, by, note),),
    )


def _check_party(tramite: Tramite, action: Action, by: Actor) -> None:
    move = MOVES[action]
    if move.by is not None:
        roles = tramite.require_party(by.agency_id)
        if move.by not in roles:
            raise WrongParty(tramite.idt, move.by, action)


def _move(
    tramite: Tramite,
    action: Action,
    by: Actor,
    at: datetime,
    detail: str,
    *,
    refusal: Refusal | None = None,
    receipt: IssuedReceipt | None = None,
) -> Tramite:
    _check_party(tramite, action, by)
    move = MOVES[action]
    if tramite.state in move.already:
        return tramite
    if tramite.state not in move.sources:
        raise IllegalTransition(tramite.idt, tramite.state, action)
    change = StateChange(move.target, at, by, detail)
    keep_refusal = tramite.refusal if move.target is TramiteState.CIENCIA_RECUSA else None
    keep_receipt = tramite.receipt if move.target is TramiteState.RECIBO_RECEBIDO else None
    return replace(
        tramite,
        history=(*tramite.history, change),
        refusal=refusal or keep_refusal,
        receipt=receipt or keep_receipt,
    )


def check_move(tramite: Tramite, action: Action, by: Actor) -> None:
    """Raises what the move would raise now (not a party, wrong party, illegal state), without making
    it: for a service that must know before it does costly work (e.g. signing a receipt)."""
    _check_party(tramite, action, by)
    move = MOVES[action]
    if tramite.state not in move.sources and tramite.state not in move.already:
        raise IllegalTransition(tramite.idt, tramite.state, action)


def complete_upload(tramite: Tramite, at: datetime, by: Actor = BUS) -> Tramite:
    """1 -> 2: the bus holds every component, intact (it then issues the recibo de envio)."""
    note = "Todos os componentes digitais estão no barramento, íntegros; recibo de envio emitido."
    return _move(tramite, Action.COMPLETE_UPLOAD, by, at, note)


def fetch_metadata(tramite: Tramite, by: Actor, at: datetime) -> Tramite:
    """2 -> 3: the receiver downloaded the metadata (no-op from 3 to 6)."""
    return _move(tramite, Action.FETCH_METADATA, by, at, "Metadados baixados pelo destinatário.")


def fetch_components(tramite: Tramite, by: Actor, at: datetime) -> Tramite:
    """3 -> 4: the receiver downloaded every component (no-op from 4 to 6)."""
    return _move(tramite, Action.FETCH_COMPONENTS, by, at, "Componentes digitais baixados pelo destinatário.")


def fetch_component(
    tramite: Tramite, sha256: str, component_hashes: frozenset[str], by: Actor, at: datetime
) -> Tramite:
    """The receiver downloaded one component (`component_hashes`: every component of the trâmite).
    In state 3 it is recorded, and the last one moves the trâmite to 4; from 4 to 6 nothing changes
    (a second download is harmless). Before 3, IllegalTransition: the metadata come first."""
    _check_party(tramite, Action.FETCH_COMPONENTS, by)
    if sha256 not in component_hashes:
        raise ValueError("the component is not one of the trâmite's")
    if tramite.state in MOVES[Action.FETCH_COMPONENTS].already or sha256 in tramite.fetched:
        return tramite
    if tramite.state is not TramiteState.METADADOS_RECEBIDOS:
        raise IllegalTransition(tramite.idt, tramite.state, Action.FETCH_COMPONENTS)
    recorded = replace(tramite, fetched=tramite.fetched | {sha256})
    if recorded.fetched >= component_hashes:
        return fetch_components(recorded, by, at)
    return recorded


def send_receipt(tramite: Tramite, by: Actor, at: datetime, receipt: IssuedReceipt) -> Tramite:
    """4 -> 5: the receiver sent the recibo de conclusão (issued and stamped by the bus)."""
    note = "Recibo de conclusão enviado pelo destinatário."
    return _move(tramite, Action.SEND_RECEIPT, by, at, note, receipt=receipt)


def fetch_receipt(tramite: Tramite, by: Actor, at: datetime) -> Tramite:
    """5 -> 6: the sender fetched the recibo; its process is concluded as sent (no-op in 6)."""
    note = "Recibo de conclusão obtido pelo remetente; processo concluído como enviado."
    return _move(tramite, Action.FETCH_RECEIPT, by, at, note)


def cancel(tramite: Tramite, by: Actor, at: datetime, reason: str | None = None) -> Tramite:
    """1-4 -> 7: the sender cancels; its process unlocks. Never from 5 or 6. `reason`: the platform's
    operators cancelling on the sender's behalf say why, and the history keeps it."""
    note = "Trâmite cancelado pelo remetente; processo desbloqueado."
    if reason:
        note = (
            f"Trâmite cancelado pela operação da plataforma em nome do remetente: {reason}; "
            "processo desbloqueado."
        )
    return _move(tramite, Action.CANCEL, by, at, note)


def refuse(tramite: Tramite, by: Actor, at: datetime, refusal: Refusal) -> Tramite:
    """2-4 -> 8: the receiver refuses, with a motivo (see refusal.parse_refusal)."""
    note = f"Trâmite recusado pelo destinatário: {refusal.summary}."
    return _move(tramite, Action.REFUSE, by, at, note, refusal=refusal)


def acknowledge_refusal(tramite: Tramite, by: Actor, at: datetime) -> Tramite:
    """8 -> 9: the sender's ciência of the refusal; its process unlocks."""
    note = "Ciência da recusa dada pelo remetente; processo desbloqueado."
    return _move(tramite, Action.ACKNOWLEDGE_REFUSAL, by, at, note)


# --- automatic cancel -----------------------------------------------------------------------------------


def auto_cancel_at(tramite: Tramite, days: int = AUTO_CANCEL_DAYS) -> datetime | None:
    """When the trâmite becomes due for automatic cancel if its state does not change before:
    `days` full days (24 h each, weekends and holidays included) after its last state change.
    None in a state the rule does not cover (5 to 10)."""
    if days < 1:
        raise ValueError("the automatic cancel needs at least 1 day")
    if tramite.state not in AUTO_CANCEL_STATES:
        return None
    return tramite.updated_at + timedelta(days=days)


def due_for_auto_cancel(tramite: Tramite, now: datetime, days: int = AUTO_CANCEL_DAYS) -> bool:
    deadline = auto_cancel_at(tramite, days)
    return deadline is not None and _utc(now, "now") >= deadline


def auto_cancel(tramite: Tramite, now: datetime, days: int = AUTO_CANCEL_DAYS) -> Tramite:
    """1-4 -> 10 once due (see auto_cancel_at); IllegalTransition before that or in another state."""
    deadline = auto_cancel_at(tramite, days)
    if deadline is not None and _utc(now, "now") < deadline:
        raise IllegalTransition(
            tramite.idt,
            tramite.state,
            Action.AUTO_CANCEL,
            f"O trâmite {tramite.idt} está em '{tramite.state.label}' ({tramite.state.value}) desde "
            f"{tramite.updated_at:%d/%m/%Y %H:%M} (UTC); o cancelamento automático só ocorre após {days} "
            f"dias sem mudança de estado, a partir de {deadline:%d/%m/%Y %H:%M} (UTC).",
        )
    note = f"Trâmite cancelado automaticamente: {days} dias sem mudança de estado; processo desbloqueado."
    return _move(tramite, Action.AUTO_CANCEL, BUS, now, note)


# --- what each party may and must do ---------------------------------------------------------------------


def allowed_actions(tramite: Tramite, agency_id: str) -> tuple[Action, ...]:
    """The moves `agency_id` may make now that change the state (in Action order); empty for an
    agency that is not a party."""
    roles = tramite.roles_of(agency_id)
    return tuple(
        action
        for action, move in MOVES.items()
        if move.by is not None and move.by in roles and tramite.state in move.sources
    )


# The work a state waits for: whose it is and what to do.
_PENDING: Mapping[TramiteState, tuple[Role, tuple[Action, ...]]] = MappingProxyType(
    {
        TramiteState.COMPONENTES_ENVIADOS: (Role.DESTINATARIO, (Action.FETCH_METADATA, Action.REFUSE)),
        TramiteState.METADADOS_RECEBIDOS: (Role.DESTINATARIO, (Action.FETCH_COMPONENTS, Action.REFUSE)),
        TramiteState.COMPONENTES_RECEBIDOS: (Role.DESTINATARIO, (Action.SEND_RECEIPT, Action.REFUSE)),
        TramiteState.RECIBO_ENVIADO: (Role.REMETENTE, (Action.FETCH_RECEIPT,)),
        TramiteState.RECUSADO: (Role.REMETENTE, (Action.ACKNOWLEDGE_REFUSAL,)),
    }
)
PENDING_STATES = frozenset(_PENDING)


@dataclass(frozen=True)
class Pendency:
    """Work a party has to do on a trâmite (a pendência): the receiver in states 2 to 4, the sender
    in 5 (fetch the receipt) and 8 (acknowledge the refusal)."""

    idt: str
    nre: str
    state: TramiteState
    role: Role
    actions: tuple[Action, ...]
    since: datetime


def pending_agency(tramite: Tramite) -> str | None:
    """The agency the trâmite waits for (the key of a pendências index), or None."""
    pending = _PENDING.get(tramite.state)
    if pending is None:
        return None
    return tramite.receiver_agency_id if pending[0] is Role.DESTINATARIO else tramite.sender_agency_id


def pendency_for(tramite: Tramite, agency_id: str) -> Pendency | None:
    """What `agency_id` has to do on this trâmite, or None (nothing, or not a party)."""
    pending = _PENDING.get(tramite.state)
    if pending is None or pending[0] not in tramite.roles_of(agency_id):
        return None
    role, actions = pending
    return Pendency(tramite.idt, tramite.nre, tramite.state, role, actions, tramite.updated_at)
