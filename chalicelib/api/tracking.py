"""API models of public tracking (pydantic): the public view of a process, the search, the records
of agencies' own systems and the agencies' publication choice. Field names are short and the JSON
compact: a lookup of a process with 50 movements stays a few kilobytes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from chalicelib.api.models import ApiModel, StructureId
from chalicelib.api.processes import InterestedIn
from chalicelib.api.validation import parse_model
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.nup import NupFormat, ParsedNup, parse_nup
from chalicelib.domain.processes import AccessLevel
from chalicelib.domain.structures import normalize
from chalicelib.domain.tracking import (
    OutsideMovement,
    OutsideRecord,
    PublicDocument,
    PublicInterested,
    PublicMovement,
    PublicRecord,
    SearchHit,
    SearchQuery,
)
from chalicelib.services.tracking import SubmitResult

NupText = Annotated[str, Field(min_length=1, max_length=64, description="NUP, com ou sem máscara")]
Text = Annotated[str, Field(min_length=1, max_length=100)]


def _mask(digits: str) -> str:
    return ParsedNup(NupFormat(str(len(digits))), digits).masked


def utc_text(at: datetime) -> str:
    """UTC, ISO 8601 with Z: `2026-03-01T12:30:00Z` (seconds; the public view needs no more)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the public view -------------------------------------------------------------------------------


class OrgaoOut(ApiModel):
    id: str
    sigla: str
    nome: str


class InteressadoOut(ApiModel):
    nome: str
    documento: str | None = Field(default=None, description="CPF mascarado ou CNPJ")


class DocumentoOut(ApiModel):
    especie: str
    numero: str | None = None
    data: date


class AndamentoOut(ApiModel):
    data: str = Field(description="Data e hora em UTC (ISO 8601, com Z)")
    unidade: str = Field(description="Sigla da unidade")
    operacao: str = Field(
        description='Código da operação na tabela nacional do Protocolo Integrado ("01" a "18"); '
        "o nome de cada código está em `operacoes`"
    )


class ProcessoPublicoOut(ApiModel):
    """Only público processes show tipo, especificação, data de autuação, interessados and documents;
    restrito ones (when the agency publishes them) show the NUP, the agency and the movements."""

    nup: str = Field(description="NUP com máscara")
    orgao: OrgaoOut
    nivelAcesso: Literal[1, 2] = Field(description="1 público, 2 restrito")  # noqa: N815
    tipo: str | None = None
    especificacao: str | None = None
    dataAutuacao: date | None = None  # noqa: N815
    interessados: list[InteressadoOut] | None = None
    documentos: list[DocumentoOut] | None = None
    andamentos: list[AndamentoOut] = Field(description="Do mais recente ao mais antigo")
    # Names once per answer, not per movement: 50 movements stay under 4 KB.
    operacoes: dict[str, str] = Field(
        description="Nome de cada código de operação que aparece em `andamentos`"
    )
    atualizadoEm: str = Field(description="Último andamento, em UTC (ISO 8601, com Z)")  # noqa: N815

    @classmethod
    def from_domain(cls, record: PublicRecord) -> ProcessoPublicoOut:
        current = record.current
        if current is None or not current.published:  # the service never hands these out
            raise ValueError("record not visible")
        movements = [
            AndamentoOut(data=utc_text(m.at), unidade=m.unit, operacao=m.operation)
            for m in reversed(record.movements)
        ]
        view: dict[str, Any] = {
            "nup": _mask(record.nup),
            "orgao": OrgaoOut(id=current.agency.id, sigla=current.agency.acronym, nome=current.agency.name),
            "nivelAcesso": 1 if current.full else 2,
            "andamentos": movements,
            "operacoes": {
                m.operation: m.operation_name for m in sorted(record.movements, key=lambda m: m.operation)
            },
            "atualizadoEm": utc_text(current.last_at),
        }
        if current.full:
            view.update(
                tipo=current.process_type,
                especificacao=current.specification,
                dataAutuacao=current.produced_on,
                interessados=[InteressadoOut(nome=i.name, documento=i.tax_id) for i in current.interested],
                documentos=[
                    DocumentoOut(especie=d.kind, numero=d.number, data=d.on) for d in current.documents
                ],
            )
        return cls(**view)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _by_code(movement: PublicMovement) -> str:
    return movement.operation


class ProcessoLookupQuery(ApiModel):
    nup: NupText


# --- search -------------------------------------------------------------------------------------


class PesquisaQuery(ApiModel):
    nome: (
        Annotated[
            str, Field(max_length=150, description="Início do nome de um interessado (3 letras ou mais)")
        ]
        | None
    ) = None
    orgao: StructureId | None = None
    tipo: (
        Annotated[str, Field(max_length=100, description="Tipo de processo, exato (sem diferenciar acentos)")]
        | None
    ) = None
    de: date | None = Field(default=None, description="Autuados a partir desta data")
    ate: date | None = Field(default=None, description="Autuados até esta data")
    cursor: Annotated[str, Field(max_length=2048)] | None = None
    limite: Annotated[int, Field(ge=1, le=50)] = 20

    def to_domain(self) -> SearchQuery:
        name = normalize(self.nome) if self.nome is not None else None
        kind = normalize(self.tipo) if self.tipo is not None else None
        return SearchQuery(
            name_prefix=name or None,
            agency_id=self.orgao,
            process_type=kind or None,
            produced_from=self.de,
            produced_to=self.ate,
        )


class PesquisaItemOut(ApiModel):
    nup: str
    orgao: OrgaoOut
    tipo: str
    especificacao: str
    dataAutuacao: date  # noqa: N815
    atualizadoEm: str  # noqa: N815

    @classmethod
    def from_domain(cls, hit: SearchHit) -> PesquisaItemOut:
        return cls(
            nup=_mask(hit.nup),
            orgao=OrgaoOut(id=hit.agency.id, sigla=hit.agency.acronym, nome=hit.agency.name),
            tipo=hit.process_type,
            especificacao=hit.specification,
            dataAutuacao=hit.produced_on,
            atualizadoEm=utc_text(hit.updated_at),
        )


class PesquisaOut(ApiModel):
    itens: list[PesquisaItemOut]
    cursor: str | None


# --- records of agencies' own systems --------------------------------------------------------------


class DocumentoIn(ApiModel):
    especie: Text
    numero: Annotated[str, Field(max_length=50)] | None = None
    data: date


class AndamentoIn(ApiModel):
    id: Annotated[
        str,
        Field(min_length=1, max_length=100, description="Identificador do andamento no sistema de origem"),
    ]
    data: AwareDatetime = Field(description="Data e hora, com fuso (ISO 8601)")
    unidade: Text = Field(description="Sigla ou nome da unidade")
    operacao: Annotated[
        str, Field(pattern=r"^(0[1-9]|1[0-8])$", description="Código nacional da operação, 01 a 18")
    ]


class RegistroIn(ApiModel):
    """One process as an agency's own system reports it."""

    nup: NupText
    nivelAcesso: Literal[1, 2, 3] = Field(description="1 público, 2 restrito, 3 sigiloso")  # noqa: N815
    dataAutuacao: date  # noqa: N815
    tipo: Text
    especificacao: Text
    especie: Text | None = Field(default=None, description="Espécie do primeiro documento")
    interessados: Annotated[list[InterestedIn], Field(max_length=100)] = Field(default_factory=list)
    documentos: Annotated[list[DocumentoIn], Field(max_length=500)] = Field(default_factory=list)
    andamentos: Annotated[list[AndamentoIn], Field(max_length=500)] = Field(default_factory=list)

    def to_domain(self) -> OutsideRecord:
        problems: list[FieldError] = []
        try:
            nup = parse_nup(self.nup).digits
        except InvalidInput as error:
            problems.extend(error.fields)
            nup = ""
        interested: list[PublicInterested] = []
        for index, person in enumerate(self.interessados):
            tax_id = None
            try:
                checked = person.tax_id(index)
                tax_id = checked.public if checked else None  # masked on the way in
            except InvalidInput as error:
                problems.extend(error.fields)
            interested.append(PublicInterested(person.nome.strip(), tax_id))
        ids = [m.id for m in self.andamentos]
        for index, item_id in enumerate(ids):
            if ids.index(item_id) != index:
                problems.append(FieldError(f"andamentos.{index}.id", "repetido neste registro"))
        if problems:
            raise InvalidInput("O registro é inválido.", problems)
        return OutsideRecord(
            nup=nup,
            level=AccessLevel(self.nivelAcesso),
            produced_on=self.dataAutuacao,
            process_type=self.tipo.strip(),
            specification=self.especificacao.strip(),
            kind=self.especie,
            interested=tuple(interested),
            movements=tuple(
                OutsideMovement(
                    item_id=m.id, at=m.data.astimezone(UTC), unit=m.unidade.strip(), operation=m.operacao
                )
                for m in self.andamentos
            ),
            documents=tuple(PublicDocument(d.especie.strip(), d.numero, d.data) for d in self.documentos),
        )


class RegistrosIn(ApiModel):
    """Each item is validated on its own (an invalid item does not stop the others); the batch size is
    checked first: more than 100 items is refused whole (413)."""

    registros: Annotated[list[Any], Field(min_length=1, description="Até 100 registros")]

    def items(self) -> list[OutsideRecord | InvalidInput]:
        parsed: list[OutsideRecord | InvalidInput] = []
        for raw in self.registros:
            try:
                parsed.append(parse_model(RegistroIn, raw, "O registro").to_domain())
            except InvalidInput as error:
                parsed.append(error)
        return parsed


class ErroCampoOut(ApiModel):
    campo: str
    mensagem: str


class RegistroResultadoOut(ApiModel):
    indice: int
    nup: str | None
    situacao: Literal["registrado", "inalterado", "recusado"]
    erros: list[ErroCampoOut] | None = None

    @classmethod
    def from_domain(cls, result: SubmitResult) -> RegistroResultadoOut:
        return cls(
            indice=result.index,
            nup=_mask(result.nup) if result.nup else None,
            situacao=result.outcome.value,
            erros=[ErroCampoOut(campo=f.field, mensagem=f.message) for f in result.errors] or None,
        )


class RegistrosOut(ApiModel):
    registrados: int
    inalterados: int
    recusados: int
    resultados: list[RegistroResultadoOut]

    @classmethod
    def from_domain(cls, results: list[SubmitResult]) -> RegistrosOut:
        out = [RegistroResultadoOut.from_domain(r) for r in results]
        return cls(
            registrados=sum(1 for r in out if r.situacao == "registrado"),
            inalterados=sum(1 for r in out if r.situacao == "inalterado"),
            recusados=sum(1 for r in out if r.situacao == "recusado"),
            resultados=out,
        )


# --- publication --------------------------------------------------------------------------------


class PublicacaoIn(ApiModel):
    publicarRestritos: bool = Field(  # noqa: N815
        description="Publicar os processos restritos (só NUP, órgão e andamentos)"
    )


class PublicacaoOut(ApiModel):
    publicarRestritos: bool  # noqa: N815
