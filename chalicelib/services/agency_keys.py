"""Agencies' public keys: registered, listed and revoked by the agency's admin; looked up by the bus
to check a receiver's own signature on a recibo de conclusão."""

from __future__ import annotations

import uuid

from chalicelib.domain.agency_keys import AgencyKey, key_algorithm
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.services.ports import AgencyKeyRepository, Clock

MAX_KEYS = 20  # per agency, revoked ones included: keys rotate, they do not pile up


def key_not_found(key_id: str) -> NotFound:
    return NotFound(f"Chave {key_id} não encontrada.")


class AgencyKeys:
    def __init__(self, repository: AgencyKeyRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def register(self, agency_id: str, pem: str) -> AgencyKey:
        algorithm = key_algorithm(pem)
        if len(self._repository.keys_of(agency_id)) >= MAX_KEYS:
            raise Conflict(f"O órgão já tem {MAX_KEYS} chaves registradas; revogue as que não usa mais.")
        key = AgencyKey(uuid.uuid4().hex[:16], agency_id, pem.strip() + "\n", algorithm, self._clock.now())
        self._repository.add(key)
        return key

    def keys_of(self, agency_id: str) -> list[AgencyKey]:
        return self._repository.keys_of(agency_id)

    def revoke(self, agency_id: str, key_id: str) -> AgencyKey:
        """From now on the key no longer vouches for anything new; receipts it signed stay as they are."""
        revoked = self._repository.revoke(agency_id, key_id, self._clock.now())
        if revoked is None:
            raise key_not_found(key_id)
        return revoked

    def active(self, agency_id: str, key_id: str) -> AgencyKey | None:
        return next((k for k in self._repository.keys_of(agency_id) if k.id == key_id and k.active), None)
