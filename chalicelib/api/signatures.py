"""API models of the public side of signatures: the authenticity lookup and the platform's keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

from pydantic import Field

from chalicelib.api.documents import KindOut, PublicSignatureOut
from chalicelib.api.models import ApiModel
from chalicelib.api.processes import masked
from chalicelib.domain.catalogs import DOCUMENT_KINDS
from chalicelib.domain.signatures import PublicKey
from chalicelib.services.signatures import Authenticity

KEYS_PATH = "/publico/chaves"
CONTENT_PATH = "/publico/documentos/conteudo"


class AuthenticityQuery(ApiModel):
    codigo: Annotated[
        str,
        Field(pattern=r"^[0-9]{10}$", description="Código verificador: 10 dígitos", examples=["0123456789"]),
    ]
    crc: Annotated[
        str,
        Field(
            pattern=r"^[0-9A-Fa-f]{8}$",
            description="Código CRC: 8 dígitos hexadecimais",
            examples=["1A2B3C4D"],
        ),
    ]


class AuthenticDocumentOut(ApiModel):
    especie: KindOut
    numero: str | None = Field(description="Internos: número/ano")
    origem: Literal["interno", "externo"]


class AuthenticSignatureOut(PublicSignatureOut):
    orgaoNome: str | None = Field(description="Nome do órgão `orgao`, como está no Repositório de Estruturas")  # noqa: N815
    unidadeNome: str | None = Field(description="Nome da unidade `unidade`")  # noqa: N815


class AuthenticityOut(ApiModel):
    codigoVerificador: str  # noqa: N815
    crc: str
    acesso: Literal["publico", "restrito"] = Field(
        description="publico: o documento e o processo são públicos, e a resposta os identifica. restrito: "
        "o documento ou o processo é restrito ou sigiloso; a resposta não traz o processo nem o documento, "
        "só as assinaturas, o SHA-256 do conteúdo e os carimbos"
    )
    processo: str | None = Field(description="O NUP, só quando o acesso é público")
    documento: AuthenticDocumentOut | None = Field(description="Só quando o acesso é público")
    cancelado: bool = Field(description="O documento foi cancelado depois de assinado")
    canceladoEm: datetime | None  # noqa: N815
    conteudoSha256: str = Field(  # noqa: N815
        description="SHA-256 do conteúdo assinado, em hexadecimal (o que `sha256sum` mostra de uma cópia)"
    )
    assinaturas: list[AuthenticSignatureOut]
    conteudo: str | None = Field(
        description="Onde pedir o endereço de download do conteúdo: só quando o acesso é público e o "
        "documento não foi cancelado"
    )
    chaves: str = Field(description="Onde estão as chaves públicas que conferem os carimbos")

    @classmethod
    def from_domain(cls, a: Authenticity) -> AuthenticityOut:
        d = a.document
        kind = DOCUMENT_KINDS[d.kind]
        return cls(
            codigoVerificador=d.verification_code or "",
            crc=d.crc or "",
            acesso="publico" if a.public else "restrito",
            processo=masked(d.nup) if a.public else None,
            documento=(
                AuthenticDocumentOut(
                    especie=KindOut(codigo=kind.code, nome=kind.name),
                    numero=f"{d.number}/{d.year}" if d.number is not None else None,
                    origem=d.origin.value,
                )
                if a.public
                else None
            ),
            cancelado=d.cancelled,
            canceladoEm=d.cancelled_at,
            conteudoSha256=d.component.sha256_hex,
            assinaturas=[
                AuthenticSignatureOut(
                    **PublicSignatureOut.from_domain(s).model_dump(),
                    orgaoNome=a.structure_names.get(s.record.agency_id),
                    unidadeNome=a.structure_names.get(s.record.unit_id),
                )
                for s in d.signatures
            ],
            conteudo=(
                f"{CONTENT_PATH}?{urlencode({'codigo': d.verification_code, 'crc': d.crc})}"
                if a.public and not d.cancelled
                else None
            ),
            chaves=KEYS_PATH,
        )


class PublicKeyOut(ApiModel):
    id: str = Field(description="Identificador da chave, o mesmo de `carimbo.chave` nas assinaturas")
    algoritmo: Literal["ECDSA_SHA_256"]
    curva: Literal["P-256"]
    pem: str = Field(description="Chave pública (SubjectPublicKeyInfo) em PEM, como o openssl a lê")


class PublicKeysOut(ApiModel):
    chaves: list[PublicKeyOut]

    @classmethod
    def from_domain(cls, keys: list[PublicKey]) -> PublicKeysOut:
        return cls(
            chaves=[
                PublicKeyOut(id=k.key_id, algoritmo="ECDSA_SHA_256", curva="P-256", pem=k.pem) for k in keys
            ]
        )
