"""The discovery documents (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas.

They are built with scim2-models from the same schema definitions `resources` derives its
catalogue from, so what the gateway announces and what it accepts cannot drift apart. The
caller passes the feature flags; each document says exactly what this deployment supports.
"""

import copy
import functools
from typing import Any

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    External,
    Filter,
    Group,
    Meta,
    Patch,
    Reference,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

from gateway.scim.resources import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    KYVOS_USER_SCHEMA,
    USER_SCHEMA,
    KyvosUser,
    gateway_schema,
)

_SCHEMA_DESCRIPTIONS = {
    USER_SCHEMA: ("User", "User Account"),
    ENTERPRISE_USER_SCHEMA: ("EnterpriseUser", "Enterprise User"),
    KYVOS_USER_SCHEMA: ("KyvosUser", "What the Kyvos portal decides about a user"),
    GROUP_SCHEMA: ("Group", "Group"),
}


def service_provider_config(
    *,
    base_url: str,
    patch: bool = True,
    bulk: bool = False,
    filter_max_results: int,
    sort: bool,
    etag: bool,
    change_password: bool,
    auth_schemes: list[dict[str, Any]],
    documentation_uri: str | None = None,
    bulk_max_operations: int = 0,
    bulk_max_payload_size: int = 0,
) -> dict[str, Any]:
    """The ServiceProviderConfig (RFC 7643 §5) for the features the gateway was started with.

    `auth_schemes` are RFC 7643 §5 authenticationSchemes objects (`type`, `name`,
    `description`, optional `specUri`, `documentationUri`, `primary`).
    """
    config = ServiceProviderConfig(
        documentation_uri=Reference[External](documentation_uri) if documentation_uri else None,
        patch=Patch(supported=patch),
        bulk=Bulk(
            supported=bulk,
            max_operations=bulk_max_operations if bulk else 0,
            max_payload_size=bulk_max_payload_size if bulk else 0,
        ),
        filter=Filter(supported=True, max_results=filter_max_results),
        change_password=ChangePassword(supported=change_password),
        sort=Sort(supported=sort),
        etag=ETag(supported=etag),
        authentication_schemes=[AuthenticationScheme.model_validate(s) for s in auth_schemes],
        meta=_meta("ServiceProviderConfig", f"{_base(base_url)}/ServiceProviderConfig"),
    )

    return _dump(config)


def resource_types(base_url: str) -> list[dict[str, Any]]:
    """User (with the optional enterprise and Kyvos extensions) and Group (RFC 7643 §6)."""
    return copy.deepcopy(_resource_types(base_url))


def schemas(base_url: str) -> list[dict[str, Any]]:
    """The User, EnterpriseUser, KyvosUser and Group schemas (RFC 7643 §7), with locations.

    As in RFC 7643 §8.7.1, the common attributes (`id`, `externalId`, `meta`) are not listed.
    """
    return copy.deepcopy(_schemas(base_url))


# Building the documents through the models takes milliseconds of CPU, and they never change
# while the process runs: each is built once per base URL, and callers get their own copy.


@functools.cache
def _resource_types(base_url: str) -> list[dict[str, Any]]:
    base = _base(base_url)
    documents = []
    user = User[EnterpriseUser | KyvosUser]
    for model, description in ((user, "User Account"), (Group, "Group")):
        resource_type = ResourceType.from_resource(model)
        resource_type.description = description
        resource_type.meta = _meta("ResourceType", f"{base}/ResourceTypes/{resource_type.id}")
        documents.append(_dump(resource_type))

    return documents


@functools.cache
def _schemas(base_url: str) -> list[dict[str, Any]]:
    base = _base(base_url)
    documents = []
    for model in (User, EnterpriseUser, KyvosUser, Group):
        schema: Schema = gateway_schema(model)
        schema.name, schema.description = _SCHEMA_DESCRIPTIONS[str(schema.id)]
        schema.meta = _meta("Schema", f"{base}/Schemas/{schema.id}")
        documents.append(_dump(schema))

    return documents


def _meta(resource_type: str, location: str) -> Meta:
    return Meta(resource_type=resource_type, location=location)


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def _dump(document: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = document.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return dumped
