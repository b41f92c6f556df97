"""SCIM PATCH (RFC 7644 §3.5.2) on canonical resource dicts, all or nothing.

Every operation is applied to a copy; the first error leaves the caller's resource untouched, as
§3.5.2 requires ("the entire request is rejected"). Besides the RFC forms, the dialects Okta and
Entra really send are understood:

- Okta: path-less `replace` of `{"active": false}` or `{"password": "..."}`, and on group push
  a path-less `replace` carrying the group's own `id` beside the new `displayName`.
- Entra (default and `aadOptscim062020`): capitalised op names, booleans as strings, path-less
  values whose keys are paths (`name.givenName`, `urn:...:enterprise:2.0:User:department`),
  `add`/`replace` on a filtered path with no match creating the element, the manager as a bare
  id, role values as JSON inside strings, and `remove` of `members` with a value list selecting
  the members to remove.

Decisions where the RFC leaves room: a `remove` whose filter matches nothing succeeds without
change (IdPs retry after drift and expect success); `replace` on a complex attribute merges the
sub-attributes sent (§3.5.2.3); an `add` or `replace` with null or an empty list unassigns the
target (RFC 7643 §2.5) for replace and changes nothing for add.
"""

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from scim2_models.path import CompareOperator, Comparison, FilterNode, LogicalExpr, LogicalOperator

from gateway.scim.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    PayloadTooLarge,
    ScimError,
)
from gateway.scim.filters import matches, parse_filter
from gateway.scim.resources import (
    AttributePath,
    check_with_models,
    coerce_element,
    coerce_value,
    extension_items,
    normalise_member,
    resolve_path,
    with_schemas,
)

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

OperationName = Literal["add", "replace", "remove"]
_OPERATIONS: dict[str, OperationName] = {"add": "add", "replace": "replace", "remove": "remove"}


@dataclass(frozen=True)
class PatchOperation:
    """One PATCH operation with its op name in lower case; `path` None targets the resource."""

    op: OperationName
    path: str | None = None
    value: Any = None


@dataclass(frozen=True)
class UserPatchResult:
    """The patched user; a password set by the patch travels beside it, never inside it."""

    resource: dict[str, Any]
    password: str | None


@dataclass(frozen=True)
class GroupPatchPlan:
    """What a group PATCH changes: the group's own attributes, and its members as deltas.

    `replace_members` is None unless the patch replaces the whole member list; then the gateway
    diffs it against the portal and `add_members` / `remove_members` are empty.
    """

    resource: dict[str, Any]
    add_members: list[str] = field(default_factory=list)
    remove_members: list[str] = field(default_factory=list)
    replace_members: list[str] | None = None


# Reading the PatchOp message.


def parse_patch(body: Any, *, max_operations: int = 1000) -> list[PatchOperation]:
    """The operations of a PatchOp body (RFC 7644 §3.5.2), keys and op names in any case."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A PATCH body must be a JSON object with 'schemas' and 'Operations'.")

    schemas = _member(body, "schemas")
    if not isinstance(schemas, list) or PATCH_OP_SCHEMA.lower() not in _lowered(schemas):
        raise InvalidSyntax(f"A PATCH body must list {PATCH_OP_SCHEMA!r} in 'schemas'.")

    operations = _member(body, "Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("'Operations' must be a non-empty list of operations.")
    if len(operations) > max_operations:
        raise PayloadTooLarge(
            f"The PATCH holds {len(operations)} operations; the limit is {max_operations}. "
            "Split it into several requests."
        )

    return [_operation(index, item) for index, item in enumerate(operations)]


def _operation(index: int, item: Any) -> PatchOperation:
    where = f"Operations[{index}]"
    if not isinstance(item, dict):
        raise InvalidSyntax(f"{where} must be an object with 'op', 'path' and 'value'.")

    op = _member(item, "op")
    if not isinstance(op, str) or op.strip().lower() not in _OPERATIONS:
        raise InvalidSyntax(f"{where}: 'op' must be add, replace or remove, not {op!r}.")
    name = _OPERATIONS[op.strip().lower()]

    path = _member(item, "path")
    if path is not None and not isinstance(path, str):
        raise InvalidSyntax(f"{where}: 'path' must be a string.")
    if isinstance(path, str):
        path = path.strip() or None

    if name != "remove" and not _has_member(item, "value"):
        raise InvalidSyntax(f"{where}: '{name}' needs a 'value' (RFC 7644 §3.5.2).")

    return PatchOperation(op=name, path=path, value=_member(item, "value"))


def _member(body: dict[str, Any], name: str) -> Any:
    """A JSON member by name in any case; Entra and Okta spell `Operations` differently."""
    return next((value for key, value in body.items() if str(key).lower() == name.lower()), None)


def _has_member(body: dict[str, Any], name: str) -> bool:
    return any(str(key).lower() == name.lower() for key in body)


def _lowered(items: Iterable[Any]) -> set[str]:
    return {item.lower() for item in items if isinstance(item, str)}


# Users.


def apply_user_patch(resource: dict[str, Any], ops: Sequence[PatchOperation]) -> UserPatchResult:
    """Apply `ops` in order to a copy of `resource`; raise a ScimError and change nothing if any
    operation fails or the result is not a valid User."""
    user = copy.deepcopy(resource)
    password: str | None = None

    for index, operation in enumerate(ops):
        with _operation_context(index):
            password = _apply_to_user(user, operation) or password

    user_name = user.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise InvalidValue("userName is required; the PATCH would remove or empty it.")
    if "active" in resource and "active" not in user:
        # Kyvos holds every user as ACTIVE or INACTIVE; an unassigned `active` would read as
        # the default, true, and silently reactivate a deactivated user.
        raise Mutability(
            "active cannot be removed: a Kyvos user is always active or inactive. "
            "Replace it with true or false instead."
        )

    patched = with_schemas("User", user)
    check_with_models("User", patched)
    return UserPatchResult(resource=patched, password=password)


def _apply_to_user(user: dict[str, Any], operation: PatchOperation) -> str | None:
    if operation.path is not None:
        path = resolve_path("User", operation.path)
        return _apply_user_path(user, operation.op, path, operation.value)

    password = None
    for key, value in _pathless_items(user, operation):
        path = resolve_path("User", key)
        password = _apply_user_path(user, operation.op, path, value) or password
    return password


def _pathless_items(resource: dict[str, Any], operation: PatchOperation) -> list[tuple[str, Any]]:
    """The attributes of a path-less add or replace (RFC 7644 §3.5.2.1, §3.5.2.3).

    Okta and Entra echo the resource's own `id` there; that is no attempt to change it.
    """
    if operation.op == "remove":
        raise NoTarget("A remove operation needs a 'path' naming what to remove.")
    if not isinstance(operation.value, dict):
        raise InvalidSyntax(
            f"A path-less {operation.op} needs an object of attributes as its 'value'."
        )

    items = []
    for key, value in operation.value.items():
        lowered = str(key).lower()
        if lowered == "schemas":
            continue
        if lowered == "id" and "id" in resource and value == resource["id"]:
            continue
        items.append((str(key), value))
    return items


def _apply_user_path(
    user: dict[str, Any], op: OperationName, path: AttributePath, value: Any
) -> str | None:
    if path.attribute is None:
        _apply_extension(user, op, path, value)
        return None
    if path.core and path.attribute.name == "password":
        return _password(op, value)
    _check_writable(path)

    container = user if path.core else user.setdefault(path.schema, {})
    if path.value_filter is not None:
        _apply_filtered(container, op, path, value)
    elif path.sub_attribute is not None:
        _apply_sub_attribute(container, op, path, value)
    else:
        _apply_attribute(container, op, path, value)

    if not path.core and not container:
        user.pop(path.schema, None)
    return None


def _apply_extension(
    user: dict[str, Any], op: OperationName, path: AttributePath, value: Any
) -> None:
    """A path naming a whole extension: remove drops it, add/replace apply each attribute."""
    if op == "remove" or (value is None and op == "replace"):
        user.pop(path.schema, None)
        return
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidValue(f"{path.schema} must be given an object of its attributes.")

    for key, item in extension_items(value):
        _apply_user_path(user, op, resolve_path("User", f"{path.schema}:{key}"), item)


def _password(op: OperationName, value: Any) -> str | None:
    """Okta's password sync: the new password leaves beside the resource (RFC 7643 §4.1.1)."""
    if op == "remove":
        raise Mutability("The password cannot be removed; set a new one instead.")
    if not isinstance(value, str) or not value:
        raise InvalidValue("password must be a non-empty string.")
    return value


def _check_writable(path: AttributePath) -> None:
    target = path.target
    if path.attribute is not None and path.attribute.read_only:
        raise Mutability(f"{path.attribute.name} is read-only and cannot be changed by PATCH.")
    if target is not None and target.read_only:
        raise Mutability(f"{path} is read-only and cannot be changed by PATCH.")


def _apply_attribute(
    container: dict[str, Any], op: OperationName, path: AttributePath, value: Any
) -> None:
    """A whole attribute (RFC 7644 §3.5.2.1-3)."""
    spec = path.attribute
    assert spec is not None
    name = spec.name

    if op == "remove":
        if spec.multi_valued and value is not None:
            _remove_values(container, path, value)
        else:
            container.pop(name, None)
        return

    coerced = coerce_value(spec, value, where=str(path))
    if coerced is None:
        if op == "replace":
            container.pop(name, None)
        return

    existing = container.get(name)
    if spec.multi_valued:
        merged = list(existing or []) if op == "add" else []
        merged += [element for element in coerced if element not in merged]
        container[name] = _one_primary(merged, coerced)
    elif spec.type == "complex" and isinstance(existing, dict):
        # §3.5.2.1 and §3.5.2.3: sub-attributes not given are left unchanged.
        container[name] = {**existing, **coerced}
    else:
        container[name] = coerced


def _remove_values(container: dict[str, Any], path: AttributePath, value: Any) -> None:
    """Entra's remove with a value list: exactly those values go, the others stay."""
    spec = path.attribute
    assert spec is not None
    unwanted = coerce_value(spec, value, where=str(path)) or []
    unwanted_values = {
        element.get("value") for element in unwanted if isinstance(element, dict)
    } - {None}

    kept = [
        element
        for element in container.get(spec.name) or []
        if element not in unwanted
        and not (isinstance(element, dict) and element.get("value") in unwanted_values)
    ]
    _store_elements(container, spec.name, kept)


def _apply_sub_attribute(
    container: dict[str, Any], op: OperationName, path: AttributePath, value: Any
) -> None:
    """`name.familyName`, `manager.value`, or `emails.type` (every element)."""
    spec, sub = path.attribute, path.sub_attribute
    assert spec is not None and sub is not None
    coerced = None if op == "remove" else coerce_value(sub, value, where=str(path))
    unassign = op == "remove" or (coerced is None and op == "replace")
    if coerced is None and not unassign:
        return

    if spec.multi_valued:
        elements = list(container.get(spec.name) or []) or ([] if unassign else [{}])
        for element in elements:
            _set_or_drop(element, sub.name, None if unassign else coerced)
        _store_elements(container, spec.name, elements)
        return

    parent = dict(container.get(spec.name) or {})
    _set_or_drop(parent, sub.name, None if unassign else coerced)
    if parent:
        container[spec.name] = parent
    else:
        container.pop(spec.name, None)


def _apply_filtered(
    container: dict[str, Any], op: OperationName, path: AttributePath, value: Any
) -> None:
    """`emails[type eq "work"]` and `emails[type eq "work"].value` (RFC 7644 §3.5.2)."""
    spec, sub = path.attribute, path.sub_attribute
    assert spec is not None and path.value_filter is not None
    if not spec.multi_valued:
        raise InvalidPath(f"{spec.name} is single-valued; a value filter needs a multi-valued one.")

    selector = parse_filter(str(path.value_filter))
    elements = [dict(element) for element in container.get(spec.name) or []]
    chosen = [
        i for i, element in enumerate(elements) if matches(selector, element, within=spec.name)
    ]

    if op == "remove" or (value is None and op == "replace"):
        for index in chosen:
            if sub is None:
                elements[index] = {}
            else:
                elements[index].pop(sub.name, None)
        _store_elements(container, spec.name, elements)
        return

    update = _filtered_update(path, value)
    if update is None:
        return
    if not chosen:
        # Entra: add/replace on a filter that matches nothing creates the element it describes.
        created = _element_of_filter(path.value_filter)
        if created is None:
            raise NoTarget(f"No value matches {path}, and the filter does not describe one to add.")
        elements.append(coerce_element(spec, created, where=str(path)) or {})
        chosen = [len(elements) - 1]

    for index in chosen:
        elements[index] = {**elements[index], **update}
    _store_elements(container, spec.name, _one_primary(elements, [elements[i] for i in chosen]))


def _filtered_update(path: AttributePath, value: Any) -> dict[str, Any] | None:
    spec, sub = path.attribute, path.sub_attribute
    assert spec is not None
    if sub is not None:
        coerced = coerce_value(sub, value, where=str(path))
        return None if coerced is None else {sub.name: coerced}

    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return coerce_element(spec, value, where=str(path))


def _element_of_filter(node: FilterNode) -> dict[str, Any] | None:
    """The element a filter of `eq` comparisons joined by `and` describes, else None."""
    if isinstance(node, Comparison) and node.op == CompareOperator.eq and node.value is not None:
        return {node.attr_path.attr: node.value}
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        element: dict[str, Any] = {}
        for term in node.terms:
            part = _element_of_filter(term)
            if part is None:
                return None
            element.update(part)
        return element
    return None


def _set_or_drop(element: dict[str, Any], name: str, value: Any) -> None:
    if value is None:
        element.pop(name, None)
    else:
        element[name] = value


def _store_elements(container: dict[str, Any], name: str, elements: list[Any]) -> None:
    kept = [element for element in elements if element]
    if kept:
        container[name] = kept
    else:
        container.pop(name, None)


def _one_primary(elements: list[Any], changed: Sequence[Any]) -> list[Any]:
    """RFC 7643 §2.4: at most one value is primary; the one just set wins."""
    preferred = [e for e in changed if isinstance(e, dict) and e.get("primary") is True]
    if not preferred:
        return elements

    winner, kept = preferred[-1], False
    for element in elements:
        if not isinstance(element, dict) or element.get("primary") is not True:
            continue
        if element == winner and not kept:
            kept = True
        else:
            del element["primary"]
    return elements


# Groups.


def plan_group_patch(group: dict[str, Any], ops: Sequence[PatchOperation]) -> GroupPatchPlan:
    """Apply the attribute changes of `ops` to a copy of `group` and turn member changes into
    deltas, so the gateway never reads the whole member list to apply a patch.

    `group` carries its `id` and no members. Operations apply in order: a later replace of the
    members wins over earlier adds and removes, and an add then a remove of one id ends as a
    remove (harmless if the user was never a member).
    """
    resource = copy.deepcopy(group)
    resource.pop("members", None)
    members = _MemberChanges()

    for index, operation in enumerate(ops):
        with _operation_context(index):
            _plan_group_operation(resource, members, operation)

    display_name = resource.get("displayName")
    if not isinstance(display_name, str) or not display_name.strip():
        raise InvalidValue("displayName is required; the PATCH would remove or empty it.")

    patched = with_schemas("Group", resource)
    check_with_models("Group", patched)
    return members.plan(patched)


class _MemberChanges:
    """The member deltas of one patch, as they stand after each operation."""

    def __init__(self) -> None:
        self.added: list[str] = []
        self.removed: list[str] = []
        self.replacement: list[str] | None = None

    def add(self, ids: Iterable[str]) -> None:
        for member in ids:
            if self.replacement is not None:
                _append_once(self.replacement, member)
                continue
            _discard(self.removed, member)
            _append_once(self.added, member)

    def remove(self, ids: Iterable[str]) -> None:
        for member in ids:
            if self.replacement is not None:
                _discard(self.replacement, member)
                continue
            _discard(self.added, member)
            _append_once(self.removed, member)

    def replace(self, ids: Iterable[str]) -> None:
        self.replacement = []
        self.added, self.removed = [], []
        for member in ids:
            _append_once(self.replacement, member)

    def plan(self, resource: dict[str, Any]) -> GroupPatchPlan:
        if self.replacement is not None:
            return GroupPatchPlan(resource=resource, replace_members=list(self.replacement))
        return GroupPatchPlan(
            resource=resource, add_members=list(self.added), remove_members=list(self.removed)
        )


def _append_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def _discard(items: list[str], item: str) -> None:
    if item in items:
        items.remove(item)


def _plan_group_operation(
    resource: dict[str, Any], members: _MemberChanges, operation: PatchOperation
) -> None:
    if operation.path is not None:
        path = resolve_path("Group", operation.path)
        _plan_group_path(resource, members, operation.op, path, operation.value)
        return

    # Okta group push renames with a path-less replace of {"id": <ours>, "displayName": ...}.
    for key, value in _pathless_items(resource, operation):
        _plan_group_path(resource, members, operation.op, resolve_path("Group", key), value)


def _plan_group_path(
    resource: dict[str, Any],
    members: _MemberChanges,
    op: OperationName,
    path: AttributePath,
    value: Any,
) -> None:
    spec = path.attribute
    if spec is None:
        raise InvalidPath(f"Groups have no extension {path.schema!r}.")
    if spec.name == "members":
        _plan_members(members, op, path, value)
        return
    _check_writable(path)
    if path.value_filter is not None:
        raise InvalidPath(f"{spec.name} is single-valued; a value filter needs a multi-valued one.")

    coerced = None if op == "remove" else coerce_value(spec, value, where=str(path))
    if coerced is not None:
        resource[spec.name] = coerced
    elif op != "add":
        resource.pop(spec.name, None)


def _plan_members(
    members: _MemberChanges, op: OperationName, path: AttributePath, value: Any
) -> None:
    if path.sub_attribute is not None:
        raise InvalidPath(
            f"{path}: a member's sub-attributes cannot be changed; add or remove the member."
        )
    if path.value_filter is not None:
        if op != "remove":
            raise InvalidPath(f"{path}: only remove can select members with a filter.")
        members.remove(_member_ids_of_filter(path.value_filter))
        return

    if op == "remove" and value is None:
        members.replace([])  # RFC 7644 §3.5.2.2: remove `members` without a value empties it
    elif op == "remove":
        members.remove(_member_ids(path, value))  # Entra: the value list selects the members
    elif op == "replace":
        members.replace(_member_ids(path, value) if value is not None else [])
    else:
        members.add(_member_ids(path, value) if value is not None else [])


def _member_ids(path: AttributePath, value: Any) -> list[str]:
    assert path.attribute is not None
    elements = coerce_value(path.attribute, value, where="members") or []
    return [normalise_member(element)["value"] for element in elements]


def _member_ids_of_filter(node: FilterNode) -> list[str]:
    """The ids in `members[value eq "a" or value eq "b"]`; no other filter can name members
    without reading the whole member list."""
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and node.attr_path.attr == "value"
        and isinstance(node.value, str)
    ):
        return [node.value]
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_:
        return [member for term in node.terms for member in _member_ids_of_filter(term)]

    raise InvalidFilter(
        f"members[{node}] cannot be applied: select members by id, as "
        'members[value eq "<id>"], optionally joined with or.'
    )


# Errors name the operation they come from.


@contextmanager
def _operation_context(index: int) -> Iterator[None]:
    """Prefix a ScimError's detail with the index of the operation that raised it."""
    try:
        yield
    except ScimError as error:
        if type(error).__init__ is not ScimError.__init__ or error.detail.startswith("Operations["):
            raise
        raise type(error)(f"Operations[{index}]: {error.detail}") from error
