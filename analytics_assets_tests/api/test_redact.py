"""Redactor: the key masked as sent, JSON-escaped and URL-encoded; short keys only as whole
tokens."""

import json

import pytest

from analytics_assets.api.redact import Redactor


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Invalid key a/b+c=d-123456", "Invalid key ***"),
        ("GET /v1/users?api_key=a%2Fb%2Bc%3Dd-123456&page=2", "GET /v1/users?api_key=***&page=2"),
        ("key=a%2Fb%2Bc%3Dd-123456", "key=***"),
        ("prefix-a/b+c=d-123456-suffix", "prefix-***-suffix"),  # long keys: masked anywhere
        (r'{"note": "a\/b+c=d-123456"}', '{"note": "***"}'),  # JSON as PHP writes it
        (r'{"note": "a\u002Fb\u002bc=d-1234\u0035\u0036"}', '{"note": "***"}'),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_a_long_key_is_masked_wherever_it_appears(text: str, masked: str) -> None:
    assert Redactor(["a/b+c=d-123456"])(text) == masked


def test_a_short_key_is_masked_as_a_token_without_garbling_words() -> None:
    redact = Redactor(["k"])

    assert redact("check the network; key k is wrong; api_key=k&x=1") == (
        "check the network; key *** is wrong; api_key=***&x=1"
    )


def test_no_secret_changes_nothing() -> None:
    assert Redactor([None, ""])("a k b") == "a k b"


@pytest.mark.parametrize(
    "body",
    [r'{"a": "x a\/b+c=d-123456 y"}', r'{"a": "a\u002fb\u002Bc=d-123456"}', "a/b+c=d-123456"],
)
def test_the_key_is_found_in_a_body_however_json_escapes_it(body: str) -> None:
    assert Redactor(["a/b+c=d-123456"]).found_in(body)


def test_a_body_with_escapes_but_without_the_key_is_clean() -> None:
    body = r'{"a": "a\/b+c=d-12345", "b": "caf\u00e9 \"quoted\""}'  # the key's last digit missing

    assert not Redactor(["a/b+c=d-123456"]).found_in(body)


@pytest.mark.parametrize(
    "key", ['sk"live"Ab12Cd34', "sk\\live\\Ab12Cd34", "sk\U0001f600liveAb12Cd34"]
)
def test_a_key_with_characters_json_always_escapes_is_found_and_masked(key: str) -> None:
    body = json.dumps({"note": f"x {key} y"})  # \", \\ and a surrogate pair

    assert Redactor([key]).found_in(body)
    assert Redactor([key])(body) == '{"note": "x *** y"}'


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("sandbox-key-0123", "x SANDBOX-KEY-0123 y"),  # another letter case
        ("a/b+c=d-123456", "key=A%2Fb%2bC%3dD-123456"),  # URL-encoded, either case
        ("/+=/", "v=%2F%2B%3D%2F"),  # no character a URL leaves as is: no anchor to look for
        ("two words-here", "q=two+words-here"),
    ],
)
def test_the_quick_look_before_the_pattern_misses_no_form_of_the_key(key: str, body: str) -> None:
    redact = Redactor(["other-secret-9999", key])

    assert redact.found_in(body)
    assert not redact.found_in(body.replace("2", "7").replace("e", "x"))


@pytest.mark.parametrize("body", ["x teſt-key-0123 y", "x TEST-KEY-0123 y", "x test-key-0\u0131 y"])
def test_letters_the_pattern_folds_beyond_ascii_are_not_missed(body: str) -> None:
    redact = Redactor(["test-key-0123", "test-key-0i"])

    assert redact.found_in(body)
