"""DynamoDB adapter of agency API clients (ClientRepository)."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from chalicelib.domain.credentials import ApiClient, Scope
from chalicelib.domain.errors import Conflict
from chalicelib.services.ports import Page
from chalicelib.store import cursors
from chalicelib.store.models import ClientItem


def to_domain(item: ClientItem) -> ApiClient:
    return ApiClient(
        id=item.id,
        agency_id=item.orgao_id,
        name=item.nome,
        scopes=frozenset(Scope(s) for s in item.escopos),
        token_hash=item.token_hash,
        created_at=item.criado_em,
        expires_at=item.expira_em,
        revoked_at=item.revogado_em,
        rotated_at=item.renovado_em,
        version=int(item.versao or 0),
    )


def to_item(client: ApiClient) -> ClientItem:
    item = ClientItem(
        id=client.id,
        orgao_id=client.agency_id,
        nome=client.name,
        escopos={s.value for s in client.scopes},
        token_hash=client.token_hash,
        criado_em=client.created_at,
        expira_em=client.expires_at,
        revogado_em=client.revoked_at,
        renovado_em=client.rotated_at,
    )
    if client.version:
        item.versao = client.version
    return item


class DynamoClientRepository:
    def get(self, client_id: str) -> ApiClient | None:
        try:
            return to_domain(ClientItem.get(client_id, consistent_read=True))
        except ClientItem.DoesNotExist:
            return None

    def put(self, client: ApiClient) -> ApiClient:
        item = to_item(client)
        try:
            item.save()
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(
                    f"O cliente {client.id} foi alterado por outra operação; releia e repita."
                ) from error
            raise
        return to_domain(item)

    def list_by_agency(self, agency_id: str, cursor: str | None, limit: int) -> Page[ApiClient]:
        start = cursors.decode(cursor, ("clientes", agency_id), {"id", "orgao_id"})
        results = ClientItem.by_agency.query(
            agency_id, last_evaluated_key=start, limit=limit, page_size=limit
        )
        items = [to_domain(i) for i in results]
        return Page(items, cursors.encode(results.last_evaluated_key, ("clientes", agency_id)))
