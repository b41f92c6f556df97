"""What reaches the log when a request is malformed: an `access` event, never the bytes that
were refused, which may be a credential or an e-mail address."""

import io

from tests.conftest import Deployment
from tests.edge.conftest import exchange, log_events


async def test_a_header_the_parser_refuses_leaves_no_token_in_the_log(
    served: Deployment, log: io.StringIO
) -> None:
    token = served.credentials.bearer_token
    request = (
        f"GET /scim/v2/Users HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\x01\r\n\r\n"
    )

    status, _ = await exchange(served, request.encode())

    assert status == 400
    assert token not in log.getvalue()
    assert [(e["event"], e["level"], e.get("error")) for e in log_events(log)] == [
        ("http_request_refused", "info", "BadHttpMessage"),
        ("access", "info", None),
    ]


async def test_a_request_the_parser_refuses_gets_an_access_event(
    served: Deployment, log: io.StringIO
) -> None:
    request = (
        b"GET /scim/v2/Users?filter=userName%20eq%20%22grace.hopper%22&"
        + b"a" * 9000
        + b" HTTP/1.1\r\n\r\n"
    )

    status, _ = await exchange(served, request)

    access = [event for event in log_events(log) if event["event"] == "access"]
    assert status == 400
    assert [(e["method"], e["route"], e["status"], e["remote"]) for e in access] == [
        ("UNKNOWN", "unparsed", 400, "127.0.0.1")
    ]
    assert "grace.hopper" not in log.getvalue()


async def test_a_body_that_does_not_decode_logs_no_traceback(
    served: Deployment, log: io.StringIO
) -> None:
    body = b"not gzip at all"
    request = (
        b"POST /scim/v2/Users HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
        b"Authorization: " + served.credentials.basic_header.encode() + b"\r\n"
        b"Content-Type: application/scim+json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    status, _ = await exchange(served, request)

    events = log_events(log)
    assert status == 400
    assert [e["level"] for e in events if e["level"] not in ("info", "debug")] == []
    assert not any("exception" in event for event in events)
    assert [(e["route"], e["status"]) for e in events if e["event"] == "access"] == [
        ("/scim/v2/Users", 400)
    ]
