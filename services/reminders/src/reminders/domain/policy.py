"""Dunning policies: ordered steps (offset from the due date, channels, template, action),
their validation, and the shipped defaults chosen by credit grade. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import jinja2
import jinja2.meta

MESSAGE_CHANNELS = frozenset({"email", "sms", "webhook", "letter"})
TASK_CHANNELS = frozenset({"call", "visit", "legal"})
CHANNELS = MESSAGE_CHANNELS | TASK_CHANNELS
ACTIONS = frozenset({"notify", "create_task", "request_credit_hold", "legal_escalation"})
GRADES = ("A", "B", "C", "D", "E")
LANGUAGES = ("zh", "en")
# What a template may use; anything else is refused when the policy is saved.
TEMPLATE_VARIABLES = frozenset(
    {"customer_name", "customer_id", "step", "as_of", "currency", "total", "invoices"}
)
TEMPLATES = frozenset(
    {"friendly_reminder", "overdue_notice", "second_notice", "warning_letter", "final_notice"}
)
DEFAULT_POLICY = "standard"


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    offset_days: int
    channels: tuple[str, ...]
    template: str
    action: str = "notify"
    # Per-tenant template text overriding the shipped file: {lang: {"subject": .., "body": ..}}
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def message_channels(self) -> tuple[str, ...]:
        return tuple(c for c in self.channels if c in MESSAGE_CHANNELS)

    @property
    def task_kinds(self) -> tuple[str, ...]:
        return tuple(c for c in self.channels if c in TASK_CHANNELS)


@dataclass(frozen=True, slots=True)
class Policy:
    policy_id: str
    version: int
    grades: tuple[str, ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class PolicyError:
    field: str
    message: str


_ENV = jinja2.Environment(autoescape=False)


def template_variables(text: str) -> set[str]:
    """The undeclared variables a template uses (raises jinja2.TemplateSyntaxError)."""
    return set(jinja2.meta.find_undeclared_variables(_ENV.parse(text)))


def validate_steps(steps: Sequence[Step], grades: Iterable[str]) -> list[PolicyError]:
    """Everything wrong with a policy, in one list; empty means valid."""
    errors: list[PolicyError] = []
    if not steps:
        errors.append(PolicyError("steps", "a policy needs at least one step"))
    for g in grades:
        if g not in GRADES:
            errors.append(PolicyError("grades", f"unknown grade {g!r}; known: {', '.join(GRADES)}"))
    seen_offsets: dict[int, str] = {}
    seen_names: set[str] = set()
    for i, s in enumerate(steps):
        where = f"steps.{i}"
        if s.name in seen_names:
            errors.append(PolicyError(f"{where}.name", f"step name {s.name!r} is used twice"))
        seen_names.add(s.name)
        if s.offset_days in seen_offsets:
            errors.append(
                PolicyError(
                    f"{where}.offset_days",
                    f"offset {s.offset_days} overlaps step {seen_offsets[s.offset_days]!r}",
                )
            )
        seen_offsets.setdefault(s.offset_days, s.name)
        if not s.channels:
            errors.append(PolicyError(f"{where}.channels", "a step needs at least one channel"))
        for c in s.channels:
            if c not in CHANNELS:
                errors.append(
                    PolicyError(
                        f"{where}.channels",
                        f"unknown channel {c!r}; known: {', '.join(sorted(CHANNELS))}",
                    )
                )
        if s.action not in ACTIONS:
            errors.append(
                PolicyError(
                    f"{where}.action",
                    f"unknown action {s.action!r}; known: {', '.join(sorted(ACTIONS))}",
                )
            )
        if s.template not in TEMPLATES and not s.overrides:
            errors.append(
                PolicyError(
                    f"{where}.template",
                    f"unknown template {s.template!r}; known: {', '.join(sorted(TEMPLATES))}",
                )
            )
        for lang, parts in s.overrides.items():
            if lang not in LANGUAGES:
                errors.append(
                    PolicyError(f"{where}.templates.{lang}", f"unknown language {lang!r}")
                )
            for part, text in parts.items():
                if part not in ("subject", "body"):
                    errors.append(PolicyError(f"{where}.templates.{lang}.{part}", "unknown part"))
                    continue
                try:
                    unknown = template_variables(text) - TEMPLATE_VARIABLES
                except jinja2.TemplateSyntaxError as exc:
                    errors.append(PolicyError(f"{where}.templates.{lang}.{part}", str(exc)))
                    continue
                for name in sorted(unknown):
                    errors.append(
                        PolicyError(
                            f"{where}.templates.{lang}.{part}",
                            f"unknown template variable {name!r}; known: "
                            + ", ".join(sorted(TEMPLATE_VARIABLES)),
                        )
                    )
    return errors


def _steps(*rows: tuple[str, int, tuple[str, ...], str, str]) -> tuple[Step, ...]:
    return tuple(Step(n, o, c, t, a) for n, o, c, t, a in rows)


# The shipped defaults. `standard` is the good practice of the issue; worse grades start
# earlier and escalate sooner; grade E gets no credit: a credit hold the day after due.
SHIPPED: dict[str, Policy] = {
    "standard": Policy(
        "standard",
        0,
        ("A", "B"),
        _steps(
            ("friendly_reminder", -7, ("email",), "friendly_reminder", "notify"),
            ("overdue_notice", 1, ("email",), "overdue_notice", "notify"),
            ("second_notice", 7, ("email",), "second_notice", "notify"),
            ("call", 15, ("call",), "second_notice", "create_task"),
            ("warning_letter", 30, ("letter", "email"), "warning_letter", "notify"),
            ("credit_hold", 45, ("email",), "final_notice", "request_credit_hold"),
            ("visit", 60, ("visit",), "final_notice", "create_task"),
            ("legal", 90, ("legal",), "final_notice", "legal_escalation"),
        ),
    ),
    "firm": Policy(
        "firm",
        0,
        ("C",),
        _steps(
            ("friendly_reminder", -10, ("email",), "friendly_reminder", "notify"),
            ("overdue_notice", 1, ("email",), "overdue_notice", "notify"),
            ("second_notice", 5, ("email",), "second_notice", "notify"),
            ("call", 10, ("call",), "second_notice", "create_task"),
            ("warning_letter", 20, ("letter", "email"), "warning_letter", "notify"),
            ("credit_hold", 30, ("email",), "final_notice", "request_credit_hold"),
            ("visit", 45, ("visit",), "final_notice", "create_task"),
            ("legal", 60, ("legal",), "final_notice", "legal_escalation"),
        ),
    ),
    "strict": Policy(
        "strict",
        0,
        ("D",),
        _steps(
            ("friendly_reminder", -14, ("email",), "friendly_reminder", "notify"),
            ("overdue_notice", 1, ("email",), "overdue_notice", "notify"),
            ("call", 3, ("call",), "second_notice", "create_task"),
            ("warning_letter", 7, ("letter", "email"), "warning_letter", "notify"),
            ("credit_hold", 14, ("email",), "final_notice", "request_credit_hold"),
            ("visit", 21, ("visit",), "final_notice", "create_task"),
            ("legal", 45, ("legal",), "final_notice", "legal_escalation"),
        ),
    ),
    "cash_only": Policy(
        "cash_only",
        0,
        ("E",),
        _steps(
            ("friendly_reminder", -7, ("email",), "friendly_reminder", "notify"),
            ("credit_hold", 1, ("email", "call"), "final_notice", "request_credit_hold"),
            ("warning_letter", 5, ("letter", "email"), "warning_letter", "notify"),
            ("visit", 10, ("visit",), "final_notice", "create_task"),
            ("legal", 30, ("legal",), "final_notice", "legal_escalation"),
        ),
    ),
}


def choose(policies: Mapping[str, Policy], grade: str | None, pinned: str | None) -> Policy:
    """The policy in force for a customer: the pinned one, else the one listing the grade,
    else `standard` (an unknown grade is treated as the default)."""
    if pinned is not None and pinned in policies:
        return policies[pinned]
    if grade is not None:
        # The tenant's own policies (version >= 1) before the shipped ones.
        for p in sorted(policies.values(), key=lambda p: (p.version == 0, p.policy_id)):
            if grade in p.grades:
                return p
    return policies.get(DEFAULT_POLICY, SHIPPED[DEFAULT_POLICY])


def in_force(stored: Iterable[Policy]) -> dict[str, Policy]:
    """The shipped policies overlaid by the tenant's latest stored versions."""
    policies = dict(SHIPPED)
    for p in stored:
        if p.policy_id not in policies or policies[p.policy_id].version < p.version:
            policies[p.policy_id] = p
    return policies
