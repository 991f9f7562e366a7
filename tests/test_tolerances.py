"""Every check tighter than assert_close's defaults says why it holds on any
machine. Reductions, BLAS and transcendental functions round differently on
other CPUs, kernels and thread counts; a tolerance below the defaults
(float64: rtol = atol = 1e-7), an exact comparison of floats or a bound such
as ``< 1e-12`` holds everywhere only for a reason: the same operations on the
same operands, correctly rounded operations, exact integers, or a bound from
the maths. The reason is a comment on the check, directly above it (a comment
may serve a run of consecutive checks, or stand above the loop or block whose
first statement the check is). test_other_machines.py checks that the reasons
hold; this test checks that they are written down."""

import ast
import io
import tokenize

import pytest
from conftest import EXAMPLES

DEFAULT = 1e-7  # assert_close's rtol and atol for float64


def small_constants(node: ast.AST) -> list[float]:
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant)
        and type(n.value) in (int, float)
        and 0 <= n.value < DEFAULT
    ]


def is_tight(node: ast.AST) -> bool:
    """NODE compares floats exactly or within less than the defaults:
    assert_close with an rtol or atol below them, .equal(), or ``< 1e-12``."""
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            name = ast.unparse(n.func)
            if name.endswith("assert_close") and any(
                k.arg in ("rtol", "atol") and small_constants(k.value)
                for k in n.keywords
            ):
                return True
            if name.endswith(".equal") or name == "torch.equal":
                return True
        if isinstance(n, ast.Compare) and any(
            isinstance(op, (ast.Lt, ast.LtE)) for op in n.ops
        ):
            if any(value > 0 for c in n.comparators for value in small_constants(c)):
                return True
    return False


def is_check(node: ast.AST) -> bool:
    """An assert statement, or a call of assert_close as a statement."""
    call = isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
    return isinstance(node, ast.Assert) or (
        call and ast.unparse(node.value.func).endswith("assert_close")
    )


def tight_checks(tree: ast.Module) -> list[ast.stmt]:
    """The checks with tight tolerances."""
    return [
        node
        for node in ast.walk(tree)
        if is_check(node)
        and is_tight(node.test if isinstance(node, ast.Assert) else node.value)
    ]


def comment_lines(source: str) -> set[int]:
    return {
        tok.start[0]
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }


def has_reason(
    check: ast.stmt,
    lines: list[str],
    comments: set[int],
    starts: dict[int, ast.stmt],
    parents: dict,
) -> bool:
    """A comment on CHECK's lines, or directly above it, above the consecutive
    checks before it, or above the block it opens."""
    if comments & set(range(check.lineno, check.end_lineno + 1)):
        return True
    line = check.lineno - 1
    node = check
    while line >= 1:
        if line in comments and lines[line - 1].lstrip().startswith("#"):
            return True
        previous = next((s for s in starts.values() if s.end_lineno == line), None)
        if previous is not None and is_check(previous):
            line = previous.lineno - 1  # a run of consecutive checks shares a comment
            node = previous
            continue
        parent = parents.get(node)
        if (
            parent is not None
            and getattr(parent, "body", [None])[0] is node
            and parent.lineno == line
        ):
            line, node = (
                parent.lineno - 1,
                parent,
            )  # the first statement of a block: a comment above its header
            continue
        return False
    return False


def missing_reasons(source: str, name: str = "<example>") -> list[str]:
    tree = ast.parse(source)
    lines = source.splitlines()
    comments = comment_lines(source)
    parents = {
        child: parent
        for parent in ast.walk(tree)
        for child in ast.iter_child_nodes(parent)
    }
    statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]
    checks = tight_checks(tree)
    starts = {id(s): s for s in statements}
    return [
        f"{name}:{c.lineno}: {lines[c.lineno - 1].strip()}"
        for c in checks
        if not has_reason(c, lines, comments, starts, parents)
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_tight_check_says_why_it_holds_on_any_machine(example):
    missing = missing_reasons(
        example.read_text(encoding="utf-8"), f"{example.parent.name}/{example.name}"
    )
    assert not missing, (
        "checks tighter than assert_close's defaults, with no reason above them:\n"
        + "\n".join(missing)
    )


def test_the_rule_sees_what_it_is_for():
    source = (
        "import torch\n"
        "x = torch.ones(3)\n"
        "torch.testing.assert_close(x, x, rtol=0, atol=0)\n"  # no reason
        "\n"
        "# Same operations on the same operands.\n"
        "torch.testing.assert_close(x, x, rtol=0, atol=0)\n"
        "assert x.equal(x)\n"  # shares the comment above
        "\n"
        "# Loosely: a reason for the loop's first statement.\n"
        "for _ in range(2):\n"
        "    assert (x - x).abs().max() < 1e-12\n"
        "torch.testing.assert_close(x, x)\n"  # defaults: nothing to say
        "torch.testing.assert_close(x, x, rtol=1e-3, atol=1e-3)\n"  # looser than the defaults
        "residual = 0.0\n"
        "assert residual < 1e-15\n"  # no reason
    )
    assert [line.split(":")[1] for line in missing_reasons(source)] == ["3", "15"]
