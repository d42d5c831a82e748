"""Following a process by e-mail: subscribe (double opt-in), confirm, unsubscribe, the digests'
fan-out and the suppression list.

- `follow` answers the same way whether the address is new, already following or suppressed (no
  oracle of who follows what); only the limits per address (AddressQuota) refuse, with a 429.
- The confirmation e-mail leaves through the mail outbox (SQS -> the mail worker -> SES).
- `fan_out` is one page of a NUP's digest: the followers after a cursor, each sent the movements
  first published in the window, exactly once per (subscription, NUP, window) through `Once`, even
  when the page's message is delivered again; the next page is queued first, so the pages of a NUP
  with 10,000 followers are sent side by side, not one after another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from chalicelib.domain.errors import Conflict, InvalidInput, LinkExpired, LinkUsed, NotFound, TooMany
from chalicelib.domain.following import (
    MAX_CONFIRMATIONS_PER_HOUR,
    MAX_FOLLOWED_PER_ADDRESS,
    Subscription,
    SubscriptionState,
    address_key,
    new_subscription,
    normalize_email,
    notice_key,
    subscription_id,
    window_of,
)
from chalicelib.domain.nup import parse_nup
from chalicelib.domain.tracking import PublicMovement, PublicRecord, new_movements
from chalicelib.observability import logger
from chalicelib.services.citizen_mail import confirmation_mail, digest_mail
from chalicelib.services.ports import (
    Clock,
    MailMessage,
    MailOutbox,
    MailSender,
    NoticeQueue,
    Once,
    PublicRecordRepository,
    SubscriptionRepository,
)
from chalicelib.services.site_links import SiteLinks
from chalicelib.services.tracking import not_found

FOLLOWERS_PAGE = 50  # followers per notices message: one Lambda run sends at most this many e-mails
RETRIES = 5  # optimistic-concurrency retries of a subscription change


T = TypeVar("T")


class NoticeNotSent(Exception):
    """Some e-mails of a page failed: the page's message is retried (the ones sent are not resent)."""


class Following:
    def __init__(
        self,
        subscriptions: SubscriptionRepository,
        records: PublicRecordRepository,
        *,
        outbox: MailOutbox,
        sender: MailSender,
        notices: NoticeQueue,
        once: Once,
        clock: Clock,
        links: SiteLinks,
        window_seconds: int,
        page_size: int = FOLLOWERS_PAGE,
    ) -> None:
        self._subscriptions = subscriptions
        self._records = records
        self._outbox = outbox
        self._sender = sender
        self._notices = notices
        self._once = once
        self._clock = clock
        self._links = links
        self._window_seconds = window_seconds
        self.page_size = page_size

    # --- the citizen's side --------------------------------------------------------------------

    def follow(self, nup_text: str, email_text: str) -> None:
        """Starts (or restarts) following: a confirmation e-mail goes to the address. A suppressed
        address, or one already confirmed for this NUP, gets the same answer and no e-mail."""
        nup = parse_nup(nup_text).digits
        email = normalize_email(email_text)
        self._visible(nup)
        address = address_key(email)
        if self._subscriptions.suppressed(address):
            logger.info("follow: suppressed address", extra={"address": address[:12]})
            return
        sent = self._retrying(lambda: self._issue(nup, email, address))
        if sent is None:
            return
        subscription, token = sent
        expires_at = subscription.confirm_expires_at
        assert expires_at is not None  # noqa: S101 - a reissued subscription always has it
        self._outbox.enqueue(
            confirmation_mail(email, nup, self._links.confirm(subscription.id, token), expires_at)
        )

    def _issue(self, nup: str, email: str, address: str) -> tuple[Subscription, str] | None:
        now = self._clock.now()
        existing = self._subscriptions.get(subscription_id(email, nup))
        if existing is not None and existing.state is SubscriptionState.CONFIRMED:
            return None
        quota = self._subscriptions.quota(address)
        new_follow = existing is None or existing.state is SubscriptionState.CANCELLED
        if new_follow and quota.following >= MAX_FOLLOWED_PER_ADDRESS:
            raise TooMany(
                f"Este endereço de e-mail já acompanha o máximo de {MAX_FOLLOWED_PER_ADDRESS} "
                "processos. Cancele o acompanhamento de algum deles para seguir outro."
            )
        if quota.confirmations(now) >= MAX_CONFIRMATIONS_PER_HOUR:
            raise TooMany(
                f"Este endereço de e-mail já recebeu {MAX_CONFIRMATIONS_PER_HOUR} pedidos de confirmação "
                "na última hora. Aguarde até a próxima hora e tente novamente."
            )
        if existing is None:
            subscription, token = new_subscription(email, nup, now)
        else:
            subscription, token = existing.reissued(now)
        stored = self._subscriptions.save(
            subscription, quota.after_confirmation_sent(now, new_follow=new_follow)
        )
        return stored, token

    def confirm(self, subscription_id_: str, token: str) -> Subscription:
        def attempt() -> Subscription:
            subscription = self._subscriptions.get(subscription_id_)
            if subscription is None:
                raise _wrong_link()
            problem = subscription.confirmation_problem(token, self._clock.now())
            if problem == "invalid":
                raise _wrong_link()
            if problem == "used":
                raise LinkUsed("Este link de confirmação já foi usado: o acompanhamento já está confirmado.")
            if problem == "expired":
                raise LinkExpired(
                    "Este link de confirmação expirou. Peça o acompanhamento de novo para receber "
                    "um novo link."
                )
            return self._subscriptions.save(subscription.confirmed(self._clock.now()))

        return self._retrying(attempt)

    def unsubscribe(self, subscription_id_: str, token: str) -> Subscription:
        """Ends the subscription. Repeating it is harmless (RFC 8058 clients may post twice)."""

        def attempt() -> Subscription:
            subscription = self._subscriptions.get(subscription_id_)
            if subscription is None or not subscription.unsubscribes(token):
                raise _wrong_link()
            if subscription.state is SubscriptionState.CANCELLED:
                return subscription
            quota = self._subscriptions.quota(address_key(subscription.email))
            return self._subscriptions.save(subscription.cancelled(self._clock.now()), quota.after_unfollow())

        return self._retrying(attempt)

    # --- the notices' side ---------------------------------------------------------------------

    def fan_out(self, nup: str, window: int, after: str | None) -> int:
        """One page of the digest of `window` for `nup`; returns how many e-mails this run sent."""
        record = self._records.get(nup)
        if record is None or not record.visible:
            return 0
        movements = new_movements(record, window)
        if not movements:
            return 0
        page = self._subscriptions.followers(nup, after, self.page_size)
        if page.cursor:
            # The next page is queued before this one's e-mails go: pages are then sent side by side
            # (one Lambda each) instead of one after the other. Once per page: a redelivered page
            # must not start a second chain of the pages after it.
            cursor = page.cursor
            self._once.run(
                f"pagina#{nup}#{window}#{cursor}", lambda: self._notices.continue_digest(nup, window, cursor)
            )
        sent, failed = 0, 0
        for subscription in page.items:
            try:
                sent += self._notify(subscription, record, window, movements)
            except Exception:
                failed += 1
                logger.exception("notice not sent", extra={"subscription": subscription.id, "janela": window})
        if failed:
            raise NoticeNotSent(f"{failed} notice(s) of {nup}/{window} not sent")
        return sent

    def _notify(
        self,
        subscription: Subscription,
        record: PublicRecord,
        window: int,
        movements: tuple[PublicMovement, ...],
    ) -> int:
        if subscription.state is not SubscriptionState.CONFIRMED or subscription.nup != record.nup:
            return 0
        confirmed = subscription.confirmed_at
        if confirmed is None or window < window_of(confirmed, self._window_seconds):
            return 0  # movements published before the follower confirmed are not news to them
        if self._subscriptions.suppressed(address_key(subscription.email)):
            return 0
        message = digest_mail(
            subscription.email,
            record.nup,
            movements,
            links=self._links,
            subscription_id=subscription.id,
            unsubscribe_token=subscription.unsubscribe_token,
        )
        ran = self._once.run(
            notice_key(subscription.id, record.nup, window), lambda: _send(self._sender, message)
        )
        return 1 if ran else 0

    def suppress(self, email_text: str, reason: str) -> None:
        """SES said the address bounced for good or complained: no more mail to it."""
        try:
            email = normalize_email(email_text)
        except InvalidInput:  # SES reports what it tried: key the text as given then
            email = email_text.strip()
        self._subscriptions.suppress(address_key(email), reason, self._clock.now())

    # --- helpers -------------------------------------------------------------------------------

    def _visible(self, nup: str) -> PublicRecord:
        record = self._records.get(nup)
        if record is None or not record.visible:
            raise not_found()  # the lookup's own answer: no hint that a hidden process exists
        return record

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Re-reads and retries when a write lost an optimistic-concurrency race (Conflict from the
        repository); a refusal of the domain (a used or expired link) is never retried."""
        for remaining in range(RETRIES, 0, -1):
            try:
                return attempt()
            except (LinkUsed, LinkExpired):
                raise
            except Conflict:
                if remaining == 1:
                    raise
        raise AssertionError("unreachable")


def _wrong_link() -> NotFound:
    return NotFound("Link inválido: confira se o endereço foi copiado por inteiro do e-mail.")


def _send(sender: MailSender, message: MailMessage) -> None:
    sender.send(message)
