"""Reminder text from Jinja2 templates, in Chinese or English by the customer's language;
a policy step may override the shipped text per tenant.

A tenant's own template is untrusted code. It runs in Jinja's sandbox with these bounds
(`Limits`), each failure a `TemplateProblem` that says what went wrong:

- its source: at most `template_chars` characters per subject or body;
- what it renders: a subject of one line of at most `subject_chars`, a body of at most
  `body_chars` (rendering stops as soon as the body passes it);
- its work: `range` hands out at most `loop_items` items per rendering in all, and `*` and
  `**` refuse results larger than `body_chars` characters or items (or 4,096 bits);
- its time and memory: a tenant's template is rendered only in a worker process
  (`Renderer`), never on a service's event loop; an alarm stops it after `seconds`, the
  worker's address space is capped at `memory_bytes`, and a worker that still does not
  answer is killed and replaced.

Shipped templates are ours: they render in the calling process, with the same checks on
what they produce.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import signal
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any

import jinja2
import jinja2.runtime
import jinja2.sandbox
import pebble

from huikuan_contracts.money import Money
from reminders.domain.dunning import Due, reminded_invoices
from reminders.domain.policy import Step

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True, slots=True)
class Limits:
    template_chars: int = 10_000
    subject_chars: int = 200
    body_chars: int = 50_000
    loop_items: int = 10_000
    seconds: float = 2.0
    memory_bytes: int = 1 << 30


class TemplateProblem(Exception):
    """A template that cannot be rendered; `part` is `subject` or `body` when known."""

    def __init__(self, message: str, part: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.part = part

    def __str__(self) -> str:
        return f"{self.part}: {self.message}" if self.part else self.message

    def __reduce__(self) -> tuple[Any, ...]:  # crosses the worker's pipe intact
        return (TemplateProblem, (self.message, self.part))


@dataclass(frozen=True, slots=True)
class Rendered:
    language: str
    subject: str
    body: str


class _TooLong(Exception):
    pass


class _OutOfTime(Exception):
    pass


class _Sandbox(jinja2.sandbox.SandboxedEnvironment):
    """Jinja's sandbox, with `*`, `**` and `range` bounded by `Limits`."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, limits: Limits, **options: Any) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, **options)
        self.limits = limits
        self.globals["range"] = self._range
        self._loop_left = limits.loop_items

    def start(self) -> None:
        """A new rendering: its loop budget starts afresh."""
        self._loop_left = self.limits.loop_items

    def _range(self, *args: int) -> range:
        items = range(*args)
        self._loop_left -= len(items)
        if self._loop_left < 0:
            raise TemplateProblem(
                f"loops over more than {self.limits.loop_items:,} items in all (range)"
            )
        return items

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        limit = self.limits.body_chars
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * max(times, 0) > limit
                ):
                    raise TemplateProblem(
                        f"a repetition (*) would make more than {limit:,} characters or items"
                    )
            return left * right
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right * abs(left).bit_length() > 4096
        ):
            raise TemplateProblem("a power (**) would be larger than 4,096 bits")
        return left**right


def _files() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
    )


class _Engine:
    """The two Jinja environments of one process: shipped files and tenant text."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.files = _files()
        self.sandbox = _Sandbox(limits, trim_blocks=True)

    def _collect(self, chunks: Iterator[str], limit: int) -> str:
        out: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise _TooLong
            out.append(chunk)
        return "".join(out)

    def _tenant_part(self, source: str, values: Mapping[str, Any], part: str, limit: int) -> str:
        if len(source) > self.limits.template_chars:
            raise TemplateProblem(
                f"the template is longer than {self.limits.template_chars:,} characters", part
            )
        self.sandbox.start()
        try:
            template = self.sandbox.from_string(source)
            return self._collect(template.generate(values), limit)
        except _TooLong:
            raise TemplateProblem(f"renders more than {limit:,} characters", part) from None
        except TemplateProblem as exc:
            raise TemplateProblem(exc.message, part) from None
        except _OutOfTime:
            raise TemplateProblem(
                f"takes longer than {self.limits.seconds:g} s to render", part
            ) from None
        except MemoryError:
            raise TemplateProblem("needs too much memory to render", part) from None
        except jinja2.TemplateError as exc:
            raise TemplateProblem(exc.message or type(exc).__name__, part) from None
        except Exception as exc:  # a tenant's template may raise anything Python can
            raise TemplateProblem(str(exc) or type(exc).__name__, part) from None

    def _subject(self, subject: str) -> str:
        subject = subject.strip()
        if "\n" in subject or "\r" in subject:
            raise TemplateProblem("the subject must be one line", "subject")
        if len(subject) > self.limits.subject_chars:
            raise TemplateProblem(
                f"the subject is longer than {self.limits.subject_chars:,} characters", "subject"
            )
        return subject

    def _body(self, body: str) -> str:
        if len(body) > self.limits.body_chars:
            raise TemplateProblem(
                f"renders more than {self.limits.body_chars:,} characters", "body"
            )
        return body.strip() + "\n"

    def tenant(self, language: str, subject: str, body: str, values: Mapping[str, Any]) -> Rendered:
        limits = self.limits
        subject_text = self._subject(
            self._tenant_part(subject, values, "subject", limits.subject_chars * 4)
        )
        body_text = self._body(self._tenant_part(body, values, "body", limits.body_chars))
        return Rendered(language, subject_text, body_text)

    def shipped(self, language: str, template: str, values: Mapping[str, Any]) -> Rendered:
        try:
            text = self.files.get_template(f"{language}/{template}.txt").render(values)
        except jinja2.TemplateNotFound:
            raise TemplateProblem(f"no shipped template {template!r}") from None
        except jinja2.TemplateError as exc:
            raise TemplateProblem(exc.message or type(exc).__name__) from None
        subject, _, body = text.partition("\n")
        return Rendered(language, self._subject(subject), self._body(body))


def language_of(language: str | None) -> str:
    """`zh` unless the customer's language is English."""
    return "en" if (language or "").lower().startswith("en") else "zh"


def context(due: Due, *, customer_id: str, customer_name: str, as_of: date) -> dict[str, Any]:
    return recorded_context(
        step=due.step.name,
        currency=due.currency,
        residual_minor=due.residual_minor,
        invoices=[
            {
                "invoice_id": i.invoice_id,
                "number": i.number,
                "due_date": i.due_date.isoformat(),
                "residual_minor": i.residual_minor,
            }
            for i in due.invoices
        ],
        customer_id=customer_id,
        customer_name=customer_name,
        as_of=as_of,
    )


def recorded_context(
    *,
    step: str,
    currency: str,
    residual_minor: int,
    invoices: Sequence[Mapping[str, Any]],
    customer_id: str,
    customer_name: str,
    as_of: date,
) -> dict[str, Any]:
    """The template variables from what a reminder recorded: its invoices as stored
    (invoice_id, number, due_date ISO, residual_minor) and its as_of."""
    return {
        "customer_id": customer_id,
        "customer_name": customer_name,
        "step": step,
        "as_of": as_of.isoformat(),
        "currency": currency,
        "total": Money(residual_minor, currency).format(),
        "invoices": [
            {
                "invoice_id": i["invoice_id"],
                "number": i["number"],
                "due_date": i["due_date"],
                "residual": i["residual"],
                "days_overdue": max((as_of - date.fromisoformat(i["due_date"])).days, 0),
            }
            for i in reminded_invoices(invoices, currency)
        ],
    }


def sample_values(step: str) -> dict[str, Any]:
    """What a tenant's template is tried on when its policy is saved: one overdue invoice."""
    return recorded_context(
        step=step,
        currency="CNY",
        residual_minor=123_450,
        invoices=[
            {
                "invoice_id": "INV-1",
                "number": "2026-0001",
                "due_date": "2026-01-31",
                "residual_minor": 123_450,
            }
        ],
        customer_id="C-1",
        customer_name="示例客户 Example Ltd",
        as_of=date(2026, 2, 10),
    )


def tenant_text(step: Step, language: str | None) -> tuple[str, str, str] | None:
    """(language, subject source, body source) of a step's own text, or None: shipped."""
    lang = language_of(language)
    override = step.overrides.get(lang)
    if override and "body" in override:
        return lang, override.get("subject", step.name), override["body"]
    return None


# --- the worker process ----------------------------------------------------------------

_worker_engine: _Engine | None = None


def _start_worker(limits: Limits) -> None:
    """Runs once in each worker process: cap its memory, build its engine."""
    global _worker_engine
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    _worker_engine = _Engine(limits)


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _OutOfTime


def _render_in_worker(
    language: str, subject: str, body: str, values: Mapping[str, Any]
) -> Rendered:
    engine = _worker_engine
    assert engine is not None, "the worker's initializer did not run"
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, engine.limits.seconds)
    try:
        return engine.tenant(language, subject, body, values)
    except _OutOfTime:  # between two parts
        raise TemplateProblem(f"takes longer than {engine.limits.seconds:g} s to render") from None
    except MemoryError:
        raise TemplateProblem("needs too much memory to render") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Renderer:
    """Renders reminder text: shipped templates here, a tenant's own in a worker process
    (started on first use, `workers` of them). Close it when done."""

    def __init__(self, limits: Limits | None = None, workers: int = 1) -> None:
        self.limits = limits or Limits()
        self._engine = _Engine(self.limits)
        self._workers = workers
        self._pool: pebble.ProcessPool | None = None

    def _worker_pool(self) -> pebble.ProcessPool:
        if self._pool is None:
            self._pool = pebble.ProcessPool(
                max_workers=self._workers,
                initializer=_start_worker,
                initargs=(self.limits,),
                context=multiprocessing.get_context("spawn"),
            )
        return self._pool

    async def render(self, step: Step, language: str | None, values: Mapping[str, Any]) -> Rendered:
        """The step's text for the language; raises `TemplateProblem`."""
        own = tenant_text(step, language)
        if own is None:
            return self._engine.shipped(language_of(language), step.template, values)
        return await self.render_tenant(*own, values)

    async def render_tenant(
        self, language: str, subject: str, body: str, values: Mapping[str, Any]
    ) -> Rendered:
        """A tenant's own subject and body, in the worker; raises `TemplateProblem`."""
        future = self._worker_pool().schedule(
            _render_in_worker,
            args=(language, subject, body, dict(values)),
            timeout=self.limits.seconds + 5.0,  # the alarm's backstop: kill the worker
        )
        try:
            return await asyncio.wrap_future(future)
        except TemplateProblem:
            raise
        except (FutureTimeout, TimeoutError):
            raise TemplateProblem(
                f"takes longer than {self.limits.seconds:g} s to render"
            ) from None
        except pebble.ProcessExpired:
            raise TemplateProblem("stopped the rendering process") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()  # type: ignore[no-untyped-call]
            self._pool.join(timeout=5)
            self._pool = None
