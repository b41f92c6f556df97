"""Prometheus metrics, kept in one registry per application so tests stay independent."""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "scim_requests_total",
            "SCIM requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "scim_request_duration_seconds",
            "Time to answer a SCIM request, portal calls included.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.portal_calls = Counter(
            "kyvos_portal_calls_total",
            "Calls made to the Kyvos Web Portal, by route template and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.portal_seconds = Histogram(
            "kyvos_portal_call_duration_seconds",
            "Time of one call to the Kyvos Web Portal.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.audit_events = Counter(
            "scim_audit_events_total",
            "Identity changes made, by action.",
            ["action"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "scim_auth_failures_total",
            "Requests refused for missing or wrong credentials.",
            registry=self.registry,
        )
