"""Tenant-chosen URLs go to public addresses only; a confined deployment (every test stack)
connects to its allowed networks only."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from huikuan_runtime.addresses import (
    LOOPBACK,
    is_public,
    literal_problem,
    networks,
    resolution_problem,
    within,
)
from huikuan_runtime.settings import ServiceSettings

CONFINED = networks(LOOPBACK)
OUTSIDE = "the address {} is outside the outbound allow-list (HUIKUAN_OUTBOUND_ALLOW={})"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/x",
        "http://api.localhost:8000/x",
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://100.64.0.1/x",
    ],
)
def test_our_own_network_is_refused_as_written(url: str) -> None:
    assert literal_problem(url) is not None


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "http://93.184.215.14/x"])
def test_public_hosts_pass_as_written(url: str) -> None:
    assert literal_problem(url) is None


async def test_a_resolved_address_in_our_network_is_refused() -> None:
    problem = await resolution_problem("http://127.0.0.1:8080/hook")
    assert problem is not None and "127.0.0.1 is not public" in problem
    assert await resolution_problem("http://[::1]/hook") is not None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    url = f"http://[{address}]/x" if ":" in address else f"http://{address}/x"
    assert literal_problem(url) == f"the address {address} is not public"


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_an_allow_list_is_a_comma_separated_list_of_networks() -> None:
    assert networks(LOOPBACK) == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert networks(" 10.200.0.0/16 ,, 192.0.2.7 ") == (
        ipaddress.ip_network("10.200.0.0/16"),
        ipaddress.ip_network("192.0.2.7/32"),
    )
    assert networks("") == ()
    for bad in ("127.0.0.1/8", "localhost", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="is not a network"):
            networks(f"::1/128,{bad}")


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("127.0.0.1", True),
        ("127.200.3.4", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # a connection to it goes to 127.0.0.1
        ("1.1.1.1", False),
        ("::ffff:1.1.1.1", False),
        ("2606:4700:4700::1111", False),
        ("10.0.0.1", False),
        ("::2", False),
    ],
)
def test_confinement_is_judged_by_where_a_connection_goes(address: str, inside: bool) -> None:
    assert within(ipaddress.ip_address(address), CONFINED) is inside


@pytest.mark.parametrize("host", ["1.1.1.1", "8.8.8.8", "[2606:4700:4700::1111]"])
async def test_a_confined_deployment_refuses_a_public_address(host: str) -> None:
    """Public, so the unconfined guard lets it through; confined, it is refused, whether
    private addresses are allowed or not."""
    url = f"https://{host}/hook"
    assert literal_problem(url) is None
    assert await resolution_problem(url) is None
    expected = OUTSIDE.format(host.strip("[]"), LOOPBACK)
    for private in (False, True):
        assert await resolution_problem(url, private=private, only=CONFINED) == expected


async def test_a_confined_deployment_checks_what_a_name_resolves_to() -> None:
    # localhost resolves (without DNS) to 127.0.0.1 and perhaps ::1: both outside here.
    problem = await resolution_problem("http://localhost:8080/x", only=networks("10.0.0.0/8"))
    assert problem is not None
    assert problem.endswith(
        "is outside the outbound allow-list (HUIKUAN_OUTBOUND_ALLOW=10.0.0.0/8) "
        "(localhost resolves to it)"
    )


async def test_inside_the_allow_list_the_private_address_switch_still_decides() -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://[::1]:8080/hook", "http://localhost/x"):
        assert await resolution_problem(url, private=True, only=CONFINED) is None
        problem = await resolution_problem(url, only=CONFINED)
        assert problem is not None and "is not public" in problem
    outside = await resolution_problem("http://10.1.2.3/x", private=True, only=CONFINED)
    assert outside == OUTSIDE.format("10.1.2.3", LOOPBACK)


async def test_without_an_allow_list_private_addresses_pass_unresolved() -> None:
    # Nothing to check: not even resolved (a name that cannot resolve is no problem). An
    # empty label: refused by the encoder before any DNS query.
    assert await resolution_problem("http://a..example/x", private=True) is None
    problem = await resolution_problem("http://a..example/x", private=True, only=CONFINED)
    assert problem is not None and problem.startswith("cannot resolve 'a..example'")


def test_the_allow_list_is_a_shared_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUIKUAN_OUTBOUND_ALLOW", raising=False)
    assert ServiceSettings().outbound_allow == ()
    monkeypatch.setenv("HUIKUAN_OUTBOUND_ALLOW", f"{LOOPBACK},10.200.0.0/16")
    assert ServiceSettings().outbound_allow == (*CONFINED, ipaddress.ip_network("10.200.0.0/16"))
    monkeypatch.setenv("HUIKUAN_OUTBOUND_ALLOW", "")
    assert ServiceSettings().outbound_allow == ()
    monkeypatch.setenv("HUIKUAN_OUTBOUND_ALLOW", "127.0.0.1/8")
    with pytest.raises(ValidationError, match=r"'127\.0\.0\.1/8' is not a network"):
        ServiceSettings()
