r"""
A batch of 3×2 Jacobians of a function of two tensors
=====================================================

The same kind of map as before, :math:`\mathbb{R}^2 \to \mathbb{R}^3` on
:math:`N` points, but with the two coordinates passed as two tensors
:math:`x, y \in \mathbb{R}^N`. Three one-hot VJPs each return a pair of
results, one per input tensor, which together fill the :math:`(N, 3, 2)`
batch of Jacobians column by column.
"""

# %%
# The maths
# ---------
#
# .. math::
#
#    f(x, y)_n = \begin{pmatrix} x_n y_n \\ \sin(x_n + y_n^2) \\
#    x_n^2 - 3 y_n \end{pmatrix},
#
#    J_n = \begin{pmatrix}
#    y_n & x_n \\
#    \cos(x_n + y_n^2) & 2 y_n \cos(x_n + y_n^2) \\
#    2 x_n & -3 \end{pmatrix}.
#
# The first column of :math:`J_n` holds the derivatives with respect to
# :math:`x_n`, the second those with respect to :math:`y_n`.
# The output is :math:`(N, 3)`. With two inputs there are two Jacobians,
# :math:`J^x, J^y \in \mathbb{R}^{N \times 3 \times N}`, both block-diagonal:
# :math:`J^x_{n,i,m} = \partial f_{n,i} / \partial x_m` is zero for
# :math:`m \neq n`. For :math:`v \in \mathbb{R}^{N \times 3}` the VJP returns
# the pair
#
# .. math::
#
#    \left(\sum_{i=1}^{3} v_{m,i} \frac{\partial f_{m,i}}{\partial x_m},\;
#    \sum_{i=1}^{3} v_{m,i} \frac{\partial f_{m,i}}{\partial y_m}\right),
#    \qquad m = 1, \dots, N,
#
# and the one-hot :math:`v^{(k)}` (ones in column :math:`k`) picks row
# :math:`k` of each :math:`J_n`: its :math:`x` entry from the first result,
# its :math:`y` entry from the second.

# %%
# The function, its Jacobian by hand, seeded inputs
# -------------------------------------------------

import matplotlib.pyplot as plt
import torch


def f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack((x * y, torch.sin(x + y**2), x**2 - 3 * y), dim=1)  # (N, 3)


def jacobian_by_hand(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """J[n] = d f_n / d(x_n, y_n), shape (N, 3, 2): column 0 is d/dx, column 1 d/dy."""
    c = torch.cos(x + y**2)
    rows = (
        torch.stack((y, x), dim=1),
        torch.stack((c, 2 * y * c), dim=1),
        torch.stack((2 * x, torch.full_like(y, -3.0)), dim=1),
    )
    return torch.stack(rows, dim=1)


def batched_jacobian(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The (N, 3, 2) Jacobians from three one-hot VJPs."""
    jacobians = torch.empty(x.shape[0], 3, 2, dtype=x.dtype)
    for k in range(3):
        v = torch.zeros(x.shape[0], 3, dtype=x.dtype)
        v[:, k] = 1.0
        _, (d_dx, d_dy) = torch.autograd.functional.vjp(f, (x, y), v=v)
        jacobians[:, k, 0] = d_dx
        jacobians[:, k, 1] = d_dy
    return jacobians


N = 1000
generator = torch.Generator().manual_seed(0)
x = 2 * torch.rand(N, generator=generator, dtype=torch.float64) - 1
y = 2 * torch.rand(N, generator=generator, dtype=torch.float64) - 1
print("x:", tuple(x.shape), " y:", tuple(y.shape), "  f(x, y):", tuple(f(x, y).shape))

# %%
# Three one-hot VJPs, two results each
# ------------------------------------

jacobians = batched_jacobian(x, y)
print("Jacobians:", tuple(jacobians.shape))
print("J[0] from VJPs =\n", jacobians[0])
print("J[0] by hand =\n", jacobian_by_hand(x, y)[0])

# %%
# The check
# ---------

expected = jacobian_by_hand(x, y)
max_error = (jacobians - expected).abs().max().item()
print(f"max |J_vjp - J_hand| = {max_error:.1e}")

# Same float64 formulas in a different order: agreement to rounding (1e-15);
# a wrong entry is off by O(1).
torch.testing.assert_close(jacobians, expected, rtol=1e-12, atol=1e-12)

# %%
# The picture
# -----------
#
# The six Jacobian entries as functions over the square :math:`[-1, 1]^2`,
# from the same three VJPs run on the :math:`101^2` grid points (and
# checked against the hand-derived Jacobian there too). Row :math:`k` of the
# figure came from the one-hot :math:`v^{(k)}`.

grid = torch.linspace(-1, 1, 101, dtype=torch.float64)
grid_x, grid_y = torch.meshgrid(grid, grid, indexing="xy")
grid_jacobians = batched_jacobian(grid_x.flatten(), grid_y.flatten())
torch.testing.assert_close(
    grid_jacobians, jacobian_by_hand(grid_x.flatten(), grid_y.flatten()), rtol=1e-12, atol=1e-12
)

fig, axes = plt.subplots(3, 2, figsize=(6, 7.2), layout="constrained", sharex=True, sharey=True)
for k in range(3):
    for j, name in enumerate(("x", "y")):
        image = axes[k, j].pcolormesh(
            grid_x.numpy(), grid_y.numpy(), grid_jacobians[:, k, j].reshape(grid_x.shape).numpy(),
            cmap="RdBu_r", vmin=-3, vmax=3,
        )
        axes[k, j].set_title(rf"$\partial f_{k + 1} / \partial {name}$", fontsize=10)
for ax in axes[-1]:
    ax.set_xlabel("$x$")
for ax in axes[:, 0]:
    ax.set_ylabel("$y$")
fig.colorbar(image, ax=axes, shrink=0.6)
plt.show()

# %%
# What to remember
# ----------------
#
# * With a tuple of inputs, each VJP returns one result per input; with a
#   one-hot :math:`v`, the results are the entries of one Jacobian row, per
#   input.
# * Assemble the batch of Jacobians as ``J[:, k, j]`` = result ``j`` of VJP
#   ``k``.
#
# Back to the start: :ref:`sphx_glr_auto_examples_basics_plot_01_elementwise_derivative.py`.
# Reference: :func:`torch.autograd.functional.vjp`.
