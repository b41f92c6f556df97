"""structlog set-up: one JSON object per line on stdout, or a console renderer for a terminal.

Events carry only allow-listed context: `redact_pii` drops e-mail addresses, user names, secrets
and tokens from every event unless an operator turns `logging.log_pii` on for debugging.
"""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from aiohttp.http_exceptions import HttpProcessingError

from gateway.settings import LoggingSettings

SECRET_KEYS = frozenset(
    {
        "password",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "authorization",
        "sessionid",
        "session_id",
        "jwt_signing_key",
    }
)
PII_KEYS = frozenset({"email", "emails", "user_name", "username", "userName", "display"})
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
REDACTED = "[redacted]"


def redact_pii(log_pii: bool) -> structlog.types.Processor:
    """Build a processor that removes secrets always, and PII unless `log_pii` is on."""

    def processor(
        _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event):
            if key.lower() in SECRET_KEYS:
                event[key] = REDACTED
            elif not log_pii and key in PII_KEYS:
                event[key] = REDACTED
            elif not log_pii and isinstance(event[key], str):
                event[key] = EMAIL.sub(REDACTED, event[key])

        return event

    return processor


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's loggers (aiohttp, httpx) to one stream,
    stdout unless a `stream` is given (tests capture it)."""
    stream = stream or sys.stdout
    level = getattr(logging, settings.level.upper())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become text before redaction, so an e-mail in an exception's message is
        # redacted like any other field.
        structlog.processors.format_exc_info,
        redact_pii(settings.log_pii),
    ]
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer()
        if settings.format == "console"
        else structlog.processors.JSONRenderer()
    )

    structlog.configure(
        processors=[
            *shared,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )

    _route_standard_logging(level, shared, renderer, stream)


def _route_standard_logging(
    level: int,
    shared: list[structlog.types.Processor],
    renderer: structlog.types.Processor,
    stream: TextIO,
) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(allow=["error"]),
                *shared,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

    # httpx logs every request URL, query string (with e-mail addresses) included, at INFO;
    # aiohttp's own access log is replaced by our `access` event.
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(known, ClientFaultFilter) for known in server.filters):
        server.addFilter(ClientFaultFilter())


class ClientFaultFilter(logging.Filter):
    """aiohttp logs a request its HTTP parser refused, or a body it could not decode, at ERROR
    with a traceback quoting the offending bytes: an Authorization header, a query holding an
    e-mail address. The client is at fault and the `access` event records the 400, so keep
    only an INFO line naming the error's class."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and not isinstance(error, HttpProcessingError):
            error = error.__cause__  # a body the parser could not decode, raised when read
        if not isinstance(error, HttpProcessingError):
            return True

        record.msg, record.args = "http_request_refused", ()
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.error = type(error).__name__
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)
