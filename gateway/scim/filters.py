"""SCIM filters (RFC 7644 §3.4.2.2): parsed once, evaluated on resources as plain JSON dicts.

The grammar is scim2-models' (`scim2_models.path`), which covers the whole RFC ABNF with its
errata and Entra's `emails[type eq "work"].value eq "x"`. Everything the gateway decides about a
filter lives here: the errors a person can act on, the comparison rules (case, dates, multi-valued
attributes), and which filters the portal or the store can answer with one lookup.

Attribute paths are named canonically as lower-cased dotted paths: `username`, `name.familyname`,
`emails.value`, and extension attributes keep their schema URN:
`urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department`.
"""

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from scim2_models.exceptions import InvalidFilterException
from scim2_models.path import (
    ORDERING_OPERATORS,
    STRING_OPERATORS,
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ScimFilter,
    ValuePath,
)

from gateway.scim.errors import InvalidFilter

__all__ = [
    "CASE_EXACT_PATHS",
    "DATETIME_PATHS",
    "Filter",
    "equality_lookup",
    "is_case_exact",
    "matches",
    "parse_datetime",
    "parse_filter",
    "referenced_attributes",
    "validate_attributes",
]

CORE_SCHEMA_PREFIX = "urn:ietf:params:scim:schemas:core:2.0:"

# RFC 7643 §4.1, §4.2, §3.1: identifiers, versions and references compare exactly. Every
# `$ref` is caseExact too, whatever attribute holds it (see `is_case_exact`).
CASE_EXACT_PATHS = frozenset(
    {
        "id",
        "externalid",
        "meta.version",
        "members.value",
        "groups.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:manager.value",
    }
)

# RFC 7643 §2.3.5: these compare as instants, not as text.
DATETIME_PATHS = frozenset({"meta.created", "meta.lastmodified"})

# The attributes the portal or the store can look a resource up by, with their SCIM spelling.
LOOKUP_ATTRIBUTES = {
    "id": "id",
    "username": "userName",
    "externalid": "externalId",
    "displayname": "displayName",
    "emails.value": "emails.value",
}

# When an `and` carries several lookups, the one that narrows the most is used.
LOOKUP_PREFERENCE = ("id", "userName", "externalId", "displayName", "emails.value")


@dataclass(frozen=True)
class Filter:
    """A parsed filter: the text the client sent and its syntax tree."""

    text: str
    root: FilterNode

    def __str__(self) -> str:
        return self.text


def is_case_exact(path: str) -> bool:
    """The default caseExact rule, on a canonical path (RFC 7643 §2.2, §7)."""
    return path in CASE_EXACT_PATHS or path.rsplit(".", 1)[-1] == "$ref"


# Parsing.


def parse_filter(text: str, *, max_length: int = 4096, max_depth: int = 32) -> Filter:
    """Parse a filter, or raise InvalidFilter saying where it went wrong and what was expected.

    Checks that do not depend on any resource happen here too (an ordering operator on a
    boolean, `co` with a number, a date that is not one), so that a bad filter fails before the
    gateway calls the portal. scim2-models caps nesting at 32 on its own.
    """
    return _parse_filter(text, max_length, max_depth)


@lru_cache(maxsize=1024)
def _parse_filter(text: str, max_length: int, max_depth: int) -> Filter:
    if len(text) > max_length:
        raise InvalidFilter(
            f"The filter is {len(text)} characters long; the limit is {max_length}. "
            "Send a shorter filter."
        )

    try:
        root = ScimFilter(text).ast
    except InvalidFilterException as exc:
        raise InvalidFilter(_syntax_detail(text, exc)) from exc

    depth = _depth(root)
    if depth > max_depth:
        raise InvalidFilter(
            f"The filter nests {depth} expressions; the limit is {max_depth}. "
            "Flatten it or split it into several requests."
        )

    _check_semantics(root, within=None)
    return Filter(text=text, root=root)


# What lark's token names mean to a person reading the IdP's log.
_EXPECTED_WORDS = {
    "ATTR_PATH": "an attribute name",
    "SUB_ATTR": "a sub-attribute name",
    "COMPARE_OP": "an operator (eq, ne, co, sw, ew, gt, ge, lt, le)",
    "PR": "pr",
    "STRING": "a value (a quoted string, a number, true, false or null)",
    "NUMBER": "a value (a quoted string, a number, true, false or null)",
    "TRUE": "a value (a quoted string, a number, true, false or null)",
    "FALSE": "a value (a quoted string, a number, true, false or null)",
    "NULL": "a value (a quoted string, a number, true, false or null)",
    "_AND": "and",
    "_OR": "or",
    "_NOT": "not",
    "_LPAR": "(",
    "_RPAR": ")",
    "_LBRACKET": "[",
    "_RBRACKET": "]",
    "_DOT": ".",
    "$END": "the end of the filter",
}


def _syntax_detail(text: str, exc: InvalidFilterException) -> str:
    """Say at which character the filter went wrong, what was there and what was expected."""
    cause = exc.__cause__
    if not isinstance(cause, UnexpectedInput):
        return f"The filter {_shown(text)} is invalid: {exc.detail}."

    expected: set[str] = set()
    if isinstance(cause, UnexpectedToken):
        expected = set(cause.expected)
    elif isinstance(cause, UnexpectedCharacters):
        expected = set(cause.allowed or ())
    words = sorted({_EXPECTED_WORDS.get(name, name.strip("_").lower()) for name in expected})

    at_end = isinstance(cause, UnexpectedToken) and cause.token.type == "$END"
    position = len(text) if at_end or cause.pos_in_stream is None else cause.pos_in_stream
    found = "the end of the filter" if position >= len(text) else _found_at(text, position, cause)
    wanted = f"; expected {_one_of(words)}" if words else ""
    return (
        f"The filter {_shown(text)} is invalid at character {position + 1}: found {found}{wanted}."
    )


def _shown(text: str) -> str:
    """The filter as quoted back in an error, cut short when it is long."""
    return repr(text) if len(text) <= 200 else repr(text[:200]) + "..."


def _found_at(text: str, position: int, cause: UnexpectedInput) -> str:
    if isinstance(cause, UnexpectedToken):
        return repr(str(cause.token))
    return repr(text[position : position + 12])


def _one_of(words: list[str]) -> str:
    quoted = [word if " " in word else f"'{word}'" for word in words]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _depth(node: FilterNode) -> int:
    """Nesting as scim2-models counts it: a chain of one operator is one level."""
    if isinstance(node, LogicalExpr):
        return 1 + max(_depth(term) for term in node.terms)
    if isinstance(node, Not):
        return 1 + _depth(node.expr)
    if isinstance(node, ValuePath):
        return 1 + _depth(node.val_filter)
    return 0


def _check_semantics(node: FilterNode, *, within: str | None) -> None:
    """Refuse what no resource could make meaningful (RFC 7644 §3.4.2.2)."""
    if isinstance(node, LogicalExpr):
        for term in node.terms:
            _check_semantics(term, within=within)
    elif isinstance(node, Not):
        _check_semantics(node.expr, within=within)
    elif isinstance(node, ValuePath):
        _check_semantics(node.val_filter, within=_canonical(node.attr_path, within))
    elif isinstance(node, Present):
        _check_inner_urn(node.attr_path, within)
    elif isinstance(node, Comparison):
        _check_inner_urn(node.attr_path, within)
        _check_comparison(node, _canonical(node.attr_path, within))


def _check_inner_urn(attr_path: AttrPath, within: str | None) -> None:
    if within is not None and attr_path.uri is not None:
        raise InvalidFilter(
            f"Inside {within}[...] attributes are sub-attributes of {within}; "
            f"write {attr_path.attr!r} without the schema URN."
        )


def _check_comparison(node: Comparison, path: str) -> None:
    written = str(node.attr_path)
    if node.value is None and node.op not in (CompareOperator.eq, CompareOperator.ne):
        raise InvalidFilter(
            f"{written} {node.op.value} null: only eq and ne compare with null; "
            f"use '{written} pr' or 'not ({written} pr)'."
        )
    if node.op in ORDERING_OPERATORS and isinstance(node.value, bool):
        raise InvalidFilter(
            f"{written} {node.op.value} {str(node.value).lower()}: booleans have no order; "
            "use eq or ne."
        )
    if node.op in STRING_OPERATORS and not isinstance(node.value, str):
        raise InvalidFilter(
            f"{written} {node.op.value} needs a quoted string value, not {_render(node.value)}."
        )
    if isinstance(node.value, str) and not storable_text(node.value):
        # PostgreSQL refuses NUL in text; a "\ud800" escape decodes to half a UTF-16 pair.
        raise InvalidFilter(
            f"{written} {node.op.value}: the value holds a NUL character or a lone "
            "\\uD800-\\uDFFF escape, which no stored value can match."
        )
    if path in DATETIME_PATHS and node.op not in STRING_OPERATORS and node.value is not None:
        _instant_of_filter_value(node)


def storable_text(text: str) -> bool:
    """Whether every store and the portal can hold `text`: PostgreSQL refuses NUL in text, and
    half a UTF-16 pair is not Unicode at all."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _instant_of_filter_value(node: Comparison) -> datetime:
    instant = parse_datetime(node.value) if isinstance(node.value, str) else None
    if instant is None:
        raise InvalidFilter(
            f"{node.attr_path} is a dateTime: compare it with an RFC 3339 date in quotes, "
            f'such as "2026-01-31T08:00:00Z", not {_render(node.value)}.'
        )
    return instant


def _render(value: Any) -> str:
    return ScimFilter.quote(value)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?"
)


@lru_cache(maxsize=4096)
def parse_datetime(text: str) -> datetime | None:
    """An RFC 3339 date-time as an aware instant; no offset is read as UTC (xsd:dateTime)."""
    found = _RFC3339.fullmatch(text.strip())
    if found is None:
        return None

    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    micro = int((found.group(7) or "0")[:6].ljust(6, "0"))
    offset = UTC
    if found.group(9):
        sign = 1 if found.group(9) == "+" else -1
        hours, minutes = int(found.group(10)), int(found.group(11))
        if hours > 23 or minutes > 59:
            return None
        offset = timezone(sign * timedelta(hours=hours, minutes=minutes))

    try:
        return datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=offset)
    except ValueError:
        return None


# Attribute paths.


def _canonical(attr_path: AttrPath, within: str | None = None) -> str:
    """The lower-cased dotted path naming an attribute, URN kept only for extensions."""
    names = attr_path.attr.lower()
    if attr_path.sub_attr:
        names = f"{names}.{attr_path.sub_attr.lower()}"
    if within is not None:
        return f"{within}.{names}"
    if attr_path.uri is None or _is_core(attr_path.uri):
        return names
    return f"{attr_path.uri.lower()}:{names}"


def _is_core(uri: str) -> bool:
    return uri.lower().startswith(CORE_SCHEMA_PREFIX)


def _get(container: Any, name: str) -> Any:
    """A member of a JSON object by name, case-insensitively (RFC 7643 §2.1)."""
    if not isinstance(container, dict):
        return None
    if name in container:
        return container[name]
    folded = name.lower()
    for key, value in container.items():
        if key.lower() == folded:
            return value
    return None


def _attribute(container: dict[str, Any], attr_path: AttrPath, within: str | None) -> Any:
    """The value of the top-level attribute a path names (its sub-attribute not applied)."""
    if within is None and attr_path.uri is not None and not _is_core(attr_path.uri):
        container = _get(container, attr_path.uri)
    return _get(container, attr_path.attr)


# Evaluation.


def matches(
    filter: Filter | FilterNode,
    resource: dict[str, Any],
    *,
    case_exact: Callable[[str], bool] = is_case_exact,
    within: str | None = None,
) -> bool:
    """Whether a resource satisfies a filter, with RFC 7644 §3.4.2.2 semantics.

    `within` names the multi-valued attribute `resource` is one element of, for a filter taken
    from between brackets (a PATCH path such as `members[value eq "x"]`): the filter then reads
    `value` as `members.value`, which is caseExact. Raises only InvalidFilter, for a comparison
    the data cannot support (an ordering operator on a complex attribute).
    """
    root = filter.root if isinstance(filter, Filter) else filter
    within = within.lower() if within is not None else None
    return _Evaluation(case_exact).visit(root, resource, within)


class _Evaluation:
    def __init__(self, case_exact: Callable[[str], bool]) -> None:
        self.case_exact = case_exact

    def visit(self, node: FilterNode, resource: dict[str, Any], within: str | None) -> bool:
        if isinstance(node, LogicalExpr):
            if node.op == LogicalOperator.and_:
                return all(self.visit(term, resource, within) for term in node.terms)
            return any(self.visit(term, resource, within) for term in node.terms)
        if isinstance(node, Not):
            return not self.visit(node.expr, resource, within)
        if isinstance(node, ValuePath):
            return self.value_path(node, resource, within)
        if isinstance(node, Present):
            return self.present(node, resource, within)
        if isinstance(node, Comparison):
            return self.comparison(node, resource, within)
        raise InvalidFilter(f"The filter element {node} is not supported.")

    def value_path(self, node: ValuePath, resource: dict[str, Any], within: str | None) -> bool:
        """Any one element must satisfy the whole bracketed filter (RFC 7644 §3.4.2.2)."""
        path = _canonical(node.attr_path, within)
        selected = _attribute(resource, node.attr_path, within)
        for element in _as_list(selected):
            scope = element if isinstance(element, dict) else {"value": element}
            if self.visit(node.val_filter, scope, path):
                return True
        return False

    def present(self, node: Present, resource: dict[str, Any], within: str | None) -> bool:
        """`pr`: a value that is not null, "", [] or {} (RFC 7644 §3.4.2.2)."""
        value = _attribute(resource, node.attr_path, within)
        if node.attr_path.sub_attr is not None:
            value = [_get(element, node.attr_path.sub_attr) for element in _as_list(value)]
        return _has_value(value)

    def comparison(self, node: Comparison, resource: dict[str, Any], within: str | None) -> bool:
        path, values = self.compared_values(node, resource, within)

        if node.op == CompareOperator.ne:
            # `ne` matches what `eq` does not, so an absent attribute is "not equal".
            equal = Comparison(attr_path=node.attr_path, op=CompareOperator.eq, value=node.value)
            return not self.any_match(equal, path, values)
        return self.any_match(node, path, values)

    def compared_values(
        self, node: Comparison, resource: dict[str, Any], within: str | None
    ) -> tuple[str, list[Any]]:
        """The values a comparison looks at, flattened over a multi-valued attribute.

        RFC 7644 §3.4.2.2: a complex multi-valued attribute compared without a sub-attribute
        compares the `value` of each element.
        """
        path = _canonical(node.attr_path, within)
        attribute = _attribute(resource, node.attr_path, within)

        if node.attr_path.sub_attr is not None:
            found = [_get(element, node.attr_path.sub_attr) for element in _as_list(attribute)]
            return path, [value for value in _flatten(found) if value is not None]

        if isinstance(attribute, dict):
            raise InvalidFilter(
                f"{node.attr_path} is a complex attribute: compare one of its sub-attributes, "
                f"such as {node.attr_path}.value."
            )
        if isinstance(attribute, list) and any(isinstance(each, dict) for each in attribute):
            values = [_get(each, "value") if isinstance(each, dict) else each for each in attribute]
            return f"{path}.value", [value for value in values if value is not None]
        return path, [value for value in _as_list(attribute) if value is not None]

    def any_match(self, node: Comparison, path: str, values: list[Any]) -> bool:
        if node.value is None:
            return not values
        if path in DATETIME_PATHS and node.op not in STRING_OPERATORS:
            wanted = _instant_of_filter_value(node)
            return any(_compare_instants(node.op, value, wanted) for value in values)

        exact = self.case_exact(path)
        return any(_compare(node, value, exact) for value in values)


def _compare(node: Comparison, value: Any, exact: bool) -> bool:
    wanted = node.value
    if isinstance(value, dict | list):
        if node.op in ORDERING_OPERATORS:
            raise InvalidFilter(f"{node.attr_path} is complex and has no order.")
        return False
    if isinstance(value, bool) or isinstance(wanted, bool):
        if node.op in ORDERING_OPERATORS:
            raise InvalidFilter(f"{node.attr_path} is a boolean and has no order; use eq or ne.")
        return node.op == CompareOperator.eq and value is wanted
    if isinstance(value, int | float) and isinstance(wanted, int | float):
        return _ordered(node.op, value, wanted)
    if isinstance(value, str) and isinstance(wanted, str):
        if not exact:
            value, wanted = value.casefold(), wanted.casefold()
        if node.op == CompareOperator.co:
            return wanted in value
        if node.op == CompareOperator.sw:
            return value.startswith(wanted)
        if node.op == CompareOperator.ew:
            return value.endswith(wanted)
        return _ordered(node.op, value, wanted)
    return False


def _ordered(op: CompareOperator, value: Any, wanted: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    if op == CompareOperator.eq:
        return bool(value == wanted)
    if op == CompareOperator.gt:
        return bool(value > wanted)
    if op == CompareOperator.ge:
        return bool(value >= wanted)
    if op == CompareOperator.lt:
        return bool(value < wanted)
    if op == CompareOperator.le:
        return bool(value <= wanted)
    return False


def _compare_instants(op: CompareOperator, value: Any, wanted: datetime) -> bool:
    instant = parse_datetime(value) if isinstance(value, str) else None
    if instant is None:
        return False
    return _ordered(op, instant, wanted)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _flatten(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from value
        else:
            yield value


def _has_value(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, list):
        return any(_has_value(each) for each in value)
    if isinstance(value, dict):
        return any(_has_value(each) for each in value.values())
    return True


# What the gateway learns from a filter without evaluating it.


def equality_lookup(filter: Filter) -> tuple[str, str] | None:
    """The (attribute, value) one portal or store call can fetch the candidates by.

    Okta and Entra mostly send `userName eq "x"`, `externalId eq "x"` or `displayName eq "x"`
    (DESIGN §8): the gateway fetches by that one equality and then evaluates the whole filter
    on what came back. Only a top-level comparison, or one side of a top-level `and` chain, is
    safe to narrow by; under `or` or `not` it is not.
    """
    found = dict(_lookups(filter.root))
    for attribute in LOOKUP_PREFERENCE:
        if attribute in found:
            return attribute, found[attribute]
    return None


def _lookups(node: FilterNode) -> Iterator[tuple[str, str]]:
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        for term in node.terms:
            yield from _lookups(term)
    elif isinstance(node, Comparison) and _is_string_equality(node):
        path = _canonical(node.attr_path)
        if path == "emails":
            path = "emails.value"
        if path in LOOKUP_ATTRIBUTES:
            yield LOOKUP_ATTRIBUTES[path], node.value
    elif isinstance(node, ValuePath) and _canonical(node.attr_path) == "emails":
        # Entra: emails[type eq "work"].value eq "x" reads as emails[type eq "work" and ...].
        yield from _inner_value_lookups(node.val_filter)


def _inner_value_lookups(node: FilterNode) -> Iterator[tuple[str, str]]:
    is_and = isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_
    terms = node.terms if isinstance(node, LogicalExpr) and is_and else (node,)
    for term in terms:
        if isinstance(term, Comparison) and _is_string_equality(term):
            if _canonical(term.attr_path) == "value":
                yield "emails.value", term.value


def _is_string_equality(node: Comparison) -> bool:
    return node.op == CompareOperator.eq and isinstance(node.value, str)


def referenced_attributes(filter: Filter) -> set[str]:
    """Every attribute the filter names, as canonical paths (`emails.type`, not `type`)."""
    return {path for path, _ in _references(filter.root, None)}


def validate_attributes(filter: Filter, known: Callable[[str], bool]) -> None:
    """Refuse a filter naming an attribute `known` does not recognise.

    RFC 7644 §3.4.2.2 lets a server either match nothing or refuse; a 400 invalidFilter that
    names the attribute tells the IdP administrator which mapping to fix.
    """
    for path, written in sorted(_references(filter.root, None)):
        if not known(path):
            raise InvalidFilter(
                f"The filter names {written!r}, which is not an attribute of this resource "
                "type. Check the attribute name and its schema URN."
            )


def _references(node: FilterNode, within: str | None) -> Iterator[tuple[str, str]]:
    if isinstance(node, LogicalExpr):
        for term in node.terms:
            yield from _references(term, within)
    elif isinstance(node, Not):
        yield from _references(node.expr, within)
    elif isinstance(node, ValuePath):
        yield from _references(node.val_filter, _canonical(node.attr_path, within))
    elif isinstance(node, Comparison | Present):
        written = str(node.attr_path) if within is None else f"{within}.{node.attr_path}"
        yield _canonical(node.attr_path, within), written
