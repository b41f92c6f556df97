"""The Kyvos Web Portal client: one pooled connection set and one login session per target.

Every call goes through the same steps: take the shared session (logging in once if there is
none), send, and on 401 renew the session once for every request in flight, then repeat the
call once. Failures a retry may cure are retried with back-off (`retrying`); every other
answer becomes a typed `PortalError` here, with its cause kept, so nothing above
`gateway.kyvos` ever sees an httpx error. Paths and field names come from `contract`.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import structlog
from tenacity import RetryError

from gateway.kyvos import contract
from gateway.kyvos.calls import PortalCall, record_call
from gateway.kyvos.contract import PortalRequest, Route
from gateway.kyvos.errors import (
    PortalAuthFailed,
    PortalConflict,
    PortalError,
    PortalForbidden,
    PortalNotFound,
    PortalProtocolError,
    PortalRejected,
    PortalUnavailable,
)
from gateway.kyvos.records import Page, PortalGroup, PortalMember, PortalUser
from gateway.kyvos.retrying import AttemptFailed, parse_retry_after, portal_retrying
from gateway.kyvos.target import check_about, check_target_url
from gateway.settings import PortalSettings

R = TypeVar("R")

# httpx logs every request URL at INFO, query string included, and our queries carry e-mail
# addresses: keep it to warnings unless an operator lowers the level on purpose.
logging.getLogger("httpx").setLevel(logging.WARNING)

USER_AGENT = "kyvos-scim-gateway"
LOGGER = "kyvos.portal"

# Sized for a gateway serving many IdP requests at once over one shared session.
POOL_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0
)

# A page of 500 members or 100 users fits well within this; anything larger is not our portal.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
MAX_LOGIN_ANSWER_BYTES = 64 * 1024

# Statuses a later attempt may cure. 429 and 408 say the call was not carried out; after a 5xx
# it may have been, so a creation looks before it tries again.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
NOT_CARRIED_OUT = frozenset({408, 429})

REFUSALS: dict[int, type[PortalError]] = {
    400: PortalRejected,
    401: PortalAuthFailed,
    403: PortalForbidden,
    404: PortalNotFound,
    409: PortalConflict,
    410: PortalNotFound,
    413: PortalRejected,
    422: PortalRejected,
}

# Transport failures that happen before the request leaves: the portal cannot have acted.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
RETRYABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

CHECK_CREDENTIALS = "check portal.username and portal.password"

# After the portal refuses the service account, later requests get the same refusal for a while
# instead of a login each: portals that lock accounts after repeated failures would lock it.
LOGIN_REFUSED_PAUSE_SECONDS = 30.0

CallObserver = Callable[[PortalCall], None]


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes


class PortalClient:
    """A Kyvos Web Portal, reached through one pooled `httpx.AsyncClient` and one session.

    `start()` refuses a Kyvos Manager before any credential is sent (a call made before
    `start()` runs the same checks before its login). `on_call` is told about every HTTP
    exchange (route template, status, seconds), for metrics.
    """

    def __init__(
        self,
        settings: PortalSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_call: CallObserver | None = None,
    ) -> None:
        self._settings = settings
        self._on_call = on_call

        self._http = httpx.AsyncClient(
            base_url=settings.url,
            transport=transport,
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=POOL_LIMITS,
            verify=settings.verify_tls,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )

        self._target_checked = False
        self._session_id: str | None = None
        self._generation = 0
        """How many logins were attempted: a request refused with the session of generation n
        logs in again only if no other login was attempted since."""
        self._login_lock = asyncio.Lock()
        self._login_error: PortalError | None = None
        self._login_refused_at: float | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the target is a Web Portal (URL, then `about`), and only then log in."""
        check_target_url(self._settings.url)
        await self._check_target()

        await self._retrying(contract.LOGIN, lambda: self._renew_session(self._generation))

    async def close(self) -> None:
        await self._http.aclose()

    # -- the portal -----------------------------------------------------------------------------

    async def about(self) -> dict[str, Any]:
        """The portal's product and version; asked without credentials."""
        return contract.parse_about(await self._call(contract.about()))

    async def authentication_system(self) -> str:
        """NATIVE, LDAP, RAS, SAML or OAUTH: role changes are only allowed under RAS."""
        return contract.parse_authentication_system(await self._call(contract.authentication()))

    async def role_names(self) -> list[str]:
        return contract.parse_role_names(await self._call(contract.roles()))

    async def ping(self) -> None:
        """Readiness: one authenticated call, not retried, so a probe reports the portal as it
        is now and within its own timeout."""
        request = contract.authentication()

        await self._retrying(request.route, lambda: self._exchange(request), attempts=1)

    # -- users ----------------------------------------------------------------------------------

    async def find_users(
        self,
        *,
        user_name: str | None = None,
        email: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[PortalUser]:
        request = contract.find_users(user_name=user_name, email=email, offset=offset, limit=limit)

        return contract.parse_users(await self._call(request))

    async def get_user(self, user_id: str) -> PortalUser:
        return contract.parse_user(await self._call(contract.get_user(user_id)))

    async def create_user(self, fields: dict[str, Any]) -> PortalUser:
        """Create a user; safe to retry: after an ambiguous failure the user name is looked up,
        and a user found there is taken as the one this call created."""
        user_name = contract.user_name_of(fields)
        find = (lambda: self._user_named(user_name)) if user_name else None

        return await self._create(
            contract.create_user(fields),
            contract.parse_user,
            find,
            lambda user: contract.user_created_as_sent(user, fields),
        )

    async def update_user(self, user_id: str, fields: dict[str, Any]) -> PortalUser:
        return contract.parse_user(await self._call(contract.update_user(user_id, fields)))

    async def delete_user(self, user_id: str) -> None:
        await self._delete(contract.delete_user(user_id))

    # -- groups ---------------------------------------------------------------------------------

    async def find_groups(
        self, *, name: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[PortalGroup]:
        request = contract.find_groups(name=name, offset=offset, limit=limit)

        return contract.parse_groups(await self._call(request))

    async def get_group(self, group_id: str) -> PortalGroup:
        return contract.parse_group(await self._call(contract.get_group(group_id)))

    async def create_group(self, fields: dict[str, Any]) -> PortalGroup:
        """Create a group; made safe to retry by looking the name up, as `create_user` does."""
        name = contract.group_name_of(fields)
        find = (lambda: self._group_named(name)) if name else None

        return await self._create(
            contract.create_group(fields),
            contract.parse_group,
            find,
            lambda group: contract.group_created_as_sent(group, fields),
        )

    async def update_group(self, group_id: str, fields: dict[str, Any]) -> PortalGroup:
        return contract.parse_group(await self._call(contract.update_group(group_id, fields)))

    async def delete_group(self, group_id: str) -> None:
        await self._delete(contract.delete_group(group_id))

    async def list_members(
        self, group_id: str, *, offset: int = 0, limit: int = 500
    ) -> Page[PortalMember]:
        request = contract.list_members(group_id, offset=offset, limit=limit)

        return contract.parse_members(await self._call(request))

    async def add_members(self, group_id: str, user_ids: list[str]) -> None:
        if user_ids:
            await self._call(contract.add_members(group_id, user_ids))

    async def remove_members(self, group_id: str, user_ids: list[str]) -> None:
        if user_ids:
            await self._call(contract.remove_members(group_id, user_ids))

    # -- calls made safe to repeat --------------------------------------------------------------

    async def _create(
        self,
        request: PortalRequest,
        parse: Callable[[Any], R],
        find: Callable[[], Awaitable[R | None]] | None,
        created_as_sent: Callable[[R], bool],
    ) -> R:
        """POST a new record. Once an attempt may have been carried out without our knowing, each
        later attempt looks first, and a 409 is checked against the record found: a record that
        is exactly what this call creates is taken as created by it. One that differs existed
        before (an attempt that failed before the portal acted, then a user made by hand, or
        one the IdP did not know of): it is never taken, the call ends in `PortalConflict`, so
        that nothing above updates, claims or undoes a record it did not create."""
        if find is None:
            return parse(await self._call(request))
        maybe_created = False

        async def recovered() -> R | None:
            found = await find()
            if found is None:
                return None
            if not created_as_sent(found):
                raise PortalConflict(
                    f"a record of that name already existed before {_name(request.route)}",
                    status=409,
                )

            _log().info("portal_create_recovered", route=request.route.template)
            return found

        async def attempt() -> R:
            nonlocal maybe_created
            if maybe_created and (found := await recovered()) is not None:
                return found

            try:
                return parse(await self._exchange(request))
            except AttemptFailed as failure:
                maybe_created = maybe_created or failure.maybe_committed
                raise
            except PortalConflict:
                if maybe_created and (found := await recovered()) is not None:
                    return found
                raise

        return await self._retrying(request.route, attempt)

    async def _delete(self, request: PortalRequest) -> None:
        """DELETE; a 404 on a later attempt means an earlier one did the work."""
        attempts = 0

        async def attempt() -> None:
            nonlocal attempts
            attempts += 1
            try:
                await self._exchange(request)
            except PortalNotFound:
                if attempts == 1:
                    raise

        await self._retrying(request.route, attempt)

    async def _user_named(self, user_name: str) -> PortalUser | None:
        request = contract.find_users(user_name=user_name, email=None, offset=0, limit=1)
        page = contract.parse_users(await self._exchange(request))

        return next((u for u in page.items if u.user_name.lower() == user_name.lower()), None)

    async def _group_named(self, name: str) -> PortalGroup | None:
        request = contract.find_groups(name=name, offset=0, limit=1)
        page = contract.parse_groups(await self._exchange(request))

        return next((g for g in page.items if g.name.lower() == name.lower()), None)

    # -- retries --------------------------------------------------------------------------------

    async def _call(self, request: PortalRequest) -> Any:
        """One call, retried when its route is idempotent."""
        attempts = None if request.route.idempotent else 1

        return await self._retrying(request.route, lambda: self._exchange(request), attempts)

    async def _retrying(
        self, route: Route, attempt: Callable[[], Awaitable[R]], attempts: int | None = None
    ) -> R:
        retrying = portal_retrying(
            attempts=attempts or self._settings.max_attempts,
            backoff_max_seconds=self._settings.backoff_max_seconds,
            log=_log,
            method=route.method,
            route=route.template,
        )

        try:
            async for try_ in retrying:
                with try_:
                    result = await attempt()
        except RetryError as exhausted:
            last = exhausted.last_attempt.exception()
            raise _gave_up(route, exhausted.last_attempt.attempt_number, last) from last

        return result

    # -- one exchange, with the shared session --------------------------------------------------

    async def _exchange(self, request: PortalRequest) -> Any:
        """Send once, renewing the session once if the portal refuses it."""
        if not request.route.authenticated:
            return _content(request, await self._send(request))

        session_id, generation = await self._session()
        answer = await self._send(request, session_id)

        if answer.status == 401:
            await self._renew_session(generation)
            answer = await self._send(request, self._session_id)
            if answer.status == 401:
                raise PortalAuthFailed(
                    f"the Kyvos portal refused a fresh session for {_name(request.route)}; "
                    "check that portal.username is still an enabled administrator",
                    status=401,
                    code=contract.parse_error(answer.body)[0],
                )

        return _content(request, answer)

    async def _session(self) -> tuple[str, int]:
        generation = self._generation
        if self._session_id is None:
            await self._renew_session(generation)

        if self._session_id is None:  # pragma: no cover - _renew_session raised instead
            raise PortalAuthFailed(f"no portal session; {CHECK_CREDENTIALS}")
        return self._session_id, self._generation

    async def _renew_session(self, stale_generation: int) -> None:
        """Log in again, once for every request that was refused the same session: whoever
        takes the lock first logs in, the others find a newer generation and use its result."""
        async with self._login_lock:
            if self._generation != stale_generation or self._pausing_after_refusal():
                if self._session_id is None and self._login_error is not None:
                    raise self._login_error
                return

            try:
                self._session_id = await self._log_in()
                self._login_error, self._login_refused_at = None, None
            except PortalError as error:
                self._session_id, self._login_error = None, error
                if isinstance(error, PortalAuthFailed):
                    self._login_refused_at = time.monotonic()
                raise
            finally:
                self._generation += 1

        _log().info("portal_login", generation=self._generation)

    def _pausing_after_refusal(self) -> bool:
        refused_at = self._login_refused_at

        return (
            refused_at is not None and time.monotonic() - refused_at < LOGIN_REFUSED_PAUSE_SECONDS
        )

    async def _log_in(self) -> str:
        """One login attempt. Never before the target is known to be a Web Portal."""
        if not self._target_checked:
            check_target_url(self._settings.url)
            await self._check_target()

        username = self._settings.username
        request = contract.login(username, self._settings.password.get_secret_value())
        answer = await self._send(request, limit=MAX_LOGIN_ANSWER_BYTES)

        refused = answer.status in (401, 403)
        session_id = contract.parse_session_id(answer.body) if _succeeded(answer) else None
        if refused or (_succeeded(answer) and session_id is None):
            raise PortalAuthFailed(
                f"the Kyvos portal refused the login of '{username}'; {CHECK_CREDENTIALS}",
                status=answer.status,
                code=contract.parse_error(answer.body)[0],
            )
        if session_id is None:
            raise _refusal(request, answer)

        return session_id

    async def _check_target(self) -> None:
        check_about(await self.about())
        self._target_checked = True

    async def _send(
        self, request: PortalRequest, session_id: str | None = None, *, limit: int | None = None
    ) -> _Answer:
        """One HTTP exchange; transport failures become `PortalError`s here, once."""
        headers = {contract.SESSION_HEADER: session_id} if session_id else {}
        started = time.perf_counter()

        try:
            http_request = self._http.build_request(
                request.route.method,
                request.path,
                params=request.params or None,
                json=request.json,
                data=request.form,
                headers=headers,
            )
            response = await self._http.send(http_request, stream=True)
            try:
                body = await _read_capped(response, limit or MAX_ANSWER_BYTES)
            finally:
                await response.aclose()
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            self._observe(request, None, started, error)
            raise _transport_failure(request.route, error) from error
        except PortalProtocolError as error:
            self._observe(request, response.status_code, started, error)
            raise

        self._observe(request, response.status_code, started)
        return _Answer(response.status_code, response.headers, body)

    def _observe(
        self,
        request: PortalRequest,
        status: int | None,
        started: float,
        error: Exception | None = None,
    ) -> None:
        call = PortalCall(
            method=request.route.method,
            route=request.route.template,
            status=status,
            seconds=time.perf_counter() - started,
            error=type(error).__name__ if error is not None else None,
        )

        record_call(call)
        if self._on_call is not None:
            self._on_call(call)


# -- answers into results or errors --------------------------------------------------------------


def _succeeded(answer: _Answer) -> bool:
    return 200 <= answer.status < 300


def _content(request: PortalRequest, answer: _Answer) -> Any:
    """The decoded JSON of a successful answer (None when empty), else the matching error."""
    if not _succeeded(answer):
        raise _refusal(request, answer)

    return contract.parse_json(answer.body) if answer.body.strip() else None


def _refusal(request: PortalRequest, answer: _Answer) -> PortalError:
    """The typed error for an unsuccessful status, keeping the portal's errorCode and message."""
    status, route = answer.status, request.route
    code, message = contract.parse_error(answer.body)
    detail = message or f"the Kyvos portal answered {status} to {_name(route)}"

    if status in RETRYABLE_STATUSES:
        return AttemptFailed(
            detail,
            cause=str(status),
            maybe_committed=status not in NOT_CARRIED_OUT,
            status=status,
            code=code,
            retry_after=parse_retry_after(answer.headers.get("Retry-After")),
        )
    if status in REFUSALS:
        return REFUSALS[status](detail, status=status, code=code)

    return PortalProtocolError(
        f"the Kyvos portal answered {status} to {_name(route)}, which gateway/kyvos/contract.py "
        "does not expect" + (f": {message}" if message else ""),
        status=status,
        code=code,
    )


def _transport_failure(route: Route, error: Exception) -> PortalError:
    cause = type(error).__name__
    if isinstance(error, NOT_SENT + RETRYABLE_TRANSPORT):
        return AttemptFailed(
            f"the Kyvos portal did not answer {_name(route)} ({cause}); try again later",
            cause=cause,
            maybe_committed=not isinstance(error, NOT_SENT),
        )

    return PortalProtocolError(f"the exchange with the Kyvos portal failed: {cause}")


def _gave_up(route: Route, attempts: int, last: BaseException | None) -> PortalUnavailable:
    failure = last if isinstance(last, PortalUnavailable) else None
    cause = getattr(last, "cause", type(last).__name__)

    return PortalUnavailable(
        f"the Kyvos portal could not complete {_name(route)} in {attempts} attempt(s) "
        f"(last: {cause}); try again later",
        status=failure.status if failure else None,
        code=failure.code if failure else None,
        retry_after=failure.retry_after if failure else None,
    )


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes before they are all read into memory."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)

    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)

    return b"".join(chunks)


def _too_large(limit: int) -> PortalProtocolError:
    return PortalProtocolError(f"the Kyvos portal answered more than {limit} bytes")


def _log() -> Any:
    """The portal logger, bound at use so that logging configured later (or captured by a
    test) applies."""
    return structlog.get_logger(LOGGER).bind(logger=LOGGER)


def _name(route: Route) -> str:
    return f"{route.method} {route.template}"
