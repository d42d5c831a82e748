"""The subscriptions' repository (DynamoSubscriptionRepository) against DynamoDB on moto and Amazon's
DynamoDB Local (strict): round trips, optimistic versions on the subscription and on its address's
quota (written together or not at all), the sparse `seguidores` index in pages, and the suppression
mark, which neither erases nor is erased by a quota write."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pynamodb.connection import Connection

from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.following import (
    AddressQuota,
    Subscription,
    SubscriptionState,
    address_key,
    new_subscription,
)
from chalicelib.domain.nup import Nup
from chalicelib.store.following import DynamoSubscriptionRepository
from chalicelib.store.models import SubscriptionItem, bind_models
from tests import servers

pytestmark = pytest.mark.xdist_group("contract")

T0 = datetime(2026, 3, 10, 12, 15, tzinfo=UTC)


@pytest.fixture(params=["moto", "dynamodb_local"])
def repository(request: pytest.FixtureRequest) -> DynamoSubscriptionRepository:
    endpoint = request.getfixturevalue(f"{request.param}_endpoint")
    stage = f"t{uuid.uuid4().hex[:10]}"
    servers.create_tables(endpoint, stage)
    bind_models(servers.settings_for(endpoint, stage))
    return DynamoSubscriptionRepository(Connection(region=servers.REGION, host=endpoint))


def nup(sequence: int) -> str:
    return Nup.issue("25000", sequence, 2026).digits


def email(name: str = "") -> str:
    return f"{name or uuid.uuid4().hex[:10]}@example.org"


def follow(
    repository: DynamoSubscriptionRepository, address: str, number: str, at: datetime = T0
) -> Subscription:
    """What `Following.follow` writes: a pending subscription and its address's quota, together."""
    subscription, _ = new_subscription(address, number, at)
    quota = repository.quota(address_key(address))
    return repository.save(subscription, quota.after_confirmation_sent(at, new_follow=True))


def confirmed(repository: DynamoSubscriptionRepository, address: str, number: str) -> Subscription:
    return repository.save(follow(repository, address, number).confirmed(T0 + timedelta(minutes=1)))


# --- round trips and versions -------------------------------------------------------------------------


def test_a_new_subscription_and_its_quota_round_trip(repository: DynamoSubscriptionRepository) -> None:
    address = email()
    key = address_key(address)
    assert repository.get(new_subscription(address, nup(1), T0)[0].id) is None
    assert repository.quota(key) == AddressQuota(address=key)

    stored = follow(repository, address, nup(1))
    assert stored.version == 1
    assert stored.state is SubscriptionState.PENDING
    assert stored.confirm_token_hash is not None
    assert repository.get(stored.id) == stored
    assert repository.quota(key) == AddressQuota(
        address=key, following=1, hour_start=T0.replace(minute=0), confirmations_this_hour=1, version=1
    )

    done = repository.save(stored.confirmed(T0 + timedelta(minutes=1)))  # no quota: the item alone
    assert done.version == 2
    assert repository.get(stored.id) == done
    assert repository.quota(key).version == 1  # untouched


def test_a_second_creator_or_a_stale_subscription_is_a_conflict(
    repository: DynamoSubscriptionRepository,
) -> None:
    address = email()
    first = follow(repository, address, nup(1))
    again, _ = new_subscription(address, nup(1), T0)  # the same id, version 0: a second creator
    with pytest.raises(Conflict):
        repository.save(again)
    confirmed_ = repository.save(first.confirmed(T0 + timedelta(minutes=1)))
    with pytest.raises(Conflict):
        repository.save(first.cancelled(T0 + timedelta(minutes=2)))  # read before the confirmation
    assert repository.get(first.id) == confirmed_


def test_a_stale_quota_or_a_stale_subscription_writes_neither(
    repository: DynamoSubscriptionRepository,
) -> None:
    address = email()
    key = address_key(address)
    follow(repository, address, nup(1))
    stale = repository.quota(key)
    follow(repository, address, nup(2))  # another request of the same address got in between
    current = repository.quota(key)
    assert (current.following, current.version) == (2, 2)

    third, _ = new_subscription(address, nup(3), T0)
    with pytest.raises(Conflict):
        repository.save(third, stale.after_confirmation_sent(T0, new_follow=True))
    assert repository.get(third.id) is None  # the subscription was not written either
    assert repository.quota(key) == current

    # The other way round: a fresh quota with a stale subscription leaves the quota as it was.
    pending = repository.get(new_subscription(address, nup(1), T0)[0].id)
    assert pending is not None
    repository.save(pending.confirmed(T0 + timedelta(minutes=1)))
    with pytest.raises(Conflict):
        repository.save(pending.cancelled(T0 + timedelta(minutes=2)), current.after_unfollow())
    assert repository.quota(key) == current
    assert repository.get(pending.id).state is SubscriptionState.CONFIRMED  # type: ignore[union-attr]


# --- the followers' index ------------------------------------------------------------------------------


def test_followers_are_the_confirmed_ones_only_in_pages_with_a_cursor(
    repository: DynamoSubscriptionRepository,
) -> None:
    wanted = {confirmed(repository, email(), nup(1)).id for _ in range(5)}
    follow(repository, email(), nup(1))  # pending: not a follower yet
    confirmed(repository, email(), nup(2))  # another process's

    pages: list[list[Subscription]] = []
    cursor: str | None = None
    while True:
        page = repository.followers(nup(1), cursor, 2)
        pages.append(list(page.items))
        cursor = page.cursor
        if cursor is None:
            break
        assert len(pages) < 10, "the cursor never ends"
    assert all(len(p) <= 2 for p in pages)
    listed = [s.id for p in pages for s in p]
    assert sorted(listed) == sorted(wanted)  # each once, none missing
    assert all(s.state is SubscriptionState.CONFIRMED and s.nup == nup(1) for p in pages for s in p)
    assert len(pages) >= 3

    first = repository.followers(nup(1), None, 2)
    assert first.cursor is not None
    with pytest.raises(InvalidInput):
        repository.followers(nup(2), first.cursor, 2)  # a cursor of another NUP's list


def test_a_cancelled_subscription_leaves_the_followers(repository: DynamoSubscriptionRepository) -> None:
    address = email()
    kept = confirmed(repository, email(), nup(1))
    gone = confirmed(repository, address, nup(1))
    quota = repository.quota(address_key(address))
    cancelled = repository.save(gone.cancelled(T0 + timedelta(hours=1)), quota.after_unfollow())
    assert cancelled.state is SubscriptionState.CANCELLED
    assert [s.id for s in repository.followers(nup(1), None, 10).items] == [kept.id]
    assert repository.quota(address_key(address)).following == 0
    # Following again (a reissued, then confirmed subscription) brings it back.
    back, _ = cancelled.reissued(T0 + timedelta(hours=2))
    back = repository.save(back, repository.quota(address_key(address)).after_confirmation_sent(
        T0 + timedelta(hours=2), new_follow=True))  # fmt: skip
    repository.save(back.confirmed(T0 + timedelta(hours=2)))
    assert sorted(s.id for s in repository.followers(nup(1), None, 10).items) == sorted([kept.id, gone.id])


# --- suppression ---------------------------------------------------------------------------------------


def test_suppress_marks_the_address_even_one_never_seen(repository: DynamoSubscriptionRepository) -> None:
    seen, unseen = email(), email()
    follow(repository, seen, nup(1))
    assert not repository.suppressed(address_key(seen))
    assert not repository.suppressed(address_key(unseen))
    repository.suppress(address_key(seen), "Bounce Permanent", T0)
    repository.suppress(address_key(unseen), "Complaint", T0)
    assert repository.suppressed(address_key(seen))
    assert repository.suppressed(address_key(unseen))
    assert not repository.suppressed(address_key(email()))
    repository.suppress(address_key(seen), "Complaint", T0 + timedelta(hours=1))  # again: harmless
    assert repository.suppressed(address_key(seen))


def test_suppression_and_quota_writes_never_erase_each_other(
    repository: DynamoSubscriptionRepository,
) -> None:
    address = email()
    key = address_key(address)
    follow(repository, address, nup(1))
    before = repository.quota(key)

    # A suppression keeps the counters a quota write left...
    repository.suppress(key, "Bounce Permanent", T0 + timedelta(minutes=5))
    after = repository.quota(key)
    assert replace(after, version=0) == replace(before, version=0)
    assert after.version > before.version  # ...and moves the version on,

    # ...so a quota write that read before the suppression fails, and writes nothing,
    second, _ = new_subscription(address, nup(2), T0)
    with pytest.raises(Conflict):
        repository.save(second, before.after_confirmation_sent(T0, new_follow=True))
    assert repository.get(second.id) is None
    assert repository.quota(key) == after
    # ...and one that read after it keeps the mark.
    repository.save(second, after.after_confirmation_sent(T0, new_follow=True))
    assert repository.suppressed(key)
    assert repository.quota(key).following == 2


def test_a_quota_read_before_the_address_existed_loses_to_a_suppression(
    repository: DynamoSubscriptionRepository,
) -> None:
    address = email()
    key = address_key(address)
    empty = repository.quota(key)  # no item yet: version 0
    repository.suppress(key, "Complaint", T0)
    first, _ = new_subscription(address, nup(1), T0)
    with pytest.raises(Conflict):
        repository.save(first, empty.after_confirmation_sent(T0, new_follow=True))
    assert repository.get(first.id) is None
    assert repository.suppressed(key)
    assert repository.quota(key).following == 0


def test_a_cancelled_subscription_expires_and_a_renewed_one_does_not(
    repository: DynamoSubscriptionRepository,
) -> None:
    address, number = email(), nup(40)
    following = confirmed(repository, address, number)
    assert SubscriptionItem.get(f"S#{following.id}").expira is None
    cancelled = repository.save(following.cancelled(T0 + timedelta(days=1)))
    expires = SubscriptionItem.get(f"S#{cancelled.id}").expira
    assert expires == int((T0 + timedelta(days=31)).timestamp())  # the address goes 30 days later
    renewed, _ = cancelled.reissued(T0 + timedelta(days=2))
    renewed = repository.save(renewed)
    assert SubscriptionItem.get(f"S#{renewed.id}").expira is None
