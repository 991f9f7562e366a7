"""Unit tests: each module of docs/_ext on its own, in seconds, with no site
build and no torch. docs/_ext is importable from here, as conf.py makes it
importable for Sphinx."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "docs" / "_ext"))
