r"""
Forward or reverse: JVPs, VJPs and what each costs
==================================================

A VJP pulls an output-shaped vector back to the inputs; a Jacobian-vector
product (JVP) pushes an input-shaped vector forward to the outputs. Both
cost a small multiple of one evaluation of the function, so a full
Jacobian costs one of them per column or one per row: which is cheaper
depends on its shape. This page checks the two against each other and
against the maths, and measures the difference for tall and wide Jacobians.
"""

# %%
# The maths
# ---------
#
# For :math:`f : \mathbb{R}^n \to \mathbb{R}^m` with Jacobian
# :math:`J \in \mathbb{R}^{m \times n}` at :math:`x`:
#
# .. math::
#
#    \text{JVP (forward mode): } u \in \mathbb{R}^n \mapsto J u \in \mathbb{R}^m,
#
#    \text{VJP (reverse mode): } v \in \mathbb{R}^m \mapsto v^\top J \in \mathbb{R}^{1 \times n}.
#
# They are adjoint linear maps: for every :math:`u` and :math:`v`,
#
# .. math::
#
#    \langle v, J u \rangle = \langle J^\top v, u \rangle.
#
# A full Jacobian takes :math:`n` JVPs (one per column, :math:`u = e_j`) or
# :math:`m` VJPs (one per row, :math:`v = e_i`): forward mode for *tall*
# Jacobians (:math:`m \gg n`, few inputs), reverse mode for *wide* ones
# (:math:`n \gg m`, such as the gradient of a scalar loss, :math:`m = 1`).
#
# The test function is one dense layer,
#
# .. math::
#
#    f(x) = \tanh(W x), \quad W \in \mathbb{R}^{m \times n}, \qquad
#    J = \operatorname{diag}\bigl(1 - \tanh^2(W x)\bigr)\, W.

# %%
# Three ways to compute a JVP
# ---------------------------
#
# :func:`torch.func.jvp` and the dual numbers of
# :mod:`torch.autograd.forward_ad` run true forward mode;
# :func:`torch.autograd.functional.jvp` computes the same product with two
# reverse passes (the "double-backward trick").

import matplotlib.pyplot as plt
import torch
import torch.autograd.forward_ad as fwAD
from torch.utils import benchmark

generator = torch.Generator().manual_seed(0)
n, m = 50, 30
W = torch.randn(m, n, generator=generator, dtype=torch.float64) / n**0.5
x = torch.randn(n, generator=generator, dtype=torch.float64)
u = torch.randn(n, generator=generator, dtype=torch.float64)  # input-shaped
v = torch.randn(m, generator=generator, dtype=torch.float64)  # output-shaped


def f(x):
    return torch.tanh(W @ x)


J = (1 - torch.tanh(W @ x) ** 2)[:, None] * W  # by hand, (m, n)

_, jvp_functional = torch.autograd.functional.jvp(f, x, u)
_, jvp_func = torch.func.jvp(f, (x,), (u,))
with fwAD.dual_level():
    jvp_dual = fwAD.unpack_dual(f(fwAD.make_dual(x, u))).tangent

for name, result in {"functional.jvp": jvp_functional, "func.jvp": jvp_func, "forward_ad dual": jvp_dual}.items():
    # Same formulas in a different order: float64 rounding only.
    torch.testing.assert_close(result, J @ u, rtol=1e-12, atol=1e-12)
    print(f"{name:<16} J u: {tuple(result.shape)}  max |error| = {(result - J @ u).abs().max().item():.1e}")

_, vjp_result = torch.autograd.functional.vjp(f, x, v)
torch.testing.assert_close(vjp_result, v @ J, rtol=1e-12, atol=1e-12)
print(f"functional.vjp   v^T J: {tuple(vjp_result.shape)}")

# %%
# The adjoint identity, checked
# -----------------------------

left = torch.dot(v, jvp_func)  # <v, J u>
right = torch.dot(vjp_result, u)  # <J^T v, u>
print(f"<v, J u> = {left.item():.15f}")
print(f"<J^T v, u> = {right.item():.15f}")
torch.testing.assert_close(left, right, rtol=1e-12, atol=1e-12)

# %%
# Full Jacobians: columns or rows
# -------------------------------
#
# :func:`torch.func.jacfwd` stacks :math:`n` JVPs, :func:`torch.func.jacrev`
# stacks :math:`m` VJPs (both vectorised with ``vmap``). Same numbers:

torch.testing.assert_close(torch.func.jacfwd(f)(x), J, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(torch.func.jacrev(f)(x), J, rtol=1e-12, atol=1e-12)
print("jacfwd and jacrev both equal the hand-derived J:", tuple(J.shape))

# %%
# Measured: tall against wide
# ---------------------------
#
# The short side of the Jacobian stays at 16, the long side grows. Median
# times with :class:`torch.utils.benchmark.Timer` after a warm-up, the same
# input for both methods, on the machine that built this page. The sizes stop
# at 4096 so that the page runs in a few seconds on a 2-core CPU.


def median_ms(fn, *args):
    fn(*args)  # warm-up
    timer = benchmark.Timer(stmt="fn(*args)", globals={"fn": fn, "args": args})
    return timer.blocked_autorange(min_run_time=0.04).median * 1e3


short = 16
long_sides = [64, 256, 1024, 4096]
times = {shape: {"jacfwd": [], "jacrev": []} for shape in ("tall", "wide")}
for long in long_sides:
    for shape, (rows, cols) in {"tall": (long, short), "wide": (short, long)}.items():
        W_shape = torch.randn(rows, cols, generator=generator, dtype=torch.float64) / cols**0.5
        x_shape = torch.randn(cols, generator=generator, dtype=torch.float64)

        def layer(x, W=W_shape):
            return torch.tanh(W @ x)

        for name, transform in {"jacfwd": torch.func.jacfwd, "jacrev": torch.func.jacrev}.items():
            times[shape][name].append(median_ms(transform(layer), x_shape))

# The claim of the maths: columns (jacfwd) for tall, rows (jacrev) for wide.
assert times["tall"]["jacfwd"][-1] < times["tall"]["jacrev"][-1]
assert times["wide"]["jacrev"][-1] < times["wide"]["jacfwd"][-1]
for shape in ("tall", "wide"):
    fwd, rev = times[shape]["jacfwd"][-1], times[shape]["jacrev"][-1]
    faster = "jacfwd" if fwd < rev else "jacrev"
    ratio = max(fwd, rev) / min(fwd, rev)
    print(f"{shape} ({'4096 x 16' if shape == 'tall' else '16 x 4096'}): "
          f"jacfwd {fwd:.3f} ms, jacrev {rev:.3f} ms -> {faster} {ratio:.1f}x faster")

fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6), layout="constrained", sharey=True)
for ax, shape in zip(axes, ("tall", "wide")):
    for name, style in (("jacfwd", "o-"), ("jacrev", "s--")):
        ax.loglog(long_sides, times[shape][name], style, label=name)
    label = "outputs $m$ ($n = 16$)" if shape == "tall" else "inputs $n$ ($m = 16$)"
    ax.set_xlabel(label)
    ax.set_title(f"{shape} Jacobian")
axes[0].set_ylabel("median time (ms)")
axes[0].legend()
plt.show()

# %%
# What to remember
# ----------------
#
# * JVP: input-shaped in, output-shaped out; VJP: the reverse. They are
#   adjoint: :math:`\langle v, Ju \rangle = \langle J^\top v, u\rangle`.
# * A full Jacobian costs :math:`\min(n, m)` products if you pick the mode
#   by its shape: ``jacfwd`` for tall, ``jacrev`` for wide (gradients of a
#   loss are the extreme wide case).
# * :func:`torch.autograd.functional.jvp` is reverse mode in disguise; for
#   true forward mode use :func:`torch.func.jvp` or ``forward_ad``.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`.
# Reference: :func:`torch.func.jvp`, :func:`torch.autograd.functional.jvp`,
# :func:`torch.autograd.forward_ad.make_dual`, :func:`torch.func.jacfwd`,
# :func:`torch.func.jacrev`.
