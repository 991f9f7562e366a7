r"""
Every argument and error of torch.autograd.functional.vjp
=========================================================

What :func:`torch.autograd.functional.vjp` accepts, what it returns, and
every error a reader is likely to meet, each raised here for real, its
message shown as PyTorch prints it, and a one-line fix that is then run.
Also the cases that raise nothing and are wrong anyway: an input the
function ignores, and derivatives at non-differentiable points.
"""

# %%
# The signature
# -------------
#
# ``vjp(func, inputs, v=None, create_graph=False, strict=False)`` returns
# ``(func(*inputs), vjp)``:
#
# * ``inputs``: a tensor, or a tuple of tensors (not a list); the result
#   ``vjp`` has the same structure;
# * ``v``: shaped like the output of ``func`` (a tuple of tensors for a
#   tuple of outputs); it may be omitted only when the output has one
#   element, and then means :math:`v = 1`, the gradient;
# * ``create_graph``: keep the graph, so the result can be differentiated
#   again;
# * ``strict``: raise instead of returning zeros where an output does not
#   depend on an input.
#
# In maths: for :math:`f : \mathbb{R}^n \to \mathbb{R}^m`, ``v`` is
# :math:`v \in \mathbb{R}^m` and the result :math:`v^\top J \in
# \mathbb{R}^{1 \times n}`; shapes that do not match are rejected, never
# broadcast.

import matplotlib.pyplot as plt
import torch
from torch.autograd.functional import vjp

generator = torch.Generator().manual_seed(0)
x = torch.randn(4, generator=generator, dtype=torch.float64)
ones = torch.ones(4, dtype=torch.float64)


def raised(call, expected_type, expected_text):
    """Run CALL, check it raises EXPECTED_TYPE with EXPECTED_TEXT, print the message."""
    try:
        call()
    except expected_type as error:
        assert expected_text in str(error), str(error)
        print(f"{type(error).__name__}: {error}")
        return
    raise AssertionError(f"expected {expected_type.__name__}: {expected_text}")


# %%
# ``v`` omitted for an output with more than one element
# ------------------------------------------------------

raised(lambda: vjp(lambda x: x**2, x), RuntimeError, "can only be None")

# %%
# Fix: pass ``v`` shaped like the output (or reduce the output to one
# element, if a gradient is what you want).

_, fixed = vjp(lambda x: x**2, x, v=ones)
torch.testing.assert_close(fixed, 2 * x)
_, gradient = vjp(lambda x: (x**2).sum(), x)  # one element: v = 1 is implied
torch.testing.assert_close(gradient, 2 * x)
print("fixed:", fixed)

# %%
# ``v`` of the wrong shape
# ------------------------
#
# No broadcasting: a ``(4, 1)`` ``v`` for a ``(4,)`` output is an error.

raised(lambda: vjp(lambda x: x**2, x, v=torch.ones(4, 1, dtype=torch.float64)), RuntimeError, "v has invalid size")

# %%
# Fix: ``v = torch.ones_like(output)``, or reshape ``v`` to the output's
# shape.

output = x**2
_, fixed = vjp(lambda x: x**2, x, v=torch.ones(4, 1, dtype=torch.float64).reshape(output.shape))
torch.testing.assert_close(fixed, 2 * x)

# %%
# Several outputs, one ``v``
# --------------------------
#
# A function returning a tuple needs a tuple of ``v``, one per output.

two_outputs = lambda x: (x**2, x.sum())  # noqa: E731
raised(lambda: vjp(two_outputs, x, v=ones), RuntimeError, "v is a tuple of invalid length")

# %%
# Fix: one ``v`` per output. The result is the sum of the two VJPs:
# :math:`v_1^\top J_1 + v_2^\top J_2`.

v_square, v_sum = ones, torch.tensor(2.0, dtype=torch.float64)
_, fixed = vjp(two_outputs, x, v=(v_square, v_sum))
torch.testing.assert_close(fixed, 2 * x * v_square + v_sum)
print("fixed:", fixed)

# %%
# Inputs as a list, outputs that are not tensors
# ----------------------------------------------

raised(lambda: vjp(lambda x: x**2, [x], v=ones), TypeError, "must be either a Tensor or a tuple of Tensors")
raised(lambda: vjp(lambda x: x.detach().sum().item(), x), TypeError, "must be either a Tensor or a tuple of Tensors")

# %%
# Fix: pass a tuple, ``(x,)``; return tensors (``.item()`` or ``float(...)``
# leave autograd).

_, (fixed,) = vjp(lambda x: x**2, (x,), v=ones)
torch.testing.assert_close(fixed, 2 * x)

# %%
# Integer inputs
# --------------

raised(lambda: vjp(lambda x: x**2, torch.arange(4), v=torch.ones(4)), RuntimeError, "only Tensors of floating point dtype")

# %%
# Fix: convert the input, not inside the function: ``vjp`` needs a
# floating-point tensor to differentiate with respect to.

_, fixed = vjp(lambda x: x**2, torch.arange(4).to(torch.float64), v=ones)
torch.testing.assert_close(fixed, 2 * torch.arange(4, dtype=torch.float64))

# %%
# Inputs that do, or do not, require grad
# ---------------------------------------
#
# Neither matters: ``vjp`` differentiates a detached copy of the inputs, so
# ``x`` needs no ``requires_grad``, and a leaf that has it gets no ``.grad``
# written.

leaf = x.clone().requires_grad_()
_, result = vjp(lambda x: x**2, leaf, v=ones)
assert leaf.grad is None and not result.requires_grad
print("leaf.grad after vjp:", leaf.grad, "| result requires grad:", result.requires_grad)

# %%
# ``create_graph=True``: differentiating the result again
# --------------------------------------------------------
#
# With the default ``create_graph=False`` the result is a plain tensor. With
# ``True`` it carries a graph, so a second derivative is one more VJP:
# for :math:`f(x) = x^3`, :math:`(f')' = 6x`.

_, first = vjp(lambda x: x**3, x, v=ones, create_graph=True)
_, second = vjp(lambda x: vjp(lambda x: x**3, x, v=ones, create_graph=True)[1], x, v=ones)
print("first requires grad:", first.requires_grad)
torch.testing.assert_close(first, 3 * x**2)
torch.testing.assert_close(second, 6 * x)

# %%
# The silent zeros: an input the function does not use
# ----------------------------------------------------
#
# A function of ``(x, w)`` that ignores ``w`` returns a VJP of zeros for
# ``w``. Correct, but often a bug: the classic is a closure over a global
# tensor instead of the argument.

w = torch.randn(4, generator=generator, dtype=torch.float64)
_, (for_x, for_w) = vjp(lambda x, w: x**2, (x, w), v=ones)
print("VJP for the unused w:", for_w)
torch.testing.assert_close(for_w, torch.zeros(4, dtype=torch.float64))

forgotten = torch.randn(4, generator=generator, dtype=torch.float64)
_, closure_vjp = vjp(lambda x: forgotten**2, x, v=ones)  # meant x**2
print("VJP of a closure over the wrong tensor:", closure_vjp)
torch.testing.assert_close(closure_vjp, torch.zeros(4, dtype=torch.float64))

# %%
# ``strict=True`` turns both into errors:

raised(lambda: vjp(lambda x, w: x**2, (x, w), v=ones, strict=True), RuntimeError, "independent of input 1")
raised(lambda: vjp(lambda x: forgotten**2, x, v=ones, strict=True), RuntimeError, "does not require gradients")

# %%
# Non-differentiable points
# -------------------------
#
# No error either: at a kink PyTorch returns a chosen value.
# :math:`|x|` and ReLU get 0 at 0; :math:`\sqrt{x}` gets :math:`+\infty`;
# :math:`\sqrt{x^2}`, mathematically :math:`|x|`, gets NaN, because autograd
# differentiates the formula, not the function: :math:`\frac{2x}{2\sqrt{x^2}}
# = \frac{0}{0}` at 0.

points = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
three_ones = torch.ones(3, dtype=torch.float64)
at_kinks = {
    "abs": vjp(torch.abs, points, three_ones)[1],
    "relu": vjp(torch.relu, points, three_ones)[1],
    "sqrt": vjp(torch.sqrt, points.abs(), three_ones)[1],
    "sqrt(x^2)": vjp(lambda x: torch.sqrt(x**2), points, three_ones)[1],
}
for name, derivative in at_kinks.items():
    where = "(1, 0, 1)" if name == "sqrt" else "(-1, 0, 1)"
    print(f"{name:<10} derivative at x = {where}: {derivative.tolist()}")
assert at_kinks["abs"][1] == 0 and at_kinks["relu"][1] == 0
assert torch.isinf(at_kinks["sqrt"][1]) and torch.isnan(at_kinks["sqrt(x^2)"][1])

# %%
# Fix for the NaN: write the function so its formula is differentiable
# where you evaluate it (``torch.abs(x)``), or keep the argument of a square
# root away from 0 (``torch.sqrt(x**2 + eps)``).

eps = 1e-12
_, smoothed = vjp(lambda x: torch.sqrt(x**2 + eps), points, three_ones)
assert torch.isfinite(smoothed).all()
print("sqrt(x^2 + 1e-12):", smoothed.tolist())

# %%
# The kinks, seen: each function (line) and what autograd returns for its
# derivative (dots), with the value at 0 ringed. NaN cannot be drawn: it is
# marked on the axis.

grid = torch.arange(-20, 21, dtype=torch.float64) / 20  # holds 0 exactly, at index 20
assert grid[20] == 0
shown = {"abs": torch.abs, "relu": torch.relu, "sqrt(x^2)": lambda x: torch.sqrt(x**2)}
fig, axes = plt.subplots(1, 3, figsize=(9, 3.1), layout="constrained", sharey=True)
for ax, (name, fn) in zip(axes, shown.items()):
    _, derivative = vjp(fn, grid, torch.ones_like(grid))
    ax.plot(grid.numpy(), fn(grid).numpy(), color="0.6", label="function")
    ax.plot(grid.numpy(), derivative.numpy(), "o", ms=3, label="autograd derivative")
    at_zero = derivative[20].item()
    if at_zero == at_zero:  # not NaN
        ax.plot(0, at_zero, "o", ms=10, mfc="none", color="C3")
    else:
        ax.annotate("NaN at 0", (0, 0.3), ha="center", color="C3")
    ax.set_title(name)
    ax.set_ylim(-1.3, 1.3)
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * ``v`` must have exactly the output's shape (a tuple for a tuple of
#   outputs); only a one-element output may omit it.
# * Unused inputs and closures give zeros silently; ``strict=True`` makes
#   them errors.
# * At kinks autograd returns a convention (0, :math:`\infty`, or NaN from a
#   0/0 in the formula): check such points explicitly.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_03_custom_vjp_rule.py`.
# Reference: :func:`torch.autograd.functional.vjp`.
