"""Write docs/_ext/torch.inv, the intersphinx inventory of the PyTorch names used here.

No PyTorch inventory can be downloaded while building (no network). This
script (``make inventory``) collects every ``torch.…`` name in examples/ and
docs/ (dotted, or imported with ``from torch… import``) and lists those that
docs/_ext/torch_documented.json records as documented for the pinned release,
at the address recorded there. Other names are shown unlinked: private ones
(``torch._dynamo.reset``), attributes (``torch.__version__.split``) and the
undocumented. It names the functions and classes used that the record does
not mention yet. tests/unit/test_torch_inventory.py fails while the committed
file is out of date.
"""

import importlib
import inspect
import json
import re
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "docs" / "_ext" / "torch.inv"
RECORD = ROOT / "docs" / "_ext" / "torch_documented.json"

DOTTED = re.compile(r"\btorch(?:\.[A-Za-z_]\w*)+")
# `from torch.x import a, b` (one line) or `from torch.x import (a,\n b)`.
FROM_IMPORT = re.compile(
    r"^[ \t]*from (torch[\w.]*) import (?:\(([\w,\s]+)\)|([\w, \t]+))", re.MULTILINE
)
IMPORT_AS = re.compile(r"^\s*import (torch[\w.]*) as (\w+)", re.MULTILINE)


def names_used(paths):
    names = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        names.update(DOTTED.findall(text))
        aliases = {alias: module for module, alias in IMPORT_AS.findall(text)}
        for module, in_parentheses, on_one_line in FROM_IMPORT.findall(text):
            for name in re.split(r"[,\s]+", in_parentheses or on_one_line):
                if name:
                    names.add(f"{module}.{name}")
                    aliases[name] = f"{module}.{name}"
        # Attributes of imported modules: nn.Linear, fwAD.make_dual.
        for alias, full in aliases.items():
            found = re.findall(rf"\b{alias}\.(\w+)", text)
            names.update(f"{full}.{attribute}" for attribute in found)
    return names


def site_names():
    sources = sorted(ROOT.glob("examples/**/*.py")) + sorted(ROOT.glob("docs/**/*.md"))
    return names_used(sources)


def is_private(name):
    return any(part.startswith("_") for part in name.split("."))


def record():
    return json.loads(RECORD.read_text(encoding="utf-8"))


def inventory_lines():
    documented = record()["documented"]
    return [
        f"{name} {documented[name]['type']} 1 {documented[name]['address']} -"
        for name in sorted(site_names())
        if name in documented
    ]


def write(path=INVENTORY):
    header = (
        "# Sphinx inventory version 2\n"
        "# Project: PyTorch\n"
        f"# Version: {record()['release']}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "\n".join(inventory_lines()) + "\n"
    path.write_bytes(header.encode() + zlib.compress(body.encode(), 9))
    return body


def resolve(name):
    """The object NAME names in the installed torch, or None. Attributes win over
    submodules, as in Python: ``torch.autograd.gradcheck`` is the function."""
    parts = name.split(".")
    obj = importlib.import_module(parts[0])
    for depth, attribute in enumerate(parts[1:], start=1):
        prefix = ".".join(parts[:depth])
        for lookup in (
            lambda: getattr(obj, attribute),
            lambda: getattr(importlib.import_module(prefix), attribute),
            lambda: importlib.import_module(f"{prefix}.{attribute}"),
        ):
            try:
                obj = lookup()
                break
            except (AttributeError, ImportError):
                continue
        else:
            return None
    return obj


def not_yet_recorded():
    """Public functions and classes the site uses that the record does not mention."""
    known = record()["documented"].keys() | record()["not documented"].keys()
    unknown = []
    for name in sorted(site_names() - known):
        obj = None if is_private(name) else resolve(name)
        if obj is not None and not inspect.ismodule(obj) and callable(obj):
            unknown.append(name)
    return unknown


if __name__ == "__main__":
    body = write()
    print(
        f"{INVENTORY.relative_to(ROOT)}: {body.count(chr(10))} names", file=sys.stderr
    )
    for name in not_yet_recorded():
        print(
            f"not in {RECORD.name} (look it up in PyTorch's docs/source): {name}",
            file=sys.stderr,
        )
