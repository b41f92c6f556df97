"""The SCIM 2.0 endpoints (RFC 7644 §3) under /scim/v2.

Each handler reads as: what the IdP asked, what provisioning did, what we answer. Who is calling
was settled by the auth middleware; errors are rendered by the error middleware.
"""

from dataclasses import replace
from typing import Any

import structlog
from aiohttp import web

from gateway.scim import discovery
from gateway.scim.errors import MethodNotAllowed, NotFound, ScimError, TooMany
from gateway.scim.listing import (
    ListQuery,
    can_match_type,
    list_response,
    page,
    parse_list_query,
    parse_search_request,
    sort_resources,
)
from gateway.scim.resources import ResourceTypeName, project, resolve_path
from gateway.web.keys import GROUPS, SETTINGS, USERS
from gateway.web.media import read_json_object, scim_json

SCIM_PREFIX = "/scim/v2"
ROOT_SEARCH_TYPES: tuple[ResourceTypeName, ...] = ("User", "Group")
DISCOVERY = frozenset({"ServiceProviderConfig", "ResourceTypes", "Schemas"})
ALLOW_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")  # every method a route serves


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get(f"{SCIM_PREFIX}/Users", list_users),
            web.post(f"{SCIM_PREFIX}/Users", create_user),
            web.post(f"{SCIM_PREFIX}/Users/.search", search_users),
            web.get(f"{SCIM_PREFIX}/Users/{{id}}", get_user),
            web.put(f"{SCIM_PREFIX}/Users/{{id}}", replace_user),
            web.patch(f"{SCIM_PREFIX}/Users/{{id}}", patch_user),
            web.delete(f"{SCIM_PREFIX}/Users/{{id}}", delete_user),
            web.get(f"{SCIM_PREFIX}/Groups", list_groups),
            web.post(f"{SCIM_PREFIX}/Groups", create_group),
            web.post(f"{SCIM_PREFIX}/Groups/.search", search_groups),
            web.get(f"{SCIM_PREFIX}/Groups/{{id}}", get_group),
            web.put(f"{SCIM_PREFIX}/Groups/{{id}}", replace_group),
            web.patch(f"{SCIM_PREFIX}/Groups/{{id}}", patch_group),
            web.delete(f"{SCIM_PREFIX}/Groups/{{id}}", delete_group),
            web.post(f"{SCIM_PREFIX}/.search", search_root),
            web.get(f"{SCIM_PREFIX}/ServiceProviderConfig", service_provider_config),
            web.get(f"{SCIM_PREFIX}/ResourceTypes", resource_types),
            web.get(f"{SCIM_PREFIX}/ResourceTypes/{{name}}", resource_type),
            web.get(f"{SCIM_PREFIX}/Schemas", schemas),
            web.get(f"{SCIM_PREFIX}/Schemas/{{urn}}", schema),
            web.route("*", f"{SCIM_PREFIX}/{{tail:.*}}", unknown_endpoint),
        ]
    )


# Users


async def list_users(request: web.Request) -> web.Response:
    query = parse_list_query(request.query, **_list_limits(request))
    _bind("list", "User")

    answer = await request.app[USERS].search(query)

    return scim_json(_projected_list(answer, query, "User"))


async def search_users(request: web.Request) -> web.Response:
    query = parse_search_request(await read_json_object(request), **_list_limits(request))
    _bind("search", "User")

    answer = await request.app[USERS].search(query)

    return scim_json(_projected_list(answer, query, "User"))


async def get_user(request: web.Request) -> web.Response:
    user_id = _bind("get", "User", request.match_info["id"])

    user = await request.app[USERS].get(user_id)

    return _resource(request, user, "User")


async def create_user(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    _bind("create", "User")

    user = await request.app[USERS].create(body)

    structlog.contextvars.bind_contextvars(resource_id=user["id"])
    return _resource(request, user, "User", status=201)


async def replace_user(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    user_id = _bind("replace", "User", request.match_info["id"])

    user = await request.app[USERS].replace(user_id, body, if_match=_if_match(request))

    return _resource(request, user, "User")


async def patch_user(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    user_id = _bind("patch", "User", request.match_info["id"])

    user = await request.app[USERS].patch(user_id, body, if_match=_if_match(request))

    return _resource(request, user, "User")


async def delete_user(request: web.Request) -> web.Response:
    user_id = _bind("delete", "User", request.match_info["id"])

    await request.app[USERS].delete(user_id, if_match=_if_match(request))

    return web.Response(status=204)


# Groups


async def list_groups(request: web.Request) -> web.Response:
    query = parse_list_query(request.query, **_list_limits(request))
    _bind("list", "Group")

    answer = await request.app[GROUPS].search(query, with_members=_wants_members(query))

    return scim_json(_projected_list(answer, query, "Group"))


async def search_groups(request: web.Request) -> web.Response:
    query = parse_search_request(await read_json_object(request), **_list_limits(request))
    _bind("search", "Group")

    answer = await request.app[GROUPS].search(query, with_members=_wants_members(query))

    return scim_json(_projected_list(answer, query, "Group"))


async def get_group(request: web.Request) -> web.Response:
    group_id = _bind("get", "Group", request.match_info["id"])
    wanted = _wants_members_in(request)

    group = await request.app[GROUPS].get(group_id, with_members=wanted)

    return _resource(request, group, "Group")


async def create_group(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    _bind("create", "Group")

    group = await request.app[GROUPS].create(body)

    structlog.contextvars.bind_contextvars(resource_id=group["id"])
    return _resource(request, group, "Group", status=201)


async def replace_group(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    group_id = _bind("replace", "Group", request.match_info["id"])

    group = await request.app[GROUPS].replace(group_id, body, if_match=_if_match(request))

    return _resource(request, group, "Group")


async def patch_group(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    group_id = _bind("patch", "Group", request.match_info["id"])

    group = await request.app[GROUPS].patch(
        group_id, body, if_match=_if_match(request), with_members=_wants_members_in(request)
    )

    return _resource(request, group, "Group")


async def delete_group(request: web.Request) -> web.Response:
    group_id = _bind("delete", "Group", request.match_info["id"])

    await request.app[GROUPS].delete(group_id, if_match=_if_match(request))

    return web.Response(status=204)


# The root search (RFC 7644 §3.4.3): Users and Groups in one ListResponse.


async def search_root(request: web.Request) -> web.Response:
    """Users first, then Groups, unless `sortBy` orders the two together.

    A resource type none of whose resources can satisfy the filter (it names only attributes
    that type lacks) is not read at all, so `userName eq "x"` costs no group lookups.
    """
    query = parse_search_request(await read_json_object(request), **_list_limits(request))
    _bind("search", "Root")
    types = [
        name
        for name in ROOT_SEARCH_TYPES
        if query.filter is None or can_match_type(query.filter, name)
    ]

    if query.sort_by is None:
        answer = await _root_page(request, query, types)
    else:
        answer = await _root_sorted(request, query, types)

    return scim_json(answer)


async def _root_page(
    request: web.Request, query: ListQuery, types: list[ResourceTypeName]
) -> dict[str, Any]:
    """One window over the concatenation, each type asked only for its part of it."""
    resources: list[dict[str, Any]] = []
    total = 0
    for name in types:
        wanted = query.count - len(resources)
        start = max(1, query.start_index - total)
        answer = await _search_type(request, name, replace(query, start_index=start, count=wanted))
        total += answer["totalResults"]
        resources += answer["Resources"][:wanted]

    return list_response(resources, total=total, start_index=query.start_index)


async def _root_sorted(
    request: web.Request, query: ListQuery, types: list[ResourceTypeName]
) -> dict[str, Any]:
    """Every match of both types, ordered together (RFC 7644 §3.4.2.3), then one page."""
    limit = request.app[SETTINGS].limits.max_count
    everything: list[dict[str, Any]] = []
    for name in types:
        answer = await _search_type(request, name, replace(query, start_index=1, count=limit))
        if answer["totalResults"] > limit:
            raise TooMany(
                f"{answer['totalResults']} {name} resources match; a root search with sortBy "
                f"orders at most {limit} of each type. Search /Users or /Groups instead."
            )
        everything += answer["Resources"]

    ordered = sort_resources(everything, query.sort_by, query.sort_order)
    return list_response(page(ordered, query), total=len(ordered), start_index=query.start_index)


async def _search_type(
    request: web.Request, name: ResourceTypeName, query: ListQuery
) -> dict[str, Any]:
    if name == "User":
        answer = await request.app[USERS].search(query)
    else:
        answer = await request.app[GROUPS].search(query, with_members=_wants_members(query))

    return _projected_list(answer, query, name)


# Discovery (RFC 7644 §4): read-only documents describing exactly what the gateway does.


async def service_provider_config(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]

    document = discovery.service_provider_config(
        base_url=settings.server.scim_base_url(),
        filter_max_results=settings.limits.max_count,
        sort=True,
        etag=True,
        change_password=settings.portal.forward_passwords,
        auth_schemes=_auth_schemes(request),
        documentation_uri=None,
    )

    return scim_json(document)


async def resource_types(request: web.Request) -> web.Response:
    documents = discovery.resource_types(request.app[SETTINGS].server.scim_base_url())

    return scim_json(_discovery_list(documents))


async def resource_type(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    documents = discovery.resource_types(request.app[SETTINGS].server.scim_base_url())

    return scim_json(_one_of(documents, name, "resource type"))


async def schemas(request: web.Request) -> web.Response:
    return scim_json(
        _discovery_list(discovery.schemas(request.app[SETTINGS].server.scim_base_url()))
    )


async def schema(request: web.Request) -> web.Response:
    return scim_json(
        _one_of(
            discovery.schemas(request.app[SETTINGS].server.scim_base_url()),
            request.match_info["urn"],
            "schema",
        )
    )


async def unknown_endpoint(request: web.Request) -> web.Response:
    """What no route serves: 405 naming the methods the path allows (RFC 9110 §15.5.6: a 405
    carries `Allow`), else 404; a path that differs from an endpoint only by a trailing or
    doubled slash names that endpoint, since the fault is then the IdP's base URL."""
    path = request.rel_url.path_safe
    allowed = _allowed_methods(request, path)
    if allowed:
        tail = request.match_info["tail"].split("/")[0]
        said = f"/{tail} is read-only" if tail in DISCOVERY else f"{request.method} is not allowed"
        raise MethodNotAllowed(
            f"{said} on {request.path}; send one of: {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )

    canonical = "/" + "/".join(part for part in path.split("/") if part)
    if canonical != path and _allowed_methods(request, canonical):
        raise NotFound(
            f"No SCIM endpoint at {request.path}; the endpoint is {canonical}. Set the IdP's "
            "SCIM base URL without a trailing slash, ending in /scim/v2."
        )
    raise NotFound(
        f"No SCIM endpoint at {request.path}: this gateway serves /Users, /Groups, "
        "/ServiceProviderConfig, /ResourceTypes and /Schemas under /scim/v2."
    )


def _allowed_methods(request: web.Request, path: str) -> list[str]:
    """The methods some route other than the catch-all serves at `path`."""
    catch_all = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        info = resource.get_info()
        pattern, plain = info.get("pattern"), info.get("path")
        matches = pattern.fullmatch(path) if pattern is not None else plain == path
        if resource is not catch_all and matches:
            allowed |= {route.method for route in resource}

    return [method for method in ALLOW_ORDER if method in allowed]


# The answer's shape


def _resource(
    request: web.Request, resource: dict[str, Any], resource_type: str, *, status: int = 200
) -> web.Response:
    """One resource with its `ETag` (and `Location` on create), projected as the query asked."""
    meta = resource["meta"]
    headers = {"ETag": meta["version"]}
    if status == 201:
        headers["Location"] = meta["location"]

    query = request.query
    body = project(
        resource,
        attributes=_csv(query.get("attributes")),
        excluded_attributes=_csv(query.get("excludedAttributes")),
        resource_type=resource_type,  # type: ignore[arg-type]
    )
    return scim_json(body, status=status, headers=headers)


def _projected_list(answer: dict[str, Any], query: ListQuery, resource_type: str) -> dict:
    answer["Resources"] = [
        project(
            resource,
            attributes=query.attributes,
            excluded_attributes=query.excluded_attributes,
            resource_type=resource_type,  # type: ignore[arg-type]
        )
        for resource in answer["Resources"]
    ]

    return answer


def _discovery_list(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(documents),
        "startIndex": 1,
        "itemsPerPage": len(documents),
        "Resources": documents,
    }


def _one_of(documents: list[dict[str, Any]], key: str, kind: str) -> dict[str, Any]:
    for document in documents:
        if key in (document.get("id"), document.get("name")):
            return document

    raise NotFound(f"No {kind} {key!r}; GET the list to see which exist.")


def _auth_schemes(request: web.Request) -> list[dict[str, Any]]:
    auth = request.app[SETTINGS].auth
    schemes: list[dict[str, Any]] = []
    if auth.basic:
        schemes.append(
            {
                "type": "httpbasic",
                "name": "HTTP Basic",
                "description": "HTTP Basic with a generated machine credential.",
            }
        )
    if auth.oauth_clients or auth.bearer:
        schemes.append(
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A static token, or an access token from the gateway's "
                "OAuth 2.0 client-credentials endpoint.",
            }
        )

    return schemes


def _wants_members(query: ListQuery) -> bool:
    return _members_requested(query.attributes, query.excluded_attributes)


def _wants_members_in(request: web.Request) -> bool:
    return _members_requested(
        _csv(request.query.get("attributes")), _csv(request.query.get("excludedAttributes"))
    )


def _members_requested(attributes: tuple[str, ...], excluded: tuple[str, ...]) -> bool:
    """Reading members costs portal calls; skip them when the IdP excluded them (Entra does).

    `members.value` asked for needs the members; `members.display` excluded still does."""
    if attributes:
        return any(_names_members(name, whole=False) for name in attributes)

    return not any(_names_members(name, whole=True) for name in excluded)


def _names_members(name: str, *, whole: bool) -> bool:
    try:
        path = resolve_path("Group", name)
    except ScimError:
        return False  # an unknown name selects nothing, as in `project`

    if path.attribute is None or path.attribute.name != "members":
        return False
    return path.sub_attribute is None or not whole


def _csv(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()

    return tuple(part.strip() for part in value.split(",") if part.strip())


def _list_limits(request: web.Request) -> dict[str, int]:
    """`[limits]` for a list or search: the page size cap and the filter's size."""
    limits = request.app[SETTINGS].limits

    return {
        "max_count": limits.max_count,
        "filter_max_length": limits.filter_max_length,
        "filter_max_depth": limits.filter_max_depth,
    }


def _if_match(request: web.Request) -> str | None:
    return request.headers.get("If-Match")


def _bind(operation: str, resource_type: str, resource_id: str | None = None) -> str:
    """Name the SCIM operation in the request's log context (the access event carries it)."""
    structlog.contextvars.bind_contextvars(scim_operation=operation, resource_type=resource_type)
    if resource_id is not None:
        structlog.contextvars.bind_contextvars(resource_id=resource_id)

    return resource_id or ""
