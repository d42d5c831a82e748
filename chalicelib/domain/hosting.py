"""Agencies hosted on this platform, and what each accepts through the bus.

A hosted agency's people work in our processes service; a trâmite addressed to it is imported by the
platform itself (no system of theirs polls the bus), so the platform applies the agency's reception
rules for it: the file limits it applies to its own documents (size, media types) and, optionally,
the espécies documentais it accepts. A manifest that breaks them is refused with the national motivo
that names the problem, and a justificativa listing the documents concerned.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.bus.manifest import Manifest
from chalicelib.domain.bus.refusal import MAX_JUSTIFICATION, Refusal, RefusalReason
from chalicelib.domain.catalogs import DOCUMENT_KINDS
from chalicelib.domain.documents import FileLimits


@dataclass(frozen=True)
class HostingProfile:
    """`hosted`: the platform runs this agency's processes. `kinds`: the espécies it accepts from
    other agencies (None: every espécie of the national list)."""

    agency_id: str
    hosted: bool = False
    kinds: frozenset[int] | None = None


def _kind_name(kind: int) -> str:
    found = DOCUMENT_KINDS.get(kind)
    return f"{kind} ({found.name})" if found else str(kind)


def _justification(lead: str, items: list[str]) -> str:
    """`lead` and as many items as fit in the national 1000-character limit, then how many more."""

    def text(shown: list[str]) -> str:
        rest = len(items) - len(shown)
        more = f"e mais {rest}" if rest else ""
        return f"{lead} {'; '.join([*shown, more] if shown and more else shown or [more])}."

    shown: list[str] = []
    for item in items:
        if len(text([*shown, item])) > MAX_JUSTIFICATION:
            break
        shown.append(item)
    return text(shown)


def reception_refusal(profile: HostingProfile, limits: FileLimits, manifest: Manifest) -> Refusal | None:
    """The refusal the receiving agency's rules call for, or None when it accepts the process.
    Checked in this order, the first broken rule giving the motivo: media types (01, formato não
    suportado), espécies (04, espécie documental não mapeada), size (99, with the limit stated)."""
    formats: list[str] = []
    kinds: list[str] = []
    sizes: list[str] = []
    for document in manifest.documents:
        label = f"documento {document.order}"
        if profile.kinds is not None and document.kind not in profile.kinds:
            kinds.append(f"{label}: espécie {_kind_name(document.kind)}")
        for component in document.components:
            name = f"{label}, arquivo {component.name}"
            if component.media_type.lower() not in limits.media_types:
                formats.append(f"{name} ({component.media_type})")
            if component.size > limits.max_size:
                sizes.append(f"{name} ({component.size} bytes)")
    if formats:
        accepted = ", ".join(sorted(limits.media_types))
        lead = f"O órgão destinatário aceita só {accepted}. Não aceitos:"
        return Refusal(RefusalReason.FORMATO_NAO_SUPORTADO, _justification(lead, formats))
    if kinds:
        lead = "O órgão destinatário não recebe estas espécies documentais:"
        return Refusal(RefusalReason.ESPECIE_NAO_MAPEADA, _justification(lead, kinds))
    if sizes:
        lead = f"O órgão destinatário aceita arquivos de até {limits.max_size} bytes. Maiores:"
        return Refusal(RefusalReason.OUTRO, _justification(lead, sizes))
    return None
