r"""
Writing your own VJP rule with torch.autograd.Function
======================================================

When autograd's derivative of a function is slow, unstable or unavailable,
you can supply the VJP yourself: the ``backward`` of a
:class:`torch.autograd.Function` *is* a VJP rule. This page writes one for
the seed's :math:`f(x) = x^2 + \sin(x^2)`, verifies it with
:func:`~torch.autograd.gradcheck`, shows a bug that a check with
:math:`v = \mathbf{1}` cannot see, and differentiates through the rule a
second time.
"""

# %%
# The maths
# ---------
#
# Elementwise :math:`f` has Jacobian :math:`J = \operatorname{diag}(f'(x))`,
# so the VJP rule ``backward`` must implement, for an incoming
# ``grad_output`` :math:`v` shaped like the output,
#
# .. math::
#
#    v \mapsto v^\top J = v \odot f'(x), \qquad f'(x) = 2x + 2x\cos(x^2).
#
# The factor :math:`v` matters: autograd calls ``backward`` with whatever
# :math:`v` the rest of the computation produced, not with ones. If
# ``backward`` is written with differentiable torch operations, autograd can
# also differentiate *it*, which gives second derivatives:
#
# .. math::
#
#    f''(x) = 2 + 2\cos(x^2) - 4x^2 \sin(x^2).

# %%
# The rule
# --------
#
# ``forward`` computes the value, ``setup_context`` saves what ``backward``
# needs, ``backward`` returns :math:`v \odot f'(x)`. Defining
# ``setup_context`` (rather than taking ``ctx`` in ``forward``) and
# ``generate_vmap_rule = True`` also makes the function work under
# :mod:`torch.func` transforms.

import matplotlib.pyplot as plt
import torch
from torch.autograd.gradcheck import GradcheckError


class SeedF(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return x**2 + torch.sin(x**2)

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (2 * x + 2 * x * torch.cos(x**2))


def f(x):
    return x**2 + torch.sin(x**2)


generator = torch.Generator().manual_seed(0)
x = torch.randn(1000, generator=generator, dtype=torch.float64)
v = torch.randn(1000, generator=generator, dtype=torch.float64)

_, custom = torch.autograd.functional.vjp(SeedF.apply, x, v=v)
_, autograd = torch.autograd.functional.vjp(f, x, v=v)
print(f"max |custom rule - autograd's own VJP| = {(custom - autograd).abs().max().item():.1e}")
# Same formula, float64: rounding only.
torch.testing.assert_close(custom, autograd, rtol=1e-12, atol=1e-12)

# %%
# ``gradcheck`` and ``gradgradcheck``
# ------------------------------------
#
# :func:`torch.autograd.gradcheck` compares the rule with finite differences
# for several random :math:`v`; :func:`torch.autograd.gradgradcheck` checks
# the derivative of the rule itself.

x_check = torch.randn(8, generator=generator, dtype=torch.float64, requires_grad=True)
assert torch.autograd.gradcheck(SeedF.apply, (x_check,))
assert torch.autograd.gradgradcheck(SeedF.apply, (x_check,))
print("gradcheck: passed; gradgradcheck: passed")

# %%
# A bug that :math:`v = \mathbf{1}` cannot see
# ---------------------------------------------
#
# A ``backward`` that forgets ``grad_output`` returns :math:`f'(x)` whatever
# :math:`v` is. Tested with :math:`v = \mathbf{1}` it is indistinguishable
# from the right rule; any other :math:`v` exposes it.


class SeedFForgetsV(SeedF):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x + 2 * x * torch.cos(x**2)  # bug: grad_output ignored


ones = torch.ones_like(x)
_, buggy_with_ones = torch.autograd.functional.vjp(SeedFForgetsV.apply, x, v=ones)
_, right_with_ones = torch.autograd.functional.vjp(f, x, v=ones)
torch.testing.assert_close(buggy_with_ones, right_with_ones, rtol=1e-12, atol=1e-12)
print("with v = 1 the buggy rule matches:", f"max |diff| = {(buggy_with_ones - right_with_ones).abs().max().item():.1e}")

_, buggy = torch.autograd.functional.vjp(SeedFForgetsV.apply, x, v=v)
print(f"with a random v it is off by up to {(buggy - autograd).abs().max().item():.2f}")
assert (buggy - autograd).abs().max() > 1

try:
    torch.autograd.gradcheck(SeedFForgetsV.apply, (x_check,))
    raise AssertionError("gradcheck missed the bug")
except GradcheckError as error:
    print("gradcheck on the buggy rule -> GradcheckError:", str(error).splitlines()[0])

# %%
# Second derivatives through the rule, and ``torch.func``
# ----------------------------------------------------------
#
# ``create_graph=True`` records the operations of ``backward``; a second VJP
# differentiates them. ``generate_vmap_rule`` lets :func:`torch.func.vmap`
# batch the function, so :func:`torch.func.grad` gives the derivative at
# every point as well.

grid = torch.linspace(-2.5, 2.5, 501, dtype=torch.float64)
grid_ones = torch.ones_like(grid)


def first_derivative(x):
    return torch.autograd.functional.vjp(SeedF.apply, x, v=grid_ones, create_graph=True)[1]


_, second = torch.autograd.functional.vjp(first_derivative, grid, v=grid_ones)
first = first_derivative(grid).detach()
second_by_hand = 2 + 2 * torch.cos(grid**2) - 4 * grid**2 * torch.sin(grid**2)
torch.testing.assert_close(first, 2 * grid + 2 * grid * torch.cos(grid**2), rtol=1e-12, atol=1e-12)
torch.testing.assert_close(second, second_by_hand, rtol=1e-12, atol=1e-12)
print(f"max |f'' through the rule - f'' by hand| = {(second - second_by_hand).abs().max().item():.1e}")

per_point = torch.func.vmap(torch.func.grad(SeedF.apply))(grid)
torch.testing.assert_close(per_point, first, rtol=1e-12, atol=1e-12)
print("vmap(grad(SeedF.apply)) matches the VJP at all", grid.numel(), "points")

fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
ax.plot(grid.numpy(), f(grid).numpy(), label="$f$")
ax.plot(grid.numpy(), first.numpy(), label="$f'$: the custom rule")
ax.plot(grid.numpy(), second_by_hand.numpy(), color="0.75", lw=5, label="$f''$ by hand")
ax.plot(grid[::20].numpy(), second[::20].numpy(), "o", ms=3, color="C3", label="$f''$: differentiating the rule")
ax.set_xlabel("$x$")
ax.legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * ``backward`` is a VJP rule: it must multiply by ``grad_output``.
#   A check with :math:`v = \mathbf{1}` cannot tell; ``gradcheck`` can.
# * Write ``backward`` with differentiable torch operations and second
#   derivatives come for free (``gradgradcheck`` them).
# * ``setup_context`` and ``generate_vmap_rule = True`` make the function
#   usable under :mod:`torch.func`.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_04_physics_informed_and_per_sample.py`.
# Reference: :class:`torch.autograd.Function`,
# :func:`torch.autograd.gradcheck.gradcheck`, :func:`torch.func.grad`.
