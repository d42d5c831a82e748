"""Records from agencies' own systems into the public base (the national Protocolo Integrado's web
service)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.tracking import RegistrosIn, RegistrosOut
from chalicelib.bootstrap import services
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.handlers.routing import api_route

bp = Blueprint(__name__)
TAG = "Protocolo Integrado"


@api_route(
    bp, "/protocolo-integrado/registros", "POST", summary="Envia registros de processos à base pública",
    tag=TAG, access=Scope.PROCESSOS, body=RegistrosIn, response=RegistrosOut, errors=(400, 413, 422),
)  # fmt: skip
def submit_records(caller: Caller, body: RegistrosIn) -> RegistrosOut:
    """Para órgãos cujo sistema não é hospedado aqui: até 100 registros por lote, cada um validado à parte
    (o resultado de cada item diz se foi registrado, se nada mudou ou por que foi recusado). Reenviar um
    andamento (mesmo `id`) não muda nada. Só NUPs de unidades protocolizadoras do próprio órgão, ou de
    processos que o barramento levou do órgão ou a ele (com recibo de conclusão)."""
    return RegistrosOut.from_domain(services().tracking.submit(caller.agency_id, body.items()))
