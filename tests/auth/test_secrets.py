import base64

from gateway.auth.secrets import digest, find_digest, matches, matches_any, new_secret


def test_a_new_secret_holds_32_random_bytes_in_url_safe_base64() -> None:
    secret = new_secret()

    raw = base64.urlsafe_b64decode(secret + "=")
    assert len(raw) == 32
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_two_new_secrets_differ() -> None:
    assert new_secret() != new_secret()


def test_the_digest_is_sha256_in_lowercase_hex() -> None:
    assert digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_secret_matches_its_own_digest_only() -> None:
    assert matches("abc", digest("abc"))
    assert not matches("abd", digest("abc"))


def test_a_secret_matches_any_digest_of_a_rotation_pair() -> None:
    pair = [digest("old"), digest("new")]

    assert matches_any("old", pair)
    assert matches_any("new", pair)
    assert not matches_any("other", pair)


def test_no_digests_match_nothing() -> None:
    assert not matches_any("anything", [])


def test_find_digest_names_the_position_that_matched() -> None:
    assert find_digest("b", [digest("a"), digest("b"), digest("c")]) == 1
    assert find_digest("z", [digest("a"), digest("b")]) is None
