"""Machine credentials: generated here, stored only as SHA-256 digests, compared in constant time.

The gateway's secrets are long random strings, not passwords people choose, so a fast digest is
enough to keep them out of the config and cheap to check on every request.
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh credential: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """What the config holds in place of `secret`: its SHA-256, in lowercase hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, expected_digest: str) -> bool:
    """Whether `secret` is the one `expected_digest` was made from, in constant time."""
    return hmac.compare_digest(digest(secret), expected_digest)


def matches_any(secret: str, digests: Sequence[str]) -> bool:
    """Whether `secret` matches one of `digests`; every digest is compared, whichever matches."""
    return find_digest(secret, digests) is not None


def find_digest(secret: str, digests: Sequence[str]) -> int | None:
    """The position of the digest `secret` matches, or None.

    Every digest is compared, with no early exit, so the time taken does not tell which
    entry matched or how far the search went.
    """
    candidate = digest(secret)
    found: int | None = None
    for position, expected in enumerate(digests):
        if hmac.compare_digest(candidate, expected) and found is None:
            found = position

    return found
