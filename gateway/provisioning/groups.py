"""SCIM Groups as Kyvos portal groups.

Membership changes reach the portal only as deltas (add these ids, remove those ids), never as a
rewritten member list: the portal's member endpoints are idempotent, so a retried PATCH converges
to the same state, and a large group costs no more than the change itself.
"""

from typing import Any

import structlog

from gateway.kyvos.errors import PortalConflict, PortalError, PortalNotFound
from gateway.kyvos.records import PortalGroup, PortalMember
from gateway.provisioning import translation
from gateway.provisioning.context import Provisioning, check_precondition, now
from gateway.scim.errors import InvalidValue, NotFound, TooMany, Uniqueness
from gateway.scim.filters import equality_lookup, matches
from gateway.scim.listing import ListQuery, list_response
from gateway.scim.patch import GroupPatchPlan, parse_patch, plan_group_patch
from gateway.scim.resources import parse_group
from gateway.store import StoredResource

KIND = "Group"
PORTAL_PAGE = 500

logger = structlog.get_logger("provisioning.groups")


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

        async with self.p.store.lock(KIND, resource["displayName"].casefold()):
            group = await self._create_in_portal(resource)
            stored = await self._save_or_undo(group, resource, member_ids)

        self.p.audit.record(
            "group.created", resource_type=KIND, resource_id=group.id, members=len(member_ids)
        )
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
            await self._check_version(if_match, group, stored)
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
            await self._check_version(if_match, group, stored)
            current = self._render(group, stored, None)
            plan = plan_group_patch(current, operations)
            group, stored = await self._apply(group, stored, plan)

        members = await self._members(group.id) if with_members else None
        return self._render(group, stored, members)

    async def delete(self, group_id: str, *, if_match: str | None = None) -> None:
        async with self.p.store.lock(KIND, group_id):
            group = await self._portal_group(group_id)
            if if_match is not None:
                stored = await self.p.store.get(KIND, group.id)
                await self._check_version(if_match, group, stored)

            await self.p.portal.delete_group(group.id)
            await self.p.store.delete(KIND, group.id)

        self.p.audit.record("group.deleted", resource_type=KIND, resource_id=group.id)

    async def search(self, query: ListQuery, *, with_members: bool = True) -> dict[str, Any]:
        if query.filter is None:
            result = await self.p.portal.find_groups(
                offset=query.start_index - 1, limit=query.count
            )
            resources = await self._render_many(result.items, with_members)
            return list_response(resources, total=result.total, start_index=query.start_index)

        lookup = equality_lookup(query.filter)
        groups = await (self._candidates(*lookup) if lookup else self._scan())
        resources = await self._render_many(groups, with_members=False)
        found = [
            group
            for group, resource in zip(groups, resources, strict=True)
            if matches(query.filter, resource)
        ]
        window = found[query.start_index - 1 :][: query.count]

        rendered = await self._render_many(window, with_members)
        return list_response(rendered, total=len(found), start_index=query.start_index)

    async def _apply(
        self, group: PortalGroup, stored: StoredResource | None, plan: GroupPatchPlan
    ) -> tuple[PortalGroup, StoredResource]:
        """Member deltas first (the portal applies each list all or nothing), rename last, so
        an unknown member id changes nothing at all."""
        add, remove = await self._deltas(group.id, plan)
        new_name = plan.resource.get("displayName", group.name)
        renamed = new_name != group.name
        if renamed:
            await self._check_name_free(new_name, group.id)

        await self._add_members(group.id, add)
        if remove:
            await self.p.portal.remove_members(group.id, remove)
        if renamed:
            group = await self._rename(group, new_name)
        stored = await self._save(group.id, plan.resource, stored)

        self._audit_changes(group.id, add, remove, renamed=renamed)
        return group, stored

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

    async def _check_name_free(self, name: str, group_id: str) -> None:
        taken = await self.p.portal.find_groups(name=name, limit=1)
        if any(other.id != group_id for other in taken.items):
            raise Uniqueness(
                f"Another portal group is already named {name!r}; group names are unique."
            )

    async def _rename(self, group: PortalGroup, name: str) -> PortalGroup:
        try:
            return await self.p.portal.update_group(group.id, {"name": name})
        except PortalConflict:
            raise Uniqueness(
                f"Another portal group is already named {name!r}; group names are unique."
            ) from None

    async def _create_in_portal(self, resource: dict[str, Any]) -> PortalGroup:
        try:
            return await self.p.portal.create_group({"name": resource["displayName"]})
        except PortalConflict:
            raise Uniqueness(
                "A group with this displayName already exists in the Kyvos portal. Match it by "
                "filtering on displayName instead of creating it."
            ) from None

    async def _save_or_undo(
        self, group: PortalGroup, resource: dict[str, Any], member_ids: list[str]
    ) -> StoredResource:
        """A group whose members or record could not be written is removed again: the IdP's
        retry then creates it whole, rather than finding a group with members silently lost."""
        try:
            await self._add_members(group.id, member_ids)
            return await self._save(group.id, resource, None)
        except Exception:
            logger.warning("group_create_undone", resource_id=group.id)
            try:
                await self.p.portal.delete_group(group.id)
            except PortalError:
                logger.error("group_create_undo_failed", resource_id=group.id)
            raise

    async def _save(
        self, portal_id: str, resource: dict[str, Any], stored: StoredResource | None
    ) -> StoredResource:
        moment = now()
        record = StoredResource(
            kind=KIND,
            portal_id=portal_id,
            external_id=resource.get("externalId"),
            extra=translation.group_extra(resource),
            created=stored.created if stored else moment,
            last_modified=moment,
            version=(stored.version + 1) if stored else 1,
        )
        await self.p.store.save(record)

        return record

    async def _check_version(
        self, if_match: str | None, group: PortalGroup, stored: StoredResource | None
    ) -> None:
        if if_match is None:
            return

        members = await self._members(group.id)
        check_precondition(if_match, self._render(group, stored, members)["meta"]["version"])

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
        first = await self.p.portal.find_groups(offset=0, limit=PORTAL_PAGE)
        if first.total > self.p.max_scan:
            raise TooMany(
                f"This filter can only be answered by reading every one of the portal's "
                f"{first.total} groups, more than the gateway's limit of {self.p.max_scan}. "
                "Filter with 'eq' on displayName, externalId or id instead."
            )

        groups = list(first.items)
        while len(groups) < first.total:
            more = await self.p.portal.find_groups(offset=len(groups), limit=PORTAL_PAGE)
            if not more.items:
                break
            groups.extend(more.items)

        return groups

    async def _members(self, group_id: str) -> list[PortalMember]:
        first = await self.p.portal.list_members(group_id, offset=0, limit=PORTAL_PAGE)
        members = list(first.items)
        while len(members) < first.total:
            more = await self.p.portal.list_members(
                group_id, offset=len(members), limit=PORTAL_PAGE
            )
            if not more.items:
                break
            members.extend(more.items)

        return members

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


def _member_ids(members: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(member["value"]) for member in members))
