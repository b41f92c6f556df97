"""The assumed Kyvos Web Portal API: paths, query parameters, JSON field names, wire shapes.

Only login (`POST /rest/login`, an XML `SUCCESS` element holding the session id, then a
`sessionid` header) is documented publicly. The user, group, role and authentication endpoints
below follow a contract this project assumes (DESIGN.md section 4), which the simulator
implements exactly. Adapting the gateway to a portal release that differs means editing this
file, and only this file: it turns calls into `PortalRequest`s and the portal's answers into
`records`, with no I/O of its own.

Anything the portal answers outside this contract raises `PortalProtocolError`, never a
`KeyError` or a half-filled record.
"""

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import quote

from gateway.kyvos.errors import PortalNotFound, PortalProtocolError
from gateway.kyvos.records import Page, PortalGroup, PortalMember, PortalUser, UserStatus

T = TypeVar("T")

SESSION_HEADER = "sessionid"

ADAPT_HINT = "the portal's answer does not match gateway/kyvos/contract.py"


@dataclass(frozen=True, slots=True)
class Route:
    """One portal endpoint. `template` names it in logs and metrics: it never carries an id, a
    query string or an e-mail address."""

    method: str
    template: str
    idempotent: bool = True
    authenticated: bool = True

    def path(self, **ids: str) -> str:
        return self.template.format(**{name: _segment(value) for name, value in ids.items()})


@dataclass(frozen=True, slots=True)
class PortalRequest:
    """A call to make, relative to the portal's web context (for example `/kyvos`)."""

    route: Route
    path: str
    params: dict[str, str | int] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None


LOGIN = Route("POST", "/rest/login", authenticated=False)
ABOUT = Route("GET", "/rest/about", authenticated=False)
AUTHENTICATION = Route("GET", "/rest/security/authentication")
ROLES = Route("GET", "/rest/security/roles")

USERS = Route("GET", "/rest/security/users")
NEW_USER = Route("POST", "/rest/security/users", idempotent=False)
USER = Route("GET", "/rest/security/users/{id}")
USER_UPDATE = Route("PUT", "/rest/security/users/{id}")
USER_DELETE = Route("DELETE", "/rest/security/users/{id}")

GROUPS = Route("GET", "/rest/security/groups")
NEW_GROUP = Route("POST", "/rest/security/groups", idempotent=False)
GROUP = Route("GET", "/rest/security/groups/{id}")
GROUP_UPDATE = Route("PUT", "/rest/security/groups/{id}")
GROUP_DELETE = Route("DELETE", "/rest/security/groups/{id}")

# The portal documents both member calls as idempotent deltas, so they may be repeated.
MEMBERS = Route("GET", "/rest/security/groups/{id}/members")
MEMBERS_ADD = Route("POST", "/rest/security/groups/{id}/members")
MEMBERS_REMOVE = Route("POST", "/rest/security/groups/{id}/members/remove")


# -- requests ----------------------------------------------------------------------------------


def login(username: str, password: str) -> PortalRequest:
    return PortalRequest(LOGIN, LOGIN.path(), form={"username": username, "password": password})


def about() -> PortalRequest:
    return PortalRequest(ABOUT, ABOUT.path())


def authentication() -> PortalRequest:
    return PortalRequest(AUTHENTICATION, AUTHENTICATION.path())


def roles() -> PortalRequest:
    return PortalRequest(ROLES, ROLES.path())


def find_users(
    *, user_name: str | None, email: str | None, offset: int, limit: int
) -> PortalRequest:
    """The portal matches `userName` and `email` exactly, ignoring case."""
    params = _page_params(offset, limit)
    if user_name is not None:
        params["userName"] = user_name
    if email is not None:
        params["email"] = email

    return PortalRequest(USERS, USERS.path(), params=params)


def get_user(user_id: str) -> PortalRequest:
    return PortalRequest(USER, USER.path(id=user_id))


def create_user(fields: Mapping[str, Any]) -> PortalRequest:
    return PortalRequest(NEW_USER, NEW_USER.path(), json=dict(fields))


def update_user(user_id: str, fields: Mapping[str, Any]) -> PortalRequest:
    return PortalRequest(USER_UPDATE, USER_UPDATE.path(id=user_id), json=dict(fields))


def delete_user(user_id: str) -> PortalRequest:
    return PortalRequest(USER_DELETE, USER_DELETE.path(id=user_id))


def find_groups(*, name: str | None, offset: int, limit: int) -> PortalRequest:
    params = _page_params(offset, limit)
    if name is not None:
        params["name"] = name

    return PortalRequest(GROUPS, GROUPS.path(), params=params)


def get_group(group_id: str) -> PortalRequest:
    return PortalRequest(GROUP, GROUP.path(id=group_id))


def create_group(fields: Mapping[str, Any]) -> PortalRequest:
    return PortalRequest(NEW_GROUP, NEW_GROUP.path(), json=dict(fields))


def update_group(group_id: str, fields: Mapping[str, Any]) -> PortalRequest:
    return PortalRequest(GROUP_UPDATE, GROUP_UPDATE.path(id=group_id), json=dict(fields))


def delete_group(group_id: str) -> PortalRequest:
    return PortalRequest(GROUP_DELETE, GROUP_DELETE.path(id=group_id))


def list_members(group_id: str, *, offset: int, limit: int) -> PortalRequest:
    path = MEMBERS.path(id=group_id)

    return PortalRequest(MEMBERS, path, params=_page_params(offset, limit))


def add_members(group_id: str, user_ids: list[str]) -> PortalRequest:
    path = MEMBERS_ADD.path(id=group_id)

    return PortalRequest(MEMBERS_ADD, path, json={"userIds": list(user_ids)})


def remove_members(group_id: str, user_ids: list[str]) -> PortalRequest:
    path = MEMBERS_REMOVE.path(id=group_id)

    return PortalRequest(MEMBERS_REMOVE, path, json={"userIds": list(user_ids)})


def user_name_of(fields: Mapping[str, Any]) -> str | None:
    """The natural key a created user can be found by again."""
    value = fields.get("userName")

    return value if isinstance(value, str) and value else None


def group_name_of(fields: Mapping[str, Any]) -> str | None:
    """The natural key a created group can be found by again."""
    value = fields.get("name")

    return value if isinstance(value, str) and value else None


def user_created_as_sent(user: PortalUser, fields: Mapping[str, Any]) -> bool:
    """Whether `user` is exactly what creating `fields` makes: the same names, e-mail and
    status, the onboarding role and no groups. A user that differs in any of these existed
    before the creation, so a retried creation must not take it for its own. Compared
    exactly: a portal that rewrote a name would cost a 409, never a user taken over."""
    actions = fields.get("firstLoginActions")
    role = actions.get("roleName") if isinstance(actions, dict) else None
    made = {
        "userName": user.user_name,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "status": user.status,
        "role": user.role,
    }
    sent = {
        "userName": fields.get("userName"),
        "email": fields.get("email"),
        "firstName": fields.get("firstName"),
        "lastName": fields.get("lastName"),
        "status": fields.get("status") or "ACTIVE",
        "role": role or fields.get("role"),
    }

    return made == sent and not user.groups


def group_created_as_sent(group: PortalGroup, fields: Mapping[str, Any]) -> bool:
    """Whether `group` is exactly what creating `fields` makes: the same name and roles and no
    members yet (see `user_created_as_sent`)."""
    roles = fields.get("roles") or []

    return (
        group.name == fields.get("name")
        and set(group.roles) == set(roles)
        and group.member_count == 0
    )


# -- answers -----------------------------------------------------------------------------------


def parse_session_id(body: bytes) -> str | None:
    """The session id in the login answer's `SUCCESS` element; None when the portal answered
    without one (an `ERROR` element: the credentials were refused).

    Our own portal is trusted, but the answer is still parsed defensively: the caller caps its
    size, and a document type declaration (the door to entity expansion) is refused outright.
    """
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise PortalProtocolError(f"{ADAPT_HINT}: the login answer declares a document type")

    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise PortalProtocolError(f"{ADAPT_HINT}: the login answer is not XML") from error

    for element in root.iter():
        if _local_name(element.tag) == "SUCCESS" and (element.text or "").strip():
            return (element.text or "").strip()

    if any(_local_name(element.tag) == "ERROR" for element in root.iter()):
        return None
    raise PortalProtocolError(f"{ADAPT_HINT}: the login answer has no SUCCESS element")


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PortalProtocolError(f"{ADAPT_HINT}: the answer is not JSON") from error


def parse_error(body: bytes) -> tuple[str | None, str | None]:
    """The portal's `errorCode` and `message`, or Nones when an error body has another shape
    (a proxy's HTML page, for example): an error must never be hidden by its own body."""
    try:
        content = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(content, dict):
        return None, None

    code, message = content.get("errorCode"), content.get("message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else None,
    )


def parse_about(content: Any) -> dict[str, Any]:
    return _object(content, "about")


def parse_authentication_system(content: Any) -> str:
    answer = _object(content, "authentication")

    return _text(answer, "authenticationSystem", "authentication", required=True).upper()


def parse_role_names(content: Any) -> list[str]:
    roles = _list(content, "roles")

    return [_text(_object(role, "role"), "name", "role", required=True) for role in roles]


def parse_user(content: Any) -> PortalUser:
    user = _object(content, "user")

    return PortalUser(
        id=_id(user, "user"),
        user_name=_text(user, "userName", "user", required=True),
        email=_text(user, "email", "user"),
        first_name=_text(user, "firstName", "user"),
        last_name=_text(user, "lastName", "user"),
        auth_type=_text(user, "authType", "user"),
        role=_text(user, "role", "user"),
        status=_status(user),
        description=_text(user, "description", "user"),
        groups=tuple(_ids(user.get("groups"), "user groups")),
        effective_role=_text(user, "effectiveRole", "user"),
    )


def parse_users(content: Any) -> Page[PortalUser]:
    return _page(content, "users", parse_user)


def parse_group(content: Any) -> PortalGroup:
    group = _object(content, "group")

    return PortalGroup(
        id=_id(group, "group"),
        name=_text(group, "name", "group", required=True),
        roles=tuple(_names(group.get("roles"))),
        description=_text(group, "description", "group"),
        member_count=_count(group.get("memberCount", 0), "group memberCount"),
    )


def _names(content: Any) -> list[str]:
    if content is None:
        return []
    if not isinstance(content, list) or not all(isinstance(role, str) for role in content):
        raise PortalProtocolError(f"{ADAPT_HINT}: group roles are not a list of names")

    return list(content)


def parse_groups(content: Any) -> Page[PortalGroup]:
    return _page(content, "groups", parse_group)


def parse_member(content: Any) -> PortalMember:
    member = _object(content, "member")

    return PortalMember(
        id=_id(member, "member"),
        user_name=_text(member, "userName", "member", required=True),
    )


def parse_members(content: Any) -> Page[PortalMember]:
    return _page(content, "users", parse_member)


# -- field checks ------------------------------------------------------------------------------


def _segment(value: str) -> str:
    """One path segment. Ids come from IdP requests, so `/` is escaped and dot segments are
    refused: an id must never walk the path out of the portal's API (toward `/kyvosmanager`)."""
    text = str(value)
    if text in ("", ".", ".."):
        raise PortalNotFound(f"no portal record has the id {text!r}", status=404)

    return quote(text, safe="")


def _page_params(offset: int, limit: int) -> dict[str, str | int]:
    return {"offset": max(0, int(offset)), "limit": max(0, int(limit))}


def _page(content: Any, key: str, parse: Callable[[Any], T]) -> Page[T]:
    page = _object(content, key)

    return Page(
        total=_count(page.get("total"), f"{key} total"),
        items=[parse(item) for item in _list(page.get(key), key)],
    )


def _object(content: Any, what: str) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise PortalProtocolError(f"{ADAPT_HINT}: {what} is not a JSON object")

    return cast(dict[str, Any], content)


def _list(content: Any, what: str) -> list[Any]:
    if not isinstance(content, list):
        raise PortalProtocolError(f"{ADAPT_HINT}: {what} is not a JSON list")

    return content


def _text(content: dict[str, Any], key: str, what: str, *, required: bool = False) -> Any:
    value = content.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise PortalProtocolError(f"{ADAPT_HINT}: {what} field '{key}' is missing or not text")

    return value


def _id(content: dict[str, Any], what: str) -> str:
    value = content.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise PortalProtocolError(f"{ADAPT_HINT}: {what} field 'id' is missing")

    return str(value)


def _ids(content: Any, what: str) -> list[str]:
    if content is None:
        return []
    items = _list(content, what)
    if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in items):
        raise PortalProtocolError(f"{ADAPT_HINT}: {what} are not ids")

    return [str(item) for item in items]


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PortalProtocolError(f"{ADAPT_HINT}: {what} is not a count")

    return value


def _status(user: dict[str, Any]) -> UserStatus:
    # Deactivation depends on this field, so an unknown value is refused, never guessed.
    status = str(user.get("status", "")).upper()
    if status == "ACTIVE":
        return "ACTIVE"
    if status == "INACTIVE":
        return "INACTIVE"

    raise PortalProtocolError(f"{ADAPT_HINT}: user status {user.get('status')!r} is unknown")


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
