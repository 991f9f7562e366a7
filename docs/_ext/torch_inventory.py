"""Write docs/_ext/torch.inv, the intersphinx inventory of the PyTorch names this site uses.

No PyTorch inventory can be downloaded while building (no network), so this
script makes one: it collects every ``torch.…`` name written in examples/ and
docs/ (dotted names and ``from torch… import …``), keeps those that resolve in
the installed torch, and records where PyTorch's reference for the pinned
version documents each. Run it with ``make inventory`` after using a torch
name the site has not used before; a test fails while the committed file is
out of date.
"""

import importlib
import inspect
import re
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "docs" / "_ext" / "torch.inv"

DOTTED = re.compile(r"\btorch(?:\.[A-Za-z_]\w*)+")
# `from torch.x import a, b` (one line) or `from torch.x import (a,\n b)`.
FROM_IMPORT = re.compile(r"^[ \t]*from (torch[\w.]*) import (?:\(([\w,\s]+)\)|([\w, \t]+))", re.MULTILINE)
IMPORT_AS = re.compile(r"^\s*import (torch[\w.]*) as (\w+)", re.MULTILINE)

# Modules, and where PyTorch documents them.
MODULE_PAGES = {
    "torch": "torch.html",
    "torch.autograd": "autograd.html",
    "torch.autograd.functional": "autograd.html#functional-higher-level-api",
    "torch.autograd.forward_ad": "autograd.html#forward-mode-automatic-differentiation",
    "torch.func": "func.html",
    "torch.nn": "nn.html",
    "torch.optim": "optim.html",
    "torch.testing": "testing.html",
    "torch.utils.benchmark": "benchmark_utils.html",
}
# Modules whose members PyTorch documents on the module's own page.
MEMBERS_ON_MODULE_PAGE = {"torch.testing", "torch.utils.benchmark"}
# Names whose reference page is not ``generated/<name>.html``.
SPECIAL_PAGES = {
    "torch.Tensor": "tensors.html#torch.Tensor",
    "torch.dtype": "tensor_attributes.html#torch.dtype",
    "torch.finfo": "type_info.html#torch.torch.finfo",
    "torch.autograd.Function": "autograd.html#torch.autograd.Function",
    "torch.autograd.gradcheck": "generated/torch.autograd.gradcheck.gradcheck.html",
    "torch.autograd.gradgradcheck": "generated/torch.autograd.gradcheck.gradgradcheck.html",
    "torch.autograd.detect_anomaly": "autograd.html#torch.autograd.detect_anomaly",
    "torch.autograd.set_detect_anomaly": "autograd.html#torch.autograd.set_detect_anomaly",
    "torch.autograd.graph.saved_tensors_hooks": "autograd.html#torch.autograd.graph.saved_tensors_hooks",
    "torch.utils.checkpoint.checkpoint": "checkpoint.html#torch.utils.checkpoint.checkpoint",
}


def names_used(paths):
    names = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        names.update(DOTTED.findall(text))
        aliases = {alias: module for module, alias in IMPORT_AS.findall(text)}
        for module, in_parentheses, on_one_line in FROM_IMPORT.findall(text):
            for name in (n.strip() for n in (in_parentheses or on_one_line).replace("\n", ",").split(",")):
                if name:
                    names.add(f"{module}.{name}")
                    aliases[name] = f"{module}.{name}"
        # Attributes of imported modules: nn.Linear, fwAD.make_dual.
        for alias, full in aliases.items():
            names.update(f"{full}.{attribute}" for attribute in re.findall(rf"\b{alias}\.(\w+)", text))
    return names


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


def entry(name, obj):
    """(role, page) for NAME in PyTorch's reference, or None if it has no page of its own."""
    if inspect.ismodule(obj):
        return ("py:module", MODULE_PAGES[name]) if name in MODULE_PAGES else None
    if inspect.isclass(obj):
        role = "py:class"
    elif name.startswith("torch.Tensor."):
        role = "py:method"
    elif callable(obj):
        role = "py:function"
    else:
        return None  # dtypes, constants
    module = name.rsplit(".", 1)[0]
    if name in SPECIAL_PAGES:
        return role, SPECIAL_PAGES[name]
    if module in MEMBERS_ON_MODULE_PAGE:
        return role, f"{MODULE_PAGES[module]}#{name}"
    return role, f"generated/{name}.html"


def inventory_lines():
    sources = sorted(ROOT.glob("examples/**/*.py")) + sorted(ROOT.glob("docs/**/*.md"))
    lines = []
    for name in sorted(names_used(sources)):
        obj = resolve(name)
        found = entry(name, obj) if obj is not None else None
        if found:
            role, page = found
            lines.append(f"{name} {role} 1 {page} -")
    return lines


def write(path=INVENTORY):
    import torch

    header = (
        "# Sphinx inventory version 2\n"
        "# Project: PyTorch\n"
        f"# Version: {torch.__version__.split('+')[0]}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "\n".join(inventory_lines()) + "\n"
    path.write_bytes(header.encode() + zlib.compress(body.encode(), 9))
    return body


if __name__ == "__main__":
    body = write()
    print(f"{INVENTORY.relative_to(ROOT)}: {body.count(chr(10))} names", file=sys.stderr)
