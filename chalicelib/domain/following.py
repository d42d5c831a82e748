"""Following a process by e-mail: subscriptions with double opt-in, the limits that keep the form
from being used to spam people, and the digest windows.

A subscription is pending until the link of its confirmation e-mail is used: the link's token is
random, stored only as a hash, single-use and short-lived. Only confirmed subscriptions receive
notices. Each notice covers the movements first published in one window of time (a digest), so a
burst of movements sends one e-mail; its idempotency key is subscription + NUP + window.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email

from chalicelib.domain.errors import FieldError, InvalidInput

CONFIRMATION_VALID_FOR = timedelta(hours=24)
MAX_FOLLOWED_PER_ADDRESS = 50  # pending and confirmed subscriptions of one address
MAX_CONFIRMATIONS_PER_HOUR = 5  # confirmation e-mails sent to one address per hour
MAX_EMAIL = 254


class SubscriptionState(StrEnum):
    PENDING = "pendente"
    CONFIRMED = "confirmado"
    CANCELLED = "cancelado"


def normalize_email(text: str, field: str = "email") -> str:
    """The address as we store and send to it: syntax checked by email-validator (no DNS lookup, so
    the API answers the same offline and online), domain lower-cased and IDNA-checked."""
    value = (text or "").strip()
    if not value or len(value) > MAX_EMAIL:
        raise InvalidInput(
            "Informe um endereço de e-mail válido.",
            [FieldError(field, f"informe um endereço de e-mail com até {MAX_EMAIL} caracteres")],
        )
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput(
            "O endereço de e-mail informado não é válido.",
            [FieldError(field, f"não é um endereço de e-mail válido ({error})")],
        ) from None
    return str(checked.normalized)


def address_key(email: str) -> str:
    """Keys and logs name an address by this hash, never by the address itself."""
    return hashlib.sha256(email.casefold().encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def subscription_id(email: str, nup: str) -> str:
    """One subscription per (address, NUP): subscribing again finds the same one."""
    return hashlib.sha256(f"{email.casefold()}|{nup}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Subscription:
    id: str
    nup: str
    email: str
    state: SubscriptionState
    created_at: datetime
    # The unsubscribe link's secret: every notice carries it, so it is stored as is (it can only
    # end this subscription). The confirmation token is stored as a hash only.
    unsubscribe_token: str
    confirm_token_hash: str | None = None
    confirm_expires_at: datetime | None = None
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    version: int = 0

    @property
    def active(self) -> bool:
        return self.state is not SubscriptionState.CANCELLED

    def reissued(self, now: datetime) -> tuple[Subscription, str]:
        """A pending (or cancelled) subscription with a fresh confirmation token; the old link dies."""
        token = new_token()
        return (
            replace(
                self,
                state=SubscriptionState.PENDING,
                confirm_token_hash=token_hash(token),
                confirm_expires_at=now + CONFIRMATION_VALID_FOR,
                cancelled_at=None,
            ),
            token,
        )

    def confirmation_problem(self, token: str, now: datetime) -> str | None:
        """Why `token` cannot confirm this subscription, or None when it can. The token is checked
        first: whoever knows an address and a NUP can compute the subscription's id, so without the
        link's token every answer is "invalid" (no oracle of who follows what)."""
        if self.confirm_token_hash is None or not secrets.compare_digest(
            self.confirm_token_hash, token_hash(token)
        ):
            return "invalid"
        if self.state is SubscriptionState.CONFIRMED:
            return "used"
        if self.confirm_expires_at is None or now > self.confirm_expires_at:
            return "expired"
        return None

    def confirmed(self, now: datetime) -> Subscription:
        # The used token's hash stays, so reusing the link is told apart from a wrong token.
        return replace(self, state=SubscriptionState.CONFIRMED, confirmed_at=now)

    def cancelled(self, now: datetime) -> Subscription:
        return replace(
            self,
            state=SubscriptionState.CANCELLED,
            cancelled_at=now,
            confirm_token_hash=None,
            confirm_expires_at=None,
        )

    def unsubscribes(self, token: str) -> bool:
        return secrets.compare_digest(self.unsubscribe_token, token)


def new_subscription(email: str, nup: str, now: datetime) -> tuple[Subscription, str]:
    pending = Subscription(
        id=subscription_id(email, nup),
        nup=nup,
        email=email,
        state=SubscriptionState.PENDING,
        created_at=now,
        unsubscribe_token=new_token(),
    )
    return pending.reissued(now)


@dataclass(frozen=True)
class AddressQuota:
    """Per address: how many processes it follows (pending or confirmed) and how many confirmation
    e-mails it was sent in the current hour."""

    address: str  # address_key
    following: int = 0
    hour_start: datetime | None = None
    confirmations_this_hour: int = 0
    version: int = 0

    def _hour(self, now: datetime) -> datetime:
        return now.replace(minute=0, second=0, microsecond=0)

    def confirmations(self, now: datetime) -> int:
        return self.confirmations_this_hour if self.hour_start == self._hour(now) else 0

    def after_confirmation_sent(self, now: datetime, *, new_follow: bool) -> AddressQuota:
        return replace(
            self,
            following=self.following + (1 if new_follow else 0),
            hour_start=self._hour(now),
            confirmations_this_hour=self.confirmations(now) + 1,
        )

    def after_unfollow(self) -> AddressQuota:
        return replace(self, following=max(0, self.following - 1))


def window_of(at: datetime, window_seconds: int) -> int:
    """The digest window a movement published at `at` belongs to (windows are fixed slots of time,
    so every worker computes the same one)."""
    return int(at.timestamp()) // window_seconds


def window_end(window: int, window_seconds: int) -> int:
    """Epoch second at which `window` closes."""
    return (window + 1) * window_seconds


def notice_key(subscription_id: str, nup: str, window: int) -> str:
    """Idempotency key of one notice: a redelivered fan-out never sends it twice."""
    return f"{subscription_id}#{nup}#{window}"
