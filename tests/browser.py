"""Headless Chromium for the tests that look at pages the way a person does.

Debian's Chromium (/usr/bin/chromium, which the Makefile installs), driven by Playwright:
Playwright's own browser download cannot work on these machines. The flags keep it from
reaching for a network it does not have, which would otherwise stall it: every host name but
the loopback fails to resolve at once (a page's CDN links cost 5 s each otherwise).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


@contextmanager
def chromium(profile: Path, width: int = 1366, height: int = 900) -> Iterator:
    """A headless browser context with a fresh profile folder; skips the test without Chromium."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install it with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright refuses --user-data-dir in args: a persistent context is how to pass one.
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()
