"""The bus's trâmites, one contract for every implementation: the in-memory fake, DynamoDB on moto,
and Amazon's DynamoDB Local. The race of a recibo and a recusa runs on DynamoDB Local only: moto
does not isolate concurrent writes (see tests/contract/test_process_concurrency.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pynamodb.connection import Connection

from chalicelib.domain.bus import (
    AUTO_CANCEL_DAYS,
    BUS,
    Actor,
    Address,
    IssuedReceipt,
    Refusal,
    RefusalReason,
    Tramite,
    TramiteState,
    acknowledge_refusal,
    cancel,
    complete_upload,
    fetch_component,
    fetch_components,
    fetch_metadata,
    fetch_receipt,
    refuse,
    send_receipt,
    start,
)
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.signatures import Stamp
from chalicelib.services.ports import TramiteRepository
from chalicelib.store.models import bind_models
from chalicelib.store.tramites import DynamoTramiteRepository
from tests import servers
from tests.fakes import InMemoryTramites

pytestmark = pytest.mark.xdist_group("contract")

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SENDER = Actor("100", "cliente-100", "maria")
RECEIVER = Actor("200", "cliente-200")
NUP = "23037001462202165"
RECEIPT = IssuedReceipt(b'{"formato":"x"}', Stamp("ECDSA_SHA_256", "chave-1", "c2lnbg==", T0))
REFUSAL = Refusal(
    RefusalReason.OUTRO, "Espécie não aceita nesta unidade; reenvie como Ofício. Ação: nenhuma."
)


def dynamo(endpoint: str) -> DynamoTramiteRepository:
    stage = f"t{uuid.uuid4().hex[:10]}"
    servers.create_tables(endpoint, stage)
    bind_models(servers.settings_for(endpoint, stage))
    return DynamoTramiteRepository(Connection(region=servers.REGION, host=endpoint))


@pytest.fixture(params=["fake", "moto", "dynamodb_local"])
def repo(request: pytest.FixtureRequest) -> Iterator[TramiteRepository]:
    if request.param == "fake":
        yield InMemoryTramites()
        return
    yield dynamo(request.getfixturevalue(f"{request.param}_endpoint"))


def new(
    idt: str,
    nre: str = "NRE-1",
    *,
    at: datetime = T0,
    sender: str = "100",
    receiver: str = "200",
    nup: str = NUP,
) -> Tramite:
    return start(
        idt=idt,
        nre=nre,
        nup=nup,
        sender=Address("1", f"{sender}1"),
        receiver=Address("1", f"{receiver}1"),
        sender_agency_id=sender,
        receiver_agency_id=receiver,
        by=Actor(sender, f"cliente-{sender}"),
        at=at,
    )


def get_stored(repo: TramiteRepository, idt: str) -> Tramite:
    """The trâmite `idt` as stored; it must be there."""
    tramite = repo.get(idt)
    assert tramite is not None
    return tramite


def to_receipt_stage(repo: TramiteRepository, tramite: Tramite, at: datetime = T0) -> Tramite:
    """1 -> 4, stored after each move."""
    receiver = Actor(tramite.receiver_agency_id, "cliente")
    tramite = repo.save(complete_upload(tramite, at + timedelta(minutes=1)))
    tramite = repo.save(fetch_metadata(tramite, receiver, at + timedelta(minutes=2)))
    return repo.save(fetch_components(tramite, receiver, at + timedelta(minutes=3)))


def collect(read: Callable[[str | None], object]) -> list[str]:
    """Every page of a listing (2 a page), checking each page and that no trâmite repeats."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(50):
        page = read(cursor)
        items = page.items  # type: ignore[attr-defined]
        assert 0 < len(items) <= 2 or (not items and cursor is None)
        seen += [t.idt for t in items]
        cursor = page.cursor  # type: ignore[attr-defined]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    return seen


def test_round_trip_of_every_field_with_history_and_refusal(repo: TramiteRepository) -> None:
    assert repo.get("IDT-1") is None
    created = repo.add(new("IDT-1"))
    assert created.version == 1
    assert repo.get("IDT-1") == created
    tramite = to_receipt_stage(repo, created)
    refused = repo.save(
        refuse(tramite, Actor("200", "cliente-200", "joão"), T0 + timedelta(hours=1), REFUSAL)
    )
    stored = repo.get("IDT-1")
    assert stored == refused
    assert stored.version == 5
    assert [c.state for c in stored.history] == [1, 2, 3, 4, 8]
    assert stored.history[-1].by == Actor("200", "cliente-200", "joão")
    assert stored.history[1].by == BUS
    assert stored.history[0].by.user is None
    assert stored.refusal == REFUSAL
    assert stored.sender == Address("1", "1001")
    assert stored.receiver == Address("1", "2001")
    done = repo.save(acknowledge_refusal(stored, SENDER, T0 + timedelta(hours=2)))
    assert repo.get("IDT-1") == done
    assert done.state is TramiteState.CIENCIA_RECUSA
    assert done.refusal == REFUSAL


def test_a_refusal_without_justification_round_trips(repo: TramiteRepository) -> None:
    tramite = repo.save(complete_upload(repo.add(new("IDT-1")), T0))
    bare = Refusal(RefusalReason.COMPONENTE_CORROMPIDO)
    refused = repo.save(refuse(tramite, RECEIVER, T0 + timedelta(minutes=5), bare))
    assert repo.get("IDT-1") == refused
    assert refused.refusal == bare


def test_a_duplicate_idt_is_a_conflict(repo: TramiteRepository) -> None:
    first = repo.add(new("IDT-1", "NRE-1"))
    with pytest.raises(Conflict, match="IDT-1 já existe"):
        repo.add(new("IDT-1", "NRE-2"))
    with pytest.raises(Conflict, match="IDT-1 já existe"):
        repo.add(new("IDT-1", "NRE-1"))
    assert repo.get("IDT-1") == first
    repo.add(new("IDT-2", "NRE-2"))  # NRE-2 was not left claimed by the refused add


@pytest.mark.parametrize(
    "close",
    [
        pytest.param(lambda r, t: r.save(cancel(t, SENDER, T0 + timedelta(hours=1))), id="cancel-7"),
        pytest.param(
            lambda r, t: r.save(
                acknowledge_refusal(
                    r.save(refuse(to_receipt_stage(r, t), RECEIVER, T0 + timedelta(hours=1), REFUSAL)),
                    SENDER,
                    T0 + timedelta(hours=2),
                )
            ),
            id="ciencia-9",
        ),
        pytest.param(
            lambda r, t: r.save(
                fetch_receipt(
                    r.save(send_receipt(to_receipt_stage(r, t), RECEIVER, T0 + timedelta(hours=1), RECEIPT)),
                    SENDER,
                    T0 + timedelta(hours=2),
                )
            ),
            id="recibo-6",
        ),
    ],
)
def test_one_open_tramite_per_nre_until_it_reaches_a_final_state(
    repo: TramiteRepository, close: Callable[[TramiteRepository, Tramite], Tramite]
) -> None:
    first = repo.add(new("IDT-1", "NRE-1"))
    with pytest.raises(Conflict, match="Já existe um trâmite aberto para o NRE NRE-1"):
        repo.add(new("IDT-2", "NRE-1", sender="200", receiver="100"))
    assert repo.get("IDT-2") is None
    repo.add(new("IDT-3", "NRE-3"))  # another NRE is free
    closed = close(repo, first)
    assert closed.state.final
    again = repo.add(new("IDT-2", "NRE-1", sender="200", receiver="100"))
    assert again.version == 1
    with pytest.raises(Conflict, match="Já existe um trâmite aberto para o NRE NRE-1"):
        repo.add(new("IDT-4", "NRE-1"))


def test_a_state_that_is_not_final_keeps_the_nre_claimed(repo: TramiteRepository) -> None:
    tramite = to_receipt_stage(repo, repo.add(new("IDT-1")))
    repo.save(send_receipt(tramite, RECEIVER, T0 + timedelta(hours=1), RECEIPT))  # 5: open
    with pytest.raises(Conflict, match="trâmite aberto"):
        repo.add(new("IDT-2"))


def test_a_stale_version_is_a_conflict(repo: TramiteRepository) -> None:
    created = repo.add(new("IDT-1"))
    moved = repo.save(complete_upload(created, T0 + timedelta(minutes=1)))
    with pytest.raises(Conflict, match="alterado por outra operação"):
        repo.save(cancel(created, SENDER, T0 + timedelta(minutes=2)))  # final: the transaction path
    with pytest.raises(Conflict, match="alterado por outra operação"):
        repo.save(complete_upload(created, T0 + timedelta(minutes=2)))  # not final: the single put
    assert repo.get("IDT-1") == moved
    with pytest.raises(Conflict, match="trâmite aberto"):  # the refused cancel did not release the NRE
        repo.add(new("IDT-2"))


def test_a_receipt_and_a_refusal_from_the_same_read_exactly_one_wins(repo: TramiteRepository) -> None:
    read = to_receipt_stage(repo, repo.add(new("IDT-1")))
    repo.save(send_receipt(read, RECEIVER, T0 + timedelta(hours=1), RECEIPT))
    with pytest.raises(Conflict):
        repo.save(refuse(read, RECEIVER, T0 + timedelta(hours=1), REFUSAL))
    assert get_stored(repo, "IDT-1").state is TramiteState.RECIBO_ENVIADO


def test_listings_by_nre_and_nup_page_through_everything_once(repo: TramiteRepository) -> None:
    other_nup = "23037000002202039"
    expected = []
    for index in range(5):  # NRE-1, one after another; each closed before the next starts
        tramite = repo.add(new(f"IDT-{index}", "NRE-1", at=T0 + timedelta(days=index)))
        if index < 4:
            repo.save(cancel(tramite, SENDER, T0 + timedelta(days=index, hours=1)))
        expected.append(tramite.idt)
    repo.add(new("IDT-X", "NRE-2", nup=other_nup))
    assert collect(lambda c: repo.by_nre("NRE-1", c, 2)) == expected
    assert collect(lambda c: repo.by_nup(NUP, c, 2)) == expected
    assert collect(lambda c: repo.by_nup(other_nup, c, 2)) == ["IDT-X"]
    assert collect(lambda c: repo.by_nre("NRE-9", c, 2)) == []
    page = repo.by_nre("NRE-1", None, 5)
    assert [t.idt for t in page.items] == expected
    assert page.cursor is None
    assert [t.state for t in page.items] == [7, 7, 7, 7, 1]  # whole trâmites, with their history


def test_a_cursor_only_works_for_its_own_query(repo: TramiteRepository) -> None:
    for index in range(3):
        repo.add(new(f"IDT-{index}", f"NRE-{index}"))
    cursor = repo.by_nup(NUP, None, 2).cursor
    assert cursor is not None
    with pytest.raises(InvalidInput, match="Cursor"):
        repo.by_nup("23037000002202039", cursor, 2)
    with pytest.raises(InvalidInput, match="Cursor"):
        repo.pending_for("200", cursor, 2)
    with pytest.raises(InvalidInput, match="Cursor"):
        repo.by_nre("NRE-1", "bm90LWEtY3Vyc29y", 2)


def test_pendencies_list_the_agency_that_must_act_and_drop_what_needs_no_action(
    repo: TramiteRepository,
) -> None:
    started = repo.add(new("IDT-1", "NRE-1"))  # state 1: the sender uploads, no pendência
    assert collect(lambda c: repo.pending_for("200", c, 2)) == []
    assert collect(lambda c: repo.pending_for("100", c, 2)) == []
    waiting = repo.save(complete_upload(started, T0 + timedelta(minutes=10)))  # 2: the receiver's
    for index, minute in ((2, 5), (3, 1), (4, 20)):  # also at the receiver, changed at other times
        repo.save(
            complete_upload(repo.add(new(f"IDT-{index}", f"NRE-{index}")), T0 + timedelta(minutes=minute))
        )
    repo.save(complete_upload(repo.add(new("IDT-5", "NRE-5", receiver="300")), T0))  # another receiver
    assert collect(lambda c: repo.pending_for("200", c, 2)) == ["IDT-3", "IDT-2", "IDT-1", "IDT-4"]
    assert collect(lambda c: repo.pending_for("300", c, 2)) == ["IDT-5"]
    assert collect(lambda c: repo.pending_for("100", c, 2)) == []

    receipt = repo.save(
        send_receipt(
            repo.save(fetch_components(repo.save(fetch_metadata(waiting, RECEIVER, T0 + timedelta(hours=1))),
                                       RECEIVER, T0 + timedelta(hours=2))),
            RECEIVER,
            T0 + timedelta(hours=3),
            RECEIPT,
        )
    )  # fmt: skip
    assert collect(lambda c: repo.pending_for("200", c, 2)) == ["IDT-3", "IDT-2", "IDT-4"]
    assert collect(lambda c: repo.pending_for("100", c, 2)) == ["IDT-1"]  # the sender fetches the recibo
    pending = repo.pending_for("100", None, 10).items[0]
    assert pending == receipt
    repo.save(fetch_receipt(receipt, SENDER, T0 + timedelta(hours=4)))  # 6: nobody has to act
    assert collect(lambda c: repo.pending_for("100", c, 2)) == []
    assert collect(lambda c: repo.pending_for("200", c, 2)) == ["IDT-3", "IDT-2", "IDT-4"]


def test_the_auto_cancel_index_returns_only_tramites_past_their_deadline(repo: TramiteRepository) -> None:
    days = timedelta(days=AUTO_CANCEL_DAYS)
    for index, hours in enumerate((5, 1, 3, 2, 4)):  # deadlines T0 + days + hours
        repo.add(new(f"IDT-{index}", f"NRE-{index}", at=T0 + timedelta(hours=hours)))
    # state 2, later deadline
    moved = repo.save(complete_upload(get_stored(repo, "IDT-1"), T0 + timedelta(days=2)))
    cancelled = repo.save(cancel(get_stored(repo, "IDT-4"), SENDER, T0 + timedelta(hours=5)))  # 7: never due
    assert moved.state is TramiteState.COMPONENTES_ENVIADOS
    assert cancelled.state.final

    assert collect(lambda c: repo.due_for_auto_cancel(T0 + days, c, 2)) == []
    assert collect(lambda c: repo.due_for_auto_cancel(T0 + days + timedelta(hours=3), c, 2)) == [
        "IDT-3",
        "IDT-2",  # exactly at its deadline: due
    ]
    everything = T0 + days + timedelta(days=2)  # IDT-1's deadline, exactly
    assert collect(lambda c: repo.due_for_auto_cancel(everything, c, 2)) == [
        "IDT-3",
        "IDT-2",
        "IDT-0",
        "IDT-1",
    ]
    assert collect(lambda c: repo.due_for_auto_cancel(everything - timedelta(seconds=1), c, 2)) == [
        "IDT-3",
        "IDT-2",
        "IDT-0",
    ]


# --- concurrency: DynamoDB Local only ----------------------------------------------------------------


def run_threads(count: int, work: Callable[[int], None]) -> None:
    barrier = threading.Barrier(count)

    def begin(index: int) -> None:
        barrier.wait()
        work(index)

    threads = [threading.Thread(target=begin, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.parametrize("rounds", [8])
def test_a_racing_receipt_and_refusal_exactly_one_wins(dynamodb_local_endpoint: str, rounds: int) -> None:
    repo = dynamo(dynamodb_local_endpoint)
    for round_ in range(rounds):
        read = to_receipt_stage(repo, repo.add(new(f"IDT-{round_}", f"NRE-{round_}")))
        at = T0 + timedelta(hours=1)
        moves = [send_receipt(read, RECEIVER, at, RECEIPT), refuse(read, RECEIVER, at, REFUSAL)]
        outcomes: dict[int, str] = {}

        def work(index: int, moves: list[Tramite] = moves, outcomes: dict[int, str] = outcomes) -> None:
            try:
                repo.save(moves[index])
                outcomes[index] = "ok"
            except Conflict:
                outcomes[index] = "409"

        run_threads(2, work)
        assert sorted(outcomes.values()) == ["409", "ok"]
        winner = moves[0] if outcomes[0] == "ok" else moves[1]
        stored = repo.get(read.idt)
        assert stored is not None
        assert stored.state is winner.state
        assert stored.version == read.version + 1


def test_racing_cancels_release_the_nre_once(dynamodb_local_endpoint: str) -> None:
    """Two cancels of the same read (the final-state transaction) and a new trâmite racing them."""
    repo = dynamo(dynamodb_local_endpoint)
    read = repo.add(new("IDT-1", "NRE-1"))
    outcomes: dict[int, str] = {}

    def work(index: int) -> None:
        try:
            repo.save(cancel(read, SENDER, T0 + timedelta(minutes=index)))
            outcomes[index] = "ok"
        except Conflict:
            outcomes[index] = "409"

    run_threads(3, work)
    assert sorted(outcomes.values()) == ["409", "409", "ok"]
    assert get_stored(repo, "IDT-1").version == 2
    repo.add(new("IDT-2", "NRE-1"))
    with pytest.raises(Conflict, match="trâmite aberto"):
        repo.add(new("IDT-3", "NRE-1"))


# --- one send to several receivers; what a trâmite carries --------------------------------------------


def test_a_send_to_several_receivers_holds_the_nre_until_every_tramite_is_final(
    repo: TramiteRepository,
) -> None:
    first, second = repo.add_all([new("IDT-A", "NRE-1"), new("IDT-B", "NRE-1", receiver="300")])
    assert (first.version, second.version) == (1, 1)
    with pytest.raises(Conflict, match=r"NRE NRE-1 \(IDT-A, IDT-B\)"):
        repo.add(new("IDT-C", "NRE-1"))
    repo.save(cancel(first, SENDER, T0 + timedelta(hours=1)))
    with pytest.raises(Conflict, match=r"NRE NRE-1 \(IDT-B\)"):
        repo.add(new("IDT-C", "NRE-1"))
    repo.save(cancel(second, SENDER, T0 + timedelta(hours=1)))
    assert repo.add(new("IDT-C", "NRE-1")).version == 1


def test_a_send_is_stored_whole_or_not_at_all(repo: TramiteRepository) -> None:
    repo.add(new("IDT-B", "NRE-9"))
    with pytest.raises(Conflict, match="O trâmite IDT-B já existe"):
        repo.add_all([new("IDT-A", "NRE-1"), new("IDT-B", "NRE-1", receiver="300")])
    assert repo.get("IDT-A") is None
    assert repo.add(new("IDT-C", "NRE-1")).version == 1  # the NRE was never claimed


def test_downloads_and_the_receipt_are_stored_with_the_tramite(repo: TramiteRepository) -> None:
    receiver = Actor("200", "cliente")
    hashes = frozenset({"a" * 43 + "=", "b" * 43 + "="})
    tramite = repo.save(complete_upload(repo.add(new("IDT-1")), T0 + timedelta(minutes=1)))
    tramite = repo.save(fetch_metadata(tramite, receiver, T0 + timedelta(minutes=2)))
    tramite = repo.save(fetch_component(tramite, "a" * 43 + "=", hashes, receiver, T0))
    assert repo.get("IDT-1") == tramite
    assert tramite.fetched == {"a" * 43 + "="}
    tramite = repo.save(fetch_component(tramite, "b" * 43 + "=", hashes, receiver, T0))
    assert tramite.state is TramiteState.COMPONENTES_RECEBIDOS
    done = repo.save(send_receipt(tramite, receiver, T0 + timedelta(hours=1), RECEIPT))
    stored = repo.get("IDT-1")
    assert stored == done
    assert stored.receipt == RECEIPT
