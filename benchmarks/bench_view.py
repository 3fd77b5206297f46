"""Benchmark: the browser view's first page and its *Step day* (prints figures; not a timed test).

Starts ``solara run sim/view/viz.py`` (the 20,000-resident baseline) as ``tests/test_viz_browser.py``
does, with an empty HOME, and drives headless Chromium (Debian's ``chromium``, or
``$LIFECIRCLE_CHROMIUM``). Each of ``--pages`` fresh pages is timed from navigation until the map
is drawn and animating (the first is the server's first page, with its one-time imports and
model build; the others show what a reload costs), then ``--steps`` clicks on *Step day* are
timed, each until the page shows the next day. Targets (issue 15): first page <= 5 s, step <= 300 ms.

    .venv/bin/python benchmarks/bench_view.py [--pages 3] [--steps 20]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRST_PAGE_TARGET_S = 5.0
STEP_TARGET_S = 0.3


def _browser_test_module():
    """The browser test's server and page helpers (one implementation for the test and this)."""
    spec = importlib.util.spec_from_file_location("lifecircle_view_test", REPO / "tests" / "test_viz_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3, help="fresh page loads to time (default 3)")
    parser.add_argument("--steps", type=int, default=20, help="Step-day clicks to time (default 20)")
    parser.add_argument("--home", metavar="DIR", help="the server's home folder, kept between calls (default: a "
                        "fresh empty one): a second call with the same DIR starts from the settled checkpoint "
                        "the first one saved, as a view started again on the same machine does")
    args = parser.parse_args()
    from playwright import sync_api

    view = _browser_test_module()
    chromium = view._chromium()
    pages, steps = [], []
    if args.home:
        Path(args.home).mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(args.home) if args.home else tempfile.TemporaryDirectory()) as home, \
            view.solara_server(Path(home)) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=view.CHROMIUM_ARGS, headless=True)
        try:
            for _ in range(args.pages):
                page = browser.new_page(viewport={"width": 1600, "height": 1200})
                pages.append(view.open_view(page, url))
                page.close()
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            view.open_view(page, url)
            view._click_until(page, ".step-day", "() => /Day 1 of/.test(document.querySelector('.day-line').innerText)")
            steps = [view._step_once(page, sync_api) for _ in range(args.steps)]
        finally:
            browser.close()
    print(f"view at 20,000 residents, {len(pages)} page loads, {len(steps)} day steps")
    print(f"  first page (server's first): {pages[0]:.2f} s   target {FIRST_PAGE_TARGET_S:.0f} s   "
          f"{'met' if pages[0] <= FIRST_PAGE_TARGET_S else 'MISSED'}")
    if len(pages) > 1:
        print(f"  later pages: {', '.join(f'{p:.2f}' for p in pages[1:])} s")
    median = statistics.median(steps)
    print(f"  step day: median {median * 1000:.0f} ms, min {min(steps) * 1000:.0f}, max {max(steps) * 1000:.0f}   "
          f"target {STEP_TARGET_S * 1000:.0f} ms   {'met' if median <= STEP_TARGET_S else 'MISSED'}")


if __name__ == "__main__":
    main()
