r"""
The Laplacian of a network: d second derivatives, not a Hessian
===============================================================

Physics-informed models put the Laplacian
:math:`\Delta u = \sum_i \partial^2 u / \partial x_i^2` of a network
:math:`u` into their loss: the residual of Poisson's equation
:math:`-\Delta u = f` at a batch of collocation points. PyTorch has no
function for it. (Issue `pytorch/pytorch#53903
<https://github.com/pytorch/pytorch/issues/53903>`__, "[torch.vmap] Support
second order grads", reports that ``torch.vmap`` over a second
``torch.autograd.grad`` fails, with the Laplacian, which needs only the
Hessian's diagonal, as its use case; the :mod:`torch.func` transforms used
below are how that composition is written today.) This page shows what the
Laplacian's structure allows: :math:`d` second derivatives along the
coordinates instead of a :math:`d \times d` Hessian; a random estimate from
:math:`k` Hessian-vector products whatever :math:`d` is, whose error, for this
network's Hessians, does not fall as :math:`d` grows (it is set by their
off-diagonal entries, not by :math:`d`); and the "forward Laplacian", which
carries the Laplacian through the network in one forward pass. Each is checked
against a hand-derived formula, and its cost is counted in FLOPs as :math:`d`
grows.
"""

# %%
# The maths
# ---------
#
# The Laplacian is the trace of the Hessian
# :math:`H(x) \in \mathbb{R}^{d \times d}`,
#
# .. math::
#
#    \Delta u(x) = \operatorname{tr} H(x) = \sum_{i=1}^{d} e_i^\top H(x)\, e_i
#    = \sum_{i=1}^{d} \frac{\mathrm{d}^2}{\mathrm{d}t^2}\, u(x + t e_i) \Big|_{t=0},
#
# so it needs the :math:`d` diagonal entries of :math:`H`, not all
# :math:`d^2`: :math:`d` second derivatives along the coordinate
# directions. Each is one Hessian-vector product (a VJP or JVP of the
# gradient gives :math:`e_i^\top H`, of which entry :math:`i` is kept) or
# one JVP of a JVP (the second derivative along :math:`e_i`). The ways to
# compute such products are compared on
# :ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`,
# whole Hessians on
# :ref:`sphx_glr_auto_examples_higher_order_plot_04_full_and_batched_hessians.py`;
# this page keeps one exact route and asks what the trace adds.
#
# The network has two hidden ``tanh`` layers of width :math:`W`,
#
# .. math::
#
#    u(x) = w_3^\top h_2, \quad h_2 = \tanh(z_2),\ z_2 = W_2 h_1 + b_2, \quad
#    h_1 = \tanh(z_1),\ z_1 = W_1 x + b_1,
#
# with :math:`W_1 \in \mathbb{R}^{W \times d}` and
# :math:`W_2 \in \mathbb{R}^{W \times W}`. Write :math:`\sigma_l'` and
# :math:`\sigma_l''` for :math:`\tanh'` and :math:`\tanh'' = -2 \tanh \tanh'`
# at :math:`z_l`, :math:`a = W_2^\top (w_3 \odot \sigma_2')` for
# :math:`\partial u / \partial h_1`, and
# :math:`J = W_2 \operatorname{diag}(\sigma_1') W_1 \in \mathbb{R}^{W \times d}`
# for :math:`\partial z_2 / \partial x`. Differentiating
# :math:`\nabla u = W_1^\top (\sigma_1' \odot a)` once more gives
#
# .. math::
#
#    H = W_1^\top {\operatorname{diag}(\sigma_1'' \odot a)}\, W_1
#    + J^\top {\operatorname{diag}(w_3 \odot \sigma_2'')}\, J, \qquad
#    \Delta u = \sum_{j=1}^{W} \sigma_{1,j}'' a_j \lVert W_{1,j} \rVert^2
#    + \sum_{k=1}^{W} w_{3,k} \sigma_{2,k}'' \lVert J_k \rVert^2,
#
# with :math:`W_{1,j}` and :math:`J_k` the rows: the hand formula the
# checks compare against.

# %%
# The network and the hand formula
# --------------------------------

from functools import partial

import matplotlib.pyplot as plt
import torch
from torch.func import grad, jvp, vjp, vmap
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode, flop_registry

B, WIDTH = 128, 64  # collocation points, hidden units per layer
modules = (torch, torch.func, torch.autograd.functional)
assert not any(hasattr(module, "laplacian") for module in modules)


def make_problem(d, seed=0):
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape, scale=1.0):
        return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale

    W1, b1 = draw(WIDTH, d, scale=d**-0.5), draw(WIDTH)
    W2, b2 = draw(WIDTH, WIDTH, scale=WIDTH**-0.5), draw(WIDTH)
    w3 = draw(WIDTH, scale=WIDTH**-0.5)
    return [W1, b1, W2, b2, w3], draw(B, d)


def network(params, x):  # one point (d,) -> scalar, or a batch (B, d) -> (B,)
    W1, b1, W2, b2, w3 = params
    return torch.tanh(torch.tanh(x @ W1.T + b1) @ W2.T + b2) @ w3


def laplacian_by_hand(params, X):
    W1, b1, W2, b2, w3 = params
    t1 = torch.tanh(X @ W1.T + b1)
    t2 = torch.tanh(t1 @ W2.T + b2)
    d1_1, d1_2 = 1 - t1**2, 1 - t2**2  # tanh' at z1, z2
    d2_1, d2_2 = -2 * t1 * d1_1, -2 * t2 * d1_2  # tanh''
    a = (w3 * d1_2) @ W2  # du/dh1, (B, W)
    J = (d1_1.unsqueeze(1) * W1.T) @ W2.T  # (B, d, W): row i is dz2/dx_i
    first = (d2_1 * a) @ (W1**2).sum(dim=1)
    return first + (w3 * d2_2 * (J**2).sum(dim=1)).sum(dim=1)


d = 8
params, X = make_problem(d)
u = partial(network, params)  # the function whose Laplacian we take
expected = laplacian_by_hand(params, X)
largest = expected.abs().max().item()
print(f"X {tuple(X.shape)} -> Δu {tuple(expected.shape)}, max |Δu| = {largest:.2f}")

# %%
# Exact: d VJPs of the gradient, one entry kept from each
# -------------------------------------------------------
#
# At one point, :func:`torch.func.vjp` of :func:`torch.func.grad` returns the
# pullback :math:`v \mapsto v^\top H`; :func:`torch.func.vmap` applies it to
# several probe vectors :math:`v_r` at once, and maps that over the points.
# ``hessian_times`` returns every :math:`v_r^\top H` (a whole row of
# :math:`H` for a one-hot :math:`v_r`). With the :math:`d` one-hots, the
# entries :math:`(e_i^\top H)_i = H_{ii}` summed over :math:`i` are the
# Laplacian; the other :math:`d - 1` entries of each row are computed and
# not needed. Forward-over-reverse (``jvp`` of ``grad``) would do as well;
# :ref:`plot_02 <sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py>`
# shows that in :mod:`torch.func` it also multiplies by the zero tangents of
# constants, which would blur the FLOP counts below.


def hessian_times(u, X, probes):
    """v_r^T H(x) for every probe v_r at every point: one VJP of the gradient each.
    probes: (r, d), the same at every point, or (B, r, d)."""

    def at_one_point(x, probes):
        _, pullback = vjp(grad(u), x)
        (products,) = vmap(pullback)(probes)  # (r, d)
        return products

    probe_dim = None if probes.dim() == 2 else 0
    return vmap(at_one_point, in_dims=(0, probe_dim))(X, probes)


def laplacian_by_vjps(u, X):
    one_hots = torch.eye(X.shape[1], dtype=X.dtype)
    return (hessian_times(u, X, one_hots) * one_hots).sum(dim=(1, 2))  # sum_i H_ii


laplacian = laplacian_by_vjps(u, X)
print(f"d VJPs of the gradient: {tuple(laplacian.shape)}")

# %%
# Carried forward: the forward Laplacian
# --------------------------------------
#
# The second derivative along :math:`e_i` is a JVP of a JVP: forward mode
# carrying, through each layer, the value, a first-order tangent
# :math:`\partial_i z` and a second-order term :math:`\partial_i^2 z`. Done
# for the :math:`d` directions, that runs the value :math:`d` times and
# keeps :math:`d` second-order terms, of which only the sum is needed. The
# *forward Laplacian* (Li et al., 2023, `arXiv:2307.08214
# <https://arxiv.org/abs/2307.08214>`__) computes the value once and carries
# the sum :math:`\Delta z = \sum_i \partial_i^2 z` from the start, which
# works because the second-order terms enter each layer linearly:
#
# .. math::
#
#    z = A h + b: \quad \partial_i z = A\, \partial_i h, \quad \Delta z = A\, \Delta h,
#
#    h' = \tanh(z): \quad \partial_i h' = \tanh'(z) \odot \partial_i z, \quad
#    \Delta h' = \tanh'(z) \odot \Delta z
#    + \tanh''(z) \odot \sum_{i=1}^{d} (\partial_i z)^2,
#
# for a layer with weights :math:`A` (:math:`W_1` or :math:`W_2`),
# starting from :math:`\partial_i x = e_i` and :math:`\Delta x = 0`, and
# ending with :math:`\Delta u = w_3^\top \Delta h_2`. One pass carries
# :math:`d + 2` vectors per layer (value, :math:`d` tangents, Laplacian)
# instead of :math:`3d`. This is Taylor mode at second order (JAX's
# ``jax.experimental.jet``) with the second-order terms summed over the
# directions; :mod:`torch.func` has no Taylor mode (its transforms are
# listed in `torch/func/__init__.py
# <https://github.com/pytorch/pytorch/blob/main/torch/func/__init__.py>`__),
# so it is written by hand here. (The third-party `jet-for-pytorch
# <https://pypi.org/project/jet-for-pytorch/>`__ is a Taylor mode for
# PyTorch; its authors' "Collapsing Taylor Mode Automatic Differentiation",
# Dangel et al., 2025, applies the same summing to other differential
# operators.) With directions :math:`v_r` other than the :math:`e_i`, the
# same pass returns :math:`\sum_r v_r^\top H v_r`.

assert not hasattr(torch.func, "jet") and not hasattr(torch.func, "taylor")


def forward_laplacian(params, X, directions):
    """u(X) and sum_r v_r^T H v_r at every point, in one forward pass.
    directions: (r, d); with the d one-hots, the second output is the Laplacian."""
    W1, b1, W2, b2, w3 = params
    h, tangents, lap = X, directions, None  # x, its tangents v_r, and Δx = 0
    for A, b in ((W1, b1), (W2, b2)):
        z = h @ A.T + b
        tangents = tangents @ A.T  # (r, W) in layer 1, the same at every point
        lap_z = 0 if lap is None else lap @ A.T  # Δ(A h + b) = A Δh
        h = torch.tanh(z)
        d1, d2 = 1 - h**2, -2 * h * (1 - h**2)  # tanh', tanh'' at z
        # sphinx_gallery_break = ("**2).sum(dim=-2)", ").sum(dim=-2) ** 2")
        lap = d1 * lap_z + d2 * (tangents**2).sum(dim=-2)
        tangents = d1.unsqueeze(-2) * tangents  # (B, r, W)
    return h @ w3, lap @ w3


one_hots = torch.eye(d, dtype=torch.float64)
value, laplacian_forward = forward_laplacian(params, X, one_hots)
print(f"forward Laplacian:      {tuple(laplacian_forward.shape)}")

# %%
# Run with one direction, the same function is a JVP of a JVP: along
# :math:`e_1` it agrees with :func:`torch.func.jvp` nested twice, and
# :math:`d` separate passes, one per :math:`e_i`, add up to the Laplacian.


def second_derivative_along(u, X, e):
    return vmap(lambda x: jvp(lambda y: jvp(u, (y,), (e,))[1], (x,), (e,))[1])(X)


along_e1 = forward_laplacian(params, X, one_hots[:1])[1]
torch.testing.assert_close(along_e1, second_derivative_along(u, X, one_hots[0]))
separate = sum(forward_laplacian(params, X, e.unsqueeze(0))[1] for e in one_hots)
torch.testing.assert_close(separate, expected)  # defaults: the reason below

# %%
# The checks
# ----------
#
# Both exact routes against the hand formula, ``expected``, at the
# :math:`B` points; and the forward Laplacian's value against the network's.

for name, result in {
    "d VJPs": laplacian,
    "forward Laplacian": laplacian_forward,
}.items():
    max_error = (result - expected).abs().max().item()
    print(f"{name:<18} max |Δu - expected| = {max_error:.1e}")
    # assert_close's float64 defaults (rtol = atol = 1e-7) are the tolerance of every
    # comparison of two exact routes on this page: a wrong term moves the Laplacian by
    # about its own size (~1), while rounding, even bounded in the worst case (a few
    # hundred float64 roundings deep, on sums whose terms add up to a few hundred in
    # absolute value, through tanh and its derivatives), stays far below 1e-7.
    torch.testing.assert_close(result, expected)
torch.testing.assert_close(value, network(params, X))  # defaults: the reason above
print(
    f"Laplacian at {B} points in d = {d}: d VJPs and forward Laplacian"
    " equal the hand formula"
)

# %%
# What the forward pass saves, counted
# ------------------------------------
#
# The count is of matmul FLOPs, by
# ``FlopCounterMode``, which counts only the
# operations in its ``flop_registry`` (`torch/utils/flop_counter.py
# <https://github.com/pytorch/pytorch/blob/main/torch/utils/flop_counter.py>`__):
# matrix-matrix products, convolutions, attention. Matrix-vector products
# (the output layer :math:`w_3^\top h`) and elementwise work (``tanh``, the
# squares and sums of the tangents, :math:`O(BdW)` per layer in every
# route) are not counted. By the shapes, with :math:`F = 2BW(d + W)` the
# FLOPs of one forward pass:
#
# * **d VJPs**: the forward pass and the gradient, :math:`2F`; per one-hot,
#   a product by :math:`W_1` shared by all points (:math:`2dW`), then two by
#   :math:`W_2` and one by :math:`W_1` at every point
#   (:math:`4BW^2 + 2BWd`). Reversing the gradient crosses :math:`W_2`
#   twice per direction: once for its forward product and once for its
#   backward one.
# * **d separate forward passes** (JVPs of JVPs, by hand above): per
#   direction the value (:math:`F`), the tangent through :math:`W_1`
#   (:math:`2dW`, shared) and through :math:`W_2` (:math:`2BW^2`), and the
#   second-order term through :math:`W_2` (:math:`2BW^2`):
#   :math:`d(F + 2dW + 4BW^2)`.
# * **the forward Laplacian**: the value once (:math:`F`), the :math:`d`
#   tangents (:math:`2d^2W + 2dBW^2`) and one Laplacian through :math:`W_2`
#   (:math:`2BW^2`). Per direction that is one product by :math:`W_2` at
#   every point, against two for the VJPs and two for separate passes.
#
# The cell defines the counts; they are checked against the formulas at
# every :math:`d` further down.

aten = torch.ops.aten
assert {aten.mm, aten.bmm, aten.addmm} <= flop_registry.keys()
assert not {aten.mv, aten.dot, aten.tanh, aten.mul, aten.pow} & flop_registry.keys()


def flop_formulas(d, k):  # the hand counts above, and Hutchinson's (next section)
    F = 2 * B * WIDTH * (d + WIDTH)
    return {
        "d VJPs": 2 * F + d * (2 * d * WIDTH + 4 * B * WIDTH**2 + 2 * B * WIDTH * d),
        "d separate forward passes": d * (F + 2 * d * WIDTH + 4 * B * WIDTH**2),
        "forward Laplacian": F + 2 * d**2 * WIDTH + 2 * (d + 1) * B * WIDTH**2,
        f"Hutchinson, k = {k}": (k + 1) * 2 * F,
    }


def matmul_flops(run):
    with FlopCounterMode(display=False) as counter:
        output = run()
    return counter.get_total_flops(), output


def count_flops(params, X, names, k):
    """Matmul FLOPs and outputs of the named routes. The d separate passes have the
    same shapes: one is counted, times d."""
    u, one_hots = partial(network, params), torch.eye(X.shape[1], dtype=X.dtype)
    e_1 = one_hots[:1]
    runs = {
        "d VJPs": lambda: laplacian_by_vjps(u, X),
        "d separate forward passes": lambda: forward_laplacian(params, X, e_1)[1],
        "forward Laplacian": lambda: forward_laplacian(params, X, one_hots)[1],
        f"Hutchinson, k = {k}": lambda: laplacian_hutchinson(u, X, k),
    }
    flops, outputs = zip(*(matmul_flops(runs[name]) for name in names))
    flops = dict(zip(names, flops))
    if "d separate forward passes" in flops:
        flops["d separate forward passes"] *= X.shape[1]
    return flops, dict(zip(names, outputs))


# %%
# Sampled: Hutchinson's estimate
# ------------------------------
#
# Replacing the :math:`d` one-hots by :math:`k` random sign vectors per point
# (Rademacher probes, :math:`\mathbb{E}[v v^\top] = I`) gives
# :math:`\frac1k \sum_r v_r^\top H v_r`, an unbiased estimate of
# :math:`\operatorname{tr} H` from :math:`k` VJPs, whatever :math:`d` is.
# The estimator and its variance are derived on
# :ref:`sphx_glr_auto_examples_jacobians_plot_04_random_v_trace_and_diagonal.py`:
# for Rademacher probes the variance of one :math:`v^\top H v` is
# :math:`2 \sum_{i \ne j} H_{ij}^2`. For the Laplacian that is the Hessian's
# off-diagonal mass, which the exact route computes and throws away: its
# rows :math:`e_i^\top H` give the variance without another pass. The probes
# differ from point to point, so their product by :math:`W_1` is not shared:
# :math:`4BW^2 + 4BWd = 2F` per probe, :math:`(k + 1)\, 2F` in all.

K_PROBES = 16


def laplacian_hutchinson(u, X, k=K_PROBES, seed=1):
    generator = torch.Generator().manual_seed(seed)
    shape = (X.shape[0], k, X.shape[1])
    probes = torch.randint(0, 2, shape, generator=generator, dtype=X.dtype) * 2 - 1
    return (hessian_times(u, X, probes) * probes).sum(dim=(1, 2)) / k


def hutchinson_variance(u, X):  # 2 sum_{i != j} H_ij^2 at every point
    hessians = hessian_times(u, X, torch.eye(X.shape[1], dtype=X.dtype))
    off_diagonal = hessians - torch.diag_embed(hessians.diagonal(dim1=1, dim2=2))
    return 2 * (off_diagonal**2).sum(dim=(1, 2))


estimate = laplacian_hutchinson(u, X)
standardised = (estimate - expected) / (hutchinson_variance(u, X) / K_PROBES).sqrt()
rms = standardised.pow(2).mean().sqrt().item()
rms_error = (estimate - expected).pow(2).mean().sqrt().item()
print(
    f"Hutchinson, k = {K_PROBES}: RMS error {rms_error:.2f}"
    f" (RMS |Δu| {expected.pow(2).mean().sqrt().item():.2f})"
)
print(f"  RMS of error / predicted std: {rms:.2f}")
# Statistical, fixed by the seed. Each error is a mean of 16 independent probes, close
# to normal, so the RMS of 128 standardised errors is 1 with a standard deviation of
# about 1/sqrt(2 * 128) = 0.06: 0.75 to 1.25 is four of them, and excludes a variance
# off by a factor 2 (RMS 1/sqrt(2) or sqrt(2)).
assert 0.75 < rms < 1.25, "errors not the size the variance predicts"

# %%
# .. _laplacian-cost-by-dimension:
#
# Cost and error as d grows
# -------------------------
#
# For each :math:`d` the cell counts the FLOPs of the four routes (asserted
# equal to the formulas above) and measures Hutchinson's RMS error against
# the prediction :math:`\sqrt{\operatorname{Var}/k}`. The counts are shown
# in units of one forward pass, :math:`F`.

dims = [2, 4, 8, 16, 32, 64, 128]
names = list(flop_formulas(1, K_PROBES))
hutchinson = names[-1]
units = {name: [] for name in names}
relative_error = {"predicted": [], "measured": []}
ratio_sd = []  # standard deviation of measured / predicted, normal approximation
probes_for_1_percent = []
for d_n in dims:
    params_n, X_n = make_problem(d_n)
    flops, outputs = count_flops(params_n, X_n, names, K_PROBES)
    # Exact: integer FLOP counts fixed by the shapes.
    assert flops == flop_formulas(d_n, K_PROBES), (d_n, flops)
    for name in names:
        units[name].append(flops[name] / (2 * B * WIDTH * (d_n + WIDTH)))
    exact = outputs["d VJPs"]
    torch.testing.assert_close(outputs["forward Laplacian"], exact)  # defaults
    variance = hutchinson_variance(partial(network, params_n), X_n)
    size = exact.pow(2).mean().sqrt()
    error = (outputs[hutchinson] - exact).pow(2).mean().sqrt()
    predicted = (variance.mean() / K_PROBES).sqrt()
    relative_error["predicted"].append((predicted / size).item())
    relative_error["measured"].append((error / size).item())
    ratio_sd.append((variance.pow(2).sum().sqrt() / (2**0.5 * variance.sum())).item())
    probes_for_1_percent.append((variance.mean() / (0.01 * size) ** 2).item())

print("matmul FLOPs in forward passes F:")
print(" " * 28 + "".join(f"{f'd={d_n}':>8}" for d_n in dims))
for name in names:
    print(f"  {name:<26}" + "".join(f"{x:8.1f}" for x in units[name]))
print(f"Hutchinson, k = {K_PROBES}, RMS error / RMS |Δu|:")
ratios = [
    m / p for p, m in zip(relative_error["predicted"], relative_error["measured"])
]
rows = {
    **relative_error,
    "measured / predicted": ratios,
    "its standard deviation": ratio_sd,
}
for kind, values in rows.items():
    print(f"  {kind:<26}" + "".join(f"{x:8.2f}" for x in values))
row = "".join(f"{x:8.0f}" for x in probes_for_1_percent)
print(f"  {'probes for 1% RMS error':<26}{row}")
# Statistical, fixed by the seeds. With e_i the error at point i, close to normal with
# variance V_i / k, sum e_i^2 has mean sum V_i / k and variance 2 sum V_i^2 / k^2: their
# quotient, the ratio squared, has a standard deviation of sqrt(2 sum V_i^2) / sum V_i,
# and the ratio about half of it, sqrt(sum V_i^2) / (sqrt(2) sum V_i). Each ratio is
# within 3 of them of 1, a band narrower than 1 - 1/sqrt(2) = 0.29, so it excludes a
# variance off by a factor 2.
for ratio, sd in zip(ratios, ratio_sd):
    assert abs(ratio - 1) < 3 * sd < 1 - 2**-0.5, (ratio, sd)
# 20% to 35%, to the nearest percent (deterministic: the seeded Hessians' own sums).
assert all(0.195 <= predicted < 0.355 for predicted in relative_error["predicted"])
assert all(k_n > 100 * d_n for k_n, d_n in zip(probes_for_1_percent, dims)), "k > 100 d"
# The d separate passes, counted one by one at d = 8: d times one pass (exact integers).
each_separately, _ = matmul_flops(
    lambda: [forward_laplacian(params, X, e.unsqueeze(0)) for e in one_hots]
)
assert each_separately == flop_formulas(d, K_PROBES)["d separate forward passes"]

# %%
# The counts say where each route wins, here with :math:`B = 128`,
# :math:`W = 64` and :math:`k = 16`:
#
# * **The forward Laplacian against the d VJPs**: cheaper at every
#   :math:`d`, by :math:`2dBW^2 + 2BWd^2 + 2BWd` FLOPs. Per direction it
#   crosses :math:`W_2` once at every point, the VJPs twice, and the VJPs'
#   last product by :math:`W_1` is made at every point.
# * **d separate forward passes** take more than the :math:`d` VJPs from
#   :math:`d = 3` on: Taylor mode alone does not pay; computing the value
#   once and summing the second-order terms does.
# * **Hutchinson against the d VJPs**: the exact route costs more from
#   :math:`d = 18` on, a little above :math:`k = 16` because a one-hot's VJP
#   costs a little less than a probe's (its product by :math:`W_1` is
#   shared by the points). **Against the forward Laplacian**: only from
#   :math:`d = 65`.
# * Not at the same accuracy, though. With :math:`k = 16` the predicted RMS
#   error is 20% to 35% of the Laplacian's RMS size at every :math:`d` here
#   (the measured one is within three standard deviations of it, each
#   computed from the points' variances and printed above), and does not
#   fall as :math:`d` grows: the off-diagonal mass
#   :math:`2 \sum_{i \ne j} H_{ij}^2` stays comparable to
#   :math:`(\operatorname{tr} H)^2`. 1% would take thousands of probes, over
#   :math:`100\,d` at every :math:`d` here. Probes pay when :math:`d \gg k`
#   and a noisy unbiased value will do, as in a stochastic training loss;
#   even there, squaring the residual adds the variance,
#   :math:`\mathbb{E}[(\hat\Delta u + f)^2] = (\Delta u + f)^2 + \operatorname{Var}/k`,
#   while the product of two independent estimates,
#   :math:`(\hat\Delta_1 u + f)(\hat\Delta_2 u + f)`, has the right mean.
#
# Each crossover :math:`d_c` is counted at :math:`d_c` and at
# :math:`d_c - 1` (the one at :math:`d = 1` only at :math:`d = 1`: there is
# no :math:`d = 0`), and the formulas checked above show that it does not
# cross back up to :math:`d = 256`.

crossovers = {
    ("forward Laplacian", "d VJPs"): 1,
    ("d VJPs", "d separate forward passes"): 3,
    (hutchinson, "d VJPs"): 18,
    (hutchinson, "forward Laplacian"): 65,
}
for (name, other), d_cross in crossovers.items():
    for d_n in {d_cross - 1, d_cross} - {0}:
        flops, _ = count_flops(*make_problem(d_n), [name, other], K_PROBES)
        # Exact: integer FLOP counts; cheaper from d_cross on, not before.
        assert (flops[name] < flops[other]) == (d_n >= d_cross), (name, other, d_n)
    formulas = [flop_formulas(d_n, K_PROBES) for d_n in range(d_cross, 257)]
    assert all(f[name] < f[other] for f in formulas), (name, other)
    print(f"{name} takes fewer matmul FLOPs than {other} from d = {d_cross} on")
for d_n in range(1, 257):  # the saving of the forward Laplacian, from the formulas
    f = flop_formulas(d_n, K_PROBES)
    saving = 2 * d_n * B * WIDTH**2 + 2 * B * WIDTH * d_n**2 + 2 * B * WIDTH * d_n
    assert f["d VJPs"] - f["forward Laplacian"] == saving

# %%
# Times at :math:`d = 128`, medians of :class:`torch.utils.benchmark.Timer`
# runs after a warm-up, on the machine that built this page: shown, not
# asserted. They include what the FLOP count leaves out (elementwise work,
# the overhead of the :mod:`torch.func` transforms).

params_n, X_n = make_problem(dims[-1])
u_n, one_hots_n = partial(network, params_n), torch.eye(dims[-1], dtype=torch.float64)
timed = {
    "d VJPs": lambda: laplacian_by_vjps(u_n, X_n),
    "forward Laplacian": lambda: forward_laplacian(params_n, X_n, one_hots_n),
    hutchinson: lambda: laplacian_hutchinson(u_n, X_n),
}
print(f"median time of one Laplacian of {B} points, d = {dims[-1]}:")
for name, run in timed.items():
    run()  # warm-up
    timer = benchmark.Timer("run()", globals={"run": run})
    median_ms = timer.blocked_autorange(min_run_time=0.05).median * 1e3
    print(f"  {name:<20} {median_ms:7.2f} ms")

# %%
# In a physics-informed loss
# --------------------------
#
# Training fits the network so that :math:`-\Delta u = f` at the collocation
# points, here with :math:`f = 1`: the loss is the mean squared residual
# :math:`\frac1B \sum_n (\Delta u(x_n) + 1)^2`, differentiated with respect
# to the parameters. The forward Laplacian is ordinary tensor code, so
# autograd differentiates it like any other, and the gradient equals the one
# through the :math:`d` VJPs.
#
# What it saves and what it does not: computed without parameters that
# require gradients, it records nothing for a backward pass (no graph, no
# saved tensor, checked below). The VJP route, being reverse mode, keeps
# the forward pass and the gradient's graph until its pullback has run its
# :math:`d` VJPs; this page does not measure that, since ``torch.func``
# refuses saved-tensor hooks ("don't yet support saved tensor hooks",
# `torch/_functorch/vmap.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_functorch/vmap.py>`__;
# what reverse mode keeps is measured on
# :ref:`sphx_glr_auto_examples_under_the_hood_plot_02_memory_what_reverse_mode_keeps.py`).
# But the forward Laplacian's :math:`d` tangents are
# :math:`B \times d \times W` numbers per layer, held at once; and in a loss
# it is itself recorded for the backward pass to the parameters: autograd
# then keeps the tangents of both layers (counted below).


def poisson_loss(laplacian):
    return (laplacian + 1).pow(2).mean()


saved = {}  # storage address -> bytes, of each tensor saved for backward


def keep(tensor):
    storage = tensor.untyped_storage()
    saved[storage.data_ptr()] = storage.nbytes()
    return tensor


trainable = [p.detach().clone().requires_grad_() for p in params]
with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
    loss = poisson_loss(forward_laplacian(trainable, X, one_hots)[1])
# The graph holds every saved tensor until the backward pass: no address is reused.
# Parameters and inputs exist anyway; what the graph adds are the others.
given = {t.untyped_storage().data_ptr() for t in [*trainable, X, one_hots]}
added = {ptr: nbytes for ptr, nbytes in saved.items() if ptr not in given}
grads_forward = torch.autograd.grad(loss, trainable)
loss_vjps = poisson_loss(laplacian_by_vjps(partial(network, trainable), X))
grads_vjps = torch.autograd.grad(loss_vjps, trainable)
for g_forward, g_vjps in zip(grads_forward, grads_vjps):
    torch.testing.assert_close(g_forward, g_vjps)  # defaults, as for the Laplacians
tangent_bytes = B * d * WIDTH * X.element_size()
tangent_storages = [ptr for ptr, nbytes in added.items() if nbytes == tangent_bytes]
print(f"Poisson loss {loss.item():.3f}; saved for its backward, parameters and inputs")
print(
    f"  aside: {len(added)} storages, {sum(added.values()):,} bytes; among them"
    f" {len(tangent_storages)} of B x d x W tangents"
)
assert len(tangent_storages) >= 2, "the tangents of both layers are kept"

saved.clear()
with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
    _, laplacian_forward = forward_laplacian(params, X, one_hots)
assert laplacian_forward.grad_fn is None and not saved, "nothing recorded"

# %%
# The picture
# -----------
#
# Left, the matmul FLOPs of each route in units of one forward pass, counted
# at every :math:`d`; right, Hutchinson's RMS error with :math:`k = 16`
# probes, relative to the Laplacian's RMS size, against the prediction
# :math:`\sqrt{\operatorname{Var}/k}`.

fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.8), layout="constrained")
styles = {
    "d VJPs": "o-",
    "d separate forward passes": "^:",
    "forward Laplacian": "D-",
    hutchinson: "s--",
}
for name in names:
    axes[0].loglog(dims, units[name], styles[name], label=name)
axes[0].set_ylabel("matmul FLOPs / one forward pass")
axes[0].set_title("deterministic: FLOP count")
axes[1].semilogx(
    dims, relative_error["predicted"], "k--", label=r"predicted $\sqrt{\mathrm{Var}/k}$"
)
axes[1].semilogx(dims, relative_error["measured"], "s", color="C3", label="measured")
axes[1].set_ylim(0, 0.5)
axes[1].set_ylabel(r"RMS error / RMS $|\Delta u|$")
axes[1].set_title(f"Hutchinson's error, k = {K_PROBES}")
axes[1].legend(fontsize=9)
for ax in axes:
    ax.set_xlabel("input dimension $d$")
    ax.set_xticks(dims, labels=[str(d_n) for d_n in dims], minor=False)
    ax.set_xticks([], minor=True)
fig.legend(
    *axes[0].get_legend_handles_labels(),
    loc="outside lower center",
    ncols=4,
    fontsize=9,
)
plt.show()

# %%
# What to remember
# ----------------
#
# * :math:`\Delta u = \sum_i e_i^\top H e_i` needs :math:`d` second
#   derivatives, not the Hessian: :math:`d` Hessian-vector products, or one
#   forward pass carrying :math:`d` tangents.
# * The forward Laplacian carries the value, :math:`d` tangents and the
#   Laplacian through each layer. Here it takes fewer matmul FLOPs than the
#   :math:`d` VJPs at every :math:`d` (one product by :math:`W_2` per
#   direction instead of two), while :math:`d` separate Taylor passes take
#   more. It still grows with :math:`d`, and in training it is itself
#   differentiated.
# * Hutchinson's :math:`k` probes cost :math:`2F` each whatever :math:`d`
#   is (fewer FLOPs than the VJPs from :math:`d = 18`, than the forward
#   Laplacian from :math:`d = 65`), but with :math:`k = 16` its error here
#   stays 20% to 35% of :math:`|\Delta u|` as :math:`d` grows: its variance,
#   :math:`2 \sum_{i \ne j} H_{ij}^2`, stays comparable to
#   :math:`(\operatorname{tr} H)^2` for this network.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_06_ntk_and_gauss_newton.py`.
# Reference: :func:`torch.func.grad`, :func:`torch.func.vjp`,
# :func:`torch.func.jvp`, :func:`torch.func.vmap`,
# ``torch.utils.flop_counter.FlopCounterMode``,
# :class:`torch.autograd.graph.saved_tensors_hooks`,
# :class:`torch.utils.benchmark.Timer`.
