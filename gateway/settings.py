"""Typed settings from a TOML file, the environment and `*_FILE` secrets.

Every check that can be made without the network happens here, at load, so that a bad config stops
`serve` (and `check-config`) with a message naming the setting. The defaults below are the
embedded default configuration; `config/gateway.toml` is the same thing, annotated.

Precedence, highest first: `KSG_*` environment variables (nested with `__`, e.g.
`KSG_PORTAL__PASSWORD`), the contents of a file named by `KSG_*_FILE`, the TOML file, the defaults.
"""

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from gateway.errors import GatewayError
from gateway.kyvos.errors import TargetIsManager
from gateway.kyvos.target import check_target_url

ENV_PREFIX = "KSG_"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
NEW_SECRET_HINT = "run `kyvos-scim-gateway new-secret` and put the printed digest here"


class ConfigError(GatewayError):
    """The configuration cannot be used; `problems` names every setting at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class Section(BaseModel):
    """A TOML table: unknown keys are errors, so a typo never silently falls back to a default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _check_digest(value: str) -> str:
    digest = value.strip().lower()
    if not SHA256_HEX.match(digest):
        raise ValueError(f"must be a SHA-256 hex digest (64 hex characters): {NEW_SECRET_HINT}")

    return digest


class ServerSettings(Section):
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address to listen on; 0.0.0.0 for every interface, said explicitly.",
    )
    port: int = Field(8080, ge=0, le=65535)
    public_base_url: str | None = Field(
        None,
        description="The SCIM base URL the IdP calls (http:// or https://), when a proxy sits "
        "in front.",
    )
    max_body_bytes: int = Field(1_048_576, gt=0)
    tls_certificate: Path | None = Field(
        None, description="PEM certificate chain: `serve` terminates TLS 1.2+ itself."
    )
    tls_key: Path | None = Field(None, description="The PEM private key of tls_certificate.")

    @field_validator("port", mode="before")
    @classmethod
    def _port_is_a_number(cls, value: Any) -> Any:
        # TOML `port = true` would otherwise become port 1.
        if isinstance(value, bool):
            raise ValueError("must be a port number, not true or false")

        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^/\s]+(/\S*)?$", url):
            raise ValueError(
                "must be the absolute URL the IdP calls, e.g. https://scim.example.com/scim/v2"
            )

        return url

    @model_validator(mode="after")
    def _tls_pair(self) -> "ServerSettings":
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise ValueError("set both server.tls_certificate and server.tls_key, or neither")

        return self

    def scim_base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")

        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/scim/v2"


class PortalSettings(Section):
    url: str = "http://127.0.0.1:9090/kyvos"
    username: str = "scim-gateway"
    password: SecretStr = SecretStr("")
    timeout_seconds: float = Field(10.0, gt=0)
    max_attempts: int = Field(4, ge=1, le=10)
    backoff_max_seconds: float = Field(8.0, ge=0)
    verify_tls: bool = True
    forward_passwords: bool = Field(
        False, description="Send SCIM passwords on to the portal (off: accepted and dropped)."
    )

    @field_validator("url")
    @classmethod
    def _web_portal_only(cls, url: str) -> str:
        if not re.match(r"^https?://", url):
            raise ValueError("must be an http:// or https:// URL of the Kyvos Web Portal")
        try:
            check_target_url(url)
        except TargetIsManager as refusal:
            raise ValueError(refusal.message) from None

        return url.rstrip("/")


class OnboardingSettings(Section):
    """Kyvos "First Login Actions": applied only to users the gateway creates."""

    role_name: str = Field("Business User", alias="roleName", min_length=1)
    send_welcome_mail_to_user: bool = Field(False, alias="sendWelcomeMailToUser")
    update_preferences: bool = Field(True, alias="updatePreferences")
    default_entities: list[str] = Field(default_factory=list, alias="defaultEntities")

    def first_login_actions(self) -> dict[str, Any]:
        """The onboarding block in the portal's own field names."""
        return self.model_dump(by_alias=True)


class RoleRule(Section):
    """One IdP group -> Kyvos roles mapping, matched by exactly one of its three keys.

    `display_name` matches the group's name ignoring case; `display_name_pattern` is a glob
    (`*`, `?`, `[...]`, fnmatch-style) matched ignoring case; `external_id` matches the IdP's
    `externalId` exactly.
    """

    display_name: str | None = Field(None, min_length=1)
    display_name_pattern: str | None = Field(None, min_length=1)
    external_id: str | None = Field(None, min_length=1)
    roles: list[str] = Field(min_length=1, description="Kyvos roles the portal group carries.")

    @model_validator(mode="after")
    def _one_matcher(self) -> "RoleRule":
        given = [self.display_name, self.display_name_pattern, self.external_id]
        if sum(value is not None for value in given) != 1:
            raise ValueError(
                "give exactly one of display_name, display_name_pattern or external_id"
            )
        if any(not role.strip() for role in self.roles):
            raise ValueError("roles must be non-empty role names")

        return self


def _example_role_rules() -> list[RoleRule]:
    return [
        RoleRule(display_name="Kyvos Designers", roles=["Designer"]),
        RoleRule(display_name="Kyvos Administrators", roles=["Administrator"]),
    ]


class RolesSettings(Section):
    """Group-to-role rules: the first rule that matches a group decides its Kyvos roles."""

    rules: list[RoleRule] = Field(default_factory=_example_role_rules)


class StoreSettings(Section):
    url: str = "sqlite+aiosqlite:///var/gateway.db"

    @field_validator("url")
    @classmethod
    def _supported_driver(cls, url: str) -> str:
        if url.startswith("postgresql://"):
            url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
        if url.startswith("sqlite:///"):
            url = "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be a sqlite+aiosqlite:/// file or a postgresql+asyncpg:// URL")

        return url


class BasicCredential(Section):
    """One HTTP Basic login; two entries with the same username let a password be rotated."""

    username: str = Field(min_length=1)
    password_sha256: str

    _digest = field_validator("password_sha256")(_check_digest)


class BearerToken(Section):
    name: str = Field(min_length=1, description="Who holds the token; shown in logs.")
    token_sha256: str

    _digest = field_validator("token_sha256")(_check_digest)


class OAuthClient(Section):
    client_id: str = Field(min_length=1)
    secret_sha256: list[str] = Field(
        min_length=1, description="One digest, or two while a secret is being rotated."
    )

    @field_validator("secret_sha256", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("secret_sha256")
    @classmethod
    def _digests(cls, values: list[str]) -> list[str]:
        return [_check_digest(value) for value in values]


MIN_HMAC_KEY_BYTES = 32  # 256 bits: RFC 7518 §3.2 asks for a key as long as the HS256 hash
MIN_RSA_KEY_BITS = 2048


class SigningKey(Section):
    """One access-token key, named by `kid` in the token header.

    Several keys allow rotation: the first listed signs new tokens, every listed key verifies.
    Rotate in two deployments: add the new key at the end (every replica learns to verify it),
    then move it first; drop the old key once the last token it signed has expired.
    """

    kid: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    algorithm: Literal["HS256", "ES256", "RS256"]
    secret: SecretStr | None = Field(None, description="HS256 only: at least 32 bytes.")
    private_key_pem: SecretStr | None = Field(
        None, description="ES256 (P-256) or RS256 (>= 2048 bits): an unencrypted PEM private key."
    )
    private_key_file: Path | None = Field(
        None, description="A file holding `private_key_pem`, e.g. a mounted Kubernetes secret."
    )

    @model_validator(mode="before")
    @classmethod
    def _read_key_file(cls, values: Any) -> Any:
        if not isinstance(values, Mapping) or not values.get("private_key_file"):
            return values
        if values.get("private_key_pem"):
            raise ValueError("set private_key_pem or private_key_file, not both")
        path = Path(values["private_key_file"])
        try:
            pem = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ValueError(f"private_key_file {path} cannot be read: {error.strerror}") from None

        return {**values, "private_key_pem": pem}

    @model_validator(mode="after")
    def _key_fits_algorithm(self) -> "SigningKey":
        if self.algorithm == "HS256":
            if self.private_key_pem is not None:
                raise ValueError("an HS256 key takes a `secret`, not a private key")
            secret = self.secret.get_secret_value() if self.secret else ""
            if len(secret.encode()) < MIN_HMAC_KEY_BYTES:
                raise ValueError(f"an HS256 `secret` must hold at least {MIN_HMAC_KEY_BYTES} bytes")
            return self

        if self.secret is not None:
            raise ValueError(f"an {self.algorithm} key takes `private_key_pem`, not a `secret`")
        if self.private_key_pem is None:
            raise ValueError(
                f"an {self.algorithm} key needs `private_key_pem` or `private_key_file`"
            )
        _check_private_key(self.algorithm, self.private_key_pem.get_secret_value())

        return self


def _check_private_key(algorithm: str, pem: str) -> None:
    # Imported here: only configurations with asymmetric keys need the parser.
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("`private_key_pem` is not an unencrypted PEM private key") from None

    if algorithm == "ES256" and not (
        isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    ):
        raise ValueError("an ES256 key must be an EC private key on the P-256 curve")
    if algorithm == "RS256" and not (
        isinstance(key, rsa.RSAPrivateKey) and key.key_size >= MIN_RSA_KEY_BITS
    ):
        raise ValueError(f"an RS256 key must be an RSA private key of >= {MIN_RSA_KEY_BITS} bits")


class AuthThrottleSettings(Section):
    """Slows a source that keeps failing authentication: 429 with Retry-After. Counted by each
    replica on its own, so N replicas allow up to N times `max_failures` per window."""

    enabled: bool = True
    max_failures: int = Field(20, ge=1, description="Failures within the window that block.")
    window_seconds: float = Field(60.0, gt=0)
    block_seconds: float = Field(60.0, gt=0)
    max_sources: int = Field(10_000, ge=1, description="Sources remembered; the oldest go first.")


class AuthSettings(Section):
    basic: list[BasicCredential] = Field(default_factory=list)
    bearer: list[BearerToken] = Field(default_factory=list)
    oauth_clients: list[OAuthClient] = Field(default_factory=list)
    token_ttl_seconds: int = Field(3600, ge=60, le=86_400)
    jwt_signing_key: SecretStr | None = Field(
        None,
        description="HS256 key for access tokens, shared by every replica (>= 32 bytes); "
        "the one-key shortcut for `signing_keys`. Its tokens carry no `kid`.",
    )
    signing_keys: list[SigningKey] = Field(
        default_factory=list, description="Access-token keys; the first signs, all verify."
    )
    issuer: str | None = None
    leeway_seconds: int = Field(30, ge=0, le=300)
    throttle: AuthThrottleSettings = Field(default_factory=AuthThrottleSettings)

    @field_validator("jwt_signing_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value().encode()) < MIN_HMAC_KEY_BYTES:
            raise ValueError(
                f"must hold at least {MIN_HMAC_KEY_BYTES} bytes (every replica signs and "
                "verifies access tokens with it): run `kyvos-scim-gateway new-secret`"
            )

        return key

    @model_validator(mode="after")
    def _consistent(self) -> "AuthSettings":
        kids = [key.kid for key in self.signing_keys]
        if len(kids) != len(set(kids)):
            raise ValueError("auth.signing_keys: every key needs its own `kid`")

        client_ids = [client.client_id for client in self.oauth_clients]
        if len(client_ids) != len(set(client_ids)):
            raise ValueError(
                "auth.oauth_clients: a client_id appears twice; list both secret digests in one "
                "client's secret_sha256 to rotate its secret"
            )

        if self.oauth_clients and not (self.jwt_signing_key or self.signing_keys):
            raise ValueError(
                "auth.oauth_clients need a key to sign access tokens: set auth.jwt_signing_key "
                "(>= 32 bytes) or auth.signing_keys"
            )

        return self


class LimitsSettings(Section):
    """What one request may ask of the gateway, and how long a client may take to send it.
    Every replica applies them on its own: a rate of R per replica is N times R in all."""

    requests_per_second: float = Field(
        0.0, ge=0, description="Per-client request rate (token bucket); 0 turns it off."
    )
    burst: int = Field(50, ge=1, description="Requests a client may send at once above the rate.")
    max_clients: int = Field(10_000, ge=1, description="Clients the rate limit remembers.")
    filter_max_length: int = Field(4096, ge=64)
    filter_max_depth: int = Field(32, ge=1, le=32)
    patch_max_operations: int = Field(1000, ge=1)
    max_count: int = Field(1000, ge=1, description="Most resources one list page returns.")
    max_url_bytes: int = Field(8190, ge=1024, description="Request line: method, URL, version.")
    max_header_bytes: int = Field(8190, ge=1024, description="One header line.")
    max_headers: int = Field(128, ge=16)
    keepalive_timeout_seconds: float = Field(75.0, gt=0)
    body_timeout_seconds: float = Field(30.0, gt=0)


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"
    log_pii: bool = Field(
        False, description="Debug only: allow e-mail addresses and user names in logs."
    )


class Settings(BaseSettings):
    """The whole gateway configuration."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_nested_max_split=1,
        nested_model_default_partial_update=True,
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)
    onboarding: OnboardingSettings = Field(default_factory=OnboardingSettings)
    roles: RolesSettings = Field(default_factory=RolesSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the TOML file, which arrives as init values.
        return (_EnvWithFileSecrets(settings_cls), init_settings)


class _EnvWithFileSecrets(EnvSettingsSource):
    """`KSG_PORTAL__PASSWORD_FILE=/run/secrets/x` reads the secret from that file (Kubernetes and
    Docker secrets), so that secrets need not sit in the environment or the TOML file. A value
    given directly in the environment wins over a file."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        direct = {k: v for k, v in super()._load_env_vars().items() if not k.endswith("_file")}
        from_files: dict[str, str | None] = {}
        for name, path in os.environ.items():
            upper = name.upper()
            if upper.startswith(ENV_PREFIX) and upper.endswith("_FILE"):
                from_files[upper.removesuffix("_FILE").lower()] = _read_secret(name, path)

        return from_files | direct


def _read_secret(variable: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError([f"{variable}: cannot read the secret file {path}: {reason}"]) from None


def load_settings(
    path: Path | None = None, *, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Load and validate the configuration, or raise `ConfigError` naming every problem."""
    values: dict[str, Any] = {}

    if path is not None:
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError([f"{path}: cannot read the config file: {error.strerror}"]) from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError([f"{path}: not valid TOML: {error}"]) from None
    if overrides:
        values = _deep_merge(values, overrides)

    problems = _unknown_sections(os.environ)
    try:
        settings = Settings(**values)
    except ValidationError as error:
        problems += [_describe(problem) for problem in error.errors()]
    except SettingsError as error:
        problems.append(_describe_unparsed(error))
    except ConfigError as error:  # a KSG_*_FILE secret that cannot be read
        problems += error.problems

    if problems:
        raise ConfigError(problems)
    return settings


def _unknown_sections(environ: Mapping[str, str]) -> list[str]:
    """`KSG_<SECTION>__<KEY>` variables naming no section: the environment source would skip
    them silently, and a typo must not fall back to a default any more than in the file."""
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or "__" not in upper:
            continue
        section = upper.removeprefix(ENV_PREFIX).split("__", 1)[0].lower()
        if section not in Settings.model_fields:
            problems.append(
                f"{name}: there is no [{section}] section; the sections are "
                f"{', '.join(Settings.model_fields)}"
            )

    return problems


def _describe_unparsed(error: SettingsError) -> str:
    """A `KSG_*` value that should be JSON (a list or a table) and is not."""
    field = re.search(r'field "(\w+)"', str(error))
    section = field.group(1) if field else "?"
    return (
        f"{section}: a {ENV_PREFIX}{section.upper()}__* variable is not valid JSON "
        f"({error.__cause__ or error}); give lists and tables as JSON, e.g. "
        f"""KSG_AUTH__BASIC='[{{"username": "okta", "password_sha256": "..."}}]'"""
    )


def _describe(problem: Any) -> str:
    setting = ".".join(str(part) for part in problem["loc"])
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        message = "unknown setting (check its spelling and its [section])"

    return f"{setting}: {message}"


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value

    return merged
