"""The Solara view in a real browser: it loads, shows the map and charts, steps, and obeys a lever.

Starts ``solara run sim/viz.py`` on a free localhost port and drives headless Chromium with
Playwright. Chromium is taken from ``$LIFECIRCLE_CHROMIUM`` or ``/usr/bin/chromium`` (Debian's
``chromium`` package); without one the test fails: it is never skipped.

Solara's server fetches its front-end (``@widgetti/solara-vuetify3-app``, ``requirejs``,
``font-awesome``) from a CDN and caches it. Machines without that CDN reach the npm registry, so
before the server starts the test fills the cache with ``npm pack`` of exactly the packages
Solara's page template names (once; the cache is kept in ``$LIFECIRCLE_SOLARA_CDN`` or
``~/.cache/lifecircle/solara-cdn``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    for candidate in (os.environ.get("LIFECIRCLE_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("no Chromium for the browser test: install Debian's 'chromium' package "
                "(apt-get install chromium, giving /usr/bin/chromium) or set $LIFECIRCLE_CHROMIUM "
                "to a Chromium executable")


def _cdn_packages() -> list[str]:
    """``name@version`` of every CDN package Solara's page template and settings load."""
    import solara.server.settings as settings

    template = Path(settings.__file__).parent / "templates" / "solara.html.j2"
    names = set(re.findall(r"\{\{cdn\}\}/((?:@[\w.-]+/)?[\w.-]+@[\w.-]+)/", template.read_text()))
    fontawesome = settings.assets.fontawesome_path.strip("/").split("/")[0]
    if "@" in fontawesome:
        names.add(fontawesome)
    return sorted(names)


def _solara_cdn_cache() -> Path:
    """A CDN cache holding Solara's front-end packages, filled from the npm registry when needed."""
    cache = Path(os.environ.get("LIFECIRCLE_SOLARA_CDN", Path.home() / ".cache" / "lifecircle" / "solara-cdn"))
    missing = [p for p in _cdn_packages() if not (cache / p / "package.json").is_file()]
    npm = shutil.which("npm")
    if missing and npm is None:
        return cache  # the server will try the CDN itself
    for spec in missing:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([npm, "pack", spec, "--silent"], cwd=tmp, check=True, capture_output=True, timeout=300)
            (tarball,) = Path(tmp).glob("*.tgz")
            target = cache / spec
            target.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tarball) as archive:
                for member in archive.getmembers():
                    member.name = member.name.split("/", 1)[1] if "/" in member.name else member.name
                archive.extractall(target, filter="data")
    return cache


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    cache = _solara_cdn_cache()
    port = _free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    env = {**os.environ, "SOLARA_ASSETS_PROXY_CACHE_DIR": str(cache), "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"}
    solara_bin = Path(sys.executable).with_name("solara")
    command = [str(solara_bin)] if solara_bin.is_file() else [sys.executable, "-m", "solara"]
    proc = subprocess.Popen([*command, "run", "sim/viz.py", "--port", str(port), "--host", "127.0.0.1", "--no-open"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"solara server exited ({proc.returncode}):\n{Path(log.name).read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"solara server did not listen on {port}:\n{Path(log.name).read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"solara server log: {log.name}")


def _headline(page) -> str:
    return page.locator(".headline").inner_text()


def _click_until(page, selector: str, locator, text: str, sync_api, attempts: int = 3) -> None:
    """Click ``selector`` until ``locator`` shows ``text`` (a click made while the page's widgets
    are still connecting can be lost); never clicks again once the page has reacted."""
    before = locator.inner_text()
    for attempt in range(attempts):
        page.locator(selector).click()
        try:
            sync_api.expect(locator).to_contain_text(text, timeout=20_000)
            return
        except AssertionError:
            if locator.inner_text() != before or attempt == attempts - 1:
                raise


def test_view_loads_steps_and_follows_a_lever(server_url, tmp_path):
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]' (it drives the system Chromium)")
    chromium = _chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(server_url, timeout=120_000)
            day_line = page.locator(".day-line")
            sync_api.expect(day_line).to_contain_text("Day 0 of", timeout=120_000)
            sync_api.expect(day_line).to_contain_text("levers on: none")

            # The map and the charts are matplotlib images that have really been drawn.
            images = page.locator("img")
            sync_api.expect(images).to_have_count(2, timeout=60_000)
            widths = [images.nth(i).evaluate("img => img.naturalWidth") for i in range(2)]
            assert all(w > 300 for w in widths), widths
            day0 = _headline(page)
            assert "income_mean: 0 CNY" in day0  # nobody has been paid before the first month ends

            # Step a month: the day counter and the indicators move on.
            _click_until(page, ".step-month", day_line, "Day 31 of", sync_api)
            month1 = _headline(page)
            assert month1 != day0
            assert "income_mean: 0 CNY" not in month1
            page.screenshot(path=str(tmp_path / "viz_month1.png"), full_page=True)

            # Switch the platform lever on: the run restarts with it, its slider appears, and
            # delivery lifts effective coverage above walking coverage.
            page.get_by_text("platform: The supply-demand integration platform").click()
            sync_api.expect(day_line).to_contain_text("levers on: platform", timeout=60_000)
            sync_api.expect(day_line).to_contain_text("Day 0 of")
            sync_api.expect(page.get_by_text("commission = 0.15")).to_be_visible()
            with_platform = _headline(page)
            walk = float(re.search(r"basic_coverage_15: ([\d.]+) %", with_platform).group(1))
            effective = float(re.search(r"effective_coverage_15: ([\d.]+) %", with_platform).group(1))
            assert effective > walk + 10, with_platform
            # Play runs on by itself (a week a tick) until paused.
            page.locator(".play").click()
            sync_api.expect(day_line).to_contain_text(re.compile(r"Day ([1-9]\d*) of"), timeout=60_000)
            page.locator(".play").click()
            sync_api.expect(page.locator(".play")).to_contain_text("Play", ignore_case=True, timeout=30_000)
            # A tick already under way when Pause is pressed may still land: wait for the day to
            # settle (at most 10 s), then it must stay put.
            paused, deadline = day_line.inner_text(), time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(1)
                now = day_line.inner_text()
                if now == paused:
                    break
                paused = now
            time.sleep(2)
            assert day_line.inner_text() == paused

            day_line.scroll_into_view_if_needed()
            shot = tmp_path / "viz_platform.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshots: {tmp_path}")
            assert shot.stat().st_size > 20_000
        finally:
            browser.close()
