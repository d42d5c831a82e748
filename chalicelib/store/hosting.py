"""DynamoDB adapter of the hosting profiles (HostingRepository): one small item per hosted agency in
the clients table, read on every trâmite the bus imports or closes for that agency."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.hosting import HostingProfile
from chalicelib.store.models import HostingItem


def _id(agency_id: str) -> str:
    return f"HOSPEDAGEM#{agency_id}"


class DynamoHostingRepository:
    def get(self, agency_id: str) -> HostingProfile:
        try:
            item = HostingItem.get(_id(agency_id))
        except HostingItem.DoesNotExist:
            return HostingProfile(agency_id)
        kinds = frozenset(int(k) for k in item.especies) if item.especies else None
        return HostingProfile(agency_id, bool(item.hospedado), kinds)

    def put(self, profile: HostingProfile, at: datetime) -> HostingProfile:
        HostingItem(
            id=_id(profile.agency_id),
            hospedado=profile.hosted,
            especies=set(profile.kinds) if profile.kinds else None,
            atualizado_em=at,
        ).save()
        return profile
