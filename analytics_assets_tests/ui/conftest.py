"""Fixtures of the UI tests: the sandbox, `dagster dev` over it, and headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from analytics_assets.sandbox import SandboxConfig, SandboxServer
from analytics_assets.settings import PROJECT_DIR
from analytics_assets_tests.conftest import TEST_KEY
from analytics_assets_tests.ui.harness import LOG_NAME, DagsterDev, dagster_dev

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `playwright install` needs the internet
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = PROJECT_DIR / "test-artifacts" / "ui"
VIEWPORT = {"width": 1920, "height": 1200}
UI_TIMEOUT_MS = 30_000  # a page of the UI on a loaded two-core machine

expect.set_options(timeout=UI_TIMEOUT_MS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots and the `dagster dev` log go (`test-artifacts/ui`, git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def ui_sandbox() -> Iterator[SandboxServer]:
    """A sandbox of its own: other tests inject faults into the shared one."""
    with SandboxServer(SandboxConfig(api_key=TEST_KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def dagster(
    ui_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory, artifacts: Path
) -> Iterator[DagsterDev]:
    """`dagster dev` (webserver and daemon) over the sandbox, with a throwaway DAGSTER_HOME.

    Its log ends up in the artifacts, also when it fails to start.
    """
    workdir = tmp_path_factory.mktemp("dagster_dev")
    try:
        with dagster_dev(ui_sandbox, workdir) as dev:
            yield dev
    finally:
        if (workdir / LOG_NAME).exists():
            shutil.copy(workdir / LOG_NAME, artifacts / LOG_NAME)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; skipped without it, except in CI, where it must run."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium (the UI tests drive it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(
    browser: Browser, dagster: DagsterDev, request: pytest.FixtureRequest, artifacts: Path
) -> Iterator[Page]:
    """A fresh page on the UI's home, past the community dialog of an instance's first visit.

    The dialog opens a second after the app loads, only while the instance says
    ``shouldShowNux``; Skip records it as seen. Dismissed here, before the test acts, since a
    dialog popping up later would close any menu the test has open.
    """
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(dagster.url)
        if dagster.graphql("{ shouldShowNux }")["shouldShowNux"]:
            community = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
            community.get_by_role("button", name="Skip").click()
            expect(community).to_be_hidden()
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            with contextlib.suppress(PlaywrightError):  # never hide the test's own failure
                page.screenshot(path=artifacts / f"failure-{request.node.name}.png")
        context.close()
