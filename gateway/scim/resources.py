"""SCIM resources as the gateway holds them: plain dicts in canonical RFC 7643 form.

Okta and Entra send attribute names in any case, nulls for unassigned attributes, booleans as
strings, schema URNs of their own and read-only attributes they just read. This module turns all
of that into one canonical shape, answers what each attribute is (the catalogue, derived from the
scim2-models schema definitions) and projects resources for `attributes` and
`excludedAttributes`.
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import ValidationError
from scim2_models import (
    URN,
    Attribute,
    Context,
    EnterpriseUser,
    Extension,
    Group,
    InvalidPathException,
    Mutability,
    Schema,
    SCIMException,
    User,
)
from scim2_models.path import (
    AttrPath,
    Comparison,
    FilterNode,
    LogicalExpr,
    Not,
    Path,
    Present,
    ValuePath,
)

from gateway.scim.errors import BadRequest, InvalidPath, InvalidSyntax, InvalidValue

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
KYVOS_USER_SCHEMA = "urn:kyvos:params:scim:schemas:extension:kyvos:2.0:User"

ResourceTypeName = Literal["User", "Group"]


class KyvosUser(Extension):
    """The gateway's User extension: what Kyvos decides about a user, readable over SCIM."""

    __schema__ = URN(KYVOS_USER_SCHEMA)

    effective_role: Annotated[str | None, Mutability.read_only] = None
    """The role Kyvos grants the user: the highest of their own role (`roles`) and the roles
    of their groups. Read-only: group membership and the portal decide it."""


# The attribute catalogue.


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute's characteristics (RFC 7643 §2.2), under its canonical name."""

    name: str
    type: str
    multi_valued: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    case_exact: bool = False
    required: bool = False
    sub_attributes: Mapping[str, "AttributeSpec"] = field(default_factory=dict)

    def sub(self, name: str) -> "AttributeSpec | None":
        """The sub-attribute called `name`, in any case (RFC 7643 §2.1)."""
        return self.sub_attributes.get(name.lower())

    @property
    def read_only(self) -> bool:
        return self.mutability == "readOnly"


@dataclass(frozen=True)
class ResourceSchema:
    """The schemas of one resource type: its core schema and its extensions."""

    name: ResourceTypeName
    core: str
    extensions: tuple[str, ...]
    attributes: Mapping[str, Mapping[str, AttributeSpec]]

    def schema_urn(self, text: str) -> str | None:
        """The canonical URN for `text` in any case, if this resource type has that schema."""
        return next((urn for urn in self.attributes if urn.lower() == text.lower()), None)

    def attribute(self, schema: str, name: str) -> AttributeSpec | None:
        return self.attributes[schema].get(name.lower())


def _spec_from_model(attribute: Attribute) -> AttributeSpec:
    subs = {
        (sub.name or "").lower(): _spec_from_model(sub) for sub in attribute.sub_attributes or []
    }

    return AttributeSpec(
        name=attribute.name or "",
        type=str(attribute.type.value if attribute.type else "string"),
        multi_valued=bool(attribute.multi_valued),
        mutability=str(attribute.mutability.value if attribute.mutability else "readWrite"),
        returned=str(attribute.returned.value if attribute.returned else "default"),
        case_exact=bool(attribute.case_exact),
        required=bool(attribute.required),
        sub_attributes=subs,
    )


def _string(name: str, **characteristics: Any) -> AttributeSpec:
    return AttributeSpec(name=name, type="string", **characteristics)


# RFC 7643 §3.1: the common attributes belong to no schema definition, yet every resource has
# them; they are looked up under the resource type's core schema.
_COMMON_ATTRIBUTES = {
    "id": _string("id", mutability="readOnly", returned="always", case_exact=True),
    "externalid": _string("externalId", case_exact=True),
    "meta": AttributeSpec(
        name="meta",
        type="complex",
        mutability="readOnly",
        sub_attributes={
            "resourcetype": _string("resourceType", mutability="readOnly", case_exact=True),
            "created": AttributeSpec("created", "dateTime", mutability="readOnly"),
            "lastmodified": AttributeSpec("lastModified", "dateTime", mutability="readOnly"),
            "location": AttributeSpec("location", "reference", mutability="readOnly"),
            "version": _string("version", mutability="readOnly", case_exact=True),
        },
    ),
}


# What the gateway does differently from the standard schema definitions, stated once so the
# catalogue and the published Schemas agree: a member's `display` is the member's userName as
# Kyvos holds it, whatever the IdP sent (RFC 7643 §8.7.1 lists no writable `display`).
_READ_ONLY_SUB_ATTRIBUTES = {GROUP_SCHEMA: {("members", "display")}}


def gateway_schema(model: Any) -> Schema:
    """The schema of `model` as this gateway serves it (RFC 7643 §7)."""
    schema: Schema = model.to_schema()
    read_only = _READ_ONLY_SUB_ATTRIBUTES.get(str(schema.id), set())
    for attribute in schema.attributes or []:
        for sub in attribute.sub_attributes or []:
            if (attribute.name, sub.name) in read_only:
                sub.mutability = Mutability.read_only

    return schema


def _schema_attributes(model: Any, *, core: bool) -> dict[str, AttributeSpec]:
    schema = gateway_schema(model)
    attributes = {
        (attr.name or "").lower(): _spec_from_model(attr) for attr in schema.attributes or []
    }
    if core:
        attributes.update(_COMMON_ATTRIBUTES)

    return attributes


RESOURCE_SCHEMAS: Mapping[ResourceTypeName, ResourceSchema] = {
    "User": ResourceSchema(
        name="User",
        core=USER_SCHEMA,
        extensions=(ENTERPRISE_USER_SCHEMA, KYVOS_USER_SCHEMA),
        attributes={
            USER_SCHEMA: _schema_attributes(User, core=True),
            ENTERPRISE_USER_SCHEMA: _schema_attributes(EnterpriseUser, core=False),
            KYVOS_USER_SCHEMA: _schema_attributes(KyvosUser, core=False),
        },
    ),
    "Group": ResourceSchema(
        name="Group",
        core=GROUP_SCHEMA,
        extensions=(),
        attributes={GROUP_SCHEMA: _schema_attributes(Group, core=True)},
    ),
}


def resource_schema(resource_type: ResourceTypeName) -> ResourceSchema:
    return RESOURCE_SCHEMAS[resource_type]


# Attribute paths (RFC 7644 §3.10 and the PATCH path of §3.5.2).


@dataclass(frozen=True)
class AttributePath:
    """A resolved path: which schema, attribute, value filter and sub-attribute it names.

    `attribute` is None when the path names a whole extension block, which Entra and the RFC
    both allow as a PATCH path. The value filter is already canonical: its attribute names are
    in canonical case and its boolean comparisons hold booleans.
    """

    schema: str
    core: bool
    attribute: AttributeSpec | None = None
    value_filter: FilterNode | None = None
    sub_attribute: AttributeSpec | None = None

    def __str__(self) -> str:
        if self.attribute is None:
            return self.schema

        text = self.attribute.name if self.core else f"{self.schema}:{self.attribute.name}"
        if self.value_filter is not None:
            text += f"[{self.value_filter}]"
        if self.sub_attribute is not None:
            text += f".{self.sub_attribute.name}"
        return text

    @property
    def target(self) -> AttributeSpec | None:
        """The attribute whose value the path finally designates."""
        return self.sub_attribute or self.attribute


def resolve_path(resource_type: ResourceTypeName, path_text: str) -> AttributePath:
    """Resolve an attribute path in any case, URN-qualified or not; InvalidPath if unknown."""
    schema = resource_schema(resource_type)
    text = path_text.strip()

    whole_extension = schema.schema_urn(text)
    if whole_extension is not None and whole_extension != schema.core:
        return AttributePath(schema=whole_extension, core=False)

    node = _parse_path(text)
    attr_path = node.attr_path if isinstance(node, ValuePath) else node
    urn = schema.core
    if attr_path.uri is not None:
        urn = schema.schema_urn(attr_path.uri) or _unknown_schema(resource_type, attr_path.uri)

    attribute = schema.attribute(urn, attr_path.attr)
    if attribute is None:
        raise InvalidPath(
            f"{resource_type} has no attribute {path_text!r}; check the IdP's attribute mapping."
        )

    sub_name = node.sub_attr if isinstance(node, ValuePath) else attr_path.sub_attr
    value_filter = None
    if isinstance(node, ValuePath):
        value_filter = _canonical_filter(attribute, node.val_filter, path_text)

    return AttributePath(
        schema=urn,
        core=urn == schema.core,
        attribute=attribute,
        value_filter=value_filter,
        sub_attribute=_sub_attribute(attribute, sub_name, path_text),
    )


def canonical_path(resource_type: ResourceTypeName, path_text: str) -> str:
    """The canonical spelling of a path: `name.givenName`, `urn:...:enterprise:2.0:User:department`.

    Core attributes lose their URN prefix; extension attributes keep theirs.
    """
    return str(resolve_path(resource_type, path_text))


def _parse_path(text: str) -> AttrPath | ValuePath:
    try:
        node = Path(text).ast
    except (InvalidPathException, ValueError) as error:
        raise InvalidPath(f"{text!r} is not a valid attribute path ({error}).") from error

    if not isinstance(node, AttrPath | ValuePath):
        raise InvalidPath(f"{text!r} is not a valid attribute path.")
    return node


def _unknown_schema(resource_type: ResourceTypeName, urn: str) -> str:
    raise InvalidPath(
        f"{resource_type} has no schema {urn!r}; the gateway supports "
        f"{', '.join(resource_schema(resource_type).attributes)}."
    )


def _sub_attribute(attribute: AttributeSpec, name: str | None, text: str) -> AttributeSpec | None:
    if name is None:
        return None

    sub = attribute.sub(name)
    if sub is None:
        raise InvalidPath(f"{attribute.name!r} has no sub-attribute {name!r} (path {text!r}).")
    return sub


def _canonical_filter(attribute: AttributeSpec, node: FilterNode, text: str) -> FilterNode:
    """Rewrite a value filter with canonical names and typed booleans.

    Entra filters boolean sub-attributes with strings: `roles[primary eq "True"]`.
    """
    if isinstance(node, LogicalExpr):
        terms = tuple(_canonical_filter(attribute, term, text) for term in node.terms)
        return LogicalExpr(op=node.op, terms=terms)
    if isinstance(node, Not):
        return Not(expr=_canonical_filter(attribute, node.expr, text))
    if isinstance(node, Present):
        sub = _filter_attribute(attribute, node.attr_path, text)
        return Present(AttrPath(sub.name))
    if isinstance(node, Comparison):
        sub = _filter_attribute(attribute, node.attr_path, text)
        value = node.value
        if sub.type == "boolean" and isinstance(value, str):
            value = _boolean(value, f"{attribute.name}.{sub.name}")
        return Comparison(AttrPath(sub.name), node.op, value)

    raise InvalidPath(f"{text!r}: a value filter cannot hold another value filter.")


def _filter_attribute(attribute: AttributeSpec, attr_path: AttrPath, text: str) -> AttributeSpec:
    sub = attribute.sub(attr_path.attr) if attr_path.uri is None else None
    if sub is None or attr_path.sub_attr is not None:
        raise InvalidPath(f"{text!r}: {attribute.name!r} has no sub-attribute {attr_path}.")
    return sub


# Values: one coercion shared by resource bodies and PATCH values.


_TRUE_OR_FALSE = {"true": True, "false": False}


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    # Entra sends booleans as the strings "True" and "False".
    if isinstance(value, str) and value.strip().lower() in _TRUE_OR_FALSE:
        return _TRUE_OR_FALSE[value.strip().lower()]
    raise InvalidValue(f"{where} must be a boolean (true or false), not {value!r}.")


def _json_text(value: str) -> Any:
    """A JSON object or array carried inside a string, as Entra sends role values."""
    stripped = value.strip()
    if not stripped.startswith(("{", "[")):
        return value
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        return value


def coerce_value(spec: AttributeSpec, value: Any, *, where: str | None = None) -> Any:
    """`value` in canonical form for the attribute `spec`, or None when it is unassigned.

    Null and empty lists are unassigned (RFC 7643 §2.5). Raises InvalidValue naming the
    attribute when the type is wrong.
    """
    where = where or spec.name
    if value is None:
        return None

    if spec.multi_valued:
        return _coerce_many(spec, value, where)
    if spec.type == "complex":
        return coerce_element(spec, value, where=where)
    return _coerce_simple(spec, value, where)


def _coerce_many(spec: AttributeSpec, value: Any, where: str) -> list[Any] | None:
    if isinstance(value, str) and spec.type == "complex":
        value = _json_text(value)
    if not isinstance(value, list):
        value = [value]

    elements = []
    for index, item in enumerate(value):
        element_where = f"{where}[{index}]"
        if spec.type == "complex":
            element = coerce_element(spec, item, where=element_where)
        else:
            element = _coerce_simple(spec, item, element_where) if item is not None else None
        if element is not None and element not in elements:
            elements.append(element)

    return elements or None


def coerce_element(spec: AttributeSpec, value: Any, *, where: str | None = None) -> Any:
    """One complex value: sub-attribute names canonical, nulls and read-only ones dropped."""
    where = where or spec.name
    if isinstance(value, str):
        value = _json_text(value)
    # Entra sends the manager as a bare id string.
    if isinstance(value, str) and spec.sub("value") is not None:
        value = {"value": value}
    if not isinstance(value, dict):
        raise InvalidValue(f"{where} must be an object with sub-attributes, not {value!r}.")

    element: dict[str, Any] = {}
    for key, item in value.items():
        sub = spec.sub(str(key))
        if sub is None:
            raise InvalidValue(f"{where} has no sub-attribute {key!r}.")
        coerced = _coerce_simple(sub, item, f"{where}.{sub.name}") if item is not None else None
        if coerced is not None and not sub.read_only:
            element[sub.name] = coerced

    return element or None


def _coerce_simple(spec: AttributeSpec, value: Any, where: str) -> Any:
    if spec.type == "boolean":
        return _boolean(value, where)
    if spec.type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if spec.type == "decimal" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if spec.type not in ("integer", "decimal", "complex") and isinstance(value, str):
        return value
    raise InvalidValue(f"{where} must be a {spec.type}, not {value!r}.")


# Resource bodies (POST and PUT).


@dataclass(frozen=True)
class ParsedUser:
    """A User body in canonical form; the password travels beside it, never inside it."""

    resource: dict[str, Any]
    password: str | None


def parse_user(body: Any) -> ParsedUser:
    """Read a User sent by Okta or Entra (POST or PUT), tolerant of their dialects.

    Read-only attributes (`id`, `meta`, `groups`) are ignored as RFC 7644 §3.5.1 says; Okta
    sends back `groups: []` on PUT and it must not touch portal memberships.
    """
    attributes = _canonical_body("User", body)
    password = attributes.pop("password", None)

    user_name = attributes.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise InvalidValue("userName is required and must not be empty.")

    resource = with_schemas("User", attributes)
    check_with_models("User", resource)
    return ParsedUser(resource=resource, password=password)


def parse_group(body: Any) -> dict[str, Any]:
    """Read a Group sent by Okta or Entra (POST or PUT); members are users only."""
    attributes = _canonical_body("Group", body)

    display_name = attributes.get("displayName")
    if not isinstance(display_name, str) or not display_name.strip():
        raise InvalidValue("displayName is required and must not be empty.")

    if "members" in attributes:
        attributes["members"] = [normalise_member(m) for m in attributes["members"]]

    resource = with_schemas("Group", attributes)
    check_with_models("Group", resource)
    return resource


def normalise_member(member: Mapping[str, Any]) -> dict[str, Any]:
    """A group member: a user id, with `type` and `display` only when the IdP sent them.

    A member without `type` is a user (Okta and Entra send none). Kyvos groups hold users only.
    """
    value = member.get("value")
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"Each member needs a 'value' holding a user id; got {member!r}.")

    normalised: dict[str, Any] = {"value": value}
    member_type = member.get("type")
    if member_type is not None:
        if str(member_type).lower() == "group":
            raise InvalidValue(
                f"Member {value!r} is a group; Kyvos groups cannot contain groups, so nested "
                "groups are not supported. Push the users of that group instead."
            )
        if str(member_type).lower() != "user":
            raise InvalidValue(f"Member {value!r} has type {member_type!r}; only User is allowed.")
        normalised["type"] = "User"
    if member.get("display") is not None:
        normalised["display"] = member["display"]

    return normalised


def _canonical_body(resource_type: ResourceTypeName, body: Any) -> dict[str, Any]:
    """The writable attributes of `body` in canonical form, `schemas` left out.

    Blocks under schema URNs the gateway does not know are dropped: Entra adds Microsoft's own
    (`http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`).
    """
    if not isinstance(body, dict):
        raise InvalidSyntax(f"A {resource_type} body must be a JSON object.")

    schema = resource_schema(resource_type)
    attributes: dict[str, Any] = {}
    for key, value in body.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        if _is_foreign_schema(schema, key):
            continue

        path = _body_key_path(resource_type, key)
        if path.attribute is None:
            _merge_extension(resource_type, attributes, path.schema, value)
        elif not path.attribute.read_only:
            _put(attributes, path, coerce_value(path.attribute, value, where=str(path)))

    return attributes


def _is_foreign_schema(schema: ResourceSchema, key: str) -> bool:
    """A key that is a schema URN (or qualified by one) the gateway does not know."""
    if not key.lower().startswith(("urn:", "http:", "https:")):
        return False
    return not any(key.lower().startswith(urn.lower()) for urn in schema.attributes)


def _body_key_path(resource_type: ResourceTypeName, key: str) -> AttributePath:
    try:
        path = resolve_path(resource_type, key)
    except InvalidPath as error:
        raise InvalidSyntax(error.detail) from error
    if path.value_filter is not None or path.sub_attribute is not None:
        raise InvalidSyntax(f"{key!r} is not an attribute name; send the attribute as an object.")
    return path


def _merge_extension(
    resource_type: ResourceTypeName, attributes: dict[str, Any], urn: str, block: Any
) -> None:
    if block is None:
        return
    if not isinstance(block, dict):
        raise InvalidSyntax(f"{urn} must hold an object with the extension's attributes.")

    for key, value in extension_items(block):
        path = _body_key_path(resource_type, f"{urn}:{key}")
        if path.attribute is not None and not path.attribute.read_only:
            _put(attributes, path, coerce_value(path.attribute, value, where=str(path)))


def extension_items(block: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The attributes of an extension object, without the `schemas` that clients built from
    models (scim2-models, SDKs) send inside it."""
    return [(str(key), value) for key, value in block.items() if str(key).lower() != "schemas"]


def _put(attributes: dict[str, Any], path: AttributePath, value: Any) -> None:
    if value is None or path.attribute is None:
        return
    if path.core:
        attributes[path.attribute.name] = value
    else:
        attributes.setdefault(path.schema, {})[path.attribute.name] = value


def with_schemas(resource_type: ResourceTypeName, resource: Mapping[str, Any]) -> dict[str, Any]:
    """`resource` with `schemas` listing its core schema and the extensions it carries.

    RFC 7643 §3: `schemas` names the schemas of the attributes present, no more.
    """
    schema = resource_schema(resource_type)
    body = {key: value for key, value in resource.items() if key != "schemas"}
    for urn in schema.extensions:
        if not body.get(urn):
            body.pop(urn, None)
    present = [urn for urn in schema.extensions if urn in body]

    return {"schemas": [schema.core, *present], **body}


# Validation through scim2-models: the types it knows that our catalogue does not check (URIs,
# binary). Translated once here, so no pydantic error leaves this module.

_MODELS: Mapping[ResourceTypeName, Any] = {
    "User": User[EnterpriseUser | KyvosUser],
    "Group": Group,
}


def check_with_models(resource_type: ResourceTypeName, resource: Mapping[str, Any]) -> None:
    """Raise InvalidValue if scim2-models refuses `resource`, naming each attribute at fault."""
    try:
        _MODELS[resource_type].model_validate(dict(resource), scim_ctx=Context.DEFAULT)
    except ValidationError as error:
        problems = [_describe(e) for e in error.errors(include_url=False) if _counts(e)]
        if problems:
            raise InvalidValue("; ".join(problems)) from error
    except (SCIMException, ValueError, TypeError) as error:
        raise InvalidValue(f"{resource_type} is not valid: {error}") from error


def _counts(error: Any) -> bool:
    """False for the e-mail syntax check, which refuses addresses the portal takes.

    email-validator rejects internal domains such as `corp.local`, common in directories that
    feed the portal; the IdP is the authority on its users' addresses.
    """
    location = tuple(error.get("loc", ()))
    return not (len(location) == 3 and location[0] == "emails" and location[2] == "value")


def _describe(error: Any) -> str:
    """`urn:...:User:manager.value: <reason>`, the way the IdP names the attribute."""
    location = [str(item) for item in error.get("loc", ())]
    where = ".".join(location) or "the resource"
    if location and location[0].startswith("urn:") and len(location) > 1:
        where = f"{location[0]}:{'.'.join(location[1:])}"
    return f"{where}: {error.get('msg', 'invalid')}"


# Projection (RFC 7643 §7, RFC 7644 §3.4.2.5).

_ALWAYS_KEPT = ("schemas", "id")


def project(
    resource: Mapping[str, Any],
    *,
    attributes: Sequence[str] = (),
    excluded_attributes: Sequence[str] = (),
    resource_type: ResourceTypeName,
) -> dict[str, Any]:
    """The representation answered to the IdP.

    `attributes` keeps only the named attributes (plus `schemas` and `id`, returned "always");
    `excludedAttributes` removes the named ones but never `id`; attributes returned "never"
    (`password`) never leave. Names are case-insensitive and may be URN-qualified or name a
    sub-attribute. Unknown names select nothing rather than fail a read.
    """
    body = _without_never_returned(resource_type, resource)

    requested = _known_paths(resource_type, attributes)
    if requested:
        body = _select(body, requested)
    for path in _known_paths(resource_type, excluded_attributes):
        _exclude(body, path)

    return _schemas_of_present(resource_type, body)


def _known_paths(resource_type: ResourceTypeName, names: Iterable[str]) -> list[AttributePath]:
    paths = []
    for name in names:
        try:
            path = resolve_path(resource_type, name)
        except InvalidPath:
            continue
        if path.value_filter is None:
            paths.append(path)

    return paths


def _without_never_returned(
    resource_type: ResourceTypeName, resource: Mapping[str, Any]
) -> dict[str, Any]:
    schema = resource_schema(resource_type)
    body: dict[str, Any] = {}
    for key, value in resource.items():
        urn = schema.schema_urn(key)
        if urn is not None and urn != schema.core and isinstance(value, dict):
            kept = {
                name: item
                for name, item in value.items()
                if _returned(schema.attribute(urn, name)) != "never"
            }
            body[key] = _deep_copy(kept)
        elif _returned(schema.attribute(schema.core, key)) != "never":
            body[key] = _deep_copy(value)

    return body


def _returned(spec: AttributeSpec | None) -> str:
    return spec.returned if spec is not None else "default"


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy(item) for item in value]
    return value


def _select(body: dict[str, Any], paths: Sequence[AttributePath]) -> dict[str, Any]:
    selected = {key: body[key] for key in _ALWAYS_KEPT if key in body}

    for path in paths:
        container = body if path.core else body.get(path.schema)
        target = selected if path.core else selected.setdefault(path.schema, {})
        if not isinstance(container, dict):
            continue
        if path.attribute is None:
            target.update(container)
            continue

        name = path.attribute.name
        if name not in container or target.get(name) is container[name]:
            continue
        if path.sub_attribute is None:
            target[name] = container[name]
        else:
            _select_sub(target, name, container[name], path.sub_attribute.name)

    cleaned = {key: _without_empty(value) for key, value in selected.items()}
    return {key: value for key, value in cleaned.items() if value not in ({}, [])}


def _select_sub(target: dict[str, Any], name: str, value: Any, sub: str) -> None:
    """Keep `sub` of `value`; element by element when the attribute is multi-valued."""
    if isinstance(value, list):
        kept = target.get(name)
        if not isinstance(kept, list) or len(kept) != len(value):
            kept = [{} for _ in value]
        for picked, item in zip(kept, value, strict=True):
            if isinstance(item, dict) and sub in item:
                picked[sub] = item[sub]
        target[name] = kept
    elif isinstance(value, dict) and sub in value:
        target.setdefault(name, {})[sub] = value[sub]


def _without_empty(value: Any) -> Any:
    if isinstance(value, list):
        return [item for item in value if item != {}]
    if isinstance(value, dict):
        return {key: _without_empty(item) for key, item in value.items() if item not in ({}, [])}
    return value


def _exclude(body: dict[str, Any], path: AttributePath) -> None:
    if path.attribute is not None and path.attribute.returned == "always":
        return

    container = body if path.core else body.get(path.schema)
    if not isinstance(container, dict):
        return
    if path.attribute is None:
        body.pop(path.schema, None)
        return

    name = path.attribute.name
    if path.sub_attribute is None:
        container.pop(name, None)
        return

    value = container.get(name)
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            item.pop(path.sub_attribute.name, None)


def _schemas_of_present(resource_type: ResourceTypeName, body: dict[str, Any]) -> dict[str, Any]:
    if "schemas" not in body:
        return body

    schema = resource_schema(resource_type)
    for urn in schema.extensions:
        if urn in body and not body[urn]:
            del body[urn]
    body["schemas"] = [urn for urn in body["schemas"] if urn == schema.core or urn in body]
    return body


# Entity tags (RFC 7644 §3.14, RFC 7232).

_ENTITY_TAG = re.compile(r'\s*(W/)?("[^"]*"|[^",\s]+)\s*(?:,|$)')


def etag(version: int) -> str:
    """The weak entity tag of a resource version, as `meta.version` and `ETag` carry it."""
    return f'W/"{version}"'


def parse_etag(header: str) -> set[str] | Literal["*"]:
    """The tags of an If-Match or If-None-Match header, each in the form `etag()` gives.

    The gateway's tags are weak, so comparison is weak (RFC 7232 §2.3.2): `"3"` and `W/"3"`
    name the same version.
    """
    text = header.strip()
    if text == "*":
        return "*"

    tags: set[str] = set()
    position = 0
    while position < len(text):
        match = _ENTITY_TAG.match(text, position)
        if match is None or match.end() == position:
            raise BadRequest(f'{header!r} is not a list of entity tags such as W/"3".')
        tags.add(f'W/"{match.group(2).strip(chr(34))}"')
        position = match.end()

    if not tags:
        raise BadRequest('The entity-tag header is empty; send W/"<version>" or *.')
    return tags
