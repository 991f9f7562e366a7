r"""
A batch of 3×2 Jacobians assembled from two inputs' blocks
==========================================================

The map of the previous page, :math:`\mathbb{R}^2 \to \mathbb{R}^3` on
:math:`N` points, with the two coordinates passed as two tensors
:math:`x, y \in \mathbb{R}^N`. Autograd then answers per input: one block of
derivatives for :math:`x`, one for :math:`y`. This page shows how the two
blocks make up the :math:`(N, 3, 2)` batch of Jacobians, builds them with
three one-hot VJPs and checks them against
:func:`torch.func.jacrev` with ``argnums=(0, 1)``.
"""

# %%
# The maths
# ---------
#
# .. math::
#
#    f(x, y)_n = \begin{pmatrix} x_n y_n \\ \sin(x_n + y_n^2) \\
#    x_n^2 - 3 y_n \end{pmatrix},
#    \qquad
#    J_n = \frac{\partial f_n}{\partial (x_n, y_n)} = \begin{pmatrix}
#    y_n & x_n \\
#    \cos(x_n + y_n^2) & 2 y_n \cos(x_n + y_n^2) \\
#    2 x_n & -3 \end{pmatrix}.
#
# With two input tensors, autograd has one Jacobian per input,
# :math:`\partial f / \partial x` and :math:`\partial f / \partial y`, each
# in :math:`\mathbb{R}^{N \times 3 \times N}` and each block-diagonal with
# :math:`3 \times 1` blocks (output :math:`n` reads :math:`x_n` and
# :math:`y_n` only). Keep the diagonal blocks and call them
# :math:`B^x, B^y \in \mathbb{R}^{N \times 3}`:
#
# .. math::
#
#    B^x_{n,i} = \frac{\partial f_{n,i}}{\partial x_n}, \qquad
#    B^y_{n,i} = \frac{\partial f_{n,i}}{\partial y_n}.
#
# They are the two columns of every :math:`J_n`, so the batch of Jacobians
# is the two blocks stacked along a new last axis,
#
# .. math::
#
#    J_{n,i,0} = B^x_{n,i}, \qquad J_{n,i,1} = B^y_{n,i}, \qquad
#    J \in \mathbb{R}^{N \times 3 \times 2}.
#
# Two ways fill the blocks. **By rows**: the one-hot
# :math:`v^{(k)} \in \mathbb{R}^{N \times 3}` (ones in column :math:`k`)
# returns the pair :math:`(B^x_{:,k}, B^y_{:,k})`, row :math:`k` of every
# :math:`J_n` split per input; three VJPs give all of both blocks. **By
# points**: ``jacrev(f, argnums=(0, 1))`` at one point :math:`(x_n, y_n)`
# returns the pair :math:`(B^x_{n,:}, B^y_{n,:})`, and
# :func:`torch.func.vmap` runs it over all :math:`N` points.

# %%
# The function, its Jacobian by hand, seeded inputs
# -------------------------------------------------
#
# ``f`` stacks along the last axis, so the same code takes a batch
# (``x`` of shape ``(N,)``, output ``(N, 3)``) or one point (scalars, output
# ``(3,)``), as :func:`torch.func.vmap` will need.

import matplotlib.pyplot as plt
import torch


def f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack((x * y, torch.sin(x + y**2), x**2 - 3 * y), dim=-1)


def jacobian_by_hand(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """J[n] = d f_n / d(x_n, y_n), shape (N, 3, 2): column 0 is d/dx, column 1 d/dy."""
    c = torch.cos(x + y**2)
    rows = (
        torch.stack((y, x), dim=1),
        # sphinx_gallery_break = ("2 * ", "")
        torch.stack((c, 2 * y * c), dim=1),
        torch.stack((2 * x, torch.full_like(y, -3.0)), dim=1),
    )
    return torch.stack(rows, dim=1)


N = 1000
generator = torch.Generator().manual_seed(0)
x = 2 * torch.rand(N, generator=generator, dtype=torch.float64) - 1
y = 2 * torch.rand(N, generator=generator, dtype=torch.float64) - 1
print("x:", tuple(x.shape), " y:", tuple(y.shape), "  f(x, y):", tuple(f(x, y).shape))

# %%
# The blocks by rows: three one-hot VJPs
# --------------------------------------
#
# VJP :math:`k` returns a pair; its first entry is column :math:`k` of
# :math:`B^x`, its second column :math:`k` of :math:`B^y`.

blocks_x = torch.empty(N, 3, dtype=torch.float64)
blocks_y = torch.empty(N, 3, dtype=torch.float64)
for k in range(3):
    v = torch.zeros(N, 3, dtype=torch.float64)
    v[:, k] = 1.0
    _, (blocks_x[:, k], blocks_y[:, k]) = torch.autograd.functional.vjp(f, (x, y), v=v)

# J[n, i, 0] = B^x[n, i], J[n, i, 1] = B^y[n, i]
jacobians = torch.stack((blocks_x, blocks_y), dim=-1)
print("B^x:", tuple(blocks_x.shape), "  B^y:", tuple(blocks_y.shape))
print("Jacobians:", tuple(jacobians.shape))
print("J[0] assembled =\n", jacobians[0])
print("J[0] by hand =\n", jacobian_by_hand(x, y)[0])

# %%
# The checks
# ----------

expected = jacobian_by_hand(x, y)
max_error = (jacobians - expected).abs().max().item()
print(f"max |J from VJPs - J by hand| = {max_error:.1e}")

# Each entry is y, x, 2x, -3, or the same cos(x + y^2) times 1 or 2y, in another order,
# plus exact zeros: a few eps (2.2e-16) of entries at most 3 in magnitude. A wrong
# entry, or the blocks swapped, is off by O(1).
torch.testing.assert_close(jacobians, expected, rtol=1e-12, atol=1e-12)

# %%
# The blocks by points: ``jacrev`` with ``argnums=(0, 1)``
# --------------------------------------------------------
#
# At one point, ``jacrev(f, argnums=(0, 1))`` returns one derivative per
# input, each of shape ``(3,)``; ``vmap`` over the points gives the two
# blocks at once.

per_input_jacobians = torch.func.jacrev(f, argnums=(0, 1))
one_point = per_input_jacobians(x[0], y[0])
print("at one point:", [tuple(block.shape) for block in one_point])
jacrev_x, jacrev_y = torch.func.vmap(per_input_jacobians)(x, y)
print("vmapped:", tuple(jacrev_x.shape), tuple(jacrev_y.shape))
jacrev_error = max(
    (blocks_x - jacrev_x).abs().max().item(), (blocks_y - jacrev_y).abs().max().item()
)
print(f"max |B_vjp - B_jacrev| = {jacrev_error:.1e}")
# vmap runs other kernels than the loop of VJPs, but each entry is still the same few
# products of entries at most 3 in magnitude, plus exact zeros: within a few eps
# (2.2e-16).
torch.testing.assert_close(jacrev_x, blocks_x, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(jacrev_y, blocks_y, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(
    torch.stack((jacrev_x, jacrev_y), dim=-1), expected, rtol=1e-12, atol=1e-12
)

# %%
# Without ``vmap``, ``jacrev`` of the batched function returns the two full
# per-input Jacobians, :math:`(N, 3, N)` each: block-diagonal, with
# :math:`B^x` and :math:`B^y` on the diagonal (four points here, since the
# full tensors grow as :math:`N^2`).

few = 4
full_x, full_y = torch.func.jacrev(f, argnums=(0, 1))(x[:few], y[:few])
print("full per-input Jacobians:", tuple(full_x.shape), tuple(full_y.shape))
for full, blocks in ((full_x, blocks_x), (full_y, blocks_y)):
    diagonal = full.diagonal(dim1=0, dim2=2).T  # full[n, :, n] for each n
    # The same few products of entries at most 3 in magnitude, in another order (a few
    # eps apart); off the diagonal blocks, the one-hot v's zeros times finite partials:
    # exact zeros on any machine.
    torch.testing.assert_close(diagonal, blocks[:few], rtol=1e-12, atol=1e-12)
    assert torch.count_nonzero(full) == torch.count_nonzero(diagonal), (
        "zero off the diagonal blocks"
    )
print("their diagonal blocks are B^x and B^y; everything else is zero")

# %%
# The picture
# -----------
#
# The assembly for the first four points. Top: the blocks, one column per
# point (column :math:`n` is :math:`B^x_{n,:}` or :math:`B^y_{n,:}`; row
# :math:`k` came from the one-hot :math:`v^{(k)}`). Bottom: the assembled
# :math:`J_n`, each a :math:`3 \times 2` block whose left column is taken
# from :math:`B^x` and right column from :math:`B^y`.

shown = {
    r"$B^x$: $\partial f_n / \partial x_n$": blocks_x[:few].T,  # (3, 4)
    r"$B^y$: $\partial f_n / \partial y_n$": blocks_y[:few].T,
    # (3, 8)
    r"$J_n = (B^x_n \;\; B^y_n)$": jacobians[:few].permute(1, 0, 2).reshape(3, 2 * few),
}
fig, axes = plt.subplot_mosaic(
    [["bx", "by"], ["j", "j"]], figsize=(7.2, 5.4), layout="constrained"
)
axes = [axes["bx"], axes["by"], axes["j"]]
for ax, (title, values) in zip(axes, shown.items()):
    image = ax.imshow(values.numpy(), cmap="RdBu_r", vmin=-3.2, vmax=3.2)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            value = values[i, j].item()
            colour = "white" if abs(value) > 2 else "black"
            label = f"{value:.2f}"
            ax.text(j, i, label, ha="center", va="center", fontsize=8.5, color=colour)
    ax.set_title(title, fontsize=10)
    ax.set_yticks(range(3), [f"$f_{i + 1}$" for i in range(3)])
axes[0].set_xticks(range(few), [f"n={n}" for n in range(few)])
axes[1].set_xticks(range(few), [f"n={n}" for n in range(few)])
axes[2].set_xticks(
    range(2 * few),
    [f"n={n}\n{'xy'[j]}" for n in range(few) for j in range(2)],
    fontsize=9,
)
for edge in range(1, few):
    axes[2].axvline(2 * edge - 0.5, color="black", lw=1.5)
fig.colorbar(image, ax=axes, shrink=0.8)
fig.suptitle(
    "each $J_n$: its $x$ column from $B^x$, its $y$ column from $B^y$", fontsize=11
)
plt.show()

# %%
# What to remember
# ----------------
#
# * With two input tensors, every derivative comes per input: a pair of
#   results from each VJP, a pair from ``jacrev(..., argnums=(0, 1))``.
# * For a batch of independent points, each input's part is an
#   :math:`(N, 3)` block :math:`B`; the batch of Jacobians is
#   ``torch.stack((B_x, B_y), dim=-1)``, of shape :math:`(N, 3, 2)`.
# * One-hot VJPs fill the blocks by rows (three VJPs, one per output
#   component); ``vmap(jacrev(f, argnums=(0, 1)))`` fills them by points.
#
# Next: :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`.
# Reference: :func:`torch.autograd.functional.vjp`, :func:`torch.func.jacrev`,
# :func:`torch.func.vmap`.
