r"""
The Laplacian of a network at a batch of points
===============================================

Physics-informed models put second derivatives of a network with respect to
its input into the loss: Poisson's, the heat and Schrödinger's equations all
need the Laplacian :math:`\Delta u = \sum_i \partial^2 u / \partial x_i^2`.
PyTorch has no function for it, so people assemble it from VJPs and JVPs.
(Issue `pytorch/pytorch#53903
<https://github.com/pytorch/pytorch/issues/53903>`__, "[torch.vmap] Support
second order grads", reports that ``torch.vmap`` over a second
``torch.autograd.grad`` fails, with the Laplacian, which needs only the
Hessian's diagonal, as its use case; the :mod:`torch.func` transforms used
below are how that composition is written today.) This page computes the
Laplacian four ways at a batch of points, checks the three exact ones against
a hand-derived formula and :func:`torch.func.hessian`, and counts how the
cost grows with the input dimension :math:`d`.
"""

# %%
# The maths
# ---------
#
# A one-hidden-layer network :math:`u : \mathbb{R}^d \to \mathbb{R}` of width
# :math:`W`,
#
# .. math::
#
#    u(x) = w_2^\top \tanh(z), \quad z = W_1 x + b_1, \qquad
#    W_1 \in \mathbb{R}^{W \times d},\ b_1, w_2 \in \mathbb{R}^{W},
#
# has gradient and Hessian
#
# .. math::
#
#    \nabla u(x) = W_1^\top \bigl(w_2 \odot \tanh'(z)\bigr) \in \mathbb{R}^{d}, \qquad
#    H(x) = W_1^\top \operatorname{diag}\bigl(w_2 \odot \tanh''(z)\bigr)\, W_1 \in \mathbb{R}^{d \times d},
#
# with :math:`\tanh'' = -2 \tanh\,(1 - \tanh^2)`. The Laplacian is the trace,
#
# .. math::
#
#    \Delta u(x) = \operatorname{tr} H(x)
#    = \sum_{j=1}^{W} w_{2,j} \tanh''(z_j)\, \lVert W_{1,j} \rVert^2,
#
# where :math:`W_{1,j}` is row :math:`j` of :math:`W_1`. That closed form is
# the reference. Autodiff reaches the trace through Hessian-vector products,
# since :math:`H` is the Jacobian of :math:`\nabla u`:
#
# * a **VJP** of :math:`\nabla u` with :math:`e_i` gives row
#   :math:`e_i^\top H`; a **JVP** with :math:`e_i` gives column
#   :math:`H e_i`. Either way, :math:`d` products give all :math:`d^2`
#   entries of :math:`H`, and the trace keeps :math:`d` of them;
# * **Hutchinson**: for random :math:`v` with
#   :math:`\mathbb{E}[v v^\top] = I` (here Rademacher, entries :math:`\pm 1`),
#   :math:`\mathbb{E}[v^\top H v] = \operatorname{tr} H`, so :math:`k`
#   products give an unbiased estimate, whatever :math:`d` is.
#
# Over a batch :math:`X \in \mathbb{R}^{B \times d}` the gradients
# :math:`G \in \mathbb{R}^{B \times d}` have a block-diagonal Jacobian (point
# :math:`n`'s gradient depends on :math:`x_n` only), so one VJP with the
# cotangent :math:`e_i` at every point gives row :math:`i` of every point's
# Hessian at once.

# %%
# The network and the reference
# -----------------------------

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import NullFormatter
from torch.func import grad, hessian, jvp, vjp, vmap
from torch.utils import benchmark
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

B, WIDTH = 128, 64  # points in the batch, hidden units
assert not any(hasattr(module, "laplacian") for module in (torch, torch.func, torch.autograd.functional))


def make_problem(d, seed=0):
    generator = torch.Generator().manual_seed(seed)
    W1 = torch.randn(WIDTH, d, generator=generator, dtype=torch.float64) / d**0.5
    b1 = torch.randn(WIDTH, generator=generator, dtype=torch.float64)
    w2 = torch.randn(WIDTH, generator=generator, dtype=torch.float64) / WIDTH**0.5
    X = torch.randn(B, d, generator=generator, dtype=torch.float64)

    def u(x):  # one point (d,) -> scalar, or a batch (B, d) -> (B,)
        return torch.tanh(x @ W1.T + b1) @ w2

    def laplacian_by_hand(X):
        t = torch.tanh(X @ W1.T + b1)
        return (w2 * -2 * t * (1 - t**2)) @ (W1**2).sum(dim=1)

    return u, X, laplacian_by_hand


d = 8
u, X, laplacian_by_hand = make_problem(d)
reference = laplacian_by_hand(X)
full_hessians = vmap(hessian(u))(X)  # (B, d, d): all d^2 entries at every point
print("X:", tuple(X.shape), "  Hessians:", tuple(full_hessians.shape), "  Laplacian:", tuple(reference.shape))
# Two independent routes in float64 (a formula and jacfwd(jacrev)): 64 terms, sizes adding to at most 3.1,
# each through tanh'' (slope <= 2) of z = W1 x + b1 (9 terms, sizes up to 8.8): 1.4e-13 apart at most.
torch.testing.assert_close(full_hessians.diagonal(dim1=1, dim2=2).sum(dim=1), reference, rtol=1e-10, atol=1e-12)

# %%
# Three exact methods
# -------------------
#
# **Nested VJPs**, the usual physics-informed code: one backward pass with
# ``create_graph=True`` for the gradients of all points, then one more
# backward pass per dimension. (To train on the result, pass
# ``create_graph=True`` to the inner calls too.)


def laplacian_nested_vjps(u, X):
    X = X.detach().requires_grad_()
    (G,) = torch.autograd.grad(u(X).sum(), X, create_graph=True)  # (B, d)
    laplacian = torch.zeros(X.shape[0], dtype=X.dtype)
    for i in range(X.shape[1]):
        (row_i,) = torch.autograd.grad(G[:, i].sum(), X, retain_graph=True)  # e_i^T H at every point
        laplacian = laplacian + row_i[:, i]
    return laplacian


# %%
# **The same VJPs, vmapped over the dimensions**: :func:`torch.func.vjp` of
# :func:`torch.func.grad` at one point, its pullback applied to all
# :math:`d` one-hot cotangents by :func:`torch.func.vmap` (rows of
# :math:`H`), then vmapped over the points.


def laplacian_vmapped_vjps(u, X):
    one_hots = torch.eye(X.shape[1], dtype=X.dtype)

    def at_one_point(x):
        _, pullback = vjp(grad(u), x)
        (hessian_rows,) = vmap(pullback)(one_hots)  # (d, d)
        return hessian_rows.diagonal().sum()

    return vmap(at_one_point)(X)


# %%
# **Forward-over-reverse**: :func:`torch.func.jvp` of the gradient with each
# one-hot tangent gives a column :math:`H e_i`; the diagonal entries are the
# Hessian diagonal, and their sum the Laplacian.


def hessian_diagonal_forward_over_reverse(u, X):
    one_hots = torch.eye(X.shape[1], dtype=X.dtype)

    def at_one_point(x):
        hessian_columns = vmap(lambda e: jvp(grad(u), (x,), (e,))[1])(one_hots)  # (d, d)
        return hessian_columns.diagonal()

    return vmap(at_one_point)(X)  # (B, d)


def laplacian_forward_over_reverse(u, X):
    return hessian_diagonal_forward_over_reverse(u, X).sum(dim=1)


exact_methods = {
    "nested VJPs (loop)": laplacian_nested_vjps,
    "VJPs vmapped over d": laplacian_vmapped_vjps,
    "forward-over-reverse": laplacian_forward_over_reverse,
}
for name, method in exact_methods.items():
    laplacian = method(u, X)
    # The same sums in other orders: as above, under 1.4e-13 apart, within atol 1e-12.
    torch.testing.assert_close(laplacian, reference, rtol=1e-10, atol=1e-12)
    print(f"{name:<22} max |error| = {(laplacian - reference).abs().max().item():.1e}")
hessian_diagonal = hessian_diagonal_forward_over_reverse(u, X)
# Each diagonal entry is a sum of 64 terms whose sizes add to at most 0.55: by the same count, under 3e-14.
torch.testing.assert_close(hessian_diagonal, full_hessians.diagonal(dim1=1, dim2=2), rtol=1e-10, atol=1e-12)
print(f"Laplacian at {B} points in d = {d}: all three exact methods equal the hand formula")

# %%
# A Hutchinson estimate
# ---------------------
#
# :math:`k = 16` Rademacher probes per point, each one Hessian-vector product
# (a JVP of the gradient). For Rademacher :math:`v` and a symmetric
# :math:`H` the variance of :math:`v^\top H v` is
# :math:`2 \sum_{i \ne j} H_{ij}^2` (derived and checked exactly on
# :ref:`sphx_glr_auto_examples_jacobians_plot_04_random_v_trace_and_diagonal.py`),
# so the estimate's standard deviation at each point is
# :math:`\sigma = \sqrt{2 \sum_{i \ne j} H_{ij}^2 / k}`.

K_PROBES = 16


def laplacian_hutchinson(u, X, k=K_PROBES, seed=1):
    generator = torch.Generator().manual_seed(seed)
    probes = torch.randint(0, 2, (k, *X.shape), generator=generator, dtype=X.dtype) * 2 - 1  # (k, B, d)

    def quadratic_form(x, v):  # v^T H v at one point
        return v @ jvp(grad(u), (x,), (v,))[1]

    return vmap(vmap(quadratic_form), in_dims=(None, 0))(X, probes).mean(dim=0)


estimate = laplacian_hutchinson(u, X)
off_diagonal = full_hessians - torch.diag_embed(full_hessians.diagonal(dim1=1, dim2=2))
predicted_std = (2 * (off_diagonal**2).sum(dim=(1, 2)) / K_PROBES).sqrt()
standardised_error = (estimate - reference) / predicted_std
print(f"Hutchinson, k = {K_PROBES}: max |error| = {(estimate - reference).abs().max().item():.2f}"
      f" (|Laplacian| up to {reference.abs().max().item():.2f})")
print(f"  error / predicted std over {B} points: mean {standardised_error.mean().item():+.2f},"
      f" RMS {standardised_error.pow(2).mean().sqrt().item():.2f}")
# Statistical, but fixed by the seed. Unbiased with unit variance, the mean of
# 128 standardised errors has std 0.09 and their RMS is close to 1: these
# bounds say the errors are the size the variance formula predicts, not smaller
# (a wrong formula) or biased.
assert abs(standardised_error.mean()) < 0.3, "Hutchinson's estimate looks biased"
assert 0.75 < standardised_error.pow(2).mean().sqrt() < 1.25, "errors not the predicted size"

# %%
# Cost as :math:`d` grows
# -----------------------
#
# The deterministic measure is the number of matmul FLOPs, counted by
# :class:`~torch.utils.flop_counter.FlopCounterMode`. It counts the
# operations in its ``flop_registry`` (`torch/utils/flop_counter.py
# <https://github.com/pytorch/pytorch/blob/main/torch/utils/flop_counter.py>`__):
# matrix-matrix products (``mm``, ``addmm``, ``bmm``, ``baddbmm``,
# ``_scaled_mm``), convolutions and their backward, and attention kernels.
# Here only matrix products occur: the first layer and its derivatives,
# :math:`O(BWd)` per pass, while matrix-vector products (``mv``, ``dot``)
# and the elementwise operations are not in the registry, and here cost
# :math:`O(BW)`. The count is shown in units of one forward pass of the
# batch, :math:`2BWd` FLOPs.
#
# By hand, for nested VJPs: the forward pass and the gradient cost one unit
# each, and each second backward pass two (one product by :math:`W_1^\top`,
# one by :math:`W_1`), so :math:`2(d + 1)` units, :math:`4BWd(d+1)` FLOPs.
# Vmapped, the product of :math:`W_1` with the one-hot vectors is the same at
# every point, and ``vmap`` does it once for the batch (:math:`2Wd^2` FLOPs,
# :math:`d/B` units) instead of once per point: :math:`d + 2 + d/B` units,
# which saves :math:`d(1 - 1/B)`, about one unit per dimension.
#
# Forward-over-reverse runs the same products as the vmapped VJPs,
# :math:`d + 2 + d/B` units, and two more that do no arithmetic the
# Laplacian needs: forward mode carries a tangent for :math:`W_1` as well,
# zero because :math:`W_1` is a constant, and multiplies by it once in the
# forward pass and once in the gradient. ``mm`` receives it as an all-zero
# matrix of :math:`W_1^\top`'s shape, a broadcast view with stride 0 (as on
# :ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`).
# A ``TorchDispatchMode`` that inspects each ``aten::mm`` counts these
# products apart ("of which with zeros" below). They are the whole gap
# between forward-over-reverse, :math:`d + 4 + d/B` units in all, and the
# vmapped VJPs.
#
# Hutchinson's probes differ from point to point, so both products of each
# probe are per point: two units per probe, one each for the forward pass
# and the gradient (computed once per point), and the quadratic forms
# :math:`v^\top (Hv)` (a batched product, :math:`k/W` units):
# :math:`2k + 2 + k/W` units, whatever :math:`d` is; its JVPs run the same
# two products with the zero tangent, :math:`2k + 4 + k/W` in all (counted
# below for :math:`k = 1` and :math:`k = 16`). Leaving out the products with
# zeros, :math:`k = 16` costs 34.25 units, and the exact methods grow with
# :math:`d`: nested VJPs :math:`2(d + 1)`, the vmapped VJPs and
# forward-over-reverse both :math:`d + 2 + d/B` (the table below). So
# Hutchinson with :math:`k = 16` takes fewer of these FLOPs than nested VJPs
# from :math:`d = 17` on, and than the other two from :math:`d = 33` (at
# :math:`d = 32` they are equal); each crossover is counted below. Cheaper is
# not exact: the estimate keeps the standard deviation given by the formula
# of the previous section.


aten = torch.ops.aten
assert {aten.mm, aten.addmm, aten.bmm, aten.baddbmm, aten.convolution} <= flop_registry.keys()
assert not {aten.mv, aten.dot, aten.tanh, aten.mul} & flop_registry.keys(), "not counted"


class ZeroTangentProducts(TorchDispatchMode):
    """FLOPs of the mm calls with an all-zero broadcast (stride-0) operand: W1's zero tangent."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.name() == "aten::mm" and any(0 in a.stride() and not a.any() for a in args[:2]):
            self.flops += 2 * args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
        return out


def matmul_flops(method, u, X):
    """The matmul FLOPs FlopCounterMode counts, and how many of them are products with zeros."""
    with FlopCounterMode(display=False) as counter, ZeroTangentProducts() as zeros:
        method(u, X)
    return counter.get_total_flops(), zeros.flops


methods = {**exact_methods, f"Hutchinson, k = {K_PROBES}": laplacian_hutchinson}
dims = [2, 4, 8, 16, 32, 64]
forward_units = {name: [] for name in methods}
zero_units = {name: [] for name in methods}
median_ms = {name: [] for name in methods}
for d_n in dims:
    u_n, X_n, _ = make_problem(d_n)
    for name, method in methods.items():
        flops, zero_flops = matmul_flops(method, u_n, X_n)
        if name.startswith("nested"):
            assert flops == 4 * B * WIDTH * d_n * (d_n + 1), "the hand count of nested VJPs"
        forward_units[name].append(flops / (2 * B * WIDTH * d_n))  # that run is also the warm-up
        zero_units[name].append(zero_flops / (2 * B * WIDTH * d_n))
        timer = benchmark.Timer(stmt="method(u, X)", globals={"method": method, "u": u_n, "X": X_n})
        median_ms[name].append(timer.blocked_autorange(min_run_time=0.02).median * 1e3)

print("cost in forward passes (matmul FLOPs / 2BWd):")
print("  " + " " * 22 + "".join(f"{f'd={d_n}':>8}" for d_n in dims) + "  of which with zeros")
for name in methods:
    print(f"  {name:<22}" + "".join(f"{units:8.1f}" for units in forward_units[name])
          + f"  {', '.join(f'{units:.0f}' for units in sorted(set(zero_units[name])))}")

# The claims: each exact method costs between d and 2(d + 1) + 4 forward
# passes; the vmapped VJPs d + 2 + d/B, forward-over-reverse d + 4 + d/B,
# Hutchinson 2k + 4 + k/W whatever d is.
for name in exact_methods:
    for d_n, units in zip(dims, forward_units[name]):
        assert d_n < units <= 2 * (d_n + 1) + 4, f"{name}: {units} forward passes at d = {d_n}"
hutchinson = f"Hutchinson, k = {K_PROBES}"
saved_units = [nested - vmapped for nested, vmapped in zip(forward_units["nested VJPs (loop)"],
                                                           forward_units["VJPs vmapped over d"])]
print("units saved by vmapping the VJPs:", saved_units)
# Exact: integer FLOP counts fixed by the shapes, and quotients of them that binary
# floating point holds exactly (B = 128 and W = 64 are powers of two, so d/B and k/W are too).
assert forward_units["VJPs vmapped over d"] == [d_n + 2 + d_n / B for d_n in dims]
assert forward_units["forward-over-reverse"] == [d_n + 4 + d_n / B for d_n in dims]
assert forward_units[hutchinson] == [2 * K_PROBES + 4 + K_PROBES / WIDTH] * len(dims)
assert saved_units == [d_n * (1 - 1 / B) for d_n in dims], "about one unit per dimension"
# Of those, products with the zero tangent of W1: two units in the JVP routes at every d, none in the VJP routes.
assert {name: set(units) for name, units in zero_units.items()} == {
    "nested VJPs (loop)": {0}, "VJPs vmapped over d": {0}, "forward-over-reverse": {2}, hutchinson: {2}}
# The four units that do not depend on k: one probe costs 2 + 4 + 1/W units, 2 of them with zeros (exact, as above).
u_8, X_8, _ = make_problem(8)
one_probe_flops = matmul_flops(lambda u, X: laplacian_hutchinson(u, X, k=1), u_8, X_8)
one_probe = [flops / (2 * B * WIDTH * 8) for flops in one_probe_flops]  # all, and with zeros
assert one_probe == [2 * 1 + 4 + 1 / WIDTH, 2], one_probe

# The crossovers, counted on both sides, leaving out the products with zeros (exact integer FLOP
# counts): Hutchinson with k = 16 is not cheaper than the exact method at the first dimension,
# and cheaper at the second.
crossovers = {"nested VJPs (loop)": (16, 17), "VJPs vmapped over d": (32, 33), "forward-over-reverse": (32, 33)}
for name, (before, from_on) in crossovers.items():
    counted = {}
    for d_n in (before, from_on):
        u_n, X_n, _ = make_problem(d_n)
        (exact, exact_zeros), (estimate, estimate_zeros) = (matmul_flops(methods[name], u_n, X_n),
                                                            matmul_flops(methods[hutchinson], u_n, X_n))
        counted[d_n] = (exact - exact_zeros, estimate - estimate_zeros)
    print(f"{name:<22} FLOPs without zeros against Hutchinson: d = {before}: {counted[before][0]:,} vs"
          f" {counted[before][1]:,}; d = {from_on}: {counted[from_on][0]:,} vs {counted[from_on][1]:,}")
    assert counted[before][0] <= counted[before][1] and counted[from_on][0] > counted[from_on][1], name

print(f"d = {dims[-1]}: median time")
for name in methods:
    print(f"  {name:<22} {median_ms[name][-1]:8.2f} ms")

# %%
# Times are medians of :class:`torch.utils.benchmark.Timer` runs after a
# warm-up (the FLOP-counting run), on the machine that built this page; they
# are shown, not asserted.
# Where they do not follow the FLOP counts, the difference is work the count
# leaves out: per-call overhead (the Python loop of nested VJPs, the
# transforms of ``torch.func``) and elementwise operations.

fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8), layout="constrained")
for name in methods:
    style = "s--" if name.startswith("Hutchinson") else "o-"
    axes[0].loglog(dims, forward_units[name], style, label=name)
    axes[1].loglog(dims, median_ms[name], style, label=name)
axes[0].loglog(dims, dims, color="0.75", lw=4, zorder=0, label="$d$")
axes[0].set_ylabel("matmul FLOPs / one forward pass")
axes[0].set_title("deterministic: FLOP count")
axes[1].set_ylabel("median time (ms)")
axes[1].set_title("measured: time on this machine")
for ax in axes:
    ax.set_xlabel("input dimension $d$")
    ax.set_xticks(dims, labels=[str(d_n) for d_n in dims], minor=False)
    ax.set_xticks([], minor=True)
    ax.yaxis.set_minor_formatter(NullFormatter())
axes[0].legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * An exact Laplacian built from VJPs or JVPs as here takes :math:`d`
#   Hessian-vector products, each a few forward passes: it computes all of
#   :math:`H` to keep its diagonal.
# * Vmapping over the dimensions (``vmap`` of ``vjp`` or ``jvp`` of ``grad``)
#   removes the Python loop and, here, some repeated work: about one forward
#   pass per dimension.
# * Hutchinson's estimate costs :math:`k` products whatever :math:`d` is,
#   with a standard deviation of :math:`\sqrt{2 \sum_{i \ne j} H_{ij}^2 / k}`
#   for Rademacher probes. Each probe costs two forward passes per point,
#   against one per one-hot direction in the vmapped routes (two in the
#   nested loop), so with :math:`k = 16`, leaving out the products with the
#   zero tangent of :math:`W_1`, it takes fewer FLOPs than nested VJPs from
#   :math:`d = 17` on, and than the vmapped VJPs and forward-over-reverse,
#   the cheapest exact methods here, only from :math:`d = 33`.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_06_ntk_and_gauss_newton.py`.
# Reference: :func:`torch.autograd.grad`, :func:`torch.func.grad`,
# :func:`torch.func.vjp`, :func:`torch.func.jvp`, :func:`torch.func.vmap`,
# :func:`torch.func.hessian`, :class:`torch.utils.flop_counter.FlopCounterMode`,
# :class:`torch.utils.benchmark.Timer`.
