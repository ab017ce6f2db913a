"""Tenant-chosen URLs go to public addresses only."""

from __future__ import annotations

import pytest

from huikuan_runtime.addresses import literal_problem, resolution_problem


@pytest.mark.parametrize("url", [
    "http://localhost/x", "http://api.localhost:8000/x", "http://127.0.0.1/x",
    "http://10.1.2.3/x", "http://192.168.0.1/x", "http://169.254.169.254/latest",
    "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x", "http://100.64.0.1/x",
])  # fmt: skip
def test_our_own_network_is_refused_as_written(url: str) -> None:
    assert literal_problem(url) is not None


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "http://93.184.215.14/x"])
def test_public_hosts_pass_as_written(url: str) -> None:
    assert literal_problem(url) is None


async def test_a_resolved_address_in_our_network_is_refused() -> None:
    problem = await resolution_problem("http://127.0.0.1:8080/hook")
    assert problem is not None and "127.0.0.1 is not public" in problem
    assert await resolution_problem("http://[::1]/hook") is not None
