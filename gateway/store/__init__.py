"""The gateway's small state: externalId, meta and portal-less SCIM attributes per resource."""

from gateway.store.errors import StoreUnavailable
from gateway.store.resources import StoredResource
from gateway.store.store import Store

__all__ = ["Store", "StoreUnavailable", "StoredResource"]
