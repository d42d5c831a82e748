"""The demo the local stack starts with, created through the real services (the same validation,
the same stores, the same e-mail notices as in production).

Two agencies the platform hosts (their people work in our web app; their tokens carry every scope)
and one that runs its own system and talks to the others only through the bus (the barramento).
Ids are numeric as in the national registry; e-mail domains are reserved example domains.

The MGI and the MS are hosted (chalicelib/services/hosted.py): the platform imports what is addressed
to them and closes what they send from the processes service. Two trâmites are seeded, and the worker
(which starts right after the seed) carries them on within a second or two:
- the bus-only agency (INSS) sent a process to the MS's protocol unit from its own system: the
  platform imports it into unit 2002 and sends the recibo de conclusão (state 5), so the INSS has a
  pendência to fetch its recibo (docs/BUS.md does it with docs/examples/bus_client.py);
- the MGI's demo process (one external PDF) is sent hosted to hosted to the MS's protocol unit: the
  platform imports it at the MS and fetches the receipt for the MGI (state 6, concluded at the MGI).
"""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from dataclasses import dataclass
from typing import Any

from chalicelib.api.bus import ManifestoIn
from chalicelib.bootstrap import Services
from chalicelib.domain.bus import Address
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.domain.documents import Declaration
from chalicelib.domain.nup import Nup
from chalicelib.domain.processes import AccessLevel, Interested, Metadata
from chalicelib.domain.structures import Structure
from chalicelib.services.documents import DocumentInput
from chalicelib.services.ports import PresignedRequest
from chalicelib.services.processes import Actor
from chalicelib.services.signatures import SignRequest

HOSTED_SCOPES = frozenset({Scope.PROCESSOS, Scope.BARRAMENTO, Scope.ADMIN})
# An agency with its own system: the bus, and its records to the public base (Protocolo Integrado,
# which takes the `processos` scope). It is not hosted: the platform keeps no copy of its processes.
BUS_SCOPES = frozenset({Scope.BARRAMENTO, Scope.PROCESSOS})


@dataclass(frozen=True)
class DemoAgency:
    agency: Structure
    units: tuple[Structure, ...]
    scopes: frozenset[Scope]
    client_name: str
    hosted: bool = False  # the platform keeps its processes (else: its own system, on the bus)


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
        hosted=True,
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
        hosted=True,
    ),
    DemoAgency(
        _agency("3001", "Instituto Nacional do Seguro Social", "INSS", "protocolo@inss.example.gov.br"),
        (_unit("3002", "3001", "Divisão de Protocolo e Expedição", "PROTOCOLO/INSS", protocol_code="30001"),),
        BUS_SCOPES,
        "Sistema próprio do INSS via barramento (demonstração)",
    ),
)


@dataclass(frozen=True)
class SeededDemo:
    credentials: list[DemoCredential]
    public_nup: str  # the MGI's público demo process: the one a citizen looks up and follows
    # Its signed PDF's código verificador and CRC: what a citizen types on the authenticity page.
    document_codes: tuple[str, str]


def seed(services: Services, demo: tuple[DemoAgency, ...] = DEMO) -> SeededDemo:
    """Saves the demo structures and issues one client per agency (each issue e-mails a notice to the
    agency's contact through the mail queue). Returns the tokens, shown once, and the demo NUP."""
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
    for entry in demo:  # before any trâmite: the worker imports and closes only for hosted agencies
        if entry.hosted:
            services.hosted.set_hosted(entry.agency.id, True)
    nup, codes = seed_process(services)
    inss = next(c for c in credentials if c.acronym == "INSS")
    seed_tramite(services, Caller(inss.agency_id, inss.client_id, BUS_SCOPES))
    seed_hosted_send(services, nup)
    return SeededDemo(credentials, nup, codes)


MGI_DEMO_ACTOR = Actor("1001", "demonstracao")
MGI_DEMO_UNIT = "1003"  # SEGES/MGI, where seed_process leaves the process open
MGI_DEMO_SIGNER = ("Ana Beatriz Lima", "Chefe da Divisão de Protocolo")
MGI_DEMO_FILE = (
    "pedido-e-sic.pdf",
    b"%PDF-1.4\n% Pedido de informacao sobre contratos de TI (demonstracao)\n%%EOF\n",
)


def seed_process(services: Services) -> tuple[str, tuple[str, str]]:
    """A public process of the MGI, opened at its protocol with the request as an external PDF (so it
    can travel: a process sent through the bus needs at least one document), signed by the protocol's
    head, and sent to SEGES. Returns the NUP and the signed PDF's código verificador and CRC."""
    actor = MGI_DEMO_ACTOR
    metadata = Metadata(
        process_type="Acesso à Informação: Demanda do e-SIC",
        specification="Pedido de informação sobre contratos de TI",
        interested=(Interested("Maria das Dores Souza"),),
        access_level=AccessLevel.PUBLICO,
    )
    process = services.processes.create(actor, "1002", metadata)
    add_external_pdf(services, actor, process.nup, "1002", MGI_DEMO_FILE)
    signed = services.signatures.sign(actor, process.nup, 1, SignRequest("1002", *MGI_DEMO_SIGNER))
    services.processes.send(
        actor, process.nup, from_unit="1002", to_units=[MGI_DEMO_UNIT], keep_open=False, return_by=None
    )
    return process.nup, (signed.verification_code or "", signed.crc or "")


def add_external_pdf(
    services: Services, actor: Actor, nup: str, unit_id: str, file: tuple[str, bytes]
) -> None:
    """An external document as a person adds it: the declaration, the presigned PUT, the confirmation
    (which checks the stored bytes against the declaration)."""
    name, data = file
    declaration = Declaration(sha256_b64(data), len(data), "application/pdf", name)
    ticket = services.documents.start_upload(
        actor, nup, DocumentInput(unit_id, 999, AccessLevel.PUBLICO), declaration
    )
    if ticket.single is not None:
        _put(ticket.single, data)
    services.documents.confirm(actor, nup, ticket.upload.id)


def seed_hosted_send(services: Services, nup: str) -> str:
    """The MGI (hosted) sends its demo process from SEGES to the MS's protocol unit (hosted) as its people
    do from the processes service: zero bytes uploaded, the process locked, the trâmite in state 2. The
    worker then imports it at the MS (5) and fetches the receipt for the MGI (6). Returns the IDT."""
    [tramite] = services.hosted.send(MGI_DEMO_ACTOR, nup, MGI_DEMO_UNIT, [Address("1", BUS_DEMO_RECEIVER)])
    return tramite.idt


BUS_DEMO_SENDER = "3002"  # PROTOCOLO/INSS
BUS_DEMO_RECEIVER = "2002"  # PROTOCOLO/MS
BUS_DEMO_FILES = (
    ("requerimento.pdf", b"%PDF-1.4\n% Requerimento de revisao de beneficio (demonstracao)\n%%EOF\n"),
    ("laudo-medico.pdf", b"%PDF-1.4\n% Laudo medico pericial (demonstracao)\n%%EOF\n"),
)


def seed_tramite(services: Services, inss: Caller) -> str:
    """A trâmite from the INSS's own system to the MS's protocol unit, left in state 2 (the components
    in custody); the MS being hosted, the worker imports it and sends the recibo de conclusão (5). Made
    as a client makes it: the manifest, a presigned PUT of each component, the confirmation. Returns
    the IDT."""
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
        if item.upload is None:  # the demo's files are small: one PUT each, never parts
            raise RuntimeError(f"the demo file {item.component.name} was asked for in parts")
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
