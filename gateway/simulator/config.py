"""How one simulated portal is set up."""

from __future__ import annotations

from dataclasses import dataclass

AUTHENTICATION_SYSTEMS = ("NATIVE", "LDAP", "RAS", "SAML", "OAUTH")

WEB_PORTAL_CONTEXT = "/kyvos"
MANAGER_CONTEXT = "/kyvosmanager"


@dataclass(kw_only=True)
class SimulatorConfig:
    """A Kyvos Web Portal, or with `manager=True` a Kyvos Manager (never a valid target).

    A Manager left on the default context moves to `/kyvosmanager`, where the real one lives.
    """

    context: str = WEB_PORTAL_CONTEXT
    manager: bool = False
    authentication_system: str = "NATIVE"
    session_idle_seconds: float = 1800
    service_username: str = "scim-gateway"
    service_password: str
    seed_existing_user: bool = True

    def __post_init__(self) -> None:
        if self.manager and self.context == WEB_PORTAL_CONTEXT:
            self.context = MANAGER_CONTEXT
        self.context = "/" + self.context.strip("/")
        if self.context == "/":
            raise ValueError("the portal lives under a web context such as /kyvos, not at /")

        self.authentication_system = self.authentication_system.upper()
        if self.authentication_system not in AUTHENTICATION_SYSTEMS:
            choices = ", ".join(AUTHENTICATION_SYSTEMS)
            raise ValueError(f"authentication_system must be one of {choices}")

        if self.session_idle_seconds <= 0:
            raise ValueError("session_idle_seconds must be positive")
        if not self.service_username or not self.service_password:
            raise ValueError("the service account needs a username and a password")
