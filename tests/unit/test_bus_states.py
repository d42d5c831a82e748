"""The trâmite state machine: every (state, move) pair, who may make each move, the sender's lock,
pendências, automatic cancel, and property tests over random sequences of moves.

The expected tables are written out here, not read from chalicelib.domain.bus.states, so a change
to the machine's table fails these tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.bus import (
    BUS,
    Action,
    Actor,
    Address,
    IllegalTransition,
    IssuedReceipt,
    Refusal,
    RefusalReason,
    Role,
    SenderLock,
    StateChange,
    Tramite,
    TramiteState,
    WrongParty,
    acknowledge_refusal,
    allowed_actions,
    auto_cancel,
    auto_cancel_at,
    cancel,
    check_move,
    complete_upload,
    due_for_auto_cancel,
    fetch_component,
    fetch_components,
    fetch_metadata,
    fetch_receipt,
    pendency_for,
    pending_agency,
    refuse,
    send_receipt,
    start,
)
from chalicelib.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from chalicelib.domain.signatures import Stamp

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SENDER = Actor("100", "cliente-100", "maria")
RECEIVER = Actor("200", "cliente-200")
STRANGER = Actor("300", "cliente-300")
NUP = "23037.001462/2021-65"
REFUSAL = Refusal(RefusalReason.COMPONENTE_CORROMPIDO, "O anexo 3 não confere.")
RECEIPT = IssuedReceipt(b"{}", Stamp("ECDSA_SHA_256", "chave-1", "c2lnbg==", T0))

# (from state, move) -> state after it. Anything not here and not a no-op is a 409.
LEGAL: dict[Action, dict[int, int]] = {
    Action.COMPLETE_UPLOAD: {1: 2},
    Action.FETCH_METADATA: {2: 3},
    Action.FETCH_COMPONENTS: {3: 4},
    Action.SEND_RECEIPT: {4: 5},
    Action.FETCH_RECEIPT: {5: 6},
    Action.CANCEL: {1: 7, 2: 7, 3: 7, 4: 7},
    Action.REFUSE: {2: 8, 3: 8, 4: 8},
    Action.ACKNOWLEDGE_REFUSAL: {8: 9},
    Action.AUTO_CANCEL: {1: 10, 2: 10, 3: 10, 4: 10},
}
# States where an observation already happened: the move returns the trâmite unchanged.
NO_OP: dict[Action, set[int]] = {
    Action.COMPLETE_UPLOAD: {2, 3, 4, 5, 6},
    Action.FETCH_METADATA: {3, 4, 5, 6},
    Action.FETCH_COMPONENTS: {4, 5, 6},
    Action.FETCH_RECEIPT: {6},
}
OWNER: dict[Action, Actor] = {
    Action.COMPLETE_UPLOAD: BUS,
    Action.FETCH_METADATA: RECEIVER,
    Action.FETCH_COMPONENTS: RECEIVER,
    Action.SEND_RECEIPT: RECEIVER,
    Action.FETCH_RECEIPT: SENDER,
    Action.CANCEL: SENDER,
    Action.REFUSE: RECEIVER,
    Action.ACKNOWLEDGE_REFUSAL: SENDER,
    Action.AUTO_CANCEL: BUS,
}
EXPECTED_PAIRS = {(a, b) for table in LEGAL.values() for a, b in table.items()}
LABELS = {
    1: "iniciado",
    2: "componentes enviados",
    3: "metadados recebidos pelo destinatário",
    4: "componentes recebidos pelo destinatário",
    5: "recibo de conclusão enviado",
    6: "recibo de conclusão recebido",
    7: "cancelado",
    8: "recusado",
    9: "ciência da recusa",
    10: "cancelado automaticamente",
}


def new_tramite(sender_agency: str = "100", receiver_agency: str = "200", by: Actor = SENDER) -> Tramite:
    return start(idt="123", nre="NRE-1", nup=NUP, sender=Address("1", "101"), receiver=Address("1", "201"),
                 sender_agency_id=sender_agency, receiver_agency_id=receiver_agency, by=by, at=T0)  # fmt: skip


def act(tramite: Tramite, action: Action, actor: Actor, at: datetime) -> Tramite:
    """Makes `action` as `actor`; the automatic cancel runs as the bus once due (`at` is pushed past
    the deadline so the state, not the clock, decides)."""
    moves: dict[Action, Callable[[], Tramite]] = {
        Action.COMPLETE_UPLOAD: lambda: complete_upload(tramite, at, actor),
        Action.FETCH_METADATA: lambda: fetch_metadata(tramite, actor, at),
        Action.FETCH_COMPONENTS: lambda: fetch_components(tramite, actor, at),
        Action.SEND_RECEIPT: lambda: send_receipt(tramite, actor, at, RECEIPT),
        Action.FETCH_RECEIPT: lambda: fetch_receipt(tramite, actor, at),
        Action.CANCEL: lambda: cancel(tramite, actor, at),
        Action.REFUSE: lambda: refuse(tramite, actor, at, REFUSAL),
        Action.ACKNOWLEDGE_REFUSAL: lambda: acknowledge_refusal(tramite, actor, at),
        Action.AUTO_CANCEL: lambda: auto_cancel(tramite, max(at, tramite.updated_at + timedelta(days=8))),
    }
    return moves[action]()


PATHS: dict[int, list[Action]] = {
    1: [],
    2: [Action.COMPLETE_UPLOAD],
    3: [Action.COMPLETE_UPLOAD, Action.FETCH_METADATA],
    4: [Action.COMPLETE_UPLOAD, Action.FETCH_METADATA, Action.FETCH_COMPONENTS],
    5: [Action.COMPLETE_UPLOAD, Action.FETCH_METADATA, Action.FETCH_COMPONENTS, Action.SEND_RECEIPT],
    6: [Action.COMPLETE_UPLOAD, Action.FETCH_METADATA, Action.FETCH_COMPONENTS, Action.SEND_RECEIPT,
        Action.FETCH_RECEIPT],
    7: [Action.CANCEL],
    8: [Action.COMPLETE_UPLOAD, Action.REFUSE],
    9: [Action.COMPLETE_UPLOAD, Action.REFUSE, Action.ACKNOWLEDGE_REFUSAL],
    10: [Action.AUTO_CANCEL],
}  # fmt: skip


def reach(state: int, tramite: Tramite | None = None) -> Tramite:
    current = tramite or new_tramite()
    for step, action in enumerate(PATHS[state], start=1):
        current = act(current, action, OWNER[action], T0 + timedelta(hours=step))
    assert current.state == state
    return current


# --- the table: every state x every move ------------------------------------------------------------------


@pytest.mark.parametrize("state", range(1, 11))
@pytest.mark.parametrize("action", list(Action))
def test_every_move_from_every_state(state: int, action: Action) -> None:
    before = reach(state)
    at = before.updated_at + timedelta(hours=1)
    if state in LEGAL[action]:
        after = act(before, action, OWNER[action], at)
        assert after.state == LEGAL[action][state]
        assert after.history[:-1] == before.history
        change = after.history[-1]
        assert change.state == after.state
        assert change.by == OWNER[action]
        assert after.updated_at >= at
        assert after.created_at == T0
    elif state in NO_OP.get(action, set()):
        assert act(before, action, OWNER[action], at) is before
    else:
        with pytest.raises(IllegalTransition) as raised:
            act(before, action, OWNER[action], at)
        assert raised.value.current == state
        assert raised.value.action is action
        assert f"O trâmite 123 está em '{LABELS[state]}' ({state}); não é possível " in raised.value.detail
        assert isinstance(raised.value, Conflict)


def test_the_conflict_says_what_can_be_done_in_the_current_state() -> None:
    with pytest.raises(Conflict) as raised:
        cancel(reach(8), SENDER, T0 + timedelta(days=1))
    assert raised.value.detail == (
        "O trâmite 123 está em 'recusado' (8); não é possível cancelar o trâmite. Neste estado, só é "
        "possível ao remetente dar ciência da recusa."
    )
    with pytest.raises(Conflict) as raised:
        refuse(reach(5), RECEIVER, T0 + timedelta(days=1), REFUSAL)
    assert raised.value.detail == (
        "O trâmite 123 está em 'recibo de conclusão enviado' (5); não é possível recusar o trâmite. Neste "
        "estado, só é possível ao remetente obter o recibo de conclusão."
    )


@pytest.mark.parametrize("state", [5, 6])
def test_cancel_never_succeeds_once_the_receipt_was_sent(state: int) -> None:
    with pytest.raises(IllegalTransition, match=f"está em '{LABELS[state]}' \\({state}\\)"):
        cancel(reach(state), SENDER, T0 + timedelta(days=1))


@pytest.mark.parametrize("state", [2, 3, 4])
def test_a_refusal_keeps_its_motivo_through_the_ciencia(state: int) -> None:
    refused = refuse(reach(state), RECEIVER, T0 + timedelta(days=1), REFUSAL)
    assert refused.refusal == REFUSAL
    assert "motivo 02" in refused.history[-1].detail
    acknowledged = acknowledge_refusal(refused, SENDER, T0 + timedelta(days=2))
    assert acknowledged.refusal == REFUSAL
    assert acknowledged.state is TramiteState.CIENCIA_RECUSA


def test_history_records_who_when_and_what() -> None:
    done = reach(6)
    assert [c.state for c in done.history] == [1, 2, 3, 4, 5, 6]
    assert [c.by for c in done.history] == [SENDER, BUS, RECEIVER, RECEIVER, RECEIVER, SENDER]
    assert [c.at for c in done.history] == [T0 + timedelta(hours=h) for h in range(6)]
    assert done.history[0].by.user == "maria"
    assert all(c.detail for c in done.history)


# --- who may do what -------------------------------------------------------------------------------------

PARTY_MOVES = [a for a in Action if OWNER[a] is not BUS]


@pytest.mark.parametrize("state", range(1, 11))
@pytest.mark.parametrize("action", PARTY_MOVES)
def test_an_agency_that_is_not_a_party_cannot_tell_the_tramite_exists(state: int, action: Action) -> None:
    with pytest.raises(NotFound) as raised:
        act(reach(state), action, STRANGER, T0 + timedelta(days=1))
    assert raised.value.detail == "Trâmite 123 não encontrado."
    assert not isinstance(raised.value, Conflict | Forbidden)


@pytest.mark.parametrize("state", range(1, 11))
@pytest.mark.parametrize("action", PARTY_MOVES)
def test_the_other_party_is_forbidden_whatever_the_state(state: int, action: Action) -> None:
    other = SENDER if OWNER[action] is RECEIVER else RECEIVER
    with pytest.raises(WrongParty) as raised:
        act(reach(state), action, other, T0 + timedelta(days=1))
    assert isinstance(raised.value, Forbidden)
    assert not isinstance(raised.value, Conflict)
    needed = "destinatário" if OWNER[action] is RECEIVER else "remetente"
    assert raised.value.detail.startswith(f"Só o {needed} do trâmite 123 pode ")


def test_wrong_party_message() -> None:
    with pytest.raises(WrongParty) as raised:
        send_receipt(reach(4), SENDER, T0 + timedelta(days=1), RECEIPT)
    assert raised.value.detail == (
        "Só o destinatário do trâmite 123 pode enviar o recibo de conclusão; o seu órgão é o remetente "
        "deste trâmite."
    )


def test_another_client_of_the_same_agency_may_act() -> None:
    colleague = Actor("200", "outro-cliente", "joao")
    assert fetch_metadata(reach(2), colleague, T0 + timedelta(days=1)).history[-1].by == colleague


def test_an_agency_sending_to_itself_plays_both_roles() -> None:
    me = Actor("100", "c")
    own = complete_upload(new_tramite(sender_agency="100", receiver_agency="100"), T0)
    own = fetch_components(fetch_metadata(own, me, T0), me, T0)
    assert allowed_actions(own, "100") == (Action.SEND_RECEIPT, Action.CANCEL, Action.REFUSE)
    done = fetch_receipt(send_receipt(own, me, T0 + timedelta(days=1), RECEIPT), me, T0 + timedelta(days=2))
    assert done.state is TramiteState.RECIBO_RECEBIDO


def test_the_bus_moves_need_no_party() -> None:
    assert complete_upload(new_tramite(), T0 + timedelta(hours=1)).history[-1].by == BUS


# --- start ---------------------------------------------------------------------------------------------------


def test_start_opens_in_state_1_with_nup_digits() -> None:
    tramite = new_tramite()
    assert tramite.state is TramiteState.INICIADO
    assert tramite.nup == "23037001462202165"
    assert tramite.created_at == tramite.updated_at == T0
    assert tramite.history == (StateChange(TramiteState.INICIADO, T0, SENDER, tramite.history[0].detail),)
    assert tramite.refusal is None


def test_start_lists_every_bad_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        start(idt="", nre="-x", nup="23037.001462/2021-66", sender=Address("1", "101"),
              receiver=Address("1", "101"), sender_agency_id="100", receiver_agency_id="200", by=SENDER,
              at=T0)  # fmt: skip
    assert [f.field for f in raised.value.fields] == ["idt", "nre", "destinatario", "nup"]


def test_start_needs_the_caller_to_own_the_sender_address() -> None:
    with pytest.raises(Forbidden, match="não pertence ao seu órgão"):
        new_tramite(by=RECEIVER)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        complete_upload(new_tramite(), datetime(2026, 3, 3, 12, 0))


def test_a_tramite_read_back_with_an_illegal_history_is_refused() -> None:
    done = reach(6)
    skipped = (*done.history[:2], *done.history[3:])  # 1, 2, 4, 5, 6
    with pytest.raises(ValueError, match="illegal move"):
        Tramite(**{**done.__dict__, "history": skipped})
    with pytest.raises(ValueError, match="starts in state 1"):
        Tramite(**{**done.__dict__, "history": done.history[1:]})


def test_a_tramite_read_back_with_inconsistent_refusal_is_refused() -> None:
    with pytest.raises(ValueError, match="refusal"):
        Tramite(**{**reach(8).__dict__, "refusal": None})
    with pytest.raises(ValueError, match="refusal"):
        Tramite(**{**reach(4).__dict__, "refusal": REFUSAL})


# --- the sender's lock, finality, pendências ------------------------------------------------------------------

LOCKS = {1: "bloqueado", 2: "bloqueado", 3: "bloqueado", 4: "bloqueado", 5: "bloqueado", 6: "enviado",
         7: "desbloqueado", 8: "bloqueado", 9: "desbloqueado", 10: "desbloqueado"}  # fmt: skip


@pytest.mark.parametrize("state", range(1, 11))
def test_what_each_state_means_at_the_sender(state: int) -> None:
    code = TramiteState(state)
    assert code.sender_lock is SenderLock(LOCKS[state])
    assert code.locks_sender == (state in {1, 2, 3, 4, 5, 8})
    assert code.final == (state in {6, 7, 9, 10})
    assert code.label == LABELS[state]


PENDING = {
    2: ("200", Role.DESTINATARIO, (Action.FETCH_METADATA, Action.REFUSE)),
    3: ("200", Role.DESTINATARIO, (Action.FETCH_COMPONENTS, Action.REFUSE)),
    4: ("200", Role.DESTINATARIO, (Action.SEND_RECEIPT, Action.REFUSE)),
    5: ("100", Role.REMETENTE, (Action.FETCH_RECEIPT,)),
    8: ("100", Role.REMETENTE, (Action.ACKNOWLEDGE_REFUSAL,)),
}


@pytest.mark.parametrize("state", range(1, 11))
def test_pendencias(state: int) -> None:
    tramite = reach(state)
    expected = PENDING.get(state)
    assert pending_agency(tramite) == (expected[0] if expected else None)
    for agency in ("100", "200", "300"):
        pendency = pendency_for(tramite, agency)
        if expected is None or agency != expected[0]:
            assert pendency is None
            continue
        assert pendency is not None
        assert (pendency.idt, pendency.nre, pendency.state) == ("123", "NRE-1", state)
        assert (pendency.role, pendency.actions) == expected[1:]
        assert pendency.since == tramite.updated_at


def test_allowed_actions_per_party() -> None:
    assert allowed_actions(reach(1), "100") == (Action.CANCEL,)
    assert allowed_actions(reach(1), "200") == ()
    assert allowed_actions(reach(4), "200") == (Action.SEND_RECEIPT, Action.REFUSE)
    assert allowed_actions(reach(4), "100") == (Action.CANCEL,)
    assert allowed_actions(reach(5), "100") == (Action.FETCH_RECEIPT,)
    assert allowed_actions(reach(5), "300") == ()
    assert allowed_actions(reach(6), "100") == allowed_actions(reach(6), "200") == ()


# --- automatic cancel ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [1, 2, 3, 4])
def test_auto_cancel_after_8_calendar_days_without_a_state_change(state: int) -> None:
    tramite = reach(state)
    deadline = tramite.updated_at + timedelta(days=8)
    assert auto_cancel_at(tramite) == deadline
    assert not due_for_auto_cancel(tramite, deadline - timedelta(microseconds=1))
    assert due_for_auto_cancel(tramite, deadline)
    with pytest.raises(IllegalTransition) as raised:
        auto_cancel(tramite, deadline - timedelta(microseconds=1))
    assert raised.value.current == state
    assert "só ocorre após 8 dias sem mudança de estado" in raised.value.detail
    cancelled = auto_cancel(tramite, deadline)
    assert cancelled.state is TramiteState.CANCELADO_AUTOMATICAMENTE
    assert cancelled.history[-1].by == BUS
    assert cancelled.history[-1].at == deadline


@pytest.mark.parametrize("state", [5, 6, 7, 8, 9, 10])
def test_auto_cancel_leaves_other_states_alone(state: int) -> None:
    tramite = reach(state)
    later = tramite.updated_at + timedelta(days=365)
    assert auto_cancel_at(tramite) is None
    assert not due_for_auto_cancel(tramite, later)
    with pytest.raises(
        IllegalTransition, match=f"\\({state}\\); não é possível cancelar o trâmite automaticamente"
    ):
        auto_cancel(tramite, later)


def test_auto_cancel_counts_from_the_last_state_change_only() -> None:
    uploaded = complete_upload(new_tramite(), T0 + timedelta(days=5))
    assert not due_for_auto_cancel(uploaded, T0 + timedelta(days=12))
    assert due_for_auto_cancel(uploaded, T0 + timedelta(days=13))
    # A repeated download is not a state change: it does not push the deadline.
    fetched = fetch_metadata(uploaded, RECEIVER, T0 + timedelta(days=6))
    again = fetch_metadata(fetched, RECEIVER, T0 + timedelta(days=10))
    assert auto_cancel_at(again) == T0 + timedelta(days=14)


def test_auto_cancel_days_are_configurable() -> None:
    tramite = new_tramite()
    assert auto_cancel_at(tramite, days=3) == T0 + timedelta(days=3)
    assert auto_cancel(tramite, T0 + timedelta(days=3), days=3).state == 10
    with pytest.raises(ValueError, match="at least 1 day"):
        auto_cancel_at(tramite, days=0)


# --- properties ---------------------------------------------------------------------------------------------------

# A random sequence of moves: the way to some state (so every state gets explored), then random
# moves by anyone. An actor of None stands for the party the move belongs to.
random_moves = st.lists(
    st.tuples(
        st.sampled_from(list(Action)),
        st.sampled_from([None, None, None, SENDER, RECEIVER, STRANGER, BUS]),
        st.integers(0, 10 * 24),
    ),
    max_size=12,
)
steps = st.builds(
    lambda target, tail: [(a, None, 8 * 24 if a is Action.AUTO_CANCEL else 1) for a in PATHS[target]] + tail,
    st.sampled_from(list(PATHS)),
    random_moves,
)


def run(sequence: list[tuple[Action, Actor | None, int]]) -> list[Tramite]:
    """Applies the sequence (time moving forward by the given hours), skipping refused moves; returns
    every trâmite it went through. Only the bus's own moves may use BUS; any other error fails."""
    current = new_tramite()
    seen = [current]
    at = T0
    for action, maybe_actor, hours in sequence:
        actor = maybe_actor or OWNER[action]
        at += timedelta(hours=hours)
        before = current
        try:
            if action is Action.AUTO_CANCEL:
                current = auto_cancel(current, at)
            else:
                current = act(current, action, actor, at)
        except (NotFound, Forbidden, Conflict):
            assert current is before
            assert not (action is Action.CANCEL and actor is SENDER and before.state in (1, 2, 3, 4)), (
                "the sender's cancel from 1 to 4 must succeed"
            )
            continue
        if action is Action.CANCEL:
            assert before.state not in (5, 6)
        seen.append(current)
    return seen


@settings(max_examples=300)
@given(steps)
def test_random_sequences_only_make_legal_moves(sequence: list[tuple[Action, Actor | None, int]]) -> None:
    for tramite in run(sequence):
        states = [c.state for c in tramite.history]
        assert states[0] == 1
        assert all(pair in EXPECTED_PAIRS for pair in itertools.pairwise(states))
        assert all(not TramiteState(s).final for s in states[:-1])
        assert not (5 in states and 8 in states), "a receipt and a refusal on the same trâmite"
        assert (tramite.refusal is not None) == (tramite.state in (8, 9))
        times = [c.at for c in tramite.history]
        assert times == sorted(times)


@settings(max_examples=300)
@given(steps)
def test_receipt_and_refusal_exclude_each_other(sequence: list[tuple[Action, Actor | None, int]]) -> None:
    for tramite in run(sequence):
        at = tramite.updated_at + timedelta(minutes=1)
        for first, second in ((Action.SEND_RECEIPT, Action.REFUSE), (Action.REFUSE, Action.SEND_RECEIPT)):
            try:
                won = act(tramite, first, RECEIVER, at)
            except DomainError:
                continue
            with pytest.raises(IllegalTransition):
                act(won, second, RECEIVER, at)


def test_random_sequences_reach_every_state() -> None:
    """Guards the two properties above against a strategy that never gets anywhere."""
    reached: set[int] = set()

    @settings(max_examples=300, database=None)
    @given(steps)
    def collect(sequence: list[tuple[Action, Actor | None, int]]) -> None:
        reached.update(t.state for t in run(sequence))

    collect()
    assert reached == set(range(1, 11))


# --- component downloads and the pre-check ---------------------------------------------------------------

HASHES = frozenset({"a" * 43 + "=", "b" * 43 + "="})


def test_each_component_download_is_recorded_and_the_last_moves_to_4() -> None:
    at = T0 + timedelta(hours=1)
    tramite = reach(3)
    first = fetch_component(tramite, "a" * 43 + "=", HASHES, RECEIVER, at)
    assert (first.state, first.fetched) == (TramiteState.METADADOS_RECEBIDOS, frozenset({"a" * 43 + "="}))
    assert fetch_component(first, "a" * 43 + "=", HASHES, RECEIVER, at) is first  # again: no change
    done = fetch_component(first, "b" * 43 + "=", HASHES, RECEIVER, at)
    assert done.state is TramiteState.COMPONENTES_RECEBIDOS
    assert fetch_component(done, "a" * 43 + "=", HASHES, RECEIVER, at) is done  # past 3: harmless


@pytest.mark.parametrize("code", [1, 2, 7, 8, 9, 10])
def test_a_component_download_outside_3_to_6_is_refused(code: int) -> None:
    tramite = reach(code)
    with pytest.raises(IllegalTransition) as raised:
        fetch_component(tramite, "a" * 43 + "=", HASHES, RECEIVER, T0 + timedelta(days=20))
    assert raised.value.current is TramiteState(code)


def test_a_component_download_by_the_sender_or_a_stranger_is_refused() -> None:
    with pytest.raises(WrongParty):
        fetch_component(reach(3), "a" * 43 + "=", HASHES, SENDER, T0)
    with pytest.raises(NotFound):
        fetch_component(reach(3), "a" * 43 + "=", HASHES, STRANGER, T0)


@pytest.mark.parametrize("code", range(1, 11))
def test_check_move_raises_exactly_what_the_move_would(code: int) -> None:
    tramite = reach(code)
    for action in Action:
        if OWNER[action] is BUS:
            continue
        at = T0 + timedelta(days=30)
        try:
            act(tramite, action, OWNER[action], at)
        except DomainError as error:
            with pytest.raises(type(error)):
                check_move(tramite, action, OWNER[action])
        else:
            check_move(tramite, action, OWNER[action])  # does not raise


def test_a_receipt_is_carried_exactly_in_states_5_and_6() -> None:
    with_receipt = send_receipt(reach(4), RECEIVER, T0 + timedelta(days=1), RECEIPT)
    assert with_receipt.receipt == RECEIPT
    assert fetch_receipt(with_receipt, SENDER, T0 + timedelta(days=2)).receipt == RECEIPT
    with pytest.raises(ValueError, match="recibo"):
        Tramite(**{**with_receipt.__dict__, "receipt": None})
