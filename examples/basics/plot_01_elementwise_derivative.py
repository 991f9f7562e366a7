r"""
The derivative of an elementwise function on a grid
===================================================

For :math:`f(x) = x^2 + \sin(x^2)` applied to each of :math:`N` grid points,
one vector-Jacobian product (VJP) with :math:`v = \mathbf{1}` returns
:math:`f'(x_i)` at every point at once. Why does a product with a vector of
ones give derivatives here?
"""

# %%
# The maths
# ---------
#
# Applied entry by entry, :math:`f` maps :math:`x \in \mathbb{R}^N` to
# :math:`y = f(x) \in \mathbb{R}^N`. Its Jacobian
# :math:`J \in \mathbb{R}^{N \times N}` is diagonal, because :math:`y_i` depends
# on :math:`x_i` alone:
#
# .. math::
#
#    J_{ij} = \frac{\partial y_i}{\partial x_j} =
#    \begin{cases} f'(x_i) & i = j \\ 0 & i \neq j \end{cases},
#    \qquad f'(x) = 2x + 2x\cos(x^2).
#
# A VJP computes the row vector :math:`v^\top J \in \mathbb{R}^{1 \times N}`
# for a vector :math:`v` shaped like the output, without ever forming
# :math:`J`:
#
# .. math::
#
#    (v^\top J)_j = \sum_{i=1}^{N} v_i J_{ij} = v_j \, f'(x_j).
#
# The sum has one non-zero term because :math:`J` is diagonal, so with
# :math:`v = \mathbf{1}` the VJP is exactly the vector of derivatives. When
# some :math:`y_i` also depends on another :math:`x_j`, the same call adds
# :math:`\partial y_i / \partial x_j` into entry :math:`j`, without an error:
# :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`
# shows what that returns, and how to get the derivative instead.

# %%
# The function and its hand-derived derivative
# --------------------------------------------

import matplotlib.pyplot as plt
import torch


def f(x: torch.Tensor) -> torch.Tensor:
    return x**2 + torch.sin(x**2)


def df_dx(x: torch.Tensor) -> torch.Tensor:
    """f'(x), derived by hand."""
    # sphinx_gallery_break = ("cos", "sin")
    return 2 * x + 2 * x * torch.cos(x**2)


N = 1000
x = torch.linspace(0, 5, N, dtype=torch.float64)
print("x:", tuple(x.shape), x.dtype)

# %%
# One VJP
# -------
#
# ``v`` holds one weight per output :math:`y_i`, so it has the shape of
# ``f(x)``. ``x`` needs no ``requires_grad``: ``vjp`` calls ``f`` on
# ``x.detach().requires_grad_()``, a new tensor that shares ``x``'s memory
# but not its history, and leaves ``x`` as it was. Only when you pass
# ``create_graph=True`` with an ``x`` that requires grad does it call ``f``
# on ``x.view_as(x)`` instead, a view that keeps ``x``'s history, so that
# derivatives of the result reach ``x`` (``_grad_preprocess`` in
# `torch/autograd/functional.py <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/autograd/functional.py#L69-L89>`__;
# both branches checked below).
# It returns the output and :math:`v^\top J`, shaped like ``x``.

v = torch.ones_like(x)
y, vjp_x = torch.autograd.functional.vjp(f, x, v=v)

print("f(x):", tuple(y.shape), "  v^T J:", tuple(vjp_x.shape))
print("x[:4]     ", x[:4])
print("v^T J[:4] ", vjp_x[:4])
print("f'(x)[:4] ", df_dx(x)[:4])

# %%
# What ``f`` receives inside ``vjp``: a version of ``f`` that records its
# argument, called as above and then with ``create_graph=True`` on an ``x``
# that requires grad.

received = []


def f_recording(x_in: torch.Tensor) -> torch.Tensor:
    received.append(x_in)
    return f(x_in)


torch.autograd.functional.vjp(f_recording, x, v=v)
(x_in,) = received
print(
    f"f received a new tensor: {x_in is not x}, on x's memory: "
    f"{x_in.data_ptr() == x.data_ptr()}, requiring grad: {x_in.requires_grad}"
)
print(f"x requires grad: {x.requires_grad}")
assert x_in is not x and x_in.data_ptr() == x.data_ptr() and x_in.requires_grad
assert not x.requires_grad and x.grad is None, "x is left as it was"

x_tracked = x.clone().requires_grad_()
received.clear()
_, vjp_tracked = torch.autograd.functional.vjp(
    f_recording, x_tracked, v=v, create_graph=True
)
(x_view,) = received
print(
    f"create_graph=True: a new tensor: {x_view is not x_tracked}, on x's memory: "
    f"{x_view.data_ptr() == x_tracked.data_ptr()}, with x's history: "
    f"{not x_view.is_leaf}"
)
assert x_view is not x_tracked and x_view.data_ptr() == x_tracked.data_ptr()
assert x_view.grad_fn.name() == "ViewBackward0", "a view of x, not a new leaf"
# the VJP's own derivative reaches x (autograd.grad raises if x is not in its graph)
(through_the_vjp,) = torch.autograd.grad(vjp_tracked.sum(), x_tracked)
assert through_the_vjp.shape == x_tracked.shape

# %%
# The checks
# ----------

expected = df_dx(x)
max_error = (vjp_x - expected).abs().max().item()
print(f"max |v^T J - f'(x)| = {max_error:.1e}")

# Both sides are 2x + 2x cos(x^2) from the same cos(x^2), in another order: a
# few float64 roundings of terms adding up to at most 20, so within ~1e-14
# (absolute: near the zeros of f' the relative error can be large); a wrong
# derivative is off by O(1). The tolerance separates the two.
torch.testing.assert_close(vjp_x, expected, rtol=1e-12, atol=1e-12)

# %%
# The picture
# -----------
#
# The VJP (dots) lies on the derivative worked out by hand (grey line).

fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
ax.plot(x.numpy(), y.numpy(), label=r"$f(x) = x^2 + \sin(x^2)$")
ax.plot(x.numpy(), expected.numpy(), color="0.7", lw=4, label=r"$f'(x)$ by hand")
ax.plot(
    x[::20].numpy(),
    vjp_x[::20].numpy(),
    "o",
    ms=3,
    label=r"$v^\top J$, $v = \mathbf{1}$",
)
ax.set_xlabel("$x$")
ax.legend(loc="upper left")
plt.show()

# %%
# What to remember
# ----------------
#
# * ``v`` has the shape of the output; :math:`v^\top J` has the shape of the
#   input.
# * :math:`v = \mathbf{1}` gives the derivative at every point only because
#   the Jacobian of an elementwise function is diagonal.
#
# Next: :ref:`sphx_glr_auto_examples_basics_plot_02_per_sample_gradients.py`,
# where each output depends on two inputs. Reference:
# :func:`torch.autograd.functional.vjp`, :func:`torch.testing.assert_close`.
