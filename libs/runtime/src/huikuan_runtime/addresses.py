"""Where a URL a tenant chose may send to: public addresses only, never our own network.

Two checks: `literal_problem` when the URL is stored (its host is `localhost` or an IP
literal that is not public), and `resolution_problem` before every attempt (the host's
resolved addresses, so a name that later resolves into our network is caught then). Used
by the gateway's webhook subscriptions and by reminders' tenant-chosen webhook and SMS URLs."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: Address) -> bool:
    """Not loopback, private, link-local, multicast, reserved, unspecified or otherwise
    non-global (an IPv4 address inside an IPv4-mapped or 6to4 IPv6 address is judged as
    itself)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def literal_problem(url: str) -> str | None:
    """Why `url` points at our own network as written, or None (a name is checked when
    resolved, by `resolution_problem`)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host!r} is this machine; only public addresses are allowed"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if is_public(literal) else f"the address {host} is not public"


async def resolution_problem(url: str, timeout: float = 5.0) -> str | None:
    """Why not to connect to `url`'s host now, or None: it does not resolve (within
    `timeout` seconds), or one of its addresses is not public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout):
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
    except TimeoutError:
        return f"cannot resolve {host!r}: no answer within {timeout:g}s"
    except (OSError, UnicodeError) as exc:
        return f"cannot resolve {host!r}: {exc}"
    if not found:
        return f"cannot resolve {host!r}: no addresses"
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        try:
            public = is_public(ipaddress.ip_address(address))
        except ValueError:
            public = False
        if not public:
            via = "" if address == host else f" ({host} resolves to it)"
            return f"the address {address} is not public{via}"
    return None
