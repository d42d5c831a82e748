"""Public tracking for citizens: lookup and search of the public base (no auth).

Answers are cacheable (Cache-Control, ETag, 304 on If-None-Match), so a CDN absorbs repeated
lookups. An unknown NUP and a NUP that is not published answer the same 404.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.tracking import (
    PesquisaItemOut,
    PesquisaOut,
    PesquisaQuery,
    ProcessoLookupQuery,
    ProcessoPublicoOut,
)
from chalicelib.bootstrap import services
from chalicelib.handlers.routing import api_route

bp = Blueprint(__name__)
TAG = "Consulta pública"
CACHE = "public, max-age=60"


@api_route(
    bp, "/publico/processos/{nup}", "GET", summary="Consulta pública de um processo", tag=TAG, access=None,
    response=ProcessoPublicoOut, errors=(400, 404), cache_control=CACHE, etag=True,
)  # fmt: skip
def lookup(nup: str) -> dict[str, Any]:
    """O NUP só com dígitos (17, ou 13 e 21 dos formatos antigos). Processos sigilosos, e restritos de
    órgãos que não os publicam, respondem como um NUP desconhecido. Dígito verificador errado: 400."""
    return ProcessoPublicoOut.from_domain(services().tracking.lookup(nup[:64])).wire()


@api_route(
    bp, "/publico/processos", "GET", summary="Consulta pública pelo NUP com máscara", tag=TAG, access=None,
    query=ProcessoLookupQuery, response=ProcessoPublicoOut, errors=(400, 404), cache_control=CACHE, etag=True,
)  # fmt: skip
def lookup_masked(query: ProcessoLookupQuery) -> dict[str, Any]:
    """O mesmo que /publico/processos/{nup}, com o NUP como é impresso (ex.: 25000.000001/2026-11)."""
    return ProcessoPublicoOut.from_domain(services().tracking.lookup(query.nup)).wire()


@api_route(
    bp, "/publico/pesquisa", "GET", summary="Pesquisa de processos públicos", tag=TAG, access=None,
    query=PesquisaQuery, response=PesquisaOut, errors=(400,), cache_control=CACHE,
)  # fmt: skip
def search(query: PesquisaQuery) -> PesquisaOut:
    """Pelo início do nome de um interessado (sem diferenciar acentos e maiúsculas), pelo órgão ou pelo
    tipo de processo, e por intervalo de datas de autuação (`de`, `ate`). Ao menos um entre nome, órgão
    e tipo. Só processos públicos. Paginada por cursor."""
    page = services().tracking.search(query.to_domain(), query.cursor, query.limite)
    return PesquisaOut(itens=[PesquisaItemOut.from_domain(h) for h in page.items], cursor=page.cursor)
