"""Lookups and lists: the IdP's frequent `eq` lookups cost one portal call; every other filter
is evaluated correctly; pages are stable; a filter the gateway cannot evaluate is refused."""

from typing import Any

import pytest

from tests.conftest import Deployment
from tests.gateway.conftest import (
    EXISTING_USER,
    GROUP_SCHEMA,
    LIST_SCHEMA,
    USER_SCHEMA,
    RecordedDeployment,
    SentRequest,
    calls,
    calls_since,
    scim_error,
)

USERS = "/rest/security/users"
GROUPS = "/rest/security/groups"
SEEDED = 1200  # more than one portal page (500), so a scan would show as several calls


async def create_user(deployment: Deployment, user_name: str, **attributes: Any) -> dict:
    body = {"schemas": [USER_SCHEMA], "userName": user_name, **attributes}
    status, answer, _ = await deployment.scim("POST", "/Users", json=body)
    assert status == 201, answer

    return answer


def portal_reads(deployment: RecordedDeployment, since: int) -> list[SentRequest]:
    return [request for request in deployment.sent[since:] if request.method == "GET"]


def one_result(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": 1,
        "startIndex": 1,
        "itemsPerPage": 1,
        "Resources": [resource],
    }


# The IdP's lookups


async def test_user_name_lookup_is_one_portal_call(recorded: RecordedDeployment) -> None:
    recorded.portal.seed_users(SEEDED)
    ada = await create_user(recorded, "ada@example.com", externalId="00u1")
    since = len(recorded.sent)

    status, body, _ = await recorded.scim(
        "GET", "/Users", params={"filter": 'userName eq "ADA@example.com"'}
    )

    assert (status, body) == (200, one_result(ada))
    [lookup] = portal_reads(recorded, since)
    assert (lookup.path, lookup.query["userName"]) == (USERS, "ADA@example.com")


async def test_external_id_lookup_is_one_portal_call(recorded: RecordedDeployment) -> None:
    recorded.portal.seed_users(SEEDED)
    ada = await create_user(recorded, "ada@example.com", externalId="00u1")
    since = len(recorded.sent)

    status, body, _ = await recorded.scim(
        "GET", "/Users", params={"filter": 'externalId eq "00u1"'}
    )

    assert (status, body) == (200, one_result(ada))
    [lookup] = portal_reads(recorded, since)
    assert lookup.path == f"{USERS}/{ada['id']}"


async def test_email_lookup_is_one_portal_call(recorded: RecordedDeployment) -> None:
    recorded.portal.seed_users(SEEDED)
    ada = await create_user(
        recorded, "ada", emails=[{"value": "ada@example.com", "type": "work", "primary": True}]
    )
    since = len(recorded.sent)

    status, body, _ = await recorded.scim(
        "GET", "/Users", params={"filter": 'emails.value eq "ada@example.com"'}
    )

    assert (status, body) == (200, one_result(ada))
    [lookup] = portal_reads(recorded, since)
    assert (lookup.path, lookup.query["email"]) == (USERS, "ada@example.com")


async def test_display_name_lookup_is_one_portal_call(recorded: RecordedDeployment) -> None:
    for number in range(30):
        body = {"schemas": [GROUP_SCHEMA], "displayName": f"Team {number}"}
        assert (await recorded.scim("POST", "/Groups", json=body))[0] == 201
    since = len(recorded.sent)

    status, body, _ = await recorded.scim(
        "GET",
        "/Groups",
        params={"filter": 'displayName eq "Team 7"', "excludedAttributes": "members"},
    )

    assert status == 200
    assert [group["displayName"] for group in body["Resources"]] == ["Team 7"]
    [lookup] = portal_reads(recorded, since)
    assert (lookup.path, lookup.query["name"]) == (GROUPS, "Team 7")


async def test_lookup_that_finds_nobody_answers_an_empty_list(deployment: Deployment) -> None:
    status, body, _ = await deployment.scim(
        "GET", "/Users", params={"filter": 'userName eq "nobody@example.com"'}
    )

    assert (status, body) == (
        200,
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": 0,
            "startIndex": 1,
            "itemsPerPage": 0,
            "Resources": [],
        },
    )


async def test_lookup_by_post_search_is_answered_like_get(deployment: Deployment) -> None:
    ada = await create_user(deployment, "ada@example.com")

    status, body, _ = await deployment.scim(
        "POST",
        "/Users/.search",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "ada@example.com"',
        },
    )

    assert (status, body) == (200, one_result(ada))


# Filters only the gateway can evaluate


@pytest.fixture
async def people(deployment: Deployment) -> Deployment:
    """Ada (a title, active), Grace (no title, inactive) and the portal's Dana."""
    await create_user(
        deployment,
        "ada@example.com",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        title="Analyst",
    )
    await create_user(
        deployment,
        "grace@example.com",
        name={"givenName": "Grace", "familyName": "Hopper"},
        active=False,
    )

    return deployment


@pytest.mark.parametrize(
    ("filter", "user_names"),
    [
        ('userName sw "ADA"', ["ada@example.com"]),
        ('name.familyName co "opp"', ["grace@example.com"]),
        ("title pr", ["ada@example.com"]),
        ("active eq false", ["grace@example.com"]),
        (
            'userName ew "@example.com" and not (title pr)',
            [EXISTING_USER, "grace@example.com"],
        ),
        (
            'userName eq "ada@example.com" or name.givenName eq "Grace"',
            ["ada@example.com", "grace@example.com"],
        ),
        (
            'userName co "example" and (title pr or active eq false)',
            ["ada@example.com", "grace@example.com"],
        ),
        ('emails[type eq "work" and value sw "dana"]', [EXISTING_USER]),
        ('not (userName co "@")', ["scim-gateway"]),
    ],
)
async def test_other_filters_are_evaluated_by_the_gateway(
    people: Deployment, filter: str, user_names: list[str]
) -> None:
    status, body, _ = await people.scim("GET", "/Users", params={"filter": filter})

    assert status == 200
    assert sorted(user["userName"] for user in body["Resources"]) == user_names
    assert (body["totalResults"], body["itemsPerPage"]) == (len(user_names), len(user_names))


# Pages


async def page_of(deployment: Deployment, params: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = await deployment.scim("GET", "/Users", params=params)
    assert status == 200, body

    return body


async def test_unfiltered_pages_are_stable_and_numbered(deployment: Deployment) -> None:
    deployment.portal.seed_users(5)
    everyone = await page_of(deployment, {})
    assert everyone["totalResults"] == 7

    pages = [await page_of(deployment, {"startIndex": start, "count": 3}) for start in (1, 4, 7)]

    assert [(p["totalResults"], p["startIndex"], p["itemsPerPage"]) for p in pages] == [
        (7, 1, 3),
        (7, 4, 3),
        (7, 7, 1),
    ]
    ids = [user["id"] for p in pages for user in p["Resources"]]
    assert ids == [user["id"] for user in everyone["Resources"]]


async def test_filtered_pages_are_stable_and_numbered(deployment: Deployment) -> None:
    deployment.portal.seed_users(7, prefix="seed")
    everyone = await page_of(deployment, {"filter": 'userName sw "seed."'})
    assert everyone["totalResults"] == 7

    pages = [
        await page_of(deployment, {"filter": 'userName sw "seed."', "startIndex": s, "count": 4})
        for s in (1, 5)
    ]

    assert [(p["totalResults"], p["startIndex"], p["itemsPerPage"]) for p in pages] == [
        (7, 1, 4),
        (7, 5, 3),
    ]
    ids = [user["id"] for p in pages for user in p["Resources"]]
    assert ids == [user["id"] for user in everyone["Resources"]]


async def test_count_zero_answers_the_total_only(deployment: Deployment) -> None:
    deployment.portal.seed_users(4)

    body = await page_of(deployment, {"count": 0})

    assert body == {
        "schemas": [LIST_SCHEMA],
        "totalResults": 6,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


# Filters the gateway refuses


@pytest.mark.parametrize(
    "filter",
    [
        "userName eq",
        'userName xx "ada"',
        '(userName eq "ada"',
        'userName eq "ada" and',
        "userName eq ada",
    ],
)
async def test_filter_that_cannot_be_evaluated_is_refused_not_ignored(
    deployment: Deployment, filter: str
) -> None:
    before = calls(deployment.portal)

    status, body, _ = await deployment.scim("GET", "/Users", params={"filter": filter})

    assert (status, body) == (400, scim_error(400, "invalidFilter"))
    assert calls_since(deployment.portal, before) == {}
