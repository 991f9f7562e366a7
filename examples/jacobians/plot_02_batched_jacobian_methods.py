r"""
Batched Jacobians faster than a loop of VJPs, measured
======================================================

The basics built the :math:`(N, 3, 2)` batch of Jacobians of a map
:math:`\mathbb{R}^2 \to \mathbb{R}^3` with a Python loop of three
:func:`~torch.autograd.functional.vjp` calls. Six other ways compute the
same numbers; this page checks that they agree, times them from
:math:`N = 10` to :math:`10^5` on the machine that built it, and shows what
the naive full Jacobian would cost.
"""

# %%
# The maths, and why the shortcuts are allowed
# --------------------------------------------
#
# :math:`f(x_n) = (a_n b_n,\; \sin(a_n + b_n^2),\; a_n^2 - 3 b_n)` for each of
# :math:`N` points, with the block-diagonal Jacobian of the basics: the full
# :math:`J \in \mathbb{R}^{N \times 3 \times N \times 2}` is zero off the
# :math:`N` diagonal blocks :math:`J_n \in \mathbb{R}^{3 \times 2}`. Every
# method below exploits that, in one of two ways:
#
# * **rows for all samples at once**: one VJP with the one-hot
#   :math:`v^{(k)}` gives row :math:`k` of every :math:`J_n`. The three VJPs
#   can run in a Python loop, or batched (``is_grads_batched``,
#   :func:`torch.func.vmap` of :func:`torch.func.vjp`). Equivalently, the
#   Jacobian of the batch sum :math:`\sum_n f(x_n) \in \mathbb{R}^3` is
#   :math:`(3, N, 2)` and holds the same rows, because summing over
#   :math:`n` adds only zeros to each block.
# * **one sample at a time, vectorised**: write :math:`f` for one point,
#   take its :math:`3 \times 2` Jacobian with :func:`torch.func.jacrev`
#   (3 VJPs) or :func:`torch.func.jacfwd` (2 JVPs), and map that over the
#   batch with :func:`torch.func.vmap`.
#
# The naive route, :func:`torch.autograd.functional.jacobian` of the batched
# :math:`f`, ignores the structure and builds all
# :math:`6N^2` entries of :math:`J`, of which :math:`6N` are not zero.

# %%
# The function, the seven methods
# -------------------------------

import platform

import matplotlib.pyplot as plt
import torch
from torch.utils import benchmark


def f(x: torch.Tensor) -> torch.Tensor:
    """(N, 2) -> (N, 3)."""
    a, b = x[:, 0], x[:, 1]
    return torch.stack((a * b, torch.sin(a + b**2), a**2 - 3 * b), dim=1)


def f_one_point(point: torch.Tensor) -> torch.Tensor:
    """(2,) -> (3,): the same map for a single point."""
    a, b = point[0], point[1]
    return torch.stack((a * b, torch.sin(a + b**2), a**2 - 3 * b))


def one_hot_rows(n: int, dtype: torch.dtype) -> torch.Tensor:
    """(3, N, 3): basis[k] is the one-hot v selecting output component k."""
    basis = torch.zeros(3, n, 3, dtype=dtype)
    for k in range(3):
        basis[k, :, k] = 1.0
    return basis


def seed_loop(x):
    jacobians = torch.empty(x.shape[0], 3, 2, dtype=x.dtype)
    for k in range(3):
        v = torch.zeros(x.shape[0], 3, dtype=x.dtype)
        v[:, k] = 1.0
        _, jacobians[:, k, :] = torch.autograd.functional.vjp(f, x, v=v)
    return jacobians


def grad_is_grads_batched(x):
    x = x.detach().requires_grad_()
    (rows,) = torch.autograd.grad(f(x), x, one_hot_rows(x.shape[0], x.dtype), is_grads_batched=True)
    return rows.transpose(0, 1)  # (3, N, 2) -> (N, 3, 2)


def jacobian_of_batch_sum(x):
    rows = torch.autograd.functional.jacobian(lambda x: f(x).sum(dim=0), x, vectorize=True)
    return rows.transpose(0, 1)


def vmap_of_vjp(x):
    _, vjp_fn = torch.func.vjp(f, x)
    (rows,) = torch.func.vmap(vjp_fn)(one_hot_rows(x.shape[0], x.dtype))
    return rows.transpose(0, 1)


def vmap_of_jacrev(x):
    return torch.func.vmap(torch.func.jacrev(f_one_point))(x)


def vmap_of_jacfwd(x):
    return torch.func.vmap(torch.func.jacfwd(f_one_point))(x)


def by_hand(x):
    a, b = x[:, 0], x[:, 1]
    c = torch.cos(a + b**2)
    rows = (torch.stack((b, a), 1), torch.stack((c, 2 * b * c), 1), torch.stack((2 * a, torch.full_like(b, -3.0)), 1))
    return torch.stack(rows, dim=1)


methods = {
    "seed loop of 3 functional.vjp": seed_loop,
    "autograd.grad, is_grads_batched": grad_is_grads_batched,
    "functional.jacobian of batch sum": jacobian_of_batch_sum,
    "vmap of func.vjp": vmap_of_vjp,
    "vmap of jacrev (one point)": vmap_of_jacrev,
    "vmap of jacfwd (one point)": vmap_of_jacfwd,
    "hand-written derivative": by_hand,
}

# %%
# All seven agree
# ---------------

generator = torch.Generator().manual_seed(0)


def points(n: int) -> torch.Tensor:
    return 2 * torch.rand(n, 2, generator=generator, dtype=torch.float64) - 1


x = points(1000)
expected = by_hand(x)
for name, method in methods.items():
    result = method(x)
    # Same float64 derivative formulas, evaluated in different orders.
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)
    print(f"{name:<34} {tuple(result.shape)}  max |error| = {(result - expected).abs().max().item():.1e}")

# %%
# Timings
# -------
#
# Each method is timed with :class:`torch.utils.benchmark.Timer` on the same
# input: one warm-up call, then the median over repeated blocks
# (``blocked_autorange``). Every method starts from ``x`` and includes its
# own forward pass, so each side does the whole job. The figures come from the
# machine that built this page; the sizes (and ``min_run_time``) are chosen so
# that the whole page runs in a few seconds on a 2-core CPU.

print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}")

sizes = [10, 100, 1_000, 10_000, 100_000]
median_ms = {name: [] for name in methods}
for n in sizes:
    x_n = points(n)
    for name, method in methods.items():
        method(x_n)  # warm-up
        timer = benchmark.Timer(stmt="method(x)", globals={"method": method, "x": x_n})
        median_ms[name].append(timer.blocked_autorange(min_run_time=0.04).median * 1e3)


def relative(seconds: float, baseline: float) -> str:
    if seconds == baseline:
        return "(the baseline)"
    ratio = baseline / seconds
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


print(f"\nN = {sizes[-1]:,}: median time, and speed against the seed loop")
baseline = median_ms["seed loop of 3 functional.vjp"][-1]
for name in methods:
    print(f"  {name:<34} {median_ms[name][-1]:8.2f} ms   {relative(median_ms[name][-1], baseline)}")

# The hand-written derivative is the floor: it does no autodiff at all.
assert min(median_ms, key=lambda name: median_ms[name][-1]) == "hand-written derivative"

# %%
# The naive full Jacobian
# -----------------------
#
# :func:`torch.autograd.functional.jacobian` of the batched ``f`` returns the
# whole :math:`(N, 3, N, 2)` tensor. Its diagonal blocks are the answer; the
# rest is zeros that cost time and memory. Timed for small :math:`N` only;
# at :math:`N = 10^5` its size is computed, not allocated.

naive_sizes = [10, 30, 100, 300, 1000]
naive_ms = []
for n in naive_sizes:
    x_n = points(n)
    full = torch.autograd.functional.jacobian(f, x_n, vectorize=True)
    blocks = full.diagonal(dim1=0, dim2=2).permute(2, 0, 1)  # (N, 3, 2)
    torch.testing.assert_close(blocks, by_hand(x_n), rtol=1e-12, atol=1e-12)
    timer = benchmark.Timer(
        stmt="jacobian(f, x, vectorize=True)",
        globals={"jacobian": torch.autograd.functional.jacobian, "f": f, "x": x_n},
    )
    naive_ms.append(timer.blocked_autorange(min_run_time=0.04).median * 1e3)
    print(f"N = {n:>4}: {tuple(full.shape)}, {full.numel() * full.element_size() / 2**20:7.2f} MiB, {naive_ms[-1]:8.2f} ms")

n_big = 100_000
naive_bytes = n_big * 3 * n_big * 2 * torch.finfo(torch.float64).bits // 8
print(f"N = {n_big:,}: ({n_big}, 3, {n_big}, 2) in float64 would take {naive_bytes / 2**30:,.0f} GiB")
print(f"the (N, 3, 2) answer takes {n_big * 3 * 2 * 8 / 2**20:.1f} MiB")
# At N = 1000 the naive route is slower than every structured method.
structured_at_1000 = max(times[sizes.index(1000)] for times in median_ms.values())
assert naive_ms[naive_sizes.index(1000)] > structured_at_1000
print(f"N = 1000: naive {naive_ms[-1]:.1f} ms, slowest structured method {structured_at_1000:.2f} ms")

# %%
# Time against N
# --------------

fig, ax = plt.subplots(figsize=(7, 4.6), layout="constrained")
for name in methods:
    style = "k--" if name == "hand-written derivative" else "o-"
    ax.loglog(sizes, median_ms[name], style, ms=4, label=name)
ax.loglog(naive_sizes, naive_ms, "s:", color="0.4", label="naive full Jacobian")
ax.set_xlabel("batch size $N$")
ax.set_ylabel("median time (ms)")
ax.set_title(f"(N, 3, 2) Jacobians, torch {torch.__version__}, {torch.get_num_threads()} threads")
ax.legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * Everything that exploits the block-diagonal structure scales linearly in
#   :math:`N`; the naive full Jacobian scales as :math:`N^2` in time and
#   memory and is out of reach long before :math:`N = 10^5`.
# * The structured methods are within a small factor of each other: the
#   seed's loop re-runs the forward pass for each of its three VJPs, the
#   batched forms run it once, and for small batches fixed per-call overhead
#   dominates. Read the table above for this machine's figures rather than
#   trusting a rule; the hand-written derivative is the floor.
# * All methods agree to rounding: pick for clarity first.
#
# Next: :ref:`sphx_glr_auto_examples_jacobians_plot_03_functional_to_torch_func.py`.
# Reference: :func:`torch.autograd.grad`, :func:`torch.autograd.functional.jacobian`,
# :func:`torch.func.vmap`, :func:`torch.func.jacrev`, :func:`torch.func.jacfwd`,
# :class:`torch.utils.benchmark.Timer`.
