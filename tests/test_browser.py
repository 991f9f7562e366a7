"""The built site in a real browser (headless Chromium, driven by Playwright),
served under the same path prefix as on its host: every page loads with no
console error, no failed request and no request outside the local server;
maths is typeset; search finds the tutorials; dark mode works; axe-core finds
no serious or critical accessibility violation. Screenshots of the landing
page and a tutorial are kept in build/test-artifacts/.

Without Chromium these tests skip (install Debian's ``chromium`` package;
``.ci/run`` does). With VJP_COOKBOOK_REQUIRE_BROWSER=1, as in CI, a missing
Chromium is a failure instead.
"""

import os
import re
import shutil

import pytest

from conftest import EXAMPLES, REPO, tutorial_page
from sitebuild import CHROMIUM_ARGS, SITE_PREFIX, serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    if os.environ.get("VJP_COOKBOOK_REQUIRE_BROWSER") == "1":
        raise RuntimeError("Chromium not found, and VJP_COOKBOOK_REQUIRE_BROWSER=1: apt-get install chromium")
    pytest.skip(
        "Chromium not found: install Debian's chromium package (apt-get install chromium) to run the browser tests",
        allow_module_level=True,
    )

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

ARTIFACTS = REPO / "build" / "test-artifacts"
# Raw TeX that typeset maths never leaves in the text of a page.
RAW_TEX = re.compile(r"\\(frac|mathbb|partial|top|sum|begin|left|right)\b|\$\$")


@pytest.fixture(scope="module")
def base_url(site):
    """build/html of the session's site, served on localhost under the host's path prefix."""
    with serve(site.html, SITE_PREFIX) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def all_pages(site):
    return sorted(p.relative_to(site.html).as_posix() for p in site.html.rglob("*.html"))


def open_page(browser, base_url, path):
    """Load PATH; return the page and what went wrong while loading it."""
    page = browser.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on("response", lambda response: response.status >= 400 and problems.append(f"{response.status}: {response.url}"))

    def only_local(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            problems.append(f"outside the site: {route.request.url}")
            route.abort()

    page.route("**/*", only_local)
    page.goto(base_url + path, wait_until="networkidle")
    return page, problems


# The pages are checked in this many groups, which pytest-xdist runs side by side.
GROUPS = 4


@pytest.mark.parametrize("group", range(GROUPS))
def test_every_page_loads_cleanly_with_typeset_maths_and_no_serious_accessibility_violation(site, base_url, browser, group):
    """One load per page, and every check on it: no console error, failed or
    outside request; every <math> laid out; no raw TeX; axe-core finds no
    serious or critical violation."""
    pages = all_pages(site)
    assert len(pages) >= 25
    axe = Axe()
    found = {}
    for path in pages[group::GROUPS]:
        page, problems = open_page(browser, base_url, path)
        maths = page.locator("math").count()
        drawn = page.evaluate("[...document.querySelectorAll('math')].filter(m => m.getBoundingClientRect().width > 0).length")
        if drawn != maths:
            problems.append(f"{maths - drawn} of {maths} maths elements not drawn")
        prose = page.evaluate(
            "(() => { const body = document.body.cloneNode(true);"
            " body.querySelectorAll('pre, code, script, style').forEach(e => e.remove());"
            " return body.innerText; })()"
        )
        if RAW_TEX.search(prose):
            problems.append(f"raw TeX on the page: {RAW_TEX.search(prose).group(0)}")
        violations = axe.run(page).response["violations"]
        problems += [f"axe {v['id']} ({v['impact']}): {v['nodes'][0]['html'][:120]}" for v in violations if v["impact"] in ("serious", "critical")]
        if problems:
            found[path] = problems
        page.close()
    assert not found, found


def test_most_pages_have_typeset_maths(site):
    # Tutorials and concept pages carry maths; the check above makes sure it is drawn.
    with_maths = [p for p in site.html.rglob("*.html") if "<math" in p.read_text(encoding="utf-8")]
    assert len(with_maths) >= len(EXAMPLES) + 3


def test_search_for_vjp_lists_the_tutorials(base_url, browser):
    page, problems = open_page(browser, base_url, "search.html?q=vjp")
    page.wait_for_selector("ul.search li", timeout=15_000)
    page.wait_for_function("!document.querySelector('#search-progress') || !document.querySelector('#search-progress').textContent.startsWith('Preparing')")
    links = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.getAttribute('href'))")
    tutorials = {link.split("?")[0] for link in links if "auto_examples/" in link and "/index" not in link}
    assert len(tutorials) >= 10, links
    assert not problems, problems


def test_dark_mode_toggle(base_url, browser):
    page, _ = open_page(browser, base_url, "index.html")
    backgrounds = {}
    for _ in range(3):
        page.locator(".theme-toggle:visible").first.click()
        theme = page.evaluate("document.body.dataset.theme")
        backgrounds[theme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert {"light", "dark"} <= backgrounds.keys(), backgrounds

    def brightness(css):
        red, green, blue = (int(c) for c in re.findall(r"\d+", css)[:3])
        return (red + green + blue) / 3

    assert brightness(backgrounds["dark"]) < 80 < 200 < brightness(backgrounds["light"]), backgrounds


def test_screenshots_of_landing_page_and_a_tutorial(site, base_url, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tutorial = tutorial_page(site.html, EXAMPLES[0]).relative_to(site.html).as_posix()
    for name, path in {"landing": "index.html", "tutorial": tutorial}.items():
        page, problems = open_page(browser, base_url, path)
        page.set_viewport_size({"width": 1280, "height": 900})
        shot = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 50_000 and not problems
        page.close()
