"""Alt texts in words and symbols, not TeX.

sphinx-gallery gives each figure the title of its plot as alt text, and the
titles use matplotlib's maths (``$f(x) = \\sqrt{x}$``): a screen reader would
read the dollars and backslashes aloud. Each ``$...$`` in an alt text is
turned into the characters it stands for (``f(x) = √x``), with Unicode sub-
and superscripts where they exist. A TeX command that is not in ``SYMBOLS``
or ``WRAPPERS`` is a warning at the page (``-W`` makes it an error), so no
raw TeX reaches a reader: add the command here.
"""

import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

SYMBOLS = {
    "top": "ᵀ", "partial": "∂", "nabla": "∇", "star": "⋆", "ell": "ℓ", "times": " × ", "cdot": " · ",
    "sum": "∑", "in": " ∈ ", "approx": " ≈ ", "le": " ≤ ", "leq": " ≤ ", "ge": " ≥ ", "geq": " ≥ ",
    "neq": " ≠ ", "to": " → ", "infty": "∞", "Vert": "‖", "|": "‖", "sin": " sin", "cos": " cos", "tanh": " tanh",
    "exp": " exp", "log": " log", "propto": " ∝ ", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ",
    "epsilon": "ε", "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "sigma": "σ", "tau": "τ",
    "phi": "φ", "Theta": "Θ", "Sigma": "Σ", ",": " ", ";": " ", ":": " ", "!": "", "quad": " ", " ": " ",
}
# Commands with one argument: what the argument becomes.
WRAPPERS = {
    "mathrm": "{}", "operatorname": "{}", "text": "{}", "mathit": "{}", "sqrt": "√{}",
    "hat": "{}\u0302", "bar": "{}\u0304", "mathbb": "{}", "mathbf": "{}",
}
DOUBLE_STRUCK = {"R": "ℝ", "C": "ℂ", "N": "ℕ", "Z": "ℤ"}
BOLD_DIGITS = {str(d): chr(0x1D7CE + d) for d in range(10)}  # 𝟎 ... 𝟗
SUPERSCRIPT = dict(zip("0123456789+-=()abcdefghijklmnoprstuvwxyzT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵀ"))
SUBSCRIPT = dict(zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
TOKEN = re.compile(r"\\([A-Za-z]+|.)|([{}^_])|([^\\{}^_]+)")


class UnknownCommand(ValueError):
    pass


def _group(tokens):
    """The next argument in TOKENS: a {...} group, a command or one character."""
    command, brace, text = tokens.pop(0)
    if brace == "{":
        depth, inner = 1, []
        while tokens:
            token = tokens.pop(0)
            depth += {"{": 1, "}": -1}.get(token[1], 0)
            if depth == 0:
                break
            inner.append(token)
        return _words(inner)
    if command:
        return _words([(command, "", "")])
    text = text.lstrip()
    if not text:
        return _group(tokens)
    if len(text) > 1:
        tokens.insert(0, ("", "", text[1:]))
    return text[:1]


def _script(content, table, mark):
    if all(c in table for c in content):
        return "".join(table[c] for c in content)
    return content if len(content) == 1 else f"{mark}({content})"


def _words(tokens):
    out = []
    tokens = list(tokens)
    while tokens:
        command, brace, text = tokens[0]
        if command in WRAPPERS:
            tokens.pop(0)
            argument = _group(tokens)
            if command == "mathbb":
                argument = "".join(DOUBLE_STRUCK.get(c, c) for c in argument)
            elif command == "mathbf":
                argument = "".join(BOLD_DIGITS.get(c, c) for c in argument)
            elif command == "sqrt" and len(argument) > 1:
                argument = f"({argument})"
            out.append(WRAPPERS[command].format(argument))
        elif command:
            tokens.pop(0)
            if command not in SYMBOLS:
                raise UnknownCommand(command)
            out.append(SYMBOLS[command])
        elif brace in "^_" and brace:
            tokens.pop(0)
            out.append(_script(_group(tokens), SUPERSCRIPT if brace == "^" else SUBSCRIPT, brace))
        elif brace == "{":
            out.append(_group(tokens))
        elif brace == "}":
            tokens.pop(0)
        else:
            tokens.pop(0)
            for c in re.sub(r"\s+", "", text):  # TeX spaces its maths itself
                unary = c in "+-" and (not out or out[-1].rstrip()[-1:] in ("", "(", "=", ","))
                out.append(f" {c} " if c in "=<>+-" and not unary else ", " if c == "," else c)
    return "".join(out)


def readable(alt: str) -> str:
    """ALT with each $...$ in words and symbols; raises UnknownCommand. A
    lone dollar (an odd number of them) is text, as in matplotlib."""
    if alt.count("$") % 2:
        return alt
    parts = alt.split("$")
    for i in range(1, len(parts), 2):
        words = re.sub(r"\s+", " ", _words(TOKEN.findall(parts[i]))).strip()
        parts[i] = re.sub(r"\( ", "(", words)
    return "".join(parts)


def fix_alt_texts(app, doctree, docname):
    # Images, and sphinx-gallery's own figure node, which has an alt text too.
    for image in doctree.findall(lambda node: isinstance(node, nodes.Element) and "$" in str(node.get("alt", ""))):
        alt = image["alt"]
        try:
            image["alt"] = readable(alt)
        except UnknownCommand as error:
            logger.warning(f"alt text: \\{error} is not turned into text in {alt!r}: add it to docs/_ext/alt_text.py", location=docname)


def setup(app):
    app.connect("doctree-resolved", fix_alt_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
