"""List and search queries (RFC 7644 §3.4.2, §3.4.3) and the ListResponse they are answered with.

Okta pages with `startIndex` and `count` and reads `totalResults`, `startIndex` and
`itemsPerPage` as JSON integers; Entra sends `filter` alone. Both read as one ListQuery.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.scim.errors import InvalidPath, InvalidSyntax, InvalidValue
from gateway.scim.filters import (
    DATETIME_PATHS,
    Filter,
    is_case_exact,
    matches,
    parse_datetime,
    parse_filter,
    referenced_attributes,
)
from gateway.scim.resources import ResourceTypeName, resolve_path

__all__ = [
    "LIST_RESPONSE_SCHEMA",
    "SEARCH_REQUEST_SCHEMA",
    "ListQuery",
    "can_match_type",
    "list_response",
    "page",
    "parse_list_query",
    "parse_search_request",
    "sort_resources",
]

LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

ASCENDING = "ascending"
DESCENDING = "descending"

# attrPath of RFC 7644 §3.10: [URN ":"] name ["." subName]. The URN alone also names an
# extension as a whole, which `attributes` and `excludedAttributes` allow.
_ATTR_PATH = re.compile(
    r"(?:urn:[A-Za-z0-9][A-Za-z0-9._:-]*:)?\$?[A-Za-z][A-Za-z0-9$_-]*"
    r"(?:\.\$?[A-Za-z][A-Za-z0-9$_-]*)?"
    r"|urn:[A-Za-z0-9][A-Za-z0-9._:-]*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ListQuery:
    """What a client asked of a list: which resources, which page, which attributes, what order.

    `start_index` is 1-based and at least 1; `count` is between 0 and the server's maximum.
    """

    filter: Filter | None
    filter_text: str | None
    start_index: int
    count: int
    attributes: tuple[str, ...]
    excluded_attributes: tuple[str, ...]
    sort_by: str | None
    sort_order: str


def parse_list_query(
    params: Mapping[str, str],
    *,
    default_count: int = 100,
    max_count: int = 1000,
    filter_max_length: int = 4096,
    filter_max_depth: int = 32,
) -> ListQuery:
    """Read a ListQuery from URL query parameters, whose names are case-insensitive.

    The web layer has already decoded `+` to a space and percent-escapes.
    """
    named = _by_lower_name(params.items())

    return _list_query(
        named,
        _blank_to_none(named.get("filter")),
        default_count=default_count,
        max_count=max_count,
        filter_limits=(filter_max_length, filter_max_depth),
    )


def parse_search_request(
    body: Any,
    *,
    default_count: int = 100,
    max_count: int = 1000,
    filter_max_length: int = 4096,
    filter_max_depth: int = 32,
) -> ListQuery:
    """Read a ListQuery from the body of POST /.search (RFC 7644 §3.4.3)."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A search request body must be a JSON object.")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SEARCH_REQUEST_SCHEMA not in schemas:
        raise InvalidSyntax(f'A search request must list "{SEARCH_REQUEST_SCHEMA}" in "schemas".')

    named = _by_lower_name(body.items())

    filter_value = named.get("filter")
    if filter_value is not None and not isinstance(filter_value, str):
        raise InvalidValue('"filter" must be a string holding a SCIM filter expression.')
    return _list_query(
        named,
        _blank_to_none(filter_value),
        default_count=default_count,
        max_count=max_count,
        filter_limits=(filter_max_length, filter_max_depth),
    )


def _list_query(
    named: Mapping[str, Any],
    filter_text: str | None,
    *,
    default_count: int,
    max_count: int,
    filter_limits: tuple[int, int],
) -> ListQuery:
    """The query's parts, read the same way from URL parameters and from a search body."""
    max_length, max_depth = filter_limits
    parsed = (
        parse_filter(filter_text, max_length=max_length, max_depth=max_depth)
        if filter_text is not None
        else None
    )

    return ListQuery(
        filter=parsed,
        filter_text=filter_text,
        start_index=_start_index(named.get("startindex")),
        count=_count(named.get("count"), default_count, max_count),
        attributes=_attribute_list(named.get("attributes"), "attributes"),
        excluded_attributes=_attribute_list(named.get("excludedattributes"), "excludedAttributes"),
        sort_by=_sort_by(named.get("sortby")),
        sort_order=_sort_order(named.get("sortorder")),
    )


def list_response(resources: list[dict[str, Any]], *, total: int, start_index: int) -> dict:
    """A ListResponse (RFC 7644 §3.4.2): numbers as JSON integers, which Okta insists on."""
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": int(total),
        "startIndex": int(start_index),
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def page(resources: list[dict[str, Any]], query: ListQuery) -> list[dict[str, Any]]:
    """The slice of already filtered (and sorted) resources the query's page covers."""
    first = query.start_index - 1
    return resources[first : first + query.count]


def sort_resources(
    resources: list[dict[str, Any]],
    sort_by: str | None,
    sort_order: str = ASCENDING,
    *,
    case_exact: Callable[[str], bool] = is_case_exact,
) -> list[dict[str, Any]]:
    """Resources in the order RFC 7644 §3.4.2.3 gives.

    Strings compare case-insensitively unless the attribute is caseExact; a multi-valued
    attribute sorts by its primary value, else its first. Resources without a value come last
    when ascending and first when descending. Without `sort_by` the order is kept.
    """
    if sort_by is None:
        return list(resources)

    path = _canonical_sort_path(sort_by)
    exact = case_exact(path)
    present = []
    absent = []
    for resource in resources:
        value = _sort_value(resource, sort_by)
        if path in DATETIME_PATHS and isinstance(value, str):
            value = parse_datetime(value)
        if value is None:
            absent.append(resource)
        else:
            present.append((_sort_key(value, exact), resource))

    present.sort(key=lambda pair: pair[0])
    ordered = [resource for _, resource in present] + absent
    if sort_order == DESCENDING:
        ordered.reverse()
    return ordered


def can_match_type(filter: Filter, resource_type: ResourceTypeName) -> bool:
    """False when no resource of this type can satisfy the filter, known without reading any.

    A filter that names none of the type's attributes sees every resource of that type as it
    sees an empty one (RFC 7644 §3.4.2.2: an absent attribute matches only `not` and `ne`), so
    one evaluation on `{}` answers for them all. Used by the root search to skip a type.
    """
    if any(_is_attribute_of(resource_type, path) for path in referenced_attributes(filter)):
        return True
    return matches(filter, {})


def _is_attribute_of(resource_type: ResourceTypeName, path: str) -> bool:
    try:
        resolve_path(resource_type, path)
    except InvalidPath:
        return False
    return True


# Reading parameters.


def _by_lower_name(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Parameters by lower-cased name; the first of repeated names wins."""
    named: dict[str, Any] = {}
    for name, value in items:
        named.setdefault(name.lower(), value)
    return named


def _blank_to_none(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value


def _integer(value: Any, name: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        return int(value)
    raise InvalidValue(f'"{name}" must be an integer, such as {name}=1; got {value!r}.')


def _start_index(value: Any) -> int:
    # RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1.
    start_index = _integer(value, "startIndex")
    return 1 if start_index is None or start_index < 1 else start_index


def _count(value: Any, default_count: int, max_count: int) -> int:
    # RFC 7644 §3.4.2.4: a negative count is read as 0; above the maximum the page is cut
    # short and itemsPerPage says how many came back.
    count = _integer(value, "count")
    if count is None:
        count = default_count
    return min(max(count, 0), max_count)


def _attribute_list(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        names = value.split(",")
    elif isinstance(value, list) and all(isinstance(each, str) for each in value):
        names = [part for each in value for part in each.split(",")]
    else:
        raise InvalidValue(f'"{name}" must be a list of attribute names.')

    cleaned = tuple(each.strip() for each in names if each.strip())
    for each in cleaned:
        _check_attribute_path(each, name)
    return cleaned


def _sort_by(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidValue('"sortBy" must be an attribute name, such as sortBy=userName.')
    _check_attribute_path(value.strip(), "sortBy")
    return value.strip()


def _sort_order(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ASCENDING
    if isinstance(value, str) and value.strip().lower() in (ASCENDING, DESCENDING):
        return value.strip().lower()
    raise InvalidValue(f'"sortOrder" must be "ascending" or "descending"; got {value!r}.')


def _check_attribute_path(path: str, name: str) -> None:
    if not _ATTR_PATH.fullmatch(path):
        raise InvalidValue(
            f'"{name}" holds {path!r}, which is not an attribute name such as '
            "userName, name.familyName or a schema URN followed by ':' and a name."
        )


# Sorting.


def _split_sort_path(sort_by: str) -> tuple[str | None, str, str | None]:
    """(extension URN or None, attribute, sub-attribute or None)."""
    uri = None
    names = sort_by
    if sort_by.lower().startswith("urn:"):
        uri, _, names = sort_by.rpartition(":")
        if uri.lower().startswith("urn:ietf:params:scim:schemas:core:2.0:"):
            uri = None
    attr, _, sub = names.partition(".")
    return uri, attr, sub or None


def _canonical_sort_path(sort_by: str) -> str:
    uri, attr, sub = _split_sort_path(sort_by)
    names = f"{attr}.{sub}" if sub else attr
    return f"{uri}:{names}".lower() if uri else names.lower()


def _get(container: Any, name: str) -> Any:
    if not isinstance(container, dict):
        return None
    folded = name.lower()
    for key, value in container.items():
        if key.lower() == folded:
            return value
    return None


def _sort_value(resource: dict[str, Any], sort_by: str) -> Any:
    uri, attr, sub = _split_sort_path(sort_by)
    container = _get(resource, uri) if uri else resource
    value = _get(container, attr)

    if isinstance(value, list):
        # RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, if any.
        value = next((each for each in value if _get(each, "primary") is True), None) or (
            value[0] if value else None
        )
        if sub is None and isinstance(value, dict):
            value = _get(value, "value")
    if sub is not None:
        value = _get(value, sub)
    if value == "" or isinstance(value, dict | list):
        return None
    return value


def _sort_key(value: Any, exact: bool) -> tuple[int, Any]:
    """Values of one type sort among themselves; mixed types group by type."""
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value)
    text = str(value)
    return (3, text if exact else text.casefold())
