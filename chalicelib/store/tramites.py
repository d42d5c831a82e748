"""DynamoDB adapter of the bus's trâmites (TramiteRepository).

One item per trâmite, with its whole state history and its refusal; one guard item per NRE that has
an open trâmite, claimed in the transaction that creates the trâmite and deleted in the one that
moves it to a final state, so an NRE never has two open trâmites. Every write is conditional on the
version read (optimistic locking): of two moves made from the same read, exactly one is stored.
The listings are index queries, never Scans; the pendências and automatic-cancel indexes are sparse
(their key attributes are absent when no agency has to act, or outside states 1 to 4).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.domain.bus import (
    AUTO_CANCEL_DAYS,
    Actor,
    Address,
    IssuedReceipt,
    Refusal,
    RefusalReason,
    StateChange,
    Tramite,
    TramiteState,
    auto_cancel_at,
    pending_agency,
)
from chalicelib.domain.errors import Conflict
from chalicelib.domain.signatures import Stamp
from chalicelib.services.ports import Page
from chalicelib.store import cursors
from chalicelib.store.models import (
    AUTO_CANCEL_LIST,
    ActorMap,
    IssuedReceiptMap,
    OpenTramiteGuard,
    RefusalMap,
    StateChangeMap,
    TramiteItem,
)

_CONDITION_FAILED = "ConditionalCheckFailed"
MAX_TRAMITES_PER_SEND = 20  # receivers of one send: one transaction holds them and the NRE guard
_TABLE_KEY = "pk"


def _pk(idt: str) -> str:
    return f"T#{idt}"


def _guard_pk(nre: str) -> str:
    return f"NRE#{nre}"


def _moment(at: datetime) -> str:
    """Fixed-width UTC text, so index keys sort in time order."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _change_map(change: StateChange) -> StateChangeMap:
    by = change.by
    return StateChangeMap(  # type: ignore[no-untyped-call]  # PynamoDB: MapAttribute.__init__ is untyped
        estado=int(change.state),
        em=change.at,
        por=ActorMap(orgao=by.agency_id, cliente=by.client_id, usuario=by.user),  # type: ignore[no-untyped-call]
        detalhe=change.detail,
    )


def _refusal_map(refusal: Refusal) -> RefusalMap:
    return RefusalMap(motivo=refusal.reason.value, justificativa=refusal.justification)  # type: ignore[no-untyped-call]


def _receipt_map(receipt: IssuedReceipt) -> IssuedReceiptMap:
    stamp = receipt.stamp
    return IssuedReceiptMap(  # type: ignore[no-untyped-call]
        registro=base64.b64encode(receipt.canonical).decode("ascii"),
        algoritmo=stamp.algorithm,
        chave=stamp.key_id,
        assinatura=stamp.signature,
        data=stamp.stamped_at,
    )


def _receipt(item: IssuedReceiptMap) -> IssuedReceipt:
    stamp = Stamp(item.algoritmo, item.chave, item.assinatura, item.data)
    return IssuedReceipt(base64.b64decode(item.registro), stamp)


def to_item(tramite: Tramite, auto_cancel_days: int = AUTO_CANCEL_DAYS) -> TramiteItem:
    deadline = auto_cancel_at(tramite, auto_cancel_days)
    refusal = tramite.refusal
    item = TramiteItem(
        pk=_pk(tramite.idt),
        idt=tramite.idt,
        nre=tramite.nre,
        nup=tramite.nup,
        remetente_repositorio=tramite.sender.repository,
        remetente_estrutura=tramite.sender.structure_id,
        destinatario_repositorio=tramite.receiver.repository,
        destinatario_estrutura=tramite.receiver.structure_id,
        orgao_remetente=tramite.sender_agency_id,
        orgao_destinatario=tramite.receiver_agency_id,
        estado=int(tramite.state),
        historico=[_change_map(change) for change in tramite.history],
        recusa=_refusal_map(refusal) if refusal else None,
        baixados=set(tramite.fetched) or None,
        recibo=_receipt_map(tramite.receipt) if tramite.receipt else None,
        ordem=f"{_moment(tramite.created_at)}#{tramite.idt}",
        mudanca=f"{_moment(tramite.updated_at)}#{tramite.idt}",
        pendente=pending_agency(tramite),
        cancelamento=AUTO_CANCEL_LIST if deadline is not None else None,
        cancelar_em=f"{_moment(deadline)}#{tramite.idt}" if deadline is not None else None,
    )
    if tramite.version:
        item.versao = tramite.version
    return item


def to_domain(item: TramiteItem) -> Tramite:
    return Tramite(
        idt=item.idt,
        nre=item.nre,
        nup=item.nup,
        sender=Address(item.remetente_repositorio, item.remetente_estrutura),
        receiver=Address(item.destinatario_repositorio, item.destinatario_estrutura),
        sender_agency_id=item.orgao_remetente,
        receiver_agency_id=item.orgao_destinatario,
        history=tuple(
            StateChange(
                state=TramiteState(int(change.estado)),
                at=change.em,
                by=Actor(change.por.orgao, change.por.cliente, change.por.usuario),
                detail=change.detalhe,
            )
            for change in item.historico
        ),
        refusal=(
            Refusal(RefusalReason(item.recusa.motivo), item.recusa.justificativa) if item.recusa else None
        ),
        fetched=frozenset(item.baixados or ()),
        receipt=_receipt(item.recibo) if item.recibo else None,
        version=int(item.versao or 0),
    )


def _reasons(error: TransactWriteError) -> list[str | None]:
    return [reason.code if reason is not None else None for reason in error.cancellation_reasons or []]


class DynamoTramiteRepository:
    def __init__(self, connection: Connection, auto_cancel_days: int = AUTO_CANCEL_DAYS) -> None:
        self._connection = connection
        self._auto_cancel_days = auto_cancel_days

    def add(self, tramite: Tramite) -> Tramite:
        return self.add_all([tramite])[0]

    def add_all(self, tramites: Sequence[Tramite]) -> list[Tramite]:
        nres = {t.nre for t in tramites}
        if not tramites or len(nres) != 1 or any(t.version or t.state.final for t in tramites):
            raise ValueError("add_all stores the new, open trâmites of one send (one NRE, version 0)")
        if len(tramites) > MAX_TRAMITES_PER_SEND:
            raise ValueError(f"at most {MAX_TRAMITES_PER_SEND} trâmites in one send")
        nre = tramites[0].nre
        try:
            with TransactWrite(connection=self._connection) as transaction:
                for tramite in tramites:
                    item = to_item(tramite, self._auto_cancel_days)
                    transaction.save(item, condition=TramiteItem.pk.does_not_exist())
                guard = OpenTramiteGuard(pk=_guard_pk(nre), abertos={t.idt for t in tramites})
                free = OpenTramiteGuard.pk.does_not_exist() | OpenTramiteGuard.abertos.does_not_exist()
                transaction.save(guard, condition=free)
        except TransactWriteError as error:
            reasons = _reasons(error)
            taken = [
                t.idt for t, reason in zip(tramites, reasons, strict=False) if reason == _CONDITION_FAILED
            ]
            if taken:
                raise Conflict(f"O trâmite {taken[0]} já existe.") from error
            if len(reasons) > len(tramites) and reasons[len(tramites)] == _CONDITION_FAILED:
                raise self._nre_taken(nre) from error
            raise
        return [replace(t, version=1) for t in tramites]

    def _nre_taken(self, nre: str) -> Conflict:
        try:
            owners = sorted(OpenTramiteGuard.get(_guard_pk(nre), consistent_read=True).abertos or ())
        except OpenTramiteGuard.DoesNotExist:
            owners = []
        which = f" ({', '.join(owners)})" if owners else ""
        return Conflict(
            f"Já existe um trâmite aberto para o NRE {nre}{which}: aguarde a sua conclusão, cancele-o ou "
            "dê ciência da recusa antes de iniciar outro."
        )

    def get(self, idt: str) -> Tramite | None:
        try:
            return to_domain(TramiteItem.get(_pk(idt), consistent_read=True))
        except TramiteItem.DoesNotExist:
            return None

    def save(self, tramite: Tramite) -> Tramite:
        if not tramite.version:
            raise ValueError("save stores a move of a stored trâmite; use add for a new one")
        item = to_item(tramite, self._auto_cancel_days)  # the version attribute adds the condition
        try:
            if tramite.state.final:
                with TransactWrite(connection=self._connection) as transaction:
                    transaction.save(item)
                    # Releases this trâmite only (a send may hold the NRE for several receivers);
                    # releasing twice, or a guard already gone, is harmless.
                    transaction.update(
                        OpenTramiteGuard(pk=_guard_pk(tramite.nre)),
                        actions=[OpenTramiteGuard.abertos.delete({tramite.idt})],
                    )
            else:
                item.save()
        except TransactWriteError as error:
            if _CONDITION_FAILED in _reasons(error):
                raise self._changed(tramite.idt) from error
            raise
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise self._changed(tramite.idt) from error
            raise
        return replace(tramite, version=tramite.version + 1)

    @staticmethod
    def _changed(idt: str) -> Conflict:
        return Conflict(
            f"O trâmite {idt} foi alterado por outra operação ao mesmo tempo; releia-o e repita se "
            "ainda couber."
        )

    def by_nre(self, nre: str, cursor: str | None, limit: int) -> Page[Tramite]:
        return self._query(
            TramiteItem.by_nre,
            ("nre", "ordem"),
            nre,
            condition=None,
            query=("tramites-nre", nre),
            cursor=cursor,
            limit=limit,
        )

    def by_nup(self, nup: str, cursor: str | None, limit: int) -> Page[Tramite]:
        return self._query(
            TramiteItem.by_nup,
            ("nup", "ordem"),
            nup,
            condition=None,
            query=("tramites-nup", nup),
            cursor=cursor,
            limit=limit,
        )

    def pending_for(self, agency_id: str, cursor: str | None, limit: int) -> Page[Tramite]:
        query = ("pendencias", agency_id)
        return self._query(
            TramiteItem.pendencies,
            ("pendente", "mudanca"),
            agency_id,
            condition=None,
            query=query,
            cursor=cursor,
            limit=limit,
        )

    def due_for_auto_cancel(self, before: datetime, cursor: str | None, limit: int) -> Page[Tramite]:
        if before.tzinfo is None:
            raise ValueError("before needs a time zone (use UTC)")
        moment = _moment(before)
        # Keys are "<deadline>#<idt>": "$" sorts right after "#", so this takes every deadline <= before.
        condition = TramiteItem.cancelar_em < f"{moment}$"
        query = ("cancelamento", moment)
        keys = ("cancelamento", "cancelar_em")
        return self._query(
            TramiteItem.to_auto_cancel,
            keys,
            AUTO_CANCEL_LIST,
            condition=condition,
            query=query,
            cursor=cursor,
            limit=limit,
        )

    def _query(
        self,
        index: Any,
        keys: tuple[str, str],
        hash_value: str,
        *,
        condition: Condition | None,
        query: Any,
        cursor: str | None,
        limit: int,
    ) -> Page[Tramite]:
        """One page of `index`, oldest first. Reads one item past the page, so the last page has no
        cursor (a cursor always leads to at least one more trâmite)."""
        key_names = {_TABLE_KEY, *keys}
        start = cursors.decode(cursor, query, key_names)
        results = index.query(
            hash_value,
            range_key_condition=condition,
            last_evaluated_key=start,
            limit=limit + 1,
            page_size=limit + 1,
        )
        items: list[TramiteItem] = list(results)
        page = items[:limit]
        next_key = None
        if len(items) > limit:
            last = page[-1]
            next_key = {name: {"S": getattr(last, name)} for name in sorted(key_names)}
        return Page([to_domain(i) for i in page], cursors.encode(next_key, query))
