"""API request and response models (pydantic). They describe the wire, in PEN's vocabulary, and
convert from domain objects; they never enter chalicelib/domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.agency_keys import AgencyKey
from chalicelib.domain.credentials import ApiClient, Caller
from chalicelib.domain.structures import Structure

StructureId = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,11}$", examples=["1001"])]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class FieldProblem(ApiModel):
    campo: str = Field(description="Caminho do campo, com pontos (ex.: interessados.0.nome)")
    mensagem: str


class Problem(ApiModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    erros: list[FieldProblem] | None = None
    correlationId: str | None = None  # noqa: N815 - wire name


class Health(ApiModel):
    status: Literal["ok"]
    versao: str
    estagio: str


class StructureOut(ApiModel):
    id: str
    nome: str
    sigla: str
    orgaoId: str  # noqa: N815
    paiId: str | None  # noqa: N815
    tipo: Literal["orgao", "unidade"]
    ativo: bool
    podeEnviar: bool  # noqa: N815
    podeReceber: bool  # noqa: N815
    codigoProtocolo: str | None = Field(description="Código de 5 dígitos da unidade protocolizadora (NUP)")  # noqa: N815

    @classmethod
    def from_domain(cls, s: Structure) -> StructureOut:
        return cls(
            id=s.id,
            nome=s.name,
            sigla=s.acronym,
            orgaoId=s.agency_id,
            paiId=s.parent_id,
            tipo="orgao" if s.is_agency else "unidade",
            ativo=s.active,
            podeEnviar=s.can_send,
            podeReceber=s.can_receive,
            codigoProtocolo=s.protocol_code,
        )


class StructureListQuery(ApiModel):
    sigla: Annotated[str, Field(min_length=1, max_length=30)] | None = None
    nome: (
        Annotated[
            str, Field(min_length=2, max_length=100, description="Trecho do nome, sem distinção de acentos")
        ]
        | None
    ) = None
    orgao: StructureId | None = Field(default=None, description="Só as estruturas deste órgão")
    podeReceber: bool | None = None  # noqa: N815
    ativo: bool | None = None
    apenasOrgaos: bool = Field(  # noqa: N815
        default=False, description="Só os órgãos (as raízes da árvore), sem as suas unidades"
    )
    cursor: Annotated[str, Field(max_length=2048)] | None = None
    limite: Annotated[int, Field(ge=1, le=100)] = 50


class StructureList(ApiModel):
    itens: list[StructureOut]
    cursor: str | None = Field(description="Envie em ?cursor= para a próxima página; null na última")


class CallerOut(ApiModel):
    orgao: StructureOut
    clienteId: str  # noqa: N815
    escopos: list[str]

    @classmethod
    def from_domain(cls, caller: Caller, agency: Structure) -> CallerOut:
        return cls(
            orgao=StructureOut.from_domain(agency),
            clienteId=caller.client_id,
            escopos=sorted(s.value for s in caller.scopes),
        )


class ClientOut(ApiModel):
    id: str
    orgaoId: str  # noqa: N815
    nome: str
    escopos: list[str]
    criadoEm: datetime  # noqa: N815
    expiraEm: datetime | None  # noqa: N815
    revogadoEm: datetime | None  # noqa: N815
    renovadoEm: datetime | None  # noqa: N815

    @classmethod
    def from_domain(cls, c: ApiClient) -> ClientOut:
        return cls(
            id=c.id,
            orgaoId=c.agency_id,
            nome=c.name,
            escopos=sorted(s.value for s in c.scopes),
            criadoEm=c.created_at,
            expiraEm=c.expires_at,
            revogadoEm=c.revoked_at,
            renovadoEm=c.rotated_at,
        )


class ClientListQuery(ApiModel):
    cursor: Annotated[str, Field(max_length=2048)] | None = None
    limite: Annotated[int, Field(ge=1, le=100)] = 50


class ClientList(ApiModel):
    itens: list[ClientOut]
    cursor: str | None


class RevocationIn(ApiModel):
    motivo: Annotated[str, Field(min_length=3, max_length=500)]


class ChaveIn(ApiModel):
    pem: str = Field(
        max_length=8192, description="Chave pública PEM (BEGIN PUBLIC KEY): EC P-256/P-384 ou RSA ≥ 2048"
    )


class ChaveOut(ApiModel):
    id: str
    algoritmo: str
    pem: str
    criadaEm: datetime  # noqa: N815
    revogadaEm: datetime | None  # noqa: N815
    ativa: bool

    @classmethod
    def from_domain(cls, key: AgencyKey) -> ChaveOut:
        return cls(
            id=key.id,
            algoritmo=key.algorithm,
            pem=key.pem,
            criadaEm=key.created_at,
            revogadaEm=key.revoked_at,
            ativa=key.active,
        )


class ChavesOut(ApiModel):
    itens: list[ChaveOut]
