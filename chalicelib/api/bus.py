"""API models of the bus (scope `barramento`), pt-BR names mirroring the manifest's field paths
(e.g. documentos.0.componentes.0.sha256). Types are loose on purpose where the domain reports the
problem better (validate_manifest lists every bad field with its path)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from chalicelib.api.models import ApiModel, StructureId
from chalicelib.domain.bus import (
    Address,
    ComponentSignature,
    Header,
    HistoryItem,
    Identification,
    Interested,
    Manifest,
    ManifestComponent,
    ManifestDocument,
    ManifestProcess,
    Pendency,
    Producer,
    ReceiptRecord,
    ReceiverSignature,
    Refusal,
    Tramite,
    parse_refusal,
)
from chalicelib.domain.documents import FileLimits, Origin
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.hosting import HostingProfile
from chalicelib.domain.signatures import JsonValue, Stamp
from chalicelib.services.bus import (
    MAX_RECEIVERS,
    MAX_WAIT,
    ComponentDownload,
    ComponentUpload,
    Sent,
    TramiteView,
)
from chalicelib.services.ports import PresignedRequest
from chalicelib.services.tramite_records import SendReceipt

Text = Annotated[str, Field(max_length=100_000)]


class EnderecoIn(ApiModel):
    repositorio: str = Field(max_length=20, description="Id do repositório de estruturas")
    estrutura: str = Field(max_length=20, description="Id da estrutura no repositório")

    def to_domain(self) -> Address:
        return Address(self.repositorio, self.estrutura)

    @classmethod
    def from_domain(cls, a: Address) -> EnderecoIn:
        return cls(repositorio=a.repository, estrutura=a.structure_id)


class CabecalhoIn(ApiModel):
    remetente: EnderecoIn
    destinatario: EnderecoIn | None = Field(default=None, description="Um destinatário; ou use destinatarios")
    destinatarios: list[EnderecoIn] | None = Field(
        default=None,
        max_length=MAX_RECEIVERS,
        description="Vários destinatários: um trâmite para cada um, todos com o mesmo NRE",
    )
    nre: str | None = Field(default=None, max_length=100, description="Obrigatório se o processo já tramitou")
    urgente: bool = False
    motivoUrgencia: Text | None = None  # noqa: N815


class ProdutorIn(ApiModel):
    nome: Text
    unidade: Text | None = None
    cpfCnpj: str | None = Field(default=None, max_length=30)  # noqa: N815

    def to_domain(self) -> Producer:
        return Producer(self.nome, self.unidade, self.cpfCnpj)

    @classmethod
    def from_domain(cls, p: Producer) -> ProdutorIn:
        return cls(nome=p.name, unidade=p.unit, cpfCnpj=p.tax_id)


class InteressadoIn(ApiModel):
    nome: Text
    cpfCnpj: str | None = Field(default=None, max_length=30)  # noqa: N815


class AndamentoIn(ApiModel):
    data: datetime
    unidade: Text
    operacao: str = Field(max_length=10, description="Código nacional da operação, 01 a 18")
    usuario: Text | None = None
    descricao: Text | None = None


class AssinaturaIn(ApiModel):
    razao: Text
    dataHora: datetime  # noqa: N815
    valor: str = Field(max_length=20_000, description="Valor da assinatura, base64")
    cadeiaCertificado: str | None = Field(default=None, max_length=80_000)  # noqa: N815


class PartesIn(ApiModel):
    tamanhoParte: int = Field(ge=1, description="Bytes de cada parte (a última pode ser menor)")  # noqa: N815
    sha256: list[Annotated[str, Field(max_length=100)]] = Field(
        max_length=10_000, description="Uma por parte"
    )


class ComponenteIn(ApiModel):
    ordem: int = Field(ge=0, le=1_000_000)
    nomeArquivo: Text  # noqa: N815
    sha256: str = Field(max_length=100, description="SHA-256 do arquivo em base64 padrão (44 caracteres)")
    tamanho: int = Field(ge=0, description="Bytes")
    tipoMidia: str = Field(max_length=300)  # noqa: N815
    assinaturas: list[AssinaturaIn] = Field(default_factory=list, max_length=100)
    partes: PartesIn | None = Field(
        default=None,
        description="Obrigatório acima do limite de envio único (100 MiB): o envio vai em partes",
    )

    @classmethod
    def from_domain(cls, c: ManifestComponent) -> ComponenteIn:
        return cls(
            ordem=c.order,
            nomeArquivo=c.name,
            sha256=c.sha256,
            tamanho=c.size,
            tipoMidia=c.media_type,
            assinaturas=[
                AssinaturaIn(
                    razao=a.reason, dataHora=a.signed_at, valor=a.value, cadeiaCertificado=a.certificate_chain
                )
                for a in c.signatures
            ],
            partes=(
                PartesIn(tamanhoParte=c.part_size, sha256=list(c.part_digests))
                if c.part_size is not None
                else None
            ),
        )

    def to_domain(self) -> ManifestComponent:
        return ManifestComponent(
            order=self.ordem,
            name=self.nomeArquivo,
            sha256=self.sha256,
            size=self.tamanho,
            media_type=self.tipoMidia,
            signatures=tuple(
                ComponentSignature(a.razao, a.dataHora, a.valor, a.cadeiaCertificado)
                for a in self.assinaturas
            ),
            part_size=self.partes.tamanhoParte if self.partes else None,
            part_digests=tuple(self.partes.sha256) if self.partes else (),
        )


class IdentificacaoIn(ApiModel):
    numero: str | None = Field(default=None, max_length=1000)
    unidade: str | None = Field(default=None, max_length=1000)
    ano: int | None = None


class DocumentoIn(ApiModel):
    ordem: int = Field(ge=0, le=1_000_000)
    especie: int
    origem: Origin
    nivelAcesso: int  # noqa: N815
    hipoteseLegal: int | None = None  # noqa: N815
    dataProducao: datetime  # noqa: N815
    dataRegistro: datetime  # noqa: N815
    produtor: ProdutorIn
    componentes: list[ComponenteIn] = Field(max_length=1000)
    identificacao: IdentificacaoIn = Field(default_factory=IdentificacaoIn)
    descricao: Text | None = None

    @classmethod
    def from_domain(cls, d: ManifestDocument) -> DocumentoIn:
        i = d.identification
        return cls(
            ordem=d.order,
            especie=d.kind,
            origem=d.origin,
            nivelAcesso=d.access_level,
            hipoteseLegal=d.legal_basis,
            dataProducao=d.produced_at,
            dataRegistro=d.registered_at,
            produtor=ProdutorIn.from_domain(d.producer),
            componentes=[ComponenteIn.from_domain(c) for c in d.components],
            identificacao=IdentificacaoIn(numero=i.number, unidade=i.unit, ano=i.year),
            descricao=d.description,
        )

    def to_domain(self) -> ManifestDocument:
        ident = self.identificacao
        return ManifestDocument(
            order=self.ordem,
            kind=self.especie,
            origin=self.origem,
            access_level=self.nivelAcesso,
            legal_basis=self.hipoteseLegal,
            produced_at=self.dataProducao,
            registered_at=self.dataRegistro,
            producer=self.produtor.to_domain(),
            components=tuple(c.to_domain() for c in self.componentes),
            identification=Identification(ident.numero, ident.unidade, ident.ano),
            description=self.descricao,
        )


class ProcessoIn(ApiModel):
    nup: str = Field(max_length=30)
    nivelAcesso: int  # noqa: N815
    hipoteseLegal: int | None = None  # noqa: N815
    tipo: Text
    especificacao: Text
    dataProducao: datetime  # noqa: N815
    dataRegistro: datetime  # noqa: N815
    produtor: ProdutorIn
    interessados: list[InteressadoIn] = Field(default_factory=list, max_length=1000)
    relacionados: list[Annotated[str, Field(max_length=30)]] = Field(default_factory=list, max_length=1000)
    historico: list[AndamentoIn] = Field(default_factory=list, max_length=10_000)

    @classmethod
    def from_domain(cls, p: ManifestProcess) -> ProcessoIn:
        return cls(
            nup=p.nup,
            nivelAcesso=p.access_level,
            hipoteseLegal=p.legal_basis,
            tipo=p.process_type,
            especificacao=p.specification,
            dataProducao=p.produced_at,
            dataRegistro=p.registered_at,
            produtor=ProdutorIn.from_domain(p.producer),
            interessados=[InteressadoIn(nome=i.name, cpfCnpj=i.tax_id) for i in p.interested],
            relacionados=list(p.related),
            historico=[
                AndamentoIn(
                    data=h.at, unidade=h.unit, operacao=h.operation, usuario=h.user, descricao=h.description
                )
                for h in p.history
            ],
        )

    def to_domain(self) -> ManifestProcess:
        return ManifestProcess(
            nup=self.nup,
            access_level=self.nivelAcesso,
            legal_basis=self.hipoteseLegal,
            process_type=self.tipo,
            specification=self.especificacao,
            produced_at=self.dataProducao,
            registered_at=self.dataRegistro,
            producer=self.produtor.to_domain(),
            interested=tuple(Interested(i.nome, i.cpfCnpj) for i in self.interessados),
            related=tuple(self.relacionados),
            history=tuple(
                HistoryItem(h.data, h.unidade, h.operacao, h.usuario, h.descricao) for h in self.historico
            ),
        )


class ManifestoIn(ApiModel):
    """O envio de um processo pelo barramento: cabeçalho (endereços, NRE, urgência), metadados do processo e
    seus documentos, cada um com seus componentes digitais identificados pelo SHA-256."""

    cabecalho: CabecalhoIn
    processo: ProcessoIn
    documentos: list[DocumentoIn] = Field(max_length=10_000)

    def receivers(self) -> tuple[Address, ...]:
        """Every receiver named: `destinatario` or `destinatarios`, exactly one of them."""
        c = self.cabecalho
        if (c.destinatario is None) == (c.destinatarios is None) or c.destinatarios == []:
            raise InvalidInput(
                "Informe o destinatário.",
                [FieldError("cabecalho.destinatario", "informe destinatario ou destinatarios (não ambos)")],
            )
        named = [c.destinatario] if c.destinatario else c.destinatarios or []
        return tuple(e.to_domain() for e in named)

    def to_domain(self) -> Manifest:
        c = self.cabecalho
        return Manifest(
            header=Header(c.remetente.to_domain(), self.receivers()[0], c.nre, c.urgente, c.motivoUrgencia),
            process=self.processo.to_domain(),
            documents=tuple(d.to_domain() for d in self.documentos),
        )

    @classmethod
    def from_domain(cls, m: Manifest) -> ManifestoIn:
        h = m.header
        return cls(
            cabecalho=CabecalhoIn(
                remetente=EnderecoIn.from_domain(h.sender),
                destinatario=EnderecoIn.from_domain(h.receiver),
                nre=h.nre,
                urgente=h.urgent,
                motivoUrgencia=h.urgency_reason,
            ),
            processo=ProcessoIn.from_domain(m.process),
            documentos=[DocumentoIn.from_domain(d) for d in m.documents],
        )


class ManifestJson:
    """The bus's wire form of a manifest (the ManifestoIn schema), for the services: the manifest is
    stored and handed to receivers in the form senders write it."""

    def to_json(self, manifest: Manifest) -> JsonValue:
        data: JsonValue = ManifestoIn.from_domain(manifest).model_dump(mode="json", exclude_none=True)
        return data

    def from_json(self, data: JsonValue) -> Manifest:
        return ManifestoIn.model_validate(data).to_domain()


class RequisicaoOut(ApiModel):
    metodo: str
    url: str
    cabecalhos: dict[str, str]

    @classmethod
    def from_domain(cls, request: PresignedRequest) -> RequisicaoOut:
        return cls(metodo=request.method, url=request.url, cabecalhos=request.headers)


class ComponentePedidoOut(ApiModel):
    """Um componente que falta: um envio único, ou (acima do limite) um envio por parte, na ordem; a
    confirmação de custódia junta as partes."""

    sha256: str
    tamanho: int
    tipoMidia: str  # noqa: N815
    envioUnico: RequisicaoOut | None  # noqa: N815
    partes: list[RequisicaoOut] | None = None

    @classmethod
    def from_domain(cls, item: ComponentUpload) -> ComponentePedidoOut:
        c = item.component
        return cls(
            sha256=c.sha256,
            tamanho=c.size,
            tipoMidia=c.media_type,
            envioUnico=RequisicaoOut.from_domain(item.upload) if item.upload else None,
            partes=[RequisicaoOut.from_domain(p) for p in item.parts] if item.parts else None,
        )


class ComponentesPendentesOut(ApiModel):
    componentesPendentes: list[ComponentePedidoOut]  # noqa: N815


class MudancaEstadoOut(ApiModel):
    estado: int
    descricao: str
    data: datetime
    orgao: str = Field(description='Órgão que fez a mudança ("barramento" para o próprio barramento)')
    cliente: str = Field(description="Sistema cliente do órgão que fez a mudança")
    detalhe: str


class RecusaOut(ApiModel):
    motivo: str
    descricao: str
    justificativa: str | None = None

    @classmethod
    def from_domain(cls, refusal: Refusal) -> RecusaOut:
        return cls(
            motivo=refusal.reason.value, descricao=refusal.reason.label, justificativa=refusal.justification
        )


class TramiteOut(ApiModel):
    idt: str
    nre: str
    nup: str
    estado: int
    descricaoEstado: str  # noqa: N815
    remetente: EnderecoIn
    destinatario: EnderecoIn
    orgaoRemetente: str  # noqa: N815
    orgaoDestinatario: str  # noqa: N815
    historico: list[MudancaEstadoOut]
    recusa: RecusaOut | None = None

    @classmethod
    def from_domain(cls, t: Tramite) -> TramiteOut:
        return cls(
            idt=t.idt,
            nre=t.nre,
            nup=t.nup,
            estado=int(t.state),
            descricaoEstado=t.state.label,
            remetente=EnderecoIn(repositorio=t.sender.repository, estrutura=t.sender.structure_id),
            destinatario=EnderecoIn(repositorio=t.receiver.repository, estrutura=t.receiver.structure_id),
            orgaoRemetente=t.sender_agency_id,
            orgaoDestinatario=t.receiver_agency_id,
            recusa=RecusaOut.from_domain(t.refusal) if t.refusal else None,
            historico=[
                MudancaEstadoOut(
                    estado=int(c.state),
                    descricao=c.state.label,
                    data=c.at,
                    orgao=c.by.agency_id,
                    cliente=c.by.client_id,
                    detalhe=c.detail,
                )
                for c in t.history
            ],
        )


class EnvioOut(ApiModel):
    tramites: list[TramiteOut] = Field(description="Um trâmite por destinatário, na ordem informada")
    manifestoSha256: str  # noqa: N815
    componentesPendentes: list[ComponentePedidoOut] = Field(  # noqa: N815
        description="Componentes que o barramento ainda não tem: envie cada um uma vez (servem a todos os "
        "trâmites deste envio)"
    )
    confirmacoes: list[str] = Field(
        description="Onde confirmar cada trâmite, depois de enviar os componentes"
    )

    @classmethod
    def from_domain(cls, sent: Sent) -> EnvioOut:
        return cls(
            tramites=[TramiteOut.from_domain(t) for t in sent.tramites],
            manifestoSha256=sent.manifest_sha256,
            componentesPendentes=[ComponentePedidoOut.from_domain(u) for u in sent.uploads],
            confirmacoes=[f"/barramento/tramites/{t.idt}/componentes/confirmacao" for t in sent.tramites],
        )


class CarimboOut(ApiModel):
    """O carimbo da plataforma: ECDSA P-256 com SHA-256 (assinatura DER em base64) sobre os bytes de
    `registro`; a chave pública está em /publico/chaves."""

    algoritmo: str
    chave: str
    assinatura: str
    data: datetime

    @classmethod
    def from_domain(cls, s: Stamp) -> CarimboOut:
        return cls(algoritmo=s.algorithm, chave=s.key_id, assinatura=s.signature, data=s.stamped_at)


class ReciboEnvioOut(ApiModel):
    """O recibo de envio: `registro` é o base64 dos bytes exatos carimbados (JSON canônico, RFC 8785)."""

    registro: str
    conteudo: dict[str, Any]
    carimbo: CarimboOut

    @classmethod
    def from_domain(cls, receipt: SendReceipt) -> ReciboEnvioOut:
        return cls(
            registro=base64.b64encode(receipt.canonical).decode("ascii"),
            conteudo=dict(receipt.record.to_dict()),
            carimbo=CarimboOut.from_domain(receipt.stamp),
        )


class ReciboConclusaoOut(ApiModel):
    """O recibo de conclusão: `registro` é o base64 dos bytes exatos carimbados (JSON canônico, RFC 8785):
    IDT, NRE, data, remetente, destinatário e os SHA-256 dos componentes, em ordem."""

    registro: str
    conteudo: dict[str, Any]
    carimbo: CarimboOut


class TramiteReciboOut(ApiModel):
    tramite: TramiteOut
    recibo: ReciboConclusaoOut

    @classmethod
    def from_domain(cls, t: Tramite) -> TramiteReciboOut:
        receipt = t.receipt
        if receipt is None:  # the service answers only with a trâmite that has one
            raise ValueError("the trâmite has no recibo de conclusão")
        return cls(
            tramite=TramiteOut.from_domain(t),
            recibo=ReciboConclusaoOut(
                registro=base64.b64encode(receipt.canonical).decode("ascii"),
                conteudo=ReceiptRecord.from_canonical(receipt.canonical).to_dict(),
                carimbo=CarimboOut.from_domain(receipt.stamp),
            ),
        )


class TramiteSimplesOut(ApiModel):
    tramite: TramiteOut


class RecusaIn(ApiModel):
    motivo: str = Field(
        max_length=2,
        description="01 formato não suportado, 02 componente corrompido, 03 falta de componentes, "
        "04 espécie documental não mapeada, 99 outro (justificativa obrigatória)",
    )
    justificativa: str | None = Field(default=None, max_length=2000, description="Até 1000 caracteres")

    def to_domain(self) -> Refusal:
        return parse_refusal(self.motivo, self.justificativa)


class ComponenteQuery(ApiModel):
    sha256: str = Field(
        max_length=100, description="SHA-256 do componente, base64 padrão (como no manifesto)"
    )


class DownloadOut(ApiModel):
    sha256: str
    tamanho: int
    download: RequisicaoOut
    expiraEmSegundos: int  # noqa: N815
    tramite: TramiteOut

    @classmethod
    def from_domain(cls, d: ComponentDownload) -> DownloadOut:
        return cls(
            sha256=d.sha256,
            tamanho=d.size,
            download=RequisicaoOut(metodo="GET", url=d.url, cabecalhos={}),
            expiraEmSegundos=d.expires_in,
            tramite=TramiteOut.from_domain(d.tramite),
        )


class TramitesQuery(ApiModel):
    idt: str | None = Field(default=None, max_length=64)
    nre: str | None = Field(default=None, max_length=64)
    nup: str | None = Field(default=None, max_length=30)
    cursor: str | None = Field(default=None, max_length=2000)
    limite: int = Field(default=50, ge=1, le=100)


class TramitesOut(ApiModel):
    itens: list[TramiteOut]
    cursor: str | None = None


class CustodiaOut(ApiModel):
    tramite: TramiteOut
    reciboEnvio: ReciboEnvioOut  # noqa: N815


class TramiteDetalheOut(ApiModel):
    tramite: TramiteOut
    manifestoSha256: str  # noqa: N815
    manifesto: dict[str, Any]
    reciboEnvio: ReciboEnvioOut | None = None  # noqa: N815

    @classmethod
    def from_domain(cls, view: TramiteView) -> TramiteDetalheOut:
        manifest = view.manifest
        return cls(
            tramite=TramiteOut.from_domain(view.tramite),
            manifestoSha256=view.manifest_sha256,
            manifesto=dict(manifest) if isinstance(manifest, dict) else {},
            reciboEnvio=ReciboEnvioOut.from_domain(view.receipt) if view.receipt else None,
        )


class PendenciasQuery(ApiModel):
    cursor: str | None = Field(default=None, max_length=2000)
    limite: int = Field(default=50, ge=1, le=100)
    espera: int = Field(
        default=0,
        ge=0,
        le=MAX_WAIT,
        description="Segundos a esperar por uma pendência quando não há nenhuma (long-poll)",
    )


class PendenciaOut(ApiModel):
    idt: str
    nre: str
    estado: int
    papel: str
    acoes: list[str]
    desde: datetime

    @classmethod
    def from_domain(cls, p: Pendency) -> PendenciaOut:
        return cls(
            idt=p.idt,
            nre=p.nre,
            estado=int(p.state),
            papel=p.role.value,
            acoes=[str(a.value) for a in p.actions],
            desde=p.since,
        )


class PendenciasOut(ApiModel):
    itens: list[PendenciaOut]
    cursor: str | None = None


# --- hosted agencies: sending from the processes service, reception rules ---------------------------------


class EnvioProcessoIn(ApiModel):
    """O envio de um processo do seu órgão (hospedado nesta plataforma) pelo barramento: o manifesto é
    montado a partir do processo, e os arquivos já estão no barramento (nada a enviar)."""

    unidade: StructureId = Field(description="Unidade remetente: o processo precisa estar aberto nela")
    destinatarios: list[EnderecoIn] = Field(min_length=1, max_length=MAX_RECEIVERS)
    urgente: bool = False
    motivoUrgencia: Text | None = None  # noqa: N815

    def receivers(self) -> tuple[Address, ...]:
        return tuple(e.to_domain() for e in self.destinatarios)


class TramitesEnviadosOut(ApiModel):
    tramites: list[TramiteOut] = Field(description="Um trâmite por destinatário, já no estado 2 (custódia)")


class RecebimentoIn(ApiModel):
    especies: list[int] | None = Field(
        default=None,
        max_length=200,
        description="Espécies documentais aceitas pelo barramento (códigos nacionais); omita para aceitar "
        "todas",
    )


class RecebimentoOut(ApiModel):
    """Como o órgão recebe pelo barramento. Hospedado: a plataforma importa os processos recebidos e
    recusa, com o motivo nacional, os que fogem destas regras."""

    orgaoId: str  # noqa: N815
    hospedado: bool
    especies: list[int] | None
    tamanhoMaximo: int  # noqa: N815
    tiposMidia: list[str]  # noqa: N815

    @classmethod
    def from_domain(cls, profile: HostingProfile, limits: FileLimits) -> RecebimentoOut:
        return cls(
            orgaoId=profile.agency_id,
            hospedado=profile.hosted,
            especies=sorted(profile.kinds) if profile.kinds is not None else None,
            tamanhoMaximo=limits.max_size,
            tiposMidia=sorted(limits.media_types),
        )


# --- the receiver's own signature on the recibo de conclusão ----------------------------------------------


class AssinaturaDestinatarioIn(ApiModel):
    chave: str = Field(max_length=64, description="Id da chave registrada em /orgaos/{orgaoId}/chaves")
    valor: str = Field(
        max_length=2000, description="Assinatura SHA-256 (base64) dos bytes de GET .../recibo/declaracao"
    )


class ReciboIn(ApiModel):
    assinatura: AssinaturaDestinatarioIn | None = Field(
        default=None,
        description="Opcional: a assinatura do próprio destinatário, que o recibo passa a conter",
    )

    def signature(self) -> ReceiverSignature | None:
        a = self.assinatura
        return ReceiverSignature(a.chave, a.valor) if a else None


class DeclaracaoReciboOut(ApiModel):
    """O que o destinatário assina para pôr a sua assinatura no recibo: `registro` é o base64 dos bytes
    exatos (JSON canônico, RFC 8785). Ex.: openssl dgst -sha256 -sign chave.pem declaracao.json | base64"""

    registro: str
    conteudo: dict[str, Any]

    @classmethod
    def from_bytes(cls, data: bytes) -> DeclaracaoReciboOut:
        return cls(registro=base64.b64encode(data).decode("ascii"), conteudo=json.loads(data))
