"""Audit events: one `audit` log event per identity change, with ids and never PII.

The request id and client id come from the request's bound context, so an SRE can join an audit
event to its `access` event.
"""

from typing import Any

import structlog

from gateway.observability.metrics import Metrics


class Audit:
    def __init__(self, metrics: Metrics | None = None) -> None:
        self._logger = structlog.get_logger("audit")
        self._metrics = metrics

    def record(self, action: str, *, resource_type: str, resource_id: str, **fields: Any) -> None:
        """Record one change, e.g. `user.created`, `group.members_added`."""
        self._logger.info(
            "audit", action=action, resource_type=resource_type, resource_id=resource_id, **fields
        )
        if self._metrics is not None:
            self._metrics.audit_events.labels(action=action).inc()
