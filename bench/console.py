"""The console's issues page on the demo data, in headless Chromium: time to interactive and bytes moved.

`conduit demo` runs in a child process, as a newcomer starts it; the browser signs in with the link it
prints. Each cold load uses a fresh browser context (empty cache, the session cookie carried over), so
every file is fetched; a warm load reuses the cache, as a reload does. Time to interactive is the page's
own mark (`conduit:interactive`: the issues are drawn and the controls answer), measured from navigation
start; bytes are every response's transfer size (headers and compressed bodies) up to that mark and
after the live subscription's catch-up refresh. Beside it, a bare page from the same server (one small
file as a document) gives the floor a browser and loopback put under any page.

    .venv/bin/python bench/console.py [--runs 7]

The targets (under 1 s, under 300 KB) are printed against, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import chromium, running_demo
from playwright.async_api import Browser, async_playwright

READY = "performance.getEntriesByName('conduit:interactive')[0]?.startTime ?? null"
BYTES = """() => {
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  return {bytes: entries.reduce((n, e) => n + (e.transferSize || 0), 0), requests: entries.length};
}"""


async def load(browser: Browser, url: str, state: Any, warm_from: Any = None) -> dict[str, float]:
    context = warm_from or await browser.new_context(
        storage_state=state, viewport={"width": 1280, "height": 900}
    )
    page = await context.new_page()
    try:
        await page.goto(url)
        await page.locator("html[data-ready=true]").wait_for(state="attached")
        ready = await page.evaluate(READY)
        at_ready = await page.evaluate(BYTES)
        await page.locator("html[data-live=on]").wait_for(state="attached")
        await page.wait_for_timeout(500)
        settled = await page.evaluate(BYTES)
        rows = await page.locator("tr[data-issue]").count()
    finally:
        await page.close()
        if warm_from is None:
            await context.close()
    return {
        "tti": ready,
        "bytes": at_ready["bytes"],
        "settled": settled["bytes"],
        "requests": settled["requests"],
        "rows": rows,
    }


async def bare(browser: Browser, url: str) -> float:
    page = await browser.new_page()
    try:
        await page.goto(url)
        return float(await page.evaluate("performance.getEntriesByType('navigation')[0].duration"))
    finally:
        await page.close()


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as workdir, running_demo(Path(workdir)) as demo:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium(), headless=True)
            first = await browser.new_context()
            await (await first.new_page()).goto(demo.sign_in_link)
            state = await first.storage_state()
            await first.close()
            issues = f"{demo.url}/issues"
            shell = await (await browser.new_page()).goto(issues)
            assert shell is not None
            css = next(u for u in (await shell.text()).split('"') if u.endswith("/css/console.css"))

            await load(browser, issues, state)  # the server's first request of each kind
            cold = [await load(browser, issues, state) for _ in range(runs)]
            warm_context = await browser.new_context(
                storage_state=state, viewport={"width": 1280, "height": 900}
            )
            await load(browser, issues, state, warm_from=warm_context)
            warm = [await load(browser, issues, state, warm_from=warm_context) for _ in range(runs)]
            floor = [await bare(browser, f"{demo.url}{css}") for _ in range(runs)]
            await browser.close()

    def med(values: list[dict[str, float]], key: str) -> float:
        return statistics.median(v[key] for v in values)

    print(f"console issues page, demo data ({cold[0]['rows']:.0f} issues), {runs} loads each, medians:")
    print(
        f"  cold (empty cache): interactive {med(cold, 'tti'):6.0f} ms   {med(cold, 'bytes') / 1024:6.1f} KB "
        f"at interactive, {med(cold, 'settled') / 1024:6.1f} KB with the live catch-up ({med(cold, 'requests'):.0f} requests)"
    )
    print(
        f"  warm (cached):      interactive {med(warm, 'tti'):6.0f} ms   {med(warm, 'bytes') / 1024:6.1f} KB "
        f"at interactive, {med(warm, 'settled') / 1024:6.1f} KB with the live catch-up"
    )
    bare_ms = statistics.median(floor)
    print(
        f"  bare page, same server: {bare_ms:.0f} ms  -> cold/bare {med(cold, 'tti') / bare_ms:.1f}x, "
        f"warm/bare {med(warm, 'tti') / bare_ms:.1f}x"
    )
    print(
        f"  targets: interactive < 1000 ms ({'met' if med(cold, 'tti') < 1000 else 'MISSED'}), "
        f"< 300 KB ({'met' if med(cold, 'settled') < 300 * 1024 else 'MISSED'})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
