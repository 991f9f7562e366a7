"""Say, next to each tutorial's downloads, which torch releases ran its code.

``make compat`` (tests/compat.py) records in ``torch_releases.json``, per
example, the SHA-256 of the source it ran and the releases it passed with. A
page lists them only while its example is still that source, and otherwise
just this build's release: every release named ran this very code.
"""

import hashlib
import json
import platform
from importlib.metadata import version
from pathlib import Path

from docutils import nodes
from source_links import example_source

RECORD = Path(__file__).with_name("torch_releases.json")


def release_key(release: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release.split(".")[:3])


def build_release() -> str:
    """The torch this build runs the examples with, without a local tag
    (2.13.0+cpu -> 2.13.0)."""
    return version("torch").split("+")[0]


def build_platform() -> str:
    return f"{platform.system()} {platform.machine().replace('_', '-')}"


def checked_with(
    source: bytes, entry: dict | None, record_platform: str
) -> tuple[list[str], str | None]:
    """(the releases that ran SOURCE, the platform of the recorded runs or None
    when only this build counts); ENTRY is the example's record."""
    own = build_release()
    if not entry or entry.get("sha256") != hashlib.sha256(source).hexdigest():
        return [own], None
    passed = set(entry.get("passed", [])) | {own}
    return sorted(passed, key=release_key), record_platform


def sentence(releases: list[str], recorded_on: str | None) -> str:
    names = ", ".join(releases[:-1]) + (" and " if releases[1:] else "") + releases[-1]
    where = build_platform()
    if recorded_on not in (None, where):
        where = f"{recorded_on} and {where}"
    return f"Checked with torch {names} on {where}."


def add_releases(app, doctree):
    source = example_source(app, app.env.docname)
    if source is None or not Path(source).name.startswith("plot_"):  # an index
        return
    source = Path(app.srcdir, source)
    record = {}
    # A new record re-reads the page; a missing one would, on every build.
    if RECORD.exists():
        app.env.note_dependency(str(RECORD))
        record = json.loads(RECORD.read_text())
    key = f"{source.parent.name}/{source.name}"
    entry = record.get("examples", {}).get(key)
    releases, recorded_on = checked_with(
        source.read_bytes(), entry, record.get("platform", "")
    )
    for footer in doctree.findall(nodes.container):
        if "sphx-glr-footer" in footer.get("classes", []):
            footer.insert(
                0,
                nodes.paragraph(
                    "", sentence(releases, recorded_on), classes=["torch-releases"]
                ),
            )
            return
    raise ValueError(f"{app.env.docname}: no download footer for the torch releases")


def setup(app):
    app.connect("doctree-read", add_releases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
