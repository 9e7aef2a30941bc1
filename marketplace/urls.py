"""The one check for URLs a vendor gives us to call or to send buyers to (a listing's
fulfillment URL, webhook endpoints).

In production such a URL is https and names a public host: a loopback, private,
link-local or otherwise reserved address (literal, or what the host name resolves to)
would let a vendor aim our servers or our buyers' browsers at the platform's own network.
The operator may allow http and private hosts for tests and local demos
(``OUTBOUND_URLS_ALLOW_HTTP``, ``OUTBOUND_URLS_ALLOW_PRIVATE``).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l

from marketplace.errors import DomainError

MAX_URL_LENGTH = 500


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False
    allow_private: bool = False

    @classmethod
    def from_config(cls) -> UrlPolicy:
        return cls(
            allow_http=bool(current_app.config.get("OUTBOUND_URLS_ALLOW_HTTP")),
            allow_private=bool(current_app.config.get("OUTBOUND_URLS_ALLOW_PRIVATE")),
        )


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _addresses(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


def check_outbound_url(url: str, *, field: str, policy: UrlPolicy) -> str:
    """The URL, stripped, if it may be used; else a DomainError naming ``field``."""
    url = (url or "").strip()
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(
            _l("The address may be at most %(n)d characters.", n=MAX_URL_LENGTH), field=field
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError:
        raise DomainError(_l("Enter a full web address."), field=field) from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes or not host or parts.username or parts.password:
        raise DomainError(
            _l("Enter a full https:// address without a user name or password."), field=field
        )
    if policy.allow_private:
        return url
    addresses = _addresses(host)
    if host.lower().rstrip(".") == "localhost" or not addresses:
        raise DomainError(_l("This host cannot be reached from the internet."), field=field)
    if not all(_is_public(address) for address in addresses):
        raise DomainError(_l("The address points into a private or local network."), field=field)
    return url
