"""API models of the processes pillar (pydantic), with their conversions at the edge."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from chalicelib.api.models import ApiModel, StructureId
from chalicelib.domain.catalogs import LEGAL_HYPOTHESES, history_operation
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.history import ChainCheck, HistoryEntry
from chalicelib.domain.nup import parse_current_nup
from chalicelib.domain.people import TaxId, parse_document
from chalicelib.domain.processes import AccessLevel, Interested, Metadata, OpenUnit, Process
from chalicelib.services.ports import InboxItem

Text100 = Annotated[str, Field(min_length=1, max_length=100)]
NupText = Annotated[str, Field(min_length=13, max_length=30, description="NUP, com ou sem máscara")]


class InterestedIn(ApiModel):
    nome: Annotated[str, Field(min_length=1, max_length=150)]
    documento: Annotated[str, Field(max_length=20, description="CPF ou CNPJ, com ou sem máscara")] | None = (
        None
    )

    def tax_id(self, index: int) -> TaxId | None:
        """The CPF or CNPJ, checked; InvalidInput names `interessados.<index>.documento`."""
        return parse_document(self.documento, f"interessados.{index}.documento") if self.documento else None


class MetadataIn(ApiModel):
    tipo: Text100 = Field(description="Tipo de processo")
    especificacao: Text100
    interessados: Annotated[list[InterestedIn], Field(min_length=1, max_length=100)]
    nivelAcesso: Literal[1, 2, 3] = Field(description="1 público, 2 restrito, 3 sigiloso")  # noqa: N815
    hipoteseLegal: int | None = Field(default=None, description="Obrigatória nos níveis 2 e 3")  # noqa: N815

    def to_domain(self) -> Metadata:
        interested: list[Interested] = []
        problems: list[FieldError] = []
        for index, person in enumerate(self.interessados):
            tax_id = None
            try:
                checked = person.tax_id(index)
                tax_id = checked.digits if checked else None
            except InvalidInput as error:
                problems.extend(error.fields)
            interested.append(Interested(person.nome.strip(), tax_id))
        if problems:
            raise InvalidInput("Os dados do processo são inválidos.", problems)
        return Metadata(
            process_type=self.tipo.strip(),
            specification=self.especificacao.strip(),
            interested=tuple(interested),
            access_level=AccessLevel(self.nivelAcesso),
            legal_basis=self.hipoteseLegal,
        )


class ProcessCreateIn(MetadataIn):
    unidade: StructureId = Field(description="Unidade que autua o processo")


class ProcessUpdateIn(MetadataIn):
    unidade: StructureId = Field(description="Unidade onde o processo está aberto e que faz a alteração")
    versao: int = Field(ge=1, description="A versão lida: se o processo mudou desde então, a resposta é 409")


class UnitIn(ApiModel):
    unidade: StructureId


class SendIn(ApiModel):
    unidadeOrigem: StructureId  # noqa: N815
    unidadesDestino: Annotated[list[StructureId], Field(min_length=1, max_length=20)]  # noqa: N815
    manterAberto: bool = False  # noqa: N815
    retornoProgramado: date | None = None  # noqa: N815


class RelateIn(ApiModel):
    unidade: StructureId
    processo: NupText


class SuspendIn(ApiModel):
    unidade: StructureId
    motivo: Annotated[str, Field(min_length=3, max_length=500)]


class MergeIn(ApiModel):
    unidade: StructureId
    principal: NupText = Field(description="O processo que recebe este como anexo")


def nup_digits(text: str, field: str) -> str:
    return parse_current_nup(text, field).digits


def masked(digits: str) -> str:
    return parse_current_nup(digits).masked


class InterestedOut(ApiModel):
    nome: str
    documento: str | None


class LegalBasisOut(ApiModel):
    id: int
    nome: str


class OpenUnitOut(ApiModel):
    unidade: str
    desde: datetime
    deUnidade: str | None  # noqa: N815
    retornoProgramado: date | None  # noqa: N815
    atrasado: bool

    @classmethod
    def from_domain(cls, unit: OpenUnit, today: date) -> OpenUnitOut:
        return cls(
            unidade=unit.unit_id,
            desde=unit.since,
            deUnidade=unit.from_unit_id,
            retornoProgramado=unit.return_by,
            atrasado=unit.overdue(today),
        )


class ProcessOut(ApiModel):
    nup: str
    orgaoId: str  # noqa: N815
    unidadeGeradora: str  # noqa: N815
    tipo: str
    especificacao: str
    interessados: list[InterestedOut]
    nivelAcesso: int  # noqa: N815
    nivelAcessoEfetivo: int = Field(description="O mais restritivo entre o do processo e o dos documentos")  # noqa: N815
    hipoteseLegal: LegalBasisOut | None  # noqa: N815
    estado: Literal["aberto", "concluido", "sobrestado", "anexado"]
    unidadesAbertas: list[OpenUnitOut]  # noqa: N815
    motivoSobrestamento: str | None  # noqa: N815
    anexadoA: str | None  # noqa: N815
    anexos: list[str]
    relacionados: list[str]
    criadoEm: datetime  # noqa: N815
    atualizadoEm: datetime  # noqa: N815
    nre: str | None = Field(description="O NRE do processo no barramento, desde o primeiro trâmite externo")
    bloqueadoPor: list[str] = Field(  # noqa: N815
        description="IDTs dos trâmites externos em curso: enquanto houver algum, o processo não aceita "
        "alterações"
    )
    versao: int

    @classmethod
    def from_domain(cls, p: Process, today: date) -> ProcessOut:
        """The owning agency's view: documents of interested parties are shown whole."""
        legal = LEGAL_HYPOTHESES.get(p.legal_basis) if p.legal_basis is not None else None
        return cls(
            nup=masked(p.nup),
            orgaoId=p.agency_id,
            unidadeGeradora=p.opening_unit_id,
            tipo=p.process_type,
            especificacao=p.specification,
            interessados=[
                InterestedOut(nome=i.name, documento=parse_document(i.tax_id).formatted if i.tax_id else None)
                for i in p.interested
            ],
            nivelAcesso=int(p.access_level),
            nivelAcessoEfetivo=int(p.effective_access_level),
            hipoteseLegal=LegalBasisOut(id=legal.id, nome=legal.label) if legal else None,
            estado=p.state.value,
            unidadesAbertas=[OpenUnitOut.from_domain(u, today) for u in p.open_units],
            motivoSobrestamento=p.suspension_reason,
            anexadoA=masked(p.merged_into) if p.merged_into else None,
            anexos=sorted(masked(n) for n in p.merged),
            relacionados=sorted(masked(n) for n in p.related),
            criadoEm=p.created_at,
            atualizadoEm=p.updated_at,
            nre=p.nre,
            bloqueadoPor=sorted(p.locked_by),
            versao=p.version,
        )


class PageQuery(ApiModel):
    cursor: Annotated[str, Field(max_length=2048)] | None = None
    limite: Annotated[int, Field(ge=1, le=100)] = 50


class InboxItemOut(ApiModel):
    nup: str
    tipo: str
    especificacao: str
    nivelAcessoEfetivo: int  # noqa: N815
    desde: datetime
    deUnidade: str | None  # noqa: N815
    retornoProgramado: date | None  # noqa: N815
    atrasado: bool

    @classmethod
    def from_domain(cls, item: InboxItem, today: date) -> InboxItemOut:
        unit = item.open_unit
        return cls(
            nup=masked(item.nup),
            tipo=item.process_type,
            especificacao=item.specification,
            nivelAcessoEfetivo=item.access_level,
            desde=unit.since,
            deUnidade=unit.from_unit_id,
            retornoProgramado=unit.return_by,
            atrasado=unit.overdue(today),
        )


class InboxOut(ApiModel):
    itens: list[InboxItemOut]
    cursor: str | None


class OperationOut(ApiModel):
    codigo: str
    nome: str


class HistoryEntryOut(ApiModel):
    seq: int
    em: datetime
    unidade: str
    usuario: str
    operacao: OperationOut
    descricao: str
    hashAnterior: str  # noqa: N815
    hash: str

    @classmethod
    def from_domain(cls, e: HistoryEntry) -> HistoryEntryOut:
        operation = history_operation(e.operation)
        return cls(
            seq=e.seq,
            em=e.at,
            unidade=e.unit_id,
            usuario=e.user,
            operacao=OperationOut(codigo=operation.code, nome=operation.name),
            descricao=e.description,
            hashAnterior=e.previous_hash,
            hash=e.hash,
        )


class ChainCheckOut(ApiModel):
    integro: bool
    entradas: int
    primeiraFalha: int | None  # noqa: N815
    motivo: str | None

    @classmethod
    def from_domain(cls, check: ChainCheck) -> ChainCheckOut:
        return cls(
            integro=check.intact,
            entradas=check.entries,
            primeiraFalha=check.first_broken_seq,
            motivo=check.reason or None,
        )


class HistoryOut(ApiModel):
    itens: list[HistoryEntryOut]
    cursor: str | None
    verificacao: ChainCheckOut
