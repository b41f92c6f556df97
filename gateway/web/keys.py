"""Typed application keys: the long-lived parts the handlers share."""

from aiohttp import web

from gateway.kyvos.client import PortalClient
from gateway.provisioning.groups import Groups
from gateway.provisioning.users import Users
from gateway.settings import Settings
from gateway.store import Store

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
PORTAL: web.AppKey[PortalClient] = web.AppKey("portal", PortalClient)
STORE: web.AppKey[Store] = web.AppKey("store", Store)
USERS: web.AppKey[Users] = web.AppKey("users", Users)
GROUPS: web.AppKey[Groups] = web.AppKey("groups", Groups)
