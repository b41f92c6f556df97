"""Every portal failure becomes a typed `PortalError`; no httpx error escapes the client.

The portal is replaced at the transport here, so that any status or broken answer can be served.
"""

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from pydantic import SecretStr

from gateway.kyvos.client import PortalClient
from gateway.kyvos.errors import (
    PortalAuthFailed,
    PortalConflict,
    PortalError,
    PortalForbidden,
    PortalNotFound,
    PortalProtocolError,
    PortalRejected,
    PortalUnavailable,
)
from gateway.settings import PortalSettings

Handler = Callable[[httpx.Request], httpx.Response]

ABOUT = {"product": "Kyvos Web Portal", "version": "2026.2"}
LOGIN_XML = b"<response><SUCCESS>session-1</SUCCESS></response>"
ERROR_BODY = {"errorCode": "SOME_CODE", "message": "What the portal said."}


class FakePortal:
    """Answers `about` and `login` like the portal, and everything else with `answer`."""

    def __init__(self) -> None:
        self.answer: Handler = lambda request: httpx.Response(200, json={})
        self.login: Handler = lambda request: httpx.Response(200, content=LOGIN_XML)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/kyvos/rest/about":
            return httpx.Response(200, json=ABOUT)
        if request.url.path == "/kyvos/rest/login":
            return self.login(request)

        return self.answer(request)

    def status(self, status: int, **headers: str) -> None:
        self.answer = lambda request: httpx.Response(status, json=ERROR_BODY, headers=headers)

    def routes(self) -> list[str]:
        return [request.url.path for request in self.requests]


def settings(max_attempts: int = 2) -> PortalSettings:
    return PortalSettings.model_validate(
        {
            "url": "http://portal.test/kyvos",
            "username": "scim-gateway",
            "password": SecretStr("service-Passw0rd"),
            "max_attempts": max_attempts,
            "backoff_max_seconds": 0,
        }
    )


@pytest.fixture
def fake() -> FakePortal:
    return FakePortal()


@pytest.fixture
async def client(fake: FakePortal) -> AsyncIterator[PortalClient]:
    async with PortalClient(settings(), transport=httpx.MockTransport(fake)) as started:
        yield started


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PortalRejected),
        (401, PortalAuthFailed),
        (403, PortalForbidden),
        (404, PortalNotFound),
        (409, PortalConflict),
        (410, PortalNotFound),
        (413, PortalRejected),
        (422, PortalRejected),
        (408, PortalUnavailable),
        (429, PortalUnavailable),
        (500, PortalUnavailable),
        (502, PortalUnavailable),
        (503, PortalUnavailable),
        (504, PortalUnavailable),
        (302, PortalProtocolError),
        (405, PortalProtocolError),
        (501, PortalProtocolError),
    ],
)
async def test_each_portal_status_raises_its_error_with_the_portals_code(
    client: PortalClient, fake: FakePortal, status: int, error: type[PortalError]
) -> None:
    fake.status(status)

    with pytest.raises(PortalError) as raised:
        await client.get_user("u1")

    assert type(raised.value) is error
    assert (raised.value.status, raised.value.code) == (status, "SOME_CODE")


async def test_every_unsuccessful_status_becomes_a_portal_error(
    client: PortalClient, fake: FakePortal
) -> None:
    outcomes: dict[int, str] = {}
    for status in range(300, 600):
        fake.status(status)
        try:
            await client.get_user("u1")
        except PortalError as error:
            outcomes[status] = "ok" if error.status == status else f"status {error.status}"

    assert outcomes == dict.fromkeys(range(300, 600), "ok")


async def test_a_refusal_keeps_the_portals_message(client: PortalClient, fake: FakePortal) -> None:
    fake.status(400)

    with pytest.raises(PortalRejected) as rejected:
        await client.update_user("u1", {"role": "Nobody"})

    assert rejected.value.message == "What the portal said."


async def test_a_second_401_after_a_fresh_login_raises_auth_failed(
    client: PortalClient, fake: FakePortal
) -> None:
    fake.status(401)

    with pytest.raises(PortalAuthFailed):
        await client.find_users()

    assert fake.routes().count("/kyvos/rest/login") == 2
    assert fake.routes().count("/kyvos/rest/security/users") == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.ReadTimeout("slow answer"),
        httpx.WriteTimeout("slow send"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("reset"),
        httpx.PoolTimeout("no free connection"),
    ],
)
async def test_transport_failures_become_unavailable_after_the_retries(
    client: PortalClient, fake: FakePortal, failure: httpx.TransportError
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    fake.answer = fail

    with pytest.raises(PortalUnavailable) as unavailable:
        await client.get_user("u1")

    assert type(unavailable.value) is PortalUnavailable
    assert unavailable.value.__cause__ is not None
    assert unavailable.value.__cause__.__cause__ is failure
    assert fake.routes().count("/kyvos/rest/security/users/u1") == 2


async def test_a_create_is_not_sent_twice_after_a_failure_that_may_have_committed(
    client: PortalClient, fake: FakePortal
) -> None:
    def created_but_timed_out(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("slow answer")
        user = {"id": "u1", "userName": "ada@example.com", "status": "ACTIVE"}
        return httpx.Response(200, json={"total": 1, "users": [user]})

    fake.answer = created_but_timed_out

    created = await client.create_user({"userName": "ada@example.com"})

    assert created.id == "u1"
    assert [r.method for r in fake.requests[-2:]] == ["POST", "GET"]
    assert fake.requests[-1].url.params["userName"] == "ada@example.com"


async def test_an_answer_that_is_not_json_raises_protocol_error(
    client: PortalClient, fake: FakePortal
) -> None:
    fake.answer = lambda request: httpx.Response(200, content=b"<html>maintenance</html>")

    with pytest.raises(PortalProtocolError):
        await client.get_user("u1")


async def test_a_user_without_a_user_name_raises_protocol_error(
    client: PortalClient, fake: FakePortal
) -> None:
    fake.answer = lambda request: httpx.Response(200, json={"id": "u1", "status": "ACTIVE"})

    with pytest.raises(PortalProtocolError) as broken:
        await client.get_user("u1")

    assert "userName" in broken.value.message


async def test_an_oversized_answer_is_refused_before_it_is_read(
    client: PortalClient, fake: FakePortal
) -> None:
    huge = {"Content-Length": str(64 * 1024 * 1024)}
    fake.answer = lambda request: httpx.Response(200, content=b"{}", headers=huge)

    with pytest.raises(PortalProtocolError):
        await client.find_users()


async def test_a_redirect_is_never_followed(client: PortalClient, fake: FakePortal) -> None:
    to_manager = {"Location": "http://portal.test/kyvosmanager/rest/security/users"}
    fake.answer = lambda request: httpx.Response(302, headers=to_manager)

    with pytest.raises(PortalProtocolError):
        await client.find_users()

    assert not any("kyvosmanager" in path for path in fake.routes())


async def test_a_login_answered_with_an_error_element_raises_auth_failed(
    fake: FakePortal,
) -> None:
    fake.login = lambda request: httpx.Response(200, content=b"<r><ERROR>Invalid</ERROR></r>")

    with pytest.raises(PortalAuthFailed) as refused:
        async with PortalClient(settings(), transport=httpx.MockTransport(fake)):
            pass

    assert "portal.password" in refused.value.message
    assert "service-Passw0rd" not in str(refused.value)


async def test_a_login_refused_with_401_is_not_retried(fake: FakePortal) -> None:
    fake.login = lambda request: httpx.Response(401, json=ERROR_BODY)

    with pytest.raises(PortalAuthFailed):
        async with PortalClient(settings(), transport=httpx.MockTransport(fake)):
            pass

    assert fake.routes().count("/kyvos/rest/login") == 1


async def test_an_oversized_login_answer_raises_protocol_error(fake: FakePortal) -> None:
    padding = b"<pad>" + b"x" * 100_000 + b"</pad>"
    fake.login = lambda request: httpx.Response(200, content=b"<r>" + padding + b"</r>")

    with pytest.raises(PortalProtocolError):
        async with PortalClient(settings(), transport=httpx.MockTransport(fake)):
            pass


async def test_the_session_id_is_sent_in_its_header_and_the_password_only_to_login(
    client: PortalClient, fake: FakePortal
) -> None:
    fake.answer = lambda request: httpx.Response(200, json={"total": 0, "users": []})

    await client.find_users()

    login, users = fake.requests[-2], fake.requests[-1]
    assert b"service-Passw0rd" in login.content
    assert users.headers["sessionid"] == "session-1"
    assert b"service-Passw0rd" not in users.content


async def test_requests_after_a_refused_login_do_not_log_in_again_at_once(
    fake: FakePortal,
) -> None:
    client = PortalClient(settings(), transport=httpx.MockTransport(fake))
    fake.login = lambda request: httpx.Response(401, json=ERROR_BODY)

    for _ in range(3):
        with pytest.raises(PortalAuthFailed):
            await client.find_users()
    await client.close()

    assert fake.routes().count("/kyvos/rest/login") == 1
