r"""TeX in text a reader sees outside the maths renderer, written as characters.

sphinx-gallery shows maths where nothing typesets it: a figure's alt text is
its plot titles (``$f(x) = \sqrt{x}$``; ``scrapers._matplotlib_fig_titles``,
0.22.1, from https://github.com/sphinx-gallery/sphinx-gallery/pull/663), and a
card's tooltip is its example's first paragraph, whose ``:math:`` roles keep
their TeX (``gen_rst._sanitize_rst`` since
https://github.com/sphinx-gallery/sphinx-gallery/pull/511, after
https://github.com/sphinx-gallery/sphinx-gallery/issues/136), under
``tooltip``, which is no HTML attribute (``backreferences.THUMBNAIL_TEMPLATE``).
Both go through :func:`tex_to_text` (``\mathbb{R}^2 \to \mathbb{R}^3`` reads
``ℝ² → ℝ³``), and the tooltip moves to ``data-tooltip``, which cookbook.css
shows on hover. A minus is U+2212 (``−``), which TeX typesets and whose raised
form ``⁻`` exponents use; ``-`` is the hyphen of running text.

TeX missing from the tables is a warning naming the page (an error under
``-W``): add it here, with a case in tests/unit/test_tex_text.py. No upstream
issues yet (texts in docs/contributing.md, "Upstream issues to file"); this
module can go when sphinx-gallery writes both as plain text.
"""

import html
import re
from pathlib import Path

from docutils import nodes
from source_links import example_source
from sphinx import addnodes
from sphinx.util import logging
from sphinx_gallery.py_source_parser import split_code_and_text_blocks

logger = logging.getLogger(__name__)

SYMBOLS = {
    "to": "→", "in": "∈", "times": "×", "cdot": "·", "partial": "∂", "sum": "∑",
    "prod": "∏", "nabla": "∇", "infty": "∞", "approx": "≈", "neq": "≠", "ne": "≠",
    "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "propto": "∝", "mapsto": "↦",
    "odot": "⊙", "star": "⋆", "top": "ᵀ", "ell": "ℓ", "ldots": "…", "dots": "…",
    "cdots": "⋯", "mid": "∣", "lvert": "|", "rvert": "|", "Vert": "‖", "lVert": "‖",
    "rVert": "‖", "|": "‖",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε",
    "varepsilon": "ε", "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ",
    "sigma": "σ", "tau": "τ", "phi": "φ", "psi": "ψ", "omega": "ω", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Omega": "Ω",
}  # fmt: skip
# Relations and binary operators: TeX puts space around them, so the text does too.
SPACED = set("→∈×≈≠≤≥∝↦⊙·∣")
# A space goes between a big operator (with its limits) and what it applies to.
BIG_OPERATORS = set("∑∏")
SPACES = {",": "\u2009", ";": " ", ":": " ", "!": "", " ": " ",
          "quad": " ", "qquad": "  "}  # fmt: skip
NAMED_FUNCTIONS = set("sin cos tan tanh exp log det max min diag tr".split())
IGNORED = set("left right big Big bigl bigr Bigl Bigr displaystyle".split())
ESCAPED = set("{}_^%&#$")
DOUBLE_STRUCK = dict(zip("RCNZQ", "ℝℂℕℤℚ"))
BOLD_DIGITS = {str(d): chr(0x1D7CE + d) for d in range(10)}  # 𝟎 … 𝟗: the ones vector 𝟏
# Commands with one argument, and what each makes of the argument's text.
FONTS = {
    "mathbb": lambda text: "".join(DOUBLE_STRUCK.get(c, c) for c in text),
    "mathbf": lambda text: "".join(BOLD_DIGITS.get(c, c) for c in text),
    "boldsymbol": lambda text: "".join(BOLD_DIGITS.get(c, c) for c in text),
    "mathrm": str,
    "mathit": str,
    "operatorname": str,
    "hat": lambda text: text + "\u0302",  # combining circumflex: d̂
    "bar": lambda text: text + "\u0304",  # combining macron: x̄
}
# The characters that have a raised or a lowered form (ᵀ⋆′ are raised already).
SUPERSCRIPTS = dict(zip(
    "0123456789+−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWᵀ⋆′",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵀ⋆′",
    strict=True))  # fmt: skip
SUBSCRIPTS = dict(zip(
    "0123456789+−=()aehijklmnoprstuvxβγρφχ",
    "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ",
    strict=True))  # fmt: skip
COMMAND = re.compile(r"\\([A-Za-z]+|.)")


class UnknownTeX(ValueError):
    """TeX this module cannot write as text."""


def tex_to_text(tex: str) -> str:
    """Plain Unicode text for TEX, the TeX of inline maths; raises UnknownTeX."""
    out, i = [], 0
    after_big_operator = False
    while i < len(tex):
        c = tex[i]
        if after_big_operator and c not in "^_ ":
            out.append(" ")
            after_big_operator = False
        if c == "\\":
            name = COMMAND.match(tex, i)[1]
            i += len(name) + 1
            while name.isalpha() and i < len(tex) and tex[i] == " ":
                i += 1  # as in TeX, spaces after a command's name are not text
            if name == "text":
                argument, i = _argument(tex, i)
                out.append(argument)  # text, spaces and all
            elif name in FONTS:
                argument, i = _argument(tex, i)
                out.append(FONTS[name](tex_to_text(argument)))
            elif name == "frac":
                numerator, i = _argument(tex, i)
                denominator, i = _argument(tex, i)
                out.append(
                    f"{_grouped(tex_to_text(numerator))}/{_grouped(tex_to_text(denominator))}"
                )
            elif name == "sqrt":
                argument, i = _argument(tex, i)
                out.append("√" + _grouped(tex_to_text(argument)))
            elif name in NAMED_FUNCTIONS:
                # "a \sin(x)" is "a sin(x)", "\cos x" is "cos x"
                before = " " if _last(out).isalnum() or _last(out) in ")]′" else ""
                out.append(
                    before + name + (" " if i < len(tex) and tex[i].isalnum() else "")
                )
            elif name in SPACES:
                out.append(SPACES[name])
            elif name in SYMBOLS:
                symbol = SYMBOLS[name]
                out.append(f" {symbol} " if symbol in SPACED else symbol)
                after_big_operator = symbol in BIG_OPERATORS
            elif name in ESCAPED:
                out.append(name)
            elif name not in IGNORED:
                raise UnknownTeX(f"\\{name}")
        elif c in "^_":
            argument, i = _argument(tex, i + 1)
            text = tex_to_text(argument).replace(" ", "")
            table = SUPERSCRIPTS if c == "^" else SUBSCRIPTS
            if all(ch in table for ch in text):
                out.append("".join(table[ch] for ch in text))
            else:  # some character has no raised or lowered form
                out.append(c + (text if len(text) == 1 else f"({text})"))
        elif c in "{} ":
            i += 1  # groups only delimit; spacing comes from what the symbols are
        elif c in "+-=<>":
            symbol = "−" if c == "-" else c
            unary = c in "+-" and _last(out) in "([{,=<> " + "".join(SPACED)
            out.append(symbol if unary else f" {symbol} ")
            i += 1
        else:
            out.append({"'": "′", ",": ", "}.get(c, c))
            i += 1
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def text_with_maths(text: str) -> str:
    """TEXT with each ``$...$`` in it as plain text, as matplotlib reads a
    label: maths only when the unescaped dollars are even in number, and
    ``\\$`` a dollar sign. Raises UnknownTeX."""
    parts = re.split(r"(?<!\\)\$", text)
    if len(parts) % 2 == 0:  # an odd number of dollars: all of it is text
        return text.replace("\\$", "$")
    return "".join(
        tex_to_text(part) if n % 2 else part.replace("\\$", "$")
        for n, part in enumerate(parts)
    )


def _argument(tex, start):
    """The argument starting at TEX[start] (a {group}, a command or one
    character), and the index after it."""
    while start < len(tex) and tex[start] == " ":
        start += 1
    if start >= len(tex):
        raise UnknownTeX("a command or ^ or _ without its argument")
    if tex[start] == "{":
        depth = 0
        for end in range(start, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[end], 0)
            if depth == 0:
                return tex[start + 1 : end], end + 1
        raise UnknownTeX("unbalanced braces")
    command = COMMAND.match(tex, start)
    if command:
        return command[0], command.end()
    return tex[start], start + 1


def _grouped(text):
    """TEXT, in parentheses unless it is one name or number."""
    return text if re.fullmatch(r"[\w′∂]+", text) else f"({text})"


def _last(out):
    """The last character written that is not a space (a space at the start)."""
    text = "".join(out).rstrip()
    return text[-1] if text else " "


# -- Alt texts and card tooltips ----------------------------------------------

TOOLTIP = re.compile(r'\btooltip="[^"]*"')
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

    text = ROLE.sub(role, " ".join(text.split()))
    text = re.sub(r"``(.+?)``", r"\1", text)
    text = re.sub(r"`([^`<>]+?)\s*<[^`<>]+>`__?", r"\1", text)
    return re.sub(r"\*\*(.+?)\*\*|\*(.+?)\*", lambda m: m[1] or m[2], text)


def example_intro(path):
    """The reST of the paragraph sphinx-gallery shows on an example's card:
    the first after the title (``gen_rst.extract_intro_and_title``)."""
    _, blocks = split_code_and_text_blocks(str(path))
    paragraphs = [
        p
        for p in blocks[0].content.lstrip().split("\n\n")
        if p and not p.startswith(".. ")
    ]
    return paragraphs[1] if len(paragraphs) > 1 else paragraphs[0]


def _card_target(raw):
    """The docname that the card opened by the raw node RAW links to."""
    for sibling in raw.parent.children[raw.parent.index(raw) + 1 :]:
        if isinstance(sibling, nodes.raw) and "thumbnail-title" in sibling.astext():
            return None  # the card ended without a link
        for xref in sibling.findall(addnodes.pending_xref):
            if xref.get("reftype") == "doc":
                return xref["reftarget"].lstrip("/")
    return None


def rewrite_tooltips(app, doctree):
    """Each card's tooltip, made again from its example, under data-tooltip."""
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if "sphx-glr-thumbcontainer" not in text or not TOOLTIP.search(text):
            continue
        target = _card_target(raw)
        source = example_source(app, target) if target else None
        if source is None:
            logger.warning(f"card for {target!r}: no example source", location=raw)
            continue
        path = Path(app.srcdir, source).resolve()
        app.env.note_dependency(str(path))
        try:
            tooltip = rst_to_text(example_intro(path))
        except UnknownTeX as error:
            logger.warning(
                f"{source}: cannot write {error} of its card's tooltip as text "
                "(docs/_ext/tex_text.py)",
                location=raw,
            )
            continue
        attribute = f'data-tooltip="{html.escape(tooltip, quote=True)}"'
        raw.children = [nodes.Text(TOOLTIP.sub(lambda _: attribute, text))]
        raw.rawsource = raw.astext()


def fix_alt_texts(app, doctree, docname):
    """The maths of each alt text (images and sphinx-gallery's figures) as text."""
    for image in doctree.findall(
        lambda node: isinstance(node, nodes.Element) and "$" in str(node.get("alt", ""))
    ):
        alt = image["alt"]
        try:
            image["alt"] = text_with_maths(alt)
        except UnknownTeX as error:
            logger.warning(
                f"alt text {alt!r}: cannot write {error} as text "
                "(docs/_ext/tex_text.py)",
                location=docname,
            )


def setup(app):
    app.connect("doctree-read", rewrite_tooltips)
    app.connect("doctree-resolved", fix_alt_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
