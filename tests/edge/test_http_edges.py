"""Methods, paths and bodies at the edge of what the SCIM routes serve."""

import gzip

from tests.conftest import Deployment
from tests.edge.conftest import exchange
from tests.gateway.conftest import USER_SCHEMA, scim_error


async def test_a_method_the_users_path_does_not_serve_gets_405_naming_those_it_does(
    deployment: Deployment,
) -> None:
    status, body, headers = await deployment.scim("OPTIONS", "/Users")

    assert (status, body) == (405, scim_error(405))
    assert (
        body["detail"] == "OPTIONS is not allowed on /scim/v2/Users; send one of: GET, HEAD, POST."
    )
    assert headers["Allow"] == "GET, HEAD, POST"


async def test_post_to_a_user_gets_405_naming_the_methods_of_a_user(
    deployment: Deployment,
) -> None:
    status, body, headers = await deployment.scim("POST", "/Users/some-id", json={})

    assert (status, body) == (405, scim_error(405))
    assert headers["Allow"] == "GET, HEAD, PUT, PATCH, DELETE"


async def test_get_on_a_search_endpoint_gets_405_naming_post(deployment: Deployment) -> None:
    status, body, headers = await deployment.scim("GET", "/.search")

    assert (status, body) == (405, scim_error(405))
    assert headers["Allow"] == "POST"


async def test_a_trailing_slash_gets_404_naming_the_endpoint_not_405(
    deployment: Deployment,
) -> None:
    status, body, headers = await deployment.scim("GET", "/Users/")

    assert (status, body) == (404, scim_error(404))
    assert body["detail"] == (
        "No SCIM endpoint at /scim/v2/Users/; the endpoint is /scim/v2/Users. Set the IdP's "
        "SCIM base URL without a trailing slash, ending in /scim/v2."
    )
    assert "Allow" not in headers


async def test_a_doubled_slash_from_a_base_url_ending_in_a_slash_names_the_endpoint(
    deployment: Deployment,
) -> None:
    status, body, _ = await deployment.scim("POST", "//Users", json={})

    assert (status, body) == (404, scim_error(404))
    assert "the endpoint is /scim/v2/Users." in body["detail"]


async def test_a_body_whose_content_encoding_does_not_decode_gets_400_not_500(
    deployment: Deployment,
) -> None:
    headers = {"Content-Type": "application/scim+json", "Content-Encoding": "gzip"}
    before = set(deployment.portal.users)

    status, body, _ = await deployment.scim(
        "POST", "/Users", data=b"not gzip at all", headers=headers
    )

    assert (status, body) == (400, scim_error(400, "invalidSyntax"))
    assert set(deployment.portal.users) == before


async def test_a_gzip_body_is_decoded_and_served(deployment: Deployment) -> None:
    user = f'{{"schemas":["{USER_SCHEMA}"],"userName":"zipped@example.com"}}'
    headers = {"Content-Type": "application/scim+json", "Content-Encoding": "gzip"}

    status, body, _ = await deployment.scim(
        "POST", "/Users", data=gzip.compress(user.encode()), headers=headers
    )

    assert (status, body["userName"]) == (201, "zipped@example.com")


async def test_a_gzip_body_larger_than_the_limit_once_decoded_gets_413(
    deployment: Deployment,
) -> None:
    headers = {"Content-Type": "application/scim+json", "Content-Encoding": "gzip"}
    bomb = gzip.compress(b" " * (deployment.settings.server.max_body_bytes * 8))

    status, body, _ = await deployment.scim("POST", "/Users", data=bomb, headers=headers)

    assert (status, body) == (413, scim_error(413))


async def test_a_request_the_parser_refuses_still_gets_its_plain_400(served: Deployment) -> None:
    request = b"GET /scim/v2/Users HTTP/1.1\r\nHost: gateway\r\nX-Request-Id: a\x01b\r\n\r\n"

    status, body = await exchange(served, request)

    assert status == 400
    assert body.startswith(b"Invalid header value char")
