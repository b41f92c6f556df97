"""The assumed portal contract: requests built, answers read, anything else refused."""

import pytest

from gateway.kyvos import contract
from gateway.kyvos.errors import PortalNotFound, PortalProtocolError
from gateway.kyvos.records import Page, PortalGroup, PortalMember, PortalUser

USER_JSON = {
    "id": "u1",
    "userName": "ada@example.com",
    "email": "ada@example.com",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "authType": "NATIVE",
    "role": "Business User",
    "status": "active",
    "description": None,
    "groups": ["g1", 7],
    "passwordSetCount": 0,
}


def test_an_id_is_one_escaped_path_segment() -> None:
    request = contract.get_user("../kyvosmanager/x y")

    assert request.path == "/rest/security/users/..%2Fkyvosmanager%2Fx%20y"
    assert request.route.template == "/rest/security/users/{id}"


@pytest.mark.parametrize("user_id", ["", ".", ".."])
def test_a_dot_segment_id_names_no_record(user_id: str) -> None:
    with pytest.raises(PortalNotFound):
        contract.get_user(user_id)


def test_a_user_lookup_sends_only_the_fields_asked_for() -> None:
    request = contract.find_users(user_name="ada@example.com", email=None, offset=0, limit=1)

    assert request.params == {"offset": 0, "limit": 1, "userName": "ada@example.com"}


def test_member_changes_send_user_ids() -> None:
    request = contract.remove_members("g1", ["u1", "u2"])

    assert (request.route.method, request.path) == (
        "POST",
        "/rest/security/groups/g1/members/remove",
    )
    assert request.json == {"userIds": ["u1", "u2"]}


def test_a_creation_is_not_idempotent_by_itself() -> None:
    assert not contract.create_user({"userName": "ada"}).route.idempotent
    assert contract.add_members("g1", ["u1"]).route.idempotent


def test_a_user_is_read_into_a_record() -> None:
    assert contract.parse_user(USER_JSON) == PortalUser(
        id="u1",
        user_name="ada@example.com",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        auth_type="NATIVE",
        role="Business User",
        status="ACTIVE",
        description=None,
        groups=("g1", "7"),
    )


@pytest.mark.parametrize(
    "broken",
    [
        {"userName": "ada", "status": "ACTIVE"},
        {"id": "u1", "status": "ACTIVE"},
        {"id": "u1", "userName": "", "status": "ACTIVE"},
        {"id": "u1", "userName": "ada"},
        {"id": "u1", "userName": "ada", "status": "SUSPENDED"},
        {"id": True, "userName": "ada", "status": "ACTIVE"},
        {"id": "u1", "userName": "ada", "status": "ACTIVE", "email": 3},
        {"id": "u1", "userName": "ada", "status": "ACTIVE", "groups": "g1"},
        ["not", "an", "object"],
    ],
)
def test_a_user_outside_the_contract_is_refused(broken: object) -> None:
    with pytest.raises(PortalProtocolError):
        contract.parse_user(broken)


def test_pages_of_groups_and_members_are_read() -> None:
    groups = {"total": 3, "groups": [{"id": 1, "name": "Analysts", "roles": ["Designer"]}]}
    members = {"total": 1, "users": [{"id": "u1", "userName": "ada"}]}

    assert contract.parse_groups(groups) == Page(
        total=3,
        items=[
            PortalGroup(
                id="1", name="Analysts", roles=("Designer",), description=None, member_count=0
            )
        ],
    )
    assert contract.parse_members(members) == Page(1, [PortalMember(id="u1", user_name="ada")])


@pytest.mark.parametrize("broken", [{"users": []}, {"total": -1, "users": []}, {"total": 1}])
def test_a_page_outside_the_contract_is_refused(broken: object) -> None:
    with pytest.raises(PortalProtocolError):
        contract.parse_users(broken)


def test_roles_and_the_authentication_system_are_read() -> None:
    assert contract.parse_role_names([{"name": "Administrator"}, {"name": "Designer"}]) == [
        "Administrator",
        "Designer",
    ]
    assert contract.parse_authentication_system({"authenticationSystem": "ras"}) == "RAS"


@pytest.mark.parametrize(
    "body",
    [
        b"<response><SUCCESS>abc123</SUCCESS></response>",
        b"<SUCCESS> abc123 </SUCCESS>",
        b'<r xmlns="urn:kyvos"><status><SUCCESS>abc123</SUCCESS></status></r>',
    ],
)
def test_the_session_id_is_read_from_the_success_element(body: bytes) -> None:
    assert contract.parse_session_id(body) == "abc123"


def test_a_login_answer_with_an_error_element_holds_no_session() -> None:
    assert contract.parse_session_id(b"<response><ERROR>Invalid user</ERROR></response>") is None


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<response><OTHER>x</OTHER></response>",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r><SUCCESS>&a;</SUCCESS></r>',
    ],
)
def test_a_login_answer_outside_the_contract_is_refused(body: bytes) -> None:
    with pytest.raises(PortalProtocolError):
        contract.parse_session_id(body)


def test_an_error_body_of_another_shape_still_yields_the_error() -> None:
    assert contract.parse_error(b'{"errorCode": "X", "message": "m"}') == ("X", "m")
    assert contract.parse_error(b"<html>Bad gateway</html>") == (None, None)
    assert contract.parse_error(b'["x"]') == (None, None)
