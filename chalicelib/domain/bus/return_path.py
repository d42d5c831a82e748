"""The return path: a process that comes back under an NRE it already travelled with.

The national bus's most frequent complaint is a hash mismatch when a process is sent back: the
documents it delivered were re-rendered, got an embedded signature or were reordered, so the
receiver, which still holds them, refuses the return. Here the bus checks it before accepting the
send: every document of the previous manifest must come back at the same order with the same
components (same order, same SHA-256); only new documents may follow them. Each violation is named
with the path of the new manifest where it shows and what to do about it.
"""

from __future__ import annotations

from collections import defaultdict

from chalicelib.domain.bus.manifest import Manifest, ManifestDocument
from chalicelib.domain.catalogs import DOCUMENT_KINDS
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.nup import parse_nup


class ReturnMismatch(InvalidInput):
    """The process comes back with documents of a previous trâmite changed, moved or missing."""


_KEEP = (
    "Documentos já tramitados voltam exatamente como foram recebidos: não os gere de novo (nova "
    "renderização, conversão ou assinatura embutida mudam o hash); envie os arquivos recebidos."
)


def _content(document: ManifestDocument) -> tuple[tuple[int, str], ...]:
    return tuple(sorted((c.order, c.sha256) for c in document.components))


def _name(document: ManifestDocument, article: str = "o") -> str:
    """E.g. "o documento 2 (Parecer)", or with article "do": "do documento 2 (Parecer)"."""
    kind = DOCUMENT_KINDS.get(document.kind)
    return f"{article} documento {document.order}" + (f" ({kind.name})" if kind else "")


def _nup_digits(text: str) -> str:
    try:
        return parse_nup(text).digits
    except InvalidInput:
        return text


def return_problems(previous: Manifest, new: Manifest) -> list[FieldError]:
    """Every way `new` breaks the documents of `previous` (see the module docstring); empty if none."""
    problems: list[FieldError] = []
    if _nup_digits(previous.process.nup) != _nup_digits(new.process.nup):
        problems.append(
            FieldError(
                "processo.nup",
                f"o NRE deste envio é do processo {previous.process.nup}, e o manifesto traz o NUP "
                f"{new.process.nup}: um NRE acompanha sempre o mesmo processo",
            )
        )
    new_by_order = {d.order: d for d in new.documents}
    new_orders_by_content: dict[tuple[tuple[int, str], ...], list[int]] = defaultdict(list)
    for document in new.documents:
        new_orders_by_content[_content(document)].append(document.order)
    previous_by_content = {_content(d): d.order for d in previous.documents}
    last = max((d.order for d in previous.documents), default=0)
    for old in sorted(previous.documents, key=lambda d: d.order):
        order, path = old.order, f"documentos.{old.order - 1}"
        current = new_by_order.get(order)
        if current is not None and _content(current) == _content(old):
            continue
        moved_to = [o for o in new_orders_by_content.get(_content(old), []) if o != order]
        took_place = previous_by_content.get(_content(current)) if current is not None else None
        if moved_to:
            problems.append(
                FieldError(
                    path,
                    f"{_name(old)} do envio anterior está agora na posição {moved_to[0]}; os documentos "
                    f"já tramitados mantêm a ordem: devolva-o na posição {order} e acrescente os "
                    f"documentos novos depois do documento {last}",
                )
            )
        elif current is None or (took_place is not None and took_place != order):
            problems.append(
                FieldError(
                    path,
                    f"{_name(old)} do envio anterior não está no manifesto; devolva todos os {last} "
                    f"documentos já tramitados, nas mesmas posições, e acrescente os novos depois deles",
                )
            )
        else:
            problems += _component_problems(old, current, path)
    return problems


def _component_problems(old: ManifestDocument, current: ManifestDocument, path: str) -> list[FieldError]:
    problems: list[FieldError] = []
    if len(current.components) != len(old.components):
        problems.append(
            FieldError(
                f"{path}.componentes",
                f"{_name(old)} tinha {len(old.components)} componente(s) digital(is) no envio anterior e "
                f"agora tem {len(current.components)}. {_KEEP}",
            )
        )
    new_by_order = {c.order: (index, c) for index, c in enumerate(current.components)}
    for component in sorted(old.components, key=lambda c: c.order):
        found = new_by_order.get(component.order)
        if found is None:
            continue  # counted above
        index, now = found
        if now.sha256 != component.sha256:
            problems.append(
                FieldError(
                    f"{path}.componentes.{index}.sha256",
                    f"o componente {component.order} {_name(old, 'do')} mudou: o SHA-256 era "
                    f"{component.sha256} e agora é {now.sha256}. {_KEEP}",
                )
            )
    return problems


def check_return(previous: Manifest, new: Manifest) -> None:
    """Raises ReturnMismatch listing every problem of `return_problems`."""
    problems = return_problems(previous, new)
    if problems:
        nre = new.header.nre or previous.header.nre or "informado"
        count = f"{len(problems)} divergência" + ("s" if len(problems) > 1 else "")
        last = len(previous.documents)
        raise ReturnMismatch(
            f"O processo volta pelo NRE {nre} com {count} nos documentos de trâmites anteriores. Os "
            f"documentos já tramitados (1 a {last}) voltam na mesma ordem e com os mesmos SHA-256; só "
            f"documentos novos podem ser acrescentados, a partir da posição {last + 1}.",
            problems,
        )
