"""Discovery documents (RFC 7644 §4) built with scim2-models, and read back by it."""

from typing import Any

from scim2_models import Context, ResourceType, Schema, ServiceProviderConfig

from gateway.scim.discovery import resource_types, schemas, service_provider_config
from gateway.scim.resources import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    KYVOS_USER_SCHEMA,
    USER_SCHEMA,
)

BASE_URL = "https://gateway.example/scim/v2/"

BASIC = {
    "type": "httpbasic",
    "name": "HTTP Basic",
    "description": "Basic authentication with a generated machine credential.",
    "specUri": "https://www.rfc-editor.org/info/rfc7617",
    "primary": True,
}


def config(**flags: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "base_url": BASE_URL,
        "filter_max_results": 200,
        "sort": False,
        "etag": True,
        "change_password": False,
        "auth_schemes": [BASIC],
        "documentation_uri": None,
    }
    return service_provider_config(**{**settings, **flags})


def test_service_provider_config_says_what_the_gateway_supports() -> None:
    assert config() == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": "https://gateway.example/scim/v2/ServiceProviderConfig",
        },
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 200},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [BASIC],
    }


def test_service_provider_config_carries_the_documentation_uri() -> None:
    document = config(documentation_uri="https://docs.example/gateway")

    assert document["documentationUri"] == "https://docs.example/gateway"


def test_service_provider_config_validates_back_through_scim2_models() -> None:
    document = config(etag=False, change_password=True)

    model = ServiceProviderConfig.model_validate(document, scim_ctx=Context.RESOURCE_QUERY_RESPONSE)

    assert model.etag is not None and model.change_password is not None
    assert (model.etag.supported, model.change_password.supported) == (False, True)


def test_resource_types_are_user_with_the_enterprise_extension_and_group() -> None:
    assert resource_types(BASE_URL) == [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "meta": {
                "resourceType": "ResourceType",
                "location": "https://gateway.example/scim/v2/ResourceTypes/User",
            },
            "name": "User",
            "description": "User Account",
            "endpoint": "/Users",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                {"schema": ENTERPRISE_USER_SCHEMA, "required": False},
                {"schema": KYVOS_USER_SCHEMA, "required": False},
            ],
        },
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "meta": {
                "resourceType": "ResourceType",
                "location": "https://gateway.example/scim/v2/ResourceTypes/Group",
            },
            "name": "Group",
            "description": "Group",
            "endpoint": "/Groups",
            "schema": GROUP_SCHEMA,
        },
    ]


def test_resource_types_validate_back_through_scim2_models() -> None:
    names = [
        ResourceType.model_validate(document, scim_ctx=Context.RESOURCE_QUERY_RESPONSE).name
        for document in resource_types(BASE_URL)
    ]

    assert names == ["User", "Group"]


def test_schemas_are_user_enterprise_user_and_group_with_their_locations() -> None:
    summary = [
        (document["id"], document["name"], document["meta"]) for document in schemas(BASE_URL)
    ]

    assert summary == [
        (
            USER_SCHEMA,
            "User",
            {
                "resourceType": "Schema",
                "location": f"https://gateway.example/scim/v2/Schemas/{USER_SCHEMA}",
            },
        ),
        (
            ENTERPRISE_USER_SCHEMA,
            "EnterpriseUser",
            {
                "resourceType": "Schema",
                "location": f"https://gateway.example/scim/v2/Schemas/{ENTERPRISE_USER_SCHEMA}",
            },
        ),
        (
            KYVOS_USER_SCHEMA,
            "KyvosUser",
            {
                "resourceType": "Schema",
                "location": f"https://gateway.example/scim/v2/Schemas/{KYVOS_USER_SCHEMA}",
            },
        ),
        (
            GROUP_SCHEMA,
            "Group",
            {
                "resourceType": "Schema",
                "location": f"https://gateway.example/scim/v2/Schemas/{GROUP_SCHEMA}",
            },
        ),
    ]


def test_the_user_schema_says_password_is_never_returned_and_groups_read_only() -> None:
    user = schemas(BASE_URL)[0]
    by_name = {attribute["name"]: attribute for attribute in user["attributes"]}

    assert (by_name["password"]["returned"], by_name["password"]["mutability"]) == (
        "never",
        "writeOnly",
    )
    assert by_name["groups"]["mutability"] == "readOnly"


def test_schemas_validate_back_through_scim2_models() -> None:
    ids = [
        Schema.model_validate(document, scim_ctx=Context.RESOURCE_QUERY_RESPONSE).id
        for document in schemas(BASE_URL)
    ]

    assert ids == [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, KYVOS_USER_SCHEMA, GROUP_SCHEMA]


def test_the_kyvos_user_schema_says_the_effective_role_is_read_only() -> None:
    kyvos = next(document for document in schemas(BASE_URL) if document["id"] == KYVOS_USER_SCHEMA)

    assert [(a["name"], a["type"], a["mutability"]) for a in kyvos["attributes"]] == [
        ("effectiveRole", "string", "readOnly")
    ]
