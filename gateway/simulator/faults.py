"""Fault injection: rules that make the portal fail the way real networks and portals do.

A rule matches a method (or any) and a path prefix relative to the web context, fires for
`count` requests (or forever when `count` is None), and either answers an error status, waits
before answering, or drops the connection. With `after_commit` the real operation runs first,
so the client sees a failure for a change that did happen: the ambiguous case a client must
resolve by reading back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FaultAction(StrEnum):
    STATUS = "status"
    """Answer `status` (with `Retry-After` on 429 and 503)."""

    DELAY = "delay"
    """Wait `delay_seconds`, then answer normally: long enough to trip a client timeout."""

    DROP = "drop"
    """Close the connection without answering."""


@dataclass
class FaultRule:
    path_prefix: str
    action: FaultAction = FaultAction.STATUS
    method: str | None = None
    count: int | None = 1
    status: int = 503
    retry_after: int | None = 1
    delay_seconds: float = 0.0
    after_commit: bool = False

    def __post_init__(self) -> None:
        self.action = FaultAction(self.action)
        if self.method is not None:
            self.method = self.method.upper()
        if not self.path_prefix.startswith("/"):
            raise ValueError("path_prefix is relative to the web context and starts with '/'")
        if self.count is not None and self.count < 1:
            raise ValueError("count is at least 1, or None for a rule that never runs out")
        if not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds cannot be negative")

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False

        return path.startswith(self.path_prefix)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultRule:
        """Build a rule from the admin API's camelCase JSON; unknown keys are an error."""
        names = {
            "pathPrefix": "path_prefix",
            "action": "action",
            "method": "method",
            "count": "count",
            "status": "status",
            "retryAfter": "retry_after",
            "delaySeconds": "delay_seconds",
            "afterCommit": "after_commit",
        }
        unknown = sorted(set(body) - set(names))
        if unknown:
            raise ValueError(f"unknown fault rule keys: {', '.join(unknown)}")

        return cls(**{names[key]: value for key, value in body.items()})

    def to_json(self) -> dict[str, Any]:
        return {
            "pathPrefix": self.path_prefix,
            "action": str(self.action),
            "method": self.method,
            "count": self.count,
            "status": self.status,
            "retryAfter": self.retry_after,
            "delaySeconds": self.delay_seconds,
            "afterCommit": self.after_commit,
        }


class Faults:
    """The active rules, in the order added; the first match fires."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def add(self, rule: FaultRule) -> None:
        self._rules.append(rule)

    def clear(self) -> None:
        self._rules.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        """Return the rule that fires for this request, using up one of its shots."""
        for rule in self._rules:
            if rule.matches(method, path):
                break
        else:
            return None

        if rule.count is not None:
            rule.count -= 1
            if rule.count == 0:
                self._rules.remove(rule)

        return rule
