"""Benchmark of the build and the pages (`make bench`): not a test, a measurement.

On this machine, with the dependencies already installed, in a fresh copy of
the repository: the clean build's wall time, the examples' own run times as
sphinx-gallery recorded them, the overhead between the two, the rebuild with
nothing changed, and the rebuild after editing one example; then, for every
built page in headless Chromium with a cold cache on a local server, the bytes
transferred and the time from navigation until its maths is typeset. Prints
tables, the targets met or missed, and writes the figures to build/bench.json.
"""

import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from sitebuild import CHROMIUM_ARGS, EXAMPLES, REPO, SITE_PREFIX, copy_repo, make, serve

# The targets (issue 5), on a 2-core machine.
MAX_OVERHEAD_S = 15  # clean build minus the examples' own run times
MAX_NOOP_S = 2
MAX_PAGE_BYTES = 1_000_000  # a tutorial page with a cold cache
MAX_MATHS_MS = 500  # navigation until maths is typeset

# Records, in the page, when every <math> element has been laid out (maths is
# MathML written at build time, so this is the first layout after parsing).
MATHS_READY = """
(() => {
  const check = () => {
    const maths = [...document.querySelectorAll("math")];
    if (document.readyState !== "loading" && maths.every(m => m.getBoundingClientRect().width > 0)) {
      window.__mathsReadyAt = performance.now();
      window.__mathsCount = maths.length;
    } else {
      requestAnimationFrame(check);
    }
  };
  requestAnimationFrame(check);
})();
"""


def examples_seconds(root: Path) -> dict[str, float]:
    costs = sorted(root.glob("docs/auto_examples/*/*.cost.json"))
    return {f"{p.parent.name}/{p.name.removesuffix('.cost.json')}": json.loads(p.read_text())["time"] for p in costs}


def timed_make(root: Path, what: str) -> float:
    build = make(root)
    if build.returncode != 0:
        sys.exit(f"{what}: make html failed\n{build.log[-3000:]}")
    return build.seconds


def page_figures(html: Path) -> dict[str, dict]:
    """Bytes transferred and time until maths is typeset, for every page, each with a cold cache."""
    chromium = shutil.which("chromium")
    if not chromium:
        print("Chromium not found (apt-get install chromium): no page figures")
        return {}
    from playwright.sync_api import sync_playwright

    figures = {}
    with serve(html, SITE_PREFIX) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for path in sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")):
            context = browser.new_context()  # a new, empty cache
            page = context.new_page()
            network = context.new_cdp_session(page)
            network.send("Network.enable")
            network.send("Network.setCacheDisabled", {"cacheDisabled": True})
            transferred = []
            network.on("Network.loadingFinished", lambda event: transferred.append(event["encodedDataLength"]))
            page.add_init_script(MATHS_READY)
            page.goto(base_url + path, wait_until="load")
            page.wait_for_function("window.__mathsReadyAt !== undefined", timeout=10_000)
            ready_ms, maths = page.evaluate("[window.__mathsReadyAt, window.__mathsCount]")
            page.wait_for_load_state("networkidle")
            figures[path] = {"bytes": sum(transferred), "maths_ready_ms": round(ready_ms, 1), "maths": maths}
            context.close()
        browser.close()
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_repo(Path(tmp) / "repo")
        clean = timed_make(root, "clean build")
        per_example = examples_seconds(root)
        noop = timed_make(root, "no-op rebuild")
        pages = page_figures(root / "build" / "html")
        edited = root / "examples" / EXAMPLES[0].parent.name / EXAMPLES[0].name
        edited.write_text(edited.read_text() + "\n# An edit.\n")
        one_edit = timed_make(root, "rebuild after one edit")

    examples_total = sum(per_example.values())
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "clean_build_s": round(clean, 2),
        "examples_total_s": round(examples_total, 2),
        "overhead_s": round(clean - examples_total, 2),
        "noop_rebuild_s": round(noop, 2),
        "one_example_edited_rebuild_s": round(one_edit, 2),
        "examples_s": {name: round(t, 2) for name, t in per_example.items()},
        "pages": pages,
    }
    rows = [
        ("clean build (make html)", clean),
        (f"examples' own run times ({len(per_example)})", examples_total),
        ("overhead (clean - examples)", clean - examples_total),
        ("no-op rebuild", noop),
        ("rebuild after editing one example", one_edit),
    ] + [(f"  {name}", t) for name, t in per_example.items()]
    print(f"Build benchmark on {figures['machine']}")
    for label, seconds in rows:
        print(f"{label:<48} {seconds:7.2f} s")
    tutorials = {path: f for path, f in pages.items() if path.count("/") == 2 and "/plot_" in path}
    if pages:
        print(f"\nPages in Chromium, cold cache ({len(pages)} pages, {len(tutorials)} tutorials)")
        print(f"{'page':<66} {'bytes':>10} {'maths ready':>12} {'maths':>6}")
        for path, f in pages.items():
            print(f"{path:<66} {f['bytes']:>10,} {f['maths_ready_ms']:>9.0f} ms {f['maths']:>6}")
    checks = [
        (f"overhead <= {MAX_OVERHEAD_S} s", clean - examples_total <= MAX_OVERHEAD_S, f"{clean - examples_total:.1f} s"),
        (f"no-op rebuild <= {MAX_NOOP_S} s", noop <= MAX_NOOP_S, f"{noop:.2f} s"),
    ]
    if tutorials:
        heaviest = max(tutorials, key=lambda p: tutorials[p]["bytes"])
        slowest = max(tutorials, key=lambda p: tutorials[p]["maths_ready_ms"])
        checks += [
            (f"tutorial pages <= {MAX_PAGE_BYTES:,} bytes", tutorials[heaviest]["bytes"] <= MAX_PAGE_BYTES,
             f"largest {tutorials[heaviest]['bytes']:,} ({heaviest})"),
            (f"maths typeset <= {MAX_MATHS_MS} ms", tutorials[slowest]["maths_ready_ms"] <= MAX_MATHS_MS,
             f"slowest {tutorials[slowest]['maths_ready_ms']:.0f} ms ({slowest})"),
        ]
    print("\nTargets")
    for label, met, figure in checks:
        print(f"  {'met   ' if met else 'MISSED'} {label:<34} {figure}")
    figures["targets"] = {label: met for label, met, _ in checks}
    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=1) + "\n")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
