"""The built site in a real browser (headless Chromium, driven by Playwright),
served under the same path prefix as on its host. Each page is loaded once,
in a tab that is reused from page to page, and every check runs on that load:
no console error, no failed request and no request outside the local server;
maths is typeset and its constructs drawn right; no raw TeX; axe-core finds
no serious or critical accessibility violation (at 1440 px, with the page's
table of contents shown); and at 1280 px and at 390 px nothing is clipped and
no card title overflows. Search, dark mode, print and
the maths construct page with JavaScript off have tests of their own.
Where one tutorial is enough, it is the first in the gallery
(conftest.first_tutorial), the page most readers open first.

Without Chromium these tests skip (install Debian's ``chromium`` package;
``.ci/run`` does). With VJP_COOKBOOK_REQUIRE_BROWSER=1, as in CI, a missing
Chromium is a failure instead.
"""

import io
import os
import re
import shutil

import pytest
from conftest import first_tutorial, gallery_order, tutorial_page
from maths_checks import construct_page_problems, maths_problems
from sitebuild import CHROMIUM_ARGS, SITE_PREFIX, serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    if os.environ.get("VJP_COOKBOOK_REQUIRE_BROWSER") == "1":
        raise RuntimeError(
            "Chromium not found, and VJP_COOKBOOK_REQUIRE_BROWSER=1: apt-get install chromium"
        )
    pytest.skip(
        "Chromium not found: install Debian's chromium package (apt-get install chromium) to run the browser tests",
        allow_module_level=True,
    )

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

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
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def all_pages(site):
    return sorted(
        p.relative_to(site.html).as_posix() for p in site.html.rglob("*.html")
    )


class Visitor:
    """One browser tab that visits pages one after another and records, for
    each visit, what went wrong while loading it: console errors, script
    errors, failed requests, HTTP errors and any request outside the site
    (which is blocked). Reusing the tab is several times faster than opening
    a new one per page."""

    def __init__(self, browser, base_url, **options):
        self.base_url = base_url
        self.page = browser.new_page(**options)
        self.problems = []
        page = self.page
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and self.problems.append(f"console: {message.text}")
            ),
        )
        page.on(
            "pageerror", lambda error: self.problems.append(f"script error: {error}")
        )
        page.on(
            "requestfailed",
            lambda request: self.problems.append(f"failed: {request.url}"),
        )
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and self.problems.append(f"{response.status}: {response.url}")
            ),
        )
        page.route("**/*", self._only_local)

    def _only_local(self, route):
        if route.request.url.startswith(self.base_url):
            route.continue_()
        else:
            self.problems.append(f"outside the site: {route.request.url}")
            route.abort()

    def visit(self, path, width=1280):
        """Load PATH at WIDTH px and wait for its fonts; a fresh list of problems starts."""
        self.problems = []
        self.page.set_viewport_size({"width": width, "height": 900})
        self.page.goto(self.base_url + path, wait_until="load")
        self.page.evaluate("document.fonts.ready.then(() => true)")
        return self.page


def open_page(browser, base_url, path):
    """Load PATH in a tab of its own; return the page and what went wrong while loading it."""
    visitor = Visitor(browser, base_url)
    page = visitor.visit(path)
    page.wait_for_load_state("networkidle")
    return page, visitor.problems


# The pages are checked in this many groups, which pytest-xdist runs side by side.
GROUPS = 4
# Wide enough for furo's table of contents beside the page (from 82em, 1312 px).
WIDE = 1440
# axe's default rules, and target-size (WCAG 2.5.8), which axe leaves off by
# default and Lighthouse runs: small, close links are hard to hit.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "rules": {"target-size": {"enabled": True}},
}
# Left out of axe, and checked otherwise (axe spends half its time on a page
# on these thousands of spans):
# - KaTeX's visible boxes, hidden from assistive technology (its MathML is
#   what they read): their colour and background are those of the text
#   around them, whose contrast axe checks (maths_checks.GENERAL);
# - code and output text: the contrast of every Pygments token colour and of
#   output text is checked once, in both themes, by
#   test_code_and_output_text_contrast_in_both_themes.
AXE_CONTEXT = {"exclude": [[".katex-html"], [".highlight pre"]]}
# Every KaTeX font the page draws with was preloaded from its <head>
# (docs/_ext/page_html.py), so no maths is laid out again, moving the
# lines below it, when a font arrives late; and no preloaded font goes unused.
FONTS_PRELOADED = r"""(() => {
  const problems = [];
  const file = f => {
    const face = (['700', 'bold'].includes(f.weight) ? 'Bold' : '') + (f.style === 'italic' ? 'Italic' : '');
    return f.family.replace(/"/g, '') + '-' + (face || 'Regular');
  };
  const preloaded = new Set([...document.querySelectorAll('link[rel="preload"][as="font"]')]
    .map(l => decodeURIComponent(l.href.split('/').pop().replace(/\.woff2$/, ''))));
  const loaded = new Set([...document.fonts].filter(f => f.status === 'loaded' && f.family.includes('KaTeX')).map(file));
  for (const font of loaded) if (!preloaded.has(font)) problems.push(`font ${font} is drawn with but not preloaded`);
  for (const font of preloaded) if (!loaded.has(font)) problems.push(`font ${font} is preloaded but not drawn with`);
  return problems;
})()"""


@pytest.mark.parametrize("group", range(GROUPS))
def test_every_page_loads_cleanly_is_accessible_and_fits_a_phone_and_a_laptop(
    site, base_url, browser, group
):
    """One load per page, and every check on it. At 1440 px, where furo also
    shows the page's table of contents: no console error, failed or outside
    request; every formula drawn and its constructs right, in fonts the page
    preloaded; no raw TeX;
    axe-core finds no serious or critical violation (target size included).
    Then, resized, at 1280
    and at 390 px: no card title overflows its card, nothing wide is clipped
    without a way to scroll to it, and every box that scrolls sideways shows
    the cue."""
    pages = all_pages(site)
    assert len(pages) >= 25
    axe = Axe()
    visitor = Visitor(browser, base_url)
    found = {}
    for path in pages[group::GROUPS]:
        page = visitor.visit(path, width=WIDE)
        problems = []
        # KaTeX's visible boxes (the <math> inside is for screen readers).
        maths = page.locator("article .katex").count()
        drawn = page.evaluate(
            "[...document.querySelectorAll('article .katex-html')].filter(m => m.getBoundingClientRect().width > 0).length"
        )
        if drawn != maths:
            problems.append(f"{maths - drawn} of {maths} formulas not drawn")
        problems += maths_problems(page)[1]
        problems += page.evaluate(FONTS_PRELOADED)
        prose = page.evaluate(
            "(() => { const body = document.body.cloneNode(true);"
            " body.querySelectorAll('pre, code, script, style').forEach(e => e.remove());"
            " return body.innerText; })()"
        )
        if RAW_TEX.search(prose):
            problems.append(f"raw TeX on the page: {RAW_TEX.search(prose).group(0)}")
        violations = axe.run(page, context=AXE_CONTEXT, options=AXE_OPTIONS).response[
            "violations"
        ]
        problems += [
            f"axe {v['id']} ({v['impact']}): {v['nodes'][0]['html'][:120]}"
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            problems += [
                f"at {width} px: {p}"
                for p in layout_problems(page) + readability_problems(page, path, width)
            ]
        problems += visitor.problems  # anything that failed to load, up to now
        if problems:
            found[path] = problems
    visitor.page.close()
    assert not found, found


@pytest.mark.parametrize("width", [1280, 390])
def test_maths_construct_page_is_typeset_right_with_javascript_off(
    base_url, browser, width
):
    """Overlines span their base, primes sit at their letter, bold is bold,
    braces are braces (docs/maths_constructs.md: every construct the site uses)."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    page.goto(base_url + "maths_constructs.html", wait_until="networkidle")
    problems = construct_page_problems(page)
    context.close()
    assert not problems, problems


def test_search_for_vjp_lists_the_tutorials(base_url, browser):
    page, problems = open_page(browser, base_url, "search.html?q=vjp")
    page.wait_for_selector("ul.search li", timeout=15_000)
    page.wait_for_function(
        "!document.querySelector('#search-progress') || !document.querySelector('#search-progress').textContent.startsWith('Preparing')"
    )
    links = page.eval_on_selector_all(
        "ul.search li a", "links => links.map(a => a.getAttribute('href'))"
    )
    tutorials = {
        link.split("?")[0]
        for link in links
        if "auto_examples/" in link and "/index" not in link
    }
    assert len(tutorials) >= 10, links
    assert not problems, problems


def test_search_snippets_quote_each_formula_once_and_not_the_download_note(
    site, base_url, browser
):
    """Sphinx quotes a found page's text: without cookbook.js's filter, KaTeX's
    MathML would quote every formula twice and each tutorial's quote would
    start with "Go to the end to download the full example code"."""
    page, problems = open_page(browser, base_url, "search.html?q=hessian")
    page.wait_for_selector("ul.search li p.context", timeout=15_000)
    snippets = page.eval_on_selector_all(
        "ul.search li p.context", "ps => ps.map(p => p.textContent)"
    )
    assert snippets and not [s for s in snippets if "Go to the end" in s], snippets
    # MathML writes "sin x" with U+2061 (function application) between the two; KaTeX's visible
    # copy does not, so the character shows which copy is quoted. The first tutorial with such
    # maths (sin, cos, log, ...):
    tutorial = (
        next(
            page
            for page in (tutorial_page(site.html, e) for e in gallery_order())
            if "\u2061" in page.read_text(encoding="utf-8")
        )
        .relative_to(site.html)
        .as_posix()
    )
    quoted, mathml, visible = page.evaluate(
        """async (path) => {
            const html = await (await fetch(path)).text();
            const parsed = new DOMParser().parseFromString(html, "text/html");
            const texts = (selector) => [...parsed.querySelectorAll(selector)].map((e) => e.textContent);
            return [Search.htmlToText(html), texts(".katex-mathml").join(""), texts(".katex-html")];
        }""",
        tutorial,
    )
    assert "\u2061" in mathml and not any("\u2061" in v for v in visible), tutorial
    assert "Go to the end" not in quoted
    assert "\u2061" not in quoted, "the MathML copy of the maths is quoted"
    assert any(len(v) > 3 and v in quoted for v in visible), (
        "the visible copy of the maths is not quoted"
    )
    assert not problems, problems


def test_dark_mode_toggle(base_url, browser):
    page, _ = open_page(browser, base_url, "index.html")
    backgrounds = {}
    for _ in range(3):
        page.locator(".theme-toggle:visible").first.click()
        theme = page.evaluate("document.body.dataset.theme")
        backgrounds[theme] = page.evaluate(
            "getComputedStyle(document.body).backgroundColor"
        )
    assert {"light", "dark"} <= backgrounds.keys(), backgrounds

    def brightness(css):
        red, green, blue = (int(c) for c in re.findall(r"\d+", css)[:3])
        return (red + green + blue) / 3

    assert (
        brightness(backgrounds["dark"]) < 80 < 200 < brightness(backgrounds["light"])
    ), backgrounds


# WCAG 2 contrast (AA, normal text) of every Pygments token colour the site's
# stylesheets define, and of output text, on their backgrounds, in THEME.
CODE_CONTRAST = r"""(theme) => {
  document.body.dataset.theme = theme;
  const tokens = new Set();
  const walk = rules => { for (const rule of rules) {
    if (rule.cssRules) walk(rule.cssRules);
    for (const m of (rule.selectorText || '').matchAll(/\.highlight \.([A-Za-z0-9]+)\b/g)) tokens.add(m[1]);
  } };
  for (const sheet of document.styleSheets) walk(sheet.cssRules);
  tokens.delete('w');  // whitespace: nothing to see
  tokens.delete('hll');  // a highlighted line's background, not a text colour
  const code = document.createElement('div');
  code.className = 'highlight-python notranslate';
  code.innerHTML = '<div class="highlight"><pre>plain ' + [...tokens].map(t => `<span class="${t}">${t}</span>`).join(' ') + '</pre></div>';
  document.querySelector('article').append(code);
  const rgb = css => css.match(/[\d.]+/g).map(Number);
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = el => {
    for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0) return c; }
    return [255, 255, 255];
  };
  const contrast = el => {
    const [a, b] = [luminance(rgb(getComputedStyle(el).color)), luminance(background(el))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  const pre = code.querySelector('pre');
  const texts = [['plain code', pre], ...[...pre.children].map(s => [`token .${s.className}`, s]),
                 ['output', document.querySelector('.sphx-glr-script-out pre')]];
  const low = texts.filter(([, el]) => contrast(el) < 4.5).map(([name, el]) => `${theme}: ${name} ${contrast(el).toFixed(2)}`);
  code.remove();
  return {checked: texts.length, low};
}"""


def test_code_and_output_text_contrast_in_both_themes(site, base_url, browser):
    """Every colour Pygments gives a code token, plain code and output text
    have a contrast of at least 4.5 (WCAG AA) on their background, in the
    light theme and in the dark one (axe, which skips code, checks neither)."""
    page, problems = open_page(
        browser,
        base_url,
        tutorial_page(site.html, first_tutorial()).relative_to(site.html).as_posix(),
    )
    for theme in ("light", "dark"):
        result = page.evaluate(CODE_CONTRAST, theme)
        assert result["checked"] > 50, result
        problems += result["low"]
    page.close()
    assert not problems, problems


@pytest.mark.parametrize("theme", ["dark", "auto"])
def test_printing_from_the_dark_theme_uses_the_light_palette(
    site, base_url, browser, theme
):
    """Printed from the dark theme (chosen, or "auto" on a system in dark
    mode), code, outputs and their tokens are drawn as in the light theme:
    light backgrounds, every token at WCAG AA contrast."""
    page = browser.new_page(viewport={"width": 640, "height": 900})
    page.emulate_media(media="print", color_scheme="dark")
    page.goto(
        base_url
        + tutorial_page(site.html, first_tutorial()).relative_to(site.html).as_posix(),
        wait_until="networkidle",
    )
    result = page.evaluate(CODE_CONTRAST, theme)
    backgrounds = page.evaluate(
        "[...document.querySelectorAll('article .highlight > pre')].map(p => getComputedStyle(p).backgroundColor)"
    )
    page.close()
    assert result["checked"] > 50 and not result["low"], result
    dark = [
        b
        for b in set(backgrounds)
        if sum(int(c) for c in re.findall(r"\d+", b)[:3]) / 3 < 200
    ]
    assert not dark, f"printed on a dark background: {dark}"


# In print, where code wraps at the margin: for each line of code or output
# that wrapped, where its first piece and its continuation start (px).
WRAPPED_LINES = """() => {
  const found = [];
  for (const pre of document.querySelectorAll("article .highlight > pre")) {
    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    const pieces = [];  // [node, offset] of each character
    for (let node = walker.nextNode(); node; node = walker.nextNode())
      for (let i = 0; i < node.length; i++) pieces.push([node, i]);
    let start = 0;
    for (let i = 0; i <= pieces.length; i++) {
      if (i < pieces.length && pieces[i][0].data[pieces[i][1]] !== "\\n") continue;
      if (i > start + 1) {
        const range = document.createRange();
        range.setStart(...pieces[start]);
        range.setEnd(pieces[i - 1][0], pieces[i - 1][1] + 1);
        const rects = [...range.getClientRects()].filter((r) => r.width > 0);
        const tops = [...new Set(rects.map((r) => Math.round(r.top)))];
        if (tops.length > 1) {
          const first = Math.min(...rects.filter((r) => Math.round(r.top) === tops[0]).map((r) => r.left));
          const next = Math.min(...rects.filter((r) => Math.round(r.top) === tops[1]).map((r) => r.left));
          found.push([first, next, pre.textContent.slice(0, 30)]);
        }
      }
      start = i + 1;
    }
  }
  return found;
}"""


# A tutorial whose code and output are wider than a printed page (640 px):
# the print tests need lines that wrap.
PRINTED_TUTORIAL = "auto_examples/jacobians/plot_02_batched_jacobian_methods.html"


def test_printed_code_wraps_with_a_hanging_indent(site, base_url, browser):
    page = load(browser, base_url, PRINTED_TUTORIAL, 640, media="print")
    wrapped = page.evaluate(WRAPPED_LINES)
    page.close()
    assert wrapped, "no line of code or output wraps in print: nothing checked"
    flat = [w for w in wrapped if w[1] < w[0] + 8]
    assert not flat, (
        f"continuations not indented (first piece, continuation, block): {flat[:5]}"
    )


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_hairline_at_the_corners_of_boxes_that_do_not_scroll(
    site, base_url, browser, theme
):
    """On a 2x screen, a display of maths that fits its column shows nothing
    at its corners: the scroll cue's shadows stay under their covers."""
    page = browser.new_page(
        viewport={"width": 1280, "height": 900},
        device_scale_factor=2,
        color_scheme=theme,
    )
    found, checked = [], 0
    for path in (
        "index.html",
        tutorial_page(site.html, first_tutorial()).relative_to(site.html).as_posix(),
        "concepts/what_is_a_vjp.html",
    ):
        page.goto(base_url + path, wait_until="networkidle")
        page.evaluate("document.fonts.ready.then(() => true)")
        for box in page.query_selector_all("article div.math"):
            if box.evaluate("e => e.scrollWidth > e.clientWidth + 1"):
                continue
            box.scroll_into_view_if_needed()
            shot = Image.open(io.BytesIO(box.screenshot())).convert("RGB")
            width, height = shot.size
            background = shot.getpixel((width // 2, 1))
            corners = [
                shot.getpixel((x, y))
                for x in (0, 1, width - 2, width - 1)
                for y in (0, 1, height - 2, height - 1)
            ]
            checked += 1
            if any(
                max(abs(a - b) for a, b in zip(pixel, background)) > 8
                for pixel in corners
            ):
                found.append(path)
    page.close()
    assert checked >= 5 and not found, (
        f"hairlines at the corners of {len(found)} of {checked} displays: {found}"
    )


def test_names_linked_in_code_have_the_colour_of_the_code_around_them(
    site, base_url, browser
):
    """A name in code that links to PyTorch's reference (sphinx-gallery) is
    drawn in the code's own colour, in both themes, and underlined, unless
    sphinx-gallery marks it as an instance of the class it links to (it does
    not underline those)."""
    page, problems = open_page(
        browser,
        base_url,
        tutorial_page(site.html, first_tutorial()).relative_to(site.html).as_posix(),
    )
    for theme in ("light", "dark"):
        page.evaluate("theme => { document.body.dataset.theme = theme; }", theme)
        links = page.evaluate("""() => [...document.querySelectorAll('.highlight pre a')].map(a => [
            a.textContent, getComputedStyle(a).color, getComputedStyle(a.closest('pre')).color,
            a.matches('.sphx-glr-backref-instance') ? 'underline (instance)' : getComputedStyle(a).textDecorationLine])""")
        assert len(links) >= 3, links
        problems += [
            f"{theme}: {name} is {colour}, code {code}, underline {line}"
            for name, colour, code, line in links
            if colour != code or "underline" not in line
        ]
    page.close()
    assert not problems, problems


# -- Layout: phone and laptop widths, and print ---------------------------------------------

WIDTHS = (1280, 390)  # a laptop, then a phone (the same tab, resized)

# Whatever the main column holds must be visible or reachable by scrolling.
# An element is clipped when part of it lies outside an ancestor that cuts its
# overflow off (overflow-x hidden or clip) below the nearest scrolling box
# (overflow-x auto or scroll), or outside the window when no box scrolls it;
# and an element that cuts off its own wider content is clipped too. Only the
# outermost clipped element of a subtree is reported. Visually hidden 1 px
# elements are skipped.
# On paper (PRINTED true) nothing scrolls: a scrolling box cuts as well.
CLIPPED = """(printed) => {
  const main = document.querySelector("article[role=main]") || document.body;
  const describe = (el, why) => {
    const cls = typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    const text = (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 60);
    return `<${el.tagName.toLowerCase()}${cls}> ${why}: ${text}`;
  };
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const cuts = (el) => ["hidden", "clip"].includes(getComputedStyle(el).overflowX);
  const found = [], flagged = new Set();
  const windowRight = document.documentElement.clientWidth;
  for (const el of main.querySelectorAll("*")) {
    if (el.closest(".katex-mathml")) continue;  // KaTeX's MathML for screen readers, hidden on purpose
    if (el.ownerSVGElement) continue;  // inside an <svg>: its viewport clips it by design (KaTeX's long paths)
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    // Walking up: every box that cuts narrows what is visible, up to the first
    // box that scrolls inside the main column, which lets the reader reach the
    // rest; outside it (furo's .content scrolls on phones) scrolling moves
    // the whole column sideways, so it counts as a cut. With no such scroll
    // box, the window's edges cut too.
    let skip = false, reachable = false, left = -Infinity, right = Infinity;
    for (let ancestor = el.parentElement; ancestor && ancestor !== document.documentElement; ancestor = ancestor.parentElement) {
      if (flagged.has(ancestor)) { skip = true; break; }  // reported already, with what it holds
      if (reachable) continue;
      const inside = main.contains(ancestor);
      if (inside && scrolls(ancestor) && !printed) { reachable = true; continue; }
      if (cuts(ancestor) || ((!inside || printed) && scrolls(ancestor))) {
        const a = ancestor.getBoundingClientRect();
        left = Math.max(left, a.left); right = Math.min(right, a.right);
      }
    }
    if (skip) continue;
    if (!reachable) { left = Math.max(left, 0); right = Math.min(right, windowRight); }
    if (box.left < left - 1 || box.right > right + 1) {
      flagged.add(el);
      found.push(describe(el, `spans ${Math.round(box.left)}..${Math.round(box.right)}px, visible ${Math.round(left)}..${Math.round(right)}px`));
    } else if ((cuts(el) || (printed && scrolls(el))) && el.scrollWidth > el.clientWidth + 1) {
      flagged.add(el);
      found.push(describe(el, `cuts its ${el.scrollWidth}px content to ${el.clientWidth}px`));
    }
  }
  return found;
}"""

# A box in the main column that scrolls sideways must show that it does: the
# scroll shadows of docs/_static/cookbook.css are gradients in its background.
NO_CUE = """() => [...document.querySelectorAll("article[role=main] *")]
  .filter(el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX) && el.scrollWidth > el.clientWidth + 1)
  .filter(el => !getComputedStyle(el).backgroundImage.includes("gradient"))
  .map(el => `<${el.tagName.toLowerCase()}.${String(el.className).trim().split(/\\s+/).join(".")}>` +
             ` scrolls ${el.scrollWidth}px in ${el.clientWidth}px with no cue: ${el.textContent.trim().slice(0, 60)}`)"""

# A card title must fit its card: no line wider than the title box, and the
# title box inside the card's box.
CARD_OVERFLOW = """() => {
  const found = [];
  for (const card of document.querySelectorAll(".sphx-glr-thumbcontainer")) {
    const title = card.querySelector(".sphx-glr-thumbnail-title");
    if (!title || card.getClientRects().length === 0) continue;
    const c = card.getBoundingClientRect(), t = title.getBoundingClientRect();
    const wide = title.scrollWidth > title.clientWidth + 1;
    const outside = t.left < c.left - 1 || t.right > c.right + 1 || t.bottom > c.bottom + 1;
    if (wide || outside) {
      found.push(`${title.textContent.trim()} (title ${Math.round(t.width)}x${Math.round(t.height)}` +
                 ` scrolls ${title.scrollWidth}px, card ${Math.round(c.width)}x${Math.round(c.height)})`);
    }
  }
  return found;
}"""

# What a printed page must not show.
NOT_PRINTED = [
    ".skip-to-content",
    ".sidebar-drawer",
    ".toc-drawer",
    ".mobile-header",
    ".theme-toggle-container",
    ".related-pages",
    ".edit-this-page",
    ".view-this-page",
    ".sphx-glr-footer",
    ".sphx-glr-download-link-note",
]


# Boxes that scroll sideways, each named by its longest line (code, output)
# or its text (display maths), and figures with their smallest text as shown,
# in CSS px (docs/_ext/figure_text.py measures it at full size, page_html.py
# puts it on the image as data-text-px; a figure without it counts as 0 px).
SCROLLING = """(selector) => [...document.querySelectorAll(selector)]
  .filter((box) => box.scrollWidth > box.clientWidth + 1)
  .map((box) => box.matches(".katex-display") ? box.querySelector(".katex-mathml").textContent.slice(0, 60)
    : box.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), "").trim().slice(0, 60))"""
FIGURE_TEXT = """() => [...document.querySelectorAll("article img.sphx-glr-single-img, article img.sphx-glr-multi-img")].map((img) => {
  const full = Number(img.dataset.textPx || 0);
  return [img.getAttribute("src").split("/").pop(), full * img.clientWidth / img.naturalWidth,
          img.closest("a.full-size-figure")?.getAttribute("href") || null];
})"""
# Where a display of maths breaks its line (docs/_static/cookbook.css lets it
# break between KaTeX's boxes), not inside a pair of brackets: the text before
# each break, and after it.
BROKEN_INSIDE_BRACKETS = """() => {
  const found = [];
  for (const box of document.querySelectorAll("article .katex-display")) {
    let depth = 0, bottom = null, before = "";
    for (const piece of box.querySelectorAll(":scope > .katex > .katex-html > .katex-base")) {
      const shape = piece.getBoundingClientRect();
      if (bottom !== null && shape.top >= bottom - 1 && depth > 0) found.push(`${before.slice(-30)} | ${piece.textContent.slice(0, 12)}`);
      bottom = shape.bottom;
      for (const c of piece.textContent) depth += "(⟨".includes(c) ? 1 : ")⟩".includes(c) ? -1 : 0;
      before += piece.textContent;
    }
  }
  return found;
}"""
# Short inline code (docs/_ext/page_html.py) that the browser broke over
# two lines anyway, as "(f, x," / "v)".
BROKEN_SHORT_CODE = """() => [...document.querySelectorAll("article code.unbroken")]
  .filter((code) => new Set([...code.getClientRects()].map((r) => Math.round(r.top))).size > 1)
  .map((code) => code.textContent)"""
TABLES = "article .table-wrapper"
# An opening bracket that ended a line above the inline maths it opens
# (docs/_ext/offline_math.py binds the two).
OPENING_APART = """() => [...document.querySelectorAll("article .katex-opening")].filter((box) => {
  const range = document.createRange();
  range.selectNodeContents(box.firstChild);
  const bracket = range.getBoundingClientRect(), first = box.querySelector(".katex-base").getBoundingClientRect();
  return bracket.bottom <= first.top || first.bottom <= bracket.top;
}).map((box) => box.textContent.slice(0, 30))"""
CODE = "article div[class*='highlight-']:not(.sphx-glr-script-out, .cell_output div) > .highlight > pre"  # code, not outputs
OUTPUT = "article div.sphx-glr-script-out pre, article div.cell_output pre"
DISPLAYS = "article .katex-display"
# Shown wider than furo's column on purpose, by page: (what, why).
WIDE_ON_PURPOSE = {
    "auto_examples/jacobians/plot_01_when_ones_is_not_the_derivative.html": [
        (
            "softmax:J=diag\u2061(s)\u2212ss\u22a4,1\u22a4J=s\u22a4\u2212(1\u22a4s)\u2009s\u22a4=0;cumsum:Jij=[\u2009j\u2264i\u2009],",
            "three Jacobians and their column sums aligned in rows and columns: on a phone the rows scroll",
        ),
    ],
    "maths_constructs.html": [
        (
            "Jn=\u2202f(xn)\u2202xn=(bnancos\u2061(an+bn2)2bncos\u2061(an+bn2)2an\u22123),\u2207f(xn)=(",
            "two matrices side by side: the construct as a tutorial writes it",
        ),
        (
            "softmax:J=diag\u2061(s)\u2212ss\u22a4,1\u22a4J=0;cumsum:Jij=[\u2009j\u2264i\u2009],(1\u22a4J)j=N\u2212j+1",
            "aligned rows, as on jacobians/plot_01",
        ),
    ],
}
SMALLEST_TEXT_PX = 11


def readability_problems(page, path, width):
    """At either width a figure's text is 11 px or more (on a phone the figure
    keeps its size and scrolls sideways in its box), no short code breaks and
    no opening bracket ends a line before its maths. At 1280 px no code cell or
    output block scrolls and every figure opens its full-size file; at 390 px
    code may scroll (nothing else fits it), tables do not, and only a listed
    few displays of maths do, none broken inside brackets."""
    allowed = [what for what, _ in WIDE_ON_PURPOSE.get(path, [])]
    figures = page.evaluate(FIGURE_TEXT)
    problems = []
    problems += [
        f"bracket ends a line before its maths: {t!r}"
        for t in page.evaluate(OPENING_APART)
    ]
    problems += [f"short code breaks: {c!r}" for c in page.evaluate(BROKEN_SHORT_CODE)]
    problems += [
        f"figure {image}: smallest text shown at {shown:.1f} px"
        for image, shown, _ in figures
        if shown < SMALLEST_TEXT_PX
    ]
    if width >= 1280:
        for kind, selector in (("code", CODE), ("output", OUTPUT)):
            problems += [
                f"{kind} scrolls: {line!r}"
                for line in page.evaluate(SCROLLING, selector)
                if line not in allowed
            ]
        problems += [
            f"figure {image} does not open its full-size file: {link}"
            for image, _, link in figures
            if not (link or "").endswith("_2_00x.png")
        ]
    else:
        problems += [
            f"maths scrolls: {t!r}"
            for t in page.evaluate(SCROLLING, DISPLAYS)
            if t not in allowed
        ]
        problems += [
            f"maths breaks inside brackets: {t!r}"
            for t in page.evaluate(BROKEN_INSIDE_BRACKETS)
        ]
        problems += [f"table scrolls: {t!r}" for t in page.evaluate(SCROLLING, TABLES)]
    return problems


def layout_problems(page):
    """What does not fit on PAGE at its current width."""
    problems = [f"card title overflows: {t}" for t in page.evaluate(CARD_OVERFLOW)]
    problems += [f"clipped: {c}" for c in page.evaluate(CLIPPED, False)]
    return problems + page.evaluate(NO_CUE)


def load(browser, base_url, path, width, media="screen"):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.emulate_media(media=media)
    page.goto(base_url + path, wait_until="networkidle")
    return page


@pytest.mark.parametrize("path", [PRINTED_TUTORIAL, "concepts/what_is_a_vjp.html"])
def test_printed_page_is_a_clean_handout(site, base_url, browser, path):
    # An A4 page at 96 dpi is 794 px wide; with 2 cm margins about 640 px are printed.
    page = load(browser, base_url, path, 640, media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")  # as printing does
    shown = page.evaluate(
        "selectors => selectors.filter(s => [...document.querySelectorAll(s)].some(e => e.getClientRects().length > 0))",
        NOT_PRINTED,
    )
    clipped = page.evaluate(CLIPPED, True)
    page.close()
    assert not shown, f"printed: {shown}"
    assert not clipped, f"cut at the margin: {clipped}"
