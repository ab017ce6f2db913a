"""Webhooks, the pure part: the delivery's headers, the backoff schedule, URLs, event type
filters. (How a signature is made: libs/runtime/tests/unit/test_webhook_signing.py.)"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from gateway.domain.webhooks import (
    Backoff,
    headers,
    normalise_event_types,
    signing_secrets,
    url_problem,
    wants,
)
from huikuan_runtime.addresses import literal_problem
from huikuan_runtime.webhook_signing import generate_secret

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_headers_carry_the_delivery_id_timestamp_and_a_standard_signature() -> None:
    secret, now = generate_secret(), int(time.time())
    sent = headers("d-1", [secret], now, b"{}")
    assert sent["Content-Type"] == "application/cloudevents+json"
    assert (sent["webhook-id"], sent["webhook-timestamp"]) == ("d-1", str(now))
    assert Webhook(secret).verify(b"{}", sent) == {}


def test_during_a_rotation_both_secrets_sign_and_each_verifies() -> None:
    new, old, now = generate_secret(), generate_secret(), int(time.time())
    sent = headers("d-1", [new, old], now, b"{}")
    first, second = sent["webhook-signature"].split(" ")
    for secret, signature in ((new, first), (old, second)):
        Webhook(secret).verify(b"{}", sent)
        Webhook(secret).verify(b"{}", {**sent, "webhook-signature": signature})
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(b"{}", sent)


def test_the_replaced_secret_signs_until_the_overlap_ends() -> None:
    until = T0 + timedelta(hours=24)
    assert signing_secrets("new", "old", until, T0) == ["new", "old"]
    assert signing_secrets("new", "old", until, until - timedelta(seconds=1)) == ["new", "old"]
    assert signing_secrets("new", "old", until, until) == ["new"]
    assert signing_secrets("new", None, None, T0) == ["new"]


def test_backoff_doubles_up_to_the_cap_with_jitter_between_half_and_all() -> None:
    backoff = Backoff(base=timedelta(seconds=10), cap=timedelta(minutes=5))
    assert [backoff.delay(n, 1.0).total_seconds() for n in range(1, 8)] == [
        10,
        20,
        40,
        80,
        160,
        300,
        300,
    ]
    assert backoff.delay(3, 0.0) == timedelta(seconds=20)
    assert timedelta(seconds=20) <= backoff.delay(3, 0.37) <= timedelta(seconds=40)
    assert backoff.delay(10_000, 1.0) == timedelta(minutes=5)
    with pytest.raises(ValueError):
        backoff.delay(0, 0.5)


def test_a_delivery_is_retried_until_its_max_age_then_given_up() -> None:
    backoff = Backoff(base=timedelta(minutes=1), cap=timedelta(hours=1), max_age=timedelta(hours=2))
    now, attempts, schedule = T0, 0, []
    while True:
        attempts += 1
        retry = backoff.after_failure(T0, attempts, now, jitter=1.0)
        if retry is None:
            break
        schedule.append(retry)
        now = retry
    assert schedule == sorted(schedule)
    assert schedule[:3] == [T0 + timedelta(minutes=m) for m in (1, 3, 7)]
    # The last try is at the end of the window exactly, and it is given up after that.
    assert schedule[-1] == T0 + timedelta(hours=2)
    assert now == T0 + timedelta(hours=2)
    assert backoff.after_failure(T0, 1, T0 + timedelta(hours=3), 0.5) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://erp.example.com/hooks",
        "http://127.0.0.1:8080/x?a=1",
        "https://[::1]/h",
        "https://例子.测试/hook",
        "http://localhost/",
    ],
)
def test_good_urls(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "http and https"),
        ("javascript:alert(1)", "http and https"),
        ("example.com/hook", "http and https"),
        ("https://", "no host"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://example.com/#frag", "fragment"),
        ("https://exa mple.com/", "whitespace"),
        ("https://example.com:99999/", "not a URL"),
        ("https://example.com:0/", "port 0"),
        ("https://ex_ample!.com/", "not a host"),
        ("https://example.com/" + "a" * 3000, "longer"),
        ("https://example.com/\x00", "control"),
    ],
)
def test_bad_urls_say_why(url: str, why: str) -> None:
    problem = url_problem(url)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/x", "the address 127.0.0.1 is not public"),
        ("http://169.254.169.254/latest/meta-data/", "the address 169.254.169.254 is not"),
        ("https://10.0.0.5/hook", "the address 10.0.0.5 is not public"),
        ("https://192.168.0.1/hook", "the address 192.168.0.1 is not public"),
        ("http://0.0.0.0:9000/", "the address 0.0.0.0 is not public"),
        ("https://[::1]/h", "the address ::1 is not public"),
        ("https://[fe80::1]/h", "the address fe80::1 is not public"),
        ("https://[::ffff:127.0.0.1]/h", "the address ::ffff:127.0.0.1 is not public"),
        ("https://[::FFFF:A9FE:A9FE]/h", "the address ::ffff:a9fe:a9fe is not public"),
        ("http://localhost/", "'localhost' is this machine"),
        ("http://LocalHost.:8080/", "'localhost' is this machine"),
        ("http://api.localhost/", "'api.localhost' is this machine"),
    ],
)
def test_urls_at_our_own_network_are_refused(url: str, why: str) -> None:
    assert url_problem(url) is None  # well-formed: refused for where it points
    problem = literal_problem(url)
    assert problem is not None and problem.startswith(why)


@pytest.mark.parametrize(
    "url",
    [
        "https://erp.example.com/hooks",
        "http://8.8.8.8:8080/x",
        "https://[2001:4860:4860::8888]/h",
        "https://例子.测试/hook",
        "https://localhost.example.com/h",
        "https://mylocalhost/h",
    ],
)
def test_urls_at_public_hosts_pass(url: str) -> None:
    assert literal_problem(url) is None


def test_event_type_filters() -> None:
    known = ["ledger.invoice_issued.v1", "credit.hold_placed.v1"]
    assert normalise_event_types(
        ["credit.hold_placed.v1", "ledger.invoice_issued.v1", "credit.hold_placed.v1"], known
    ) == sorted(known)
    assert normalise_event_types(["*", "credit.hold_placed.v1"], known) == ["*"]
    with pytest.raises(ValueError, match=r"ledger\.nope\.v1"):
        normalise_event_types(["ledger.nope.v1"], known)
    with pytest.raises(ValueError):
        normalise_event_types([], known)
    assert wants(["*"], "anything")
    assert wants(["credit.hold_placed.v1"], "credit.hold_placed.v1")
    assert not wants(["credit.hold_placed.v1"], "ledger.invoice_issued.v1")
