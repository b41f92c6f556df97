"""Every recorded Okta and Entra exchange, replayed against the real gateway and the simulated
portal over HTTP, with the portal's resulting state read back through its own API."""

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Deployment
from tests.traffic.replayer import HERE, Replay, Target, load, scenario_files

# The project's own copies, plus the shared folder beside the repository when it is there
# (it may hold exchanges recorded after these copies were made).
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "traffic"
SCENARIOS = scenario_files(HERE, *([SHARED] if SHARED.is_dir() else []))


def target_for(deployment: Deployment) -> Target:
    return Target(
        scim_base_url=deployment.scim_url,
        authorization=deployment.credentials.basic_header,
        portal_url=deployment.portal_url,
        portal_username=deployment.settings.portal.username,
        portal_password=deployment.credentials.portal_password,
        default_role=deployment.settings.onboarding.role_name,
        static_token=deployment.credentials.bearer_token,
    )


def name_of(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def with_its_portal(path: Path) -> Any:
    """The scenario, and the simulated portal it asks for (its optional `portal` key)."""
    portal = load(path).get("portal") or {}
    return pytest.param(path, portal, id=name_of(path))


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize(
    ("scenario", "simulator_config"),
    [with_its_portal(path) for path in SCENARIOS],
    indirect=["simulator_config"],
)
async def test_recorded_idp_exchange_gets_the_recorded_answers(
    deployment: Deployment, scenario: Path
) -> None:
    await Replay(load(scenario), target_for(deployment)).run()


def test_every_shared_scenario_is_replayed() -> None:
    local = [name_of(path) for path in SCENARIOS if path.is_relative_to(HERE)]
    shared = {name_of(path) for path in SHARED.glob("*/*.json")} if SHARED.is_dir() else set()

    assert local == [
        "conformance/etag-preconditions",
        "conformance/patch-dialects",
        "conformance/search-and-filters",
        "entra/group-lifecycle",
        "entra/test-connection",
        "entra/user-lifecycle",
        "entra/user-update-flag-mode",
        "okta/create-user",
        "okta/errors-and-auth",
        "okta/existing-user-keeps-role",
        "okta/group-push",
        "okta/import-users",
        "okta/test-credentials",
        "okta/update-deactivate-reactivate",
        "roles/group-rule-raises-effective-role",
        "roles/role-write-accepted-ras",
        "roles/role-write-refused-native",
    ]
    assert shared <= {name_of(path) for path in SCENARIOS}
