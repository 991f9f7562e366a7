"""What the site offers besides the tutorials: the landing page, the concept
pages (executed notebooks), the API index, links to PyTorch's reference, and
the reader conveniences (copy buttons, favicon, 404, sitemap, social cards,
run times, Colab links, edit and view links), `make serve`, and the hosting
configuration."""

import json
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from bs4 import BeautifulSoup, SoupStrainer
from conftest import EXAMPLES, REPO, first_tutorial, soup, tutorial_page
from questions_page import has_check
from sitebuild import CONF, SITE_PREFIX, make_command

TORCH_DOCS = CONF["TORCH_DOCS"]
SITE_URL = CONF["SITE_URL"]


def thumbnails(page):
    return [img["src"] for img in page.select("div.sphx-glr-thumbcontainer img")]


def test_landing_page_has_a_start_path_and_cards_for_every_section(site):
    page = soup(site.html / "index.html")
    start = page.find(id="start-here")
    assert start is not None and len(start.select("ol li a")) >= 5
    cards = thumbnails(page)
    assert len(cards) == len(EXAMPLES)
    for section in {e.parent.name for e in EXAMPLES}:
        assert any(
            section in a["href"] for a in page.select("div.sphx-glr-thumbcontainer a")
        )


def test_every_thumbnail_is_the_tutorials_own_figure(site):
    default = (
        Path(__import__("sphinx_gallery").__file__).parent / "_static" / "no_image.png"
    )
    seen = set()
    for example in EXAMPLES:
        thumb = site.html / "_images" / f"sphx_glr_{example.stem}_thumb.png"
        assert thumb.is_file(), thumb
        content = thumb.read_bytes()
        assert content != default.read_bytes(), (
            f"{example.name} has no figure for its thumbnail"
        )
        assert content not in seen, f"{example.name} shares its thumbnail"
        seen.add(content)


def test_concept_pages_are_executed_notebooks(site):
    for name in ("what_is_a_vjp", "cheat_sheet"):
        page = soup(site.html / "concepts" / f"{name}.html")
        outputs = page.select("div.cell_output")
        assert outputs, f"{name}: no executed output"
        assert page.select("article math"), f"{name}: no maths"
    glossary = soup(site.html / "concepts" / "glossary.html")
    assert len(glossary.select("dl.glossary dt")) >= 12


def test_api_index_lists_tutorials_and_links_to_the_pinned_reference(site):
    """Each section links to PyTorch's reference for the pinned release or, for
    a name that reference does not document, to its source at the pinned tag."""
    record = json.loads((REPO / "docs" / "_ext" / "torch_documented.json").read_text())
    source = f"https://github.com/pytorch/pytorch/blob/v{record['release']}/"
    page = soup(site.html / "api.html")
    sections = page.select("article section section")
    assert len(sections) >= 20
    for section in sections:
        name = section.find("h2").get_text(strip=True).rstrip("#¶")
        links = [a["href"] for a in section.select("a.reference.external")]
        pinned = source if name in record["not documented"] else TORCH_DOCS
        assert any(link.startswith(pinned) for link in links), (
            f"{name}: no link to {pinned}"
        )
        assert thumbnails(section), f"{name}: no tutorial uses it"


def test_torch_names_in_code_and_prose_link_to_the_pinned_reference(site):
    """On the first tutorial, names in code link to PyTorch's reference for
    the pinned release, and a name the prose links is linked in code too, to
    the same page."""
    page = soup(tutorial_page(site.html, first_tutorial()))
    code_links = {a["href"] for a in page.select("div.highlight a[href]")}
    prose_links = {
        a["href"]
        for a in page.select("article p a.reference.external")
        if a["href"].startswith(TORCH_DOCS)
    }
    assert code_links & prose_links, (
        f"no PyTorch page linked from both code and prose: {sorted(prose_links)}"
    )
    assert all(link.startswith(TORCH_DOCS) for link in code_links)


def test_reader_conveniences(site):
    tutorial = soup(tutorial_page(site.html, first_tutorial()))
    scripts = {s.get("src", "").split("?")[0] for s in tutorial.find_all("script")}
    assert "_static/clipboard.min.js" in {s.removeprefix("../../") for s in scripts}, (
        "copy buttons"
    )
    assert tutorial.find("link", rel="icon")["href"].endswith("favicon.svg")
    assert tutorial.find("meta", property="og:title") and tutorial.find(
        "meta", property="og:url"
    )["content"].startswith(SITE_URL)
    assert "Total running time of the script" in tutorial.get_text()

    not_found = (site.html / "404.html").read_text()
    assert f'href="{CONF["notfound_urls_prefix"]}_static/' in not_found

    sitemap = set(
        re.findall(r"<loc>(.*?)</loc>", (site.html / "sitemap.xml").read_text())
    )
    for example in EXAMPLES:
        assert (
            f"{SITE_URL}auto_examples/{example.parent.name}/{example.stem}.html"
            in sitemap
        )
    assert (
        f"{SITE_URL}concepts/glossary.html" in sitemap
        and f"{SITE_URL}index.html" in sitemap
    )
    for not_a_page in ("404.html", "genindex.html", "search.html"):
        assert SITE_URL + not_a_page not in sitemap, f"the sitemap lists {not_a_page}"


def test_every_tutorial_has_a_colab_link_to_its_published_notebook(site):
    owner_repo = CONF["REPOSITORY"].removeprefix("https://github.com/")
    for example in EXAMPLES:
        page = soup(tutorial_page(site.html, example), "a")
        notebook = next(
            a["href"]
            for a in page.select("a[href$='.ipynb']")
            if "_downloads" in a["href"]
        )
        path = notebook[notebook.index("_downloads/") :]
        colab = [a["href"] for a in page.select("a[href*='colab.research.google.com']")]
        assert colab == [
            f"https://colab.research.google.com/github/{owner_repo}/blob/gh-pages/{path}"
        ]


def test_hosting_builds_with_make_html_and_publishes_only_the_tested_site():
    """Read the Docs builds with `make html`; the workflow publishes, after the
    tests pass, the very site the tests checked (the test job's artifact, from
    VJP_COOKBOOK_TESTED_SITE, see conftest.site), not another build."""
    readthedocs = yaml.safe_load((REPO / ".readthedocs.yaml").read_text())
    assert readthedocs["build"]["commands"][0].endswith("make html")
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "docs.yml").read_text())
    test, publish = workflow["jobs"]["test"], workflow["jobs"]["publish"]
    assert (
        "bash .ci/run" in [step.get("run") for step in test["steps"]]
        and test["timeout-minutes"] <= 90
    )
    assert publish["needs"] == "test", "publishing waits for the tests"
    (tested,) = [step for step in test["steps"] if step.get("run") == "bash .ci/run"]
    (upload,) = [
        step
        for step in test["steps"]
        if step.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert upload["with"]["path"] in tested["env"]["VJP_COOKBOOK_TESTED_SITE"], (
        "the upload is not the tested site"
    )
    (download,) = [
        step
        for step in publish["steps"]
        if step.get("uses", "").startswith("actions/download-artifact@")
    ]
    assert (
        download["with"]["name"] == upload["with"]["name"]
        and download["with"]["path"] == "build/html"
    )
    runs = [step.get("run", "") for step in publish["steps"]]
    assert not any("make" in run or "sphinx-build" in run for run in runs), (
        "the publish job builds the site again"
    )
    assert (
        any("cd build/html" in run and "gh-pages" in run for run in runs)
        and CONF["colab_branch"] == "gh-pages"
    )
    for job in (test, publish):
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), (
                    f"not pinned to a commit: {step['uses']}"
                )


def test_make_serve_serves_the_built_site(site):
    """`make serve PORT=...` serves build/html: the landing page it sends is the built one."""
    with (
        socket.socket() as probe
    ):  # a port free now (the server binds it a moment later)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        make_command(site.root, "serve") + [f"PORT={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/index.html", timeout=5
                ) as response:
                    served = response.read()
                break
            except OSError:
                assert server.poll() is None, (
                    f"make serve ended: {server.stderr.read().decode()[-2000:]}"
                )
                assert time.monotonic() < deadline, (
                    "make serve did not answer within 60 s"
                )
                time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stderr.close()
    assert served == (site.html / "index.html").read_bytes()


def test_tutorial_template_runs(tmp_path):
    """The template a new page starts from runs as a script and prints what
    it checks (its breakage marker is tested with the tutorials' in
    test_failures.py, its sections in test_skeleton.py)."""
    template = REPO / "docs" / "tutorial_template.py"
    result = subprocess.run(
        [sys.executable, str(template)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"MPLBACKEND": "Agg", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the template prints nothing"


def test_contributing_page_shows_the_template(site):
    """Every line of docs/tutorial_template.py is shown in a code block of the contributing page."""
    page = soup(site.html / "contributing.html")
    assert "make livehtml" in page.get_text()
    code = "\n".join(pre.get_text() for pre in page.select("div.highlight pre"))
    missing = [
        line
        for line in (REPO / "docs" / "tutorial_template.py")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.strip() and line not in code
    ]
    assert not missing, missing[:5]


def test_404_page_and_sitemap_follow_the_host(monkeypatch):
    # Read the Docs serves the site under /<language>/<version>/ and says so
    # in READTHEDOCS_CANONICAL_URL; GitHub Pages serves it under SITE_URL.
    monkeypatch.setenv(
        "READTHEDOCS_CANONICAL_URL", "https://vjp-cookbook.readthedocs.io/en/latest/"
    )
    on_read_the_docs = runpy.run_path(str(REPO / "conf.py"))
    assert on_read_the_docs["notfound_urls_prefix"] == "/en/latest/"
    assert (
        on_read_the_docs["html_baseurl"]
        == "https://vjp-cookbook.readthedocs.io/en/latest/"
    )
    monkeypatch.delenv("READTHEDOCS_CANONICAL_URL")
    assert runpy.run_path(str(REPO / "conf.py"))["notfound_urls_prefix"] == SITE_PREFIX


def test_every_image_has_the_width_and_height_of_its_file_and_thumbnails_fit_their_cards(
    site,
):
    """So the browser reserves each image's space before it loads, and a
    thumbnail is not much larger than the 160 x 112 px card shows."""
    import page_html  # docs/_ext: reads a PNG's size from its header

    found, thumbs = [], 0
    for path in site.html.rglob("*.html"):
        for img in soup(path, "img").select("img[src$='.png']"):
            file = (path.parent / img["src"]).resolve()
            size = page_html.png_size(file)
            if (img.get("width"), img.get("height")) != tuple(str(n) for n in size):
                found.append(
                    f"{path.relative_to(site.html)}: {img['src']} is {size}, says {img.get('width')} x {img.get('height')}"
                )
            if "_thumb" in img["src"]:
                thumbs += 1
                if size[0] > 2 * 160 or size[1] > 2 * 112:
                    found.append(
                        f"{img['src']} is {size}: more than twice its card's 160 x 112 px"
                    )
    assert thumbs >= len(EXAMPLES)
    assert not found, found[:20]


def test_pages_link_only_the_stylesheets_and_scripts_they_use_and_load_later_thumbnails_lazily(
    site,
):
    """docs/_ext/page_html.py: myst-nb's stylesheet only where there are
    notebook cells, no sphinx-gallery sheet for Binder, data frames or HTML
    output, its script that filters cards by tag only where a card has tags,
    and card thumbnails after the first four marked loading="lazy"."""
    found, with_cells = [], 0
    for path in site.html.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        page = BeautifulSoup(
            text, "html.parser", parse_only=SoupStrainer(["link", "img", "script"])
        )
        sheets = [
            link["href"].split("?")[0].rsplit("/", 1)[-1]
            for link in page.select("link[rel~=stylesheet]")
        ]
        cells = re.search(r'<div class="cell[ "]', text) is not None
        with_cells += cells
        if cells != any(sheet.startswith("mystnb.") for sheet in sheets):
            found.append(
                f"{path.name}: notebook cells {cells}, myst-nb's stylesheet {not cells}"
            )
        found += [
            f"{path.name}: links {sheet}"
            for sheet in sheets
            if sheet.startswith(
                (
                    "sg_gallery-binder",
                    "sg_gallery-dataframe",
                    "sg_gallery-rendered-html",
                )
            )
        ]
        if ("data-sgtags" in text) != bool(page.select("script[src*='sg-tags.js']")):
            found.append(
                f"{path.name}: cards with tags {'data-sgtags' in text}, tag script {'data-sgtags' not in text}"
            )
        lazy = [
            img.get("loading") == "lazy" for img in page.select("img[src*='_thumb']")
        ]
        if lazy != [False] * min(4, len(lazy)) + [True] * max(0, len(lazy) - 4):
            found.append(f"{path.name}: thumbnails lazy {lazy[:8]}...")
    assert not found, found[:10]
    assert with_cells >= 2, "the concept notebooks have cells"


def pygments_rules(css, prefix):
    """The declarations of pygments.css under PREFIX: the code block's own
    (key "") and each token class's."""
    rules = {}
    for selector, body in re.findall(
        r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", css)
    ):
        token = re.fullmatch(re.escape(prefix) + r"(?: \.(\w+))?", selector.strip())
        if token:
            rules[token.group(1) or ""] = body.strip()
    return rules


def test_code_looks_the_same_with_fewer_elements(site):
    """docs/_ext/page_html.py drops the spans of code tokens drawn like
    plain code. Judged by pygments.css in both themes: on Sphinx's highlighting
    of every example's code it drops every span of such a token and keeps
    every other one (no coloured token loses its colour), and no tutorial page
    has a span of such a token left."""
    from collections import Counter

    import page_html
    from sphinx.highlighting import PygmentsBridge

    css = (site.html / "_static" / "pygments.css").read_text(encoding="utf-8")
    themes = [
        pygments_rules(css, ".highlight"),
        pygments_rules(css, 'body[data-theme="dark"] .highlight'),
    ]
    text_colours = [re.search(r"\bcolor: #\w+", theme[""]).group(0) for theme in themes]

    def plain(token):
        looks = [theme.get(token, "") for theme in themes]
        if (
            token == "w"
        ):  # whitespace has no ink: only a background or a line would show
            return not any(
                re.search(r"background|text-decoration|border", rule) for rule in looks
            )
        return all(rule in ("", colour) for rule, colour in zip(looks, text_colours))

    light = PygmentsBridge(
        "html", CONF.get("pygments_style", "a11y-light")
    )  # furo's default style
    dark = PygmentsBridge("html", CONF.get("pygments_dark_style", "native"))
    unwrap = page_html.plain_spans(
        page_html.plain_token_classes(
            [light.formatter_args["style"], dark.formatter_args["style"]]
        )
    )
    spans = re.compile(r'<span class="(\w+)">')
    before, after, left = Counter(), Counter(), []
    for example in EXAMPLES:
        highlighted = light.highlight_block(
            example.read_text(encoding="utf-8"), "python"
        )
        before.update(spans.findall(highlighted))
        after.update(spans.findall(unwrap.sub(r"\1", highlighted)))
        page = tutorial_page(site.html, example).read_text(encoding="utf-8")
        code = "".join(
            re.findall(r'<div class="highlight"><pre>(.*?)</pre>', page, re.S)
        )
        left += [
            f"{example.name}: {token}" for token in spans.findall(code) if plain(token)
        ]
        assert code
    assert {"n", "p", "w"} <= {token for token in before if plain(token)}, (
        "names, brackets and spaces are plain"
    )
    assert sum(after.values()) > 1000
    wrong = {
        token: (before[token], after[token])
        for token in before
        if after[token] != (0 if plain(token) else before[token])
    }
    assert not wrong, (
        f"spans (before, after) of each token class wrongly kept or dropped: {wrong}"
    )
    assert not left, left[:10]


def test_alt_texts_are_words_and_symbols_not_tex(site):
    """docs/_ext/tex_text.py turns the maths in figure titles, which
    sphinx-gallery makes alt texts, into characters a screen reader reads."""
    alts = [
        img.get("alt", "")
        for path in site.html.rglob("*.html")
        for img in soup(path, "img").select("img")
    ]
    assert len(alts) > len(EXAMPLES)
    assert not [alt for alt in alts if "$" in alt or "\\" in alt]
    # Figure titles hold maths, written in characters (the conversion itself is
    # unit-tested: tests/unit/test_tex_text.py).
    assert any(re.search(r"[²ᵀ√∂ℝ‖×−]", alt) for alt in alts), (
        "no maths in any alt text"
    )


def test_every_page_has_a_description(site):
    """sphinxext-opengraph's for pages made from sources, conf.py's for the index, search and 404 pages."""
    missing = [
        p.name
        for p in site.html.rglob("*.html")
        if not soup(p, "meta").select('meta[name="description"][content]')
    ]
    assert not missing, missing


EDIT_AND_VIEW = SoupStrainer(class_=("edit-this-page", "view-this-page"))


def test_edit_and_view_links_point_at_sources_not_generated_files(site):
    """A tutorial's links lead to examples/<section>/<name>.py, a gallery
    index's to its GALLERY_HEADER.rst; no page links to a generated file."""
    generated = re.compile(r"auto_examples/.*\.rst|gen_modules/")
    found = {}
    tutorials = 0
    for path in sorted(
        p.relative_to(site.html).as_posix() for p in site.html.rglob("*.html")
    ):
        # Only the edit and view links are parsed (a whole page takes ten times longer).
        page = BeautifulSoup(
            (site.html / path).read_text(encoding="utf-8"),
            "html.parser",
            parse_only=EDIT_AND_VIEW,
        )
        links = [
            a["href"]
            for a in page.select(".edit-this-page a[href], .view-this-page a[href]")
        ]
        bad = [href for href in links if generated.search(href)]
        match = re.fullmatch(r"auto_examples/(\w+)/(plot_\w+)\.html", path)
        if match:
            tutorials += 1
            source = f"/examples/{match[1]}/{match[2]}.py"
            bad += [
                f"{href} (expected ...{source})" for href in links if source not in href
            ]
            if len(links) != 2:
                bad.append(f"{len(links)} edit/view links, expected 2")
        match = re.fullmatch(r"auto_examples/(?:(\w+)/)?index\.html", path)
        if match:
            header = f"/examples/{match[1] + '/' if match[1] else ''}GALLERY_HEADER.rst"
            bad += [
                f"{href} (expected ...{header})" for href in links if header not in href
            ]
        if bad:
            found[path] = bad
    assert tutorials >= 10
    assert not found, found


def test_every_question_links_to_a_section_of_an_executed_page_that_checks(site):
    """docs/questions.md in the built site: under each question, every link
    lands on an element that exists, in a section whose code asserts, on a
    tutorial page the build ran (tests/questions_page.py says what asserts)."""
    questions = soup(site.html / "questions.html").select("section section section")
    assert len(questions) >= 40, len(questions)
    pages = {}
    for question in questions:
        title = question.find("h3").get_text(" ", strip=True)
        hrefs = [a["href"] for a in question.select("a.reference.internal")]
        assert any("#" in href for href in hrefs), f"{title}: no link to a section"
        for href in hrefs:
            path, _, anchor = href.partition("#")
            target = (site.html / path).resolve()
            if target not in pages:
                pages[target] = soup(target)
            page = pages[target]
            found = page.find(id=anchor)
            assert found is not None, f"{title}: {href} has no such anchor"
            section = found if found.name == "section" else found.find_parent("section")
            code = "\n".join(
                pre.get_text() for pre in section.select("div.highlight pre")
            )
            every = "\n".join(
                pre.get_text() for pre in page.select("div.highlight pre")
            )
            assert "Total running time of the script" in page.get_text(), href
            assert has_check(code, every), f"{title}: {href} checks nothing"
