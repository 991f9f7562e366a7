"""No page loads anything from outside the site: no script, stylesheet, font,
image or frame from a CDN. (Links a reader may click are fine.)"""

import re

from conftest import soup

EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?((https?:)?//[^'")]+)|@import\s+['"]((https?:)?//[^'"]+)""")


def test_pages_load_nothing_from_outside(site):
    pages = sorted(site.html.rglob("*.html"))
    assert pages
    for path in pages:
        page = soup(path)
        loads = [tag.get("src") for tag in page.find_all(["script", "img", "iframe", "audio", "video", "source", "embed"])]
        loads += [tag.get("href") for tag in page.find_all("link") if tag.get("rel") != ["canonical"]]
        loads += [tag.get("data") for tag in page.find_all("object")]
        external = [url for url in loads if url and EXTERNAL.match(url)]
        assert not external, f"{path.relative_to(site.html)} loads {external}"
        for style in page.find_all("style"):
            assert not CSS_URL.search(style.get_text()), f"{path}: inline style loads from outside"
        scripts = " ".join(str(tag) for tag in page.find_all("script")).lower()
        assert "mathjax" not in scripts, f"{path}: maths must not need MathJax"


def test_stylesheets_and_scripts_load_nothing_from_outside(site):
    files = list(site.html.rglob("*.css")) + list(site.html.rglob("*.js"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        match = CSS_URL.search(text) if path.suffix == ".css" else None
        assert not match, f"{path.relative_to(site.html)} loads {match.group(0)}"
