r"""
A tuple of inputs gives a tuple of VJPs
=======================================

A function takes two tensors :math:`x, y \in \mathbb{R}^N` and returns one
value per pair :math:`(x_n, y_n)`. Passed the inputs as a tuple,
:func:`~torch.autograd.functional.vjp` returns a tuple of VJPs, one per
input and shaped like it, while :math:`v` stays a single tensor shaped like
the output. Where do the two results come from, and how do they fit
together?
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
# Read the pair :math:`(x, y)` as one input of :math:`2N` numbers. Its
# Jacobian is the two per-input Jacobians side by side,
#
# .. math::
#
#    J = \begin{pmatrix} J_x & J_y \end{pmatrix} \in \mathbb{R}^{N \times 2N},
#    \qquad J_x = \frac{\partial f}{\partial x},\;
#    J_y = \frac{\partial f}{\partial y} \in \mathbb{R}^{N \times N},
#
# and a VJP multiplies it from the left by one :math:`v` shaped like the
# output, :math:`v \in \mathbb{R}^N`. The product splits where the inputs
# meet:
#
# .. math::
#
#    v^\top \begin{pmatrix} J_x & J_y \end{pmatrix}
#    = \begin{pmatrix} v^\top J_x & v^\top J_y \end{pmatrix},
#
# and ``vjp`` hands back the two pieces as a tuple, in the order of the
# inputs: :math:`v^\top J_x` shaped like :math:`x`, :math:`v^\top J_y`
# shaped like :math:`y`. So :math:`v` mirrors the output (one tensor,
# because :math:`f` returns one), and the result mirrors the inputs.
#
# Here both blocks are diagonal, because output :math:`n` reads
# :math:`x_n` and :math:`y_n` only:
#
# .. math::
#
#    (J_x)_{nn} = y_n + y_n^2 \cos(x_n y_n^2), \qquad
#    (J_y)_{nn} = x_n + 2 x_n y_n \cos(x_n y_n^2),
#
# so :math:`v = \mathbf{1}` gives both partial derivatives at every point.

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
        # sphinx_gallery_break = ("2 * ", "")
        x + 2 * x * y * torch.cos(x * y**2),
    )


N = 1000
generator = torch.Generator().manual_seed(0)
x = 2 * torch.rand(N, generator=generator, dtype=torch.float64) - 1
y = 2 * torch.rand(N, generator=generator, dtype=torch.float64) - 1
print("x:", tuple(x.shape), " y:", tuple(y.shape), x.dtype)

# %%
# One VJP, a tuple back
# ---------------------
#
# The call returns ``(output, vjps)``; ``vjps`` is a tuple with one entry
# per input.

v = torch.ones(N, dtype=torch.float64)  # shaped like f(x, y)
out, vjps = torch.autograd.functional.vjp(f, (x, y), v=v)

print("vjps:", type(vjps).__name__, "of", len(vjps))
assert isinstance(vjps, tuple) and len(vjps) == 2, "one VJP per input"
vjp_x, vjp_y = vjps
assert vjp_x.shape == x.shape and vjp_y.shape == y.shape, (
    "each VJP is shaped like its input"
)
print(
    "f(x, y):",
    tuple(out.shape),
    "  v^T J_x:",
    tuple(vjp_x.shape),
    "  v^T J_y:",
    tuple(vjp_y.shape),
)
print("v^T J_x[:4]:", vjp_x[:4])
print("v^T J_y[:4]:", vjp_y[:4])

# %%
# The checks
# ----------

expected = partials(x, y)  # (df/dx, df/dy), a tuple like vjps
print(f"max |v^T J_x - df/dx| = {(vjp_x - expected[0]).abs().max().item():.1e}")
print(f"max |v^T J_y - df/dy| = {(vjp_y - expected[1]).abs().max().item():.1e}")

# The same terms (one shared cos(x y^2)) in another order: a few float64 roundings
# of terms adding up to less than 3, ~1e-15; a wrong partial derivative is off by O(1).
# assert_close compares the two tuples entry by entry.
torch.testing.assert_close(vjps, expected, rtol=1e-12, atol=1e-12)

# %%
# The tuple is one VJP, cut in two
# --------------------------------
#
# On six points, with a random :math:`v` this time: the two Jacobians from
# :func:`torch.autograd.functional.jacobian` (which also returns one per
# input) put side by side, multiplied by :math:`v`, give the two VJPs joined
# end to end.

few = 6
x_few, y_few = x[:few], y[:few]
v_few = torch.randn(few, generator=generator, dtype=torch.float64)
jac_x, jac_y = torch.autograd.functional.jacobian(f, (x_few, y_few))  # (6, 6) each
jac_pair = torch.cat((jac_x, jac_y), dim=1)  # (6, 12): [J_x  J_y]
_, (vjp_x_few, vjp_y_few) = torch.autograd.functional.vjp(f, (x_few, y_few), v=v_few)

print("[J_x  J_y]:", tuple(jac_pair.shape), "  v:", tuple(v_few.shape))
vjp_pair = torch.cat((vjp_x_few, vjp_y_few))
pair_error = (vjp_pair - v_few @ jac_pair).abs().max().item()
print(f"max |(v^T J_x, v^T J_y) - v^T [J_x  J_y]| = {pair_error:.1e}")
# v @ [J_x J_y] is one v_n J_nn per column plus exact zeros; the VJP has the same terms
# (below 2, as |v_n| < 0.7) in another order: ~1e-15. A swapped or missing block is off
# by O(1).
torch.testing.assert_close(vjp_pair, v_few @ jac_pair, rtol=1e-12, atol=1e-12)
for name, jac in (("J_x", jac_x), ("J_y", jac_y)):
    off_diagonal = jac - torch.diag(jac.diagonal())
    # Exact zeros on any machine: the zeros of each one-hot v times finite partials, and
    # J_nn - J_nn.
    assert torch.count_nonzero(off_diagonal) == 0, f"{name} should be diagonal"
print("J_x and J_y are diagonal; v^T J_x = v * df/dx, v^T J_y = v * df/dy")

# %%
# One input: a tensor, not a tuple
# --------------------------------
#
# The tuple follows how the inputs were passed, not how many there are: a
# single tensor gives a tensor back, a one-element tuple gives a one-element
# tuple.


def f_of_x(x: torch.Tensor) -> torch.Tensor:
    return f(x, y)


_, from_tensor = torch.autograd.functional.vjp(f_of_x, x, v=v)
_, from_tuple = torch.autograd.functional.vjp(f_of_x, (x,), v=v)
print("input x    ->", type(from_tensor).__name__)
print("input (x,) ->", type(from_tuple).__name__, "of", len(from_tuple))
assert (
    isinstance(from_tensor, torch.Tensor)
    and isinstance(from_tuple, tuple)
    and len(from_tuple) == 1
)
# The same operations on the same numbers for x (y's gradient, computed or not, never
# enters x's), so bit-for-bit equal on any one machine.
torch.testing.assert_close(from_tuple[0], vjp_x, rtol=0, atol=0)

# %%
# The picture
# -----------
#
# The six-point product drawn as it is computed: :math:`v` (left) times the
# joint Jacobian :math:`(J_x \; J_y)` (top) gives one row (bottom). The
# line that separates the two inputs' blocks also separates the two results
# of the tuple.

limit = max(
    jac_pair.abs().max().item(), vjp_pair.abs().max().item(), v_few.abs().max().item()
)
colours = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
fig, axes = plt.subplots(
    2,
    2,
    figsize=(7.2, 4.4),
    layout="constrained",
    gridspec_kw={"width_ratios": [1, 2 * few], "height_ratios": [few, 1]},
)
drawn = {(0, 0): v_few[:, None], (0, 1): jac_pair, (1, 1): vjp_pair[None, :]}
for (row, col), values in drawn.items():
    ax = axes[row, col]
    image = ax.imshow(values.numpy(), **colours)
    for (i, j), value in zip(
        torch.cartesian_prod(*map(torch.arange, values.shape)).tolist(),
        values.flatten(),
    ):
        if value != 0:
            colour = "white" if abs(value) > 0.6 * limit else "black"
            label = f"{value:.2f}"
            ax.text(j, i, label, ha="center", va="center", fontsize=8.5, color=colour)
    ax.set_xticks([])
    ax.set_yticks([])
for ax in (axes[0, 1], axes[1, 1]):
    ax.axvline(few - 0.5, color="black", lw=2)
axes[0, 0].set_title("$v$", fontsize=10)
top, bottom = axes[0, 1].get_xaxis_transform(), axes[1, 1].get_xaxis_transform()
for centre, block, result in (
    (few / 2 - 0.5, "J_x", r"v^\top J_x"),
    (1.5 * few - 0.5, "J_y", r"v^\top J_y"),
):
    axes[0, 1].text(
        centre, 1.03, f"${block}$", transform=top, ha="center", va="bottom", fontsize=10
    )
    axes[1, 1].text(
        centre,
        -0.15,
        f"${result}$",
        transform=bottom,
        ha="center",
        va="top",
        fontsize=10,
    )
axes[1, 0].axis("off")
fig.colorbar(image, ax=axes[:, 1], shrink=0.8)
fig.suptitle(r"$v^\top (J_x \; J_y)$: one product, returned as a pair", fontsize=11)
plt.show()

# %%
# What to remember
# ----------------
#
# * A tuple of inputs gives a tuple of VJPs, one per input, in the same
#   order, each shaped like its input; a single tensor gives a tensor.
# * :math:`v` is shaped like the output, whatever the inputs are: the tuple
#   is the one product :math:`v^\top (J_x \; J_y)` cut at the boundary
#   between the inputs.
# * With diagonal Jacobians and :math:`v = \mathbf{1}`, each entry of the
#   tuple is a partial derivative at every point.
#
# Next: :ref:`sphx_glr_auto_examples_basics_plot_04_batched_jacobian.py`, where
# each point has several outputs. Reference:
# :func:`torch.autograd.functional.vjp`,
# :func:`torch.autograd.functional.jacobian`.
