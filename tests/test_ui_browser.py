"""The Dagster UI in a real browser: every asset and check listed, "Materialize all" succeeds.

Starts `dagster dev -w workspace.yaml` on a free loopback port with a temporary DAGSTER_HOME,
pointed at a small freshly generated sample, and drives it with headless Chromium through
Playwright. Needs Chromium at /usr/bin/chromium (the Makefile installs it).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from pipelines.build import BUILD_JOB, build_definitions
from tests.browser import CHROMIUM, chromium
from tests.conftest import make_sample
from whiteglove.layout import PROJECT_ROOT

SERVER_START_SECONDS = 120
RUN_SECONDS = 240
UI_TIMEOUT_MS = 30_000
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
LOCATION = "whiteglove"  # workspace.yaml's location_name

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)"
)


@dataclass
class Server:
    url: str
    log: Path
    sources: Path
    out: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["data"]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
RUN_STATUS = """query ($runId: ID!) { runOrError(runId: $runId) {
  ... on Run { status jobName }
  ... on RunNotFoundError { message } } }"""
RUN_ERRORS = """query ($runId: ID!) { logsForRun(runId: $runId) { ... on EventConnection {
  events { __typename ... on MessageEvent { message }
    ... on ExecutionStepFailureEvent { stepKey error { message } }
    ... on EngineEvent { error { message } } } } } }"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_loaded(server: Server, process: subprocess.Popen) -> None:
    """Until the webserver answers and the code location has loaded (or failed to)."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited with {process.returncode}:\n{server.log_tail()}")
        try:
            entries = server.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError):
            entries = []
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [
                e["locationOrLoadError"]
                for e in entries
                if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"
            ]
            assert not errors, f"code location failed to load: {errors}"
            return
        time.sleep(1)
    pytest.fail(f"dagster dev not ready after {SERVER_START_SECONDS}s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    """The whole process group: webserver, daemon, code server and any run worker."""
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    # dagster dev may be gone while a child lingers in its group; make sure none is left
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ui")
    sources = make_sample(root / "sample", people=250, seed=5)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    out = root / "out"
    scratch = root / "tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "WHITEGLOVE_SOURCES": str(sources),
        "WHITEGLOVE_OUT": str(out),
        # the sockets and workspace files dagster dev creates stay here when it is killed
        "TMPDIR": str(scratch),
    }
    port = _free_port()
    log = root / "dagster_dev.log"
    dagster = Path(sys.executable).with_name("dagster")
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so teardown reaches every child
        )
    try:
        running = Server(f"http://127.0.0.1:{port}", log, sources, out)
        _wait_until_loaded(running, process)
        yield running
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    from playwright.sync_api import expect

    # tall enough that the asset catalog renders every row without scrolling
    with chromium(tmp_path_factory.mktemp("chromium"), width=1600, height=2400) as context:
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        # a first visit offers a newsletter dialog over whatever page is open
        page.add_locator_handler(
            page.get_by_role("button", name="Skip", exact=True), lambda skip: skip.click()
        )
        try:
            yield page
        finally:
            expect.set_options(timeout=None)  # back to Playwright's default for other tests


@pytest.fixture(scope="module")
def expected(server):
    """What the definitions hold, from the same sources file the server loaded."""
    defs = build_definitions(server.sources, server.out)
    graph = defs.resolve_asset_graph()
    assets = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    return assets, checks


def test_the_code_location_is_named_whiteglove(server, page):
    from playwright.sync_api import expect

    entries = server.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in entries] == [LOCATION]
    page.goto(f"{server.url}/locations")
    expect(page.get_by_text(LOCATION, exact=True).first).to_be_visible()


def test_every_asset_and_asset_check_is_listed(server, page, expected):
    from playwright.sync_api import expect

    assets, checks = expected
    page.goto(f"{server.url}/assets")
    for name in assets:
        expect(page.locator(f'a[href="/assets/{name}"]').first).to_be_visible()
    assert sum(map(len, checks.values())) > 0
    for asset, names in sorted(checks.items()):
        page.goto(f"{server.url}/assets/{asset}?view=checks")
        expect(page.get_by_text(f"Checks ({len(names)})")).to_be_visible()
        for name in names:
            expect(page.get_by_text(name, exact=True).first).to_be_attached()


def test_materialize_all_from_the_ui_succeeds(server, page, expected):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/asset-groups")
    button = page.get_by_role("button", name="Materialize all")
    # it shows a spinner while it works out what "all" is; a click then does nothing
    expect(button.get_by_role("progressbar")).to_have_count(0)
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_text("Launched run")).to_be_visible()
    link = page.locator('a[href^="/runs/"]').filter(has_text="View").first
    run_id = link.get_attribute("href").rstrip("/").split("/")[-1]

    # the API says when to look; the verdict is read from the run page, as a user would
    status = _wait_for_run(server, run_id)
    assert status == "SUCCESS", _run_failure(server, run_id)
    page.goto(f"{server.url}/runs/{run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()

    # the run went through the whole graph and published, with history columns
    run = server.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]
    assert run["jobName"] in {"__ASSET_JOB", BUILD_JOB}
    assets, _ = expected
    page.goto(f"{server.url}/assets")
    for name in assets:
        expect(page.locator(f'a[href="/assets/{name}"]').first).to_be_visible()
    expect(page.get_by_text("Never materialized")).to_have_count(0)
    golden = pl.read_parquet(server.out / "golden_customers.parquet")
    changes = pl.read_parquet(server.out / "golden_changes.parquet")
    assert golden.height > 0
    assert set(changes["change"].unique()) == {"new"}
    assert changes.height == golden.height
    # one run timestamp, though different step processes wrote the two tables
    assert golden["last_changed"].unique().to_list() == changes["changed_at"].unique().to_list()


def _wait_for_run(server: Server, run_id: str) -> str:
    deadline = time.monotonic() + RUN_SECONDS
    status = "UNKNOWN"
    while time.monotonic() < deadline:
        status = server.graphql(RUN_STATUS, {"runId": run_id})["runOrError"].get("status", status)
        if status in TERMINAL:
            return status
        time.sleep(2)
    pytest.fail(f"run {run_id} still {status} after {RUN_SECONDS}s:\n{server.log_tail()}")


def _run_failure(server: Server, run_id: str) -> str:
    events = server.graphql(RUN_ERRORS, {"runId": run_id})["logsForRun"].get("events", [])
    errors = [
        f"{e.get('stepKey') or e['__typename']}: {(e.get('error') or {}).get('message', '')}"
        for e in events
        if e.get("error")
    ]
    return "run failed:\n" + "\n".join(errors) + "\n--- dagster dev log ---\n" + server.log_tail()
