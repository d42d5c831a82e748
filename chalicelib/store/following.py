"""DynamoDB adapter of the subscriptions (SubscriptionRepository), table "acompanhamentos".

- "S#<subscription id>": a subscription. `seguindo` (the NUP) is set only while it is confirmed,
  so the sparse index `seguidores` lists exactly a NUP's confirmed followers.
- "A#<address key>": the address's quota counters and its suppression mark. The quota is written
  by an update of its own attributes only (conditioned on the version read), and the suppression
  by another that bumps the version: neither can erase the other.
A subscription and its address's quota are written in one TransactWriteItems.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain.errors import Conflict
from chalicelib.domain.following import AddressQuota, Subscription, SubscriptionState, address_key
from chalicelib.services.ports import Page
from chalicelib.store import cursors
from chalicelib.store.models import AddressItem, SubscriptionItem

# A cancelled subscription's address is kept this long (a resubscription finds its quota slot free),
# then DynamoDB's TTL deletes the item: no address is kept for a subscription that ended.
CANCELLED_KEPT_FOR = timedelta(days=30)
_STALE = {"ConditionalCheckFailedException", "TransactionCanceledException"}


def _subscription_key(subscription_id: str) -> str:
    return f"S#{subscription_id}"


def _address_key(address: str) -> str:
    return f"A#{address}"


def to_domain(item: SubscriptionItem) -> Subscription:
    return Subscription(
        id=item.pk.removeprefix("S#"),
        nup=item.nup,
        email=item.email,
        state=SubscriptionState(item.estado),
        created_at=item.criado_em,
        unsubscribe_token=item.token_cancelamento,
        confirm_token_hash=item.token_confirmacao_hash,
        confirm_expires_at=item.confirmacao_expira_em,
        confirmed_at=item.confirmado_em,
        cancelled_at=item.cancelado_em,
        version=int(item.versao or 0),
    )


def to_item(subscription: Subscription, address: str) -> SubscriptionItem:
    item = SubscriptionItem(
        pk=_subscription_key(subscription.id),
        nup=subscription.nup,
        email=subscription.email,
        endereco=address,
        estado=subscription.state.value,
        criado_em=subscription.created_at,
        token_cancelamento=subscription.unsubscribe_token,
        token_confirmacao_hash=subscription.confirm_token_hash,
        confirmacao_expira_em=subscription.confirm_expires_at,
        confirmado_em=subscription.confirmed_at,
        cancelado_em=subscription.cancelled_at,
        seguindo=subscription.nup if subscription.state is SubscriptionState.CONFIRMED else None,
    )
    if subscription.state is SubscriptionState.CANCELLED and subscription.cancelled_at is not None:
        item.expira = int((subscription.cancelled_at + CANCELLED_KEPT_FOR).timestamp())
    if subscription.version:
        item.versao = subscription.version
    return item


def _quota(item: AddressItem) -> AddressQuota:
    return AddressQuota(
        address=item.pk.removeprefix("A#"),
        following=int(item.seguindo_total or 0),
        hour_start=item.hora,
        confirmations_this_hour=int(item.confirmacoes_hora or 0),
        version=int(item.versao or 0),
    )


class DynamoSubscriptionRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, subscription_id: str) -> Subscription | None:
        try:
            return to_domain(SubscriptionItem.get(_subscription_key(subscription_id), consistent_read=True))
        except SubscriptionItem.DoesNotExist:
            return None

    def _address(self, address: str) -> AddressItem | None:
        try:
            return AddressItem.get(_address_key(address), consistent_read=True)
        except AddressItem.DoesNotExist:
            return None

    def quota(self, address: str) -> AddressQuota:
        item = self._address(address)
        return AddressQuota(address=address) if item is None else _quota(item)

    def save(self, subscription: Subscription, quota: AddressQuota | None = None) -> Subscription:
        item = to_item(subscription, address_key(subscription.email))
        try:
            if quota is None:
                item.save()  # the version attribute adds the condition
            else:
                with TransactWrite(connection=self._connection) as transaction:
                    transaction.save(item)
                    counters = AddressItem(pk=_address_key(quota.address))
                    if quota.version:
                        counters.versao = quota.version
                    transaction.update(
                        counters,
                        actions=[
                            AddressItem.seguindo_total.set(quota.following),
                            AddressItem.hora.set(quota.hour_start)
                            if quota.hour_start
                            else AddressItem.hora.remove(),
                            AddressItem.confirmacoes_hora.set(quota.confirmations_this_hour),
                        ],
                    )
        except (PutError, TransactWriteError) as error:
            if error.cause_response_code in _STALE:
                raise Conflict(
                    "O acompanhamento foi alterado por outra operação ao mesmo tempo; tente novamente."
                ) from error
            raise
        return to_domain(item)

    def followers(self, nup: str, cursor: str | None, limit: int) -> Page[Subscription]:
        query = ("seguidores", nup)
        start = cursors.decode(cursor, query, {"pk", "seguindo"})
        results = SubscriptionItem.followers.query(
            nup, last_evaluated_key=start, limit=limit, page_size=limit
        )
        items = [to_domain(item) for item in results]
        last = results.last_evaluated_key
        return Page(items, cursors.encode(last, query) if last and items else None)

    def suppressed(self, address: str) -> bool:
        item = self._address(address)
        return item is not None and item.suprimido_em is not None

    def suppress(self, address: str, reason: str, at: datetime) -> None:
        # A plain update, no version condition, but the version moves on: a quota write that read
        # the item before this fails its condition and is retried (it never erases the mark).
        counters = AddressItem(pk=_address_key(address))
        AddressItem._get_connection().update_item(
            counters.pk,
            actions=[
                AddressItem.suprimido_em.set(at),
                AddressItem.motivo_supressao.set(reason[:200]),
                AddressItem.versao.add(1),
            ],
        )
