"""Failures are loud: a wrong derivative, an exception or a syntax error in an
example (or maths that cannot be typeset) makes `make html` exit non-zero, naming the example, the line and
what failed."""

import pytest

from conftest import EXAMPLES, copy_repo, make

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
    # A wrong derivative (or a wrong claim) in each of the other tutorials.
    "per-sample gradient": (
        "basics/plot_02_per_sample_gradients.py",
        "a + 2 * a * b * torch.cos(a * b**2)",
        "a + a * b * torch.cos(a * b**2)",
        "torch.testing.assert_close(per_sample_grad, expected, rtol=1e-12, atol=1e-12)",
    ),
    "two-input Jacobian": (
        "basics/plot_05_batched_jacobian_two_inputs.py",
        "torch.stack((c, 2 * y * c), dim=1)",
        "torch.stack((c, y * c), dim=1)",
        "torch.testing.assert_close(jacobians, expected, rtol=1e-12, atol=1e-12)",
    ),
    "tanh derivative": (
        "jacobians/plot_01_when_ones_is_not_the_derivative.py",
        '"tanh (diagonal)"], 1 - torch.tanh(x) ** 2,',
        '"tanh (diagonal)"], 1 - torch.tanh(x) ** 3,',
        '"tanh (diagonal)"], 1 - torch.tanh(x) ** 3,',
    ),
    "batched Jacobian by hand": (
        "jacobians/plot_02_batched_jacobian_methods.py",
        "torch.stack((c, 2 * b * c), 1)",
        "torch.stack((c, b * c), 1)",
        "torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)",
    ),
    "VJP as a gradient": (
        "jacobians/plot_03_functional_to_torch_func.py",
        "torch.func.grad(lambda x: (v * f(x)).sum())(x)",
        "torch.func.grad(lambda x: f(x).sum())(x)",
        "torch.testing.assert_close(result, reference, rtol=1e-12, atol=1e-12)",
    ),
    "layer Jacobian": (
        "higher_order/plot_01_vjp_or_jvp.py",
        "J = (1 - torch.tanh(W @ x) ** 2)[:, None] * W",
        "J = (1 - torch.tanh(W @ x))[:, None] * W",
        "torch.testing.assert_close(result, J @ u, rtol=1e-12, atol=1e-12)",
    ),
    "Hessian-vector product": (
        "higher_order/plot_02_hessian_vector_products.py",
        "expected = A @ v - torch.cos(x) * v",
        "expected = A @ v + torch.cos(x) * v",
        "torch.testing.assert_close(result, expected, rtol=1e-10, atol=1e-12)",
    ),
    "missing conjugate": (
        "higher_order/plot_03_complex_inputs.py",
        "expected_holo = v * torch.conj(2 * z + torch.cos(z))",
        "expected_holo = v * (2 * z + torch.cos(z))",
        "torch.testing.assert_close(vjp_holo, expected_holo, rtol=1e-12, atol=1e-12)",
    ),
    "finite-difference reference": (
        "in_practice/plot_01_checking_gradients.py",
        "return 2 * x + 2 * x * torch.cos(x**2)",
        "return 2 * x + 2 * x * torch.sin(x**2)",
        "assert errors[torch.float64].min() < 1e-9",
    ),
    "second derivative of x^3": (
        "in_practice/plot_02_vjp_arguments_and_errors.py",
        "torch.testing.assert_close(second, 6 * x)",
        "torch.testing.assert_close(second, 5 * x)",
        "torch.testing.assert_close(second, 5 * x)",
    ),
    "custom backward": (
        "in_practice/plot_03_custom_vjp_rule.py",
        "return grad_output * (2 * x + 2 * x * torch.cos(x**2))",
        "return grad_output * (2 * x + 2 * x * torch.sin(x**2))",
        "torch.testing.assert_close(custom, autograd, rtol=1e-12, atol=1e-12)",
    ),
    "per-sample residual": (
        "in_practice/plot_04_physics_informed_and_per_sample.py",
        "return (du_dx_one - torch.cos(x_one)) ** 2",
        "return (du_dx_one - torch.sin(x_one)) ** 2",
        "torch.testing.assert_close(from_vmap[n], from_loop, rtol=1e-10, atol=1e-13)",
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
    assert f"../examples/{example} failed leaving traceback" in build.log


def test_every_tutorial_can_fail():
    broken = {example for example, *_ in BREAKAGES.values()}
    assert broken == {f"{e.parent.name}/{e.name}" for e in EXAMPLES}


def test_failure_messages_say_what_failed(broken_build):
    build, _ = broken_build
    assert "AssertionError: Tensor-likes are not close!" in build.log
    assert "RuntimeError: deliberately broken" in build.log
    assert "SyntaxError" in build.log
    assert f"Unexpected failing examples ({len(BREAKAGES)})" in build.log


def test_unsupported_maths_is_reported_where_it_is(broken_build):
    build, _ = broken_build
    assert "index.md" in build.log and 'cannot typeset "\\notacommand"' in build.log
