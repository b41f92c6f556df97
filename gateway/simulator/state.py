"""The portal's memory: roles, users, groups, memberships, login sessions and what it served.

Everything lives in dictionaries indexed the way the portal is queried (lower-cased userName,
e-mail and group name; member sets per group), so lookups stay constant-time with 10k+ users.
Dictionaries keep insertion order, which gives the stable creation order listings promise.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.simulator.config import SimulatorConfig
from gateway.simulator.errors import PortalRefusal, bad_request, conflict, not_found
from gateway.simulator.faults import Faults

# Highest first: a user's effective role is the highest of these they hold.
SEEDED_ROLES = ("Administrator", "Designer", "Business User")

USER_STATUSES = ("ACTIVE", "INACTIVE")

EXISTING_USER_NAME = "dana.whitfield@example.com"

REQUEST_LOG_SIZE = 100_000

Clock = Callable[[], float]


@dataclass
class PortalUser:
    id: str
    user_name: str
    email: str | None
    first_name: str | None
    last_name: str | None
    auth_type: str
    role: str
    status: str = "ACTIVE"
    description: str | None = None
    first_login_actions: dict[str, Any] | None = None
    password_set_count: int = 0
    groups: dict[str, None] = field(default_factory=dict)
    """Ids of the groups the user is in, as an ordered set."""


@dataclass
class PortalGroup:
    id: str
    name: str
    roles: list[str]
    description: str | None = None
    members: dict[str, None] = field(default_factory=dict)
    """Ids of the member users, as an ordered set (order of joining)."""


@dataclass(frozen=True)
class LoginAttempt:
    """A login the portal received. The password itself is never kept."""

    username: str
    password_given: bool
    succeeded: bool


class Sessions:
    """Session ids handed out at login, each dying after an idle time."""

    def __init__(self, idle_seconds: float, clock: Clock) -> None:
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._last_used: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._last_used)

    def open(self) -> str:
        session_id = secrets.token_hex(16)
        self._last_used[session_id] = self._clock()

        return session_id

    def touch(self, session_id: str | None) -> None:
        """Accept a live session and restart its idle time; refuse anything else with 401."""
        if not session_id:
            raise PortalRefusal(401, "NOT_AUTHENTICATED", "Log in and send the sessionid header.")

        last_used = self._last_used.get(session_id)
        if last_used is None:
            raise PortalRefusal(401, "INVALID_SESSION", "Unknown session; log in again.")

        now = self._clock()
        if now - last_used > self.idle_seconds:
            del self._last_used[session_id]
            raise PortalRefusal(401, "SESSION_EXPIRED", "The session expired; log in again.")

        self._last_used[session_id] = now

    def expire_all(self) -> None:
        """End every session at once, as a portal restart or an idle timeout would."""
        self._last_used = dict.fromkeys(self._last_used, float("-inf"))

    def clear(self) -> None:
        self._last_used.clear()


@dataclass(frozen=True)
class ServedRequest:
    method: str
    path: str
    route: str
    status: int | None
    """None when no answer was sent (the connection was dropped)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "status": self.status,
        }


class RequestLog:
    """What the portal was asked, so tests and benchmarks can count portal calls and logins."""

    def __init__(self) -> None:
        self.entries: deque[ServedRequest] = deque(maxlen=REQUEST_LOG_SIZE)
        self.logins: list[LoginAttempt] = []
        self.calls: Counter[str] = Counter()

    def record(self, method: str, path: str, route: str, status: int | None) -> None:
        self.entries.append(ServedRequest(method, path, route, status))
        self.calls[f"{method} {route}"] += 1

    def record_login(self, attempt: LoginAttempt) -> None:
        self.logins.append(attempt)

    def counters(self) -> dict[str, Any]:
        return {
            "requests": sum(self.calls.values()),
            "loginAttempts": len(self.logins),
            "logins": sum(1 for attempt in self.logins if attempt.succeeded),
            "calls": dict(self.calls),
        }

    def clear(self) -> None:
        self.entries.clear()
        self.logins.clear()
        self.calls.clear()


class PortalState:
    """One simulated portal's users, groups and sessions, and the rules it enforces."""

    def __init__(self, config: SimulatorConfig, *, clock: Clock = time.monotonic) -> None:
        self.config = config
        self.sessions = Sessions(config.session_idle_seconds, clock)
        self.faults = Faults()
        self.requests = RequestLog()
        self.role_ranks: dict[str, int] = {}
        self.users: dict[str, PortalUser] = {}
        self.groups: dict[str, PortalGroup] = {}
        self._user_ids_by_name: dict[str, str] = {}
        self._user_ids_by_email: dict[str, dict[str, None]] = {}
        self._group_ids_by_name: dict[str, str] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the seeded portal: no sessions, no faults, an empty request log."""
        self.sessions.clear()
        self.faults.clear()
        self.requests.clear()
        self.users.clear()
        self.groups.clear()
        self._user_ids_by_name.clear()
        self._user_ids_by_email.clear()
        self._group_ids_by_name.clear()

        self.role_ranks = {name: len(SEEDED_ROLES) - i for i, name in enumerate(SEEDED_ROLES)}
        self._seed_service_account()
        if self.config.seed_existing_user:
            self._seed_existing_user()

    # -- login ------------------------------------------------------------------------------

    def log_in(self, username: str | None, password: str | None) -> str:
        """Open a session for the service account; every attempt is recorded, none kept."""
        succeeded = (
            username is not None
            and password is not None
            and username.lower() == self.config.service_username.lower()
            and hmac.compare_digest(password.encode(), self.config.service_password.encode())
        )
        self.requests.record_login(
            LoginAttempt(username or "", password_given=bool(password), succeeded=succeeded)
        )
        if not succeeded:
            raise PortalRefusal(401, "INVALID_CREDENTIALS", "Wrong username or password.")

        return self.sessions.open()

    # -- roles ------------------------------------------------------------------------------

    @property
    def role_names(self) -> list[str]:
        return sorted(self.role_ranks, key=self.role_ranks.__getitem__, reverse=True)

    def add_role(self, name: str, rank: int) -> None:
        """Add a custom role; a higher rank wins when computing a user's effective role."""
        self.role_ranks[name] = rank

    def effective_role(self, user: PortalUser) -> str:
        """The highest of the user's own role and the roles their groups grant."""
        granted = itertools.chain(
            [user.role], *(self.groups[group_id].roles for group_id in user.groups)
        )

        return max(granted, key=lambda name: self.role_ranks.get(name, 0))

    def _check_role(self, name: Any) -> str:
        if not isinstance(name, str) or name not in self.role_ranks:
            raise bad_request("UNKNOWN_ROLE", f"No role named {name!r}; see security/roles.")

        return name

    # -- users ------------------------------------------------------------------------------

    def find_users(
        self,
        *,
        user_name: str | None = None,
        email: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[PortalUser]]:
        """Exact, case-insensitive matches on the given fields (all users when none)."""
        matches: Collection[str]
        if user_name is not None:
            user_id = self._user_ids_by_name.get(user_name.lower())
            matches = [user_id] if user_id else []
            if email is not None:
                wanted = self._user_ids_by_email.get(email.lower(), {})
                matches = [user_id for user_id in matches if user_id in wanted]
        elif email is not None:
            matches = self._user_ids_by_email.get(email.lower(), {})
        else:
            matches = self.users

        total = len(matches)
        page = itertools.islice(matches, offset, offset + limit)

        return total, [self.users[user_id] for user_id in page]

    def get_user(self, user_id: str) -> PortalUser:
        user = self.users.get(user_id)
        if user is None:
            raise not_found("USER_NOT_FOUND", f"No user with id {user_id!r}.")

        return user

    def create_user(self, body: dict[str, Any]) -> PortalUser:
        """Create a user; its role comes from firstLoginActions.roleName (or `role`)."""
        user_name = _required_text(body, "userName")
        if user_name.lower() in self._user_ids_by_name:
            raise conflict("USER_EXISTS", f"A user named {user_name!r} already exists.")

        first_login_actions = _first_login_actions(body.get("firstLoginActions"))
        role_name = (first_login_actions or {}).get("roleName") or body.get("role")
        if role_name is None:
            raise bad_request(
                "ROLE_REQUIRED", "Give firstLoginActions.roleName (or role) for a new user."
            )

        user = PortalUser(
            id=uuid.uuid4().hex,
            user_name=user_name,
            email=_optional_text(body, "email"),
            first_name=_optional_text(body, "firstName"),
            last_name=_optional_text(body, "lastName"),
            auth_type=_optional_text(body, "authType") or self.config.authentication_system,
            role=self._check_role(role_name),
            status=_status(body.get("status", "ACTIVE")),
            description=_optional_text(body, "description"),
            first_login_actions=first_login_actions,
            password_set_count=1 if _optional_text(body, "password") else 0,
        )
        self._index_user(user)

        return user

    def update_user(self, user_id: str, body: dict[str, Any]) -> PortalUser:
        """Merge the mutable fields given; read-only ones are ignored. All or nothing."""
        user = self.get_user(user_id)
        changes: dict[str, Any] = {}

        if "userName" in body:
            user_name = _required_text(body, "userName")
            holder = self._user_ids_by_name.get(user_name.lower())
            if holder is not None and holder != user.id:
                raise conflict("USER_EXISTS", f"A user named {user_name!r} already exists.")
            changes["user_name"] = user_name

        for key, attribute in _USER_TEXT_FIELDS.items():
            if key in body:
                changes[attribute] = _optional_text(body, key)

        if "status" in body:
            changes["status"] = _status(body["status"])

        if "role" in body and body["role"] != user.role:
            changes["role"] = self._changed_role(body["role"])

        password = _optional_text(body, "password")

        self._unindex_user(user)
        for attribute, value in changes.items():
            setattr(user, attribute, value)
        if password:
            user.password_set_count += 1
        self._index_user(user)

        return user

    def _changed_role(self, role: Any) -> str:
        # Kyvos: a role is managed in the portal unless users authenticate through RAS.
        if self.config.authentication_system != "RAS":
            raise PortalRefusal(
                403,
                "ROLE_CHANGE_NOT_ALLOWED",
                "Roles can be changed through the API only when the portal uses the Remote "
                "Authentication System; change the role in the portal instead.",
            )

        return self._check_role(role)

    def delete_user(self, user_id: str) -> None:
        user = self.get_user(user_id)

        for group_id in user.groups:
            del self.groups[group_id].members[user.id]

        self._unindex_user(user)
        del self.users[user.id]

    def seed_users(self, count: int, *, prefix: str = "seed", role: str = "Business User") -> int:
        """Add `count` ready-made users quickly (benchmarks); returns how many were added."""
        role = self._check_role(role)
        start = len(self.users)
        added = 0
        for i in range(start, start + count):
            user_name = f"{prefix}.{i}@example.com"
            if user_name.lower() in self._user_ids_by_name:
                continue
            user = PortalUser(
                id=uuid.uuid4().hex,
                user_name=user_name,
                email=user_name,
                first_name="Seed",
                last_name=str(i),
                auth_type=self.config.authentication_system,
                role=role,
            )
            self._index_user(user)
            added += 1

        return added

    def _index_user(self, user: PortalUser) -> None:
        self.users[user.id] = user
        self._user_ids_by_name[user.user_name.lower()] = user.id
        if user.email:
            self._user_ids_by_email.setdefault(user.email.lower(), {})[user.id] = None

    def _unindex_user(self, user: PortalUser) -> None:
        del self._user_ids_by_name[user.user_name.lower()]
        if user.email:
            holders = self._user_ids_by_email[user.email.lower()]
            del holders[user.id]
            if not holders:
                del self._user_ids_by_email[user.email.lower()]

    def _seed_service_account(self) -> None:
        name = self.config.service_username
        self._index_user(
            PortalUser(
                id=uuid.uuid4().hex,
                user_name=name,
                email=name if "@" in name else f"{name}@example.com",
                first_name="SCIM",
                last_name="Gateway",
                auth_type="NATIVE",
                role="Administrator",
                description="Service account of the SCIM gateway",
                password_set_count=1,
            )
        )

    def _seed_existing_user(self) -> None:
        self._index_user(
            PortalUser(
                id=uuid.uuid4().hex,
                user_name=EXISTING_USER_NAME,
                email=EXISTING_USER_NAME,
                first_name="Dana",
                last_name="Whitfield",
                auth_type=self.config.authentication_system,
                role="Designer",
            )
        )

    # -- groups -----------------------------------------------------------------------------

    def find_groups(
        self, *, name: str | None = None, offset: int = 0, limit: int = 100
    ) -> tuple[int, list[PortalGroup]]:
        """Exact, case-insensitive match on the name (all groups when none)."""
        matches: Collection[str]
        if name is not None:
            group_id = self._group_ids_by_name.get(name.lower())
            matches = [group_id] if group_id else []
        else:
            matches = self.groups

        total = len(matches)
        page = itertools.islice(matches, offset, offset + limit)

        return total, [self.groups[group_id] for group_id in page]

    def get_group(self, group_id: str) -> PortalGroup:
        group = self.groups.get(group_id)
        if group is None:
            raise not_found("GROUP_NOT_FOUND", f"No group with id {group_id!r}.")

        return group

    def create_group(self, body: dict[str, Any]) -> PortalGroup:
        name = _required_text(body, "name")
        if name.lower() in self._group_ids_by_name:
            raise conflict("GROUP_EXISTS", f"A group named {name!r} already exists.")

        group = PortalGroup(
            id=uuid.uuid4().hex,
            name=name,
            roles=self._check_roles(body.get("roles", [])),
            description=_optional_text(body, "description"),
        )
        self.groups[group.id] = group
        self._group_ids_by_name[name.lower()] = group.id

        return group

    def update_group(self, group_id: str, body: dict[str, Any]) -> PortalGroup:
        """Merge name, roles and description; all or nothing."""
        group = self.get_group(group_id)
        name = _required_text(body, "name") if "name" in body else group.name
        holder = self._group_ids_by_name.get(name.lower())
        if holder is not None and holder != group.id:
            raise conflict("GROUP_EXISTS", f"A group named {name!r} already exists.")
        roles = self._check_roles(body["roles"]) if "roles" in body else group.roles
        description = (
            _optional_text(body, "description") if "description" in body else group.description
        )

        del self._group_ids_by_name[group.name.lower()]
        group.name, group.roles, group.description = name, roles, description
        self._group_ids_by_name[name.lower()] = group.id

        return group

    def delete_group(self, group_id: str) -> None:
        group = self.get_group(group_id)

        for user_id in group.members:
            del self.users[user_id].groups[group.id]

        del self._group_ids_by_name[group.name.lower()]
        del self.groups[group.id]

    def list_members(
        self, group_id: str, *, offset: int = 0, limit: int = 500
    ) -> tuple[int, list[PortalUser]]:
        group = self.get_group(group_id)
        page = itertools.islice(group.members, offset, offset + limit)

        return len(group.members), [self.users[user_id] for user_id in page]

    def add_members(self, group_id: str, user_ids: Any) -> None:
        """Idempotent: users already in the group stay as they are."""
        group = self.get_group(group_id)

        for user in self._member_users(user_ids):
            group.members[user.id] = None
            user.groups[group.id] = None

    def remove_members(self, group_id: str, user_ids: Any) -> None:
        """Idempotent: users not in the group are left alone."""
        group = self.get_group(group_id)

        for user in self._member_users(user_ids):
            group.members.pop(user.id, None)
            user.groups.pop(group.id, None)

    def _member_users(self, user_ids: Any) -> list[PortalUser]:
        """Every user named, checked before anything changes: one unknown id changes nothing."""
        if not isinstance(user_ids, list) or not all(isinstance(i, str) for i in user_ids):
            raise bad_request("INVALID_FIELD", "userIds must be a list of user ids.")

        return [self.get_user(user_id) for user_id in user_ids]

    def _check_roles(self, roles: Any) -> list[str]:
        if not isinstance(roles, list):
            raise bad_request("INVALID_FIELD", "roles must be a list of role names.")

        return list(dict.fromkeys(self._check_role(role) for role in roles))


# Nullable text fields of a user a PUT may change, JSON name -> attribute.
_USER_TEXT_FIELDS = {
    "email": "email",
    "firstName": "first_name",
    "lastName": "last_name",
    "description": "description",
}

_FIRST_LOGIN_ACTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "roleName": str,
    "sendWelcomeMailToUser": bool,
    "updatePreferences": bool,
    "defaultEntities": list,
}


def _required_text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_request("INVALID_FIELD", f"{key} is required and must be a non-empty string.")

    return value


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request("INVALID_FIELD", f"{key} must be a string or null.")

    return value


def _status(value: Any) -> str:
    if value not in USER_STATUSES:
        raise bad_request("INVALID_STATUS", f"status must be one of {', '.join(USER_STATUSES)}.")

    return str(value)


def _first_login_actions(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("INVALID_FIELD", "firstLoginActions must be an object.")

    for key, expected in _FIRST_LOGIN_ACTION_TYPES.items():
        if key in value and not isinstance(value[key], expected):
            raise bad_request("INVALID_FIELD", f"firstLoginActions.{key} has the wrong type.")

    return dict(value)


SIMULATOR_STATE = web.AppKey("simulator_state", PortalState)
