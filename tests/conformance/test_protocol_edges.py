"""Protocol edges the public conformance suites probe, against the real gateway and the
simulated portal over HTTP: searches, discovery, entity tags, names in any case, uniqueness."""

from typing import Any

from tests.conftest import Deployment

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def create_user(deployment: Deployment, user_name: str, **extra: Any) -> dict[str, Any]:
    status, body, _ = await deployment.scim(
        "POST", "/Users", json={"schemas": [USER], "userName": user_name, **extra}
    )
    assert status == 201, body
    return body


async def create_group(deployment: Deployment, name: str, **extra: Any) -> dict[str, Any]:
    status, body, _ = await deployment.scim(
        "POST", "/Groups", json={"schemas": [GROUP], "displayName": name, **extra}
    )
    assert status == 201, body
    return body


def search(**request: Any) -> dict[str, Any]:
    return {"schemas": [SEARCH], **request}


def ids(answer: dict[str, Any]) -> list[str]:
    return [resource["id"] for resource in answer["Resources"]]


# POST /.search


async def test_users_search_filters_and_projects(deployment: Deployment) -> None:
    user = await create_user(deployment, "ada@example.com", displayName="Ada")

    status, body, _ = await deployment.scim(
        "POST",
        "/Users/.search",
        json=search(filter='userName eq "ADA@example.com"', attributes=["displayName"]),
    )

    assert status == 200
    assert body["totalResults"] == 1
    assert body["Resources"] == [{"schemas": [USER], "id": user["id"], "displayName": "Ada"}]


async def test_groups_search_filters_with_or_and_sw(deployment: Deployment) -> None:
    first = await create_group(deployment, "Finance Analysts")
    await create_group(deployment, "Marketing")
    second = await create_group(deployment, "Fin Ops")

    status, body, _ = await deployment.scim(
        "POST",
        "/Groups/.search",
        json=search(filter='displayName sw "fin" or displayName eq "nobody"', sortBy="id"),
    )

    assert status == 200
    assert sorted(ids(body)) == sorted([first["id"], second["id"]])


async def test_root_search_answers_users_and_groups_together(deployment: Deployment) -> None:
    user = await create_user(deployment, "root.search@example.com", externalId="shared-x")
    group = await create_group(deployment, "Root Search", externalId="shared-x")

    status, body, _ = await deployment.scim(
        "POST", "/.search", json=search(filter='externalId eq "shared-x"')
    )

    assert status == 200
    assert body["totalResults"] == 2
    assert ids(body) == [user["id"], group["id"]]
    assert [r["meta"]["resourceType"] for r in body["Resources"]] == ["User", "Group"]


async def test_root_search_on_a_user_attribute_answers_users_only(deployment: Deployment) -> None:
    user = await create_user(deployment, "only.user@example.com")
    await create_group(deployment, "Not A User")

    status, body, _ = await deployment.scim(
        "POST", "/.search", json=search(filter='userName eq "only.user@example.com"')
    )

    assert (status, ids(body)) == (200, [user["id"]])


async def test_root_search_pages_across_both_types(deployment: Deployment) -> None:
    await create_user(deployment, "pager@example.com", externalId="paged")
    group = await create_group(deployment, "Paged", externalId="paged")

    status, body, _ = await deployment.scim(
        "POST", "/.search", json=search(filter='externalId eq "paged"', startIndex=2, count=5)
    )

    assert status == 200
    assert (body["totalResults"], body["startIndex"], ids(body)) == (2, 2, [group["id"]])


async def test_root_search_sorts_both_types_together(deployment: Deployment) -> None:
    user = await create_user(deployment, "sorted@example.com", externalId="b-sorted")
    group = await create_group(deployment, "Sorted", externalId="a-sorted")

    status, body, _ = await deployment.scim(
        "POST", "/.search", json=search(filter='externalId ew "-sorted"', sortBy="externalId")
    )

    assert (status, ids(body)) == (200, [group["id"], user["id"]])


# sortBy (ServiceProviderConfig says sort is supported)


async def test_users_are_sorted_by_user_name_descending(deployment: Deployment) -> None:
    for name in ("b.sort@example.com", "C.sort@example.com", "a.sort@example.com"):
        await create_user(deployment, name)

    status, body, _ = await deployment.scim(
        "GET", "/Users?filter=userName+co+%22.sort%40%22&sortBy=userName&sortOrder=descending"
    )

    assert status == 200
    names = [resource["userName"] for resource in body["Resources"]]
    assert names == ["C.sort@example.com", "b.sort@example.com", "a.sort@example.com"]


async def test_groups_without_filter_are_sorted_by_display_name(deployment: Deployment) -> None:
    for name in ("Zeta", "alpha", "Mu"):
        await create_group(deployment, name)

    status, body, _ = await deployment.scim("GET", "/Groups?sortBy=displayName&count=2")

    assert status == 200
    assert body["totalResults"] == 3
    assert [group["displayName"] for group in body["Resources"]] == ["alpha", "Mu"]


# Unknown paths and read-only discovery


async def test_unknown_path_answers_a_scim_404(deployment: Deployment) -> None:
    status, body, headers = await deployment.scim("GET", "/Devices")

    assert status == 404
    assert headers["Content-Type"].startswith("application/scim+json")
    assert body["schemas"] == [ERROR] and body["status"] == "404"


async def test_discovery_endpoints_refuse_writes_with_a_scim_405(deployment: Deployment) -> None:
    for method, path in (
        ("POST", "/ServiceProviderConfig"),
        ("PUT", "/Schemas/" + USER),
        ("DELETE", "/ResourceTypes/User"),
        ("PATCH", "/ResourceTypes"),
    ):
        status, body, headers = await deployment.scim(method, path, json={})

        assert status == 405, (method, path)
        assert body["schemas"] == [ERROR] and body["status"] == "405"
        assert headers["Allow"] == "GET, HEAD"


async def test_request_without_accept_or_user_agent_is_served(deployment: Deployment) -> None:
    status, body, _ = await deployment.scim(
        "GET", "/Users?count=1", skip_auto_headers=["Accept", "User-Agent", "Accept-Encoding"]
    )

    assert status == 200
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


async def test_service_provider_config_says_what_the_gateway_does(
    deployment: Deployment,
) -> None:
    status, body, _ = await deployment.scim("GET", "/ServiceProviderConfig")

    assert status == 200
    features = {name: body[name] for name in ("patch", "sort", "etag", "changePassword")}
    assert features == {
        "patch": {"supported": True},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "changePassword": {"supported": deployment.settings.portal.forward_passwords},
    }
    assert body["bulk"]["supported"] is False
    assert body["filter"] == {
        "supported": True,
        "maxResults": deployment.settings.limits.max_count,
    }


async def test_published_group_schema_makes_member_display_read_only(
    deployment: Deployment,
) -> None:
    status, body, _ = await deployment.scim("GET", f"/Schemas/{GROUP}")

    members = next(a for a in body["attributes"] if a["name"] == "members")
    display = next(s for s in members["subAttributes"] if s["name"] == "display")
    assert (status, display["mutability"]) == (200, "readOnly")


# Entity tags (RFC 7644 §3.14)


async def test_etag_header_is_the_meta_version(deployment: Deployment) -> None:
    user = await create_user(deployment, "etag@example.com")

    status, body, headers = await deployment.scim("GET", f"/Users/{user['id']}")

    assert status == 200
    assert headers["ETag"] == body["meta"]["version"] == user["meta"]["version"]


async def test_put_with_a_stale_version_is_refused_and_changes_nothing(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "stale.put@example.com", name={"givenName": "Old"})
    stale = user["meta"]["version"]
    await deployment.scim(
        "PATCH",
        f"/Users/{user['id']}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "title", "value": "x"}],
        },
    )

    status, body, _ = await deployment.scim(
        "PUT",
        f"/Users/{user['id']}",
        headers={"If-Match": stale},
        json={"schemas": [USER], "userName": user["userName"], "name": {"givenName": "New"}},
    )

    assert (status, body["status"]) == (412, "412")
    assert deployment.portal.get_user(user["id"]).first_name == "Old"


async def test_patch_and_delete_with_a_stale_version_are_refused(deployment: Deployment) -> None:
    group = await create_group(deployment, "Stale Versions")
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
    }
    await deployment.scim("PATCH", f"/Groups/{group['id']}", json=patch)
    stale = {"If-Match": group["meta"]["version"]}

    patched, _, _ = await deployment.scim(
        "PATCH", f"/Groups/{group['id']}", headers=stale, json=patch
    )
    deleted, _, _ = await deployment.scim("DELETE", f"/Groups/{group['id']}", headers=stale)

    assert (patched, deleted) == (412, 412)
    assert deployment.portal.get_group(group["id"]).name == "Renamed"


async def test_write_with_the_current_version_succeeds(deployment: Deployment) -> None:
    user = await create_user(deployment, "current@example.com")
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }

    status, body, headers = await deployment.scim(
        "PATCH", f"/Users/{user['id']}", headers={"If-Match": user["meta"]["version"]}, json=patch
    )

    assert (status, body["active"]) == (200, False)
    assert headers["ETag"] != user["meta"]["version"]
    assert headers["ETag"] == body["meta"]["version"]
    assert deployment.portal.get_user(user["id"]).status == "INACTIVE"


# Names in any case, uniqueness, the enterprise extension


async def test_attribute_names_in_any_case_come_back_canonical(deployment: Deployment) -> None:
    status, body, _ = await deployment.scim(
        "POST",
        "/Users",
        json={
            "SCHEMAS": [USER],
            "USERNAME": "cases@example.com",
            "Name": {"GIVENNAME": "Grace", "familyname": "Hopper"},
            "EMAILS": [{"VALUE": "cases@example.com", "Primary": True}],
        },
    )

    assert status == 201
    assert body["userName"] == "cases@example.com"
    assert body["name"] == {"givenName": "Grace", "familyName": "Hopper"}
    assert body["emails"][0]["value"] == "cases@example.com"


async def test_user_name_is_unique_in_any_case(deployment: Deployment) -> None:
    await create_user(deployment, "unique@example.com")

    status, body, _ = await deployment.scim(
        "POST", "/Users", json={"schemas": [USER], "userName": "UNIQUE@Example.com"}
    )

    assert (status, body["scimType"]) == (409, "uniqueness")


async def test_renaming_a_user_to_a_taken_name_is_a_uniqueness_error(
    deployment: Deployment,
) -> None:
    await create_user(deployment, "taken@example.com")
    user = await create_user(deployment, "free@example.com")

    status, body, _ = await deployment.scim(
        "PATCH",
        f"/Users/{user['id']}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "userName", "value": "Taken@example.com"}],
        },
    )

    assert (status, body["scimType"]) == (409, "uniqueness")
    assert deployment.portal.get_user(user["id"]).user_name == "free@example.com"


async def test_enterprise_attributes_are_stored_and_returned(deployment: Deployment) -> None:
    manager = await create_user(deployment, "boss@example.com")
    user = await create_user(
        deployment,
        "worker@example.com",
        **{ENTERPRISE: {"department": "Finance", "manager": {"value": manager["id"]}}},
    )

    status, body, _ = await deployment.scim("GET", f"/Users/{user['id']}")

    assert status == 200
    assert ENTERPRISE in body["schemas"]
    assert body[ENTERPRISE] == {"department": "Finance", "manager": {"value": manager["id"]}}


async def test_patch_of_the_extension_ignores_schemas_inside_its_value(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "sdk@example.com")
    value = {"schemas": [ENTERPRISE], "employeeNumber": "42"}

    status, body, _ = await deployment.scim(
        "PATCH",
        f"/Users/{user['id']}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": ENTERPRISE, "value": value}],
        },
    )

    assert (status, body[ENTERPRISE]) == (200, {"employeeNumber": "42"})


async def test_removing_active_is_refused_and_keeps_the_user_inactive(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "inactive@example.com", active=False)

    status, body, _ = await deployment.scim(
        "PATCH",
        f"/Users/{user['id']}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "active"}]},
    )

    assert (status, body["scimType"]) == (400, "mutability")
    assert deployment.portal.get_user(user["id"]).status == "INACTIVE"
