"""Following by e-mail: the subscription's rules and the Following service, on in-memory fakes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.domain.errors import Conflict, InvalidInput, LinkExpired, LinkUsed, NotFound, TooMany
from chalicelib.domain.following import (
    MAX_CONFIRMATIONS_PER_HOUR,
    MAX_FOLLOWED_PER_ADDRESS,
    AddressQuota,
    Subscription,
    SubscriptionState,
    address_key,
    new_subscription,
    window_of,
)
from chalicelib.domain.nup import Nup
from chalicelib.domain.processes import AccessLevel
from chalicelib.domain.tracking import (
    Agency,
    PublicMovement,
    PublicPart,
    PublicRecord,
    SearchHit,
    SearchQuery,
    Source,
)
from chalicelib.services.following import Following, NoticeNotSent
from chalicelib.services.ports import MailMessage, Page
from chalicelib.services.site_links import SiteLinks
from tests.fakes import FakeClock, RecordingOutbox, _page

NUP = Nup.issue("25000", 1, 2026).digits
OTHER_NUP = Nup.issue("25000", 2, 2026).digits
WINDOW_SECONDS = 600
MS = Agency("100", "MS", "Ministério da Saúde")


# --- fakes -----------------------------------------------------------------------------------------


class InMemorySubscriptions:
    def __init__(self) -> None:
        self.rows: dict[str, Subscription] = {}
        self.quotas: dict[str, AddressQuota] = {}
        self.suppressed_at: dict[str, str] = {}

    def get(self, subscription_id: str) -> Subscription | None:
        return self.rows.get(subscription_id)

    def quota(self, address: str) -> AddressQuota:
        return self.quotas.get(address, AddressQuota(address=address))

    def save(self, subscription: Subscription, quota: AddressQuota | None = None) -> Subscription:
        current = self.rows.get(subscription.id)
        if (current.version if current else 0) != subscription.version:
            raise Conflict("stale subscription")
        if quota is not None and self.quota(quota.address).version != quota.version:
            raise Conflict("stale quota")
        stored = replace(subscription, version=subscription.version + 1)
        self.rows[subscription.id] = stored
        if quota is not None:
            self.quotas[quota.address] = replace(quota, version=quota.version + 1)
        return stored

    def followers(self, nup: str, cursor: str | None, limit: int) -> Page[Subscription]:
        rows = sorted(
            (s for s in self.rows.values() if s.nup == nup and s.state is SubscriptionState.CONFIRMED),
            key=lambda s: s.id,
        )
        return _page(rows, cursor, limit, ("seguidores", nup), "id")

    def suppressed(self, address: str) -> bool:
        return address in self.suppressed_at

    def suppress(self, address: str, reason: str, at: datetime) -> None:
        self.suppressed_at[address] = reason


class Records:
    def __init__(self) -> None:
        self.rows: dict[str, PublicRecord] = {}

    def get(self, nup: str, *, consistent: bool = True) -> PublicRecord | None:
        return self.rows.get(nup)

    def save(self, record: PublicRecord, previous: PublicRecord | None) -> PublicRecord:
        raise AssertionError("following never writes the public base")

    def search(self, query: SearchQuery, cursor: str | None, limit: int) -> Page[SearchHit]:
        raise AssertionError("following never searches")


class Sender:
    def __init__(self) -> None:
        self.sent: list[MailMessage] = []
        self.fail_for: set[str] = set()

    def send(self, message: MailMessage) -> str:
        if message.to in self.fail_for:
            self.fail_for.discard(message.to)
            raise ConnectionError("injected: SES is unreachable")
        self.sent.append(message)
        return f"ses-{len(self.sent)}"


class Notices:
    def __init__(self) -> None:
        self.continued: list[tuple[str, int, str]] = []

    def schedule_digest(self, nup: str, window: int, delay_seconds: int) -> None:
        raise AssertionError("following never schedules a digest")

    def continue_digest(self, nup: str, window: int, after: str) -> None:
        self.continued.append((nup, window, after))


class MemoryOnce:
    """Once as Powertools does it: a failed action leaves no record."""

    def __init__(self) -> None:
        self.done: set[str] = set()

    def run(self, key: str, action: Callable[[], None]) -> bool:
        if key in self.done:
            return False
        action()
        self.done.add(key)
        return True


class World:
    def __init__(self, page_size: int = 50) -> None:
        self.clock = FakeClock(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
        self.subscriptions, self.records = InMemorySubscriptions(), Records()
        self.outbox, self.sender, self.notices = RecordingOutbox(), Sender(), Notices()
        self.once = MemoryOnce()
        self.following = Following(
            self.subscriptions, self.records, outbox=self.outbox, sender=self.sender, notices=self.notices,
            once=self.once, clock=self.clock, links=SiteLinks("https://pen.example.gov.br/api"),
            window_seconds=WINDOW_SECONDS, page_size=page_size,
        )  # fmt: skip

    def publish(self, nup: str = NUP, *, level: AccessLevel = AccessLevel.PUBLICO, moves: int = 1) -> int:
        """The record of `nup` with `moves` movements first published in the current window."""
        window = window_of(self.clock.now(), WINDOW_SECONDS)
        movements = tuple(
            PublicMovement(
                at=self.clock.now() - timedelta(minutes=n), unit="PROT", operation="02", window=window
            )
            for n in range(moves)
        )
        published = level is AccessLevel.PUBLICO
        part = PublicPart(MS, Source.PLATFORM, level, published, self.clock.now(), movements=movements)
        self.records.rows[nup] = PublicRecord(nup, (part,))
        return window

    def confirmed(self, email: str, nup: str = NUP) -> Subscription:
        self.following.follow(nup, email)
        subscription_id, token = link_parts(self.outbox.messages[-1].text, "confirmacao")
        return self.following.confirm(subscription_id, token)


def link_parts(text: str, action: str) -> tuple[str, str]:
    """The subscription id and token of the site's landing page linked for `action`."""
    page = {"confirmacao": "confirmar.html", "cancelamento": "cancelar.html"}[action]
    url = re.search(rf"https://\S+/{re.escape(page)}\?\S+", text)
    assert url is not None, text
    query = parse_qs(urlsplit(url.group(0)).query)
    return query["id"][0], query["token"][0]


# --- the subscription --------------------------------------------------------------------------------


def test_a_confirmation_token_is_single_use_and_expires() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    pending, token = new_subscription("a@example.org", NUP, now)
    assert pending.confirmation_problem("not-the-token", now) == "invalid"
    assert pending.confirmation_problem(token, now + timedelta(hours=25)) == "expired"
    assert pending.confirmation_problem(token, now) is None
    confirmed = pending.confirmed(now)
    assert confirmed.confirmation_problem(token, now) == "used"
    # Without the link's token a confirmed subscription looks like any wrong link (no oracle).
    assert confirmed.confirmation_problem("guessed", now) == "invalid"
    reissued, new_token = pending.reissued(now + timedelta(hours=1))
    assert reissued.confirmation_problem(token, now) == "invalid"  # the old link died
    assert reissued.confirmation_problem(new_token, now + timedelta(hours=1)) is None


def test_the_quota_counts_confirmations_per_clock_hour() -> None:
    quota = AddressQuota("x")
    at = datetime(2026, 3, 10, 12, 59, tzinfo=UTC)
    quota = quota.after_confirmation_sent(at, new_follow=True)
    assert (quota.following, quota.confirmations(at)) == (1, 1)
    assert quota.confirmations(at + timedelta(minutes=2)) == 0
    assert quota.after_unfollow().after_unfollow().following == 0


# --- following ---------------------------------------------------------------------------------------


def test_follow_confirm_and_one_digest_per_window() -> None:
    world = World()
    world.publish()
    world.following.follow("25000.000001/2026-" + NUP[-2:], "  Cidada@Example.ORG ")
    [mail] = world.outbox.messages
    assert mail.to == "Cidada@example.org"
    assert mail.html is not None
    assert "confirmar.html?id=" in mail.html
    subscription_id, token = link_parts(mail.text, "confirmacao")
    assert world.following.fan_out(NUP, window_of(world.clock.now(), WINDOW_SECONDS), None) == 0  # pending

    confirmed = world.following.confirm(subscription_id, token)
    assert confirmed.state is SubscriptionState.CONFIRMED
    window = world.publish(moves=2)
    assert world.following.fan_out(NUP, window, None) == 1
    assert world.following.fan_out(NUP, window, None) == 0  # the message delivered again
    [digest] = world.sender.sent
    assert digest.to == "Cidada@example.org"
    assert digest.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "2 novas movimentações" in digest.text
    assert world.following.fan_out(NUP, window + 1, None) == 0  # nothing new in the next window


def test_a_used_expired_or_wrong_link_is_refused() -> None:
    world = World()
    world.publish()
    world.following.follow(NUP, "a@example.org")
    subscription_id, token = link_parts(world.outbox.messages[-1].text, "confirmacao")
    with pytest.raises(NotFound):
        world.following.confirm(subscription_id, token[:-1] + ("A" if token[-1] != "A" else "B"))
    with pytest.raises(NotFound):
        world.following.confirm("0" * 32, token)
    world.clock.advance(hours=25)
    with pytest.raises(LinkExpired, match="expirou"):
        world.following.confirm(subscription_id, token)
    world.following.follow(NUP, "a@example.org")  # a new link
    subscription_id, token = link_parts(world.outbox.messages[-1].text, "confirmacao")
    world.following.confirm(subscription_id, token)
    with pytest.raises(LinkUsed, match="já foi usado"):
        world.following.confirm(subscription_id, token)


def test_an_invisible_or_unknown_process_cannot_be_followed_and_says_the_same() -> None:
    world = World()
    world.publish(OTHER_NUP, level=AccessLevel.SIGILOSO)
    with pytest.raises(NotFound) as unknown:
        world.following.follow(NUP, "a@example.org")
    with pytest.raises(NotFound) as hidden:
        world.following.follow(OTHER_NUP, "a@example.org")
    assert unknown.value.detail == hidden.value.detail
    assert world.outbox.messages == []


def test_a_bad_address_names_the_field() -> None:
    world = World()
    world.publish()
    with pytest.raises(InvalidInput) as error:
        world.following.follow(NUP, "not an address")
    assert [f.field for f in error.value.fields] == ["email"]


def test_a_suppressed_or_already_confirmed_address_gets_no_mail() -> None:
    world = World()
    world.publish()
    world.confirmed("a@example.org")
    sent = len(world.outbox.messages)
    world.following.follow(NUP, "a@example.org")
    world.following.suppress("b@example.org", "bounce")
    world.following.follow(NUP, "B@example.org")
    assert len(world.outbox.messages) == sent


def test_limits_per_address() -> None:
    world = World()
    for sequence in range(1, MAX_CONFIRMATIONS_PER_HOUR + 2):
        world.publish(Nup.issue("25000", sequence, 2026).digits)
    for sequence in range(1, MAX_CONFIRMATIONS_PER_HOUR + 1):
        world.following.follow(Nup.issue("25000", sequence, 2026).digits, "a@example.org")
    with pytest.raises(TooMany, match="na última hora"):
        world.following.follow(
            Nup.issue("25000", MAX_CONFIRMATIONS_PER_HOUR + 1, 2026).digits, "a@example.org"
        )
    world.clock.advance(hours=1)
    world.following.follow(Nup.issue("25000", MAX_CONFIRMATIONS_PER_HOUR + 1, 2026).digits, "a@example.org")

    address = address_key("a@example.org")
    quota = world.subscriptions.quota(address)
    assert quota.following == MAX_CONFIRMATIONS_PER_HOUR + 1
    world.subscriptions.quotas[address] = replace(quota, following=MAX_FOLLOWED_PER_ADDRESS)
    another = Nup.issue("25000", 99, 2026).digits
    world.publish(another)
    world.clock.advance(hours=1)
    with pytest.raises(TooMany, match=str(MAX_FOLLOWED_PER_ADDRESS)):
        world.following.follow(another, "a@example.org")


def test_unsubscribe_is_one_click_repeatable_and_frees_the_quota() -> None:
    world = World()
    window = world.publish()
    subscription = world.confirmed("a@example.org")
    with pytest.raises(NotFound):
        world.following.unsubscribe(subscription.id, "wrong")
    cancelled = world.following.unsubscribe(subscription.id, subscription.unsubscribe_token)
    assert cancelled.state is SubscriptionState.CANCELLED
    assert (
        world.following.unsubscribe(subscription.id, subscription.unsubscribe_token).version
        == cancelled.version
    )
    assert world.subscriptions.quota(address_key("a@example.org")).following == 0
    assert world.following.fan_out(NUP, window, None) == 0


def test_fan_out_pages_and_retries_send_each_follower_once() -> None:
    world = World(page_size=2)
    world.publish()
    emails = [f"p{n}@example.org" for n in range(5)]
    for email in emails:
        world.confirmed(email)
    window = world.publish()
    world.sender.fail_for = {emails[1]}  # (whichever page it lands on) fails once

    def deliver(after: str | None) -> None:
        for _ in range(3):  # the queue's redelivery after a failure
            try:
                world.following.fan_out(NUP, window, after)
                world.following.fan_out(NUP, window, after)  # and a duplicate delivery
                return
            except NoticeNotSent:
                continue
        raise AssertionError("the page never succeeded")

    queue: list[str | None] = [None]
    pages: set[str | None] = set()
    while queue and len(pages) < 20:
        after = queue.pop(0)
        pages.add(after)
        deliver(after)
        queue += [after for _, _, after in world.notices.continued]
        world.notices.continued.clear()
    assert sorted(m.to for m in world.sender.sent) == sorted(emails)
    assert len(pages) == 3  # 5 followers, 2 a page


def test_no_digest_for_a_suppressed_address_or_a_hidden_process() -> None:
    world = World()
    world.publish()
    world.confirmed("a@example.org")
    world.confirmed("b@example.org")
    window = world.publish()
    world.following.suppress("A@EXAMPLE.org", "complaint")
    assert world.following.fan_out(NUP, window, None) == 1
    assert [m.to for m in world.sender.sent] == ["b@example.org"]
    world.publish(level=AccessLevel.SIGILOSO)
    assert world.following.fan_out(NUP, window + 7, None) == 0


def test_movements_published_before_the_follower_confirmed_are_not_sent_to_them() -> None:
    world = World()
    earlier = world.publish()
    world.clock.advance(seconds=2 * WINDOW_SECONDS)  # the earlier window's digest is still to go out
    world.confirmed("nova@example.org")
    assert world.following.fan_out(NUP, earlier, None) == 0
    later = world.publish()
    assert world.following.fan_out(NUP, later, None) == 1
