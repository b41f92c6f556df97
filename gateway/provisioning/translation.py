"""Translation between SCIM resources and Kyvos portal records.

Kyvos holds what it has a field for (user name, e-mail, first and last name, status, role; a
group's name and roles) and is the source of truth for those. Every other SCIM attribute (the
rest of `name`, other e-mails, locale, the enterprise extension, ...) and `externalId` are kept
in the gateway's store, keyed by the portal id, and merged back on every read.
"""

import copy
import hashlib
import json
from datetime import datetime
from typing import Any

from gateway.kyvos.records import PortalGroup, PortalMember, PortalUser
from gateway.scim.resources import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    KYVOS_USER_SCHEMA,
    USER_SCHEMA,
)
from gateway.store import StoredResource

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"

# SCIM attributes that the portal or the gateway itself owns: never kept in the store's `extra`.
USER_OWNED = frozenset(
    {
        "id",
        "meta",
        "schemas",
        "userName",
        "active",
        "externalId",
        "groups",
        "roles",
        "password",
        KYVOS_USER_SCHEMA,
    }
)
GROUP_OWNED = frozenset({"id", "meta", "schemas", "displayName", "members", "externalId"})


def primary_email(resource: dict[str, Any]) -> str | None:
    """The e-mail the portal keeps: the one marked primary, else the first (RFC 7643 §2.4)."""
    emails = [email for email in resource.get("emails") or [] if email.get("value")]
    primary = next((email for email in emails if email.get("primary") is True), None)
    chosen = primary or (emails[0] if emails else None)

    return chosen["value"] if chosen else None


def portal_user_fields(resource: dict[str, Any]) -> dict[str, Any]:
    """The portal's fields for a SCIM User, in the portal's own names."""
    name = resource.get("name") or {}

    return {
        "userName": resource["userName"],
        "email": primary_email(resource),
        "firstName": name.get("givenName"),
        "lastName": name.get("familyName"),
        "status": ACTIVE if resource.get("active", True) else INACTIVE,
    }


def changed_fields(wanted: dict[str, Any], user: PortalUser) -> dict[str, Any]:
    """Only the fields that differ, so that an unchanged PUT costs the portal nothing."""
    current = {
        "userName": user.user_name,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "status": user.status,
    }

    return {key: value for key, value in wanted.items() if current.get(key) != value}


def user_extra(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if key not in USER_OWNED}


def group_extra(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if key not in GROUP_OWNED}


def scim_user(user: PortalUser, stored: StoredResource | None, *, base_url: str) -> dict[str, Any]:
    """The SCIM User for a portal user: the store's attributes overlaid with the portal's."""
    extra = copy.deepcopy(stored.extra) if stored else {}
    resource: dict[str, Any] = {"id": user.id}
    if stored and stored.external_id:
        resource["externalId"] = stored.external_id
    resource["userName"] = user.user_name
    resource.update(extra)

    resource["name"] = _merged_name(extra.get("name") or {}, user)
    if not resource["name"]:
        del resource["name"]
    resource["emails"] = _merged_emails(extra.get("emails") or [], user.email)
    if not resource["emails"]:
        del resource["emails"]
    resource["active"] = user.status == ACTIVE
    # RFC 7643 §4.1.2: `roles` holds the user's own Kyvos role; the role Kyvos finally grants
    # (with the roles of their groups) is the read-only `effectiveRole` of our extension.
    if user.role:
        resource["roles"] = [{"value": user.role, "primary": True, "type": "direct"}]
    if user.effective_role:
        resource[KYVOS_USER_SCHEMA] = {"effectiveRole": user.effective_role}
    if user.groups:
        resource["groups"] = [
            {"value": group_id, "$ref": f"{base_url}/Groups/{group_id}", "type": "direct"}
            for group_id in user.groups
        ]

    schemas = [USER_SCHEMA]
    schemas.extend(urn for urn in (ENTERPRISE_USER_SCHEMA, KYVOS_USER_SCHEMA) if urn in resource)

    return _finish(resource, schemas, "User", stored, f"{base_url}/Users/{user.id}")


def scim_group(
    group: PortalGroup,
    stored: StoredResource | None,
    members: list[PortalMember] | None,
    *,
    base_url: str,
) -> dict[str, Any]:
    """The SCIM Group for a portal group; `members` is None when the caller did not ask."""
    resource: dict[str, Any] = {"id": group.id}
    if stored and stored.external_id:
        resource["externalId"] = stored.external_id
    resource["displayName"] = group.name
    resource.update(copy.deepcopy(stored.extra) if stored else {})
    if members is not None:
        resource["members"] = [
            {
                "value": member.id,
                "display": member.user_name,
                "type": "User",
                "$ref": f"{base_url}/Users/{member.id}",
            }
            for member in members
        ]

    # The version covers the member count, not the member list, so that a group read without
    # its members (as Entra reads them) carries the same ETag as one read with them.
    versioned = {key: value for key, value in resource.items() if key != "members"}
    versioned["memberCount"] = group.member_count

    return _finish(
        resource,
        [GROUP_SCHEMA],
        "Group",
        stored,
        f"{base_url}/Groups/{group.id}",
        version=version_of(versioned),
    )


def version_of(resource: dict[str, Any]) -> str:
    """A weak ETag from the resource's content: it changes whenever anything the IdP can read
    changes, including edits made in the portal itself, which a counter would miss."""
    content = {key: value for key, value in resource.items() if key != "meta"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()

    return f'W/"{digest[:20]}"'


def _merged_name(stored_name: dict[str, Any], user: PortalUser) -> dict[str, Any]:
    name = dict(stored_name)
    for key, value in (("givenName", user.first_name), ("familyName", user.last_name)):
        if value:
            name[key] = value
        else:
            name.pop(key, None)

    return name


def _merged_emails(stored_emails: list[dict[str, Any]], email: str | None) -> list[dict[str, Any]]:
    emails = [dict(item) for item in stored_emails if item.get("value")]
    primary = next((item for item in emails if item.get("primary") is True), None)
    primary = primary or (emails[0] if emails else None)

    if email is None:
        return [item for item in emails if item is not primary]
    if primary is None:
        return [{"value": email, "type": "work", "primary": True}, *emails]

    # The flags stay as the IdP sent them: a single e-mail sent with `primary: false` is still
    # the one the portal keeps, but it is not to be answered as primary.
    primary["value"] = email
    return emails


def _finish(
    resource: dict[str, Any],
    schemas: list[str],
    resource_type: str,
    stored: StoredResource | None,
    location: str,
    *,
    version: str | None = None,
) -> dict[str, Any]:
    resource = {"schemas": schemas, **resource}
    meta: dict[str, Any] = {"resourceType": resource_type}
    if stored:
        meta["created"] = _timestamp(stored.created)
        meta["lastModified"] = _timestamp(stored.last_modified)
    meta["location"] = location
    meta["version"] = version or version_of(resource)
    resource["meta"] = meta

    return resource


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
