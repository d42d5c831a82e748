"""DynamoDB adapter of the event log (EventRepository): one conditional put per event."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import PutError

from chalicelib.domain.events import ProcessEvent
from chalicelib.store.models import EventItem


def _pk(agency_id: str, nup: str) -> str:
    """Per process, i.e. per agency's copy of a NUP: each copy has its own history, numbered from 1,
    so keying by the NUP alone would take one copy's events for redeliveries of the other's."""
    return f"E#{agency_id}#{nup}"


class DynamoEventRepository:
    def add(self, event: ProcessEvent, received_at: datetime) -> bool:
        item = EventItem(
            pk=_pk(event.agency_id, event.nup),
            seq=event.seq,
            em=event.at,
            orgao_id=event.agency_id,
            unidade=event.unit_id,
            operacao=event.operation,
            descricao=event.description,
            nivel_acesso=event.access_level,
            hash=event.hash,
            recebido_em=received_at,
        )
        try:
            item.save(condition=EventItem.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def for_process(self, agency_id: str, nup: str) -> list[ProcessEvent]:
        return [
            ProcessEvent(
                nup=nup,
                seq=int(i.seq),
                at=i.em,
                agency_id=i.orgao_id,
                unit_id=i.unidade,
                operation=i.operacao,
                description=i.descricao,
                access_level=int(i.nivel_acesso),
                hash=i.hash,
            )
            for i in EventItem.query(_pk(agency_id, nup), consistent_read=True)
        ]
