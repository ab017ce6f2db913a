"""Where a URL a tenant chose may send to: public addresses only, never our own network.

Two checks: `literal_problem` when the URL is stored (its host is `localhost` or an IP
literal that is not public), and `resolution_problem` before every attempt (the host's
resolved addresses, so a name that later resolves into our network is caught then). Used
by the gateway's webhook subscriptions and by reminders' tenant-chosen webhook and SMS URLs.

A deployment may also be confined (`HUIKUAN_OUTBOUND_ALLOW`, a list of networks: every
test stack is, to `LOOPBACK`): then `resolution_problem` refuses any resolved address
outside those networks before a connection is attempted, whether private addresses are
allowed or not, so URLs a test generates never lead off the machine. The confinement is
checked before each attempt only, never when a URL is stored: the API answers as it does
unconfined."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# This machine only: what test stacks confine outbound connections to.
LOOPBACK = "127.0.0.0/8,::1/128"


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


def networks(text: str) -> tuple[Network, ...]:
    """The networks of a comma-separated list of CIDR blocks (`127.0.0.0/8,::1/128`; a
    bare address is a network of one). ValueError names an entry that is not a network."""
    found: list[Network] = []
    for part in text.split(","):
        if entry := part.strip():
            try:
                found.append(ipaddress.ip_network(entry))
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not a network: {exc}") from None
    return tuple(found)


def within(address: Address, allowed: Sequence[Network]) -> bool:
    """Inside one of `allowed` (an IPv4-mapped IPv6 address is judged as the IPv4 address
    it carries, which is where a connection to it goes)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


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


async def resolution_problem(
    url: str, timeout: float = 5.0, *, private: bool = False, only: Sequence[Network] = ()
) -> str | None:
    """Why not to connect to `url`'s host now, or None: it does not resolve (within
    `timeout` seconds), or one of its addresses is outside the networks `only` lists (when
    it lists any: a confined deployment) or, unless `private`, not public. With nothing to
    check (`private` and no `only`), nothing is resolved."""
    if private and not only:
        return None
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
        via = "" if address == host else f" ({host} resolves to it)"
        try:
            parsed: Address | None = ipaddress.ip_address(address)
        except ValueError:
            parsed = None
        if only and (parsed is None or not within(parsed, only)):
            allowed = ",".join(str(network) for network in only)
            return (
                f"the address {address} is outside the outbound allow-list "
                f"(HUIKUAN_OUTBOUND_ALLOW={allowed}){via}"
            )
        if not private and (parsed is None or not is_public(parsed)):
            return f"the address {address} is not public{via}"
    return None
