"""DynamoDB adapter of the agencies' publication choices (PublicationRepository): one small item per
agency in the clients table, read once per projected event of that agency."""

from __future__ import annotations

from datetime import datetime

from chalicelib.store.models import PublicationItem


def _id(agency_id: str) -> str:
    return f"PUBLICACAO#{agency_id}"


class DynamoPublicationRepository:
    def publishes_restricted(self, agency_id: str) -> bool:
        try:
            item = PublicationItem.get(_id(agency_id), consistent_read=True)
        except PublicationItem.DoesNotExist:
            return False
        return bool(item.publicar_restritos)

    def set_publishes_restricted(self, agency_id: str, value: bool, at: datetime) -> None:
        PublicationItem(id=_id(agency_id), publicar_restritos=value, alterado_em=at).save()
