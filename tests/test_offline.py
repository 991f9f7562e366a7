"""No page loads anything from outside the site: no script, stylesheet, font,
image or frame from a CDN. (Links a reader may click are fine.)"""

import re

from conftest import soup

EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(
    r"""url\(\s*['"]?((https?:)?//[^'")]+)|@import\s+['"]((https?:)?//[^'"]+)"""
)
# A URL written as a string in a script (what fetch, import, XHR or a new
# <script src> would load), after comments are removed. XML namespaces name
# things, they load nothing.
JS_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\\\"'`])//[^\n]*", re.DOTALL)
JS_URL = re.compile(r"""["'`]((https?:)?//[^"'`\s]+)""")
NAMESPACES = ("http://www.w3.org/",)


def urls_a_script_can_load(text: str) -> list[str]:
    code = JS_COMMENT.sub("", text)
    return [
        m.group(1)
        for m in JS_URL.finditer(code)
        if not m.group(1).startswith(NAMESPACES)
    ]


def test_pages_load_nothing_from_outside(site):
    pages = sorted(site.html.rglob("*.html"))
    assert pages
    for path in pages:
        page = soup(
            path,
            "script",
            "img",
            "iframe",
            "audio",
            "video",
            "source",
            "embed",
            "link",
            "object",
            "style",
        )
        loads = [
            tag.get("src")
            for tag in page.find_all(
                ["script", "img", "iframe", "audio", "video", "source", "embed"]
            )
        ]
        loads += [
            tag.get("href")
            for tag in page.find_all("link")
            if tag.get("rel") != ["canonical"]
        ]
        loads += [tag.get("data") for tag in page.find_all("object")]
        external = [url for url in loads if url and EXTERNAL.match(url)]
        assert not external, f"{path.relative_to(site.html)} loads {external}"
        for style in page.find_all("style"):
            assert not CSS_URL.search(style.get_text()), (
                f"{path}: inline style loads from outside"
            )
        scripts = " ".join(str(tag) for tag in page.find_all("script")).lower()
        assert "mathjax" not in scripts, f"{path}: maths must not need MathJax"


def test_stylesheets_load_nothing_from_outside(site):
    files = list(site.html.rglob("*.css"))
    assert files
    for path in files:
        match = CSS_URL.search(path.read_text(encoding="utf-8", errors="replace"))
        assert not match, f"{path.relative_to(site.html)} loads {match.group(0)}"


def test_scripts_name_no_outside_url(site):
    files = list(site.html.rglob("*.js"))
    assert len(files) >= 5
    for path in files:
        urls = urls_a_script_can_load(
            path.read_text(encoding="utf-8", errors="replace")
        )
        assert not urls, f"{path.relative_to(site.html)} may load {urls}"


def test_the_script_check_sees_a_cdn_url():
    # The check above on the kind of line it exists to catch, and on what it must let pass.
    assert urls_a_script_can_load(
        's.src = "https://cdn.example.org/mathjax/tex-chtml.js";'
    ) == ["https://cdn.example.org/mathjax/tex-chtml.js"]
    assert urls_a_script_can_load("fetch(`//cdn.example.org/x.json`)") == [
        "//cdn.example.org/x.json"
    ]
    assert (
        urls_a_script_can_load(
            '// see https://example.org\nconst ns = "http://www.w3.org/2000/svg";'
        )
        == []
    )
