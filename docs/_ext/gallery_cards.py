"""Gallery cards: tooltips in plain text under a valid attribute, titles that wrap.

sphinx-gallery writes each card as
``<div class="sphx-glr-thumbcontainer" tooltip="...">``, the tooltip being
the first paragraph of the example's docstring with its reST roles stripped.
That leaves the TeX of every ``:math:`` role in the text the reader sees on
hover (``\\mathbb{R}^2 \\to \\mathbb{R}^3``), and ``tooltip`` is not an HTML
attribute (the validator reports it on every card).

When a page is read, each card's tooltip is made again from the example's
docstring, with the maths written in plain Unicode text (``ℝ² → ℝ³``) and
the other roles reduced to their text, and is moved to ``data-tooltip``
(``docs/_static/cookbook.css`` shows it on hover as sphinx-gallery's CSS
showed ``tooltip``). TeX this module cannot write as text is a warning, so a
build with ``-W`` fails and names the example.

The top gallery index repeats sphinx-gallery's ``<div id='sg-tag-list'>``
once per section; the repeats lose the id, which must be unique.

Card titles get a line-break opportunity after each dot of a dotted name
too long for one line of a card (``torch.<wbr>autograd.<wbr>functional.<wbr>vjp``),
so a long API name wraps at its dots inside its card instead of running out
of it.
"""

import html
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging
from sphinx_gallery.py_source_parser import split_code_and_text_blocks

from source_links import example_source

logger = logging.getLogger(__name__)

TOOLTIP = re.compile(r'\btooltip="[^"]*"')
TAG_LIST = "id='sg-tag-list' "
TITLE = re.compile(r'(<div class="sphx-glr-thumbnail-title">)(.*?)(</div>)', re.S)

# -- TeX to plain text -------------------------------------------------------------

SYMBOLS = {
    "to": "→", "in": "∈", "times": "×", "cdot": "·", "partial": "∂", "sum": "∑", "prod": "∏",
    "nabla": "∇", "infty": "∞", "approx": "≈", "neq": "≠", "ne": "≠", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "mapsto": "↦", "odot": "⊙", "star": "⋆", "top": "ᵀ", "ldots": "…",
    "dots": "…", "cdots": "⋯", "mid": "|", "lVert": "‖", "rVert": "‖", "|": "‖",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "sigma": "σ", "phi": "φ", "psi": "ψ",
    "omega": "ω", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Omega": "Ω",
}
NAMED_FUNCTIONS = {"sin", "cos", "tan", "tanh", "exp", "log", "det", "max", "min", "diag", "tr"}
SPACES = {",": "\u2009", ";": " ", ":": " ", "!": "", " ": " ", "quad": " ", "qquad": "  "}
DOUBLE_STRUCK = {"R": "ℝ", "C": "ℂ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ"}
BOLD_DIGITS = {str(d): chr(0x1D7CE + d) for d in range(10)}  # 𝟎 … 𝟗: the ones vector 𝟏
SUPERSCRIPTS = dict(zip("0123456789+−=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾")) | dict(
    zip("abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW", "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ", strict=True)
) | {"ᵀ": "ᵀ", "⋆": "⋆", "′": "′"}
SUBSCRIPTS = dict(zip("0123456789+−=()aehijklmnoprstuvxβγρφχ", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ", strict=True))
# Relations and binary operators: TeX spaces them, so the text does too.
SPACED = set("→∈×≈≠≤≥↦⊙·")


class UntypesetTeX(ValueError):
    pass


def _group(tex, start):
    """The argument starting at TEX[start] (a {group}, a command or one
    character) as (text of the argument, index after it)."""
    while start < len(tex) and tex[start] == " ":
        start += 1
    if start >= len(tex):
        raise UntypesetTeX("missing argument")
    if tex[start] == "{":
        depth = 0
        for end in range(start, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[end], 0)
            if depth == 0:
                return tex[start + 1 : end], end + 1
        raise UntypesetTeX("unbalanced braces")
    command = re.match(r"\\([A-Za-z]+|.)", tex[start:])
    if command:
        return command.group(0), start + len(command.group(0))
    return tex[start], start + 1


def _script(text, table, mark):
    """TEXT as Unicode super- or subscript characters, or with a plain
    ^ or _ mark when some character has no such form."""
    if all(c in table for c in text):
        return "".join(table[c] for c in text)
    return mark + (text if len(text) == 1 else f"({text})")


def _wrapped(text):
    return text if re.fullmatch(r"[\w′∂]+", text) else f"({text})"


def tex_to_text(tex):
    """Plain Unicode text for the TeX of inline maths, as far as plain text can
    say it: ``\\mathbb{R}^2 \\to \\mathbb{R}^3`` becomes ``ℝ² → ℝ³``. Raises
    UntypesetTeX for a command it does not know."""
    out, i = [], 0
    big_operator = False  # a space goes between ∑ (with its limits) and what it sums
    while i < len(tex):
        c = tex[i]
        if big_operator and c not in "^_ ":
            out.append(" ")
            big_operator = False
        if c == "\\":
            name = re.match(r"\\([A-Za-z]+|.)", tex[i:]).group(1)
            i += len(name) + 1
            while name.isalpha() and i < len(tex) and tex[i] == " ":
                i += 1  # as in TeX, spaces after a command name are not text
            if name in ("mathbb", "mathbf", "mathrm", "text", "operatorname", "mathit", "boldsymbol"):
                argument, i = _group(tex, i)
                inner = tex_to_text(argument)
                if name == "mathbb":
                    inner = "".join(DOUBLE_STRUCK.get(ch, ch) for ch in inner)
                elif name in ("mathbf", "boldsymbol"):
                    inner = "".join(BOLD_DIGITS.get(ch, ch) for ch in inner)
                out.append(inner)
            elif name == "frac":
                numerator, i = _group(tex, i)
                denominator, i = _group(tex, i)
                out.append(f"{_wrapped(tex_to_text(numerator))}/{_wrapped(tex_to_text(denominator))}")
            elif name == "sqrt":
                argument, i = _group(tex, i)
                out.append("√" + _wrapped(tex_to_text(argument)))
            elif name in ("left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "displaystyle"):
                pass
            elif name in NAMED_FUNCTIONS:
                # "a \\sin(x)" is "a sin(x)", "\\cos x" is "cos x"
                before = " " if _last(out).isalnum() or _last(out) in ")]′" else ""
                out.append(before + name + (" " if i < len(tex) and tex[i].isalnum() else ""))
            elif name in SPACES:
                out.append(SPACES[name])
            elif name in SYMBOLS:
                symbol = SYMBOLS[name]
                out.append(f" {symbol} " if symbol in SPACED else symbol)
                big_operator = symbol in "∑∏"
            elif name in "{}_^%&#$":
                out.append(name)
            else:
                raise UntypesetTeX(f"\\{name}")
        elif c in "^_":
            argument, i = _group(tex, i + 1)
            inner = tex_to_text(argument).replace(" ", "")
            out.append(_script(inner, SUPERSCRIPTS if c == "^" else SUBSCRIPTS, c))
        elif c in "{}":
            i += 1
        elif c == " ":
            i += 1  # spacing in maths comes from what the symbols are, not from the source
        elif c in "+-=":
            symbol = "−" if c == "-" else c
            unary = c != "=" and _last(out) in "([{,= " + "".join(SPACED)
            out.append(symbol if unary else f" {symbol} ")
            i += 1
        else:
            out.append({"'": "′", ",": ", "}.get(c, c))
            i += 1
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _last(out):
    """The last character written that is not a space ("" at the start)."""
    text = "".join(out).rstrip()
    return text[-1] if text else " "


# -- reST to plain text -------------------------------------------------------------

ROLE = re.compile(r":(?P<role>[\w.:+-]+):`(?P<body>(?:\\`|[^`])+)`")


def rst_to_text(text):
    """Plain text for one paragraph of reST: roles give their text (maths in
    Unicode), literals and emphasis lose their marks, links keep their text."""

    def role(match):
        name, body = match["role"], match["body"]
        if name == "math":
            return tex_to_text(body.replace("\\`", "`"))
        explicit = re.fullmatch(r"(.*?)\s*<[^<>]*>", body, re.S)
        if explicit:
            return explicit[1]
        return body[1:].rsplit(".", 1)[-1] if body.startswith("~") else body.lstrip("!")

    text = " ".join(text.split())
    text = ROLE.sub(role, text)
    text = re.sub(r"``(.+?)``", r"\1", text)
    text = re.sub(r"`([^`<>]+?)\s*<[^`<>]+>`__?", r"\1", text)
    text = re.sub(r"\*\*(.+?)\*\*|\*(.+?)\*", lambda m: m[1] or m[2], text)
    return text


def example_intro(path):
    """The first paragraph after the title of an example's docstring, as
    sphinx-gallery picks it for the tooltip, still in reST."""
    _, blocks = split_code_and_text_blocks(str(path))
    paragraphs = [p for p in blocks[0].content.lstrip().split("\n\n") if p and not p.startswith(".. ")]
    return paragraphs[1] if len(paragraphs) > 1 else paragraphs[0]


# -- The cards ---------------------------------------------------------------------


def _card_target(raw):
    """The docname the card opened by RAW links to, and the raw node that closes it."""
    siblings = raw.parent.children[raw.parent.index(raw) + 1 :]
    target = None
    for sibling in siblings:
        if isinstance(sibling, nodes.raw) and "sphx-glr-thumbnail-title" in sibling.astext():
            return target, sibling
        for xref in sibling.findall(addnodes.pending_xref):
            if xref.get("reftype") == "doc" and target is None:
                target = xref["reftarget"].lstrip("/")
    return target, None


# A dotted name this long does not fit on one line of a card; a shorter one
# moves to the next line whole, as a word does.
LONG_NAME = re.compile(r"\b\w+(?:\.\w+)+\b")
LONG = 20


def _wrap_dotted_names(title_html):
    def wrap(match):
        name = match.group(0)
        return name.replace(".", ".<wbr>") if len(name) >= LONG else name

    return LONG_NAME.sub(wrap, title_html)


def fix_cards(app, doctree):
    tag_lists = 0
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if TAG_LIST in text:
            # The top gallery index repeats each section's empty tag list; an
            # id must be unique, and sphinx-gallery's script uses the first.
            tag_lists += 1
            if tag_lists > 1:
                text = text.replace(TAG_LIST, "")
                raw.children = [nodes.Text(text)]
                raw.rawsource = text
        if "html" not in raw.get("format", "").split() or "sphx-glr-thumbcontainer" not in text or not TOOLTIP.search(text):
            continue
        target, closing = _card_target(raw)
        source = example_source(app, target) if target else None
        if source is None:
            logger.warning(f"gallery card for {target!r}: example source not found", location=raw)
            continue
        path = Path(app.srcdir, source).resolve()
        app.env.note_dependency(str(path))
        try:
            tooltip = rst_to_text(example_intro(path))
        except UntypesetTeX as error:
            logger.warning(f"{source}: the card's tooltip cannot say {error} in plain text (docs/_ext/gallery_cards.py)", location=raw)
            continue
        attribute = f'data-tooltip="{html.escape(tooltip, quote=True)}"'
        raw.children = [nodes.Text(TOOLTIP.sub(lambda _: attribute, text))]
        raw.rawsource = raw.astext()
        if closing is not None:
            closing_text = TITLE.sub(lambda m: m[1] + _wrap_dotted_names(m[2]) + m[3], closing.astext())
            closing.children = [nodes.Text(closing_text)]
            closing.rawsource = closing_text


def setup(app):
    app.connect("doctree-read", fix_cards)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
