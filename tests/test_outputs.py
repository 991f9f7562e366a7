"""Nothing from the build machine reaches a page: no output block under a
code cell (a tutorial's or a concept notebook's) shows a warning, a
traceback, or a path of the machine that built it (site-packages, the build
folder, /tmp, a home folder). A page that shows an error on purpose prints
its message, not a traceback."""

import re

from conftest import soup

# A warning as Python prints it ("file.py:366: UserWarning: ..."), not a page
# that names a warning on purpose ("float32 gives a UserWarning").
LEAKS = re.compile(
    r"\w*Warning: |Traceback \(most recent call last\)|site-packages|\.venv/|/tmp/|/home/|/root/|/usr/lib/"
)
OUTPUTS = "div.sphx-glr-script-out pre, div.cell_output pre"


def leaks(text: str, build_root: str) -> list[str]:
    found = [m.group() for m in LEAKS.finditer(text)]
    return found + ([build_root] if build_root in text else [])


def test_no_output_shows_a_warning_a_traceback_or_a_local_path(site):
    problems = []
    for page in sorted(site.html.rglob("*.html")):
        for block in soup(page, "div").select(OUTPUTS):
            for found in leaks(block.get_text(), str(site.root)):
                problems.append(
                    f"{page.relative_to(site.html)}: {found!r} in {block.get_text()[:200]!r}"
                )
    assert not problems, "\n".join(problems)


def test_the_leak_patterns():
    root = "/srv/build/repo"
    shown = "/x/.venv/lib/python3.11/site-packages/torch/fx/a.py:366: UserWarning: Attempted to insert"
    assert set(leaks(shown, root)) == {".venv/", "site-packages", "UserWarning: "}
    assert leaks("float32: a UserWarning, and gradcheck returns False", root) == []
    assert leaks("RuntimeError: v has invalid size", root) == []
    assert leaks(f"wrote {root}/x.png", root) == [root]
