"""What every provisioning operation needs: the portal, the store, onboarding, role rules."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog

from gateway.kyvos.client import PortalClient
from gateway.kyvos.errors import PortalError
from gateway.kyvos.records import Page
from gateway.observability.audit import Audit
from gateway.scim.errors import Forbidden, PreconditionFailed, TooMany
from gateway.scim.resources import parse_etag
from gateway.settings import OnboardingSettings, RolesSettings
from gateway.store import Store, StoredResource

# How many portal records the gateway reads, at most, to answer a filter the portal cannot
# (anything but `eq` on userName, e-mail, externalId, id or displayName). Beyond it the IdP gets
# 400 tooMany instead of a partial answer.
DEFAULT_MAX_SCAN = 10_000

# Records asked of the portal per call when the gateway reads a whole list.
PORTAL_PAGE = 500

logger = structlog.get_logger("provisioning")

Record = TypeVar("Record")
PageReader = Callable[[int, int], Awaitable[Page[Record]]]


@dataclass(frozen=True)
class Provisioning:
    portal: PortalClient
    store: Store
    onboarding: OnboardingSettings
    service_account: str
    forward_passwords: bool
    base_url: str
    audit: Audit
    max_scan: int = DEFAULT_MAX_SCAN
    roles: RolesSettings = field(default_factory=RolesSettings)
    patch_max_operations: int = 1000

    def is_service_account(self, user_name: str) -> bool:
        return user_name.casefold() == self.service_account.casefold()

    def refuse_service_account(self, user_name: str) -> None:
        """SCIM can never change or delete the portal account the gateway logs in with."""
        if self.is_service_account(user_name):
            raise Forbidden(
                "This is the portal account the gateway itself logs in with; it cannot be "
                "changed or deleted through SCIM. Unassign it from the IdP application."
            )

    async def keep(
        self,
        kind: str,
        portal_id: str,
        external_id: str | None,
        extra: dict[str, Any],
        previous: StoredResource | None,
    ) -> StoredResource:
        """Record what the portal cannot hold for a resource; `created` survives updates."""
        moment = now()
        record = StoredResource(
            kind=kind,
            portal_id=portal_id,
            external_id=external_id,
            extra=extra,
            created=previous.created if previous else moment,
            last_modified=moment,
            version=(previous.version + 1) if previous else 1,
        )
        await self.store.save(record)

        return record


@asynccontextmanager
async def undone_on_failure(
    kind: str, portal_id: str, undo: Callable[[str], Awaitable[None]]
) -> AsyncIterator[None]:
    """A resource just created in the portal whose remaining writes fail is deleted again, so
    nothing is left half-created and the IdP's retry starts from a clean slate."""
    try:
        yield
    except BaseException:
        logger.warning("create_undone", resource_type=kind, resource_id=portal_id)
        try:
            await undo(portal_id)
        except PortalError:
            logger.error("create_undo_failed", resource_type=kind, resource_id=portal_id)
        raise


async def read_all(read_page: PageReader[Record], *, bound: int | None = None) -> list[Record]:
    """Every record of a portal list, page by page in the portal's stable order.

    With a `bound`, a list longer than it is refused before anything past the first page is
    read: the IdP gets 400 tooMany rather than a slow or partial answer.
    """
    first = await read_page(0, PORTAL_PAGE)
    if bound is not None and first.total > bound:
        raise TooMany(
            f"This filter can only be answered by reading all {first.total} of the portal's "
            f"records, more than the gateway's limit of {bound}. Filter with 'eq' on "
            "userName, externalId, emails.value, displayName or id instead."
        )

    records = list(first.items)
    while len(records) < first.total:
        more = await read_page(len(records), PORTAL_PAGE)
        if not more.items:
            break
        records.extend(more.items)

    return records


def now() -> datetime:
    return datetime.now(UTC)


def check_precondition(if_match: str | None, current: Callable[[], dict[str, Any]]) -> None:
    """RFC 7644 §3.14: a write with a stale `If-Match` changes nothing and answers 412.

    `current` renders the resource as it stands; it is called only when there is an `If-Match`
    to compare with (Okta and Entra send none), so an ordinary write renders nothing extra.
    """
    if if_match is None:
        return

    wanted = parse_etag(if_match)
    current_version = current()["meta"]["version"]
    if wanted == "*" or current_version in wanted:
        return

    raise PreconditionFailed(
        f"The resource has changed since it was read (its version is now {current_version}); "
        "read it again and retry the change."
    )
