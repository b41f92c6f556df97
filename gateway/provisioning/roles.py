"""Kyvos roles: group-to-role rules, the user's own role over SCIM, and role explanations.

Kyvos grants each user an effective role: the highest of their own role and the roles of the
groups they belong to. The gateway uses both levers the way Kyvos allows:

- Group roles come from the configured rules (`[roles]`): the first rule matching a group's
  name or externalId decides the roles the portal group carries. Roles a rule did not grant
  (given to a group by hand in Kyvos) are left alone; a group that stops matching a rule loses
  that rule's roles.
- A user's own role is set by onboarding when the gateway creates the user, and changes over
  SCIM (`roles` on PUT or PATCH) only when the portal authenticates through its Remote
  Authentication System (RAS), as Kyvos allows; otherwise the change is refused.
"""

import fnmatch
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.kyvos.client import PortalClient
from gateway.kyvos.errors import PortalNotFound
from gateway.kyvos.records import PortalGroup, PortalUser
from gateway.observability.audit import Audit
from gateway.scim.errors import InvalidValue, Mutability
from gateway.settings import RoleRule, Settings
from gateway.store import Store

REMOTE_AUTHENTICATION = "RAS"

# How long the portal's authentication system is trusted before it is asked again. It changes
# only when an administrator reconfigures the portal; a short time keeps that visible quickly.
AUTHENTICATION_TTL_SECONDS = 30.0

logger = structlog.get_logger("provisioning.roles")


# Group-to-role rules.


@dataclass(frozen=True)
class RuleMatch:
    """The rule that decides a group's roles: its place in the config (from 0) and the rule."""

    index: int
    rule: RoleRule
    also_matching: tuple[int, ...] = ()

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.rule.roles)

    def describe(self) -> str:
        """`roles.rules.1 (display_name_pattern = "Kyvos BI *")`, as the config names it."""
        matcher = next(
            f"{key} = {json.dumps(value)}"
            for key, value in (
                ("display_name", self.rule.display_name),
                ("display_name_pattern", self.rule.display_name_pattern),
                ("external_id", self.rule.external_id),
            )
            if value is not None
        )
        return f"roles.rules.{self.index} ({matcher})"


def rule_matches(rule: RoleRule, display_name: str | None, external_id: str | None) -> bool:
    """Names ignore case, as Kyvos group names do; an externalId is matched exactly."""
    name = (display_name or "").casefold()
    if rule.display_name is not None:
        return display_name is not None and name == rule.display_name.casefold()
    if rule.display_name_pattern is not None:
        pattern = rule.display_name_pattern.casefold()
        return display_name is not None and fnmatch.fnmatchcase(name, pattern)

    return external_id is not None and external_id == rule.external_id


def match_rule(
    rules: Sequence[RoleRule], display_name: str | None, external_id: str | None
) -> RuleMatch | None:
    """The first rule in config order that matches; later matches are only reported."""
    indexes = [
        index for index, rule in enumerate(rules) if rule_matches(rule, display_name, external_id)
    ]
    if not indexes:
        return None

    return RuleMatch(indexes[0], rules[indexes[0]], also_matching=tuple(indexes[1:]))


def log_decision(group_id: str, match: RuleMatch | None) -> None:
    """Which rule decided a group's roles; ids and rule numbers only, never names."""
    if match is None:
        return

    logger.info(
        "role_rule_matched",
        group_id=group_id,
        rule_index=match.index,
        also_matching=list(match.also_matching),
        roles=list(match.roles),
    )


def group_roles_after(
    current: Iterable[str], before: RuleMatch | None, after: RuleMatch | None
) -> tuple[str, ...]:
    """The roles a group carries once `after` applies: the previous rule's roles are taken
    away, the new rule's added, and any role given by hand in Kyvos kept."""
    withdrawn = set(before.roles) if before else set()
    kept = [role for role in current if role not in withdrawn]
    granted = list(after.roles) if after else []

    return tuple(dict.fromkeys([*kept, *granted]))


def audit_group_roles(
    audit: Audit,
    group: PortalGroup,
    *,
    previous: Sequence[str],
    match: RuleMatch | None,
) -> None:
    """One `group.roles_changed` event when a rule changed what the group grants its members."""
    if set(previous) == set(group.roles):
        return

    audit.record(
        "group.roles_changed",
        resource_type="Group",
        resource_id=group.id,
        roles_before=list(previous),
        roles_after=list(group.roles),
        rule_index=match.index if match else None,
        member_count=group.member_count,
    )


def audit_membership_roles(
    audit: Audit, group: PortalGroup, *, added: Sequence[str], removed: Sequence[str]
) -> None:
    """Joining or leaving a group with roles changes what Kyvos may grant those users."""
    if not group.roles:
        return

    for action, member_ids in (("group.roles_granted", added), ("group.roles_withdrawn", removed)):
        if member_ids:
            audit.record(
                action,
                resource_type="Group",
                resource_id=group.id,
                member_ids=list(member_ids),
                roles=list(group.roles),
            )


# The user's own role over SCIM.


def requested_role(elements: Any, current: str | None) -> str | None:
    """The one role a SCIM `roles` list asks for, or None when it asks for nothing.

    Kyvos gives a user one role of their own, so of several values the primary one counts
    (RFC 7643 §2.4); without a primary, a list that only adds one role to the current one asks
    for that role (Entra's app-role form sends every value with `primary: false`).
    """
    names = [(name, primary) for name, primary in _role_values(elements)]
    if not names:
        return None

    primaries = list(dict.fromkeys(name for name, primary in names if primary))
    if len(primaries) == 1:
        return primaries[0]

    distinct = _distinct(name for name, _ in names)
    if len(distinct) == 1:
        return distinct[0]
    others = [name for name in distinct if name.casefold() != (current or "").casefold()]
    if len(others) == 1:
        return others[0]

    raise InvalidValue(
        f"roles names {len(distinct)} roles ({', '.join(distinct)}); a Kyvos user has one "
        "role of their own. Send one role, or mark one primary. Group roles come from group "
        "membership."
    )


def changed_role_values(before: Any, after: Any) -> list[Any]:
    """The `roles` values a PATCH added or changed: only those can ask for another role."""
    previous = before if isinstance(before, list) else []
    current = after if isinstance(after, list) else []

    return [element for element in current if element not in previous]


def _role_values(elements: Any) -> list[tuple[str, bool]]:
    values = []
    for element in elements if isinstance(elements, list) else []:
        if not isinstance(element, dict):
            continue
        name = _role_name(element.get("value"))
        if name:
            values.append((name, element.get("primary") is True))

    return values


def _role_name(value: Any) -> str | None:
    """A role name; Entra may send a role as a JSON object inside the value string."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return value.strip()
    if isinstance(value, dict):
        value = value.get("value") or value.get("displayName")

    return value.strip() if isinstance(value, str) and value.strip() else None


def _distinct(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)

    return list(seen.values())


class DirectRoles:
    """Decides whether a user's own role may change, asking the portal how it authenticates.

    The answer is cached for `ttl` seconds: role writes are rare, and a portal switched to or
    from RAS is noticed within that time (at once when the portal refuses a change).
    """

    def __init__(
        self,
        portal: PortalClient,
        *,
        ttl: float = AUTHENTICATION_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._portal = portal
        self._ttl = ttl
        self._clock = clock
        self._cached: tuple[str, float] | None = None

    async def authentication_system(self) -> str:
        now = self._clock()
        if self._cached is not None and now - self._cached[1] < self._ttl:
            return self._cached[0]

        system = await self._portal.authentication_system()
        self._cached = (system, now)
        return system

    def forget(self) -> None:
        self._cached = None

    async def role_change(self, user: PortalUser, wanted: str | None) -> str | None:
        """The portal role to set, None when `wanted` is no change; refuses what Kyvos would."""
        if wanted is None or wanted.casefold() == (user.role or "").casefold():
            return None

        system = await self.authentication_system()
        if system != REMOTE_AUTHENTICATION:
            raise role_change_refused(system)

        return await self._portal_role(wanted)

    async def _portal_role(self, wanted: str) -> str:
        names = await self._portal.role_names()
        found = next((name for name in names if name.casefold() == wanted.casefold()), None)
        if found is None:
            raise InvalidValue(
                f"The Kyvos portal has no role {wanted!r}; its roles are "
                f"{', '.join(sorted(names))}. Map the IdP's role values to these names."
            )

        return found


def role_change_refused(system: str) -> Mutability:
    return Mutability(
        "Kyvos only allows role changes when it authenticates through its Remote "
        f"Authentication System; this portal uses {system}, so the user's role is managed in "
        "the Kyvos portal. Nothing was changed. Change the role in Kyvos, use a group that a "
        "role rule maps to a role, or stop sending `roles` from the IdP."
    )


# Explaining a user's effective role (the `roles --explain` command).


@dataclass(frozen=True)
class GroupRoles:
    group: PortalGroup
    match: RuleMatch | None

    def line(self) -> str:
        roles = ", ".join(self.group.roles) or "no roles"
        if self.match is None:
            source = "no rule matches; roles as set in Kyvos"
        else:
            source = f"from {self.match.describe()}"
            if not set(self.match.roles) <= set(self.group.roles):
                source += f"; the rule grants {', '.join(self.match.roles)}, not yet applied"
        return f"  group {self.group.name!r} ({self.group.id}): {roles} - {source}"


@dataclass(frozen=True)
class Explanation:
    user: PortalUser
    groups: tuple[GroupRoles, ...]

    def lines(self) -> list[str]:
        head = [
            f"user {self.user.user_name!r} ({self.user.id})",
            f"  direct role: {self.user.role or '(none)'}",
        ]
        groups = [group.line() for group in self.groups] or ["  no groups"]
        tail = [f"  effective role: {self.user.effective_role or '(not reported)'}"]

        return head + groups + tail


async def find_portal_user(portal: PortalClient, reference: str) -> PortalUser | None:
    """A user by userName (any case) or by portal id."""
    found = await portal.find_users(user_name=reference, limit=1)
    if found.items:
        return found.items[0]

    try:
        return await portal.get_user(reference)
    except PortalNotFound:
        return None


async def explain(
    portal: PortalClient,
    rules: Sequence[RoleRule],
    user: PortalUser,
    external_ids: dict[str, str | None],
) -> Explanation:
    """Where each part of the user's effective role comes from."""
    groups = []
    for group_id in user.groups:
        group = await portal.get_group(group_id)
        match = match_rule(rules, group.name, external_ids.get(group_id))
        groups.append(GroupRoles(group, match))

    return Explanation(user, tuple(groups))


def rule_lines(rules: Sequence[RoleRule], portal_roles: Sequence[str]) -> list[str]:
    """The rules in config order, each role marked when the portal does not have it."""
    if not rules:
        return ["  no group-to-role rules: groups carry only the roles set in Kyvos"]

    lines = []
    for index, rule in enumerate(rules):
        roles = [role if role in portal_roles else f"{role} (unknown)" for role in rule.roles]
        described = RuleMatch(index, rule).describe()
        lines.append(f"  {described} -> {', '.join(roles)}")
    return lines


def unknown_rule_roles(rules: Sequence[RoleRule], portal_roles: Sequence[str]) -> list[str]:
    """`roles.rules.N.roles: ...` for every rule naming a role the portal does not have."""
    problems = []
    for index, rule in enumerate(rules):
        unknown = [role for role in rule.roles if role not in portal_roles]
        if unknown:
            problems.append(
                f"roles.rules.{index}.roles: the portal has no role "
                f"{', '.join(repr(role) for role in unknown)}; its roles are "
                f"{', '.join(sorted(portal_roles))}"
            )
    return problems


async def roles_report(settings: Settings, user_reference: str | None = None) -> list[str]:
    """What `kyvos-scim-gateway roles` prints: the portal's roles and the rules, or with a
    user, where their effective role comes from. Raises LookupError for an unknown user."""
    async with PortalClient(settings.portal) as portal:
        if user_reference is None:
            return await _rules_report(portal, settings)

        return await _explain_report(portal, settings, user_reference)


async def _rules_report(portal: PortalClient, settings: Settings) -> list[str]:
    portal_roles = await portal.role_names()
    system = await portal.authentication_system()
    direct = (
        "allowed (the portal uses RAS)"
        if system == REMOTE_AUTHENTICATION
        else f"refused (the portal uses {system}, not RAS)"
    )

    return [
        f"portal roles: {', '.join(portal_roles)}",
        f"role of new users (onboarding.roleName): {settings.onboarding.role_name}",
        f"role changes through SCIM `roles`: {direct}",
        "group-to-role rules (the first that matches a group wins):",
        *rule_lines(settings.roles.rules, portal_roles),
    ]


async def _explain_report(
    portal: PortalClient, settings: Settings, user_reference: str
) -> list[str]:
    user = await find_portal_user(portal, user_reference)
    if user is None:
        raise LookupError(f"the portal has no user with userName or id {user_reference!r}")

    external_ids = await _group_external_ids(settings, user.groups)
    explanation = await explain(portal, settings.roles.rules, user, external_ids)
    return explanation.lines()


async def _group_external_ids(
    settings: Settings, group_ids: Sequence[str]
) -> dict[str, str | None]:
    """The groups' externalIds, read from the store only when a rule matches by externalId."""
    if not group_ids or all(rule.external_id is None for rule in settings.roles.rules):
        return {}

    store = Store(settings.store.url)
    await store.start()
    try:
        stored = await store.get_many("Group", list(group_ids))
    finally:
        await store.close()

    return {group_id: record.external_id for group_id, record in stored.items()}
