"""Unit tests: each module of docs/_ext on its own, in seconds, with no site
build and no torch. docs/_ext is importable from here, as conf.py makes it
importable for Sphinx."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "docs" / "_ext"))


@pytest.fixture
def fake_app():
    """Makes a stand-in for Sphinx's application: this repository's docs/ and
    examples/, conf.py's gallery folders (or the ones given); the files its
    pages depend on are kept in env.noted."""

    def make(examples_dirs="../examples", gallery_dirs="auto_examples"):
        gallery = {
            "examples_dirs": examples_dirs,
            "gallery_dirs": gallery_dirs,
            "example_extensions": {".py"},
        }
        noted = []
        return SimpleNamespace(
            srcdir=str(REPO / "docs"),
            config=SimpleNamespace(sphinx_gallery_conf=gallery),
            env=SimpleNamespace(note_dependency=noted.append, noted=noted),
        )

    return make
