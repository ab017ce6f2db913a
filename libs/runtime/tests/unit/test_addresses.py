"""Tenant-chosen URLs go to public addresses only."""

from __future__ import annotations

import ipaddress

import pytest

from huikuan_runtime.addresses import is_public, literal_problem, resolution_problem


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
