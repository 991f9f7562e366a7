r"""docs/_ext/tex_text.py: the TeX of inline maths as plain text, for figure
alt texts and card tooltips alike. Every command of its tables has a case
here, every formula today's pages put in an alt text or a tooltip converts,
and its hooks rewrite a card's tooltip and an alt text on a doctree."""

import ast
import re
from pathlib import Path

import pytest
import tex_text
from docutils import nodes
from docutils.utils import new_document
from sphinx import addnodes
from tex_text import (
    UnknownTeX,
    example_intro,
    rst_to_text,
    tex_to_text,
    text_with_maths,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*/plot_*.py"))

CASES = [
    # relations and binary operators, spaced as TeX spaces them
    (r"\mathbb{R}^2 \to \mathbb{R}^3", "ℝ² → ℝ³"),
    (r"x \in \mathbb{C}", "x ∈ ℂ"),
    (r"3 \times 2", "3 × 2"),
    (r"a \cdot b", "a · b"),
    (r"x \approx y", "x ≈ y"),
    (r"x \neq y, x \ne y", "x ≠ y, x ≠ y"),
    (r"x \leq y, x \le y", "x ≤ y, x ≤ y"),
    (r"x \geq y, x \ge y", "x ≥ y, x ≥ y"),
    (r"y \propto x", "y ∝ x"),
    (r"x \mapsto x^2", "x ↦ x²"),
    (r"u \odot v", "u ⊙ v"),
    (r"\{x \mid x > 0\}", "{x ∣ x > 0}"),
    (r"x > 0, y<0", "x > 0, y < 0"),
    # minus: U+2212, binary or unary; + and = as in TeX
    (r"a - b", "a − b"),
    (r"a-b", "a − b"),
    (r"-x", "−x"),
    (r"a = -b", "a = −b"),
    (r"(-1)^n", "(−1)ⁿ"),
    (r"a+b=c", "a + b = c"),
    # symbols
    (r"\partial f / \partial x", "∂f/∂x"),
    (r"\sum_i x_i", "∑ᵢ xᵢ"),
    (r"\prod_k a_k", "∏ₖ aₖ"),
    (r"\nabla f", "∇f"),
    (r"x \to \infty", "x → ∞"),
    (r"x^\star", "x⋆"),
    (r"v^\top J", "vᵀJ"),
    (r"\ell(y)", "ℓ(y)"),
    (r"x_1, \ldots, x_n", "x₁, …, xₙ"),
    (r"x_1, \dots, x_n", "x₁, …, xₙ"),
    (r"x_1 + \cdots + x_n", "x₁ + ⋯ + xₙ"),
    (r"\lvert x \rvert", "|x|"),
    (r"\Vert v \Vert = \lVert v \rVert = \|v\|", "‖v‖ = ‖v‖ = ‖v‖"),
    (r"\alpha\beta\gamma\delta\epsilon\varepsilon\eta\theta", "αβγδεεηθ"),
    (r"\lambda\mu\sigma\tau\phi\psi\omega", "λμστφψω"),
    (r"\Delta\Theta\Lambda\Sigma\Phi\Omega", "ΔΘΛΣΦΩ"),
    # spacing commands
    (r"a\,b", "a\u2009b"),
    (r"a\;b", "a b"),
    (r"a\:b", "a b"),
    (r"a\!b", "ab"),
    (r"a\ b", "a b"),
    (r"a \quad b", "a b"),
    (r"a \qquad b", "a b"),
    # named functions, spaced from what comes before and after as TeX does
    (r"\sin(x)", "sin(x)"),
    (r"a \sin(x)", "a sin(x)"),
    (r"\cos x", "cos x"),
    (r"\tan x", "tan x"),
    (r"\tanh(x)", "tanh(x)"),
    (r"\exp(-x)", "exp(−x)"),
    (r"\log n", "log n"),
    (r"\det A", "det A"),
    (r"\max(a, b) - \min(a, b)", "max(a, b) − min(a, b)"),
    (r"\diag(v)", "diag(v)"),
    (r"\tr(A)", "tr(A)"),
    # sizes and styles that plain text has no use for
    (r"\left( x \right)", "(x)"),
    (r"\big( x \big) \Big( y \Big)", "(x)(y)"),
    (r"\bigl( x \bigr) \Bigl( y \Bigr)", "(x)(y)"),
    (r"\displaystyle x", "x"),
    # escaped characters
    (r"\{a\}", "{a}"),
    (r"a\_b", "a_b"),
    (r"a\^b", "a^b"),
    (r"50\%", "50%"),
    (r"a \& b", "a&b"),
    (r"\#n", "#n"),
    (r"\$5", "$5"),
    # fonts and accents
    (r"\mathbb{R}^N", "ℝᴺ"),
    (r"\mathbb{Z}, \mathbb{N}, \mathbb{Q}", "ℤ, ℕ, ℚ"),
    (r"v = \mathbf{1}", "v = 𝟏"),
    (r"\boldsymbol{0}", "𝟎"),
    (r"\mathbf{x}", "x"),  # no bold letters in plain text
    (r"0 / \mathrm{NaN}", "0/NaN"),
    (r"\mathit{grad}", "grad"),
    (r"x \text{ for all } y", "x for all y"),
    (r"\operatorname{tr}(J)", "tr(J)"),
    (r"\hat d_k", "d̂ₖ"),
    (r"\bar x", "x̄"),
    # fractions and roots: parentheses only around more than one name
    (r"\frac{1}{2}", "1/2"),
    (r"\frac{a+b}{c}", "(a + b)/c"),
    (r"\frac{\partial f}{\partial x}", "∂f/∂x"),
    (r"\sqrt{k}", "√k"),
    (r"\sqrt 2", "√2"),
    (r"\sqrt{n - 1}", "√(n − 1)"),
    # sub- and superscripts, with and without Unicode forms
    (r"x^2", "x²"),
    (r"x^{-1}", "x⁻¹"),
    (r"e^{-bt}", "e⁻ᵇᵗ"),
    (r"a_{ij}", "aᵢⱼ"),
    (r"x_n^2", "xₙ²"),
    (r"u_\theta(x)", "u_θ(x)"),  # no subscript theta
    (r"J_y", "J_y"),  # no subscript y
    (r"x^q", "x^q"),  # no superscript q
    (r"\mathbb{R}^{N \times 2}", "ℝ^(N×2)"),
    (r"f'(x), f''", "f′(x), f′′"),
    # nested groups
    (r"{{a}^{2}}_{1}", "a²₁"),
    (r"e^{x^{2}}", "e^(x²)"),
    (r"\sqrt{\frac{1}{n}}", "√(1/n)"),
]


@pytest.mark.parametrize("tex, text", CASES, ids=[tex for tex, _ in CASES])
def test_tex_to_text(tex, text):
    assert tex_to_text(tex) == text


def test_every_command_of_the_tables_has_a_case():
    commands = (
        set(tex_text.SYMBOLS)
        | set(tex_text.SPACES)
        | tex_text.NAMED_FUNCTIONS
        | tex_text.IGNORED
        | tex_text.ESCAPED
        | set(tex_text.FONTS)
        | {"text", "frac", "sqrt"}  # the commands written out in tex_to_text itself
    )
    cased = {
        match[1] for tex, _ in CASES for match in re.finditer(r"\\([A-Za-z]+|.)", tex)
    }
    assert not commands - cased, f"commands without a case: {sorted(commands - cased)}"


@pytest.mark.parametrize(
    "tex, error",
    [
        (r"\notacommand{x}", r"\\notacommand"),  # reported, not passed through
        (r"\frac{1}", "without its argument"),
        (r"x^", "without its argument"),
        (r"\sqrt{x", "unbalanced"),
    ],
)
def test_what_it_cannot_write_is_an_error(tex, error):
    with pytest.raises(UnknownTeX, match=error):
        tex_to_text(tex)


@pytest.mark.parametrize(
    "text, plain",
    [
        (r"error of $v^\top \partial x^\star / \partial\theta$", "error of vᵀ∂x⋆/∂θ"),
        (r"$f(x) = \sqrt{x}$ for $x > 0$, else $0$", "f(x) = √x for x > 0, else 0"),
        ("costs $5", "costs $5"),  # an odd number of dollars: text, as in matplotlib
        (r"a \$5 and $x$", "a $5 and x"),  # an escaped dollar is a dollar
        ("no maths", "no maths"),
    ],
)
def test_text_with_maths(text, plain):
    assert text_with_maths(text) == plain


def test_alt_texts_and_tooltips_write_the_same_maths_the_same_way():
    assert rst_to_text(r"the map :math:`a - b \in \mathbb{R}`") == text_with_maths(
        r"the map $a - b \in \mathbb{R}$"
    )


def intro_maths():
    """Each :math: role in the paragraph sphinx-gallery shows on a card."""
    return sorted(
        {
            tex
            for path in EXAMPLES
            for tex in re.findall(r":math:`([^`]*)`", example_intro(path))
        }
    )


def title_maths():
    """Each plot title written as a string in an example that has $...$ in it
    (sphinx-gallery makes titles the figures' alt texts; a title built at run
    time is checked by the build, which warns on TeX it cannot write)."""
    found = set()
    for path in EXAMPLES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") in ("set_title", "suptitle", "title")
                and node.args
            ):
                argument = node.args[0]
                parts = (
                    argument.values
                    if isinstance(argument, ast.JoinedStr)
                    else [argument]
                )
                found |= {
                    p.value
                    for p in parts
                    if isinstance(p, ast.Constant) and "$" in str(p.value)
                }
    return sorted(found)


def test_todays_pages_have_maths_to_convert():
    assert len(intro_maths()) > 20 and len(title_maths()) > 10


@pytest.mark.parametrize("tex", intro_maths())
def test_every_tooltip_formula_converts(tex):
    assert "\\" not in tex_to_text(tex)


@pytest.mark.parametrize("title", title_maths())
def test_every_title_converts(title):
    text = text_with_maths(title)
    assert "\\" not in text and "$" not in text


def card(target, tooltip, title):
    """A document holding one card as sphinx-gallery's THUMBNAIL_TEMPLATE makes it."""
    document = new_document("index")
    opening = f'<div class="sphx-glr-thumbcontainer" tooltip="{tooltip}">'
    link = nodes.paragraph(
        "", "", addnodes.pending_xref("", reftype="doc", reftarget=target)
    )
    closing = f'<div class="sphx-glr-thumbnail-title">{title}</div>\n</div>'
    document += [
        nodes.raw("", opening, format="html"),
        link,
        nodes.raw("", closing, format="html"),
    ]
    return document


def test_card_tooltip_in_plain_text_under_data_tooltip(fake_app):
    app = fake_app()
    document = card(
        "/auto_examples/basics/plot_05_batched_jacobian_two_inputs",
        r"maps \mathbb{R}^2 \to",
        "t",
    )
    tex_text.rewrite_tooltips(app, document)
    opening = document.children[0].astext()
    assert ' tooltip="' not in opening and "data-tooltip=" in opening
    assert "ℝ² → ℝ³" in opening and "\\" not in opening
    assert app.env.noted == [
        str(REPO / "examples/basics/plot_05_batched_jacobian_two_inputs.py")
    ]


def test_alt_texts_in_plain_text():
    document = new_document("page")
    document += nodes.image(uri="f.png", alt=r"$f(x) = \sqrt{x}$ for $x > 0$")
    tex_text.fix_alt_texts(None, document, "page")
    assert document.children[0]["alt"] == "f(x) = √x for x > 0"
