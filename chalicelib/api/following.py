"""API models of following a process by e-mail (public routes)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.api.models import ApiModel
from chalicelib.domain.following import MAX_EMAIL, Subscription


class FollowRequest(ApiModel):
    """Pedido de acompanhamento: um e-mail de confirmação é enviado ao endereço."""

    nup: str = Field(min_length=1, max_length=40, examples=["25000.000001/2026-11"])
    email: str = Field(min_length=1, max_length=MAX_EMAIL, examples=["cidada@example.org"])


class FollowAccepted(ApiModel):
    mensagem: str = Field(
        description="Sempre a mesma resposta, exista ou não um acompanhamento anterior do endereço"
    )


class SubscriptionState(ApiModel):
    """O estado do acompanhamento após a confirmação ou o cancelamento."""

    nup: str
    estado: Literal["pendente", "confirmado", "cancelado"]
    mensagem: str

    @classmethod
    def confirmed(cls, subscription: Subscription) -> SubscriptionState:
        return cls(
            nup=subscription.nup,
            estado="confirmado",
            mensagem="Acompanhamento confirmado: você receberá um e-mail a cada nova movimentação.",
        )

    @classmethod
    def cancelled(cls, nup: str) -> SubscriptionState:
        return cls(
            nup=nup,
            estado="cancelado",
            mensagem="Acompanhamento cancelado: você não receberá mais avisos deste processo.",
        )


FOLLOW_ACCEPTED = (
    "Pedido recebido. Se o endereço puder receber avisos, enviamos um e-mail com o link de "
    "confirmação; o acompanhamento só começa depois dela."
)
