"""The manifest: what a sender declares about the process it sends through the bus.

Header (addresses, NRE, urgency), the process's metadata (NUP, access, subject, interessados,
related processes, history) and its documents, each with its components (the files, identified by
SHA-256). `validate_manifest` checks every field and the national module's pre-send rules, and lists
every problem at once with its dotted path in the API's pt-BR JSON names, indexes 0-based, e.g.
"documentos.2.componentes.0.sha256" (the first component of the third document).

The types hold values as declared (codes as ints, texts as typed): validation is what turns a
declaration into something the bus accepts, and it reports values no enum could even hold.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.bus.addresses import BUS_ID_PATTERN, Address, address_problems
from chalicelib.domain.catalogs import DOCUMENT_KINDS, HISTORY_OPERATIONS, LEGAL_HYPOTHESES
from chalicelib.domain.documents import MAX_FILE_NAME, Declaration, Origin, parse_sha256
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.nup import parse_current_nup, parse_nup
from chalicelib.domain.people import parse_document
from chalicelib.domain.processes import (
    MAX_INTERESTED,
    MAX_INTERESTED_NAME,
    MAX_SPECIFICATION,
    MAX_TYPE,
    AccessLevel,
)

MAX_NAME = 150  # producers, users
MAX_UNIT = 250  # unit names in producers and history
MAX_TEXT = 250  # urgency reason, document description, signature reason
MAX_HISTORY_DESCRIPTION = 1000
MAX_NUMBER = 50  # a document's number
MAX_UNIT_ACRONYM = 30  # structures.ACRONYM_PATTERN's length
MAX_SIGNATURE_VALUE = 16 * 1024  # characters of base64
MAX_CERTIFICATE_CHAIN = 64 * 1024
MAX_COMPONENT_SIZE = 5 * 1024**4  # 5 TiB, S3's largest object
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]{0,126}$")
_ACCESS_LEVELS = "use 1 (público), 2 (restrito) ou 3 (sigiloso)"


# --- the declaration ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    sender: Address
    receiver: Address
    nre: str | None = None  # required when the process already travelled through the bus
    urgent: bool = False
    urgency_reason: str | None = None  # required when urgent, absent otherwise


@dataclass(frozen=True)
class Producer:
    """Who produced a process or document: a person or unit name, its unit, and a CPF or CNPJ."""

    name: str
    unit: str | None = None
    tax_id: str | None = None  # as typed; checked with people.parse_document


@dataclass(frozen=True)
class Interested:
    name: str
    tax_id: str | None = None  # CPF or CNPJ as typed


@dataclass(frozen=True)
class HistoryItem:
    """An andamento: when, in which unit, the national operation code ("01" to "18"), by whom."""

    at: datetime
    unit: str
    operation: str
    user: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ComponentSignature:
    """A signature carried by a component: its reason ("Assinado por ..."), when, the signature
    value (base64) and, where a digital certificate was used, its chain (base64, e.g. PKCS#7)."""

    reason: str
    signed_at: datetime
    value: str
    certificate_chain: str | None = None


@dataclass(frozen=True)
class ManifestComponent:
    order: int  # 1-based within the document
    name: str
    sha256: str  # base64 of the 32 bytes
    size: int
    media_type: str
    signatures: tuple[ComponentSignature, ...] = ()
    # A large file is uploaded in parts: their size and SHA-256s (S3 checks each part, and the object's
    # composite checksum is the hash of these). Transport only: receipts and the return path use sha256.
    part_size: int | None = None
    part_digests: tuple[str, ...] = ()

    def declaration(self) -> Declaration:
        """The file as an upload declares it (documents.parts_problems checks the parts)."""
        return Declaration(
            self.sha256, self.size, self.media_type, self.name, self.part_size, self.part_digests
        )


@dataclass(frozen=True)
class Identification:
    """How a document is cited: its number, the acronym of its producing unit, its year."""

    number: str | None = None
    unit: str | None = None
    year: int | None = None


@dataclass(frozen=True)
class ManifestDocument:
    order: int  # 1-based in the process; fixed for good
    kind: int  # espécie documental (national code)
    origin: Origin  # interno (written in the system) or externo (an uploaded file)
    access_level: int
    legal_basis: int | None
    produced_at: datetime
    registered_at: datetime
    producer: Producer
    components: tuple[ManifestComponent, ...]
    identification: Identification = field(default_factory=Identification)
    description: str | None = None

    @property
    def signed(self) -> bool:
        """Whether any of its components carries a signature."""
        return any(c.signatures for c in self.components)


@dataclass(frozen=True)
class ManifestProcess:
    nup: str  # the 17-digit NUP, with or without punctuation
    access_level: int
    legal_basis: int | None
    process_type: str
    specification: str
    produced_at: datetime
    registered_at: datetime
    producer: Producer
    interested: tuple[Interested, ...]
    related: tuple[str, ...] = ()  # NUPs, any accepted form
    history: tuple[HistoryItem, ...] = ()


@dataclass(frozen=True)
class Manifest:
    header: Header
    process: ManifestProcess
    documents: tuple[ManifestDocument, ...]

    def components(self) -> Iterator[tuple[ManifestDocument, ManifestComponent]]:
        for document in self.documents:
            for component in document.components:
                yield document, component

    @property
    def component_hashes(self) -> tuple[str, ...]:
        """Every distinct SHA-256, sorted: what the receipts are made over."""
        return tuple(sorted({c.sha256 for _, c in self.components()}))


def components_to_request(manifest: Manifest, held: Collection[str]) -> tuple[ManifestComponent, ...]:
    """The components the sender still has to upload: one per SHA-256 the bus does not hold yet
    (`held`), the first declared, in the manifest's order. The same content declared twice (two
    documents with the same file) is uploaded once."""
    seen: set[str] = set(held)
    needed: list[ManifestComponent] = []
    for _, component in manifest.components():
        if component.sha256 not in seen:
            seen.add(component.sha256)
            needed.append(component)
    return tuple(needed)


# --- validation ---------------------------------------------------------------------------------------


def validate_manifest(manifest: Manifest, known_legal_bases: Collection[int] = LEGAL_HYPOTHESES) -> None:
    """Every rule on a manifest, including the national module's pre-send checks (especificação and
    at least one interessado, at least one document, no sigiloso content, restrito only with a
    hipótese legal, no unsigned internal document). Raises InvalidInput listing every bad field."""
    problems = (
        _header_problems(manifest.header)
        + _process_problems(manifest.process, known_legal_bases)
        + _documents_problems(manifest.documents, known_legal_bases)
    )
    if problems:
        count = f"{len(problems)} problema" + ("s" if len(problems) > 1 else "")
        raise InvalidInput(
            f"O processo não pode ser enviado pelo barramento: o manifesto tem {count}. "
            "Corrija cada campo listado e envie de novo.",
            problems,
        )


def _text(
    value: str | None, path: str, limit: int, *, required: bool, multiline: bool = False
) -> list[FieldError]:
    if value is None or not value.strip():
        return [FieldError(path, "preenchimento obrigatório")] if required else []
    if len(value) > limit:
        return [FieldError(path, f"tem {len(value)} caracteres; o máximo é {limit}")]
    printable = value.replace("\n", " ") if multiline else value
    if value != value.strip() or not printable.isprintable():
        return [FieldError(path, "não pode ter espaços nas pontas nem caracteres de controle")]
    return []


def _moment(value: datetime, path: str) -> list[FieldError]:
    if value.tzinfo is None:
        return [
            FieldError(
                path, "informe data e hora com fuso horário (ISO 8601, ex.: 2026-03-01T10:00:00-03:00)"
            )
        ]
    return []


def _dates(produced: datetime, registered: datetime, path: str) -> list[FieldError]:
    problems = _moment(produced, f"{path}dataProducao") + _moment(registered, f"{path}dataRegistro")
    if not problems and registered < produced:
        problems.append(FieldError(f"{path}dataRegistro", "não pode ser anterior à data de produção"))
    return problems


def _tax_id(value: str | None, path: str) -> list[FieldError]:
    if value is None:
        return []
    try:
        parse_document(value, path)
    except InvalidInput as error:
        return error.fields
    return []


def _access_problems(
    level: int, legal_basis: int | None, path: str, what: str, known: Collection[int]
) -> list[FieldError]:
    prefix = f"{path}." if path else ""
    if level not in tuple(AccessLevel):
        return [FieldError(f"{prefix}nivelAcesso", _ACCESS_LEVELS)]
    if level == AccessLevel.SIGILOSO:
        return [
            FieldError(
                f"{prefix}nivelAcesso",
                f"{what} sigiloso (nível 3) não pode ser enviado pelo barramento; só público ou restrito",
            )
        ]
    if level == AccessLevel.PUBLICO:
        if legal_basis is not None:
            return [FieldError(f"{prefix}hipoteseLegal", f"{what} público não tem hipótese legal")]
        return []
    if legal_basis is None:
        return [FieldError(f"{prefix}hipoteseLegal", f"é obrigatória: {what} é restrito (nível 2)")]
    if legal_basis not in known:
        return [FieldError(f"{prefix}hipoteseLegal", "não está na lista nacional de hipóteses legais")]
    return []


def _producer(producer: Producer, path: str) -> list[FieldError]:
    return (
        _text(producer.name, f"{path}.nome", MAX_NAME, required=True)
        + _text(producer.unit, f"{path}.unidade", MAX_UNIT, required=False)
        + _tax_id(producer.tax_id, f"{path}.cpfCnpj")
    )


def _header_problems(header: Header) -> list[FieldError]:
    problems = address_problems(header.sender, "cabecalho.remetente") + address_problems(
        header.receiver, "cabecalho.destinatario"
    )
    if header.sender == header.receiver:
        problems.append(FieldError("cabecalho.destinatario", "deve ser diferente do remetente"))
    if header.nre is not None and not BUS_ID_PATTERN.match(header.nre):
        problems.append(
            FieldError("cabecalho.nre", "não é um NRE: use o que o barramento atribuiu ao processo")
        )
    if header.urgent:
        problems += _text(header.urgency_reason, "cabecalho.motivoUrgencia", MAX_TEXT, required=True)
    elif header.urgency_reason is not None:
        problems.append(
            FieldError("cabecalho.motivoUrgencia", "informe o motivo só quando o trâmite for urgente")
        )
    return problems


def _process_problems(process: ManifestProcess, known: Collection[int]) -> list[FieldError]:
    problems: list[FieldError] = []
    nup_digits = None
    try:
        nup_digits = parse_current_nup(process.nup, "processo.nup").digits
    except InvalidInput as error:
        problems += error.fields
    problems += _access_problems(process.access_level, process.legal_basis, "processo", "o processo", known)
    problems += _text(process.process_type, "processo.tipo", MAX_TYPE, required=True)
    problems += _text(process.specification, "processo.especificacao", MAX_SPECIFICATION, required=True)
    problems += _dates(process.produced_at, process.registered_at, "processo.")
    problems += _producer(process.producer, "processo.produtor")
    if not process.interested:
        problems.append(FieldError("processo.interessados", "informe pelo menos um interessado"))
    elif len(process.interested) > MAX_INTERESTED:
        problems.append(FieldError("processo.interessados", f"no máximo {MAX_INTERESTED} interessados"))
    for index, person in enumerate(process.interested):
        path = f"processo.interessados.{index}"
        problems += _text(person.name, f"{path}.nome", MAX_INTERESTED_NAME, required=True)
        problems += _tax_id(person.tax_id, f"{path}.cpfCnpj")
    seen: set[str] = set()
    for index, related in enumerate(process.related):
        path = f"processo.relacionados.{index}"
        try:
            digits = parse_nup(related, path).digits
        except InvalidInput as error:
            problems += error.fields
            continue
        if digits == nup_digits:
            problems.append(FieldError(path, "um processo não se relaciona consigo mesmo"))
        elif digits in seen:
            problems.append(FieldError(path, "processo relacionado repetido"))
        seen.add(digits)
    for index, item in enumerate(process.history):
        path = f"processo.historico.{index}"
        problems += _moment(item.at, f"{path}.data")
        problems += _text(item.unit, f"{path}.unidade", MAX_UNIT, required=True)
        if item.operation not in HISTORY_OPERATIONS:
            problems.append(
                FieldError(f"{path}.operacao", "use um código da lista nacional de operações, de 01 a 18")
            )
        problems += _text(item.user, f"{path}.usuario", MAX_NAME, required=False)
        problems += _text(
            item.description, f"{path}.descricao", MAX_HISTORY_DESCRIPTION, required=False, multiline=True
        )
    return problems


def _documents_problems(documents: tuple[ManifestDocument, ...], known: Collection[int]) -> list[FieldError]:
    if not documents:
        return [FieldError("documentos", "informe pelo menos um documento: um processo vazio não é enviado")]
    problems: list[FieldError] = []
    sizes: dict[str, tuple[int, str]] = {}  # sha256 -> (size, path of its first declaration)
    for index, document in enumerate(documents):
        path = f"documentos.{index}"
        if document.order != index + 1:
            problems.append(
                FieldError(
                    f"{path}.ordem",
                    f"deve ser {index + 1}: os documentos vêm pela ordem, de 1 em diante, sem lacunas nem "
                    "repetições, e a ordem de um documento nunca muda",
                )
            )
        if document.kind not in DOCUMENT_KINDS:
            problems.append(
                FieldError(
                    f"{path}.especie", "use um código da lista nacional de espécies: 1 a 186, ou 999 (outra)"
                )
            )
        problems += _access_problems(document.access_level, document.legal_basis, path, "o documento", known)
        problems += _dates(document.produced_at, document.registered_at, f"{path}.")
        problems += _producer(document.producer, f"{path}.produtor")
        problems += _identification(document.identification, f"{path}.identificacao")
        problems += _text(document.description, f"{path}.descricao", MAX_TEXT, required=False)
        if document.origin is Origin.INTERNO and not document.signed:
            problems.append(
                FieldError(
                    path,
                    f"o documento {document.order} é interno e não foi assinado; assine-o (ou cancele-o) "
                    "antes de enviar o processo",
                )
            )
        problems += _components_problems(document, path, sizes)
    return problems


def _identification(identification: Identification, path: str) -> list[FieldError]:
    problems = _text(identification.number, f"{path}.numero", MAX_NUMBER, required=False)
    problems += _text(identification.unit, f"{path}.unidade", MAX_UNIT_ACRONYM, required=False)
    if identification.year is not None and not 1000 <= identification.year <= 9999:
        problems.append(FieldError(f"{path}.ano", "o ano tem 4 dígitos"))
    return problems


def _components_problems(
    document: ManifestDocument, path: str, sizes: dict[str, tuple[int, str]]
) -> list[FieldError]:
    if not document.components:
        return [FieldError(f"{path}.componentes", "informe pelo menos um componente digital (o arquivo)")]
    problems: list[FieldError] = []
    for index, component in enumerate(document.components):
        where = f"{path}.componentes.{index}"
        if component.order != index + 1:
            problems.append(
                FieldError(
                    f"{where}.ordem", f"deve ser {index + 1}: os componentes vêm pela ordem, de 1 em diante"
                )
            )
        problems += _text(component.name, f"{where}.nomeArquivo", MAX_FILE_NAME, required=True)
        if any(c in component.name for c in '/\\"'):
            problems.append(FieldError(f"{where}.nomeArquivo", "não pode ter barras nem aspas"))
        if not 1 <= component.size <= MAX_COMPONENT_SIZE:
            problems.append(FieldError(f"{where}.tamanho", f"deve ser de 1 a {MAX_COMPONENT_SIZE} bytes"))
        if not _MEDIA_TYPE.match(component.media_type):
            problems.append(FieldError(f"{where}.tipoMidia", "use um tipo MIME, ex.: application/pdf"))
        try:
            parse_sha256(component.sha256, f"{where}.sha256")
        except InvalidInput as error:
            problems += error.fields
        else:
            first = sizes.setdefault(component.sha256, (component.size, where))
            if first[0] != component.size:
                problems.append(
                    FieldError(
                        f"{where}.tamanho",
                        f"o mesmo SHA-256 foi declarado com {first[0]} bytes em {first[1]}: o mesmo "
                        "conteúdo tem sempre o mesmo tamanho",
                    )
                )
        for number, signature in enumerate(component.signatures):
            problems += _signature_problems(signature, f"{where}.assinaturas.{number}")
    return problems


def _base64(value: str, path: str, limit: int, *, required: bool) -> list[FieldError]:
    if not value:
        return [FieldError(path, "preenchimento obrigatório")] if required else []
    if len(value) > limit:
        return [FieldError(path, f"tem {len(value)} caracteres; o máximo é {limit}")]
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return [FieldError(path, "use base64 padrão")]
    return []


def _signature_problems(signature: ComponentSignature, path: str) -> list[FieldError]:
    return (
        _text(signature.reason, f"{path}.razao", MAX_TEXT, required=True)
        + _moment(signature.signed_at, f"{path}.dataHora")
        + _base64(signature.value, f"{path}.valor", MAX_SIGNATURE_VALUE, required=True)
        + _base64(signature.certificate_chain or "", f"{path}.cadeiaCertificado", MAX_CERTIFICATE_CHAIN,
                  required=False)
    )  # fmt: skip
