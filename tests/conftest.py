"""Fixtures for the cross-service tests: one running stack per session, a tenant per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from huikuan_dev.stack import Stack
from tests.support import Api, SmtpSink, infra_env, start_stack


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    """Where the stack's reminders send email (a real SMTP server on localhost)."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def stack(smtp: SmtpSink) -> Iterator[Stack]:
    env = infra_env()
    if env is None:
        pytest.skip("needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (make test sets them)")
    yield from start_stack(*env, extra_env=smtp.env)


@dataclass
class Tenant:
    id: str
    key: str
    api: Api


@pytest.fixture
def tenant(stack: Stack) -> Tenant:
    tenant_id = f"t-{secrets.token_hex(4)}"
    key = stack.create_tenant_key(tenant_id, f"Tenant {tenant_id}")
    return Tenant(tenant_id, key, Api(stack.gateway_url, key))
