"""The Solara view in a real browser, offline: it loads, agents walk, it steps, it obeys a lever.

Starts ``solara run sim/view/viz.py`` (the 20,000-resident baseline) on a free localhost port and drives
headless Chromium with Playwright. **Every request to anything but this server is aborted**, and
the test asserts that the page asked for none: Solara's front end comes from the offline assets
installed with the package (``solara[assets]``, in ``<venv>/share/solara/cdn``), the map and chart
code from the package (anywidget). The server runs with an empty HOME, so no cache of an earlier
online run can help. Chromium is ``$LIFECIRCLE_CHROMIUM`` or ``/usr/bin/chromium`` (Debian's
``chromium``); without one the test fails: it is never skipped.

It prints the first-page time (navigation until the map is drawn and animating) and the step time
(a click on *Step day* until the page shows the next day) it saw, but does not assert them: a
shared CI machine is no stopwatch. ``benchmarks/bench_view.py`` measures them against the targets
(5 s and 300 ms).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FIRST_PAGE_TARGET_S = 5.0
STEP_TARGET_S = 0.3


def _chromium() -> str:
    for candidate in (os.environ.get("LIFECIRCLE_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("no Chromium for the browser test: install Debian's 'chromium' package "
                "(apt-get install chromium, giving /usr/bin/chromium) or set $LIFECIRCLE_CHROMIUM "
                "to a Chromium executable")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def solara_server(home: Path):
    """``solara run sim/view/viz.py`` on a free localhost port with an empty HOME; yields its URL.
    (Also used by ``benchmarks/bench_view.py``.)"""
    port = _free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLARA_")}
    env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
                "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"})
    solara_bin = Path(sys.executable).with_name("solara")
    command = [str(solara_bin)] if solara_bin.is_file() else [sys.executable, "-m", "solara"]
    proc = subprocess.Popen([*command, "run", "sim/view/viz.py", "--port", str(port), "--host", "127.0.0.1",
                             "--no-open", "--production"],
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
                time.sleep(0.3)
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


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    with solara_server(tmp_path_factory.mktemp("empty-home")) as url:
        yield url


def open_view(page, url: str) -> float:
    """Navigate to the view; seconds until the map is drawn and animating."""
    started = time.perf_counter()
    page.goto(url, timeout=120_000)
    page.wait_for_function("() => { const m = document.querySelector('.lc-map');"
                           " return m && m.lifecircle && m.lifecircle.frames() > 2; }",
                           timeout=120_000, polling="raf")
    return time.perf_counter() - started


def _markers(page) -> list:
    return page.evaluate("document.querySelector('.lc-map').lifecircle.markers()")


def _day(page) -> int:
    return int(re.search(r"Day (\d+) of", page.locator(".day-line").inner_text()).group(1))


def _click_until(page, selector: str, done: str, attempts: int = 4) -> None:
    """Click ``selector`` until the JavaScript condition ``done`` holds: a click that lands while
    the page's widgets are (re)connecting can be lost; never clicks again once the page reacted."""
    for attempt in range(attempts):
        page.locator(selector).first.click()
        try:
            page.wait_for_function(done, timeout=15_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise


def _step_once(page, sync_api) -> float:
    """Click Step day; seconds until the page shows the next day."""
    before = _day(page)
    started = time.perf_counter()
    page.locator(".step-day").click()
    page.wait_for_function(
        f"() => {{ const m = document.querySelector('.day-line').innerText.match(/Day (\\d+) of/);"
        f" return m && +m[1] === {before + 1}; }}", timeout=20_000, polling="raf")
    return time.perf_counter() - started


def test_offline_view_walks_steps_and_follows_a_lever(server_url, tmp_path):
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]' (it drives the system Chromium)")
    chromium = _chromium()
    local = server_url.rstrip("/")
    blocked: list[str] = []

    def only_local(route) -> None:  # noqa: ANN001
        url = route.request.url
        if url.startswith(local) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.route("**/*", only_local)
            first_page = open_view(page, server_url)
            title = page.locator(".run-title")
            sync_api.expect(title).to_contain_text("20,000 residents")
            sync_api.expect(title).to_contain_text("every lever off")
            sync_api.expect(page.locator(".day-line")).to_contain_text("Day 0 of")
            sync_api.expect(page.locator(".lc-map-legend")).to_contain_text("outlets")

            # Step days (the first click may land while the page's widgets still connect: retried).
            _click_until(page, ".step-day", "() => /Day 1 of/.test(document.querySelector('.day-line').innerText)")
            assert _day(page) == 1
            steps = [_step_once(page, sync_api) for _ in range(5)]

            # Agents walk: the shown day's markers move between two animation frames.
            page.wait_for_function("() => document.querySelector('.lc-map').lifecircle.markers().length > 10",
                                   timeout=20_000, polling="raf")
            # (The day replays in a loop; at its end everyone is home and no marker is out: sample
            # until two frames with markers out are seen.)
            samples, deadline = [], time.monotonic() + 15
            while time.monotonic() < deadline and not (len(samples) >= 2 and samples[-1] != samples[0]):
                markers = _markers(page)
                if markers:
                    samples.append(markers)
                time.sleep(0.2)
            assert len(samples) >= 2, samples
            first, later = samples[0], samples[-1]
            assert first != later, (first[:3], later[:3])
            assert {m[2] for m in first} <= {0, 1, 2, 3}
            legend = page.locator(".lc-map-legend").inner_text()
            assert re.search(r"shown day \d+: of 150 residents followed, ● [1-9]\d* walks", legend), legend

            # The baseline runs to the end of its first month: the next run is compared with it.
            _click_until(page, ".step-month", "() => /month 1/.test(document.querySelector('.day-line').innerText)")

            # A lever: switch the platform on (a new run, same seed), move its slider one step
            # within the teaching range (0-50 %, steps of 5 points), and see the title follow.
            _click_until(page, ".lever-platform .v-input--switch, .lever-platform .v-switch",
                         "() => /Online-offline platform/.test(document.querySelector('.run-title').innerText)")
            sync_api.expect(title).to_contain_text("Online-offline platform (needs ordered online: 15.0 %)",
                                                   timeout=60_000)
            sync_api.expect(page.locator(".day-line")).to_contain_text("Day 0 of", timeout=60_000)
            slider = page.locator(".lever-platform [role=slider]").first
            assert float(slider.get_attribute("aria-valuemin")) == 0.0
            assert float(slider.get_attribute("aria-valuemax")) == 0.5
            slider.focus()
            page.keyboard.press("ArrowRight")
            sync_api.expect(title).to_contain_text("needs ordered online: 20.0 %", timeout=60_000)
            assert float(slider.get_attribute("aria-valuenow")) == pytest.approx(0.2)
            # Delivery reaches beyond a walk: effective coverage above walking coverage (by a little
            # in this dense district: only deliverable categories, from outlets with room, count).
            headline = page.locator(".headline").inner_text()
            walk = float(re.search(r"within 15 min on foot: ([\d.]+) %", headline).group(1))
            effective = float(re.search(r"on foot or by delivery: ([\d.]+) %", headline).group(1))
            assert effective > walk, headline
            # A month on, couriers ride and the previous run (the baseline) is there for comparison.
            _click_until(page, ".step-month", "() => /month 1/.test(document.querySelector('.day-line').innerText)")
            sync_api.expect(page.locator(".lc-map-legend")).to_contain_text("deliveries by couriers")
            assert "previous run" in page.locator(".headline").inner_text()
            page.screenshot(path=str(tmp_path / "viz_platform.png"), full_page=True)
            print(f"screenshots: {tmp_path}")
        finally:
            browser.close()

    median_step = statistics.median(steps)
    print(f"\nMEASURED at 20,000 residents: first page {first_page:.2f} s (target {FIRST_PAGE_TARGET_S} s); "
          f"step day {', '.join(f'{s * 1000:.0f}' for s in steps)} ms, median {median_step * 1000:.0f} ms "
          f"(target {STEP_TARGET_S * 1000:.0f} ms)")
    assert not blocked, f"the page asked for non-local resources: {blocked}"
