"""Documents of a process (the SEI pillar): ordered 1..n, each with its own access level and espécie.

A document is *internal* (HTML written through the API, sanitised here, numbered per espécie, unit and
year) or *external* (a file uploaded straight to S3 and checked before the document exists). Both keep
their content in one component identified by its SHA-256: the key in the content store is derived from
it, so the same bytes are stored once.

The process's effective access level is the most restrictive of its own and its non-cancelled
documents' (`documents_level`). Everything here is pure: no AWS, no HTTP.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import nh3
import puremagic

from chalicelib.domain.errors import (
    Conflict,
    ContentMismatch,
    FieldError,
    Gone,
    InvalidInput,
    TooLarge,
    UnsupportedType,
)
from chalicelib.domain.processes import AccessLevel, Process
from chalicelib.domain.signatures import Signature

MAX_DESCRIPTION = 250
MAX_FILE_NAME = 255
MAX_HTML_BYTES = 512 * 1024  # sanitised UTF-8 bytes; the request body itself is capped at 1 MiB
HTML_MEDIA_TYPE = "text/html"
SNIFF_BYTES = 4096  # how much of the start of a file the type sniffing reads (one ranged GET)
MAX_SIGNATURES = 100  # per document: signatures live in the document's item (DynamoDB's 400 KB)

# --- the HTML sanitiser (internal documents) -------------------------------------------------------
# Internal documents are fragments of HTML written by people through the agency's system. They are
# cleaned with nh3 (bindings to the Rust crate ammonia, an allow-list sanitiser) before they are
# hashed and stored, so what is signed later is exactly what is served. The allow-list:
#   - text structure: p, br, hr, div, span, blockquote, pre, code, h1-h6
#   - inline emphasis: strong, b, em, i, u, s, sub, sup, small, mark
#   - lists: ul, ol (start, type), li
#   - tables: table, caption, colgroup, col (span), thead, tbody, tfoot, tr, th and td (colspan, rowspan)
#   - links: a (href with http, https or mailto only; title); rel="noopener noreferrer" is added
#   - style="" on any allowed tag, keeping only the properties text-align, text-indent, text-decoration,
#     font-weight, font-style, margin-left, padding-left, width, border, border-collapse,
#     vertical-align; class="" on any allowed tag
# Everything else is dropped: the tag (its text kept) or, for script/style/iframe/object/embed/template
# and the like, the tag with its content. Comments, event handlers (on*), images (remote images leak who
# reads a document) and forms are removed.
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        *("p", "br", "hr", "div", "span", "blockquote", "pre", "code"),
        *("h1", "h2", "h3", "h4", "h5", "h6"),
        *("strong", "b", "em", "i", "u", "s", "sub", "sup", "small", "mark"),
        *("ul", "ol", "li"),
        *("table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td"),
        "a",
    }
)
ALLOWED_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "*": frozenset({"style", "class"}),
    "a": frozenset({"href", "title"}),
    "ol": frozenset({"start", "type"}),
    "col": frozenset({"span"}),
    "th": frozenset({"colspan", "rowspan"}),
    "td": frozenset({"colspan", "rowspan"}),
}
ALLOWED_URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
ALLOWED_STYLE_PROPERTIES: frozenset[str] = frozenset(
    {
        *("text-align", "text-indent", "text-decoration", "font-weight", "font-style"),
        *("margin-left", "padding-left", "width", "border", "border-collapse", "vertical-align"),
    }
)
DROPPED_WITH_CONTENT: frozenset[str] = frozenset(
    {"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math", "textarea"}
)
SANITISER_SUMMARY = (
    "HTML aceito: p, br, hr, div, span, blockquote, pre, code, h1–h6, strong, b, em, i, u, s, sub, sup, "
    "small, mark, ul, ol, li, table, caption, colgroup, col, thead, tbody, tfoot, tr, th, td e a (href "
    "http/https/mailto). Atributos: style (só text-align, text-indent, text-decoration, font-weight, "
    "font-style, margin-left, padding-left, width, border, border-collapse, vertical-align) e class em "
    "qualquer marcação; title em a; start e type em ol; span em col; colspan e rowspan em th e td. O "
    "resto é removido: scripts, estilos, iframes e afins com o conteúdo; demais marcações ficam só com o "
    "texto; comentários, eventos (on*) e imagens saem."
)

_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(ALLOWED_URL_SCHEMES),
    link_rel="noopener noreferrer",
    strip_comments=True,
    filter_style_properties=set(ALLOWED_STYLE_PROPERTIES),
)


def sanitise_html(html: str, field: str = "conteudo") -> bytes:
    """The sanitised fragment as UTF-8 bytes (what is hashed, stored and later signed)."""
    clean = _CLEANER.clean(html).strip()
    if not clean or not clean.replace("&nbsp;", "").strip():
        raise InvalidInput(
            "O conteúdo do documento está vazio depois da limpeza do HTML.",
            [FieldError(field, "informe um conteúdo com texto em HTML aceito")],
        )
    data = clean.encode("utf-8")
    if len(data) > MAX_HTML_BYTES:
        raise InvalidInput(
            "O conteúdo do documento é grande demais.",
            [FieldError(field, f"deve ter no máximo {MAX_HTML_BYTES // 1024} KiB depois da limpeza")],
        )
    return data


# --- hashes and keys ---------------------------------------------------------------------------------


def sha256_b64(data: bytes) -> str:
    """SHA-256 as the PEN and S3 write it: standard base64 of the 32 bytes (44 characters)."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def parse_sha256(value: str, field: str = "sha256") -> str:
    """A declared SHA-256 in base64 (standard alphabet, padded, 44 characters); returns it canonical."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32 or base64.b64encode(raw).decode("ascii") != value:
        raise InvalidInput(
            "O SHA-256 declarado é inválido.",
            [FieldError(field, "informe os 32 bytes do SHA-256 em base64 padrão (44 caracteres, com '=')")],
        )
    return value


def blob_key(sha256: str) -> str:
    """Content address of a component: "sha256/" + the digest in lowercase hex (no '/' or '+')."""
    return "sha256/" + base64.b64decode(sha256).hex()


def composite_sha256(part_digests: Iterable[str]) -> str:
    """S3's checksum of a multipart object uploaded with SHA-256: the SHA-256 of the concatenated part
    digests, in base64, followed by "-<number of parts>"."""
    digests = [base64.b64decode(d) for d in part_digests]
    return sha256_b64(b"".join(digests)) + f"-{len(digests)}"


# --- the values ---------------------------------------------------------------------------------------


class Origin(StrEnum):
    INTERNO = "interno"
    EXTERNO = "externo"


class Verification(StrEnum):
    """How the stored bytes were checked against the declared SHA-256.

    OBJETO: S3 reported (or, on a store with no checksums, the adapter computed) the SHA-256 of the whole
    object, equal to the declaration. PARTES: a multipart object, whose SHA-256 S3 keeps per part: every
    part was checked against its declared digest and the composite checksum matched; the whole-file
    SHA-256 is the client's computation over those same bytes (receivers re-hash components anyway).
    """

    OBJETO = "objeto"
    PARTES = "partes"


@dataclass(frozen=True)
class Component:
    """The content of a document (componente digital)."""

    sha256: str  # base64
    size: int
    media_type: str
    file_name: str
    verification: Verification = Verification.OBJETO

    @property
    def key(self) -> str:
        return blob_key(self.sha256)

    @property
    def sha256_hex(self) -> str:
        """The SHA-256 in lower-case hex, as signature records and `sha256sum` write it."""
        return base64.b64decode(self.sha256).hex()


@dataclass(frozen=True)
class Document:
    nup: str
    order: int  # 1-based, fixed for good
    origin: Origin
    kind: int  # espécie documental (national code)
    access_level: AccessLevel
    legal_basis: int | None
    unit_id: str  # the producing unit
    created_by: str
    created_at: datetime
    updated_at: datetime
    component: Component
    description: str | None = None
    number: int | None = None  # internal documents: per espécie, unit and year
    year: int | None = None
    signatures: tuple[Signature, ...] = ()  # in signing order; the content is fixed from the first
    # Set by the first signature: the document's id inside signature records (random, so a record,
    # public for every signed document, never reveals the NUP), and SEI's "código verificador" and
    # "código CRC" (from the first signature's stamp and record), the key of the public lookup.
    public_id: str | None = None
    verification_code: str | None = None
    crc: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    version: int = 0

    @property
    def signed(self) -> bool:
        return bool(self.signatures)

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    def changed(self, **changes: object) -> Document:
        return replace(self, **changes)  # type: ignore[arg-type]

    def label(self, kind_name: str) -> str:
        """How the history names it, e.g. "Ofício nº 3/2026 (documento 2)"."""
        number = f" nº {self.number}/{self.year}" if self.number is not None else ""
        return f"{kind_name}{number} (documento {self.order})"

    # --- guards ---------------------------------------------------------------------------------

    def require_editable(self) -> None:
        if self.cancelled:
            raise Conflict(f"O documento {self.order} foi cancelado e não pode ser alterado.")
        if self.origin is not Origin.INTERNO:
            raise Conflict(f"O documento {self.order} é externo: seu conteúdo é o arquivo enviado.")
        if self.signed:
            raise Conflict(f"O documento {self.order} já foi assinado e não pode mais ser alterado.")

    def require_signable(self, user: str) -> None:
        if self.cancelled:
            raise Conflict(f"O documento {self.order} foi cancelado e não pode ser assinado.")
        if any(s.user == user for s in self.signatures):
            raise Conflict(f"{user} já assinou o documento {self.order}.")
        if len(self.signatures) >= MAX_SIGNATURES:
            raise Conflict(f"O documento {self.order} já tem {MAX_SIGNATURES} assinaturas, o máximo.")

    def require_servable(self) -> None:
        if self.cancelled:
            raise Gone(f"O documento {self.order} foi cancelado; seu conteúdo não é mais disponibilizado.")


def documents_level(documents: Iterable[Document]) -> AccessLevel:
    """The most restrictive level among the documents that count (cancelled ones do not)."""
    return max((d.access_level for d in documents if not d.cancelled), default=AccessLevel.PUBLICO)


def publicly_identified(process: Process, document: Document) -> bool:
    """Whether the public authenticity answer may identify the document and its process (NUP, espécie,
    number): only when the document is público and so is the process, at its effective level (the most
    restrictive of its own and its documents'), as they are now, not as they were when signed.
    Otherwise the answer shows only what the code and CRC holder already has in hand: the signatures
    (who, as what, when), the content's SHA-256 and the stamps, never the NUP, the espécie or content."""
    return (
        document.access_level == AccessLevel.PUBLICO and process.effective_access_level == AccessLevel.PUBLICO
    )


def validate_access(
    level: AccessLevel, legal_basis: int | None, known_legal_bases: frozenset[int]
) -> list[FieldError]:
    """The same rule as for processes: a hipótese legal from the national list for levels 2 and 3,
    none for público."""
    if level == AccessLevel.PUBLICO:
        if legal_basis is not None:
            return [FieldError("hipoteseLegal", "documentos públicos não têm hipótese legal")]
        return []
    if legal_basis is None:
        return [
            FieldError("hipoteseLegal", "é obrigatória para os níveis de acesso restrito (2) e sigiloso (3)")
        ]
    if legal_basis not in known_legal_bases:
        return [FieldError("hipoteseLegal", "não está na lista nacional de hipóteses legais")]
    return []


# --- external files: limits and the declaration ---------------------------------------------------


@dataclass(frozen=True)
class FileLimits:
    """What an agency accepts for external documents."""

    max_size: int
    media_types: frozenset[str]


@dataclass(frozen=True)
class Declaration:
    """What a client says about a file before uploading it."""

    sha256: str  # base64
    size: int
    media_type: str
    file_name: str
    part_size: int | None = None  # multipart only
    part_digests: tuple[str, ...] = ()  # multipart only, base64 each

    @property
    def multipart(self) -> bool:
        return bool(self.part_digests)

    def expected_parts(self) -> int:
        if self.part_size is None:
            return 1
        return -(-self.size // self.part_size)

    def part_length(self, number: int) -> int:
        """The size of part `number` (1-based)."""
        assert self.part_size is not None  # noqa: S101
        start = (number - 1) * self.part_size
        return min(self.part_size, self.size - start)


S3_MAX_PART = 5 * 1024**3  # S3: 5 GiB per part
S3_MAX_PARTS = 10_000


def parts_problems(
    declaration: Declaration, single_upload_max: int, min_part_size: int, path: str = "partes"
) -> list[FieldError]:
    """How the declared parts break the upload rule: a file up to `single_upload_max` bytes goes in one
    request, a larger one in parts of `min_part_size` to 5 GiB (at most 10,000), each with its SHA-256.
    Fields are named under `path`."""
    limit = single_upload_max
    if declaration.size <= limit:
        if declaration.multipart or declaration.part_size is not None:
            return [FieldError(path, f"arquivos de até {limit} bytes vão num só envio, sem partes")]
        return []
    if not declaration.multipart or declaration.part_size is None:
        return [FieldError(path, f"arquivos com mais de {limit} bytes vão em partes: informe-as")]
    if not min_part_size <= declaration.part_size <= S3_MAX_PART:
        return [FieldError(f"{path}.tamanhoParte", f"deve estar entre {min_part_size} e {S3_MAX_PART} bytes")]
    expected = declaration.expected_parts()
    if expected > S3_MAX_PARTS:
        return [FieldError(f"{path}.tamanhoParte", f"divide o arquivo em mais de {S3_MAX_PARTS} partes")]
    if len(declaration.part_digests) != expected:
        return [
            FieldError(
                f"{path}.sha256",
                f"com partes de {declaration.part_size} bytes o arquivo tem {expected} partes; "
                f"foram informados {len(declaration.part_digests)} SHA-256",
            )
        ]
    problems: list[FieldError] = []
    for index, digest in enumerate(declaration.part_digests):
        try:
            parse_sha256(digest, f"{path}.sha256.{index}")
        except InvalidInput as error:
            problems.extend(error.fields)
    return problems


def check_limits(declaration: Declaration, limits: FileLimits) -> None:
    if declaration.size > limits.max_size:
        raise TooLarge(
            f"O arquivo tem {declaration.size} bytes; o órgão aceita até {limits.max_size} bytes.",
            [FieldError("tamanho", f"deve ser no máximo {limits.max_size} bytes")],
        )
    if declaration.media_type not in limits.media_types:
        accepted = ", ".join(sorted(limits.media_types))
        raise UnsupportedType(
            f"O órgão não aceita arquivos do tipo {declaration.media_type}. Tipos aceitos: {accepted}.",
            [FieldError("tipoMidia", f"use um destes tipos: {accepted}")],
        )


@dataclass(frozen=True)
class StoredObject:
    """What the content store reports about an uploaded object.

    `sha256` is the whole-object SHA-256 (base64) when the store reports one (S3 after a single PUT
    with a checksum) or computed it; `composite` is S3's "<base64>-<parts>" checksum of a multipart
    object. `head` is the first bytes of the object, for type sniffing.
    """

    size: int
    head: bytes
    sha256: str | None = None
    composite: str | None = None


def sniff_media_types(head: bytes) -> frozenset[str]:
    """The MIME types the magic numbers at the start of a file point to (the best matches, ties kept);
    empty when nothing is recognised."""
    if not head:
        return frozenset()
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return frozenset()
    typed = [m for m in matches if m.mime_type]
    if not typed:
        return frozenset()
    best = max(m.confidence for m in typed)
    return frozenset(m.mime_type for m in typed if m.confidence == best)


def verify_stored(declaration: Declaration, stored: StoredObject) -> Verification:
    """Checks the stored object against the declaration; raises ContentMismatch naming what differs."""
    if stored.size != declaration.size:
        raise ContentMismatch(
            f"O arquivo armazenado tem {stored.size} bytes, mas foram declarados {declaration.size}. "
            "Envie o arquivo de novo.",
            [FieldError("tamanho", "não confere com o arquivo enviado")],
        )
    if stored.sha256 is not None:
        if stored.sha256 != declaration.sha256:
            raise ContentMismatch(
                "O SHA-256 do arquivo armazenado não confere com o declarado. Envie o arquivo de novo.",
                [FieldError("sha256", "não confere com o arquivo enviado")],
            )
        verification = Verification.OBJETO
    elif stored.composite is not None and declaration.multipart:
        if stored.composite != composite_sha256(declaration.part_digests):
            raise ContentMismatch(
                "As partes armazenadas não conferem com os SHA-256 declarados. Envie o arquivo de novo.",
                [FieldError("partes", "não conferem com o arquivo enviado")],
            )
        verification = Verification.PARTES
    else:
        raise ContentMismatch(
            "O armazenamento não informou o SHA-256 do arquivo, então ele não pode ser conferido.",
            [FieldError("sha256", "não pôde ser conferido")],
        )
    sniffed = sniff_media_types(stored.head)
    if declaration.media_type not in sniffed:
        seen = ", ".join(sorted(sniffed)) or "não reconhecido"
        raise ContentMismatch(
            f"O conteúdo do arquivo não é do tipo declarado ({declaration.media_type}); "
            f"pelos primeiros bytes ele é: {seen}.",
            [FieldError("tipoMidia", "não confere com o conteúdo do arquivo")],
        )
    return verification
