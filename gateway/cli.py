"""The `kyvos-scim-gateway` command: serve, run (with the simulated portal), check-config,
new-secret, roles."""

import argparse
import asyncio
import os
import sys
from pathlib import Path

from gateway import demo
from gateway.auth.exposure import inspect_config
from gateway.auth.secrets import digest, new_secret
from gateway.kyvos.errors import PortalError, TargetIsManager
from gateway.settings import ConfigError, Settings, load_settings

CONFIG_ENV = "KSG_CONFIG"
EXIT_CONFIG = 2
EXIT_PORTAL = 3


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)

    return int(arguments.command(arguments) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kyvos-scim-gateway",
        description="SCIM 2.0 gateway from Okta and Microsoft Entra ID to the Kyvos Web Portal.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve SCIM with the given configuration")
    _config_option(serve)
    serve.set_defaults(command=_serve)

    run = commands.add_parser(
        "run", help="serve with a simulated Kyvos Web Portal and demo credentials (local only)"
    )
    run.add_argument("--var", type=Path, default=Path("var"), help="state folder (var/)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8080")))
    run.add_argument("--portal-port", type=int, default=int(os.environ.get("PORTAL_PORT", "9090")))
    run.add_argument(
        "--portal-auth-system",
        default=os.environ.get("PORTAL_AUTH_SYSTEM", "NATIVE"),
        help="the simulated portal's authentication system: NATIVE (default) or RAS "
        "(env PORTAL_AUTH_SYSTEM); role changes over SCIM need RAS",
    )
    run.set_defaults(command=_run)

    check = commands.add_parser("check-config", help="validate a configuration and exit")
    _config_option(check)
    check.set_defaults(command=_check_config)

    secret = commands.add_parser(
        "new-secret", help="print a new machine secret and the SHA-256 digest for the config"
    )
    secret.set_defaults(command=_new_secret)

    roles = commands.add_parser(
        "roles", help="list the portal's roles and the group-to-role rules, or explain a user's"
    )
    _config_option(roles)
    roles.add_argument(
        "--explain", metavar="USER", help="a userName or portal id: where their role comes from"
    )
    roles.set_defaults(command=_roles)

    return parser


def _config_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None,
        help=f"TOML configuration file (default: ${CONFIG_ENV}, else the embedded defaults)",
    )


def _serve(arguments: argparse.Namespace) -> int:
    settings = _load_or_exit(arguments.config)

    return _serve_settings(settings)


def _serve_settings(settings: Settings) -> int:
    from gateway.app import serve

    try:
        asyncio.run(serve(settings))
    except TargetIsManager as refusal:
        print(f"kyvos-scim-gateway: refusing to start: {refusal.message}", file=sys.stderr)
        return EXIT_CONFIG
    except ConfigError as error:
        print(f"kyvos-scim-gateway: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except PortalError as error:
        print(f"kyvos-scim-gateway: cannot start: {error.message}", file=sys.stderr)
        return EXIT_PORTAL
    except OSError as error:
        print(
            f"kyvos-scim-gateway: cannot listen on {settings.server.host}:"
            f"{settings.server.port}: {error.strerror}; choose another server.port "
            "(KSG_SERVER__PORT)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass

    return 0


def _run(arguments: argparse.Namespace) -> int:
    try:
        demo.refuse_non_loopback(arguments.host)
    except ValueError as error:
        print(f"kyvos-scim-gateway: {error}", file=sys.stderr)
        return EXIT_CONFIG

    try:
        credentials, settings = demo.prepare(
            var=arguments.var,
            host=arguments.host,
            port=arguments.port,
            portal_port=arguments.portal_port,
        )
        asyncio.run(
            demo.run(
                credentials,
                settings,
                var=arguments.var,
                portal_port=arguments.portal_port,
                portal_auth_system=arguments.portal_auth_system,
            )
        )
    except KeyboardInterrupt:
        pass
    except ConfigError as error:
        print(f"kyvos-scim-gateway: cannot start: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except PortalError as error:
        print(f"kyvos-scim-gateway: cannot start: {error.message}", file=sys.stderr)
        return EXIT_PORTAL
    except OSError as error:
        print(
            f"kyvos-scim-gateway: cannot listen on {arguments.host} (gateway port "
            f"{arguments.port}, portal port {arguments.portal_port}): {error.strerror}; "
            "choose free ports with GATEWAY_PORT and PORTAL_PORT",
            file=sys.stderr,
        )
        return EXIT_CONFIG

    return 0


def _check_config(arguments: argparse.Namespace) -> int:
    settings = _load_or_exit(arguments.config)

    print(f"configuration is valid; SCIM base URL {settings.server.scim_base_url()}")
    return 0


def _new_secret(arguments: argparse.Namespace) -> int:
    secret = new_secret()

    print(f"secret: {secret}")
    print(f"sha256: {digest(secret)}")
    print("Give the secret to the IdP; put only the sha256 digest in the gateway's config.")
    return 0


def _load_or_exit(path: Path | None) -> Settings:
    """The settings, after naming every problem and warning on stderr; exit 2 on any problem."""
    settings, problems, warnings = _inspect(path)
    for warning in warnings:
        print(f"kyvos-scim-gateway: warning: {warning}", file=sys.stderr)

    if settings is None or problems:
        print(f"kyvos-scim-gateway: {ConfigError(problems)}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    return settings


def _inspect(path: Path | None) -> tuple[Settings | None, list[str], list[str]]:
    """Settings (None when invalid), every problem found, and warnings: the values, secrets
    left readable in files, and whether the TLS certificate and key load."""
    from gateway.web.listener import tls_context

    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = load_settings(path)
    except ConfigError as error:
        problems.extend(error.problems)

    exposure = inspect_config(path, settings, os.environ)
    problems.extend(exposure.errors)
    if settings is not None:
        try:
            tls_context(settings.server)
        except ConfigError as error:
            problems.extend(error.problems)

    return settings, problems, exposure.warnings


def _roles(arguments: argparse.Namespace) -> int:
    from gateway.provisioning.roles import roles_report

    settings = _load_or_exit(arguments.config)
    try:
        lines = asyncio.run(roles_report(settings, arguments.explain))
    except LookupError as error:
        print(f"kyvos-scim-gateway: {error}", file=sys.stderr)
        return 1
    except PortalError as error:
        print(f"kyvos-scim-gateway: cannot reach the portal: {error.message}", file=sys.stderr)
        return EXIT_PORTAL

    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
