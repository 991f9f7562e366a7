"""Failures are loud: a wrong derivative, an exception or a syntax error in an
example (or maths that cannot be typeset) makes `make html` exit non-zero, naming the example, the line and
what failed."""

import pytest

from conftest import copy_repo, make

# Each breaks one example of a copy of the repository:
# (example, text, replacement, the text of the line the message must name).
BREAKAGES = {
    "wrong derivative": (
        "basics/plot_01_elementwise_derivative.py",
        "return 2 * x + 2 * x * torch.cos(x**2)",
        "return 2 * x + 2 * x * torch.sin(x**2)",
        "torch.testing.assert_close(vjp_x, expected",
    ),
    "exception": (
        "basics/plot_03_two_inputs.py",
        "v = torch.ones(N, dtype=torch.float64)  # shaped like f(x, y)",
        'raise RuntimeError("deliberately broken")',
        'raise RuntimeError("deliberately broken")',
    ),
    "syntax error": (
        "basics/plot_04_batched_jacobian.py",
        "jacobians = torch.empty(N, 3, 2, dtype=torch.float64)",
        "jacobians = torch.empty(N, 3, 2, dtype=torch.float64",
        "jacobians = torch.empty(N, 3, 2, dtype=torch.float64",
    ),
}


@pytest.fixture(scope="module")
def broken_build(tmp_path_factory):
    """One build of a copy in which each breakage above is made in its own example."""
    root = copy_repo(tmp_path_factory.mktemp("broken") / "repo")
    lines = {}
    for name, (example, text, replacement, failing) in BREAKAGES.items():
        path = root / "examples" / example
        source = path.read_text()
        assert source.count(text) == 1, f"{name}: the text to break is not in {example}"
        source = source.replace(text, replacement)
        lines[name] = source[: source.index(failing)].count("\n") + 1
        path.write_text(source)
    index = root / "docs" / "index.md"
    index.write_text(index.read_text() + "\n\n$\\notacommand{x}$\n")
    return make(root), lines


@pytest.mark.parametrize("name", BREAKAGES)
def test_broken_example_fails_the_build_with_file_and_line(broken_build, name):
    build, lines = broken_build
    assert build.returncode != 0
    example = BREAKAGES[name][0]
    assert f'{example}", line {lines[name]}' in build.log, build.log[-5000:]


def test_failure_messages_say_what_failed(broken_build):
    build, _ = broken_build
    assert "AssertionError: Tensor-likes are not close!" in build.log
    assert "RuntimeError: deliberately broken" in build.log
    assert "SyntaxError" in build.log
    assert "Unexpected failing examples (3)" in build.log


def test_unsupported_maths_is_reported_where_it_is(broken_build):
    build, _ = broken_build
    assert "index.md" in build.log and 'cannot typeset "\\notacommand"' in build.log
