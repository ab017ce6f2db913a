"""The demo tenant and its book, which `make run` and the compose file's `demo` service load
(skip the book with HUIKUAN_DEMO=0).

The collectors and their manager, a few dozen customers with different paying habits, a
year of invoices and the payments that would have arrived by today, so some invoices are
overdue and some partly paid, plus a dispute. Generated deterministically from the date,
posted through the public API like any ERP would, so every service sees it through its
events. Loading twice is harmless: every create is idempotent by its id.

    python -m huikuan_dev.demo --gateway http://gateway-api:8000 --public-url http://127.0.0.1:8000

creates the tenant (with the operator key in `GATEWAY_OPERATOR_KEY`), loads the book and
prints the two lines `make run` prints: `Gateway: …/v1` and `API key: hk_…`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from huikuan_dev.blocking_http import http_json

TENANT_ID = "demo"
TENANT_NAME = "Demo Trading Co."
DEV_OPERATOR_KEY = "dev-operator-key"

OWNERS = ("li", "wang", "zhang", "chen")
# The collectors who own the customers: chen manages the others, so their overdue tasks
# escalate to chen (chen's own go nowhere higher).
COLLECTORS = (
    ("chen", {"name": "陈静", "email": "chen@demo.example.com", "manager": None}),
    ("li", {"name": "李伟", "email": "li@demo.example.com", "manager": "chen"}),
    ("wang", {"name": "王芳", "email": "wang@demo.example.com", "manager": "chen"}),
    ("zhang", {"name": "张强", "email": "zhang@demo.example.com", "manager": "chen"}),
)
REGIONS = ("east", "north", "south", "west")
NAMES = (
    "华东贸易",
    "北方建材",
    "南粤电器",
    "西部物流",
    "长江食品",
    "黄河机械",
    "珠江纺织",
    "天山农业",
    "东海水产",
    "泰山五金",
    "嘉陵汽配",
    "昆仑医药",
    "Golden Bridge Trading",
    "Harbor Supplies",
    "Lotus Retail",
    "Summit Hardware",
    "Jade Dragon Foods",
    "Pearl River Paper",
)


@dataclass(frozen=True, slots=True)
class Habit:
    name: str
    late_mean: float  # days after the due date
    late_sd: float
    partial: float  # chance of paying only part
    never: float  # chance of never paying an invoice


HABITS = (
    Habit("prompt", -3, 3, 0.0, 0.0),
    Habit("steady", 5, 5, 0.05, 0.0),
    Habit("slow", 30, 12, 0.15, 0.05),
    Habit("troubled", 70, 30, 0.3, 0.3),
)


@dataclass
class Book:
    customers: list[tuple[str, dict[str, Any]]]
    invoices: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    dispute: tuple[str, dict[str, Any]] | None


def build(today: date, customers: int = 36, seed: int = 20261127) -> Book:
    rng = random.Random(seed)
    book = Book([], [], [], None)
    for n in range(customers):
        habit = HABITS[n % len(HABITS)]
        customer_id = f"DEMO-C{n + 1:03d}"
        currency = "USD" if n % 9 == 8 else "CNY"
        terms = rng.choice((30, 30, 45, 60))
        book.customers.append(
            (
                customer_id,
                {
                    "name": f"{NAMES[n % len(NAMES)]} {n // len(NAMES) + 1}号"
                    if n >= len(NAMES)
                    else NAMES[n],
                    "currency": currency,
                    "payment_terms_days": terms,
                    "owner": OWNERS[n % len(OWNERS)],
                    "region": REGIONS[(n // 2) % len(REGIONS)],
                    "segment": habit.name,
                    "country": "CN" if currency == "CNY" else "US",
                    "language": "zh" if currency == "CNY" else "en",
                    "timezone": "Asia/Shanghai" if currency == "CNY" else "America/New_York",
                    "email": f"ap@{customer_id.lower()}.example.com",
                },
            )
        )
        for month in range(12, -1, -1):
            for k in range(rng.randint(2, 4)):
                issued = today - timedelta(days=month * 30 + rng.randint(0, 29))
                if issued > today:
                    continue
                invoice_id = f"DEMO-I-{n + 1:03d}-{month:02d}{k}"
                amount = rng.randint(300_000, 15_000_000)  # minor units
                book.invoices.append(
                    {
                        "invoice_id": invoice_id,
                        "customer_id": customer_id,
                        "number": f"{issued:%Y%m}-{n + 1:03d}{k}",
                        "issue_date": issued.isoformat(),
                        "currency": currency,
                        "amount": f"{amount // 100}.{amount % 100:02d}",
                    }
                )
                if rng.random() < habit.never:
                    continue
                due = issued + timedelta(days=terms)
                paid_on = due + timedelta(days=round(rng.gauss(habit.late_mean, habit.late_sd)))
                paid_on = max(paid_on, issued + timedelta(days=1))
                if paid_on > today:
                    continue
                part = amount if rng.random() >= habit.partial else amount * rng.randint(5, 9) // 10
                text = f"{part // 100}.{part % 100:02d}"
                book.payments.append(
                    {
                        "payment_id": f"DEMO-P-{invoice_id[7:]}",
                        "customer_id": customer_id,
                        "currency": currency,
                        "amount": text,
                        "received_on": paid_on.isoformat(),
                        "method": rng.choice(
                            ("bank_transfer", "bank_transfer", "cheque", "bank_acceptance_bill")
                        ),
                        "reference": f"BANK-{rng.randint(10**7, 10**8 - 1)}",
                        "allocations": [{"invoice_id": invoice_id, "amount": text}],
                    }
                )
    book.payments.sort(key=lambda p: p["received_on"])
    unpaid = {i["invoice_id"] for i in book.invoices} - {
        p["allocations"][0]["invoice_id"] for p in book.payments
    }
    disputed = sorted(i for i in unpaid if i.startswith("DEMO-I-003-01"))
    if disputed:
        book.dispute = (
            disputed[0],
            {
                "dispute_id": "DEMO-D-1",
                "reason": "quality claim: 20 cartons damaged",
                "currency": "CNY",
                "amount": "1000.00",
                "opened_on": today.isoformat(),
            },
        )
    return book


def _post_batches(
    url: str,
    headers: dict[str, str],
    path: str,
    items: list[dict[str, Any]],
    what: str,
    size: int,
) -> int:
    rejected = 0
    for start in range(0, len(items), size):
        status, body = http_json(
            "POST", f"{url}{path}", {"items": items[start : start + size]}, headers
        )
        if status != 200:
            raise RuntimeError(f"demo {what} failed: {status} {body}")
        rejected += body["rejected"]
        print(
            f"  demo {what}: {min(start + size, len(items))}/{len(items)}",
            file=sys.stderr,
            flush=True,
        )
    return rejected


def load(gateway_url: str, key: str, today: date) -> Book:
    """Post the book through the public API; progress goes to stderr."""
    book = build(today)
    url = f"{gateway_url}/v1"
    headers = {"Authorization": f"Bearer {key}"}
    for collector_id, collector in COLLECTORS:
        status, body = http_json("PUT", f"{url}/collectors/{collector_id}", collector, headers)
        if status not in (200, 201):
            raise RuntimeError(f"demo collector {collector_id} failed: {status} {body}")
    print(f"  demo collectors: {len(COLLECTORS)}", file=sys.stderr, flush=True)
    for customer_id, fields in book.customers:
        status, body = http_json("PUT", f"{url}/customers/{customer_id}", fields, headers)
        if status not in (200, 201):
            raise RuntimeError(f"demo customer {customer_id} failed: {status} {body}")
    print(f"  demo customers: {len(book.customers)}", file=sys.stderr, flush=True)
    _post_batches(url, headers, "/invoices/batch", book.invoices, "invoices", 500)
    # Payments are one transaction each: smaller batches keep every call short.
    _post_batches(url, headers, "/payments/batch", book.payments, "payments", 100)
    if book.dispute is not None:
        invoice_id, dispute = book.dispute
        http_json("POST", f"{url}/invoices/{invoice_id}/disputes", dispute, headers)
    return book


def create_tenant_key(
    gateway_url: str,
    operator_key: str,
    tenant_id: str,
    name: str,
    scopes: list[str] | None = None,
) -> str:
    """Create (or find) a tenant through the admin API and return a new API key for it."""
    auth = {"Authorization": f"Bearer {operator_key}"}
    status, body = http_json(
        "POST", f"{gateway_url}/v1/admin/tenants", {"tenant_id": tenant_id, "name": name}, auth
    )
    if status not in (200, 201):
        raise RuntimeError(f"creating tenant {tenant_id} failed: {status} {body}")
    request: dict[str, Any] = {"tenant_id": tenant_id, "name": f"{tenant_id} key"}
    if scopes is not None:
        request["scopes"] = scopes
    status, body = http_json("POST", f"{gateway_url}/v1/admin/api-keys", request, auth)
    if status != 201:
        raise RuntimeError(f"creating an API key failed: {status} {body}")
    key: str = body["key"]
    return key


def seed(gateway_url: str, operator_key: str, today: date, *, book: bool = True) -> str:
    """The demo tenant, a new API key for it (returned) and, unless `book` is false, the
    demo book as of `today`."""
    key = create_tenant_key(gateway_url, operator_key, TENANT_ID, TENANT_NAME)
    if book:
        print("loading the demo book (HUIKUAN_DEMO=0 skips it) ...", file=sys.stderr)
        loaded = load(gateway_url, key, today)
        print(
            f"demo book: {len(loaded.customers)} customers, {len(loaded.invoices)} "
            f"invoices, {len(loaded.payments)} payments",
            file=sys.stderr,
        )
    return key


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m huikuan_dev.demo")
    parser.add_argument("--gateway", required=True, help="where this process reaches the gateway")
    parser.add_argument("--public-url", help="the gateway's address to print (default: --gateway)")
    args = parser.parse_args()
    key = seed(
        args.gateway,
        os.environ.get("GATEWAY_OPERATOR_KEY", DEV_OPERATOR_KEY),
        datetime.now(UTC).date(),
        book=os.environ.get("HUIKUAN_DEMO", "1") != "0",
    )
    print(f"Gateway: {args.public_url or args.gateway}/v1", flush=True)
    print(f"API key: {key}", flush=True)


if __name__ == "__main__":
    main()
