"""SCIM Users as Kyvos portal users.

Every user the gateway creates gets the configured onboarding block (Kyvos "First Login
Actions"), including the default role; `roles` sent on creation is not applied (Kyvos: onboarding
decides a new user's role). A user who already existed in the portal keeps the role they have:
onboarding never touches them. A user's own role changes only when the IdP asks for another one
in `roles` on PUT or PATCH, and only when the portal allows it (see `roles`).
"""

from typing import Any

import structlog

from gateway.kyvos.errors import PortalConflict, PortalForbidden, PortalNotFound
from gateway.kyvos.records import Page, PortalUser
from gateway.provisioning import translation
from gateway.provisioning.context import (
    PORTAL_PAGE,
    Provisioning,
    check_precondition,
    read_all,
    undone_on_failure,
)
from gateway.provisioning.roles import (
    DirectRoles,
    changed_role_values,
    requested_role,
    role_change_refused,
)
from gateway.scim.errors import InvalidValue, NotFound, Uniqueness
from gateway.scim.filters import equality_lookup, matches
from gateway.scim.listing import ListQuery, list_response, page, sort_resources
from gateway.scim.patch import apply_user_patch, parse_patch
from gateway.scim.resources import parse_user
from gateway.store import StoredResource

KIND = "User"

logger = structlog.get_logger("provisioning.users")


class Users:
    def __init__(self, provisioning: Provisioning) -> None:
        self.p = provisioning
        self.roles = DirectRoles(provisioning.portal)

    async def get(self, user_id: str) -> dict[str, Any]:
        user = await self._portal_user(user_id)
        stored = await self.p.store.get(KIND, user.id)

        return self._render(user, stored)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        parsed = parse_user(body)
        resource = parsed.resource
        fields = translation.portal_user_fields(resource)
        fields["firstLoginActions"] = self.p.onboarding.first_login_actions()
        if parsed.password and self.p.forward_passwords:
            fields["password"] = parsed.password

        async with self.p.store.lock(KIND, resource["userName"].casefold()):
            user = await self._create_in_portal(fields)
            stored = await self._save_or_undo(user, resource)

        self.p.audit.record("user.created", resource_type=KIND, resource_id=user.id, role=user.role)
        self._note_role_not_applied(user, resource)
        return self._render(user, stored)

    async def replace(
        self, user_id: str, body: dict[str, Any], *, if_match: str | None = None
    ) -> dict[str, Any]:
        parsed = parse_user(body)

        async with self.p.store.lock(KIND, user_id):
            user = await self._portal_user(user_id)
            stored = await self.p.store.get(KIND, user.id)
            check_precondition(if_match, lambda: self._render(user, stored))
            role = requested_role(parsed.resource.get("roles"), user.role)
            user, stored = await self._write(
                user, stored, parsed.resource, parsed.password, role=role
            )

        return self._render(user, stored)

    async def patch(
        self, user_id: str, body: dict[str, Any], *, if_match: str | None = None
    ) -> dict[str, Any]:
        operations = parse_patch(body, max_operations=self.p.patch_max_operations)

        async with self.p.store.lock(KIND, user_id):
            user = await self._portal_user(user_id)
            stored = await self.p.store.get(KIND, user.id)
            current = self._render(user, stored)
            check_precondition(if_match, lambda: current)
            result = apply_user_patch(current, operations)
            asked = changed_role_values(current.get("roles"), result.resource.get("roles"))
            role = requested_role(asked, user.role)
            user, stored = await self._write(
                user, stored, result.resource, result.password, role=role
            )

        return self._render(user, stored)

    async def delete(self, user_id: str, *, if_match: str | None = None) -> None:
        """The portal user first, then the store's record. A record the store still keeps for
        a user the portal no longer has is what a delete cut short by a store failure leaves:
        the IdP's retry forgets it and succeeds."""
        async with self.p.store.lock(KIND, user_id):
            user = await self._portal_user_or_none(user_id)
            if user is None:
                await self._finish_delete(user_id)
                return
            self.p.refuse_service_account(user.user_name)
            if if_match is not None:
                stored = await self.p.store.get(KIND, user.id)
                check_precondition(if_match, lambda: self._render(user, stored))

            await self.p.portal.delete_user(user.id)
            await self.p.store.delete(KIND, user.id)

        self.p.audit.record("user.deleted", resource_type=KIND, resource_id=user.id)

    async def _finish_delete(self, user_id: str) -> None:
        if await self.p.store.get(KIND, user_id) is None:
            raise NotFound(f"No user with id {user_id!r} exists in the Kyvos portal.")

        await self.p.store.delete(KIND, user_id)
        self.p.audit.record("user.deleted", resource_type=KIND, resource_id=user_id)

    async def search(self, query: ListQuery) -> dict[str, Any]:
        """Filter, sort, then page (RFC 7644 §3.4.2.4), with as few portal calls as possible.

        The portal neither filters nor sorts beyond its lookups, so `sortBy` is evaluated here
        on every match.
        """
        if query.filter is None and query.sort_by is None:
            return await self._page_of_all(query)

        lookup = equality_lookup(query.filter) if query.filter is not None else None
        if lookup is not None:
            candidates = await self._candidates(*lookup)
        else:
            candidates = await self._scan()

        found = [r for r in candidates if query.filter is None or matches(query.filter, r)]
        found = sort_resources(found, query.sort_by, query.sort_order)
        return list_response(page(found, query), total=len(found), start_index=query.start_index)

    async def _page_of_all(self, query: ListQuery) -> dict[str, Any]:
        """No filter: the portal pages for us in its stable order; one call per page."""
        result = await self.p.portal.find_users(offset=query.start_index - 1, limit=query.count)
        resources = await self._render_many(result.items)

        return list_response(resources, total=result.total, start_index=query.start_index)

    async def _candidates(self, attribute: str, value: str) -> list[dict[str, Any]]:
        """The few users that can match an `eq` lookup, found with one portal or store call."""
        users: list[PortalUser]
        if attribute == "userName":
            users = (await self.p.portal.find_users(user_name=value, limit=PORTAL_PAGE)).items
        elif attribute == "emails.value":
            users = (await self.p.portal.find_users(email=value, limit=PORTAL_PAGE)).items
        elif attribute == "externalId":
            ids = await self.p.store.find_by_external_id(KIND, value)
            users = [user for user in [await self._portal_user_or_none(i) for i in ids] if user]
        elif attribute == "id":
            user = await self._portal_user_or_none(value)
            users = [user] if user else []
        else:
            return await self._scan()

        return await self._render_many(users)

    async def _scan(self) -> list[dict[str, Any]]:
        """Every user, for a filter only the gateway can evaluate; bounded by `max_scan`."""
        users = await read_all(self._users_page, bound=self.p.max_scan)

        return await self._render_many(users)

    async def _users_page(self, offset: int, limit: int) -> Page[PortalUser]:
        return await self.p.portal.find_users(offset=offset, limit=limit)

    async def _write(
        self,
        user: PortalUser,
        stored: StoredResource | None,
        resource: dict[str, Any],
        password: str | None,
        *,
        role: str | None = None,
    ) -> tuple[PortalUser, StoredResource]:
        """Send the portal only what changed, then keep the rest; the role only when the IdP
        asked for another one and the portal allows it (checked before anything is sent)."""
        self.p.refuse_service_account(user.user_name)
        changes = translation.changed_fields(translation.portal_user_fields(resource), user)
        if password and self.p.forward_passwords:
            changes["password"] = password
        new_role = await self.roles.role_change(user, role)
        if new_role is not None:
            changes["role"] = new_role

        previous_role = user.role
        if changes:
            user = await self._update_in_portal(user, changes)
        stored = await self._save(user.id, resource, stored)

        if new_role is not None:
            self._audit_role_change(user, previous_role)

        if changes or password:
            self.p.audit.record(
                "user.updated",
                resource_type=KIND,
                resource_id=user.id,
                fields=sorted(changes.keys() | ({"password"} if password else set())),
            )
        return user, stored

    async def _create_in_portal(self, fields: dict[str, Any]) -> PortalUser:
        try:
            return await self.p.portal.create_user(fields)
        except PortalConflict:
            raise Uniqueness(
                "A user with this userName already exists in the Kyvos portal. Match it by "
                "filtering on userName and update it instead of creating it."
            ) from None

    async def _update_in_portal(self, user: PortalUser, changes: dict[str, Any]) -> PortalUser:
        try:
            return await self.p.portal.update_user(user.id, changes)
        except PortalConflict:
            raise Uniqueness(
                "Another portal user already has this userName; choose a different one."
            ) from None
        except PortalForbidden:
            if "role" not in changes:
                raise
            # The portal left RAS since we last asked: ask again next time, refuse this one.
            self.roles.forget()
            raise role_change_refused(await self.roles.authentication_system()) from None

    def _audit_role_change(self, user: PortalUser, previous: str | None) -> None:
        self.p.audit.record(
            "user.role_changed",
            resource_type=KIND,
            resource_id=user.id,
            role_before=previous,
            role_after=user.role,
            effective_role=user.effective_role,
        )

    def _note_role_not_applied(self, user: PortalUser, resource: dict[str, Any]) -> None:
        """Kyvos: a new user's role is the onboarding role, whatever the IdP sent."""
        try:
            asked = requested_role(resource.get("roles"), user.role)
        except InvalidValue:
            asked = "(several)"
        if asked is not None and asked.casefold() != (user.role or "").casefold():
            logger.info(
                "role_not_applied_on_create",
                resource_id=user.id,
                requested_role=asked,
                onboarding_role=user.role,
            )

    async def _save_or_undo(self, user: PortalUser, resource: dict[str, Any]) -> StoredResource:
        async with undone_on_failure(KIND, user.id, self.p.portal.delete_user):
            return await self._save(user.id, resource, None)

    async def _save(
        self, portal_id: str, resource: dict[str, Any], stored: StoredResource | None
    ) -> StoredResource:
        extra = translation.user_extra(resource)

        return await self.p.keep(KIND, portal_id, resource.get("externalId"), extra, stored)

    async def _portal_user(self, user_id: str) -> PortalUser:
        user = await self._portal_user_or_none(user_id)
        if user is None:
            raise NotFound(f"No user with id {user_id!r} exists in the Kyvos portal.")

        return user

    async def _portal_user_or_none(self, user_id: str) -> PortalUser | None:
        try:
            return await self.p.portal.get_user(user_id)
        except PortalNotFound:
            return None

    async def _render_many(self, users: list[PortalUser]) -> list[dict[str, Any]]:
        stored = await self.p.store.get_many(KIND, [user.id for user in users])

        return [self._render(user, stored.get(user.id)) for user in users]

    def _render(self, user: PortalUser, stored: StoredResource | None) -> dict[str, Any]:
        return translation.scim_user(user, stored, base_url=self.p.base_url)
