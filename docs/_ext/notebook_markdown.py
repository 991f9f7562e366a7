"""The tutorials' notebooks with their Markdown cells in Markdown, not reST.

sphinx-gallery's ``notebook.rst2md`` (0.22.1) converts headings, ``:math:``,
column-0 ``.. math::`` (to ``\\begin{align}``), notes, images, code blocks and
```text <url>`_`` links, and leaves the rest as reST, which Jupyter and Colab
show as text: ``:func:``, ``:doc:`` and other roles (``:ref:`x``` becomes
```x```), ``.. list-table::``, ````literals````. Here each Markdown cell is
converted before its notebook is saved: roles into links to PyTorch's
reference (the ``intersphinx_mapping`` inventory) or to the site
(``html_baseurl``), list tables into Markdown tables, ``.. math::`` into one
``$$`` block per equation (``aligned`` when it has ``&`` or ``\\\\``),
literals into code. A target that resolves nowhere, or reST left over, fails
the build, naming the example. Code cells, the ``.py`` and the page are
untouched.

The one seam is :func:`route_notebooks`: it replaces ``gen_rst.save_notebook``,
called once per example in ``generate_file_rst`` before the example's and the
gallery's zips are made, and tests/unit/test_notebook_markdown.py fails when
sphinx-gallery changes what it relies on. The ``pypandoc`` option, which
closed https://github.com/sphinx-gallery/sphinx-gallery/issues/219, needs
pandoc and knows no Sphinx roles (they become unlinked
``{.interpreted-text}`` spans, https://github.com/nest/nest-simulator/issues/2653):
it is refused. Rewriting the written notebooks would mean making both zips
again with two internal functions (``gen_rst.zip_files``,
``downloads.generate_zipfiles``). The text for an issue asking for a hook is
in docs/contributing.md, "Upstream issues to file"; this module can go when
rst2md resolves cross-references and converts tables.

The seam works in this process, so sphinx-gallery's ``parallel`` is refused.
Each notebook records this file's hash: an example the build runs whose
notebook has another (or none) loses its ``.md5`` and runs again.
"""

import hashlib
import inspect
import json
import os
import posixpath
import re
import textwrap
from functools import cache, partial
from pathlib import Path

from docutils import nodes
from source_links import gallery_pairs
from sphinx.domains.python import PythonDomain
from sphinx.errors import ExtensionError
from sphinx.util.inventory import InventoryFile
from sphinx_gallery import gen_rst, notebook
from sphinx_gallery.py_source_parser import split_code_and_text_blocks

MARK_KEY = "notebook_markdown"
MARK = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]

# reST that must not be left in a Markdown cell (tests/test_notebooks_markdown.py
# looks for it in the built notebooks; tests/unit/test_notebook_markdown.py
# checks what it matches).
REST = re.compile(
    r":[\w-]+(?::[\w-]+)?:`"  # a role
    r"|^[ \t]*\.\. \S"  # a directive, comment or target
    r"|``[^`\n]+``"  # an inline literal
    r"|`[^`\n]*<[^`\n]+>`__?",  # a link with its URL
    re.M,
)

# A Markdown code span (single backticks, not a role's target, not a link's
# text): its text is code, never reST.
CODE_SPAN = re.compile(r"(?<![`:\w])`[^`\n]+`(?![`_])")


def leftover_rest(line):
    """Whether LINE of converted Markdown still holds reST outside its code spans."""
    return REST.search(CODE_SPAN.sub("", line)) is not None


# rst2md's .. math:: at column 0; it leaves an indented one (in a list) as it is.
ALIGN = re.compile(r"\\begin\{align\}(.*?)\\end\{align\}", re.S)
MATH = re.compile(
    r"^(?P<indent>[ \t]*)\.\. math::(?P<body>.*\n(?:(?P=indent)[ \t]+.*\n|[ \t]*\n)*)",
    re.M,
)
LIST_TABLE = re.compile(
    r"^(?P<indent>[ \t]*)\.\. list-table::(?P<title>.*)\n"
    r"(?P<body>(?:(?P=indent)[ \t]+.*\n|[ \t]*\n)*)",
    re.M,
)
OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
INLINE = re.compile(
    r"(?P<fence>^[ \t]*```.*?^[ \t]*```)"  # a fenced code block: left as it is
    r"|``(?P<literal>.+?)``"
    r"|:(?:py:)?(?P<role>[\w-]+):`(?P<target>[^`]+)`"
    r"|(?<![`\w])`(?P<ref>[^`]+)`(?![`_])",  # what rst2md leaves of a :ref:
    re.M | re.S,
)
EXPLICIT_TITLE = re.compile(r"(.+?)\s*<([^<>]+)>", re.S)
# "# .. _label:", "#", "# Title": a label above a section of an example
SECTION_LABEL = re.compile(r"^# \.\. _([\w-]+):\n#\n# (.+)$", re.M)
# in a section's title: ``code`` and :math:`x`, as Markdown's `code` and $x$
TITLE_CODE = re.compile(r"``([^`]+)``")
TITLE_MATH = re.compile(r":math:`([^`]+)`")


class NotMarkdown(ValueError):
    """Text this converter cannot turn into Markdown."""


def one_line(text):
    return " ".join(text.split())


def code(text):
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def link_text(text):
    return re.sub(r"([\[\]])", r"\\\1", text)


class Targets:
    """Where each role target of the gallery's text points, for one build."""

    def __init__(self, app):
        self.site = app.config.html_baseurl.rstrip("/") + "/"
        self.suffix = app.config.html_file_suffix or ".html"
        self.parens = app.config.add_function_parentheses
        self.srcdir = Path(app.srcdir)
        self.source_suffixes = list(app.config.source_suffix)
        self.objects = {}
        for _name, (uri, locations) in app.config.intersphinx_mapping.values():
            for location in locations:
                if location and not location.startswith(("http:", "https:")):
                    raw = Path(app.srcdir, location).read_bytes()
                    inventory = InventoryFile.loads(raw, uri=uri).data
                    for objtype, entries in inventory.items():
                        self.objects.setdefault(objtype, {}).update(entries)
        # sphinx-gallery's label of an example: sphx_glr_<its docname, / as _>.py
        self.examples = {
            ("sphx_glr_" + docname.replace("/", "_") + ".py").lower(): (docname, source)
            for docname, source in gallery_examples(app)
        }
        # a label written above a section of an example (``# .. _label:``):
        # Sphinx's anchor for it is make_id(label) on that example's page
        self.sections = {
            match[1].lower(): (docname, match[2])
            for docname, source in gallery_examples(app)
            for match in SECTION_LABEL.finditer(source.read_text(encoding="utf-8"))
        }

    def page(self, docname):
        return self.site + docname + self.suffix

    def resolve(self, role, target, docname):
        """The Markdown for ``:role:`target``` written on page DOCNAME."""
        match = EXPLICIT_TITLE.fullmatch(target)
        title = one_line(match[1]) if match else None
        target = match[2].strip() if match else one_line(target)
        if role == "ref" and target.lower() in self.sections:
            page, heading = self.sections[target.lower()]
            heading = TITLE_MATH.sub(r"$\1$", TITLE_CODE.sub(r"`\1`", heading))
            text = link_text(title or heading.strip())
            return f"[{text}]({self.page(page)}#{nodes.make_id(target)})"
        if role == "ref":
            if target.lower() not in self.examples:
                raise NotMarkdown(
                    f":ref:`{target}`: not the label of a gallery example "
                    "or of a section of one"
                )
            page, source = self.examples[target.lower()]
            return f"[{link_text(title or example_title(source))}]({self.page(page)})"
        if role == "doc":
            page = (
                target[1:]
                if target.startswith("/")
                else posixpath.join(posixpath.dirname(docname), target)
            )
            page = posixpath.normpath(page)
            text = link_text(title or self.doc_title(page, target))
            return f"[{text}]({self.page(page)})"
        if role == "math":
            return f"${target}$"
        objtypes = [
            f"py:{name}"
            for name, objtype in PythonDomain.object_types.items()
            if role in objtype.roles
        ]
        if not objtypes:
            raise NotMarkdown(f":{role}:`{target}`: no Markdown for this role")
        name = target.lstrip("~!").removesuffix("()")
        text = title or (name.rpartition(".")[2] if target.startswith("~") else name)
        if not title and self.parens and role in ("func", "meth"):
            text += "()"
        if target.startswith("!"):
            return code(text)
        for objtype in objtypes:
            if name in self.objects.get(objtype, {}):
                return f"[{code(text)}]({self.objects[objtype][name].uri})"
        raise NotMarkdown(
            f":{role}:`{target}`: {name} is not in the inventory (run `make inventory`)"
        )

    def doc_title(self, docname, target):
        for suffix in self.source_suffixes:
            path = self.srcdir / (docname + suffix)
            if path.exists():
                text = path.read_text(encoding="utf-8")
                found = re.search(r"^# (.+)$", text, re.M) or re.search(
                    r"^(\S.*)\n([=\-~^\"'`#*+:.]){3,}$", text, re.M
                )
                if found:
                    return found[1].strip()
        raise NotMarkdown(f":doc:`{target}`: no page {docname} with a title")


def gallery_examples(app):
    """(docname, source file) of each example sphinx-gallery makes a notebook of."""
    conf = app.config.sphinx_gallery_conf
    for examples, gallery in gallery_pairs(app):
        gallery_name = gallery.relative_to(app.srcdir).as_posix()
        for source in sorted(examples.rglob("*")):
            if source.suffix in conf["notebook_extensions"] and not re.search(
                conf["ignore_pattern"], str(source)
            ):
                name = source.relative_to(examples).with_suffix("").as_posix()
                yield posixpath.join(gallery_name, name), source


@cache
def example_title(source):
    blocks = split_code_and_text_blocks(str(source))[1]
    return gen_rst.extract_intro_and_title(str(source), blocks[0].content)[1]


def display_maths(body, indent=""):
    """``$$`` blocks for the body of a ``.. math::`` directive."""
    body = textwrap.dedent(body.strip("\n"))
    if body.lstrip().startswith(":"):
        raise NotMarkdown(f".. math:: with options: {one_line(body)[:60]}")
    blocks = []
    for part in re.split(r"\n[ \t]*\n", body):  # Sphinx: one equation per paragraph
        part = textwrap.dedent(part).strip()
        if "&" in part or "\\\\" in part:
            part = f"\\begin{{aligned}}\n{part}\n\\end{{aligned}}"
        blocks.append(f"$$\n{part}\n$$")
    return textwrap.indent("\n\n".join(blocks), indent)


def markdown_table(match):
    """A Markdown table for a ``.. list-table::`` (one header row or none)."""
    indent, title = match["indent"], match["title"].strip()
    lines = textwrap.dedent(match["body"]).splitlines()
    options = {}
    while lines and OPTION.match(lines[0]):
        key, value = OPTION.match(lines.pop(0)).groups()
        options[key] = value.strip()
    header_rows = int(options.pop("header-rows", "0"))
    unknown = set(options) - {"widths", "width", "class", "name", "align"}
    if header_rows > 1 or unknown:
        raise NotMarkdown(
            f".. list-table:: with {header_rows} header rows "
            f"/ options {sorted(unknown)}"
        )
    rows = []
    # "* - cell" starts a row, "  - cell" a cell, other lines continue the cell.
    for line in lines:
        if re.match(r"\*\s+-(\s|$)", line):
            rows.append([line.split("-", 1)[1]])
        elif re.match(r"\s+-(\s|$)", line) and rows:
            rows[-1].append(line.split("-", 1)[1])
        elif line.strip() and rows:
            rows[-1][-1] += " " + line
        elif line.strip():
            raise NotMarkdown(f".. list-table:: line outside a row: {line.strip()}")
    if not rows:
        raise NotMarkdown(".. list-table:: without rows")
    cells = [[one_line(cell).replace("|", "\\|") for cell in row] for row in rows]
    width = max(map(len, cells))
    cells = [row + [""] * (width - len(row)) for row in cells]
    if not header_rows:
        cells.insert(0, [""] * width)
    table = [cells[0], ["---"] * width, *cells[1:]]
    out = ([f"**{title}**", ""] if title else []) + [
        "| " + " | ".join(row) + " |" for row in table
    ]
    return "".join(f"{indent}{line}\n" for line in out) + "\n"


def to_markdown(text, targets, docname):
    """The Markdown for TEXT, a Markdown cell that sphinx-gallery's rst2md wrote."""

    def inline(match):
        if match["fence"]:
            return match[0]
        if match["literal"] is not None:
            return code(match["literal"])
        if match["role"]:
            return targets.resolve(match["role"], match["target"], docname)
        try:
            return targets.resolve("ref", match["ref"], docname)
        except NotMarkdown as error:
            raise NotMarkdown(
                f"{error} (rst2md writes :ref:`x` as `x`; "
                "reST default-role text is not allowed)"
            ) from None

    text = ALIGN.sub(lambda match: display_maths(match[1]), text)
    text = MATH.sub(
        lambda match: display_maths(match["body"], match["indent"]) + "\n\n", text
    )
    text = LIST_TABLE.sub(markdown_table, text)
    return INLINE.sub(inline, text)


def save_markdown_notebook(work_notebook, write_file, targets, examples):
    """sphinx-gallery's save_notebook, with the Markdown cells converted first."""
    write_file = Path(write_file)
    docname, source = examples[
        write_file.resolve().parent / write_file.name.removesuffix(".ipynb.new")
    ]
    source = os.path.relpath(source)
    for cell in work_notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        try:
            markdown = to_markdown("".join(cell["source"]), targets, docname)
        except NotMarkdown as error:
            raise ExtensionError(
                f"{source}: cannot write its notebook's Markdown: {error}"
            ) from None
        left = [line.strip() for line in markdown.splitlines() if leftover_rest(line)]
        if left:
            raise ExtensionError(
                f"{source}: reST left in its notebook's Markdown: {left}"
            )
        cell["source"] = [markdown]
    work_notebook["metadata"][MARK_KEY] = MARK
    notebook.save_notebook(work_notebook, write_file)


def notebook_mark(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))["metadata"].get(MARK_KEY)
    except (OSError, ValueError, KeyError):
        return None


def generated_examples(app):
    """{an example's generated files, without suffix: (its docname, its source)}."""
    return {
        Path(app.srcdir, docname).resolve(): (docname, source)
        for docname, source in gallery_examples(app)
    }


def unconverted(app, examples):
    """The examples this build runs whose notebook this converter did not write."""
    conf = app.config.sphinx_gallery_conf
    return [
        path
        for path, (_, source) in examples.items()
        if gen_rst.executable_script(str(source), conf)
        and notebook_mark(Path(f"{path}.ipynb")) != MARK
    ]


def route_notebooks(save):
    """Make sphinx-gallery write each example's notebook with SAVE, called as
    ``save(work_notebook, write_file)`` where it calls ``save_notebook``."""
    uses = "save_notebook" in gen_rst.generate_file_rst.__code__.co_names
    signature = list(inspect.signature(notebook.save_notebook).parameters)
    if not uses or signature != ["work_notebook", "write_file"]:
        raise ExtensionError(
            "sphinx_gallery.gen_rst no longer writes notebooks with save_notebook"
            "(work_notebook, write_file): see notebook_markdown's docstring"
        )
    gen_rst.save_notebook = save


def install(app):
    """Before sphinx-gallery runs: route its notebooks through the converter."""
    conf = app.config.sphinx_gallery_conf
    if conf["pypandoc"] is not False or conf["parallel"]:
        raise ExtensionError(
            "notebook_markdown converts the notebooks in this process: "
            "sphinx-gallery's 'pypandoc' and 'parallel' options would bypass it"
        )
    examples = generated_examples(app)
    route_notebooks(
        partial(save_markdown_notebook, targets=Targets(app), examples=examples)
    )
    for path in unconverted(app, examples):  # runs again without its .md5
        Path(f"{path}.py.md5").unlink(missing_ok=True)


def check(app):
    """After sphinx-gallery ran: every example it ran has a converted notebook."""
    stale = unconverted(app, generated_examples(app))
    if stale:
        raise ExtensionError(
            "notebooks not written through notebook_markdown: "
            f"{[f'{path}.ipynb' for path in stale]}"
        )


def setup(app):
    # intersphinx normalises intersphinx_mapping, which Targets reads.
    app.setup_extension("sphinx.ext.intersphinx")
    # Around sphinx-gallery's generate_gallery_rst, which writes the notebooks
    # and zips: gen_gallery.setup() connects it to builder-inited at the
    # default priority, 500.
    app.connect("builder-inited", install, priority=400)
    app.connect("builder-inited", check, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
