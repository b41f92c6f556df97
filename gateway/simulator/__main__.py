"""Serve a simulated Kyvos Web Portal (or Manager) over HTTP.

    python -m gateway.simulator --port 9090 --service-username scim-gateway \
        --service-password secret
"""

from __future__ import annotations

import argparse
import os
import sys

from aiohttp import web

from gateway.simulator.app import create_app
from gateway.simulator.config import AUTHENTICATION_SYSTEMS, SimulatorConfig

PASSWORD_ENV = "KYVOS_SIM_SERVICE_PASSWORD"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.simulator",
        description="Simulated Kyvos Web Portal with fault injection, for tests and benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument(
        "--manager", action="store_true", help="be a Kyvos Manager (never a valid target)"
    )
    parser.add_argument(
        "--context", default=None, help="web context (default /kyvos, /kyvosmanager)"
    )
    parser.add_argument(
        "--auth-system", default="NATIVE", choices=AUTHENTICATION_SYSTEMS, type=str.upper
    )
    parser.add_argument("--session-idle-seconds", type=float, default=1800)
    parser.add_argument("--service-username", default="scim-gateway")
    parser.add_argument(
        "--service-password",
        default=os.environ.get(PASSWORD_ENV),
        help=f"the service account's password (or set {PASSWORD_ENV})",
    )
    parser.add_argument(
        "--no-existing-user",
        action="store_true",
        help="do not seed the pre-existing portal user",
    )

    args = parser.parse_args(argv)
    if not args.service_password:
        parser.error(f"give --service-password or set {PASSWORD_ENV}")

    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    context = {"context": args.context} if args.context else {}
    config = SimulatorConfig(
        **context,
        manager=args.manager,
        authentication_system=args.auth_system,
        session_idle_seconds=args.session_idle_seconds,
        service_username=args.service_username,
        service_password=args.service_password,
        seed_existing_user=not args.no_existing_user,
    )

    product = "Kyvos Manager" if config.manager else "Kyvos Web Portal"
    url = f"http://{args.host}:{args.port}{config.context}"
    print(f"Simulated {product} listening on {url}", file=sys.stdout, flush=True)

    web.run_app(create_app(config), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
