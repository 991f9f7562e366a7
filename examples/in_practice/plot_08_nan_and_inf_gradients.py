r"""
Where NaN and inf gradients come from, and how to find them
===========================================================

A loss that is finite everywhere can still have a gradient full of NaN.
Three causes are shown here: a branch that :func:`torch.where` did not
select, a square root or a hand-written norm at zero, and a mask that
multiplies instead of selecting. In each, the chain rule combines a zero
with another zero, an infinity or a NaN, and IEEE arithmetic turns
:math:`0 / 0`, :math:`0 \cdot \infty` or :math:`0 / \mathrm{NaN}` into
NaN. This page reproduces each one, fixes it, checks the fixed gradient
against a hand derivation, and uses anomaly mode to name the backward
function where the NaN first appears.
"""

# %%
# The maths
# ---------
#
# Take :math:`z = \operatorname{where}(m, g(x), 0)` elementwise, with
# :math:`x, z \in \mathbb{R}^N` and a boolean mask :math:`m`. Both branches
# are computed, and reverse mode runs the VJP of each:
#
# .. math::
#
#    \bar y = \bar z \odot m, \qquad
#    \bar x = \bar y \odot g'(x),
#
# where :math:`y = g(x)` and :math:`J_g = \operatorname{diag}(g'(x)) \in
# \mathbb{R}^{N \times N}`. Where :math:`m_i` is false, :math:`\bar y_i = 0`,
# and the VJP of :math:`g` still combines that zero with :math:`g'(x_i)`. If
# :math:`g'(x_i)` is infinite or NaN, IEEE 754 arithmetic gives NaN however
# the formula combines them:
#
# .. math::
#
#    0 \cdot \infty = \mathrm{NaN}, \qquad 0 / 0 = \mathrm{NaN}, \qquad
#    0 \cdot \mathrm{NaN} = 0 / \mathrm{NaN} = \mathrm{NaN},
#
# and NaN then spreads through every later sum. For :math:`g = \sqrt{\cdot}`,
# :math:`g'(0) = \tfrac{1}{2\sqrt{0}} = \infty` and :math:`g'(x) =
# \mathrm{NaN}` for :math:`x < 0`. PyTorch's VJP of ``sqrt`` divides,
# :math:`\bar x = \bar y / (2\sqrt{x})`, so an unselected 0 gives
# :math:`0 / 0` and an unselected negative :math:`x` gives
# :math:`0 / \mathrm{NaN}` (the first section shows what goes in and what
# comes out). The zero in
# :math:`\bar y` cannot protect :math:`\bar x`; only keeping bad values
# away from :math:`g` can.

import os
import textwrap
import warnings

import matplotlib.pyplot as plt
import torch

zero = torch.tensor(0.0, dtype=torch.float64)
inf, nan = (
    torch.tensor(float("inf"), dtype=torch.float64),
    torch.tensor(float("nan"), dtype=torch.float64),
)
print(
    f"0 * inf = {(zero * inf).item()}, 0 / 0 = {(zero / zero).item()},",
    f"0 * nan = {(zero * nan).item()}, 0 / nan = {(zero / nan).item()},",
    f"0 + nan = {(zero + nan).item()}",
)
assert torch.isnan(zero * inf) and torch.isnan(zero / zero) and torch.isnan(zero * nan)
assert torch.isnan(zero / nan) and torch.isnan(zero + nan)

# %%
# .. _where-nan-gradient:
#
# The branch that ``where`` did not select
# ----------------------------------------
#
# :math:`f(x) = \sqrt{x}` for :math:`x > 0` and :math:`0` otherwise. The
# values are right; the gradient is NaN wherever the square-root branch was
# not selected.

x = torch.tensor([-1.0, 0.0, 2.25, 4.0], dtype=torch.float64, requires_grad=True)
naive_value = torch.where(x > 0, torch.sqrt(x), 0.0)
(naive_grad,) = torch.autograd.grad(naive_value.sum(), x)
print("f(x)          :", naive_value.detach())
print("naive gradient:", naive_grad)
assert torch.isnan(naive_grad[:2]).all() and torch.isfinite(naive_value).all()

# %%
# Where the NaN is made: PyTorch's VJP of ``sqrt`` is ``grad / (2 * result)``
# (`derivatives.yaml
# <https://github.com/pytorch/pytorch/blob/v2.13.0/tools/autograd/derivatives.yaml>`_;
# the site's tests check that it divides, with no infinity on the way). A
# hook on the backward node of the square root
# (:meth:`torch.autograd.graph.Node.register_hook`) sees what it receives
# and what it returns: the incoming zeros at :math:`x = -1` and :math:`0`
# come out as :math:`0 / 2\sqrt{x}`, where :math:`2\sqrt{x}` is NaN and 0.

root = torch.sqrt(x)  # a NaN at -1, as IEEE says
naive_loss = torch.where(x > 0, root, 0.0).sum()
at_the_root = {}


def look(grad_inputs, grad_outputs):  # what the VJP of sqrt returns, and receives
    at_the_root["returned"], at_the_root["incoming"] = grad_inputs[0], grad_outputs[0]


root.grad_fn.register_hook(look)
torch.autograd.grad(naive_loss, x)
print(f"{root.grad_fn.name()}, incoming: {at_the_root['incoming'].tolist()}")
print(f"  2 sqrt(x): {(2 * root.detach()).tolist()}")
print(f"  returned:  {at_the_root['returned'].tolist()}")
# Where the NaNs are: IEEE rules, exact. The finite entries: the same division.
assert (at_the_root["incoming"][:2] == 0).all()
torch.testing.assert_close(
    at_the_root["returned"],
    at_the_root["incoming"] / (2 * root.detach()),
    equal_nan=True,
)
assert torch.isnan(at_the_root["returned"][:2]).all()

# %%
# The fix is a second ``where`` *before* the square root: replace the
# unselected inputs by a harmless value (here 1), so the branch that is
# thrown away is also differentiable. The values are unchanged and the
# gradient is the hand derivative, :math:`\tfrac{1}{2\sqrt{x}}` for
# :math:`x > 0` and :math:`0` elsewhere (at :math:`x = 0` the function has
# no derivative; this is the one of the selected branch, :math:`0`).


def f_double_where(x):
    # sphinx_gallery_break = ("torch.where(x > 0, x, 1.0)", "x")
    x_safe = torch.where(x > 0, x, 1.0)
    return torch.where(x > 0, torch.sqrt(x_safe), 0.0)


(fixed_grad,) = torch.autograd.grad(f_double_where(x).sum(), x)
print("double where  :", fixed_grad)
torch.testing.assert_close(f_double_where(x), naive_value)

# %%
# The checks
# ----------
#
# The double ``where``'s gradient against the hand derivative, at the four
# points above and on the 301 points from -1 to 2 that the picture draws.

expected = torch.where(
    x > 0, 0.5 / torch.sqrt(torch.where(x > 0, x, 1.0)), 0.0
).detach()
grid = torch.linspace(-1, 2, 301, dtype=torch.float64, requires_grad=True)
(fixed_on_grid,) = torch.autograd.grad(f_double_where(grid).sum(), grid)
expected_on_grid = torch.where(
    grid > 0, 0.5 / torch.sqrt(torch.where(grid > 0, grid, 1.0)), 0.0
).detach()
print(
    "max |double where - by hand|:",
    f"{(fixed_grad - expected).abs().max().item():.1e} at the four points,",
    f"{(fixed_on_grid - expected_on_grid).abs().max().item():.1e} on the grid",
)
# Correctly rounded operations only: autograd's 1 / (2 sqrt(x)) and 0.5 / t,
# which torch runs as (1 / t) * 0.5, round to the same double (scaling by 2
# is exact); any other kernel is at most an ulp or two (4e-16) apart.
torch.testing.assert_close(fixed_grad, expected, rtol=1e-15, atol=0)
torch.testing.assert_close(fixed_on_grid, expected_on_grid, rtol=1e-15, atol=0)

# %%
# .. _sqrt-and-norm-at-zero:
#
# Square roots and norms at zero
# ------------------------------
#
# The derivative of :math:`\sqrt{s}` at :math:`s = 0` is infinite, and
# autograd says so. A norm written by hand,
# :math:`\lVert x \rVert = \sqrt{\textstyle\sum_i x_i^2}`, has VJP
# :math:`\bar x = \bar s \cdot 2x` with :math:`\bar s = \infty` at
# :math:`x = 0`: :math:`\infty \cdot 0 = \mathrm{NaN}`. PyTorch's own
# :func:`torch.linalg.vector_norm` (and :func:`torch.linalg.norm`) returns
# :math:`0` there instead, a subgradient of the norm at its kink.

s = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
(sqrt_grad,) = torch.autograd.grad(torch.sqrt(s), s)
origin = torch.zeros(3, dtype=torch.float64, requires_grad=True)
(hand_norm_grad,) = torch.autograd.grad(torch.sqrt((origin**2).sum()), origin)
(vector_norm_grad,) = torch.autograd.grad(torch.linalg.vector_norm(origin), origin)
(linalg_norm_grad,) = torch.autograd.grad(torch.linalg.norm(origin), origin)
print(f"d sqrt(s)/ds at 0 = {sqrt_grad.item()}")
print("gradient at x = 0:")
print("  hand-written norm", hand_norm_grad.tolist())
print("  vector_norm      ", vector_norm_grad.tolist())
print("  linalg.norm      ", linalg_norm_grad.tolist())
# Exact: 1 / 0 = inf and inf * 0 = NaN are IEEE rules, and vector_norm's
# backward puts exact zeros where the norm is 0.
assert torch.isinf(sqrt_grad) and torch.isnan(hand_norm_grad).all()
assert (vector_norm_grad == 0).all() and (linalg_norm_grad == 0).all()

# %%
# Away from zero the two norms have the same gradient,
# :math:`x / \lVert x \rVert`:

away = torch.randn(
    3,
    generator=torch.Generator().manual_seed(0),
    dtype=torch.float64,
    requires_grad=True,
)
(hand_away,) = torch.autograd.grad(torch.sqrt((away**2).sum()), away)
(norm_away,) = torch.autograd.grad(torch.linalg.vector_norm(away), away)
# Each side goes through a sum of 3 squares and a square root, then a
# division or a product: a few eps (2.2e-16) each, in an order and with
# kernels that differ between the two and between machines. 1e-14 (45 eps)
# covers that with room; a wrong formula is off by far more.
torch.testing.assert_close(hand_away, norm_away, rtol=1e-14, atol=0)
torch.testing.assert_close(norm_away, (away / away.norm()).detach(), rtol=1e-14, atol=0)
print("away from 0: hand-written and vector_norm gradients equal x / |x|")

# %%
# The case where this bites in practice is a matrix of pairwise distances
# :math:`D_{ij} = \lVert X_i - X_j \rVert`, :math:`X \in \mathbb{R}^{n
# \times d}`, whose diagonal is zero. :math:`D_{ii}` is constant in
# :math:`X`, so it should contribute nothing; written by hand it makes
# every row of the gradient NaN. By hand, for
# :math:`L = \sum_{i,j} D_{ij}`,
#
# .. math::
#
#    \frac{\partial L}{\partial X_i} = 2 \sum_{j \ne i}
#    \frac{X_i - X_j}{D_{ij}} \in \mathbb{R}^{d}.

points = torch.randn(
    6,
    2,
    generator=torch.Generator().manual_seed(1),
    dtype=torch.float64,
    requires_grad=True,
)
differences = points[:, None, :] - points[None, :, :]  # (n, n, d)
(hand_distance_grad,) = torch.autograd.grad(
    torch.sqrt((differences**2).sum(dim=-1)).sum(), points
)
(norm_distance_grad,) = torch.autograd.grad(
    torch.linalg.vector_norm(differences, dim=-1).sum(), points
)
(cdist_grad,) = torch.autograd.grad(torch.cdist(points, points).sum(), points)


def distance_sum_gradient_by_hand(points):
    """2 sum_{j != i} (X_i - X_j) / D_ij, for every row i."""
    with torch.no_grad():
        differences = points[:, None, :] - points[None, :, :]
        off_diagonal = ~torch.eye(len(points), dtype=torch.bool)
        distances = torch.where(
            off_diagonal, torch.linalg.vector_norm(differences, dim=-1), 1.0
        )
        return 2 * (differences / distances[..., None] * off_diagonal[..., None]).sum(
            dim=1
        )


expected_distance_grad = distance_sum_gradient_by_hand(points)
nan_count = torch.isnan(hand_distance_grad).sum().item()
print(
    f"pairwise distances, hand-written sqrt: {nan_count} of "
    f"{hand_distance_grad.numel()} gradient entries are NaN"
)
assert torch.isnan(hand_distance_grad).all()
smallest = expected_distance_grad.abs().min().item()
print(f"smallest |entry| of the hand derivative: {smallest:.2f}")
assert smallest >= 0.3  # the premise of the tolerance below
# Sums of five unit vectors (entries below 1), each a few roundings: within
# ~10 eps x 5 x 2 = 2e-14, while rtol x |expected| >= 3e-13 here.
torch.testing.assert_close(
    norm_distance_grad, expected_distance_grad, rtol=1e-12, atol=1e-14
)
torch.testing.assert_close(cdist_grad, expected_distance_grad, rtol=1e-12, atol=1e-14)
print("vector_norm(dim=-1) and torch.cdist: finite, equal to the hand derivative")

# %%
# ``torch.cdist`` has two ways to compute Euclidean distances. With its
# default ``compute_mode``, inputs of more than 25 rows take a matrix
# product, :math:`\lVert a \rVert^2 + \lVert b \rVert^2 - 2 a^\top b`
# (the ``r1 > 25 || r2 > 25`` test in `Distance.cpp
# <https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/Distance.cpp>`_),
# which is less accurate: rounding leaves some distances on the
# diagonal near :math:`10^{-8}` instead of 0, and the gradient is off by
# up to about :math:`10^{-7}`, against about :math:`10^{-14}` for the
# direct formula (the sizes depend on the machine's last bits, so they are
# printed; only a bound on the direct formula's error is asserted).
# ``compute_mode="donot_use_mm_for_euclid_dist"`` keeps the direct formula.
# With 30 points:

many = torch.randn(
    30,
    2,
    generator=torch.Generator().manual_seed(2),
    dtype=torch.float64,
    requires_grad=True,
)
expected_many = distance_sum_gradient_by_hand(many)
gradients = {}
print(f"{'compute_mode':<36} {'largest D_ii':>12}  max |gradient - by hand|")
for mode in (
    "use_mm_for_euclid_dist_if_necessary",
    "use_mm_for_euclid_dist",
    "donot_use_mm_for_euclid_dist",
):
    distances = torch.cdist(many, many, compute_mode=mode)
    (gradients[mode],) = torch.autograd.grad(distances.sum(), many)
    largest_diagonal = distances.diagonal().max().item()
    gradient_error = (gradients[mode] - expected_many).abs().max().item()
    print(f"{mode:<36} {largest_diagonal:12.1e}  {gradient_error:24.1e}")
# Exact: the default runs the same operations as the matrix-product mode above
# 25 rows, and as the direct mode at 6 rows.
assert gradients["use_mm_for_euclid_dist_if_necessary"].equal(
    gradients["use_mm_for_euclid_dist"]
)
assert torch.cdist(points, points).equal(
    torch.cdist(points, points, compute_mode="donot_use_mm_for_euclid_dist")
)
# The threshold: 25 rows still take the direct formula, 26 the matrix product
# (the two modes give different distances at both sizes).
for rows, same, other in (
    (25, "donot_use_mm_for_euclid_dist", "use_mm_for_euclid_dist"),
    (26, "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"),
):
    block = many[:rows].detach()
    default = torch.cdist(block, block)
    # Exact: the default runs the very operations of the mode it picks; the
    # other mode's formula rounds differently in some of the 25 x 25 entries.
    assert default.equal(torch.cdist(block, block, compute_mode=same)), rows
    assert not default.equal(torch.cdist(block, block, compute_mode=other)), rows
# The direct formula: sums of 29 unit vectors, times 2, each entry a few
# roundings: within ~10 eps x 29 x 2 = 1.3e-13.
torch.testing.assert_close(
    gradients["donot_use_mm_for_euclid_dist"], expected_many, rtol=1e-12, atol=1e-12
)

# %%
# Second derivatives at a zero norm depend on the route too. By double
# backward (reverse over reverse, as in a gradient penalty or a
# physics-informed loss that differentiates a gradient), ``vector_norm``
# gives NaN again: its backward divides by the norm (``norm_backward`` in
# `FunctionsManual.cpp
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/csrc/autograd/FunctionsManual.cpp>`_,
# which then replaces the 0 / 0 by 0 where the norm is 0; the site's tests
# check both steps, ``tests/test_torch_claims.py``).
# :func:`torch.func.hessian` (forward over reverse) returns 0 there.
# ``cdist``'s direct formula (up to 25 rows) has no double backward in
# torch 2.13 and earlier; torch 2.14 adds one. Run with 2.14 or later, the
# cell compares it with the double ``where``'s, which is finite, and so
# checks that it is finite too, despite the zero diagonal (with this torch
# it checks only that there is none).
# The double ``where`` of the first section keeps both derivatives finite
# by double backward, and away from 0 its double backward gives the norm's
# Hessian, :math:`(I - u u^\top) / \lVert x \rVert` with
# :math:`u = x / \lVert x \rVert`. The Hessians below are built by double
# backward: :func:`torch.autograd.grad` with ``create_graph=True``, then
# once more for each entry of the gradient.


def norm_double_where(t, dim=None):
    squares = (t**2).sum(dim=dim)
    return torch.where(
        squares > 0, torch.sqrt(torch.where(squares > 0, squares, 1.0)), 0.0
    )


def hessian_by_double_backward(function, point):
    point = point.detach().requires_grad_()
    (gradient,) = torch.autograd.grad(function(point), point, create_graph=True)
    rows = [torch.autograd.grad(entry, point, retain_graph=True) for entry in gradient]
    return torch.stack([row for (row,) in rows])


at_zero = torch.zeros(3, dtype=torch.float64)
double_backward = hessian_by_double_backward(torch.linalg.vector_norm, at_zero)
forward_over_reverse = torch.func.hessian(torch.linalg.vector_norm)(at_zero)
double_where_hessian = hessian_by_double_backward(norm_double_where, at_zero)
print("first row of the second derivative at x = 0:")
print("  vector_norm, double backward:   ", double_backward[0].tolist())
print("  vector_norm, torch.func.hessian:", forward_over_reverse[0].tolist())
print("  double where, double backward:  ", double_where_hessian[0].tolist())
# Exact: NaN from dividing by the zero norm, and zeros that the backward
# formulas put in (masks and the unselected branch), not computed values.
assert torch.isnan(double_backward).all() and (forward_over_reverse == 0).all()
assert (double_where_hessian == 0).all()
length = away.detach().norm()
unit = away.detach() / length
torch.testing.assert_close(  # away from 0, against the hand formula
    hessian_by_double_backward(norm_double_where, away),
    (torch.eye(3, dtype=torch.float64) - torch.outer(unit, unit)) / length,
)
release = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
direction = torch.randn(
    6, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64
)
try:  # a Hessian-vector product of the sum of distances, by double backward
    (first,) = torch.autograd.grad(
        torch.cdist(points, points).sum(), points, create_graph=True
    )
    (cdist_second,) = torch.autograd.grad((first * direction).sum(), points)
    outcome = f"computed, finite: {torch.isfinite(cdist_second).all().item()}"
except NotImplementedError as error:
    cdist_second, outcome = None, f"NotImplementedError: {error}"
cdist_line = (
    f"cdist, second derivative with torch {release[0]}.{release[1]} -> {outcome}"
)
print(textwrap.fill(cdist_line, 86, subsequent_indent="  "))
assert (cdist_second is None) == (release <= (2, 13)), (
    "cdist's double backward is new in 2.14"
)
# the same product through the double where, on each pair of points
if cdist_second is not None:
    pairs = points[:, None, :] - points[None, :, :]
    (first,) = torch.autograd.grad(
        norm_double_where(pairs, dim=-1).sum(), points, create_graph=True
    )
    (double_where_second,) = torch.autograd.grad((first * direction).sum(), points)
    torch.testing.assert_close(cdist_second, double_where_second)

# %%
# Masking by multiplication
# -------------------------
#
# ``where`` on the result keeps the *value* finite, and so does multiplying
# by a 0/1 mask where :math:`g` is finite at the masked entries (where it is
# not, :math:`0 \cdot \infty` is NaN: a mask does not even mend the value
# of :math:`\log 0`, checked below). Neither keeps the gradient finite
# where :math:`g'` is infinite, for the reason above: the mask's zero
# reaches the VJP of ``sqrt``, :math:`\bar y / (2\sqrt{x})`, which at a
# masked :math:`x = 0` is :math:`0 / 0`. Selecting the entries *before* the
# operation, with a boolean index, never sends the masked ones through
# :math:`g`; the VJP of indexing puts exact zeros at the unselected entries.

values = torch.tensor(
    [0.0, 1.0, 4.0, 0.0, 9.0], dtype=torch.float64, requires_grad=True
)
keep = values.detach() > 0
masked_products = {
    "multiply by mask": lambda t: (keep * torch.sqrt(t)).sum(),
    "where on result": lambda t: torch.where(keep, torch.sqrt(t), 0.0).sum(),
    "select, then sqrt": lambda t: torch.sqrt(t[keep]).sum(),
}
masked_grads = {}
for name, loss in masked_products.items():
    (masked_grads[name],) = torch.autograd.grad(loss(values), values)
    print(
        f"{name:<18} loss {loss(values).item():.1f}  gradient",
        "[" + ", ".join(f"{g:.4g}" for g in masked_grads[name].tolist()) + "]",
    )
assert torch.isnan(masked_grads["multiply by mask"][~keep]).all()
assert torch.isnan(masked_grads["where on result"][~keep]).all()
zero = torch.tensor([0.0], dtype=torch.float64)
print(
    f"0 * log(0) = {(zero * torch.log(zero)).item()},",
    f"where(False, log(0), 0) = {torch.where(zero > 0, torch.log(zero), 0.0).item()}",
)
assert torch.isnan(zero * torch.log(zero)).all()  # IEEE: 0 * -inf is NaN
expected_masked = torch.where(
    keep, 0.5 / torch.sqrt(torch.where(keep, values.detach(), 1.0)), 0.0
)
# Exact zeros, and correctly rounded sqrt and division as in the first check.
torch.testing.assert_close(
    masked_grads["select, then sqrt"], expected_masked, rtol=1e-15, atol=0
)

# %%
# .. _anomaly-mode:
#
# Finding the culprit with anomaly mode
# -------------------------------------
#
# :class:`torch.autograd.detect_anomaly` records a traceback for every
# forward operation and, during backward, raises as soon as a backward
# function returns NaN, naming it. It also emits Python warnings: one that
# it is on, and one with the forward traceback of the operation. They are
# caught here and their first lines printed, with the line of this script
# the traceback points to.


def backward_with_anomaly_mode(loss_of, inputs):
    """Run backward under anomaly mode; return the error message, the first
    line of each warning, and the forward line the traceback points to."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.autograd.detect_anomaly():
            try:
                loss_of(inputs).backward()
                message = "no error"
            except RuntimeError as error:
                message = str(error)
    first_lines = [str(w.message).splitlines()[0] for w in caught]
    traceback_lines = next(
        (str(w.message).splitlines() for w in caught if "Traceback" in str(w.message)),
        [],
    )
    # The traceback alternates 'File "...", line N' and the code; drop torch's own
    # files.
    torch_dir = os.path.dirname(torch.__file__)
    own_code = [
        code.strip()
        for where, code in zip(traceback_lines, traceback_lines[1:])
        if where.lstrip().startswith("File") and torch_dir not in where
    ]
    return message, first_lines, own_code[-1] if own_code else "(not found)"


def single_where_loss(t):
    return torch.where(t > 0, torch.sqrt(t), 0.0).sum()


message, first_lines, forward_line = backward_with_anomaly_mode(
    single_where_loss, x.detach().clone().requires_grad_()
)
print("RuntimeError:", message)
for line in first_lines:
    print(textwrap.fill(f"  warning: {line}", 86, subsequent_indent="    "))
print("  forward line:", forward_line)
assert "SqrtBackward0" in message and "returned nan values" in message

# %%
# Anomaly mode names the first backward function whose output is NaN, which
# is not always the one that produced the infinity. In the hand-written norm
# at zero, backward runs ``SqrtBackward0``, which returns :math:`\infty`
# (not NaN), then ``SumBackward0``, which copies it to every entry, then
# ``PowBackward0``, the VJP of :math:`x^2`, where :math:`\infty \cdot 2x`
# at :math:`x = 0` is the NaN: two backward functions after the infinity
# (and, in the forward pass, two operations before the square root). The
# gradients arriving at each intermediate tensor show it:


def hand_written_norm(t):
    return torch.sqrt((t**2).sum())


t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
squares = t**2
total = squares.sum()
norm = torch.sqrt(total)
backward_order, node = [], norm.grad_fn
while node.next_functions:  # stops at AccumulateGrad, which writes t.grad
    backward_order.append(node.name())
    node = node.next_functions[0][0]
squares.retain_grad()
total.retain_grad()
norm.backward()
print("backward order:", " -> ".join(backward_order))
print(
    f"gradient arriving at sum(t**2): {total.grad.item()},",
    f"at t**2: {squares.grad.tolist()}, at t: {t.grad.tolist()}",
)
assert backward_order == ["SqrtBackward0", "SumBackward0", "PowBackward0"]
assert (
    torch.isinf(total.grad)
    and torch.isinf(squares.grad).all()
    and torch.isnan(t.grad).all()
)

message, first_lines, forward_line = backward_with_anomaly_mode(
    hand_written_norm, torch.zeros(3, dtype=torch.float64, requires_grad=True)
)
print("RuntimeError:", message)
print("  forward line:", forward_line)
assert "PowBackward0" in message
assert not torch.is_anomaly_enabled(), (
    "the context manager switches anomaly mode off again"
)

# %%
# The picture
# -----------
#
# The function of the first section, its derivative with the double
# ``where`` (checked above), and the single ``where``'s, which is NaN at
# every :math:`x \le 0`.

(naive_on_grid,) = torch.autograd.grad(
    torch.where(grid > 0, torch.sqrt(grid), 0.0).sum(), grid
)
nan_at = torch.isnan(naive_on_grid)
# exact: IEEE's NaN from sqrt(x <= 0), whatever the grid's bits
assert nan_at.equal(grid.detach() <= 0)

fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
ax.plot(
    grid.detach().numpy(),
    f_double_where(grid).detach().numpy(),
    color="0.6",
    lw=3,
    label=r"$f(x)$",
)
ax.plot(grid.detach().numpy(), fixed_on_grid.numpy(), label=r"$f'(x)$, double where")
ax.plot(
    grid.detach().numpy(),
    naive_on_grid.numpy(),
    "--",
    color="C1",
    label=r"$f'(x)$, single where",
)
ax.plot(
    grid.detach()[nan_at][::10].numpy(),
    torch.zeros(int(nan_at.sum()))[::10].numpy(),
    "x",
    color="C3",
    label="single where: NaN here",
)
ax.set_ylim(-0.3, 2.5)
ax.set_xlabel("$x$")
ax.set_title(r"$f(x) = \sqrt{x}$ for $x > 0$, else $0$")
ax.legend(fontsize=8, loc="upper left")
plt.show()

# %%
# What to remember
# ----------------
#
# * A VJP combines the incoming :math:`v` with the local derivative even
#   where :math:`v` is zero, and :math:`0 \cdot \infty`, :math:`0 / 0` and
#   :math:`0 \cdot \mathrm{NaN}` are NaN. So ``where`` or a mask on the
#   *result* does not help: keep bad inputs away from the operation (the
#   double ``where``, or select before computing).
# * Use :func:`torch.linalg.vector_norm` or :func:`torch.cdist` rather than
#   ``sqrt`` of a sum of squares where a norm can be zero. That fixes first
#   derivatives. For second derivatives by double backward (gradient
#   penalties, physics-informed losses), ``vector_norm`` gives NaN at a
#   zero norm, and ``cdist``'s direct formula (its default up to 25 rows)
#   has none before torch 2.14: use the double ``where``. Above 25 rows,
#   ``cdist``'s default takes a less accurate matrix-product path.
# * ``with torch.autograd.detect_anomaly():`` names the first backward
#   function that returns NaN and shows its forward line; the infinity may
#   come from a backward function that ran earlier, for an operation later
#   in the forward pass.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_09_vmap_limits_and_fixes.py`.
# Reference: :func:`torch.where`, :func:`torch.sqrt`,
# :func:`torch.linalg.vector_norm`, :func:`torch.linalg.norm`,
# :func:`torch.cdist`, :class:`torch.autograd.detect_anomaly`,
# :func:`torch.autograd.grad`.
