"""The security matrix: every authenticated route of the OpenAPI document, called through the real
handlers and the local gateway (ProblemGateway, on moto) with

- no token                      -> 401 (API Gateway's answer: the authorizer never resolves a caller);
- a revoked token               -> 401 (the authorizer runs on every request: ttl 0);
- an expired token              -> 401 (its validity ended: the same check, by date);
- a token lacking the scope     -> 403 (the authorizer's policy lists only the scopes' routes, so it
  must be API Gateway's own refusal, not a handler's);
- another agency's token, with every scope -> 404 on a resource of the owner (DESIGN.md: "a resource
  of another agency answers 404, never its data"), or the other agency's own (empty) view on a
  collection;
- the owner's token             -> the route works (the control: the refusals above are not an
  accident of a bad request or a missing resource).

No answer but the owner's may carry any of the owner's data (markers planted in its process,
documents, trâmite, clients and keys), and the app's log output during the matrix must carry no
bearer token and no e-mail address (nor during a citizen's flow: follow by e-mail, notices). The rows come from the OpenAPI document built from the code:
a new authenticated route without a row here fails `test_every_authenticated_route_has_a_row`.

`python -m bench.security` runs this module and writes the matrix to bench/results/security.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import app as app_module
from chalicelib.api.openapi import build_document
from chalicelib.domain.credentials import Scope
from chalicelib.domain.nup import Nup
from chalicelib.domain.structures import Structure
from chalicelib.observability import logger as app_logger
from chalicelib.store.clients import DynamoClientRepository
from tests.fakes import FakeClock
from tests.integration.conftest import Api, Stack
from tests.integration.test_documents import put
from tests.integration.test_following import World as FollowingWorld
from tests.integration.test_following import address, mails_to

OPENAPI = build_document()
METHODS = ("get", "put", "post", "delete", "patch")
RESULTS_ENV = "PEN_SECURITY_RESULTS"  # bench.security: where to write the observed cells (JSON lines)

TOKEN_IN_TEXT = re.compile(r"pen_[0-9a-f]{16}_[A-Za-z0-9_-]{43}|bearer\s+\S{20,}", re.IGNORECASE)
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def secured_operations() -> dict[str, frozenset[str]]:
    """`METHOD /path` -> the scopes its security requirement names (empty: any scope)."""
    found: dict[str, frozenset[str]] = {}
    for path, item in OPENAPI["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation and operation.get("security"):
                [requirement] = operation["security"]
                found[f"{method.upper()} {path}"] = frozenset(requirement["token"])
    return found


def success_status(route: str) -> int:
    method, path = route.split(" ", 1)
    codes = OPENAPI["paths"][path][method.lower()]["responses"]
    return min(int(c) for c in codes if c.startswith("2"))


# --- the owner's world: what the rows call, built lazily and only as far as a row needs ----------

PDF = b"%PDF-1.7\n" + os.urandom(300) + b"\n%%EOF\n"
PERSON = "pessoa.do.ms"


def b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def public_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Owners:
    """Agency 100 (MS) owns processes with documents, API clients and keys; INSS (200) sends the MS
    trâmites; RFB (300) is "another agency": hosted too, a token with every scope and none of the data.
    Built once per group of rows; each row then builds its own resources (a World), so no row depends
    on another's order or on what another's owner control changed."""

    api: Api
    stack: Stack
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    sequence: int = 0

    def __post_init__(self) -> None:
        registry = self.stack.services.registry
        registry.save(
            Structure(id="102", name="Divisão de Análise", acronym="DIAN", agency_id="", parent_id="101")
        )
        registry.save(Structure(id="300", name="Receita Federal", acronym="RFB", agency_id=""))
        registry.save(
            Structure(
                id="301",
                name="Protocolo da RFB",
                acronym="PRFB",
                agency_id="",
                parent_id="300",
                protocol_code="10000",
            )
        )
        for agency in ("100", "300"):
            self.stack.services.hosted.set_hosted(agency, True)
        credentials = self.stack.services.credentials
        every = frozenset(Scope)
        revoked = credentials.issue("100", "ms-revogado", every)
        credentials.revoke(revoked.client.id)
        # A token's validity can only be set in the future; the store's copy then ends it an hour ago.
        expiring = credentials.issue("100", "ms-expirado", every, datetime.now(UTC) + timedelta(days=1))
        clients = DynamoClientRepository()
        clients.put(replace(expiring.client, expires_at=datetime.now(UTC) - timedelta(hours=1)))
        self.tokens = {
            "owner": self.stack.tokens["ms-admin"],
            "sender": self.stack.tokens["inss-bus"],
            "other": credentials.issue("300", "rfb-tudo", every).token,
            "revoked": revoked.token,
            "expired": expiring.token,
            **{
                f"without-{scope}": credentials.issue("100", f"ms-sem-{scope}", every - {scope}).token
                for scope in Scope
            },
        }
        # What must never reach anyone but the owner (and a trâmite's parties): grows as rows build.
        self.markers = {
            f"Especificação secreta {self.tag}",
            f"Interessado Secreto {self.tag}",
            f"Conteúdo secreto {self.tag}",
            f"arquivo-secreto-{self.tag}.pdf",
            f"Assunto do trâmite {self.tag}",
            f"Produtor Secreto {self.tag}",
            PERSON,
            self.stack.client_ids["ms-admin"],
            self.stack.client_ids["ms-sei"],
        }

    def next_nup(self) -> str:
        self.sequence += 1
        return Nup.issue("35000", self.sequence, 2026).digits


@dataclass
class World:
    """One row's resources, built lazily and only as far as the row needs."""

    owners: Owners

    @property
    def api(self) -> Api:
        return self.owners.api

    @property
    def stack(self) -> Stack:
        return self.owners.stack

    @property
    def tag(self) -> str:
        return self.owners.tag

    @property
    def tokens(self) -> dict[str, str]:
        return self.owners.tokens

    @property
    def markers(self) -> set[str]:
        return self.owners.markers

    @cached_property
    def pdf(self) -> bytes:
        """This row's file: content-addressed storage must not find another row's upload."""
        return PDF + os.urandom(16)

    def call(self, method: str, path: str, who: str | None, body: Any = None) -> Any:
        token = self.tokens[who] if who else None
        return self.api.call(method, path, token, body, headers={"x-usuario": PERSON})

    def ok(self, method: str, path: str, body: Any = None, who: str = "owner") -> dict[str, Any]:
        response = self.call(method, path, who, body)
        assert response.status_code < 300, (method, path, response.body)
        return dict(response.json or {})

    def new_process(self) -> str:
        body = {
            "unidade": "101",
            "tipo": "Licitação: Pregão Eletrônico",
            "especificacao": f"Especificação secreta {self.tag}",
            "interessados": [{"nome": f"Interessado Secreto {self.tag}"}],
            "nivelAcesso": 1,
        }
        nup = self.ok("POST", "/processos", body)["nup"]
        self.markers.add(nup)
        self.markers.add("".join(c for c in nup if c.isdigit()))
        return "".join(c for c in nup if c.isdigit())

    @cached_property
    def nup(self) -> str:
        return self.new_process()

    @cached_property
    def other_nup(self) -> str:
        return self.new_process()

    @cached_property
    def document(self) -> int:
        body = {
            "unidade": "101",
            "especie": 88,
            "nivelAcesso": 1,
            "conteudo": f"<p>Conteúdo secreto {self.tag}</p>",
        }
        return int(self.ok("POST", f"/processos/{self.nup}/documentos/internos", body)["ordem"])

    @cached_property
    def signed_document(self) -> int:
        body = {"unidade": "101", "nome": "Maria Silva", "cargo": "Chefe do Protocolo"}
        self.ok("POST", f"/processos/{self.nup}/documentos/{self.document}/assinaturas", body)
        return self.document

    def external(self, data: bytes) -> dict[str, Any]:
        return {
            "unidade": "101",
            "especie": 999,
            "nivelAcesso": 1,
            "nomeArquivo": f"arquivo-secreto-{self.tag}.pdf",
            "tipoMidia": "application/pdf",
            "tamanho": len(data),
            "sha256": b64(data),
        }

    @cached_property
    def upload(self) -> str:
        """An external upload started and its bytes stored: the owner may confirm it."""
        started = self.ok("POST", f"/processos/{self.nup}/documentos/externos", self.external(self.pdf))
        if not started["jaArmazenado"]:
            assert put(started["envioUnico"], self.pdf) == 200
        return str(started["confirmacao"].split("/")[-2])

    @cached_property
    def key(self) -> str:
        key_id = str(self.ok("POST", "/orgaos/100/chaves", {"pem": public_key_pem()})["id"])
        self.markers.add(key_id)
        return key_id

    @cached_property
    def nup_sent(self) -> str:
        return self.owners.next_nup()

    def manifest(self) -> dict[str, Any]:
        when = "2026-03-01T10:00:00-03:00"
        producer = {"nome": f"Produtor Secreto {self.tag}", "unidade": "Protocolo do INSS"}
        component = {
            "ordem": 1,
            "nomeArquivo": f"arquivo-secreto-{self.tag}.pdf",
            "sha256": b64(self.pdf),
            "tamanho": len(self.pdf),
            "tipoMidia": "application/pdf",
        }
        return {
            "cabecalho": {
                "remetente": {"repositorio": "1", "estrutura": "200"},
                "destinatario": {"repositorio": "1", "estrutura": "101"},
            },
            "processo": {
                "nup": self.nup_sent,
                "nivelAcesso": 1,
                "tipo": "Benefício: Revisão",
                "especificacao": f"Assunto do trâmite {self.tag}",
                "dataProducao": when,
                "dataRegistro": when,
                "produtor": producer,
                "interessados": [{"nome": f"Interessado Secreto {self.tag}"}],
            },
            "documentos": [
                {
                    "ordem": 1,
                    "especie": 999,
                    "origem": "externo",
                    "nivelAcesso": 1,
                    "dataProducao": when,
                    "dataRegistro": when,
                    "produtor": producer,
                    "componentes": [component],
                }
            ],
        }

    @cached_property
    def sent_tramite(self) -> str:
        """INSS -> MS, announced but not yet uploaded (state 1)."""
        answer = self.ok("POST", "/barramento/tramites", self.manifest(), who="sender")
        [tramite] = answer["tramites"]
        self.markers.update({tramite["idt"], tramite["nre"], tramite["nup"], self.nup_sent})
        self._sent_answer = answer
        return str(tramite["idt"])

    @cached_property
    def tramite(self) -> str:
        """INSS -> MS, in the bus's custody (state 2): the receiver may read, refuse or receive it."""
        idt = self.sent_tramite
        for item in self._sent_answer["componentesPendentes"]:
            assert put(item["envioUnico"], self.pdf) == 200
        self.ok("POST", f"/barramento/tramites/{idt}/componentes/confirmacao", who="sender")
        return idt

    @cached_property
    def read_tramite(self) -> str:
        """Read by the MS (state 3): the MS may download its components."""
        idt = self.tramite
        self.ok("GET", f"/barramento/tramites/{idt}")
        return idt

    @cached_property
    def received_tramite(self) -> str:
        """Downloaded by the MS (state 4): the MS may send its receipt."""
        idt = self.read_tramite
        self.ok("GET", f"/barramento/tramites/{idt}/componentes?sha256={quote(b64(self.pdf), safe='')}")
        return idt

    @cached_property
    def concluded_tramite(self) -> str:
        """With the MS's receipt (state 5): the receipt and its statement exist."""
        idt = self.received_tramite
        self.ok("POST", f"/barramento/tramites/{idt}/recibo")
        return idt

    @cached_property
    def refused_tramite(self) -> str:
        """Refused by the MS (state 8): the sender acknowledges it."""
        idt = self.tramite
        self.ok(
            "POST", f"/barramento/tramites/{idt}/recusa", {"motivo": "03", "justificativa": "Falta o anexo."}
        )
        return idt


# --- one row per authenticated route -------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """How to call a route as its owner would. `path` fills the {parameters}; `other` is the answer to
    another agency's token with every scope: 404 on the owner's resource, or the status of the other
    agency's own view of a collection (which must then hold none of the owner's data). `owner` is the
    control (default: the route's success status); `owner_as` names the party that owns the row's
    resource on a trâmite (the receiver MS or the sender INSS)."""

    path: Callable[[World], str]
    body: Callable[[World], Any] | None = None
    other: int = 404
    owner: int | None = None
    owner_as: str = "owner"
    why: str = ""
    needs: tuple[str, ...] = ()  # World resources to build first, when the path does not name them
    other_sees: Callable[[Any], bool] | None = None  # on a 2xx for another agency: what it must see
    owner_sees: Callable[[Any], bool] | None = None  # on the owner's control


def idt_route(which: str, suffix: str = "", **kwargs: Any) -> Row:
    return Row(path=lambda w: f"/barramento/tramites/{getattr(w, which)}{suffix}", **kwargs)


def process_route(suffix: str = "", body: Callable[[World], Any] | None = None, **kwargs: Any) -> Row:
    return Row(path=lambda w: f"/processos/{w.nup}{suffix}", body=body, **kwargs)


def unit(name: str = "unidade") -> Callable[[World], dict[str, str]]:
    return lambda w: {name: "101"}


ROWS: dict[str, Row] = {
    # Shared directory and "who am I": any scope; another agency sees the same directory, its own self.
    "GET /barramento/estruturas": Row(
        lambda w: "/barramento/estruturas",
        other=200,
        why="the structures directory is shared by every agency",
    ),
    "GET /barramento/estruturas/{estrutura_id}": Row(
        lambda w: "/barramento/estruturas/101",
        other=200,
        why="the structures directory is shared by every agency",
    ),
    "GET /orgaos/eu": Row(
        lambda w: "/orgaos/eu",
        other=200,
        why="answers the caller's own agency",
        other_sees=lambda b: b["orgao"]["id"] == "300",
        owner_sees=lambda b: b["orgao"]["id"] == "100",
    ),
    # The bus.
    "GET /barramento/pendencias": Row(
        lambda w: "/barramento/pendencias",
        needs=("tramite",),
        other=200,
        why="the other agency's own pendências: none",
        other_sees=lambda b: b["itens"] == [],
        owner_sees=lambda b: b["itens"] != [],
    ),
    "GET /barramento/tramites": Row(
        lambda w: f"/barramento/tramites?idt={w.tramite}",
        other=200,
        why="a search: the other agency finds nothing",
        other_sees=lambda b: b["itens"] == [],
        owner_sees=lambda b: len(b["itens"]) == 1,
    ),
    "POST /barramento/tramites": Row(
        lambda w: "/barramento/tramites",
        body=lambda w: w.manifest(),
        other=403,
        owner_as="sender",
        owner=201,
        why="403: another agency cannot send as the INSS (the sender's address is "
        "not its own); the directory is shared, so this reveals nothing",
    ),
    "DELETE /barramento/tramites/{idt}": idt_route("tramite", owner_as="sender"),
    "GET /barramento/tramites/{idt}": idt_route("tramite"),
    "POST /barramento/tramites/{idt}/ciencia": idt_route("refused_tramite", "/ciencia", owner_as="sender"),
    "GET /barramento/tramites/{idt}/componentes": Row(
        lambda w: f"/barramento/tramites/{w.read_tramite}/componentes?sha256={quote(b64(w.pdf), safe='')}"
    ),
    "POST /barramento/tramites/{idt}/componentes/confirmacao": idt_route(
        "sent_tramite",
        "/componentes/confirmacao",
        owner_as="sender",
        owner=409,
        why="owner control 409: nothing uploaded yet (the trâmite exists; its state refuses)",
    ),
    "GET /barramento/tramites/{idt}/componentes/pendentes": idt_route(
        "sent_tramite", "/componentes/pendentes", owner_as="sender"
    ),
    "GET /barramento/tramites/{idt}/recibo": idt_route("concluded_tramite", "/recibo"),
    "POST /barramento/tramites/{idt}/recibo": idt_route("received_tramite", "/recibo"),
    "GET /barramento/tramites/{idt}/recibo/declaracao": idt_route("concluded_tramite", "/recibo/declaracao"),
    "POST /barramento/tramites/{idt}/recusa": Row(
        lambda w: f"/barramento/tramites/{w.tramite}/recusa",
        body=lambda w: {"motivo": "03", "justificativa": "Falta o anexo."},
    ),
    # The agency's own settings, clients and keys: another agency's id in the path answers 404.
    "GET /orgaos/{orgao_id}/chaves": Row(lambda w: "/orgaos/100/chaves", needs=("key",)),
    "POST /orgaos/{orgao_id}/chaves": Row(
        lambda w: "/orgaos/100/chaves", body=lambda w: {"pem": public_key_pem()}
    ),
    "POST /orgaos/{orgao_id}/chaves/{chave_id}/revogacao": Row(
        lambda w: f"/orgaos/100/chaves/{w.key}/revogacao"
    ),
    "GET /orgaos/{orgao_id}/clientes": Row(lambda w: "/orgaos/100/clientes"),
    "POST /orgaos/{orgao_id}/clientes/{cliente_id}/revogacao": Row(
        lambda w: f"/orgaos/100/clientes/{w.stack.client_ids['ms-sei']}/revogacao",
        body=lambda w: {"motivo": "token vazado"},
    ),
    "GET /orgaos/{orgao_id}/publicacao": Row(lambda w: "/orgaos/100/publicacao"),
    "PUT /orgaos/{orgao_id}/publicacao": Row(
        lambda w: "/orgaos/100/publicacao", body=lambda w: {"publicarRestritos": True}
    ),
    "GET /orgaos/{orgao_id}/recebimento": Row(lambda w: "/orgaos/100/recebimento"),
    "PUT /orgaos/{orgao_id}/recebimento": Row(
        lambda w: "/orgaos/100/recebimento", body=lambda w: {"especies": [999]}
    ),
    # Processes and documents.
    "POST /processos": Row(
        lambda w: "/processos",
        other=400,
        body=lambda w: {
            "unidade": "101",
            "tipo": "Licitação",
            "especificacao": "Compra",
            "nivelAcesso": 1,
            "interessados": [{"nome": "Fulano"}],
        },
        why="400: the unit is not one of the caller's agency (units are in the shared directory; no data)",
    ),
    "GET /processos/{nup}": process_route(),
    "PATCH /processos/{nup}": process_route(
        body=lambda w: {
            "unidade": "101",
            "tipo": "Licitação: Pregão Eletrônico",
            "especificacao": "Nova especificação",
            "interessados": [{"nome": "Fulano"}],
            "nivelAcesso": 1,
            "versao": 1,
        }
    ),
    "POST /processos/{nup}/anexacao": process_route(
        "/anexacao", lambda w: {"unidade": "101", "principal": w.other_nup}
    ),
    "POST /processos/{nup}/conclusao": process_route("/conclusao", unit()),
    "GET /processos/{nup}/documentos": process_route("/documentos"),
    "POST /processos/{nup}/documentos/externos": process_route(
        "/documentos/externos", lambda w: w.external(w.pdf)
    ),
    "POST /processos/{nup}/documentos/externos/{envio_id}/confirmacao": Row(
        lambda w: f"/processos/{w.nup}/documentos/externos/{w.upload}/confirmacao"
    ),
    "POST /processos/{nup}/documentos/externos/{envio_id}/partes/conclusao": Row(
        lambda w: f"/processos/{w.nup}/documentos/externos/{w.upload}/partes/conclusao",
        owner=409,
        why="owner control 409: a single-PUT upload has no parts to join (the upload exists)",
    ),
    "POST /processos/{nup}/documentos/internos": process_route(
        "/documentos/internos",
        lambda w: {"unidade": "101", "especie": 88, "nivelAcesso": 1, "conteudo": "<p>x</p>"},
    ),
    "GET /processos/{nup}/documentos/{ordem}": Row(lambda w: f"/processos/{w.nup}/documentos/{w.document}"),
    "PATCH /processos/{nup}/documentos/{ordem}": Row(
        lambda w: f"/processos/{w.nup}/documentos/{w.document}",
        body=lambda w: {"unidade": "101", "conteudo": "<p>Outro texto</p>", "versao": 1},
    ),
    "POST /processos/{nup}/documentos/{ordem}/assinaturas": Row(
        lambda w: f"/processos/{w.nup}/documentos/{w.document}/assinaturas",
        body=lambda w: {"unidade": "101", "nome": "Maria Silva", "cargo": "Chefe do Protocolo"},
    ),
    "POST /processos/{nup}/documentos/{ordem}/cancelamento": Row(
        lambda w: f"/processos/{w.nup}/documentos/{w.document}/cancelamento",
        body=lambda w: {"unidade": "101", "motivo": "Juntado por engano"},
    ),
    "GET /processos/{nup}/documentos/{ordem}/download": Row(
        lambda w: f"/processos/{w.nup}/documentos/{w.document}/download"
    ),
    "POST /processos/{nup}/envios": process_route(
        "/envios", lambda w: {"unidadeOrigem": "101", "unidadesDestino": ["102"]}
    ),
    "GET /processos/{nup}/historico": process_route("/historico"),
    "POST /processos/{nup}/reabertura": process_route(
        "/reabertura", unit(), owner=409, why="owner control 409: an open process cannot be reopened"
    ),
    "POST /processos/{nup}/relacionamentos": process_route(
        "/relacionamentos", lambda w: {"unidade": "101", "processo": w.other_nup}
    ),
    "POST /processos/{nup}/retomada": process_route(
        "/retomada", unit(), owner=409, why="owner control 409: the process is not suspended"
    ),
    "POST /processos/{nup}/sobrestamento": process_route(
        "/sobrestamento", lambda w: {"unidade": "101", "motivo": "Aguardando"}
    ),
    "POST /processos/{nup}/tramites": Row(
        lambda w: f"/processos/{w.nup}/tramites",
        needs=("signed_document",),
        body=lambda w: {"unidade": "101", "destinatarios": [{"repositorio": "1", "estrutura": "200"}]},
    ),
    "POST /protocolo-integrado/registros": Row(
        lambda w: "/protocolo-integrado/registros",
        body=lambda w: {
            "registros": [
                {
                    "nup": Nup.issue("25000", 900_001, 2026).masked,
                    "nivelAcesso": 1,
                    "dataAutuacao": "2026-01-05",
                    "tipo": "Requerimento",
                    "especificacao": "Pedido",
                    "andamentos": [
                        {"id": "a1", "data": "2026-01-05T10:00:00-03:00", "unidade": "PROT", "operacao": "02"}
                    ],
                }
            ]
        },
        other=200,
        why="answers per record: a NUP of the owner's protocol unit is refused for another agency",
        other_sees=lambda b: (b["registrados"], b["recusados"]) == (0, 1),
        owner_sees=lambda b: (b["registrados"], b["recusados"]) == (1, 0),
    ),
    "GET /unidades/{unidade_id}/processos": Row(
        lambda w: "/unidades/101/processos",
        needs=("nup",),
    ),
}


# --- the cells ----------------------------------------------------------------------------------


@dataclass
class Cell:
    who: str
    expected: int
    status: int
    leaked: list[str]


class LogCapture(logging.Handler):
    """Every record the app and its libraries log, formatted as the function's log would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.formatter_json = app_logger.registered_formatter

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.formatter_json.format(record))
        self.lines.append(record.getMessage())


@pytest.fixture
def app_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    handler = LogCapture()
    watched = [logging.getLogger(), logging.getLogger(app_logger.name)]
    for watched_logger in watched:
        watched_logger.addHandler(handler)

    def text() -> str:
        captured = capsys.readouterr()
        return "\n".join([*handler.lines, captured.out, captured.err])

    yield text
    for watched_logger in watched:
        watched_logger.removeHandler(handler)


def leaks(world: World, response: Any, sent: str) -> list[str]:
    """The owner's markers found in an answer, except those the request itself carried (a NUP sent as
    digits may come back masked: "Processo 25000.000001/2026-22 não encontrado")."""
    text = (
        response.body.decode("utf-8", "replace") if isinstance(response.body, bytes) else str(response.body)
    )
    text += json.dumps(dict(response.headers), ensure_ascii=False)
    sent_digits = re.sub(r"\D", "", sent)

    def was_sent(marker: str) -> bool:
        digits = re.sub(r"\D", "", marker)
        return marker in sent or (len(digits) >= 15 and digits in sent_digits)

    return sorted(m for m in world.markers if m and m in text and not was_sent(m))


def record(route: str, cells: list[Cell], row: Row) -> None:
    target = os.environ.get(RESULTS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as out:
            line = {"route": route, "why": row.why, "cells": [c.__dict__ for c in cells]}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


def group(route: str) -> str:
    """Three groups of rows, each a test with its own stack (run in parallel under xdist)."""
    path = route.split(" ", 1)[1]
    if "/documentos" in path:
        return "documentos"
    return "barramento" if path.startswith("/barramento") else "processos e órgãos"


GROUPS = sorted({group(route) for route in secured_operations()})


def test_every_authenticated_route_has_a_row() -> None:
    secured = set(secured_operations())
    assert len(secured) >= 40  # the document really was read
    assert sorted(secured - set(ROWS)) == [], "authenticated route(s) without a row in the security matrix"
    assert sorted(set(ROWS) - secured) == [], "row(s) for routes that are gone or no longer authenticated"


def run_row(owners: Owners, route: str, scopes: frozenset[str]) -> tuple[list[Cell], list[str]]:
    """Calls one route in every cell; answers the cells and what went wrong."""
    row = ROWS[route]
    method = route.split(" ", 1)[0]
    world = World(owners)
    for resource in row.needs:
        getattr(world, resource)
    path = row.path(world)
    body = row.body(world) if row.body else None
    sent = path + json.dumps(body, ensure_ascii=False)
    # (who, status, problem type, the gateway response that must give it: the authorizer's refusals
    # come from API Gateway itself, before any handler runs; tenancy is the handlers')
    plan: list[tuple[str | None, int, str, str | None]] = [
        (None, 401, "nao-autenticado", "UNAUTHORIZED"),
        ("revoked", 401, "nao-autenticado", "UNAUTHORIZED"),
        ("expired", 401, "nao-autenticado", "UNAUTHORIZED"),
    ]
    plan += [(f"without-{scope}", 403, "sem-permissao", "ACCESS_DENIED") for scope in sorted(scopes)]
    plan += [("other", row.other, "nao-encontrado" if row.other == 404 else "", None)]
    cells: list[Cell] = []
    wrong: list[str] = []
    for who, expected, slug, gateway in plan:
        response = world.call(method, path, who, body)
        found = leaks(world, response, sent)
        cells.append(Cell(who or "no token", expected, response.status_code, found))
        if response.status_code != expected:
            wrong.append(
                f"{route} [{who}]: {response.status_code}, expected {expected}: {response.body[:300]!r}"
            )
        elif expected >= 400:
            problem = response.json or {}
            content_type = response.lower_headers.get("content-type", "")
            if not content_type.startswith("application/problem+json") or (
                slug and problem.get("type") != f"urn:pen:problema:{slug}"
            ):
                wrong.append(
                    f"{route} [{who}]: not the {slug or 'expected'} problem: {response.body[:300]!r}"
                )
            elif response.lower_headers.get("x-amzn-errortype") != gateway:
                layer = f"the gateway ({gateway})" if gateway else "a handler"
                wrong.append(f"{route} [{who}]: {expected} not given by {layer}: {response.headers}")
        if found:
            wrong.append(f"{route} [{who}]: the owner's data in the answer: {found}")
        if who == "other" and expected < 300 and row.other_sees and not row.other_sees(response.json):
            wrong.append(f"{route} [other]: not the other agency's own view: {response.body[:300]!r}")
    owner = world.call(method, path, row.owner_as, body)
    expected = row.owner or success_status(route)
    cells.append(Cell(f"owner ({row.owner_as})", expected, owner.status_code, []))
    if owner.status_code != expected:
        wrong.append(
            f"{route} [owner control]: {owner.status_code}, expected {expected}: {owner.body[:300]!r}"
        )
    elif row.owner_sees and not row.owner_sees(owner.json):
        wrong.append(f"{route} [owner control]: not what the owner sees: {owner.body[:300]!r}")
    return cells, wrong


@pytest.mark.parametrize("name", GROUPS)
def test_security_matrix(name: str, api: Api, stack: Stack, app_logs: Callable[[], str]) -> None:
    """Every route of the group, every cell; all mismatches reported at once."""
    owners = Owners(api, stack)
    wrong: list[str] = []
    for route, scopes in sorted(secured_operations().items()):
        if group(route) != name:
            continue
        if route not in ROWS:
            wrong.append(f"{route}: no row in the security matrix")
            continue
        cells, problems = run_row(owners, route, scopes)
        wrong += problems
        record(route, cells, ROWS[route])
    assert wrong == [], "\n".join(wrong)

    logged = app_logs()
    assert "x-usuario" in logged.lower() or "request" in logged  # the capture saw the app's log lines
    tokens = TOKEN_IN_TEXT.findall(logged) + [t for t in owners.tokens.values() if t in logged]
    assert tokens == [], "a bearer token in the app's log"
    assert EMAIL_IN_TEXT.findall(logged) == [], "an e-mail address in the app's log"


def test_log_scan_sees_a_token_and_an_address(app_logs: Callable[[], str]) -> None:
    """The scan itself bites: a token or an address the app logged would be found."""
    app_logger.info("oops", extra={"authorization": "Bearer pen_0123456789abcdef_" + "A" * 43})
    app_logger.info("mail sent", extra={"to": "maria.silva@example.org"})
    logged = app_logs()
    assert TOKEN_IN_TEXT.findall(logged)
    assert EMAIL_IN_TEXT.findall(logged) == ["maria.silva@example.org"] * 2


@pytest.fixture
def citizen(stack: Stack, api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[FollowingWorld]:
    """tests/integration/test_following.py's world: the mail and notices legs, the clock in hand."""
    stack.services.registry.save(
        Structure(id="102", name="Divisão de Atendimento", acronym="DIV", agency_id="", parent_id="101")
    )
    clock = FakeClock(datetime.now(UTC))
    monkeypatch.setattr(stack.services.tracking, "_clock", clock)
    with Client(app_module.app, stage_name="local") as lambdas:
        yield FollowingWorld(stack, api, lambdas, clock)


def test_logs_of_a_citizen_flow_carry_no_address_or_token(
    citizen: FollowingWorld, app_logs: Callable[[], str]
) -> None:
    """Follow a process by e-mail, confirm, a movement, the notice e-mailed, unsubscribe: the mail and
    notices workers and the public routes handle the citizen's address; none of it lands in the log."""
    world = citizen
    nup = world.new_process()
    email = address()
    world.confirmed(nup, email)
    world.notices(nup, world.move(nup))
    world.deliver_mail()
    assert len(mails_to(email)) >= 2  # the confirmation and the notice really went out
    logged = app_logs()
    assert "request" in logged  # the capture saw the app's log lines
    assert EMAIL_IN_TEXT.findall(logged) == [], "an e-mail address in the app's log"
    assert TOKEN_IN_TEXT.findall(logged) == [], "a token in the app's log"
