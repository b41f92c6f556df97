"""How `serve` listens: TLS, HTTP parser limits and connection timeouts.

RFC 6749 §2.3.1 and RFC 7644 §7.1 require TLS for client secrets and SCIM traffic. The gateway
terminates TLS 1.2 or later itself when given a certificate; otherwise it expects a proxy or
load balancer in front to do so, and says so at start-up.
"""

import ipaddress
import logging
import ssl
from typing import Any

from gateway.settings import ConfigError, LimitsSettings, ServerSettings
from gateway.web.middleware import ParserRefusalLog


def server_options(limits: LimitsSettings) -> dict[str, Any]:
    """Keyword arguments for aiohttp's `AppRunner`: sizes its HTTP parser accepts (larger
    requests get 400 before any handler runs) and how long an idle connection lives.

    aiohttp arms the keep-alive timer when a connection opens, so it also closes a connection
    whose client never finishes its headers.
    """
    return {
        "max_line_size": limits.max_url_bytes,
        "max_field_size": limits.max_header_bytes,
        "max_headers": limits.max_headers,
        "keepalive_timeout": limits.keepalive_timeout_seconds,
    }


def access_log_options() -> dict[str, Any]:
    """Keyword arguments for aiohttp's `AppRunner`: its access log writes the `access` event of
    a request its parser refuses; the `access_log` middleware writes every other one."""
    return {"access_log_class": ParserRefusalLog, "access_log": logging.getLogger("aiohttp.access")}


def tls_context(server: ServerSettings) -> ssl.SSLContext | None:
    """The server-side TLS context for `server.tls_certificate`, or None without one."""
    if server.tls_certificate is None or server.tls_key is None:
        return None

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(server.tls_certificate, server.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(
            [
                f"server.tls_certificate / server.tls_key: cannot load {server.tls_certificate} "
                f"with {server.tls_key}: {error}"
            ]
        ) from None

    return context


def plain_http_warning(server: ServerSettings) -> str | None:
    """What to tell the operator when the gateway speaks plain HTTP beyond this machine."""
    if server.tls_certificate is not None or _is_loopback(server.host):
        return None

    return (
        f"serving plain HTTP on {server.host}:{server.port}: the gateway expects a reverse proxy "
        "or load balancer in front to terminate TLS, since IdP credentials and personal data "
        "must not cross the network in clear; set server.tls_certificate and server.tls_key "
        "to terminate TLS here"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
