"""The addresses of the citizens' site that the platform hands out: in e-mails (confirmation,
notices, unsubscribe) and on signed documents (the authenticity check)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode


@dataclass(frozen=True)
class SiteLinks:
    """Where the platform sends people. `base` is the citizens' site's origin, which also answers the
    public API under /publico/ (CloudFront in the cloud, the local stack's site server here): people
    land on the site's pages, which call the API; mail clients' one-click unsubscribe (RFC 8058)
    posts straight to the API."""

    base: str

    def _site(self, page: str, **query: str) -> str:
        return f"{self.base.rstrip('/')}/{page}?{urlencode(query)}"

    def confirm(self, subscription_id: str, token: str) -> str:
        return self._site("confirmar.html", id=subscription_id, token=token)

    def unsubscribe_page(self, subscription_id: str, token: str) -> str:
        return self._site("cancelar.html", id=subscription_id, token=token)

    def one_click_unsubscribe(self, subscription_id: str, token: str) -> str:
        return (
            f"{self.base.rstrip('/')}/publico/acompanhamentos/{subscription_id}/cancelamento"
            f"?token={quote(token)}"
        )

    def process(self, nup: str) -> str:
        return self._site("", nup=nup)

    def authenticity(self, verification_code: str, crc: str) -> str:
        """The page where anyone checks a signed document by its código verificador and CRC: what an
        agency prints on the document, as SEI prints its "conferir autenticidade" address."""
        return self._site("autenticidade.html", codigo=verification_code, crc=crc)
