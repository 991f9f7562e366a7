r"""
Input gradients of every sample in one VJP
==========================================

A function maps each of :math:`N` points :math:`(a_n, b_n)` to one number. One
VJP with :math:`v = \mathbf{1}` returns the gradient of every point's output
with respect to that point alone: an :math:`(N, 2)` array, one input gradient
per sample. Why does one product give :math:`N` separate gradients?
"""

# %%
# The maths
# ---------
#
# The input is :math:`x \in \mathbb{R}^{N \times 2}` with rows
# :math:`x_n = (a_n, b_n)`; the output is :math:`y \in \mathbb{R}^N` with
#
# .. math::
#
#    y_n = f(x_n) = a_n b_n + \sin(a_n b_n^2).
#
# The Jacobian has one entry per output and per input entry,
# :math:`J \in \mathbb{R}^{N \times N \times 2}`, and it is block-diagonal
# across the batch: output :math:`n` reads row :math:`n` only, so
#
# .. math::
#
#    J_{n,m,k} = \frac{\partial y_n}{\partial x_{m,k}} = 0
#    \quad \text{for } m \neq n,
#    \qquad
#    \nabla f(x_n) = \begin{pmatrix} b_n + b_n^2 \cos(a_n b_n^2) \\
#    a_n + 2 a_n b_n \cos(a_n b_n^2) \end{pmatrix}.
#
# With :math:`v \in \mathbb{R}^N` the VJP is
#
# .. math::
#
#    (v^\top J)_{m,k} = \sum_{n=1}^{N} v_n J_{n,m,k} = v_m \,
#    \frac{\partial y_m}{\partial x_{m,k}},
#
# so :math:`v = \mathbf{1}` gives row :math:`m` the gradient of
# :math:`y_m` alone. Another reading of the same fact: :math:`\mathbf{1}^\top J`
# is the gradient of :math:`\sum_n y_n`, and since the terms of that sum share
# no inputs, its gradient splits into one gradient per sample. Anything in
# :math:`f` that couples the samples (a mean over the batch, a batch
# normalisation) adds to row :math:`m` the derivatives of the other samples'
# outputs with respect to :math:`x_m`:
# :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`
# shows it.
#
# These are gradients with respect to the **inputs**. In machine learning,
# "per-sample gradients" usually means gradients of each sample's loss with
# respect to the **parameters** of a model, which all samples share: another
# computation, the subject of
# :ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`.

# %%
# The function, its gradient by hand, a seeded batch
# --------------------------------------------------

import matplotlib.pyplot as plt
import torch


def f(x: torch.Tensor) -> torch.Tensor:
    a, b = x[:, 0], x[:, 1]
    return a * b + torch.sin(a * b**2)


def grad_f(x: torch.Tensor) -> torch.Tensor:
    """Per-sample gradient (N, 2), derived by hand."""
    a, b = x[:, 0], x[:, 1]
    return torch.stack(
        # sphinx_gallery_break = (" 2 * ", " ")
        (b + b**2 * torch.cos(a * b**2), a + 2 * a * b * torch.cos(a * b**2)),
        dim=1,
    )


N = 1000
generator = torch.Generator().manual_seed(0)
x = 2 * torch.rand(N, 2, generator=generator, dtype=torch.float64) - 1
print("x:", tuple(x.shape), x.dtype)
print("x[:3] =\n", x[:3])

# %%
# One VJP
# -------
#
# ``v`` has the shape of ``f(x)``, here ``(N,)``; the result has the shape of
# ``x``.

v = torch.ones(N, dtype=torch.float64)
y, input_grad = torch.autograd.functional.vjp(f, x, v=v)

print("f(x):", tuple(y.shape), "  v^T J:", tuple(input_grad.shape))
print("v^T J[:3] =\n", input_grad[:3])
print("by hand[:3] =\n", grad_f(x)[:3])

# %%
# The checks
# ----------
#
# Against the hand-derived gradient, and against the gradient of the sum,
# which is the same product written another way.

expected = grad_f(x)
max_error = (input_grad - expected).abs().max().item()
print(f"max |v^T J - grad f| = {max_error:.1e}")

# The same terms (one shared cos(a b^2)) in another order: a few float64
# roundings of terms adding up to less than 3, ~1e-15; a wrong gradient is off by O(1).
torch.testing.assert_close(input_grad, expected, rtol=1e-12, atol=1e-12)

x_leaf = x.clone().requires_grad_()
(grad_of_sum,) = torch.autograd.grad(f(x_leaf).sum(), x_leaf)
print(
    "max |v^T J - grad of sum(f(x))| = "
    f"{(input_grad - grad_of_sum).abs().max().item():.1e}"
)
# The same backward pass (the sum's backward hands it the same ones as v), the
# same operations on the same numbers: bit-for-bit equal on any one machine.
torch.testing.assert_close(input_grad, grad_of_sum, rtol=0, atol=0)

# %%
# The picture
# -----------
#
# :math:`f` over the square, and the input gradients of 150 of the points as
# arrows: each arrow is one row of the single VJP's result.

grid = torch.linspace(-1, 1, 201, dtype=torch.float64)
grid_a, grid_b = torch.meshgrid(grid, grid, indexing="xy")
f_on_grid = f(torch.stack((grid_a.flatten(), grid_b.flatten()), dim=1)).reshape(
    grid_a.shape
)

fig, ax = plt.subplots(figsize=(5.2, 4.4), layout="constrained")
contours = ax.contourf(
    grid_a.numpy(), grid_b.numpy(), f_on_grid.numpy(), levels=20, cmap="viridis"
)
fig.colorbar(contours, ax=ax, label="$f(a, b)$")
shown = slice(0, 150)
ax.quiver(
    x[shown, 0].numpy(),
    x[shown, 1].numpy(),
    input_grad[shown, 0].numpy(),
    input_grad[shown, 1].numpy(),
    color="white",
    scale=30,
    width=0.004,
)
ax.set_xlabel("$a$")
ax.set_ylabel("$b$")
ax.set_title(
    r"input gradients of 150 samples from one VJP, $v = \mathbf{1}$", fontsize=10
)
plt.show()

# %%
# What to remember
# ----------------
#
# * :math:`v = \mathbf{1}` computes the gradient of the sum of the outputs;
#   it splits into one input gradient per sample because the Jacobian is
#   block-diagonal across the batch, with one output per sample.
# * Anything in :math:`f` that mixes samples adds the other samples'
#   derivatives to each row:
#   :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`.
# * Per-sample gradients with respect to shared parameters are another
#   computation:
#   :ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`.
#
# Next: :ref:`sphx_glr_auto_examples_basics_plot_03_two_inputs.py`. Reference:
# :func:`torch.autograd.functional.vjp`, :func:`torch.autograd.grad`.
