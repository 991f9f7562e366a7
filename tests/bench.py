"""Benchmark of the build, the tests and the pages (`make bench`): not a test, a measurement.

On this machine, in fresh copies of the repository:

* from a fresh clone (`git clone` of HEAD) to a built site with `make html`,
  creating the environment and installing the lock included;
* with the dependencies already installed: the clean build's wall time, the
  examples' own run times as sphinx-gallery recorded them, the overhead
  between the two, the rebuild with nothing changed, and the rebuild after
  editing one example;
* `make test`, and its ratio to the clean build measured in the same run
  (a figure that does not depend on the machine's speed);
* every built page in headless Chromium with a cold cache on a local server:
  the bytes transferred, the time from navigation until its maths is
  typeset, and its number of elements;
* Lighthouse's scores on a sample of pages (the heaviest tutorials among
  them), or on every page with `--lighthouse-all`.

Prints tables, the targets met or missed, and writes the figures to
build/bench.json. `python tests/bench.py --contention N` instead makes N clean
builds with both cores busy and N pinned to one core, and reports how many
passed (the build's result must not depend on the machine's load).
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sitebuild import (
    CHROMIUM_ARGS,
    REPO,
    SITE_PREFIX,
    copy_repo,
    gallery_order,
    make,
    reader_env,
    serve,
)

# The targets, on a 2-core machine (docs/contributing.md, "Build and page figures").
MAX_OVERHEAD_S = 15  # clean build minus the examples' own run times
MAX_NOOP_S = 2
MAX_PAGE_BYTES = 1_000_000  # a tutorial page with a cold cache
MAX_MATHS_MS = 500  # navigation until maths is typeset
MAX_TEST_RATIO = 4  # make test / clean make html
MIN_LIGHTHOUSE = {"desktop": 0.95, "mobile performance": 0.90}
BENCH_TOOLS = (
    REPO / "tests" / "bench-tools"
)  # Lighthouse 12.2.3 (npm), installed into build/bench-tools
# Pages Lighthouse audits by default (--lighthouse-all: every page): the two
# card-heavy indexes, the landing page, a concept notebook, a small tutorial,
# and the tutorials with the most elements (HEAVIEST of them, found in the
# build: laying those out is most of a phone's work on a page).
LIGHTHOUSE_PAGES = [
    "index.html",
    "api.html",
    "auto_examples/index.html",
    "concepts/cheat_sheet.html",
    "auto_examples/basics/plot_01_elementwise_derivative.html",
]
HEAVIEST = 3
# Lighthouse's mobile performance varies from run to run (its docs: the median
# of five runs is about twice as stable as one run); the median of this many.
MOBILE_RUNS = 5
NOINDEX = '<meta name="robots" content="noindex"'

# Records, in the page, when every formula is laid out in KaTeX's fonts (maths
# is typeset at build time, so this is the first layout after the fonts load).
MATHS_READY = """
(() => {
  const check = () => {
    const maths = [...document.querySelectorAll("article .katex-html")];
    if (document.readyState !== "loading" && document.fonts.status === "loaded"
        && maths.every(m => m.getBoundingClientRect().width > 0)) {
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
    return {
        f"{p.parent.name}/{p.name.removesuffix('.cost.json')}": json.loads(
            p.read_text()
        )["time"]
        for p in costs
    }


def timed_make(root: Path, what: str) -> float:
    build = make(root)
    if build.returncode != 0:
        sys.exit(f"{what}: make html failed\n{build.log[-3000:]}")
    return build.seconds


# Where a clean build's time goes: each phase runs from the first log line
# matching its pattern to the next phase's first line (Sphinx and
# sphinx-gallery print these lines in this order).
PHASES = [
    ("start-up (Python, Sphinx, extensions, torch)", r"Running Sphinx"),
    ("examples: runs, figures saved, files written", r"generating gallery for"),
    ("reading sources (with the notebook pages' runs)", r"updating environment:"),
    ("writing pages", r"preparing documents"),
    ("finishing (indices, search, code links, sitemap)", r"generating indices"),
]


def phased_make(
    root: Path, what: str
) -> tuple[float, dict[str, float], dict[str, float]]:
    """`make html` in ROOT, timing each line of its log as it arrives: the wall
    time, the seconds of each phase in PHASES, and each notebook page's run."""
    command = ["make", "-C", str(root), "html", f"VENV={sys.prefix}"]
    start = time.perf_counter()
    env = reader_env() | {
        "PYTHONUNBUFFERED": "1"
    }  # each line as it is printed, not a buffer later
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    stamped = [(time.perf_counter() - start, line) for line in process.stdout]
    if process.wait() != 0:
        sys.exit(
            f"{what}: make html failed\n{''.join(line for _, line in stamped[-60:])}"
        )
    wall = time.perf_counter() - start
    marks = [
        next((t for t, line in stamped if re.search(pattern, line)), None)
        for _, pattern in PHASES
    ]
    ends = marks[1:] + [wall]
    phases = {"make, and Python until Sphinx's first line": round(marks[0] or 0, 2)}
    phases |= {
        name: round(end - mark, 2)
        for (name, _), mark, end in zip(PHASES, marks, ends)
        if mark is not None and end is not None
    }
    notebooks = {
        m[1]: float(m[2])
        for _, line in stamped
        if (m := re.search(r"(\S+\.md): Executed notebook in ([\d.]+) seconds", line))
    }
    return wall, phases, notebooks


def page_figures(html: Path) -> dict[str, dict]:
    """Bytes transferred and time until maths is typeset, for every page, each with a cold cache."""
    chromium = shutil.which("chromium")
    if not chromium:
        print("Chromium not found (apt-get install chromium): no page figures")
        return {}
    from playwright.sync_api import sync_playwright

    figures = {}
    with serve(html, SITE_PREFIX) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS
        )
        for path in sorted(
            p.relative_to(html).as_posix() for p in html.rglob("*.html")
        ):
            context = browser.new_context()  # a new, empty cache
            page = context.new_page()
            network = context.new_cdp_session(page)
            network.send("Network.enable")
            network.send("Network.setCacheDisabled", {"cacheDisabled": True})
            transferred = []
            network.on(
                "Network.loadingFinished",
                lambda event: transferred.append(event["encodedDataLength"]),
            )
            page.add_init_script(MATHS_READY)
            page.goto(base_url + path, wait_until="load")
            page.wait_for_function(
                "window.__mathsReadyAt !== undefined", timeout=10_000
            )
            ready_ms, maths = page.evaluate(
                "[window.__mathsReadyAt, window.__mathsCount]"
            )
            page.wait_for_load_state("networkidle")
            elements = page.evaluate("document.getElementsByTagName('*').length")
            figures[path] = {
                "bytes": sum(transferred),
                "maths_ready_ms": round(ready_ms, 1),
                "maths": maths,
                "elements": elements,
            }
            context.close()
        browser.close()
    return figures


def lighthouse_scores(html: Path, pages: list[str]) -> dict[str, dict]:
    """Lighthouse's four scores for PAGES, on desktop and on mobile, served the
    way the hosts serve them (text gzip-compressed), and mobile performance
    again from a server that compresses nothing ("mobile, uncompressed").
    Mobile scores are those of the run with the median performance of
    MOBILE_RUNS (all of them are kept, "mobile runs"). Cache headers are the
    local server's, not the host's."""
    chromium, npm = shutil.which("chromium"), shutil.which("npm")
    if not (chromium and npm):
        print("Chromium or npm not found: no Lighthouse figures")
        return {}
    tools = REPO / "build" / "bench-tools"
    tools.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(BENCH_TOOLS / name, tools / name)
    cli = tools / "node_modules" / ".bin" / "lighthouse"
    if not cli.exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=tools,
            check=True,
            capture_output=True,
        )
    scores = {}
    runs = [("desktop", True), ("mobile", True), ("mobile, uncompressed", False)]
    with (
        serve(html, SITE_PREFIX, compress=True) as gzipped,
        serve(html, SITE_PREFIX) as plain,
        tempfile.TemporaryDirectory() as out,
    ):
        for path in pages:
            for form, compressed in runs:
                report = Path(out) / "report.json"
                command = [
                    str(cli),
                    (gzipped if compressed else plain) + path,
                    "--quiet",
                    "--output=json",
                    f"--output-path={report}",
                    "--chrome-flags=--headless=new --no-sandbox",
                ]
                if form == "desktop":
                    command.append("--preset=desktop")
                elif not compressed:
                    command.append("--only-categories=performance")
                runs_of_form = []
                for _ in range(MOBILE_RUNS if form == "mobile" else 1):
                    subprocess.run(
                        command,
                        env=dict(os.environ, CHROME_PATH=chromium),
                        check=True,
                        capture_output=True,
                    )
                    categories = json.loads(report.read_text())["categories"]
                    runs_of_form.append(
                        {name: c["score"] for name, c in categories.items()}
                    )
                runs_of_form.sort(key=lambda run: run["performance"])
                scores.setdefault(path, {})[form] = runs_of_form[len(runs_of_form) // 2]
                if form == "mobile":
                    scores[path]["mobile runs"] = [
                        run["performance"] for run in runs_of_form
                    ]
            print(f"  lighthouse {path}: {scores[path]}", flush=True)
    return scores


def fresh_clone_to_site(tmp: Path) -> float:
    """`git clone` of HEAD, then `make html` with nothing installed (its own .venv)."""
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {k: v for k, v in reader_env().items() if k != "VIRTUAL_ENV"}
    start = time.perf_counter()
    result = subprocess.run(
        ["make", "-C", str(clone), "html"], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(
            f"fresh clone: make html failed\n{(result.stdout + result.stderr)[-3000:]}"
        )
    installed = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-m", "pip", "list"],
        capture_output=True,
        text=True,
    ).stdout
    test_only = [
        name
        for name in ("pytest", "playwright", "axe-playwright-python")
        if f"\n{name} " in "\n" + installed.lower()
    ]
    if test_only:
        sys.exit(f"fresh clone: make html installed test-only packages {test_only}")
    return seconds


def timed_make_test(root: Path) -> float:
    build = make(root, "test", timeout=5400)
    if build.returncode != 0:  # the time is still a figure; say that it failed
        print(f"make test FAILED\n{build.log[-3000:]}")
    return build.seconds


def contention(runs: int) -> None:
    """RUNS clean builds beside two busy processes, and RUNS pinned to one core."""
    results = []
    for setting in ("both cores busy", "pinned to core 0"):
        for run in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                root = copy_repo(Path(tmp) / "repo")
                busy = []
                if setting == "both cores busy":
                    busy = [
                        subprocess.Popen([sys.executable, "-c", "while True: pass"])
                        for _ in range(2)
                    ]
                try:
                    command = ["make", "-C", str(root), "html", f"VENV={sys.prefix}"]
                    if setting == "pinned to core 0":
                        command = ["taskset", "-c", "0"] + command
                    start = time.perf_counter()
                    result = subprocess.run(
                        command, capture_output=True, text=True, env=reader_env()
                    )
                    seconds = time.perf_counter() - start
                finally:
                    for process in busy:
                        process.kill()
                        process.wait()
                passed = result.returncode == 0
                results.append(
                    {
                        "setting": setting,
                        "run": run + 1,
                        "passed": passed,
                        "seconds": round(seconds, 1),
                    }
                )
                print(
                    f"{setting:<18} run {run + 1}: {'passed' if passed else 'FAILED'} in {seconds:6.1f} s",
                    flush=True,
                )
                if not passed:
                    print((result.stdout + result.stderr)[-3000:])
    passed = sum(r["passed"] for r in results)
    print(f"{passed} of {len(results)} clean builds passed")
    out = REPO / "build" / "bench-contention.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    sys.exit(0 if passed == len(results) else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--contention",
        type=int,
        metavar="N",
        help="N clean builds busy, N pinned to one core",
    )
    parser.add_argument(
        "--skip-clone",
        action="store_true",
        help="leave out the fresh-clone measurement",
    )
    parser.add_argument(
        "--skip-test", action="store_true", help="leave out the make test measurement"
    )
    parser.add_argument(
        "--lighthouse-all", action="store_true", help="audit every page, not a sample"
    )
    args = parser.parse_args()
    if args.contention:
        return contention(args.contention)
    with tempfile.TemporaryDirectory() as tmp:
        clone_s = None if args.skip_clone else fresh_clone_to_site(Path(tmp))
        root = copy_repo(Path(tmp) / "repo")
        clean, phases, notebooks = phased_make(root, "clean build")
        per_example = examples_seconds(root)
        noop = timed_make(root, "no-op rebuild")
        pages = page_figures(root / "build" / "html")
        by_elements = sorted(
            (f["elements"], path) for path, f in pages.items() if "/plot_" in path
        )
        audited = (
            sorted(pages)
            if args.lighthouse_all
            else LIGHTHOUSE_PAGES + [path for _, path in by_elements[-HEAVIEST:]]
        )
        lighthouse = lighthouse_scores(root / "build" / "html", audited)
        # A page that asks search engines not to index it (search.html, as
        # Sphinx makes it) fails Lighthouse's SEO audit "is crawlable" by
        # design: its SEO score is left out of the lowest.
        unindexed = {
            p
            for p in lighthouse
            if NOINDEX in (root / "build" / "html" / p).read_text(encoding="utf-8")
        }
        first = gallery_order()[
            0
        ]  # the gallery's first tutorial: the same page from run to run
        edited = root / "examples" / first.parent.name / first.name
        edited.write_text(edited.read_text() + "\n# An edit.\n")
        one_edit = timed_make(root, "rebuild after one edit")
        test_s = (
            None
            if args.skip_test
            else timed_make_test(copy_repo(Path(tmp) / "test-repo"))
        )

    examples_total = sum(per_example.values())
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "clean_build_s": round(clean, 2),
        "examples_total_s": round(examples_total, 2),
        "overhead_s": round(clean - examples_total, 2),
        "noop_rebuild_s": round(noop, 2),
        "one_example_edited_rebuild_s": round(one_edit, 2),
        "fresh_clone_to_site_s": clone_s and round(clone_s, 1),
        "make_test_s": test_s and round(test_s, 1),
        "make_test_over_clean_build": test_s and round(test_s / clean, 2),
        "lighthouse": lighthouse,
        "clean_build_phases_s": phases,
        "notebook_pages_s": notebooks,
        "examples_s": {name: round(t, 2) for name, t in per_example.items()},
        "pages": pages,
    }
    rows = (
        [
            ("clean build (make html)", clean),
            (f"examples' own run times ({len(per_example)})", examples_total),
            ("overhead (clean - examples)", clean - examples_total),
            ("no-op rebuild", noop),
            ("rebuild after editing one example", one_edit),
        ]
        + ([("make test", test_s)] if test_s else [])
        + (
            [("fresh clone to built site (venv + install + build)", clone_s)]
            if clone_s
            else []
        )
        + [(f"  {name}", t) for name, t in per_example.items()]
    )
    print(f"Build benchmark on {figures['machine']}")
    for label, seconds in rows:
        print(f"{label:<48} {seconds:7.2f} s")
    print("\nWhere the clean build's time goes (phases in the order they run)")
    for name, seconds in phases.items():
        print(f"  {name:<50} {seconds:7.2f} s")
    print(f"  {'of which the examples themselves':<50} {examples_total:7.2f} s")
    for name, seconds in notebooks.items():
        print(
            f"  {'of which the notebook page ' + Path(name).name:<50} {seconds:7.2f} s"
        )
    tutorials = {
        path: f
        for path, f in pages.items()
        if path.count("/") == 2 and "/plot_" in path
    }
    if pages:
        print(
            f"\nPages in Chromium, cold cache ({len(pages)} pages, {len(tutorials)} tutorials)"
        )
        print(
            f"{'page':<66} {'bytes':>10} {'maths ready':>12} {'maths':>6} {'elements':>9}"
        )
        for path, f in pages.items():
            print(
                f"{path:<66} {f['bytes']:>10,} {f['maths_ready_ms']:>9.0f} ms {f['maths']:>6} {f['elements']:>9,}"
            )
    checks = [
        (
            f"overhead <= {MAX_OVERHEAD_S} s",
            clean - examples_total <= MAX_OVERHEAD_S,
            f"{clean - examples_total:.1f} s",
        ),
        (f"no-op rebuild <= {MAX_NOOP_S} s", noop <= MAX_NOOP_S, f"{noop:.2f} s"),
    ]
    if test_s:
        checks.append(
            (
                f"make test <= {MAX_TEST_RATIO} x clean build",
                test_s <= MAX_TEST_RATIO * clean,
                f"{test_s / clean:.2f} x",
            )
        )
    if lighthouse:

        def counted(p, form):
            return [
                score
                for name, score in lighthouse[p][form].items()
                if not (name == "seo" and p in unindexed)
            ]

        desktop_low = min((min(counted(p, "desktop")), p) for p in lighthouse)
        mobile_low = min((min(counted(p, "mobile")), p) for p in lighthouse)
        mobile_perf = min(
            (s["mobile"]["performance"], p) for p, s in lighthouse.items()
        )
        plain = min(
            (s["mobile, uncompressed"]["performance"], p) for p, s in lighthouse.items()
        )
        checks += [
            (
                f"Lighthouse desktop >= {MIN_LIGHTHOUSE['desktop']:.0%} (all four)",
                desktop_low[0] >= MIN_LIGHTHOUSE["desktop"],
                f"lowest {desktop_low[0]:.2f} ({desktop_low[1]})"
                + (
                    f"; SEO not counted on noindex {', '.join(sorted(unindexed))}"
                    if unindexed
                    else ""
                ),
            ),
            (
                f"Lighthouse mobile perf. >= {MIN_LIGHTHOUSE['mobile performance']:.0%}",
                mobile_perf[0] >= MIN_LIGHTHOUSE["mobile performance"],
                f"lowest {mobile_perf[0]:.2f} ({mobile_perf[1]}); all four, lowest {mobile_low[0]:.2f};"
                f" uncompressed, lowest {plain[0]:.2f} ({plain[1]})",
            ),
        ]
    if tutorials:
        heaviest = max(tutorials, key=lambda p: tutorials[p]["bytes"])
        slowest = max(tutorials, key=lambda p: tutorials[p]["maths_ready_ms"])
        checks += [
            (
                f"tutorial pages <= {MAX_PAGE_BYTES:,} bytes",
                tutorials[heaviest]["bytes"] <= MAX_PAGE_BYTES,
                f"largest {tutorials[heaviest]['bytes']:,} ({heaviest})",
            ),
            (
                f"maths typeset <= {MAX_MATHS_MS} ms",
                tutorials[slowest]["maths_ready_ms"] <= MAX_MATHS_MS,
                f"slowest {tutorials[slowest]['maths_ready_ms']:.0f} ms ({slowest})",
            ),
        ]
    print("\nTargets")
    for label, met, figure in checks:
        print(f"  {'met   ' if met else 'MISSED'} {label:<34} {figure}")
    figures["targets"] = {label: met for label, met, _ in checks}
    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=1) + "\n")
    print(f"written to {out.relative_to(REPO)}")
    summary = os.environ.get(
        "GITHUB_STEP_SUMMARY"
    )  # a GitHub Actions run's summary page
    if summary:
        with open(summary, "a", encoding="utf-8") as file:
            file.write(
                f"## Build benchmark ({figures['machine']})\n\n| | seconds |\n| --- | ---: |\n"
            )
            file.writelines(
                f"| {label.strip()} | {seconds:.2f} |\n"
                for label, seconds in rows
                if not label.startswith("  ")
            )
            file.writelines(
                f"| phase: {name} | {seconds:.2f} |\n"
                for name, seconds in phases.items()
            )
            file.write("\n| target | met | figure |\n| --- | --- | --- |\n")
            file.writelines(
                f"| {label} | {'yes' if met else 'no'} | {figure} |\n"
                for label, met, figure in checks
            )


if __name__ == "__main__":
    main()
