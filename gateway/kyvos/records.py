"""What the Kyvos Web Portal holds, as the rest of the gateway sees it.

Plain frozen values with no knowledge of the wire: `contract` builds them from the portal's JSON,
so that a portal release with other field names changes that module and nothing else.
"""

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

UserStatus = Literal["ACTIVE", "INACTIVE"]


@dataclass(frozen=True, slots=True)
class PortalUser:
    id: str
    user_name: str
    email: str | None
    first_name: str | None
    last_name: str | None
    auth_type: str | None
    role: str | None
    status: UserStatus
    description: str | None
    groups: tuple[str, ...]
    """Ids of the groups the user belongs to; read-only on the portal."""
    effective_role: str | None = None
    """Read-only on the portal: the highest of `role` and the roles of the user's groups."""


@dataclass(frozen=True, slots=True)
class PortalGroup:
    id: str
    name: str
    roles: tuple[str, ...]
    description: str | None
    member_count: int


@dataclass(frozen=True, slots=True)
class PortalMember:
    id: str
    user_name: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One slice of a listing; `total` counts every match, not only the items in this slice."""

    total: int
    items: list[T]
