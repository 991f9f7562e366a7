r"""
A batch of 3×2 Jacobians from three one-hot VJPs
================================================

A map from :math:`\mathbb{R}^2` to :math:`\mathbb{R}^3` applied to :math:`N`
points has one :math:`3 \times 2` Jacobian per point. A VJP returns one
weighted sum of Jacobian rows per point, so three VJPs, each selecting one
output component, assemble the :math:`(N, 3, 2)` batch of Jacobians. This
page shows why the one-hot :math:`v` selects a row, and what
:math:`v = \mathbf{1}` would give instead.
"""

# %%
# The maths
# ---------
#
# For a point :math:`x_n = (a_n, b_n)`,
#
# .. math::
#
#    f(x_n) = \begin{pmatrix} a_n b_n \\ \sin(a_n + b_n^2) \\ a_n^2 - 3 b_n
#    \end{pmatrix},
#
#    J_n = \frac{\partial f(x_n)}{\partial x_n} = \begin{pmatrix}
#    b_n & a_n \\
#    \cos(a_n + b_n^2) & 2 b_n \cos(a_n + b_n^2) \\
#    2 a_n & -3 \end{pmatrix} \in \mathbb{R}^{3 \times 2}.
#
# Over the batch, :math:`x \in \mathbb{R}^{N \times 2}`,
# :math:`y \in \mathbb{R}^{N \times 3}`, and the full Jacobian
# :math:`J \in \mathbb{R}^{N \times 3 \times N \times 2}` is block-diagonal:
# :math:`J_{n,i,m,j} = (J_n)_{ij}` when :math:`m = n` and 0 otherwise. For
# :math:`v \in \mathbb{R}^{N \times 3}`,
#
# .. math::
#
#    (v^\top J)_{m,j} = \sum_{n=1}^{N} \sum_{i=1}^{3} v_{n,i} J_{n,i,m,j}
#    = \sum_{i=1}^{3} v_{m,i} \, (J_m)_{ij}.
#
# The one-hot :math:`v^{(k)}`, with :math:`v^{(k)}_{n,i} = 1` if
# :math:`i = k` and 0 otherwise, keeps the single term :math:`i = k`: row
# :math:`k` of every :math:`J_m` at once. Three VJPs give the three rows. The
# all-ones :math:`v` would instead return :math:`\sum_i (J_m)_{ij}`, the
# column sums of each :math:`J_m`, which is the gradient of
# :math:`y_1 + y_2 + y_3`, not a Jacobian.

# %%
# The function, its Jacobian by hand, a seeded batch
# --------------------------------------------------

import matplotlib.pyplot as plt
import torch


def f(x: torch.Tensor) -> torch.Tensor:
    a, b = x[:, 0], x[:, 1]
    return torch.stack((a * b, torch.sin(a + b**2), a**2 - 3 * b), dim=1)  # (N, 3)


def jacobian_by_hand(x: torch.Tensor) -> torch.Tensor:
    """The batch of Jacobians J[n] = d f(x_n) / d x_n, shape (N, 3, 2)."""
    a, b = x[:, 0], x[:, 1]
    c = torch.cos(a + b**2)
    rows = (
        torch.stack((b, a), dim=1),
        # sphinx_gallery_break = ("2 * ", "")
        torch.stack((c, 2 * b * c), dim=1),
        torch.stack((2 * a, torch.full_like(b, -3.0)), dim=1),
    )
    return torch.stack(rows, dim=1)


N = 1000
generator = torch.Generator().manual_seed(0)
x = 2 * torch.rand(N, 2, generator=generator, dtype=torch.float64) - 1
print("x:", tuple(x.shape), "  f(x):", tuple(f(x).shape))

# %%
# Three one-hot VJPs
# ------------------
#
# Each ``v`` has the shape of ``f(x)``, ``(N, 3)``, with ones in column
# ``k``; each result has the shape of ``x``, ``(N, 2)``, and is row ``k`` of
# every point's Jacobian.

jacobians = torch.empty(N, 3, 2, dtype=torch.float64)
for k in range(3):
    v = torch.zeros(N, 3, dtype=torch.float64)
    v[:, k] = 1.0
    _, jac_row = torch.autograd.functional.vjp(f, x, v=v)
    jacobians[:, k, :] = jac_row

print("Jacobians:", tuple(jacobians.shape))
print("J[0] from VJPs =\n", jacobians[0])
print("J[0] by hand =\n", jacobian_by_hand(x)[0])

# %%
# The checks
# ----------

expected = jacobian_by_hand(x)
max_error = (jacobians - expected).abs().max().item()
print(f"max |J from VJPs - J by hand| = {max_error:.1e}")

# Each entry is b, a, 2a, -3, or the same cos(a + b^2) times 1 or 2b, in another order,
# plus exact zeros: a few eps (2.2e-16) of entries at most 3 in magnitude. A wrong entry
# is off by O(1).
torch.testing.assert_close(jacobians, expected, rtol=1e-12, atol=1e-12)

# %%
# And what :math:`v = \mathbf{1}` returns: the column sums of every
# :math:`J_n`, shape ``(N, 2)``, not the Jacobian.

_, with_ones = torch.autograd.functional.vjp(
    f, x, v=torch.ones(N, 3, dtype=torch.float64)
)
# Sums of three matching entries (a few eps apart, sizes adding up to < 6) in any order:
# ~1e-15.
torch.testing.assert_close(with_ones, expected.sum(dim=1), rtol=1e-12, atol=1e-12)
print("v = 1 gives the column sums of J[n]:", tuple(with_ones.shape))
print("at n = 0:", with_ones[0])

# %%
# The block structure
# -------------------
#
# For four points, the full Jacobian, computed with
# :func:`torch.autograd.functional.jacobian`, shape ``(4, 3, 4, 2)``: the
# :math:`3 \times 2` blocks on the diagonal are the :math:`J_n`; everything
# else is exactly zero. That zero pattern is what lets one VJP serve all
# points.

few = x[:4]
full = torch.autograd.functional.jacobian(f, few)  # (4, 3, 4, 2)
print("full Jacobian:", tuple(full.shape))
for n in range(4):
    for m in range(4):
        block = full[n, :, m, :]
        if n == m:
            # The same few products of entries at most 3 in magnitude, in another
            # order: within a few eps (2.2e-16).
            torch.testing.assert_close(block, expected[n], rtol=1e-12, atol=1e-12)
        else:
            # Exact zeros on any machine: the zeros of each one-hot v times finite
            # partials.
            assert torch.count_nonzero(block) == 0, f"block ({n}, {m}) is not zero"
print("off-diagonal blocks: all zero; diagonal blocks: equal to J[n]")

# %%
# The picture
# -----------
#
# The full Jacobian of the four points drawn as a :math:`12 \times 8`
# matrix: block-diagonal, one :math:`3 \times 2` block per point.

fig, ax = plt.subplots(figsize=(4.6, 5.2), layout="constrained")
image = ax.imshow(full.reshape(12, 8).numpy(), cmap="RdBu_r", vmin=-3.2, vmax=3.2)
for edge in range(1, 4):
    ax.axhline(3 * edge - 0.5, color="0.5", lw=0.8)
    ax.axvline(2 * edge - 0.5, color="0.5", lw=0.8)
ax.set_xticks(
    range(8), [f"x{m},{'ab'[j]}" for m in range(4) for j in range(2)], rotation=90
)
ax.set_yticks(range(12), [f"y{n},{i + 1}" for n in range(4) for i in range(3)])
ax.set_title("full Jacobian of 4 points:\nblock-diagonal")
fig.colorbar(image, ax=ax, shrink=0.7)
plt.show()

# %%
# What to remember
# ----------------
#
# * A one-hot :math:`v` selects one output component; with a block-diagonal
#   Jacobian, one VJP returns that row of every sample's Jacobian.
# * The number of VJPs is the number of output components per sample (3
#   here), not the batch size.
# * :math:`v = \mathbf{1}` returns column sums, silently.
#
# Next: :ref:`sphx_glr_auto_examples_basics_plot_05_batched_jacobian_two_inputs.py`.
# Reference: :func:`torch.autograd.functional.vjp`,
# :func:`torch.autograd.functional.jacobian`.
