"""Prometheus metrics shared by every process (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "huikuan_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "huikuan_http_request_seconds", "HTTP request latency", ["method", "route"]
)
OUTBOX_PUBLISHED = Counter(
    "huikuan_outbox_published_total", "Outbox events published to Kafka", ["topic"]
)
OUTBOX_BACKLOG = Gauge("huikuan_outbox_backlog", "Unpublished outbox events at the last poll")
EVENTS_CONSUMED = Counter(
    "huikuan_events_consumed_total", "Events applied by a consumer", ["consumer", "type", "result"]
)
EVENTS_DEAD_LETTERED = Counter(
    "huikuan_events_dead_lettered_total", "Events sent to a dead-letter topic", ["consumer"]
)
SEQUENCE_ANOMALIES = Counter(
    "huikuan_event_sequence_anomalies_total",
    "Events whose per-subject sequence showed a gap or arrived out of order",
    ["consumer", "kind"],
)
