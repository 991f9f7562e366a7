r"""Plain Unicode text for the TeX of inline maths: one table, one output.

Some text on the site shows maths where nothing typesets it: a figure's alt
text (sphinx-gallery takes it from the plot's title, ``$f(x) = \sqrt{x}$``)
and a gallery card's tooltip (the first paragraph of the example, with its
``:math:`` roles). Both go through :func:`tex_to_text`, so the same formula
reads the same everywhere: ``\mathbb{R}^2 \to \mathbb{R}^3`` becomes
``ℝ² → ℝ³``.

A TeX minus becomes U+2212 MINUS SIGN (``−``), the character TeX typesets
for ``-`` in maths and the one whose raised and lowered forms (``⁻``, ``₋``)
the exponents and indices use; ``-`` (U+002D HYPHEN-MINUS) is the hyphen of
running text.

A command missing from the tables below raises :class:`UnknownTeX` rather
than passing through: add it here, with a case in
tests/unit/test_tex_text.py.
"""

import re

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
SPACES = {
    ",": "\u2009",
    ";": " ",
    ":": " ",
    "!": "",
    " ": " ",
    "quad": " ",
    "qquad": "  ",
}
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
SUPERSCRIPTS = (
    dict(zip("0123456789+−=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾"))
    | dict(
        zip(
            "abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW",
            "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ",
            strict=True,
        )
    )
    | {"ᵀ": "ᵀ", "⋆": "⋆", "′": "′"}  # already raised
)
SUBSCRIPTS = dict(
    zip(
        "0123456789+−=()aehijklmnoprstuvxβγρφχ",
        "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ",
        strict=True,
    )
)
COMMAND = re.compile(r"\\([A-Za-z]+|.)")


class UnknownTeX(ValueError):
    """TeX this module cannot write as text (an unknown command, a missing argument)."""


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
