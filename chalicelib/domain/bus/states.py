"""The national bus's ten trâmite states, the table of legal moves, and the errors of a refused move.

The functions that make the moves are in chalicelib/domain/bus/tramites.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType

from chalicelib.domain.bus.addresses import Role
from chalicelib.domain.errors import Conflict, Forbidden, NotFound

AUTO_CANCEL_DAYS = 8
"""The national rule (Tramita.GOV.BR, 2023): a trâmite that completes 8 calendar days ("dias
corridos") with no state change while in states 1 to 4 is cancelled automatically (state 10)."""


class TramiteState(IntEnum):
    """The national bus's state codes."""

    INICIADO = 1
    COMPONENTES_ENVIADOS = 2
    METADADOS_RECEBIDOS = 3
    COMPONENTES_RECEBIDOS = 4
    RECIBO_ENVIADO = 5
    RECIBO_RECEBIDO = 6
    CANCELADO = 7
    RECUSADO = 8
    CIENCIA_RECUSA = 9
    CANCELADO_AUTOMATICAMENTE = 10

    @property
    def label(self) -> str:
        """The pt-BR name people see, e.g. "recusado"."""
        return _STATE_LABELS[self]

    @property
    def final(self) -> bool:
        """No move leaves this state (6, 7, 9, 10). Any other trâmite is open, and a process has at
        most one open trâmite."""
        return self in FINAL_STATES

    @property
    def sender_lock(self) -> SenderLock:
        return _SENDER_LOCK[self]

    @property
    def locks_sender(self) -> bool:
        """Whether the process is locked (read-only) at the sender: 1 to 5 and 8."""
        return self.sender_lock is SenderLock.BLOQUEADO


_STATE_LABELS: Mapping[TramiteState, str] = MappingProxyType(
    {
        TramiteState.INICIADO: "iniciado",
        TramiteState.COMPONENTES_ENVIADOS: "componentes enviados",
        TramiteState.METADADOS_RECEBIDOS: "metadados recebidos pelo destinatário",
        TramiteState.COMPONENTES_RECEBIDOS: "componentes recebidos pelo destinatário",
        TramiteState.RECIBO_ENVIADO: "recibo de conclusão enviado",
        TramiteState.RECIBO_RECEBIDO: "recibo de conclusão recebido",
        TramiteState.CANCELADO: "cancelado",
        TramiteState.RECUSADO: "recusado",
        TramiteState.CIENCIA_RECUSA: "ciência da recusa",
        TramiteState.CANCELADO_AUTOMATICAMENTE: "cancelado automaticamente",
    }
)

FINAL_STATES = frozenset(
    {
        TramiteState.RECIBO_RECEBIDO,
        TramiteState.CANCELADO,
        TramiteState.CIENCIA_RECUSA,
        TramiteState.CANCELADO_AUTOMATICAMENTE,
    }
)
_UPLOADED_TO_RECEIPT = frozenset(TramiteState(code) for code in (2, 3, 4, 5, 6))
AUTO_CANCEL_STATES = frozenset(TramiteState(code) for code in (1, 2, 3, 4))


class SenderLock(StrEnum):
    """What a trâmite in a given state means for the process at the sender."""

    BLOQUEADO = "bloqueado"  # 1-5 and 8: in transit, read-only at the sender
    ENVIADO = "enviado"  # 6: delivered; the process is concluded at the sender as sent
    DESBLOQUEADO = "desbloqueado"  # 7, 9, 10: back in the sender's hands


_SENDER_LOCK: Mapping[TramiteState, SenderLock] = MappingProxyType(
    {
        **{TramiteState(code): SenderLock.BLOQUEADO for code in (1, 2, 3, 4, 5, 8)},
        TramiteState.RECIBO_RECEBIDO: SenderLock.ENVIADO,
        **{TramiteState(code): SenderLock.DESBLOQUEADO for code in (7, 9, 10)},
    }
)


class Action(StrEnum):
    """Every move of a trâmite."""

    COMPLETE_UPLOAD = "concluir-envio"  # bus: every component in custody and intact
    FETCH_METADATA = "receber-metadados"
    FETCH_COMPONENTS = "receber-componentes"
    SEND_RECEIPT = "enviar-recibo"
    FETCH_RECEIPT = "obter-recibo"
    CANCEL = "cancelar"
    REFUSE = "recusar"
    ACKNOWLEDGE_REFUSAL = "dar-ciencia"
    AUTO_CANCEL = "cancelar-automaticamente"  # bus


@dataclass(frozen=True)
class Move:
    """One row of the state machine."""

    by: Role | None  # None: the bus itself
    sources: frozenset[TramiteState]
    target: TramiteState
    already: frozenset[TramiteState]  # states where it already happened: the move is a no-op
    verb: str  # pt-BR, after "não é possível" / "só o remetente pode"


def _states(*codes: int) -> frozenset[TramiteState]:
    return frozenset(TramiteState(code) for code in codes)


MOVES: Mapping[Action, Move] = MappingProxyType(
    {
        Action.COMPLETE_UPLOAD: Move(
            None, _states(1), TramiteState.COMPONENTES_ENVIADOS, _UPLOADED_TO_RECEIPT,
            "concluir o envio dos componentes digitais",
        ),
        Action.FETCH_METADATA: Move(
            Role.DESTINATARIO, _states(2), TramiteState.METADADOS_RECEBIDOS, _states(3, 4, 5, 6),
            "receber os metadados",
        ),
        Action.FETCH_COMPONENTS: Move(
            Role.DESTINATARIO, _states(3), TramiteState.COMPONENTES_RECEBIDOS, _states(4, 5, 6),
            "registrar o recebimento dos componentes digitais",
        ),
        Action.SEND_RECEIPT: Move(
            Role.DESTINATARIO, _states(4), TramiteState.RECIBO_ENVIADO, frozenset(),
            "enviar o recibo de conclusão",
        ),
        Action.FETCH_RECEIPT: Move(
            Role.REMETENTE, _states(5), TramiteState.RECIBO_RECEBIDO, _states(6),
            "obter o recibo de conclusão",
        ),
        Action.CANCEL: Move(
            Role.REMETENTE, _states(1, 2, 3, 4), TramiteState.CANCELADO, frozenset(), "cancelar o trâmite"
        ),
        Action.REFUSE: Move(
            Role.DESTINATARIO, _states(2, 3, 4), TramiteState.RECUSADO, frozenset(), "recusar o trâmite"
        ),
        Action.ACKNOWLEDGE_REFUSAL: Move(
            Role.REMETENTE, _states(8), TramiteState.CIENCIA_RECUSA, frozenset(), "dar ciência da recusa"
        ),
        Action.AUTO_CANCEL: Move(
            None, AUTO_CANCEL_STATES, TramiteState.CANCELADO_AUTOMATICAMENTE, frozenset(),
            "cancelar o trâmite automaticamente",
        ),
    }
)  # fmt: skip

LEGAL_MOVES: frozenset[tuple[TramiteState, TramiteState]] = frozenset(
    (source, move.target) for move in MOVES.values() for source in move.sources
)
"""Every (from, to) pair a trâmite's history may show."""

# What can be done in each state, for the tail of a Conflict's detail.
_WHAT_NOW: Mapping[TramiteState, str] = MappingProxyType(
    {
        TramiteState.INICIADO: (
            "Neste estado, o remetente envia os componentes digitais que faltam ou cancela o trâmite."
        ),
        TramiteState.COMPONENTES_ENVIADOS: (
            "Neste estado, o destinatário baixa os metadados ou recusa o trâmite, e o remetente ainda "
            "pode cancelá-lo."
        ),
        TramiteState.METADADOS_RECEBIDOS: (
            "Neste estado, o destinatário baixa os componentes digitais ou recusa o trâmite, e o "
            "remetente ainda pode cancelá-lo."
        ),
        TramiteState.COMPONENTES_RECEBIDOS: (
            "Neste estado, o destinatário envia o recibo de conclusão ou recusa o trâmite, e o "
            "remetente ainda pode cancelá-lo."
        ),
        TramiteState.RECIBO_ENVIADO: "Neste estado, só é possível ao remetente obter o recibo de conclusão.",
        TramiteState.RECIBO_RECEBIDO: "O trâmite está concluído: nenhuma outra ação é possível.",
        TramiteState.CANCELADO: (
            "O remetente cancelou o trâmite: nenhuma outra ação é possível; para enviar o processo, "
            "inicie um novo trâmite."
        ),
        TramiteState.RECUSADO: "Neste estado, só é possível ao remetente dar ciência da recusa.",
        TramiteState.CIENCIA_RECUSA: (
            "O remetente já deu ciência da recusa: nenhuma outra ação é possível; para enviar o "
            "processo de novo, inicie um novo trâmite."
        ),
        TramiteState.CANCELADO_AUTOMATICAMENTE: (
            "O trâmite foi cancelado automaticamente por ficar parado além do prazo: nenhuma outra "
            "ação é possível; para enviar o processo, inicie um novo trâmite."
        ),
    }
)


# --- errors -------------------------------------------------------------------------------------------


def tramite_not_found(idt: str) -> NotFound:
    return NotFound(f"Trâmite {idt} não encontrado.")


class IllegalTransition(Conflict):
    """The current state does not allow the move (409). `current` is the state the trâmite is in,
    so the handler can show it without reading the message."""

    def __init__(self, idt: str, current: TramiteState, action: Action, detail: str | None = None) -> None:
        super().__init__(
            detail
            or (
                f"O trâmite {idt} está em '{current.label}' ({current.value}); não é possível "
                f"{MOVES[action].verb}. {_WHAT_NOW[current]}"
            )
        )
        self.idt = idt
        self.current = current
        self.action = action


class WrongParty(Forbidden):
    """A party of the trâmite attempted the other party's move (403): see the module docstring."""

    def __init__(self, idt: str, needed: Role, action: Action) -> None:
        other = Role.DESTINATARIO if needed is Role.REMETENTE else Role.REMETENTE
        super().__init__(
            f"Só o {needed.label} do trâmite {idt} pode {MOVES[action].verb}; o seu órgão é o "
            f"{other.label} deste trâmite."
        )
        self.idt = idt
        self.needed = needed
        self.action = action
