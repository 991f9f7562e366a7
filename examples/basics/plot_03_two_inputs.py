r"""
Partial derivatives with respect to two input tensors
=====================================================

A function takes two tensors :math:`x, y \in \mathbb{R}^N` and returns one
value per pair :math:`(x_n, y_n)`. Passing the inputs to
:func:`~torch.autograd.functional.vjp` as a tuple returns a tuple of VJPs,
one per input: here both partial derivatives at every point, from one call.
"""

# %%
# The maths
# ---------
#
# .. math::
#
#    f(x, y)_n = x_n y_n + \sin(x_n y_n^2), \qquad
#    f : \mathbb{R}^N \times \mathbb{R}^N \to \mathbb{R}^N.
#
# There is one Jacobian per input, :math:`J_x = \partial f / \partial x` and
# :math:`J_y = \partial f / \partial y`, each in
# :math:`\mathbb{R}^{N \times N}` and each diagonal, because output
# :math:`n` reads :math:`x_n` and :math:`y_n` only:
#
# .. math::
#
#    (J_x)_{nn} = y_n + y_n^2 \cos(x_n y_n^2), \qquad
#    (J_y)_{nn} = x_n + 2 x_n y_n \cos(x_n y_n^2).
#
# For inputs ``(x, y)`` the VJP returns :math:`(v^\top J_x,\; v^\top J_y)`,
# in the order of the inputs. With :math:`v = \mathbf{1}` and diagonal
# Jacobians, these are the two partial derivatives at every point.

# %%
# The function, its partial derivatives by hand, seeded inputs
# ------------------------------------------------------------

import matplotlib.pyplot as plt
import torch


def f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x * y + torch.sin(x * y**2)


def partials(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(df/dx, df/dy) at every point, derived by hand."""
    return (
        y + y**2 * torch.cos(x * y**2),
        x + 2 * x * y * torch.cos(x * y**2),
    )


N = 1000
generator = torch.Generator().manual_seed(0)
x = 2 * torch.rand(N, generator=generator, dtype=torch.float64) - 1
y = 2 * torch.rand(N, generator=generator, dtype=torch.float64) - 1
print("x:", tuple(x.shape), " y:", tuple(y.shape), x.dtype)

# %%
# One VJP, two results
# --------------------

v = torch.ones(N, dtype=torch.float64)  # shaped like f(x, y)
out, (vjp_x, vjp_y) = torch.autograd.functional.vjp(f, (x, y), v=v)

print("f(x, y):", tuple(out.shape), "  v^T J_x:", tuple(vjp_x.shape), "  v^T J_y:", tuple(vjp_y.shape))
print("v^T J_x[:4]:", vjp_x[:4])
print("v^T J_y[:4]:", vjp_y[:4])

# %%
# The checks
# ----------

df_dx, df_dy = partials(x, y)
print(f"max |v^T J_x - df/dx| = {(vjp_x - df_dx).abs().max().item():.1e}")
print(f"max |v^T J_y - df/dy| = {(vjp_y - df_dy).abs().max().item():.1e}")

# Same float64 formulas in a different order: agreement to rounding (1e-15);
# a wrong partial derivative is off by O(1).
torch.testing.assert_close(vjp_x, df_dx, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(vjp_y, df_dy, rtol=1e-12, atol=1e-12)

# %%
# The picture
# -----------
#
# Both partial derivatives over the whole square :math:`[-1, 1]^2`: the
# :math:`201^2` grid points go into one VJP as two flat tensors, and come out
# as two flat tensors of partials. They are checked too.

grid = torch.linspace(-1, 1, 201, dtype=torch.float64)
grid_x, grid_y = torch.meshgrid(grid, grid, indexing="xy")
flat_x, flat_y = grid_x.flatten(), grid_y.flatten()
_, (grid_vjp_x, grid_vjp_y) = torch.autograd.functional.vjp(
    f, (flat_x, flat_y), v=torch.ones_like(flat_x)
)
grid_df_dx, grid_df_dy = partials(flat_x, flat_y)
torch.testing.assert_close(grid_vjp_x, grid_df_dx, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(grid_vjp_y, grid_df_dy, rtol=1e-12, atol=1e-12)

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained", sharey=True)
for ax, values, name in zip(axes, (grid_vjp_x, grid_vjp_y), ("x", "y")):
    image = ax.pcolormesh(
        grid_x.numpy(), grid_y.numpy(), values.reshape(grid_x.shape).numpy(),
        cmap="RdBu_r", vmin=-2.5, vmax=2.5,
    )
    ax.set_title(rf"$\partial f / \partial {name}$ from $v^\top J_{name}$")
    ax.set_xlabel("$x$")
axes[0].set_ylabel("$y$")
fig.colorbar(image, ax=axes)
plt.show()

# %%
# What to remember
# ----------------
#
# * A tuple of inputs gives a tuple of VJPs, one per input, in the same order.
# * Each is :math:`v^\top J` for that input's Jacobian; with diagonal
#   Jacobians and :math:`v = \mathbf{1}`, each is a partial derivative at
#   every point.
#
# Next: :ref:`sphx_glr_auto_examples_basics_plot_04_batched_jacobian.py`, where
# each point has several outputs. Reference:
# :func:`torch.autograd.functional.vjp`.
