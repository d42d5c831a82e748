"""The demo the local stack starts with, created through the real services (the same validation,
the same stores, the same e-mail notices as in production).

Two agencies the platform hosts (their people work in our web app; their tokens carry every scope)
and one that runs its own system and talks to the others only through the bus (the barramento).
Ids are numeric as in the national registry; e-mail domains are reserved example domains.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.bootstrap import Services
from chalicelib.domain.credentials import Scope
from chalicelib.domain.processes import AccessLevel, Interested, Metadata
from chalicelib.domain.structures import Structure
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
