"""SCIM Groups as Kyvos portal groups.

Membership changes reach the portal only as deltas (add these ids, remove those ids), never as a
rewritten member list: the portal's member endpoints are idempotent, so a retried PATCH converges
to the same state, and a large group costs no more than the change itself.

A group that a role rule matches (by name or externalId) carries the rule's Kyvos roles from its
creation on; every write the gateway makes to a group re-applies the rule that matches it then,
so a rename onto or away from a rule grants or withdraws that rule's roles (see `roles`).
"""

from typing import Any

from gateway.kyvos.errors import PortalConflict, PortalNotFound
from gateway.kyvos.records import Page, PortalGroup, PortalMember
from gateway.provisioning import translation
from gateway.provisioning.context import (
    PORTAL_PAGE,
    Provisioning,
    check_precondition,
    read_all,
    undone_on_failure,
)
from gateway.provisioning.roles import (
    RuleMatch,
    audit_group_roles,
    audit_membership_roles,
    group_roles_after,
    log_decision,
    match_rule,
)
from gateway.scim.errors import InvalidValue, NotFound, Uniqueness
from gateway.scim.filters import equality_lookup, matches
from gateway.scim.listing import ListQuery, list_response, page, sort_resources
from gateway.scim.patch import GroupPatchPlan, parse_patch, plan_group_patch
from gateway.scim.resources import parse_group
from gateway.store import StoredResource

KIND = "Group"


class Groups:
    def __init__(self, provisioning: Provisioning) -> None:
        self.p = provisioning

    async def get(self, group_id: str, *, with_members: bool = True) -> dict[str, Any]:
        group = await self._portal_group(group_id)
        stored = await self.p.store.get(KIND, group.id)
        members = await self._members(group.id) if with_members else None

        return self._render(group, stored, members)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        resource = parse_group(body)
        member_ids = _member_ids(resource.get("members") or [])

        match = self._rule_for(resource["displayName"], resource.get("externalId"))

        async with self.p.store.lock(KIND, _name_key(resource["displayName"])):
            group = await self._create_in_portal(resource, match)
            stored = await self._save_or_undo(group, resource, member_ids)

        log_decision(group.id, match)
        self.p.audit.record(
            "group.created",
            resource_type=KIND,
            resource_id=group.id,
            members=len(member_ids),
            roles=list(group.roles),
            rule_index=match.index if match else None,
        )
        audit_membership_roles(self.p.audit, group, added=member_ids, removed=[])
        if member_ids:
            group = await self._portal_group(group.id)
        return self._render(group, stored, await self._members(group.id))

    async def replace(
        self, group_id: str, body: dict[str, Any], *, if_match: str | None = None
    ) -> dict[str, Any]:
        """PUT: `members`, when sent, is the whole new list; when absent, memberships stay as
        they are (a PUT that merely renames must not empty a group)."""
        resource = parse_group(body)

        async with self.p.store.lock(KIND, group_id):
            group = await self._portal_group(group_id)
            stored = await self.p.store.get(KIND, group.id)
            check_precondition(if_match, lambda: self._render(group, stored, None))
            plan = GroupPatchPlan(
                resource=resource,
                add_members=[],
                remove_members=[],
                replace_members=_member_ids(resource["members"]) if "members" in resource else None,
            )
            group, stored = await self._apply(group, stored, plan)

        return self._render(group, stored, await self._members(group.id))

    async def patch(
        self,
        group_id: str,
        body: dict[str, Any],
        *,
        if_match: str | None = None,
        with_members: bool = True,
    ) -> dict[str, Any]:
        operations = parse_patch(body, max_operations=self.p.patch_max_operations)

        async with self.p.store.lock(KIND, group_id):
            group = await self._portal_group(group_id)
            stored = await self.p.store.get(KIND, group.id)
            current = self._render(group, stored, None)
            check_precondition(if_match, lambda: current)
            plan = plan_group_patch(current, operations)
            group, stored = await self._apply(group, stored, plan)

        # Known cost: RFC 7644 §3.5.2 wants the whole group back, so unless the IdP excluded
        # `members` this reads every member page (about 13 portal calls for 5,000 members),
        # although the change itself went out as deltas. Answering 204 would remove the cost,
        # but the gateway promises 200 with the resource.
        members = await self._members(group.id) if with_members else None
        return self._render(group, stored, members)

    async def delete(self, group_id: str, *, if_match: str | None = None) -> None:
        """The portal group first, then the store's record; a retry after a store failure
        forgets the record left behind and succeeds (as `Users.delete`)."""
        async with self.p.store.lock(KIND, group_id):
            group = await self._portal_group_or_none(group_id)
            if group is None:
                await self._finish_delete(group_id)
                return
            if if_match is not None:
                stored = await self.p.store.get(KIND, group.id)
                check_precondition(if_match, lambda: self._render(group, stored, None))

            await self.p.portal.delete_group(group.id)
            await self.p.store.delete(KIND, group.id)

        self.p.audit.record("group.deleted", resource_type=KIND, resource_id=group.id)
        if group.roles:
            # Its members no longer receive its roles from Kyvos.
            self.p.audit.record(
                "group.roles_withdrawn",
                resource_type=KIND,
                resource_id=group.id,
                roles=list(group.roles),
                member_count=group.member_count,
            )

    async def _finish_delete(self, group_id: str) -> None:
        if await self.p.store.get(KIND, group_id) is None:
            raise NotFound(f"No group with id {group_id!r} exists in the Kyvos portal.")

        await self.p.store.delete(KIND, group_id)
        self.p.audit.record("group.deleted", resource_type=KIND, resource_id=group_id)

    async def search(self, query: ListQuery, *, with_members: bool = True) -> dict[str, Any]:
        """Filter, sort, then page; members are read only for the groups of the page.

        The portal neither filters nor sorts beyond its lookups, so `sortBy` is evaluated here
        on every match (RFC 7644 §3.4.2.3).
        """
        if query.filter is None and query.sort_by is None:
            result = await self.p.portal.find_groups(
                offset=query.start_index - 1, limit=query.count
            )
            resources = await self._render_many(result.items, with_members)
            return list_response(resources, total=result.total, start_index=query.start_index)

        lookup = equality_lookup(query.filter) if query.filter is not None else None
        groups = await (self._candidates(*lookup) if lookup else self._scan())
        by_id = {group.id: group for group in groups}
        resources = await self._render_many(groups, with_members=False)
        found = [r for r in resources if query.filter is None or matches(query.filter, r)]
        found = sort_resources(found, query.sort_by, query.sort_order)
        window = page(found, query)

        if with_members:
            # Only the page's groups are read again, now with their members.
            window = await self._render_many([by_id[r["id"]] for r in window], with_members)
        return list_response(window, total=len(found), start_index=query.start_index)

    async def _apply(
        self, group: PortalGroup, stored: StoredResource | None, plan: GroupPatchPlan
    ) -> tuple[PortalGroup, StoredResource]:
        """A rename holds the new name's lock, as a create of that name does: two requests
        must not both find a name free, both change their group's members, and one of them
        then fail the rename with those changes made."""
        new_name = plan.resource.get("displayName", group.name)
        if new_name == group.name:
            return await self._apply_changes(group, stored, plan, new_name)

        async with self.p.store.lock(KIND, _name_key(new_name)):
            await self._check_name_free(new_name, group.id)
            return await self._apply_changes(group, stored, plan, new_name)

    async def _apply_changes(
        self,
        group: PortalGroup,
        stored: StoredResource | None,
        plan: GroupPatchPlan,
        new_name: str,
    ) -> tuple[PortalGroup, StoredResource]:
        """Member deltas first (the portal applies each list all or nothing), rename last, so
        an unknown member id changes nothing at all."""
        add, remove = await self._deltas(group.id, plan)
        renamed = new_name != group.name
        match, roles = self._roles_after(group, stored, new_name, plan.resource)

        await self._add_members(group.id, add)
        await self._remove_members(group.id, remove)
        previous = group
        if renamed or set(roles) != set(group.roles):
            group = await self._update_in_portal(group, new_name, roles)
        elif add or remove:
            # The answer's version covers the member count, which the deltas just changed.
            group = await self._portal_group(group.id)
        stored = await self._save(group.id, plan.resource, stored)

        self._audit_changes(group.id, add, remove, renamed=renamed)
        audit_group_roles(self.p.audit, group, previous=previous.roles, match=match)
        audit_membership_roles(self.p.audit, group, added=add, removed=remove)
        return group, stored

    def _rule_for(self, display_name: str, external_id: str | None) -> RuleMatch | None:
        return match_rule(self.p.roles.rules, display_name, external_id)

    def _roles_after(
        self,
        group: PortalGroup,
        stored: StoredResource | None,
        new_name: str,
        resource: dict[str, Any],
    ) -> tuple[RuleMatch | None, tuple[str, ...]]:
        """The rule that matches the group now, and the roles the group carries after it: the
        rule matched before the change withdraws its roles, the one matching now grants its."""
        before = self._rule_for(group.name, stored.external_id if stored else None)
        after = self._rule_for(new_name, resource.get("externalId"))
        if after != before:
            log_decision(group.id, after)

        return after, group_roles_after(group.roles, before, after)

    async def _deltas(self, group_id: str, plan: GroupPatchPlan) -> tuple[list[str], list[str]]:
        if plan.replace_members is None:
            return list(plan.add_members), list(plan.remove_members)

        # A replace of the whole member list is the one change that needs the current list.
        current = {member.id for member in await self._members(group_id)}
        wanted = set(plan.replace_members) | set(plan.add_members)
        wanted -= set(plan.remove_members)

        return sorted(wanted - current), sorted(current - wanted)

    async def _add_members(self, group_id: str, user_ids: list[str]) -> None:
        if not user_ids:
            return

        try:
            await self.p.portal.add_members(group_id, user_ids)
        except PortalNotFound:
            raise InvalidValue(
                "At least one member id is not a user in the Kyvos portal; no member was "
                "added. Provision the user first, then add them to the group."
            ) from None

    async def _remove_members(self, group_id: str, user_ids: list[str]) -> None:
        """RFC 7644 §3.5.2.2: the members named are absent afterwards. An id that is no portal
        user (deleted in Kyvos meanwhile) is no member either, so it is skipped instead of
        failing a PATCH whose additions the portal has already made."""
        if not user_ids:
            return

        try:
            await self.p.portal.remove_members(group_id, user_ids)
        except PortalNotFound:
            current = {member.id for member in await self._members(group_id)}
            await self.p.portal.remove_members(group_id, [i for i in user_ids if i in current])

    async def _check_name_free(self, name: str, group_id: str) -> None:
        taken = await self.p.portal.find_groups(name=name, limit=1)
        if any(other.id != group_id for other in taken.items):
            raise Uniqueness(
                f"Another portal group is already named {name!r}; group names are unique."
            )

    async def _update_in_portal(
        self, group: PortalGroup, name: str, roles: tuple[str, ...]
    ) -> PortalGroup:
        """One portal call for a rename and the roles a rule gives the renamed group."""
        fields: dict[str, Any] = {}
        if name != group.name:
            fields["name"] = name
        if set(roles) != set(group.roles):
            fields["roles"] = list(roles)

        try:
            return await self.p.portal.update_group(group.id, fields)
        except PortalConflict:
            raise Uniqueness(
                f"Another portal group is already named {name!r}; group names are unique."
            ) from None

    async def _create_in_portal(
        self, resource: dict[str, Any], match: RuleMatch | None
    ) -> PortalGroup:
        fields: dict[str, Any] = {"name": resource["displayName"]}
        if match is not None:
            fields["roles"] = list(match.roles)

        try:
            return await self.p.portal.create_group(fields)
        except PortalConflict:
            raise Uniqueness(
                "A group with this displayName already exists in the Kyvos portal. Match it by "
                "filtering on displayName instead of creating it."
            ) from None

    async def _save_or_undo(
        self, group: PortalGroup, resource: dict[str, Any], member_ids: list[str]
    ) -> StoredResource:
        """A group whose members could not all be added is removed again too: the IdP's retry
        then creates it whole, rather than finding a group with members silently lost."""
        async with undone_on_failure(KIND, group.id, self.p.portal.delete_group):
            await self._add_members(group.id, member_ids)
            return await self._save(group.id, resource, None)

    async def _save(
        self, portal_id: str, resource: dict[str, Any], stored: StoredResource | None
    ) -> StoredResource:
        extra = translation.group_extra(resource)

        return await self.p.keep(KIND, portal_id, resource.get("externalId"), extra, stored)

    async def _candidates(self, attribute: str, value: str) -> list[PortalGroup]:
        if attribute == "displayName":
            return (await self.p.portal.find_groups(name=value, limit=PORTAL_PAGE)).items
        if attribute == "externalId":
            ids = await self.p.store.find_by_external_id(KIND, value)
            return [group for group in [await self._portal_group_or_none(i) for i in ids] if group]
        if attribute == "id":
            group = await self._portal_group_or_none(value)
            return [group] if group else []

        return await self._scan()

    async def _scan(self) -> list[PortalGroup]:
        """Every group, for a filter only the gateway can evaluate; bounded by `max_scan`."""
        return await read_all(self._groups_page, bound=self.p.max_scan)

    async def _groups_page(self, offset: int, limit: int) -> Page[PortalGroup]:
        return await self.p.portal.find_groups(offset=offset, limit=limit)

    async def _members(self, group_id: str) -> list[PortalMember]:
        async def members_page(offset: int, limit: int) -> Page[PortalMember]:
            return await self.p.portal.list_members(group_id, offset=offset, limit=limit)

        return await read_all(members_page)

    async def _portal_group(self, group_id: str) -> PortalGroup:
        group = await self._portal_group_or_none(group_id)
        if group is None:
            raise NotFound(f"No group with id {group_id!r} exists in the Kyvos portal.")

        return group

    async def _portal_group_or_none(self, group_id: str) -> PortalGroup | None:
        try:
            return await self.p.portal.get_group(group_id)
        except PortalNotFound:
            return None

    async def _render_many(
        self, groups: list[PortalGroup], with_members: bool
    ) -> list[dict[str, Any]]:
        stored = await self.p.store.get_many(KIND, [group.id for group in groups])

        rendered = []
        for group in groups:
            members = await self._members(group.id) if with_members else None
            rendered.append(self._render(group, stored.get(group.id), members))
        return rendered

    def _render(
        self,
        group: PortalGroup,
        stored: StoredResource | None,
        members: list[PortalMember] | None,
    ) -> dict[str, Any]:
        return translation.scim_group(group, stored, members, base_url=self.p.base_url)

    def _audit_changes(
        self, group_id: str, added: list[str], removed: list[str], *, renamed: bool
    ) -> None:
        if added:
            self.p.audit.record(
                "group.members_added", resource_type=KIND, resource_id=group_id, member_ids=added
            )
        if removed:
            self.p.audit.record(
                "group.members_removed",
                resource_type=KIND,
                resource_id=group_id,
                member_ids=removed,
            )
        if renamed:
            self.p.audit.record("group.renamed", resource_type=KIND, resource_id=group_id)


def _name_key(display_name: str) -> str:
    """The lock key of a group name; the portal compares names ignoring case. Prefixed so that
    it can never be a group's id, the key every other write to a group locks."""
    return f"name:{display_name.casefold()}"


def _member_ids(members: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(member["value"]) for member in members))
