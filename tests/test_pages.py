"""Each tutorial page shows what a reader came for: its title, typeset maths,
the output under its code cells, its checks, its figure and its downloads."""

import re

import pytest

from conftest import EXAMPLES, page_outputs, soup, tutorial_page

# A line of each page's output that only a run of that example prints.
EXPECTED_OUTPUT = {
    "basics/plot_01_elementwise_derivative": "f(x): (1000,)   v^T J: (1000,)",
    "basics/plot_02_per_sample_gradients": "f(x): (1000,)   v^T J: (1000, 2)",
    "basics/plot_03_two_inputs": "f(x, y): (1000,)   v^T J_x: (1000,)   v^T J_y: (1000,)",
    "basics/plot_04_batched_jacobian": "Jacobians: (1000, 3, 2)",
    "basics/plot_05_batched_jacobian_two_inputs": "B^x: (1000, 3)   B^y: (1000, 3)",
    "jacobians/plot_01_when_ones_is_not_the_derivative": "cumsum   1^T J: tensor([8., 7., 6., 5., 4., 3., 2., 1.]",
    "jacobians/plot_02_batched_jacobian_methods": "(100000, 3, 100000, 2) in float64 would take 447 GiB",
    "jacobians/plot_03_functional_to_torch_func": "autograd.grad(retain_graph=True)       1         3",
    "higher_order/plot_01_vjp_or_jvp": "jacfwd and jacrev both equal the hand-derived J: (30, 50)",
    "higher_order/plot_02_hessian_vector_products": "full Hessian: (200, 200)",
    "higher_order/plot_03_complex_inputs": "z.grad = dL/da + i dL/db (computed in real arithmetic) at all 1000 points, to rounding",
    "in_practice/plot_01_checking_gradients": "gradcheck and gradgradcheck pass in float64",
    "in_practice/plot_02_vjp_arguments_and_errors": "RuntimeError: v has invalid size: should be torch.Size([4])",
    "in_practice/plot_03_custom_vjp_rule": "gradcheck on the buggy rule -> GradcheckError",
    "in_practice/plot_04_physics_informed_and_per_sample": "per-sample gradients: 256 points x 1153 parameters",
    "in_practice/plot_05_derivatives_with_respect_to_parameters": "per-sample gradients: 32 samples x 9802 parameters",
    "in_practice/plot_07_implicit_differentiation": "saved for backward: unrolled 9,536 bytes, implicit 128 bytes",
    "in_practice/plot_08_nan_and_inf_gradients": "RuntimeError: Function 'SqrtBackward0' returned nan values in its 0th output.",
    "jacobians/plot_04_random_v_trace_and_diagonal": "n = 100: divergence tr(J) = 100.1264",
    "jacobians/plot_05_structured_jacobians_by_colouring": "block-diagonal (3000 x 2000): 2 column colours, 3 row colours",
    "higher_order/plot_04_full_and_batched_hessians": "func.hessian and jacfwd(jacrev(f)) run the same 95 ATen operations",
    "higher_order/plot_05_laplacian_for_physics_informed_models": "Laplacian at 128 points in d = 8: d VJPs and forward Laplacian equal the hand formula",
    "higher_order/plot_06_ntk_and_gauss_newton": "residual evaluations: 3 to set up, 0 for a product J^T J u",
    "in_practice/plot_06_forward_mode_custom_rules": "default gradcheck on the buggy rule: passed",
    "under_the_hood/plot_01_inside_the_vjp_chain": "AccumulateGrad (x)  receives v of shape (4,)",
    "under_the_hood/plot_02_memory_what_reverse_mode_keeps": "segments of  4:  49152 bytes saved, peak 131088, 32 layer calls",
    "under_the_hood/plot_03_vjps_under_torch_compile": 'backend="aot_eager"  saves     0 new bytes for backward',
}


def test_every_example_has_an_expected_output():
    assert sorted(EXPECTED_OUTPUT) == sorted(f"{e.parent.name}/{e.stem}" for e in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_tutorial_page(site, example):
    page = soup(tutorial_page(site.html, example))

    # The page's heading is the example's title (the docstring's first line).
    title = example.read_text(encoding="utf-8").split('r"""', 1)[1].strip().splitlines()[0]
    heading = page.find("h1")
    heading.find("a", class_="headerlink").decompose()
    assert heading.get_text(" ", strip=True).replace("\u2019", "'") == title  # smart quotes

    # Maths is typeset at build time (KaTeX's HTML, with MathML for screen readers), no TeX left for a script.
    maths = page.select("article math")
    assert len(maths) >= 3
    assert all(m.find(True) is not None for m in maths), "an empty <math> element"
    article = page.select_one("article")
    prose = " ".join(t for t in article.find_all(string=True) if not t.find_parent("pre"))
    assert not re.search(r"\\(frac|mathbb|partial|top|sum|begin)\b", prose)
    assert ":math:" not in prose

    outputs = page_outputs(page)
    assert len(outputs) >= 3, "output under the code cells"
    text = "\n".join(outputs)
    assert EXPECTED_OUTPUT[f"{example.parent.name}/{example.stem}"] in text
    if example.parent.name == "basics":
        errors = re.findall(r"max \|.*\| = (\d\.\de[-+]\d\d)", text)
        assert errors and all(float(e) < 1e-12 for e in errors), "the readable error line"

    assert "torch.testing.assert_close(" in article.get_text()

    figures = page.select("img.sphx-glr-single-img, img.sphx-glr-multi-img")
    assert figures, "a figure"
    for img in figures:
        assert (tutorial_page(site.html, example).parent / img["src"]).is_file()

    links = {a["href"].rsplit("/", 1)[-1] for a in page.select("a[href]") if "_downloads" in a["href"]}
    assert {example.name, example.stem + ".ipynb"} <= links


def test_gallery_offers_zips_and_thumbnails(site):
    index = soup(site.html / "auto_examples" / "index.html")
    zips = {a["href"].rsplit("/", 1)[-1] for a in index.select("a[href$='.zip']")}
    assert zips == {"auto_examples_python.zip", "auto_examples_jupyter.zip"}
    thumbs = index.select("div.sphx-glr-thumbcontainer img")
    assert len(thumbs) == len(EXAMPLES)
    for img in thumbs:
        assert (site.html / "auto_examples" / img["src"]).is_file()
