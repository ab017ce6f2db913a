"""Public routes owned by reminders: dunning policies, a customer's dunning state, pauses,
promises to pay, reminders sent, the collectors' worklist and tasks, the collector directory,
the tenant's channel settings, and dunning runs."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import Route, mount
from reminders.api import schemas as s

router = APIRouter()

ROUTES = (
    Route("GET", "/dunning/policies", "reminders", "dunning:read", s.PolicyList, problems=(),
          summary="Every dunning policy in force: the shipped defaults and the tenant's own",
          tags=("dunning",)),
    Route("GET", "/dunning/policies/{policy_id}", "reminders", "dunning:read", s.PolicyPublic,
          summary="A dunning policy's latest version", tags=("dunning",)),
    Route("PUT", "/dunning/policies/{policy_id}", "reminders", "dunning:write",
          s.PolicyPublic, body=s.PolicyPut, problems=(),
          summary="Store a new version of a policy (overlapping offsets, unknown channels or "
                  "template variables are refused)", tags=("dunning",)),
    Route("GET", "/customers/{customer_id}/dunning", "reminders", "dunning:read",
          s.DunningPublic, query=s.DunningQuery,
          summary="The customer's dunning state as of a date: policy, steps, pauses, next action",
          tags=("dunning",)),
    Route("PUT", "/customers/{customer_id}/dunning/policy", "reminders", "dunning:write",
          s.DunningPublic, body=s.PinPut,
          summary="Pin the customer to a policy (null: choose by credit grade)",
          tags=("dunning",)),
    Route("POST", "/customers/{customer_id}/dunning/pause", "reminders", "dunning:write",
          s.PausePublic, body=s.PauseCreate, problems=(),
          summary="Pause the customer's dunning through a date, with a reason",
          tags=("dunning",)),
    Route("DELETE", "/customers/{customer_id}/dunning/pause", "reminders", "dunning:write",
          s.PausePublic, problems=(), summary="End a manual pause now", tags=("dunning",)),
    Route("POST", "/customers/{customer_id}/promises", "reminders", "dunning:write",
          s.PromisePublic, body=s.PromiseCreate, status=201,
          example={"promise_id": "PR-2026-0007", "currency": "CNY", "amount": "4500.00",
                   "promised_date": "2026-12-05", "invoice_ids": ["INV-2026-0001"],
                   "taken_by": "li.wei", "made_on": "2026-11-20", "grace_days": 3},
          also={200: "the same promise again: unchanged"}, problems=(409,),
          summary="Record a promise to pay: it pauses dunning on its invoices until its date "
                  "plus grace", tags=("dunning",)),
    Route("GET", "/customers/{customer_id}/promises", "reminders", "dunning:read",
          s.PromiseList, problems=(), summary="The customer's promises and how they were judged",
          tags=("dunning",)),
    Route("GET", "/reminders", "reminders", "dunning:read", s.ReminderPage,
          query=s.ReminderQuery, problems=(),
          summary="Reminders as recorded (text, channel, invoices and residuals), with their "
                  "delivery attempts", tags=("dunning",)),
    Route("GET", "/worklist", "reminders", "dunning:read", s.Worklist, query=s.WorklistQuery,
          problems=(), summary="Open collector tasks due by a date, highest priority first",
          tags=("dunning",)),
    Route("POST", "/tasks/{task_id}/complete", "reminders", "dunning:write", s.TaskPublic,
          body=s.TaskComplete, problems=(404, 409),
          summary="Record a task's outcome and note", tags=("dunning",)),
    Route("GET", "/dunning/settings", "reminders", "dunning:read", s.ChannelSettingsPublic,
          problems=(),
          summary="The tenant's channel settings (sender, webhook, SMS provider, send window, "
                  "default time zone) and what applies now; secrets only say whether they "
                  "are set", tags=("dunning",)),
    Route("PUT", "/dunning/settings", "reminders", "dunning:write", s.ChannelSettingsPublic,
          body=s.ChannelSettingsPut, problems=(),
          example={"mail_from": "ar@acme.example", "webhook_url": "https://hooks.acme.example/ar",
                   "webhook_secret": "whsec-0123456789abcdef", "send_window_start": "08:30",
                   "send_window_end": "17:30", "default_timezone": "Asia/Shanghai"},
          summary="Change the tenant's channel settings: only the fields sent change, null "
                  "falls back to the deployment's; secrets are write-only",
          tags=("dunning",)),
    Route("PUT", "/collectors/{owner}", "reminders", "dunning:write", s.CollectorPublic,
          body=s.CollectorPut, also={201: "created"}, problems=(),
          example={"name": "Li Wei", "email": "li.wei@example.com", "manager": "wang"},
          summary="Create or replace a collector (name, email, manager): an overdue task "
                  "escalates to the owner's manager; a loop of managers is refused",
          tags=("collectors",)),
    Route("GET", "/collectors/{owner}", "reminders", "dunning:read", s.CollectorPublic,
          summary="A collector and their manager", tags=("collectors",)),
    Route("GET", "/collectors", "reminders", "dunning:read", s.CollectorPage,
          query=s.CollectorQuery, problems=(),
          summary="Collectors in id order, optionally those under one manager",
          tags=("collectors",)),
    Route("POST", "/dunning/runs", "reminders", "dunning:write", s.RunPublic,
          body=s.RunCreate, problems=(),
          summary="Run dunning as of a date: record what is due, then deliver it (never twice)",
          tags=("dunning",)),
    Route("POST", "/ops/jobs/dunning-run", "reminders", "ops:write", s.RunPublic,
          body=s.RunCreate, problems=(), upstream="/dunning/runs",
          summary="Run dunning as of a date (same as POST /dunning/runs)", tags=("ops",)),
)  # fmt: skip

mount(router, ROUTES)
