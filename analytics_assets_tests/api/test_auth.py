"""FirstAnswers: a refused key is reported for every endpoint, once each, with the key masked."""

from __future__ import annotations

import pytest
import requests
from dlt.sources.helpers.rest_client.exceptions import IgnoreResponseException

from analytics_assets.api.auth import ApiAuthenticationError, FirstAnswers
from analytics_assets.api.redact import Redactor
from analytics_assets.sandbox import SandboxServer, Status
from analytics_assets.sandbox.pages import render_error
from analytics_assets_tests.conftest import TEST_KEY


def _get(server: SandboxServer, resource: str, key: str) -> requests.Response:
    return requests.get(
        server.base_url + resource, headers={server.config.key_header: key}, timeout=10
    )


def test_refusals_are_collected_until_every_resource_answered(sandbox: SandboxServer) -> None:
    answers = FirstAnswers(["users", "leads"])

    with pytest.raises(IgnoreResponseException):  # users ends; leads still asks
        answers.hook("users")(_get(sandbox, "users", "wrong-key"))
    with pytest.raises(ApiAuthenticationError) as raised:
        answers.hook("leads")(_get(sandbox, "leads", "wrong-key"))

    assert [(f.resource, f.status) for f in raised.value.failures] == [
        ("users", 401),
        ("leads", 401),
    ]
    assert str(raised.value).startswith(f"users: GET {sandbox.base_url}users answered 401 (")


def test_an_accepted_key_and_later_answers_are_let_through(sandbox: SandboxServer) -> None:
    answers = FirstAnswers(["users"])
    hook = answers.hook("users")

    hook(_get(sandbox, "users", TEST_KEY))
    hook(_get(sandbox, "users", "wrong-key"))  # not a first answer: dlt's own rules apply

    answers.raise_if_refused()  # nothing was refused


def test_the_apis_words_are_masked(sandbox: SandboxServer) -> None:
    sandbox.clear_faults()
    echo = render_error("unauthorized", f"key {TEST_KEY} is not valid")
    sandbox.inject("users", Status(403, body=echo), page=1)
    answers = FirstAnswers(["users"], Redactor([TEST_KEY]))

    with pytest.raises(ApiAuthenticationError) as raised:
        answers.hook("users")(_get(sandbox, "users", TEST_KEY))

    assert "(unauthorized: key *** is not valid)" in str(raised.value)
    assert TEST_KEY not in str(raised.value)
