"""SCIM media types and JSON bodies (RFC 7644 §3.1, §8.1)."""

import json
from typing import Any

from aiohttp import web

from gateway.scim.errors import InvalidSyntax, UnsupportedMediaType
from gateway.scim.filters import storable_text

SCIM_MEDIA_TYPE = "application/scim+json"
ACCEPTED_BODY_TYPES = frozenset({"application/scim+json", "application/json"})
# SCIM resources nest a few levels (extension -> manager -> value); far deeper JSON is an attack
# on the parsers and models behind, which recurse.
MAX_JSON_DEPTH = 32


def scim_json(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A response in `application/scim+json`, as every SCIM answer must be."""
    return web.Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        status=status,
        headers=headers,
        content_type=SCIM_MEDIA_TYPE,
        charset="utf-8",
    )


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a SCIM error that says what is wrong with it.

    Okta sends `application/scim+json; charset=utf-8`, Entra `application/scim+json`, some
    tools plain `application/json`; a body with no Content-Type is read as JSON too.
    """
    if request.content_type not in ACCEPTED_BODY_TYPES and request.headers.get("Content-Type"):
        raise UnsupportedMediaType(
            f"Content-Type {request.content_type!r} is not accepted; send the body as "
            "application/scim+json or application/json."
        )

    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidSyntax("The request body is not UTF-8 text.") from None
    except json.JSONDecodeError as error:
        raise InvalidSyntax(
            f"The request body is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}."
        ) from None
    except RecursionError:
        raise _too_deep() from None

    if not isinstance(body, dict):
        raise InvalidSyntax("The request body must be a JSON object.")
    _check_nesting_and_text(body)

    return body


def _check_nesting_and_text(body: dict[str, Any]) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH and strings no store can hold (see
    `storable_text`). Walked without recursion."""
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            pending.append((list(item.keys()), depth))
            item = list(item.values())
        if isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and not storable_text(item):
            raise InvalidSyntax(
                "The request body holds a string that no store can hold: a NUL character "
                "(\\u0000) or a lone \\uD800-\\uDFFF escape. Remove it and send the request again."
            )


def _too_deep() -> InvalidSyntax:
    return InvalidSyntax(
        f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
        "no SCIM resource does."
    )
