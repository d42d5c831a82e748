"""The demo the local stack starts with, created through the real services (the same validation,
the same stores, the same e-mail notices as in production).

Two agencies the platform hosts (their people work in our web app; their tokens carry every scope)
and one that runs its own system and talks to the others only through the bus (the barramento).
Ids are numeric as in the national registry; e-mail domains are reserved example domains.

The bus-only agency (INSS) has already sent one process to the MS's protocol unit: the trâmite waits in
state 2 (components in the bus's custody), so the MS token sees one pendência at start-up
(docs/BUS.md shows how to receive it with docs/examples/bus_client.py).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from dataclasses import dataclass
from typing import Any

from chalicelib.api.bus import ManifestoIn
from chalicelib.bootstrap import Services
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.domain.nup import Nup
from chalicelib.domain.processes import AccessLevel, Interested, Metadata
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import PresignedRequest
from chalicelib.services.processes import Actor

HOSTED_SCOPES = frozenset({Scope.PROCESSOS, Scope.BARRAMENTO, Scope.ADMIN})
BUS_SCOPES = frozenset({Scope.BARRAMENTO})


@dataclass(frozen=True)
class DemoAgency:
    agency: Structure
    units: tuple[Structure, ...]
    scopes: frozenset[Scope]
    client_name: str

    @property
    def hosted(self) -> bool:
        return Scope.PROCESSOS in self.scopes


@dataclass(frozen=True)
class DemoCredential:
    agency_id: str
    acronym: str
    name: str
    hosted: bool
    client_id: str
    token: str
    scopes: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "orgaoId": self.agency_id,
            "sigla": self.acronym,
            "nome": self.name,
            "hospedado": self.hosted,
            "clienteId": self.client_id,
            "token": self.token,
            "escopos": list(self.scopes),
        }


def _agency(id_: str, name: str, acronym: str, email: str) -> Structure:
    return Structure(id=id_, name=name, acronym=acronym, agency_id=id_, contact_email=email)


def _unit(id_: str, agency_id: str, name: str, acronym: str, protocol_code: str | None = None) -> Structure:
    return Structure(
        id=id_,
        name=name,
        acronym=acronym,
        agency_id=agency_id,
        parent_id=agency_id,
        protocol_code=protocol_code,
    )


DEMO: tuple[DemoAgency, ...] = (
    DemoAgency(
        _agency(
            "1001",
            "Ministério da Gestão e da Inovação em Serviços Públicos",
            "MGI",
            "protocolo@mgi.example.gov.br",
        ),
        (
            _unit("1002", "1001", "Divisão de Protocolo Central", "PROTOCOLO/MGI", protocol_code="10001"),
            _unit("1003", "1001", "Secretaria de Gestão e Inovação", "SEGES/MGI", protocol_code="10002"),
            _unit("1004", "1001", "Secretaria de Governo Digital", "SGD/MGI", protocol_code="10003"),
        ),
        HOSTED_SCOPES,
        "SEI do MGI (demonstração)",
    ),
    DemoAgency(
        _agency("2001", "Ministério da Saúde", "MS", "protocolo@ms.example.gov.br"),
        (
            _unit("2002", "2001", "Coordenação de Protocolo Geral", "PROTOCOLO/MS", protocol_code="20001"),
            _unit(
                "2003",
                "2001",
                "Secretaria de Atenção Especializada à Saúde",
                "SAES/MS",
                protocol_code="20002",
            ),
            _unit(
                "2004",
                "2001",
                "Secretaria de Vigilância em Saúde e Ambiente",
                "SVSA/MS",
                protocol_code="20003",
            ),
        ),
        HOSTED_SCOPES,
        "SEI do MS (demonstração)",
    ),
    DemoAgency(
        _agency("3001", "Instituto Nacional do Seguro Social", "INSS", "protocolo@inss.example.gov.br"),
        (_unit("3002", "3001", "Divisão de Protocolo e Expedição", "PROTOCOLO/INSS", protocol_code="30001"),),
        BUS_SCOPES,
        "Sistema próprio do INSS via barramento (demonstração)",
    ),
)


def seed(services: Services, demo: tuple[DemoAgency, ...] = DEMO) -> list[DemoCredential]:
    """Saves the demo structures and issues one client per agency (each issue e-mails a notice to the
    agency's contact through the mail queue). Returns the tokens, shown once."""
    for entry in demo:
        services.registry.import_many((entry.agency, *entry.units))
    credentials = []
    for entry in demo:
        issued = services.credentials.issue(entry.agency.id, entry.client_name, entry.scopes)
        credentials.append(
            DemoCredential(
                agency_id=entry.agency.id,
                acronym=entry.agency.acronym,
                name=entry.agency.name,
                hosted=entry.hosted,
                client_id=issued.client.id,
                token=issued.token,
                scopes=tuple(sorted(s.value for s in issued.client.scopes)),
            )
        )
    seed_process(services)
    inss = next(c for c in credentials if c.acronym == "INSS")
    seed_tramite(services, Caller(inss.agency_id, inss.client_id, BUS_SCOPES))
    return credentials


def seed_process(services: Services) -> str:
    """A public process of the MGI, opened at its protocol and sent to SEGES: something to follow."""
    actor = Actor("1001", "demonstracao")
    metadata = Metadata(
        process_type="Acesso à Informação: Demanda do e-SIC",
        specification="Pedido de informação sobre contratos de TI",
        interested=(Interested("Maria das Dores Souza"),),
        access_level=AccessLevel.PUBLICO,
    )
    process = services.processes.create(actor, "1002", metadata)
    services.processes.send(
        actor, process.nup, from_unit="1002", to_units=["1003"], keep_open=False, return_by=None
    )
    return process.nup


BUS_DEMO_SENDER = "3002"  # PROTOCOLO/INSS
BUS_DEMO_RECEIVER = "2002"  # PROTOCOLO/MS
BUS_DEMO_FILES = (
    ("requerimento.pdf", b"%PDF-1.4\n% Requerimento de revisao de beneficio (demonstracao)\n%%EOF\n"),
    ("laudo-medico.pdf", b"%PDF-1.4\n% Laudo medico pericial (demonstracao)\n%%EOF\n"),
)


def seed_tramite(services: Services, inss: Caller) -> str:
    """A trâmite from the INSS's own system to the MS's protocol unit, left in state 2 (the components
    in custody): the MS has a pendência to receive. Made as a client makes it: the manifest, a presigned
    PUT of each component, the confirmation. Returns the IDT."""
    now = services.clock.now()
    when = now.isoformat()
    producer = {"nome": "Divisão de Protocolo e Expedição", "unidade": "PROTOCOLO/INSS"}
    declared: dict[str, Any] = {
        "cabecalho": {
            "remetente": {"repositorio": "1", "estrutura": BUS_DEMO_SENDER},
            "destinatario": {"repositorio": "1", "estrutura": BUS_DEMO_RECEIVER},
        },
        "processo": {
            "nup": Nup.issue("30001", 1, now.year).digits,
            "nivelAcesso": 1,
            "tipo": "Benefício: Revisão",
            "especificacao": "Revisão de aposentadoria por incapacidade: parecer do MS",
            "dataProducao": when,
            "dataRegistro": when,
            "produtor": producer,
            "interessados": [{"nome": "José Pereira dos Santos"}],
        },
        "documentos": [
            {
                "ordem": order,
                "especie": 999,
                "origem": "externo",
                "nivelAcesso": 1,
                "dataProducao": when,
                "dataRegistro": when,
                "produtor": producer,
                "componentes": [
                    {
                        "ordem": 1,
                        "nomeArquivo": name,
                        "sha256": sha256_b64(data),
                        "tamanho": len(data),
                        "tipoMidia": "application/pdf",
                    }
                ],
            }
            for order, (name, data) in enumerate(BUS_DEMO_FILES, start=1)
        ],
    }
    manifest = ManifestoIn.model_validate(declared)
    sent = services.bus.send(inss, manifest.to_domain(), manifest.receivers())
    by_hash = {sha256_b64(data): data for _, data in BUS_DEMO_FILES}
    for item in sent.uploads:
        _put(item.upload, by_hash[item.component.sha256])
    [tramite] = sent.tramites
    services.bus.confirm_components(inss, tramite.idt)
    return tramite.idt


def sha256_b64(data: bytes) -> str:
    """SHA-256 in standard base64, the form manifests and receipts use."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def _put(request: PresignedRequest, data: bytes) -> None:
    """The presigned PUT, as the sender's own system would make it (to the moto server's S3)."""
    put = urllib.request.Request(request.url, data=data, headers=request.headers, method=request.method)
    with urllib.request.urlopen(put, timeout=10) as answer:
        answer.read()
