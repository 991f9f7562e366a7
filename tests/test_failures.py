"""Failures are loud.

In the build: a wrong derivative, an exception or a syntax error in an
example (or maths that cannot be typeset) makes `make html` exit non-zero,
naming the example, the line and what failed. Shown once, in the tree the
session's site was built in, with three broken examples and a broken page; undoing the
breakages and building again runs those examples again and gives their pages
back as they were.

In every tutorial: a wrong derivative (or a wrong claim) makes its checks
fail at the line that checks it. Each broken copy is run the way the gallery
runs an example (in one Python process, from a fresh torch state), so the
build would fail on it in the same way.
"""

import sys
import traceback

import matplotlib
import pytest

from conftest import EXAMPLES, REPO, make, shown_lines, tutorial_page

matplotlib.use("Agg")
sys.path.insert(0, str(REPO / "docs" / "_ext"))

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
    "input gradient": (
        "basics/plot_02_per_sample_gradients.py",
        "a + 2 * a * b * torch.cos(a * b**2)",
        "a + a * b * torch.cos(a * b**2)",
        "torch.testing.assert_close(input_grad, expected, rtol=1e-12, atol=1e-12)",
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
        'torch.testing.assert_close(\n    ones_vjp["tanh (diagonal)"], 1 - torch.tanh(x) ** 3,',
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
        "torch.testing.assert_close(from_vmap[n], from_loop, rtol=1e-9, atol=1e-13)",
    ),
    "closure over the module": (
        "in_practice/plot_05_derivatives_with_respect_to_parameters.py",
        "return F.mse_loss(functional_call(mlp, params, (x_small,)), y_small)",
        "return F.mse_loss(mlp(x_small), y_small)",
        "torch.testing.assert_close(fixed[name], p.grad, rtol=1e-12, atol=1e-14)",
    ),
    "adjoint equation": (
        "in_practice/plot_07_implicit_differentiation.py",
        "u = v + vjp_x",
        "u = vjp_x",
        "torch.testing.assert_close(implicit_grad, reference, rtol=1e-12, atol=1e-13)",
    ),
    "double where": (
        "in_practice/plot_08_nan_and_inf_gradients.py",
        "x_safe = torch.where(x > 0, x, 1.0)",
        "x_safe = x",
        "torch.testing.assert_close(fixed_grad, by_hand, rtol=1e-15, atol=0)",
    ),
    "Hutchinson probes not centred": (
        "jacobians/plot_04_random_v_trace_and_diagonal.py",
        "signs = 2 * torch.randint(0, 2, shape, generator=generator) - 1",
        "signs = torch.randint(0, 2, shape, generator=generator)",
        "assert (trace_mean - trace).abs() < bias_bound",
    ),
    "colouring unpacked transposed": (
        "jacobians/plot_05_structured_jacobians_by_colouring.py",
        "values = compressed[colours[cols], rows]",
        "values = compressed[colours[rows], cols]",
        "torch.testing.assert_close(recovered.to_dense(), dense, rtol=1e-12, atol=1e-12)",
    ),
    "hand Hessian": (
        "higher_order/plot_04_full_and_batched_hessians.py",
        "torch.diag(-2 * t * s * q)",
        "torch.diag(-t * s * q)",
        "torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-13)",
    ),
    "Laplacian": (
        "higher_order/plot_05_laplacian_for_physics_informed_models.py",
        "lap = d1 * lap_z + d2 * (tangents**2).sum(dim=-2)",
        "lap = d1 * lap_z + d2 * tangents.sum(dim=-2) ** 2",
        "torch.testing.assert_close(laplacian_forward, reference)",
    ),
    "Gauss-Newton product": (
        "higher_order/plot_06_ntk_and_gauss_newton.py",
        "return r, jvp_fn, lambda w: vjp_fn(w)[0]",
        "return r, jvp_fn, lambda w: vjp_fn(w.flip(0))[0]",
        "torch.testing.assert_close(\n    gauss_newton_u, J_hand.T @ (J_hand @ u),",
    ),
    "forward-mode rule": (
        "in_practice/plot_06_forward_mode_custom_rules.py",
        "return (torch.exp(x - output.unsqueeze(-1)) * x_tangent).sum(dim=-1)",
        "return (torch.exp(x - output.unsqueeze(-1)) * x_tangent).mean(dim=-1)",
        "torch.testing.assert_close(tangent_out, s @ x_tangent, rtol=1e-12, atol=1e-12)",
    ),
    "hand-run engine": (
        "under_the_hood/plot_01_inside_the_vjp_chain.py",
        "arriving[child] + piece if child in arriving else piece",
        "piece",
        "torch.testing.assert_close(\n    x.grad,\n    x.detach() * torch.cos(x.detach()) + torch.sin(x.detach()),",
    ),
    "memory page tanh derivative": (
        "under_the_hood/plot_02_memory_what_reverse_mode_keeps.py",
        "jacobian_by_hand = (1 - h**2)[:, None] * weight.T @ jacobian_by_hand",
        "jacobian_by_hand = (1 - h)[:, None] * weight.T @ jacobian_by_hand",
        "torch.testing.assert_close(jacobian, jacobian_by_hand, rtol=1e-12, atol=1e-10)",
    ),
    "compiled VJP": (
        "under_the_hood/plot_03_vjps_under_torch_compile.py",
        "aot_eager_grads[0], w_value * torch.cos(x_value)",
        "aot_eager_grads[0], w_value * torch.sin(x_value)",
        "torch.testing.assert_close(\n    aot_eager_grads[0], w_value * torch.sin(x_value)",
    ),
}



# (example, text, replacement, the text of the line the message must name)
BUILD_BREAKAGES = {
    "wrong derivative": BREAKAGES.pop("wrong derivative"),
    "exception": BREAKAGES.pop("exception"),
    "syntax error": BREAKAGES.pop("syntax error"),
}


def broken(source: str, name: str, text: str, replacement: str, failing: str) -> tuple[str, int]:
    """SOURCE with TEXT replaced, and the line number of FAILING in the result."""
    assert source.count(text) == 1, f"{name}: the text to break is not in the example (once)"
    source = source.replace(text, replacement)
    assert source.count(failing) >= 1, f"{name}: the failing line is not in the broken example"
    return source, source[: source.index(failing)].count("\n") + 1


@pytest.fixture(scope="session")  # made once, however pytest-xdist orders the tests around it
def broken_build(site, built_tree):
    """The built tree with each build breakage in its own example, built; then
    with every breakage undone, built again. Returns both builds and the line
    each breakage must be reported at."""
    root = built_tree
    originals = {}
    lines = {}
    for name, (example, text, replacement, failing) in BUILD_BREAKAGES.items():
        path = root / "examples" / example
        originals[path] = path.read_text()
        source, lines[name] = broken(originals[path], name, text, replacement, failing)
        path.write_text(source)
    index = root / "docs" / "index.md"
    originals[index] = index.read_text()
    index.write_text(originals[index] + "\n\n$\\notacommand{x}$\n")
    broken_run = make(root)
    for path, text in originals.items():
        path.write_text(text)
    return broken_run, lines, make(root)


# These tests share the built tree with tests/test_rebuilds.py (see conftest.built_tree).
@pytest.mark.xdist_group("built-tree")
@pytest.mark.parametrize("name", BUILD_BREAKAGES)
def test_broken_example_fails_the_build_with_file_and_line(broken_build, name):
    build, lines, _ = broken_build
    assert build.returncode != 0
    example = BUILD_BREAKAGES[name][0]
    assert f'{example}", line {lines[name]}' in build.log, build.log[-5000:]
    assert f"../examples/{example} failed leaving traceback" in build.log


@pytest.mark.xdist_group("built-tree")
def test_failure_messages_say_what_failed(broken_build):
    build, _, _ = broken_build
    assert "AssertionError: Tensor-likes are not close!" in build.log
    assert "RuntimeError: deliberately broken" in build.log
    assert "SyntaxError" in build.log
    assert f"Unexpected failing examples ({len(BUILD_BREAKAGES)})" in build.log


@pytest.mark.xdist_group("built-tree")
def test_unsupported_maths_is_reported_where_it_is(broken_build):
    build, _, _ = broken_build
    assert "index.md" in build.log and 'cannot typeset "\\notacommand"' in build.log


@pytest.mark.xdist_group("built-tree")
def test_undoing_a_breakage_runs_the_example_again_and_restores_its_page(site, broken_build, built_tree):
    """sphinx-gallery keeps a failed example's last good .md5; without
    docs/_ext/gallery_guard.py the undone example would not run again and its
    page would keep showing the traceback from a build that passes."""
    _, _, fixed = broken_build
    assert fixed.returncode == 0, fixed.log[-5000:]
    assert "updating environment: 0 added," in fixed.log, "the build after the failure read every page again: Sphinx had dropped its environment"
    assert f"successfully executed {len(BUILD_BREAKAGES)} out of {len(BUILD_BREAKAGES)}" in fixed.log, fixed.log[-3000:]
    html = built_tree / "build" / "html"
    for example, *_ in BUILD_BREAKAGES.values():
        example = REPO / "examples" / example
        assert shown_lines(html, example) == shown_lines(site.html, example), example.name
        assert "Traceback" not in tutorial_page(html, example).read_text()


def test_a_failed_example_fails_the_build_without_w_too():
    """sphinx-gallery only warns of failed examples (conf.py), so that Sphinx
    keeps its environment; gallery_guard makes the build fail for them even
    when warnings are not errors."""
    import gallery_guard

    class App:
        statuscode = 0

        class config:  # noqa: N801 (a stand-in for Sphinx's config)
            sphinx_gallery_conf = {"failing_examples": {}}

    app = App()
    gallery_guard.fail_the_build(app, None)
    assert app.statuscode == 0
    app.config.sphinx_gallery_conf["failing_examples"]["examples/basics/plot_01.py"] = "Traceback ..."
    gallery_guard.fail_the_build(app, None)
    assert app.statuscode == 1
    assert REPO.joinpath("conf.py").read_text().count('"only_warn_on_example_error": True') == 1


def test_every_tutorial_can_fail():
    broken_examples = {example for example, *_ in (BREAKAGES | BUILD_BREAKAGES).values()}
    assert broken_examples == {f"{e.parent.name}/{e.name}" for e in EXAMPLES}


@pytest.mark.parametrize("name", BREAKAGES)
def test_wrong_derivative_fails_the_tutorials_check(name, tmp_path, monkeypatch):
    example, text, replacement, failing = BREAKAGES[name]
    path = REPO / "examples" / example
    source, line = broken(path.read_text(), name, text, replacement, failing)
    import torch_state  # the reset the gallery runs before each example

    monkeypatch.chdir(tmp_path)
    torch_state.reset_torch_state({}, str(path), "before")
    try:
        exec(compile(source, str(path), "exec"), {"__name__": "__main__", "__file__": str(path)})
    except Exception as error:  # noqa: BLE001 (any failure, then checked)
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
        assert frames and frames[-1].lineno == line, f"{name}: failed at line {frames[-1].lineno if frames else '?'}, not {line}: {error!r}"
    else:
        pytest.fail(f"{name}: the broken {example} ran to the end")
    finally:
        torch_state.reset_torch_state({}, str(path), "after")
        import matplotlib.pyplot as plt

        plt.close("all")
