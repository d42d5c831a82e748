"""DynamoDB adapter of agencies' public keys (AgencyKeyRepository): one item per agency with its few
keys; each change is a read-modify-write on the version read, tried again when another change won,
so two registrations at once never lose one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from pynamodb.exceptions import PutError

from chalicelib.domain.agency_keys import AgencyKey
from chalicelib.domain.errors import Conflict
from chalicelib.store.models import AgencyKeyMap, AgencyKeysItem

ATTEMPTS = 5


def _id(agency_id: str) -> str:
    return f"CHAVES#{agency_id}"


def _key(agency_id: str, item: AgencyKeyMap) -> AgencyKey:
    return AgencyKey(item.id, agency_id, item.pem, item.algoritmo, item.criada_em, item.revogada_em)


def _map(key: AgencyKey) -> AgencyKeyMap:
    return AgencyKeyMap(  # type: ignore[no-untyped-call]  # PynamoDB: MapAttribute.__init__ is untyped
        id=key.id, pem=key.pem, algoritmo=key.algorithm, criada_em=key.created_at, revogada_em=key.revoked_at
    )


class DynamoAgencyKeyRepository:
    def keys_of(self, agency_id: str) -> list[AgencyKey]:
        try:
            item = AgencyKeysItem.get(_id(agency_id), consistent_read=True)
        except AgencyKeysItem.DoesNotExist:
            return []
        return [_key(agency_id, k) for k in item.chaves]

    def add(self, key: AgencyKey) -> None:
        self._update(key.agency_id, lambda keys: [*keys, key])

    def revoke(self, agency_id: str, key_id: str, at: datetime) -> AgencyKey | None:
        """The key revoked (its first revocation time kept), or None when the agency has no such key."""
        found: list[AgencyKey] = []

        def change(keys: list[AgencyKey]) -> list[AgencyKey]:
            found.clear()
            changed = [replace(k, revoked_at=k.revoked_at or at) if k.id == key_id else k for k in keys]
            found.extend(k for k in changed if k.id == key_id)
            return changed

        self._update(agency_id, change)
        return found[0] if found else None

    def _update(self, agency_id: str, change: Callable[[list[AgencyKey]], list[AgencyKey]]) -> None:
        for _ in range(ATTEMPTS):
            try:
                item = AgencyKeysItem.get(_id(agency_id), consistent_read=True)
            except AgencyKeysItem.DoesNotExist:
                item = AgencyKeysItem(id=_id(agency_id))
            item.chaves = [_map(k) for k in change([_key(agency_id, k) for k in item.chaves])]
            try:
                item.save()
                return
            except PutError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
        raise Conflict("As chaves do órgão mudaram várias vezes ao mesmo tempo; tente de novo.")
