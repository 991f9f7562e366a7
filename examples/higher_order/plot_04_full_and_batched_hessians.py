r"""
Full Hessians, for one input and for a batch
============================================

:func:`torch.func.hessian`, ``jacfwd(jacrev(f))``, ``jacrev(jacrev(f))``
and :func:`torch.autograd.functional.hessian` all return the matrix of
second derivatives. This page checks each against a Hessian derived by hand,
computes one Hessian per sample of a batch with :func:`torch.func.vmap`,
counts what the four ways of nesting forward and reverse mode cost in
arithmetic, measures the peak memory of the two with an inner reverse mode,
and shows what symmetry does and does not prove.
"""

# %%
# The maths
# ---------
#
# The test function is the log-sum-exp of a layer applied to
# :math:`\tanh x`, for :math:`x \in \mathbb{R}^n` and
# :math:`W \in \mathbb{R}^{m \times n}`:
#
# .. math::
#
#    f(x) = \log \sum_{k=1}^{m} e^{z_k}, \quad z = W t, \quad t = \tanh x.
#
# With :math:`p = \operatorname{softmax}(z)`, :math:`s = 1 - t^2` and
# :math:`q = W^\top p`, the chain rule gives the gradient and, once more,
# the Hessian :math:`H \in \mathbb{R}^{n \times n}`:
#
# .. math::
#
#    \nabla f(x) = s \odot q, \qquad
#    H = \operatorname{diag}(-2\, t \odot s \odot q)
#    + \operatorname{diag}(s)\, W^\top \bigl(\operatorname{diag}(p) - p p^\top\bigr) W \operatorname{diag}(s),
#
# using :math:`\mathrm{d}s = -2t \odot s \odot \mathrm{d}x` and
# :math:`\mathrm{d}p = (\operatorname{diag}(p) - p p^\top)\, \mathrm{d}z`;
# the first term is also :math:`\operatorname{diag}(-2\, t \odot \nabla f(x))`.
# :math:`H` is the Jacobian of the gradient map
# :math:`\nabla f : \mathbb{R}^n \to \mathbb{R}^n`, so "a Hessian" is two
# Jacobians nested: an *inner* one (the gradient, a :math:`1 \times n` row)
# and an *outer* one (an :math:`n \times n` square). Each can be taken in
# forward mode (``jacfwd``: one JVP per input) or reverse mode (``jacrev``:
# one VJP per output):
#
# * inner: reverse needs **one** VJP for the whole gradient, forward needs
#   :math:`n` JVPs;
# * outer: the Jacobian is square, so both modes need :math:`n` products.
#
# For a batch :math:`X \in \mathbb{R}^{B \times n}` of independent samples
# the wanted result is :math:`B` Hessians, :math:`(B, n, n)`, not the
# Hessian of :math:`\sum_b f(X_b)`, which is :math:`(B, n, B, n)` and zero
# outside the :math:`B` diagonal blocks.

# %%
# Five ways to the same Hessian
# -----------------------------

import inspect

import matplotlib.pyplot as plt
import torch
from torch.func import grad, hessian, jacfwd, jacrev, jvp, vjp, vmap
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils import benchmark
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

generator = torch.Generator().manual_seed(0)


def make_problem(n, m=32):
    W = torch.randn(m, n, generator=generator, dtype=torch.float64) / n**0.5

    def f(x):
        return torch.logsumexp(W @ torch.tanh(x), dim=0)

    def hessian_by_hand(x):
        t = torch.tanh(x)
        s = 1 - t**2
        p = torch.softmax(W @ t, dim=0)
        q = W.T @ p
        curvature = W.T @ (torch.diag(p) - torch.outer(p, p)) @ W
        return torch.diag(-2 * t * s * q) + s[:, None] * curvature * s[None, :]

    return f, hessian_by_hand


n = 16
f, hessian_by_hand = make_problem(n)
x = torch.randn(n, generator=generator, dtype=torch.float64)
expected = hessian_by_hand(x)

hessians = {
    "func.hessian": hessian(f)(x),
    "jacfwd(jacrev(f))": jacfwd(jacrev(f))(x),
    "jacrev(jacrev(f))": jacrev(jacrev(f))(x),
    "functional.hessian": torch.autograd.functional.hessian(f, x),
    "functional.hessian, forward outer": torch.autograd.functional.hessian(
        f, x, vectorize=True, outer_jacobian_strategy="forward-mode"
    ),
}
for name, result in hessians.items():
    # Each entry takes about 2m + n = 80 roundings (m = 32) of terms whose sizes add to at most
    # 0.21: error below ~100 eps 0.21 = 5e-15 (eps = 2.2e-16), far under atol 1e-13.
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-13)
    print(f"{name:<34} {tuple(result.shape)}  max |H - H by hand| = {(result - expected).abs().max().item():.1e}")

# %%
# Which nesting is which
# ----------------------
#
# :func:`torch.func.hessian` is defined as ``jacfwd(jacrev(f))``:
# forward-over-reverse. Recording the ATen operations each one runs (a
# ``TorchDispatchMode`` sees every one) shows the same sequence.
# :func:`torch.autograd.functional.hessian` instead defaults to reverse over
# reverse, with a Python loop over the :math:`n` rows unless
# ``vectorize=True`` (which batches them into matrix-matrix products).


class OperationLog(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.operations = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.operations.append(str(func))
        return func(*args, **(kwargs or {}))


with OperationLog() as by_hessian:
    hessian(f)(x)
with OperationLog() as by_nesting:
    jacfwd(jacrev(f))(x)
assert by_hessian.operations == by_nesting.operations
print(f"func.hessian and jacfwd(jacrev(f)) run the same {len(by_hessian.operations)} ATen operations")

defaults = inspect.signature(torch.autograd.functional.hessian).parameters
assert defaults["outer_jacobian_strategy"].default == "reverse-mode" and defaults["vectorize"].default is False
print("functional.hessian defaults: outer_jacobian_strategy='reverse-mode', vectorize=False")

# The loop, seen in the matrix-vector products with W: 2 for the gradient,
# then 2 in each of the n backward passes, one per row of H.
matrix_vector = {}
for vectorize in (False, True):
    with OperationLog() as log:
        torch.autograd.functional.hessian(f, x, vectorize=vectorize)
    matrix_vector[vectorize] = sum(name.startswith("aten.mv") for name in log.operations)
print(f"matrix-vector products: {matrix_vector[False]} (loop over rows), {matrix_vector[True]} (vectorize=True)")
assert matrix_vector[False] == 2 + 2 * n and matrix_vector[True] == 2

# %%
# Symmetry: necessary, not sufficient
# -----------------------------------
#
# For a twice continuously differentiable :math:`f`, :math:`H = H^\top`.
# Each method's result is symmetric up to rounding. But a symmetric matrix
# is not necessarily the Hessian: dropping the
# :math:`\operatorname{diag}(-2\, t \odot \nabla f(x))` term leaves a
# symmetric, wrong answer. Symmetry is a cheap sanity check; the comparison
# with an independent Hessian is the test.

for name, result in hessians.items():
    asymmetry = (result - result.T).abs().max()
    # Each entry is within ~100 eps 0.21 = 5e-15 (as above) of the exact, symmetric H:
    # |H - H^T| <= 1e-14, under 1e-12 max |H| = 7.5e-14.
    assert asymmetry <= 1e-12 * result.abs().max(), f"{name}: not symmetric"
    print(f"{name:<34} max |H - H^T| = {asymmetry.item():.1e}")

gradient = torch.func.grad(f)(x)  # s * q, so the dropped term is diag(-2 t * gradient)
symmetric_but_wrong = expected - torch.diag(-2 * torch.tanh(x) * gradient)
# Entries (i, j) and (j, i) are the same sums in another order: they differ by under
# ~100 eps 0.21 = 5e-15, below 1e-12 times the largest entry (7.5e-14).
assert (symmetric_but_wrong - symmetric_but_wrong.T).abs().max() <= 1e-12 * symmetric_but_wrong.abs().max()
relative_error = (symmetric_but_wrong - expected).abs().max() / expected.abs().max()
print(f"without the diagonal term: symmetric, and off by {100 * relative_error.item():.0f}% of the largest entry of H")
assert relative_error > 0.1

# %%
# What each nesting costs
# -----------------------
#
# The deterministic measure is floating-point operations in matrix products,
# counted by :class:`~torch.utils.flop_counter.FlopCounterMode` (it counts
# matrix-matrix products, convolutions and attention kernels, not
# matrix-vector products or elementwise operations; here every product of
# :math:`W` or :math:`W^\top` with a batch of tangents or cotangents is
# one). One product with :math:`W` costs :math:`2mn`; the inner-reverse
# nestings make two per direction (one with :math:`W`, one with
# :math:`W^\top`) for :math:`n` directions, about :math:`4mn^2`; the
# inner-forward nestings push :math:`n^2` second-order directions through
# :math:`W`, about :math:`2mn^3`: :math:`n/2` times more. Counted exactly,
# in products with :math:`W` (FLOPs over :math:`2mn`): :math:`2n + 1` for
# both ``jacfwd(jacrev(f))`` and ``jacrev(jacrev(f))``, :math:`n^2 + 2n`
# for both ``jacrev(jacfwd(f))`` and ``jacfwd(jacfwd(f))``. The nestings
# with forward mode also multiply by :math:`W`'s tangent: :math:`W` is a
# constant, so its tangent is zero, and forward mode hands ``mm`` an
# :math:`m \times n` matrix of zeros, a broadcast view with stride 0 (as on
# :ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`).
# A ``TorchDispatchMode`` that inspects each ``aten::mm`` counts these
# products apart: 1 for ``jacfwd(jacrev(f))``, :math:`n` for
# ``jacrev(jacfwd(f))`` and :math:`2n` for ``jacfwd(jacfwd(f))``, which
# FlopCounterMode adds to the totals (:math:`2n + 2`, :math:`2n + 1`,
# :math:`n^2 + 3n`, :math:`n^2 + 4n`).

sizes = [4, 8, 16, 32, 64]
nestings = {
    "jacfwd(jacrev(f))": lambda f: jacfwd(jacrev(f)),
    "jacrev(jacrev(f))": lambda f: jacrev(jacrev(f)),
    "jacrev(jacfwd(f))": lambda f: jacrev(jacfwd(f)),
    "jacfwd(jacfwd(f))": lambda f: jacfwd(jacfwd(f)),
}


class ZeroTangentProducts(TorchDispatchMode):
    """FLOPs of the mm calls with an all-zero broadcast (stride-0) operand: W's zero tangent."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.name() == "aten::mm" and any(0 in a.stride() and not a.any() for a in args[:2]):
            self.flops += 2 * args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
        return out


flops = {name: [] for name in nestings}
zero_flops = {name: [] for name in nestings}
for size in sizes:
    f_n, by_hand_n = make_problem(size)
    x_n = torch.randn(size, generator=generator, dtype=torch.float64)
    for name, nest in nestings.items():
        with FlopCounterMode(display=False) as counter, ZeroTangentProducts() as zeros:
            result = nest(f_n)(x_n)
        # As at n = 16: at most 2m + n = 128 roundings of terms whose sizes add to at most 0.46
        # per entry: error below ~150 eps 0.46 = 1.5e-14, under atol 1e-13.
        torch.testing.assert_close(result, by_hand_n(x_n), rtol=1e-12, atol=1e-13)
        flops[name].append(counter.get_total_flops())
        zero_flops[name].append(zeros.flops)

for name, counts in flops.items():
    print(f"{name:<18} FLOPs at n = {sizes}: {counts}, of which with W's zero tangent {zero_flops[name]}")
products = {  # name: (products with W, products with its zero tangent), each of 2mn FLOPs
    "jacfwd(jacrev(f))": lambda n: (2 * n + 1, 1),
    "jacrev(jacrev(f))": lambda n: (2 * n + 1, 0),
    "jacrev(jacfwd(f))": lambda n: (n**2 + 2 * n, n),
    "jacfwd(jacfwd(f))": lambda n: (n**2 + 2 * n, 2 * n),
}
for name, count in products.items():
    # Exact: FLOP counts are integers fixed by the shapes (m = 32 rows of W).
    with_W = [flops[name][i] - zero_flops[name][i] for i in range(len(sizes))]
    assert with_W == [2 * 32 * size * count(size)[0] for size in sizes], (name, with_W)
    assert zero_flops[name] == [2 * 32 * size * count(size)[1] for size in sizes], (name, zero_flops[name])
forward_inner = [fwd / rev for fwd, rev in zip(flops["jacfwd(jacfwd(f))"], flops["jacfwd(jacrev(f))"])]
outer_modes = flops["jacrev(jacrev(f))"][-1] / flops["jacfwd(jacrev(f))"][-1]
print(f"jacfwd(jacfwd) / jacfwd(jacrev) at n = {sizes}: {', '.join(f'{r:.1f}' for r in forward_inner)}"
      f" (n/2 = {', '.join(str(size // 2) for size in sizes)})")
print(f"n = {sizes[-1]}: jacrev(jacrev) / jacfwd(jacrev) = {outer_modes:.3f}")

# %%
# So why forward-over-reverse?
# ----------------------------
#
# The inner choice is settled by the count: reverse mode gets the whole
# gradient from one VJP; an inner forward mode gives the same Hessian at
# about :math:`n/2` times the matrix-product FLOPs. For the outer, square
# Jacobian both modes need :math:`n` products and, counted above, the same
# :math:`2n + 1` products with :math:`W`; forward mode adds one with
# :math:`W`'s zero tangent. Forward mode carries the outer
# tangents along with the inner computation instead of recording that
# computation for a second backward pass. That does not make it use less
# memory: every value of the inner computation then has tangents beside it,
# :math:`n` of them for a full Hessian, and the peak of tensor memory,
# measured at the end of the page, is higher than reverse-over-reverse's in
# every case measured there. The :mod:`torch.func` documentation calls
# forward-over-reverse "a good default for good performance", and the JAX
# Autodiff Cookbook makes the same choice for ``jax.hessian``. Whether it is
# also faster depends on the function and the machine: below, median times
# (after a warm-up, with :class:`torch.utils.benchmark.Timer`, from the
# machine that built this page) for one Hessian at :math:`n = 64` and for a
# batch of 64 Hessians at :math:`n = 16`. Neither outer mode is asserted to
# win. When an operation has no forward-mode formula, ``jacrev(jacrev(f))``
# is the documented fallback.


def median_ms(fn, *args):
    fn(*args)  # warm-up
    timer = benchmark.Timer(stmt="fn(*args)", globals={"fn": fn, "args": args})
    return timer.blocked_autorange(min_run_time=0.1).median * 1e3


f_64, _ = make_problem(64)
x_64 = torch.randn(64, generator=generator, dtype=torch.float64)
times = {name: median_ms(nestings[name](f_64), x_64) for name in ("jacfwd(jacrev(f))", "jacrev(jacrev(f))")}
ratio = times["jacrev(jacrev(f))"] / times["jacfwd(jacrev(f))"]
print(f"n = 64: jacfwd(jacrev) {times['jacfwd(jacrev(f))']:.2f} ms, jacrev(jacrev) {times['jacrev(jacrev(f))']:.2f} ms"
      " -> forward-over-reverse " + (f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"))

# %%
# A batch of Hessians with ``vmap``
# ---------------------------------
#
# ``vmap(hessian(f))`` maps over the first dimension of a batch
# :math:`X \in \mathbb{R}^{B \times n}`: :math:`B` Hessians, each checked
# against the hand formula. The tempting alternative, the Hessian of the
# summed batch, computes a :math:`(B, n, B, n)` tensor whose off-diagonal
# blocks are zero (the samples do not interact) and costs about :math:`B`
# times the FLOPs.

B = 64
X = torch.randn(B, n, generator=generator, dtype=torch.float64)
with FlopCounterMode(display=False) as per_sample_counter:
    per_sample = vmap(hessian(f))(X)
# As above, with terms whose sizes add to at most 0.36 here: error below 1e-14, under atol 1e-13.
torch.testing.assert_close(per_sample, vmap(hessian_by_hand)(X), rtol=1e-12, atol=1e-13)
print(f"vmap(hessian(f))(X): {tuple(per_sample.shape)}")

with FlopCounterMode(display=False) as summed_counter:
    of_the_sum = hessian(lambda X: vmap(f)(X).sum())(X)  # (B, n, B, n)
blocks = of_the_sum.diagonal(dim1=0, dim2=2).permute(2, 0, 1)  # (B, n, n): block b is d2 f / dX_b dX_b
# Both within 1e-14 of the exact Hessians (as above), so within 2e-14 of each other: under atol 1e-13.
torch.testing.assert_close(blocks, per_sample, rtol=1e-12, atol=1e-13)
off_diagonal = of_the_sum.clone()
off_diagonal[torch.arange(B), :, torch.arange(B), :] = 0
# Exact: these entries are products with exact zeros (no inf or NaN here) and sums of such zeros.
assert off_diagonal.abs().max() == 0, "samples should not interact"
flop_ratio = summed_counter.get_total_flops() / per_sample_counter.get_total_flops()
print(f"Hessian of the sum: {tuple(of_the_sum.shape)}, {of_the_sum.numel():,} entries against {per_sample.numel():,},"
      f" {flop_ratio:.0f}x the FLOPs")
assert flop_ratio > B / 2

batch_times = {name: median_ms(vmap(nestings[name](f)), X) for name in ("jacfwd(jacrev(f))", "jacrev(jacrev(f))")}
ratio = batch_times["jacrev(jacrev(f))"] / batch_times["jacfwd(jacrev(f))"]
print(f"batch of {B} at n = {n}: vmap(jacfwd(jacrev)) {batch_times['jacfwd(jacrev(f))']:.2f} ms,"
      f" vmap(jacrev(jacrev)) {batch_times['jacrev(jacrev(f))']:.2f} ms -> forward-over-reverse "
      + (f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"))

# %%
# And memory?
# -----------
#
# Counted as on
# :ref:`sphx_glr_auto_examples_under_the_hood_plot_02_memory_what_reverse_mode_keeps.py`:
# a ``TorchDispatchMode`` sees every ATen operation, notes each new storage
# its outputs have, drops it once freed, and keeps the largest total: the
# peak of tensor memory allocated inside the block (kernels' scratch space
# left out), exact and the same on every run. Forward-over-reverse against
# reverse-over-reverse, for one :math:`Hv` (``jvp`` or ``vjp`` of ``grad``),
# one Hessian, and the batch of Hessians above:


class PeakTensorBytes(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live, self.peak = {}, 0  # storage address -> (weak reference, bytes)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))

        def storages(tree):  # a ZeroTensor (forward mode's tangent of a constant) has no storage
            tensors = [t for t in tree_leaves(tree) if isinstance(t, torch.Tensor) and not t._is_zerotensor()]
            return {t.untyped_storage().data_ptr(): t.untyped_storage() for t in tensors}

        self.live = {key: entry for key, entry in self.live.items() if not entry[0].expired()}
        inputs = storages((args, kwargs))
        for key, storage in storages(out).items():
            if key not in inputs and key not in self.live:
                self.live[key] = (StorageWeakRef(storage), storage.nbytes())
        self.peak = max(self.peak, sum(size for _, size in self.live.values()))
        return out


def peak_kib(run):
    with PeakTensorBytes() as mode:
        run()
    return mode.peak / 1024


v = torch.randn(n, generator=generator, dtype=torch.float64)
cases = {  # name: (forward over reverse, reverse over reverse)
    f"one Hv, n = {n}": (lambda: jvp(grad(f), (x,), (v,)), lambda: vjp(grad(f), x)[1](v)),
    f"one Hessian, n = {n}": (lambda: jacfwd(jacrev(f))(x), lambda: jacrev(jacrev(f))(x)),
    "one Hessian, n = 64": (lambda: jacfwd(jacrev(f_64))(x_64), lambda: jacrev(jacrev(f_64))(x_64)),
    f"{B} Hessians, n = {n}": (lambda: vmap(jacfwd(jacrev(f)))(X), lambda: vmap(jacrev(jacrev(f)))(X)),
}
print(f"{'peak KiB':<24}{'fwd over rev':>13}{'rev over rev':>13}{'ratio':>7}")
peaks = {}
for name, (forward_over_reverse, reverse_over_reverse) in cases.items():
    peaks[name] = (peak_kib(forward_over_reverse), peak_kib(reverse_over_reverse))
    print(f"{name:<24}{peaks[name][0]:>13.1f}{peaks[name][1]:>13.1f}{peaks[name][0] / peaks[name][1]:>7.2f}")
# Byte counts of the tensors the operations allocate: exact, and the same on every machine.
# Which tensors they are depends on the torch release, so only the order is asserted.
assert all(fwd > rev for fwd, rev in peaks.values()), "forward-over-reverse should peak higher here"

# %%
# For this function, forward-over-reverse peaks higher in every case. By
# how much (the ratio column) depends on which tensors the installed torch
# allocates and keeps, and differs between releases: the page asserts only
# that it is higher. A saving in memory is not a reason to choose
# forward-over-reverse here; measure it for your own function, as above.
#
# The Hessian and the cost of each nesting, seen
# ----------------------------------------------
#
# Left: :math:`H` at one point (:math:`n = 16`), symmetric about its
# diagonal. Right: the counted FLOPs against :math:`n`; the two
# inner-reverse nestings overlap and grow as :math:`n^2`, the two
# inner-forward ones as :math:`n^3`.

fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
limit = expected.abs().max().item()
image = axes[0].imshow(expected.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
fig.colorbar(image, ax=axes[0], shrink=0.8)
axes[0].set_title(f"H at one point (n = {n})", fontsize=10)
axes[0].set_xticks(range(0, n, 4))
axes[0].set_yticks(range(0, n, 4))
axes[0].set_xlabel("$j$")
axes[0].set_ylabel("$i$")
styles = {"jacfwd(jacrev(f))": "o-", "jacrev(jacrev(f))": "x--", "jacrev(jacfwd(f))": "s-", "jacfwd(jacfwd(f))": "+--"}
for name, counts in flops.items():
    axes[1].loglog(sizes, counts, styles[name], label=name)
axes[1].set_xticks(sizes, labels=[str(size) for size in sizes])
axes[1].tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
axes[1].set_xlabel("$n$")
axes[1].set_ylabel("matrix-product FLOPs (counted)")
axes[1].set_title("inner reverse: $n^2$; inner forward: $n^3$", fontsize=10)
axes[1].legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * :func:`torch.func.hessian` is ``jacfwd(jacrev(f))``. The inner transform
#   should be reverse mode (one VJP per gradient): a forward inner one gives
#   the same Hessian at about :math:`n/2` times the FLOPs, growing as
#   :math:`n^3`. The outer one costs :math:`n` products either way, so
#   ``jacrev(jacrev(f))`` is a fallback with the same :math:`2n + 1`
#   products with :math:`W` (``jacfwd(jacrev(f))`` adds one with
#   :math:`W`'s zero tangent), and here the lower peak memory; timing on
#   your own function decides between them.
# * ``vmap(hessian(f))`` gives one Hessian per sample; the Hessian of a
#   summed batch is :math:`B` times larger and mostly zeros.
# * Symmetry is necessary, not sufficient: compare with an independent
#   Hessian (by hand, or finite differences of the gradient).
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_05_laplacian_for_physics_informed_models.py`.
# Reference: :func:`torch.func.hessian`, :func:`torch.func.jacfwd`,
# :func:`torch.func.jacrev`, :func:`torch.func.vmap`, :func:`torch.func.grad`,
# :func:`torch.autograd.functional.hessian`,
# :class:`torch.utils.flop_counter.FlopCounterMode`,
# :class:`torch.utils.benchmark.Timer`.
