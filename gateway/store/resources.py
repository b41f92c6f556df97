"""What the gateway keeps for one SCIM resource: the parts Kyvos has no field for."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

KINDS: Final = ("User", "Group")


@dataclass(frozen=True)
class StoredResource:
    """The SCIM `externalId`, `meta` and portal-less attributes of one resource.

    `portal_id` is the Kyvos id, which is also the SCIM `id`. `extra` holds SCIM attributes
    with no portal field, as JSON. Both timestamps are aware datetimes; the store hands them
    back in UTC.
    """

    kind: str
    portal_id: str
    external_id: str | None
    extra: dict[str, Any]
    created: datetime
    last_modified: datetime
    version: int

    def __post_init__(self) -> None:
        check_kind(self.kind)
        for name in ("created", "last_modified"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"StoredResource.{name} must be an aware datetime (UTC)")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
