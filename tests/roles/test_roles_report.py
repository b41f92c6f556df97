"""Start-up checks of the rules, discovery of the Kyvos extension, and the `roles` command's
report of the portal's roles, the rules and one user's effective role."""

from pathlib import Path
from typing import Any

import pytest

from gateway import cli
from gateway.app import build_app
from gateway.provisioning.roles import roles_report
from gateway.settings import ConfigError, load_settings
from gateway.simulator import SimulatorConfig, create_app
from tests.conftest import SERVICE_USERNAME, Deployment, gateway_settings, make_credentials
from tests.roles.conftest import KYVOS_SCHEMA, create_group, create_user, rules


async def test_a_rule_naming_an_unknown_role_stops_start_up_naming_the_rule(
    aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    credentials = make_credentials()
    portal = create_app(
        SimulatorConfig(
            service_username=SERVICE_USERNAME, service_password=credentials.portal_password
        )
    )
    server = await aiohttp_server(portal)
    rule = {"display_name": "Wizards", "roles": ["Wizard"]}
    settings = gateway_settings(
        credentials,
        str(server.make_url("/kyvos")),
        f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        roles={"rules": [{"display_name": "Kyvos Designers", "roles": ["Designer"]}, rule]},
    )

    with pytest.raises(ConfigError) as refusal:
        await aiohttp_client(build_app(settings))

    assert refusal.value.problems == [
        "roles.rules.1.roles: the portal has no role 'Wizard'; its roles are Administrator, "
        "Business User, Designer"
    ]


def test_a_rule_needs_exactly_one_way_to_match() -> None:
    with pytest.raises(ConfigError) as refusal:
        load_settings(
            overrides={
                "roles": {
                    "rules": [{"display_name": "A", "external_id": "x", "roles": ["Designer"]}]
                }
            }
        )

    assert refusal.value.problems == [
        "roles.rules.0: give exactly one of display_name, display_name_pattern or external_id"
    ]


def test_a_rule_needs_at_least_one_role() -> None:
    with pytest.raises(ConfigError) as refusal:
        load_settings(overrides={"roles": {"rules": [{"display_name": "A", "roles": []}]}})

    assert [problem.split(":")[0] for problem in refusal.value.problems] == ["roles.rules.0.roles"]


async def test_discovery_describes_the_kyvos_extension_and_its_read_only_effective_role(
    deployment: Deployment,
) -> None:
    _, schema, _ = await deployment.scim("GET", f"/Schemas/{KYVOS_SCHEMA}")
    _, user_type, _ = await deployment.scim("GET", "/ResourceTypes/User")

    assert [(a["name"], a["mutability"]) for a in schema["attributes"]] == [
        ("effectiveRole", "readOnly")
    ]
    assert {"schema": KYVOS_SCHEMA, "required": False} in user_type["schemaExtensions"]


@rules(
    {"display_name": "Kyvos Designers", "roles": ["Designer"]},
    {"display_name_pattern": "Kyvos Admin*", "roles": ["Administrator"]},
)
async def test_the_report_lists_the_portals_roles_and_the_rules(deployment: Deployment) -> None:
    lines = await roles_report(deployment.settings)

    assert lines == [
        "portal roles: Administrator, Designer, Business User",
        "role of new users (onboarding.roleName): Business User",
        "role changes through SCIM `roles`: refused (the portal uses NATIVE, not RAS)",
        "group-to-role rules (the first that matches a group wins):",
        '  roles.rules.0 (display_name = "Kyvos Designers") -> Designer',
        '  roles.rules.1 (display_name_pattern = "Kyvos Admin*") -> Administrator',
    ]


async def test_explaining_a_user_shows_each_groups_roles_and_the_rule_behind_them(
    deployment: Deployment,
) -> None:
    user = await create_user(deployment, "rosa")
    member = [{"value": user["id"]}]
    designers = await create_group(deployment, "Kyvos Designers", members=member)
    finance = await create_group(deployment, "Finance", members=member)

    lines = await roles_report(deployment.settings, "ROSA@example.com")

    assert lines == [
        f"user 'rosa@example.com' ({user['id']})",
        "  direct role: Business User",
        f"  group 'Kyvos Designers' ({designers['id']}): Designer - from roles.rules.0 "
        '(display_name = "Kyvos Designers")',
        f"  group 'Finance' ({finance['id']}): no roles - no rule matches; roles as set in Kyvos",
        "  effective role: Designer",
    ]


async def test_explaining_an_unknown_user_says_so(deployment: Deployment) -> None:
    with pytest.raises(LookupError):
        await roles_report(deployment.settings, "nobody@example.com")


def test_the_roles_command_takes_a_config_and_a_user_to_explain() -> None:
    arguments = cli._parser().parse_args(
        ["roles", "--config", "gateway.toml", "--explain", "ada@example.com"]
    )

    assert (arguments.command, arguments.config, arguments.explain) == (
        cli._roles,
        Path("gateway.toml"),
        "ada@example.com",
    )
