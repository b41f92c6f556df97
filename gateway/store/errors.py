"""The store's one error, and the single place where database failures are translated."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from gateway.errors import GatewayError

# PostgreSQL SQLSTATE classes and codes that mean "cannot serve now", not "bad statement":
# 08 connection exception, 28 refused login, 3D000 no such database, 53 out of resources
# (too many connections), 57 operator intervention (shutdown, starting up), 58 system error.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "28", "53", "57", "58")
_UNAVAILABLE_SQLSTATES = ("3D000",)

# SQLite result codes (and their extended forms) that mean the file cannot serve now. Others,
# SQLITE_ERROR above all ("no such table", syntax), are statements SQLite refused.
_UNAVAILABLE_SQLITE_CODES = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
    "SQLITE_NOTADB",
    "SQLITE_CORRUPT",
    "SQLITE_NOMEM",
)


class StoreUnavailable(GatewayError):
    """The state store cannot be reached or cannot serve now; the request may be retried."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def is_unavailable(error: BaseException) -> bool:
    """Tell a store that cannot serve now from a statement the store refused."""
    if isinstance(error, OSError):
        return True

    sqlite_code = getattr(getattr(error, "orig", None), "sqlite_errorname", None)
    if isinstance(sqlite_code, str):
        return sqlite_code.startswith(_UNAVAILABLE_SQLITE_CODES)

    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True

    sqlstate = sqlstate_of(error)
    if sqlstate is None:
        return False
    return sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES) or sqlstate in _UNAVAILABLE_SQLSTATES


def sqlstate_of(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a SQLAlchemy error, when the driver reported one."""
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)

    return sqlstate if isinstance(sqlstate, str) else None


def cause_of(error: BaseException) -> str:
    """A one-line reason, without the SQL text and parameters SQLAlchemy adds (they hold ids)."""
    original = getattr(error, "orig", None) or error
    message = str(original).strip().splitlines()[0] if str(original).strip() else ""

    return f"{type(original).__name__}: {message}" if message else type(original).__name__


@contextmanager
def unavailable_when_unreachable(where: str) -> Iterator[None]:
    """Turn connection-level failures into `StoreUnavailable`, keeping the original as cause."""
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as error:
        if not is_unavailable(error):
            raise
        raise StoreUnavailable(
            f"The state store at {where} is unavailable ({cause_of(error)}). Check that the "
            "database is running and that store.url (KSG_STORE__URL) names it."
        ) from error
