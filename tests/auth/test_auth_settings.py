"""The auth part of the settings: signing keys are checked at load, naming the setting."""

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth.secrets import digest
from gateway.settings import ConfigError, load_settings

from .conftest import HS256_KEY, pem

CLIENT = {"client_id": "entra", "secret_sha256": digest("x" * 43)}


def problems(auth: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"auth": auth})

    return caught.value.problems


def test_signing_keys_load_with_their_algorithms(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    keys = [
        {"kid": "es", "algorithm": "ES256", "private_key_pem": pem(ec_key)},
        {"kid": "rs", "algorithm": "RS256", "private_key_pem": pem(rsa_key)},
        {"kid": "hs", "algorithm": "HS256", "secret": HS256_KEY},
    ]

    settings = load_settings(overrides={"auth": {"signing_keys": keys}})

    assert [key.kid for key in settings.auth.signing_keys] == ["es", "rs", "hs"]


def test_a_private_key_is_read_from_a_file(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    key_file = tmp_path / "jwt-es256.pem"
    key_file.write_text(pem(ec_key))
    key = {"kid": "es", "algorithm": "ES256", "private_key_file": str(key_file)}

    settings = load_settings(overrides={"auth": {"signing_keys": [key]}})

    pem_text = settings.auth.signing_keys[0].private_key_pem
    assert pem_text is not None and pem_text.get_secret_value() == pem(ec_key)


def test_a_short_hs256_secret_is_refused() -> None:
    key = {"kid": "hs", "algorithm": "HS256", "secret": "too-short"}

    assert problems({"signing_keys": [key]}) == [
        "auth.signing_keys.0: an HS256 `secret` must hold at least 32 bytes"
    ]


def test_a_short_jwt_signing_key_is_refused() -> None:
    assert problems({"jwt_signing_key": "too-short"}) == [
        "auth.jwt_signing_key: must hold at least 32 bytes (every replica signs and verifies "
        "access tokens with it): run `kyvos-scim-gateway new-secret`"
    ]


def test_an_rsa_key_under_an_es256_name_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    key = {"kid": "es", "algorithm": "ES256", "private_key_pem": pem(rsa_key)}

    assert problems({"signing_keys": [key]}) == [
        "auth.signing_keys.0: an ES256 key must be an EC private key on the P-256 curve"
    ]


def test_an_rs256_key_without_a_private_key_is_refused() -> None:
    key = {"kid": "rs", "algorithm": "RS256", "secret": HS256_KEY}

    assert problems({"signing_keys": [key]}) == [
        "auth.signing_keys.0: an RS256 key takes `private_key_pem`, not a `secret`"
    ]


def test_a_pem_that_does_not_parse_is_refused() -> None:
    key = {"kid": "rs", "algorithm": "RS256", "private_key_pem": "-----BEGIN nonsense"}

    assert problems({"signing_keys": [key]}) == [
        "auth.signing_keys.0: `private_key_pem` is not an unencrypted PEM private key"
    ]


def test_two_keys_with_one_kid_are_refused() -> None:
    key = {"kid": "hs", "algorithm": "HS256", "secret": HS256_KEY}

    assert problems({"signing_keys": [key, key]}) == [
        "auth: auth.signing_keys: every key needs its own `kid`"
    ]


def test_oauth_clients_without_a_signing_key_are_refused() -> None:
    assert problems({"oauth_clients": [CLIENT]}) == [
        "auth: auth.oauth_clients need a key to sign access tokens: set auth.jwt_signing_key "
        "(>= 32 bytes) or auth.signing_keys"
    ]


def test_oauth_clients_may_use_signing_keys_alone() -> None:
    key = {"kid": "hs", "algorithm": "HS256", "secret": HS256_KEY}

    settings = load_settings(overrides={"auth": {"oauth_clients": [CLIENT], "signing_keys": [key]}})

    assert settings.auth.oauth_clients[0].client_id == "entra"


def test_the_throttle_is_on_by_default() -> None:
    throttle = load_settings().auth.throttle

    assert (throttle.enabled, throttle.max_failures, throttle.window_seconds) == (True, 20, 60)
    assert (throttle.block_seconds, throttle.max_sources) == (60, 10_000)
