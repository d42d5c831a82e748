"""API models of documents (pydantic), with their conversions at the edge."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.api.models import ApiModel, StructureId
from chalicelib.api.processes import LegalBasisOut, masked
from chalicelib.domain.catalogs import DOCUMENT_KINDS, LEGAL_HYPOTHESES
from chalicelib.domain.documents import (
    MAX_DESCRIPTION,
    MAX_FILE_NAME,
    SANITISER_SUMMARY,
    Declaration,
    Document,
    parse_sha256,
)
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.processes import AccessLevel
from chalicelib.domain.signatures import Signature
from chalicelib.services.documents import DocumentInput, Download, UploadTicket
from chalicelib.services.ports import PendingUpload, PresignedRequest
from chalicelib.services.signatures import MAX_SIGNER_NAME, MAX_SIGNER_ROLE, SignRequest
from chalicelib.services.site_links import SiteLinks

AUTHENTICITY_PATH = "/publico/documentos/autenticidade"

Sha256B64 = Annotated[
    str,
    Field(
        min_length=44,
        max_length=44,
        description="SHA-256 do arquivo em base64 padrão (44 caracteres, com '='), como no PEN e no S3",
        examples=["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
    ),
]
MediaType = Annotated[
    str,
    Field(
        min_length=3,
        max_length=127,
        pattern=r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$",
        description="Tipo MIME declarado, em minúsculas (ex.: application/pdf)",
    ),
]


class DocumentMetadataIn(ApiModel):
    unidade: StructureId = Field(description="Unidade onde o processo está aberto e que produz o documento")
    especie: int = Field(ge=1, le=999, description="Espécie documental (lista nacional: 1 a 186, 999 Outra)")
    nivelAcesso: Literal[1, 2, 3] = Field(description="1 público, 2 restrito, 3 sigiloso")  # noqa: N815
    hipoteseLegal: int | None = Field(default=None, description="Obrigatória nos níveis 2 e 3")  # noqa: N815
    descricao: Annotated[str, Field(min_length=1, max_length=MAX_DESCRIPTION)] | None = None

    def to_input(self) -> DocumentInput:
        return DocumentInput(
            unit_id=self.unidade,
            kind=self.especie,
            access_level=AccessLevel(self.nivelAcesso),
            legal_basis=self.hipoteseLegal,
            description=self.descricao.strip() if self.descricao else None,
        )


class InternalDocumentIn(DocumentMetadataIn):
    conteudo: Annotated[str, Field(min_length=1, max_length=900_000)] = Field(
        description="Conteúdo em HTML. " + SANITISER_SUMMARY
    )


class InternalEditIn(ApiModel):
    unidade: StructureId
    conteudo: Annotated[str, Field(min_length=1, max_length=900_000)] = Field(
        description="O novo conteúdo em HTML (mesmas regras da criação)"
    )
    versao: int = Field(
        ge=1, description="A versão do documento lida: se mudou desde então, a resposta é 409"
    )


class PartsIn(ApiModel):
    tamanhoParte: int = Field(  # noqa: N815
        ge=1, description="Tamanho de cada parte em bytes (a última pode ser menor); mínimo 5 MiB no S3"
    )
    sha256: Annotated[list[Sha256B64], Field(min_length=1, max_length=10_000)] = Field(
        description="O SHA-256 (base64) de cada parte, na ordem"
    )


class ExternalDocumentIn(DocumentMetadataIn):
    nomeArquivo: Annotated[str, Field(min_length=1, max_length=MAX_FILE_NAME)]  # noqa: N815
    tipoMidia: MediaType  # noqa: N815
    tamanho: int = Field(ge=1, description="Tamanho do arquivo em bytes")
    sha256: Sha256B64
    partes: PartsIn | None = Field(
        default=None, description="Obrigatório para arquivos acima do limite de envio único (100 MiB)"
    )

    def to_declaration(self) -> Declaration:
        problems: list[FieldError] = []
        try:
            parse_sha256(self.sha256)
        except InvalidInput as error:
            problems.extend(error.fields)
        if problems:
            raise InvalidInput("A declaração do arquivo é inválida.", problems)
        return Declaration(
            sha256=self.sha256,
            size=self.tamanho,
            media_type=self.tipoMidia,
            file_name=self.nomeArquivo.strip(),
            part_size=self.partes.tamanhoParte if self.partes else None,
            part_digests=tuple(self.partes.sha256) if self.partes else (),
        )


class CancelIn(ApiModel):
    unidade: StructureId
    motivo: Annotated[str, Field(min_length=3, max_length=500)]


class DocumentListQuery(ApiModel):
    cursor: (
        Annotated[str, Field(pattern=r"^[1-9][0-9]{0,5}$", description="Ordem a partir da qual listar")]
        | None
    ) = None
    limite: Annotated[int, Field(ge=1, le=100)] = 50


class KindOut(ApiModel):
    codigo: int
    nome: str


class ComponentOut(ApiModel):
    nomeArquivo: str  # noqa: N815
    tipoMidia: str  # noqa: N815
    tamanho: int
    sha256: str = Field(description="SHA-256 do conteúdo em base64")
    verificacao: Literal["objeto", "partes"] = Field(
        description="objeto: o SHA-256 do arquivo inteiro foi conferido; partes: envio em partes, cada "
        "parte conferida pelo S3 contra o SHA-256 declarado"
    )


class CancellationOut(ApiModel):
    em: datetime
    motivo: str
    usuario: str


class SignIn(ApiModel):
    unidade: StructureId = Field(description="Unidade onde o processo está aberto e em que a pessoa assina")
    nome: Annotated[str, Field(min_length=1, max_length=MAX_SIGNER_NAME)] = Field(
        description="Nome de quem assina, como constará da assinatura"
    )
    cargo: Annotated[str, Field(min_length=1, max_length=MAX_SIGNER_ROLE)] = Field(
        description="Cargo ou função de quem assina"
    )
    sha256: Sha256B64 | None = Field(
        default=None,
        description="Opcional: o SHA-256 (base64) do conteúdo que a pessoa leu. Se o documento mudou "
        "desde então, a resposta é 409 e nada é assinado.",
    )

    def to_request(self) -> SignRequest:
        if self.sha256 is not None:
            parse_sha256(self.sha256)
        return SignRequest(self.unidade, self.nome.strip(), self.cargo.strip(), self.sha256)


class StampOut(ApiModel):
    algoritmo: Literal["ECDSA_SHA_256"] = Field(description="ECDSA na curva P-256 com SHA-256")
    chave: str = Field(
        description="Identificador da chave da plataforma; a chave pública está em /publico/chaves"
    )
    assinatura: str = Field(description="A assinatura ECDSA em DER, em base64, sobre os bytes de `registro`")
    carimbadoEm: datetime  # noqa: N815


class PublicSignatureOut(ApiModel):
    signatario: str
    cargo: str
    assinadoEm: datetime  # noqa: N815
    orgao: str
    unidade: str
    registro: str = Field(
        description="O registro assinado, em JSON canônico (RFC 8785): seus bytes UTF-8 são exatamente o "
        "que o carimbo assina"
    )
    registroBase64: str = Field(description="Os mesmos bytes de `registro`, em base64")  # noqa: N815
    carimbo: StampOut

    @classmethod
    def from_domain(cls, s: Signature) -> PublicSignatureOut:
        return cls(**_signature_fields(s))


class SignatureOut(PublicSignatureOut):
    usuario: str = Field(description="Quem pediu a assinatura (X-Usuario); não é publicado")

    @classmethod
    def from_domain(cls, s: Signature) -> SignatureOut:
        return cls(**_signature_fields(s), usuario=s.user)


def _signature_fields(s: Signature) -> dict[str, Any]:
    record, stamp = s.record, s.stamp
    canonical = record.to_canonical()
    return {
        "signatario": record.signer_name,
        "cargo": record.signer_role,
        "assinadoEm": record.signed_at,
        "orgao": record.agency_id,
        "unidade": record.unit_id,
        "registro": canonical.decode("utf-8"),
        "registroBase64": base64.b64encode(canonical).decode("ascii"),
        "carimbo": StampOut(
            algoritmo="ECDSA_SHA_256",
            chave=stamp.key_id,
            assinatura=stamp.signature,
            carimbadoEm=stamp.stamped_at,
        ),
    }


class AuthenticationOut(ApiModel):
    codigoVerificador: str = Field(description="Código verificador (10 dígitos)")  # noqa: N815
    crc: str = Field(description="Código CRC (8 dígitos hexadecimais)")
    consulta: str = Field(
        description="Página pública onde qualquer pessoa confere a autenticidade deste documento "
        "(o endereço a imprimir no documento)"
    )
    consultaApi: str = Field(  # noqa: N815
        description="A mesma conferência na API pública (JSON), relativa à raiz da API"
    )


class DocumentOut(ApiModel):
    processo: str
    ordem: int
    origem: Literal["interno", "externo"]
    especie: KindOut
    numero: str | None = Field(description="Internos: número/ano, por espécie, unidade e ano")
    descricao: str | None
    nivelAcesso: int  # noqa: N815
    hipoteseLegal: LegalBasisOut | None  # noqa: N815
    unidade: str
    criadoPor: str  # noqa: N815
    criadoEm: datetime  # noqa: N815
    atualizadoEm: datetime  # noqa: N815
    componente: ComponentOut
    assinado: bool
    editavel: bool = Field(description="Internos não assinados nem cancelados")
    assinaturas: list[SignatureOut] = Field(description="Na ordem em que foram feitas")
    autenticacao: AuthenticationOut | None = Field(
        description="Código verificador e CRC, a partir da primeira assinatura"
    )
    cancelamento: CancellationOut | None
    versao: int

    @classmethod
    def from_domain(cls, d: Document, links: SiteLinks) -> DocumentOut:
        legal = LEGAL_HYPOTHESES.get(d.legal_basis) if d.legal_basis is not None else None
        kind = DOCUMENT_KINDS[d.kind]
        component = d.component
        cancellation = (
            CancellationOut(em=d.cancelled_at, motivo=d.cancel_reason or "", usuario=d.cancelled_by or "")
            if d.cancelled_at is not None
            else None
        )
        return cls(
            processo=masked(d.nup),
            ordem=d.order,
            origem=d.origin.value,
            especie=KindOut(codigo=kind.code, nome=kind.name),
            numero=f"{d.number}/{d.year}" if d.number is not None else None,
            descricao=d.description,
            nivelAcesso=int(d.access_level),
            hipoteseLegal=LegalBasisOut(id=legal.id, nome=legal.label) if legal else None,
            unidade=d.unit_id,
            criadoPor=d.created_by,
            criadoEm=d.created_at,
            atualizadoEm=d.updated_at,
            componente=ComponentOut(
                nomeArquivo=component.file_name,
                tipoMidia=component.media_type,
                tamanho=component.size,
                sha256=component.sha256,
                verificacao=component.verification.value,
            ),
            assinado=d.signed,
            editavel=d.origin.value == "interno" and not d.signed and not d.cancelled,
            assinaturas=[SignatureOut.from_domain(s) for s in d.signatures],
            autenticacao=(
                AuthenticationOut(
                    codigoVerificador=d.verification_code,
                    crc=d.crc,
                    consulta=links.authenticity(d.verification_code, d.crc),
                    consultaApi=f"{AUTHENTICITY_PATH}?codigo={d.verification_code}&crc={d.crc}",
                )
                if d.verification_code is not None and d.crc is not None
                else None
            ),
            cancelamento=cancellation,
            versao=d.version,
        )


class DocumentListOut(ApiModel):
    processo: str
    nivelAcessoEfetivo: int = Field(description="O mais restritivo entre o do processo e o dos documentos")  # noqa: N815
    itens: list[DocumentOut]
    cursor: str | None


class PresignedOut(ApiModel):
    metodo: Literal["PUT", "GET"]
    url: str
    cabecalhos: dict[str, str] = Field(
        description="Envie exatamente estes cabeçalhos (fazem parte da assinatura)"
    )

    @classmethod
    def from_domain(cls, r: PresignedRequest) -> PresignedOut:
        return cls(metodo="PUT" if r.method == "PUT" else "GET", url=r.url, cabecalhos=dict(r.headers))


class PartOut(PresignedOut):
    numero: int
    tamanho: int


class UploadOut(ApiModel):
    envio: str = Field(description="Identificador do envio: use-o na conclusão das partes e na confirmação")
    processo: str
    jaArmazenado: bool = Field(  # noqa: N815
        description="true: estes bytes já estão armazenados; não envie nada, só confirme"
    )
    envioUnico: PresignedOut | None = Field(description="PUT único (arquivos até 100 MiB)")  # noqa: N815
    partes: list[PartOut] = Field(description="PUT de cada parte (arquivos acima de 100 MiB)")
    conclusaoPartes: str | None = Field(description="POST aqui depois de enviar todas as partes")  # noqa: N815
    confirmacao: str = Field(description="POST aqui para conferir o arquivo e criar o documento")
    expiraEm: datetime = Field(description="Até quando o envio pode ser confirmado")  # noqa: N815

    @classmethod
    def from_domain(cls, ticket: UploadTicket) -> UploadOut:
        upload = ticket.upload
        base = f"/processos/{upload.nup}/documentos/externos/{upload.id}"
        declaration = upload.declaration
        return cls(
            envio=upload.id,
            processo=masked(upload.nup),
            jaArmazenado=ticket.already_stored,
            envioUnico=PresignedOut.from_domain(ticket.single) if ticket.single else None,
            partes=[
                PartOut(
                    metodo="PUT",
                    url=p.url,
                    cabecalhos=dict(p.headers),
                    numero=n,
                    tamanho=declaration.part_length(n),
                )
                for n, p in enumerate(ticket.parts, start=1)
            ],
            conclusaoPartes=f"{base}/partes/conclusao" if ticket.parts else None,
            confirmacao=f"{base}/confirmacao",
            expiraEm=upload.expires_at,
        )


class PartsDoneOut(ApiModel):
    envio: str
    confirmacao: str

    @classmethod
    def from_domain(cls, upload: PendingUpload) -> PartsDoneOut:
        return cls(
            envio=upload.id,
            confirmacao=f"/processos/{upload.nup}/documentos/externos/{upload.id}/confirmacao",
        )


class DownloadOut(ApiModel):
    url: str = Field(description="GET direto no armazenamento; expira em poucos minutos")
    expiraEm: datetime  # noqa: N815
    nomeArquivo: str  # noqa: N815
    tipoMidia: str  # noqa: N815
    tamanho: int
    sha256: str

    @classmethod
    def from_domain(cls, d: Download) -> DownloadOut:
        c = d.document.component
        return cls(
            url=d.url, expiraEm=d.expires_at, nomeArquivo=c.file_name, tipoMidia=c.media_type, tamanho=c.size,
            sha256=c.sha256,
        )  # fmt: skip
