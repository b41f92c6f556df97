"""Target checks: only a Kyvos Web Portal is a valid target, never a Kyvos Manager.

The Manager is a separate application under its own web context with its own users; provisioning
it would create accounts in the wrong system, and sending it the portal's service credentials would
leak them. Both checks run before any credential leaves the gateway.
"""

from typing import Any
from urllib.parse import unquote, urlsplit

from gateway.kyvos.errors import TargetIsManager

MANAGER_CONTEXT = "kyvosmanager"
MANAGER_PRODUCT = "kyvos manager"


def names_manager(text: str) -> bool:
    """Whether a URL or a request path points into a Kyvos Manager's web context."""
    path = unquote(urlsplit(text).path if "://" in text else text)
    segments = [segment.strip().lower() for segment in path.split("/")]

    return MANAGER_CONTEXT in segments


def check_target_url(url: str, *, setting: str = "portal.url") -> None:
    """Refuse a target URL under the Manager's context, naming the setting to fix."""
    if names_manager(url):
        raise TargetIsManager(
            f"{setting} points at a Kyvos Manager ({MANAGER_CONTEXT} context); the gateway only "
            "provisions the Kyvos Web Portal. Set it to the Web Portal URL, "
            "for example https://host:8081/kyvos."
        )


def check_about(about: dict[str, Any], *, setting: str = "portal.url") -> None:
    """Refuse a target whose `about` answer says it is a Kyvos Manager."""
    product = str(about.get("product", "")).strip().lower()

    if product == MANAGER_PRODUCT or "manager" in product.split():
        raise TargetIsManager(
            f"{setting} answers as '{about.get('product')}'; the gateway only provisions the "
            "Kyvos Web Portal. Set it to the Web Portal URL, for example https://host:8081/kyvos."
        )
