"""DynamoDB adapter of the Repositório de Estruturas (StructureRepository)."""

from __future__ import annotations

from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.domain.errors import Conflict
from chalicelib.domain.structures import Structure, normalize
from chalicelib.services.ports import Page, StructureQuery
from chalicelib.store import cursors
from chalicelib.store.models import AGENCY_LIST, STRUCTURE_LIST, Counter, ProtocolCodeGuard, StructureItem

_ID_WIDTH = 12


def _guard_key(code: str) -> str:
    return f"codigo#{code}"


def to_domain(item: StructureItem) -> Structure:
    return Structure(
        id=item.pk,
        name=item.nome,
        acronym=item.sigla,
        agency_id=item.orgao_id,
        parent_id=item.pai_id,
        active=item.ativo,
        can_send=item.pode_enviar,
        can_receive=item.pode_receber,
        protocol_code=item.codigo_protocolo,
        contact_email=item.email_contato,
        version=int(item.versao or 0),
    )


def to_item(structure: Structure) -> StructureItem:
    name_norm = normalize(structure.name)
    item = StructureItem(
        pk=structure.id,
        lista=STRUCTURE_LIST,
        raiz=AGENCY_LIST if structure.is_agency else None,
        ordem=f"{name_norm}#{structure.id.zfill(_ID_WIDTH)}",
        nome=structure.name,
        nome_norm=name_norm,
        sigla=structure.acronym,
        sigla_norm=normalize(structure.acronym),
        orgao_id=structure.agency_id,
        pai_id=structure.parent_id,
        ativo=structure.active,
        pode_enviar=structure.can_send,
        pode_receber=structure.can_receive,
        codigo_protocolo=structure.protocol_code,
        email_contato=structure.contact_email,
    )
    if structure.version:
        item.versao = structure.version
    return item


class DynamoStructureRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, structure_id: str) -> Structure | None:
        try:
            return to_domain(StructureItem.get(structure_id, consistent_read=True))
        except StructureItem.DoesNotExist:
            return None

    def put(self, structure: Structure) -> Structure:
        previous = self.get(structure.id) if structure.version else None
        old_code = previous.protocol_code if previous else None
        item = to_item(structure)
        try:
            if old_code == structure.protocol_code:
                item.save()
            else:
                self._put_with_code(item, structure, old_code)
        except (PutError, TransactWriteError) as error:
            raise self._conflict(structure, error) from error
        return to_domain(item)

    def _put_with_code(self, item: StructureItem, structure: Structure, old_code: str | None) -> None:
        with TransactWrite(connection=self._connection) as transaction:
            transaction.save(item)
            if structure.protocol_code is not None:
                guard = ProtocolCodeGuard(pk=_guard_key(structure.protocol_code), dono=structure.id)
                free = ProtocolCodeGuard.pk.does_not_exist() | (ProtocolCodeGuard.dono == structure.id)
                transaction.save(guard, condition=free)
            if old_code is not None:
                transaction.delete(
                    ProtocolCodeGuard(pk=_guard_key(old_code)),
                    condition=ProtocolCodeGuard.dono == structure.id,
                )

    def _conflict(self, structure: Structure, error: PutError | TransactWriteError) -> Conflict:
        reasons = getattr(error, "cancellation_reasons", None) or []
        guard_failed = structure.protocol_code is not None and len(reasons) > 1 and reasons[1] is not None
        if guard_failed and reasons[1] is not None and reasons[1].code == "ConditionalCheckFailed":
            return Conflict(
                f"O código de unidade protocolizadora {structure.protocol_code} "
                "já pertence a outra estrutura."
            )
        if error.cause_response_code in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
            if structure.version:
                return Conflict(
                    f"A estrutura {structure.id} foi alterada por outra operação; releia e repita."
                )
            return Conflict(f"A estrutura {structure.id} já existe.")
        raise error

    def search(self, query: StructureQuery, cursor: str | None, limit: int) -> Page[Structure]:
        # The most selective criterion picks the index; every other one filters.
        index: Any
        if query.agencies_only:
            index, hash_value, hash_name = StructureItem.agencies, AGENCY_LIST, "raiz"
        elif query.agency_id is not None:
            index, hash_value, hash_name = StructureItem.by_agency, query.agency_id, "orgao_id"
        elif query.acronym is not None:
            index, hash_value, hash_name = StructureItem.by_acronym, normalize(query.acronym), "sigla_norm"
        else:
            index, hash_value, hash_name = StructureItem.by_name, STRUCTURE_LIST, "lista"
        filters = [
            (StructureItem.sigla_norm == normalize(query.acronym))
            if query.acronym is not None and hash_name != "sigla_norm"
            else None,
            (StructureItem.orgao_id == query.agency_id)
            if query.agency_id is not None and hash_name != "orgao_id"
            else None,
            StructureItem.nome_norm.contains(normalize(query.name)) if query.name else None,
            (StructureItem.pode_receber == query.can_receive) if query.can_receive is not None else None,
            (StructureItem.ativo == query.active) if query.active is not None else None,
        ]
        condition: Condition | None = None
        for extra in filters:
            if extra is not None:
                condition = extra if condition is None else condition & extra
        start = cursors.decode(cursor, query, {"pk", hash_name, "ordem"})
        # One item past the page says whether there is a next one, in the same Query.
        results = index.query(
            hash_value, filter_condition=condition, last_evaluated_key=start, page_size=limit + 1
        )
        items: list[StructureItem] = []
        for item in results:
            items.append(item)
            if len(items) > limit:
                break
        more = len(items) > limit
        page = items[:limit]
        next_key = None
        if more:
            last = page[-1]
            next_key = {
                "pk": {"S": last.pk},
                hash_name: {"S": getattr(last, hash_name)},
                "ordem": {"S": last.ordem},
            }
        return Page([to_domain(i) for i in page], cursors.encode(next_key, query))

    def next_id(self) -> str:
        counter = Counter(pk="#contador#estruturas")
        counter.update(actions=[Counter.valor.add(1)])
        # Operator-chosen ids (the national registry's) are usually small; start far above them.
        return str(900_000_000 + int(counter.valor))
