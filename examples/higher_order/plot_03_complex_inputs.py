r"""
VJPs of complex functions: PyTorch's convention
===============================================

For complex inputs, "the derivative" is ambiguous: a function of
:math:`z = a + ib` has two Wirtinger derivatives, and only holomorphic
functions have one complex derivative. This page states the formula
PyTorch's VJP follows, checks it on a holomorphic and two non-holomorphic
functions, and shows that minus the gradient of a real loss is the direction
of steepest descent.
"""

# %%
# The maths
# ---------
#
# With :math:`z = a + ib`, the Wirtinger derivatives are
#
# .. math::
#
#    \frac{\partial f}{\partial z} = {\frac12 \Bigl(\frac{\partial f}{\partial a}
#    - i \frac{\partial f}{\partial b}\Bigr)}, \qquad
#    \frac{\partial f}{\partial \bar z} = {\frac12 \Bigl(\frac{\partial f}{\partial a}
#    + i \frac{\partial f}{\partial b}\Bigr)}.
#
# A real-differentiable :math:`f` (one whose real and imaginary parts are
# differentiable functions of :math:`(a, b)`) is holomorphic on an open set
# exactly when :math:`\partial f / \partial \bar z = 0` at every point of
# it, the Cauchy–Riemann equations; then
# :math:`\partial f / \partial z = f'(z)`. A zero at isolated points is not
# enough: :math:`|z|^2` has :math:`\partial f / \partial \bar z = z`, zero
# only at 0, and is holomorphic nowhere. For an elementwise
# :math:`f` and an output-shaped :math:`v`, PyTorch's VJP returns
#
# .. math::
#
#    \operatorname{vjp}(f, z, v) = v \, \overline{\frac{\partial f}{\partial z}}
#    + \bar v \, \frac{\partial f}{\partial \bar z}.
#
# For a **real** loss :math:`L` and :math:`v = 1` this is
#
# .. math::
#
#    2 \frac{\partial L}{\partial \bar z} = \frac{\partial L}{\partial a}
#    + i \frac{\partial L}{\partial b},
#
# the real gradient :math:`(\partial L / \partial a, \partial L / \partial b)`
# written as one complex number: the direction of steepest ascent in the
# plane, so ``z -= lr * z.grad`` descends as it does for real numbers.
#
# PyTorch's note `Autograd for Complex Numbers
# <https://docs.pytorch.org/docs/2.13/notes/autograd.html#complex-autograd-doc>`_
# describes this convention and calls the computed gradient
# :math:`\partial L / \partial z^*`, the conjugate Wirtinger derivative
# (:math:`z^*` is its notation for :math:`\bar z`). Its formula for
# functions from :math:`\mathbb{C}` to :math:`\mathbb{R}` carries a factor 2:
# with the Wirtinger derivatives defined as above, with the factor
# :math:`\frac12`, the number in ``z.grad`` is
# :math:`2\,\partial L / \partial \bar z`. For :math:`L = |z|^2 = z \bar z`,
# :math:`\partial L / \partial \bar z = z` and ``z.grad`` is :math:`2z`
# (checked below).
#
# JAX chose the other convention. Its `Autodiff Cookbook
# <https://docs.jax.dev/en/latest/notebooks/autodiff_cookbook.html#complex-numbers-and-differentiation>`_
# defines the VJP of :math:`f = u + iw` with a cotangent :math:`c + di` as
# :math:`[c, -d]\, J\, [1, -i]^\top`, with :math:`J` the real
# :math:`2 \times 2` Jacobian of :math:`(u, w)` over :math:`(a, b)`, and
# ``grad`` as that VJP with the cotangent 1. For a real :math:`L`
# (:math:`u = L`, :math:`w = 0`) that is
# :math:`\partial L / \partial a - i\,\partial L / \partial b
# = 2\,\partial L / \partial z`, the complex conjugate of PyTorch's
# (checked below from the real derivatives, without running JAX). PyTorch's
# note says likewise that JAX computes :math:`\partial L / \partial z`.
# With the factor :math:`\frac12` in the definitions above, JAX's ``grad``
# is twice that, just as ``z.grad`` is twice
# :math:`\partial L / \partial \bar z`: for :math:`L = |z|^2`,
# :math:`\partial L / \partial z = \bar z` and ``grad`` is
# :math:`2 \bar z` (:math:`6 - 8i` at :math:`3 + 4i`; checked below). The
# Cookbook says to optimise such functions with steps along the conjugate
# of ``grad``. Code ported between the two libraries needs a conjugate
# wherever it uses such a gradient.

# %%
# A holomorphic function: :math:`f(z) = z^2 + \sin z`
# ---------------------------------------------------
#
# Here :math:`\partial f/\partial \bar z = 0`, so the VJP is
# :math:`v\,\overline{f'(z)}`, with the *conjugate* of the complex
# derivative.

import matplotlib.pyplot as plt
import torch

generator = torch.Generator().manual_seed(0)
N = 1000
z = torch.randn(N, generator=generator, dtype=torch.complex128)
v = torch.randn(N, generator=generator, dtype=torch.complex128)


def holomorphic(z):
    return z**2 + torch.sin(z)


_, vjp_holo = torch.autograd.functional.vjp(holomorphic, z, v)
# sphinx_gallery_break = ("torch.conj", "")
expected_holo = v * torch.conj(2 * z + torch.cos(z))
print("z[:2]         ", z[:2])
print("vjp[:2]       ", vjp_holo[:2])
print("v conj(f')[:2]", expected_holo[:2])
print(
    f"max |vjp - v conj(f'(z))| = {(vjp_holo - expected_holo).abs().max().item():.1e}"
)
# the size of the terms below
assert (v.abs() * (2 * z.abs() + torch.cos(z).abs())).max() < 15
# A few complex128 operations on terms |v| (2|z| + |cos z|) < 15: error ~10 eps 15 =
# 3e-14, far below 1e-12 (eps = 2.2e-16); a missing conjugate is off by O(1).
torch.testing.assert_close(vjp_holo, expected_holo, rtol=1e-12, atol=1e-12)
wrong = v * (2 * z + torch.cos(z))  # without the conjugate
wrong_error = (vjp_holo - wrong).abs().max().item()
print(f"without the conjugate the error would be {wrong_error:.2f}")

# %%
# A non-holomorphic function: :math:`f(z) = \bar z^2 z`
# ------------------------------------------------------
#
# :math:`\partial f/\partial z = \bar z^2` and
# :math:`\partial f/\partial \bar z = 2 \bar z z = 2|z|^2`: both terms of the
# formula contribute.


def non_holomorphic(z):
    return torch.conj(z) ** 2 * z


_, vjp_non_holo = torch.autograd.functional.vjp(non_holomorphic, z, v)
df_dz, df_dzbar = torch.conj(z) ** 2, 2 * z.abs() ** 2
expected_non_holo = v * torch.conj(df_dz) + torch.conj(v) * df_dzbar
non_holo_error = (vjp_non_holo - expected_non_holo).abs().max().item()
print(f"max |vjp - (v conj(df/dz) + conj(v) df/dzbar)| = {non_holo_error:.1e}")
assert (3 * v.abs() * z.abs() ** 2).max() < 25  # the size of the terms below
# A few complex128 operations on terms up to 3 |v| |z|^2 < 25: error ~10 eps 25 = 6e-14,
# far below 1e-12.
torch.testing.assert_close(vjp_non_holo, expected_non_holo, rtol=1e-12, atol=1e-12)

# %%
# Here :math:`\partial f/\partial \bar z = 2|z|^2` is real, so this check
# cannot tell :math:`\bar v\, \partial f/\partial \bar z` from
# :math:`\bar v\, \overline{\partial f/\partial \bar z}`. With
# :math:`f(z) = \bar z^3`, :math:`\partial f/\partial z = 0` and
# :math:`\partial f/\partial \bar z = 3 \bar z^2` is complex: the VJP is
# :math:`3 \bar v \bar z^2`, the second term alone, unconjugated.


def conjugate_cubed(z):
    return torch.conj(z) ** 3


_, vjp_conj_cubed = torch.autograd.functional.vjp(conjugate_cubed, z, v)
# v conj(0) + conj(v) df/dzbar
expected_conj_cubed = torch.conj(v) * 3 * torch.conj(z) ** 2
conj_cubed_error = (vjp_conj_cubed - expected_conj_cubed).abs().max().item()
print(f"f = conj(z)^3: max |vjp - conj(v) df/dzbar| = {conj_cubed_error:.1e}")
assert (3 * v.abs() * z.abs() ** 2).max() < 25  # the size of the terms below
# A few complex128 operations on terms up to 3 |v| |z|^2 < 25: error ~10 eps 25 = 6e-14,
# far below 1e-12.
torch.testing.assert_close(vjp_conj_cubed, expected_conj_cubed, rtol=1e-12, atol=1e-12)
# with df/dzbar conjugated
conjugated = torch.conj(v) * torch.conj(3 * torch.conj(z) ** 2)
conjugated_error = (vjp_conj_cubed - conjugated).abs().max().item()
print(f"with df/dzbar conjugated the error would be {conjugated_error:.2f}")

# %%
# A real loss: the complex gradient is the real one
# --------------------------------------------------
#
# :math:`L(z) = |z^3 - 1|^2` for each point, summed. PyTorch's gradient
# should equal :math:`\partial L/\partial a + i\,\partial L/\partial b`.
# That reference is computed here in real arithmetic only: with
# :math:`z^3 - 1 = (a^3 - 3ab^2 - 1) + i\,(3a^2 b - b^3)`,
# :math:`L = (a^3 - 3ab^2 - 1)^2 + (3a^2 b - b^3)^2` is a function of two
# real tensors, which autograd differentiates with no complex number in
# sight. The hand formula :math:`2\,\partial L/\partial \bar z = 2 (z^3 - 1)\,
# \overline{3 z^2}` is a third route.


def loss(z):
    return (z**3 - 1).abs() ** 2


z_leaf = z.clone().requires_grad_()
loss(z_leaf).sum().backward()
complex_grad = z_leaf.grad

a, b = z.real.clone().requires_grad_(), z.imag.clone().requires_grad_()
((a**3 - 3 * a * b**2 - 1) ** 2 + (3 * a**2 * b - b**3) ** 2).sum().backward()
real_grad = torch.complex(a.grad, b.grad)  # dL/da + i dL/db
print("z.grad[:2]    ", complex_grad[:2])
print("real_grad[:2] ", real_grad[:2])  # dL/da + i dL/db

# %%
# The checks
# ----------
#
# ``z.grad`` against the hand formula
# :math:`2\,\partial L/\partial \bar z = 2 (z^3 - 1)\,\overline{3 z^2}`
# and against the gradient computed in real arithmetic, point by point.

expected = 2 * (z**3 - 1) * torch.conj(3 * z**2)
difference = (complex_grad - real_grad).abs()
print(f"max |grad - (dL/da + i dL/db)| = {difference.max().item():.1e}")
print(f"max |grad - expected| = {(complex_grad - expected).abs().max().item():.1e}")
# The sizes of the terms the real route adds up, per point: |re|, |im| and the factors
# 3a^2 - 3b^2 and 6ab with absolute values. The other two routes add terms no larger
# (2 |z^3 - 1| |3 z^2| <= term_size).
a_, b_ = a.detach().abs(), b.detach().abs()
re_size, im_size = a_**3 + 3 * a_ * b_**2 + 1, 3 * a_**2 * b_ + b_**3
term_size = 2 * (re_size + im_size) * (3 * a_**2 + 3 * b_**2 + 6 * a_ * b_)
eps = torch.finfo(torch.float64).eps
# Each route takes about 20 roundings (pow, abs, + - *, each within a few eps = 2.2e-16
# of its result), so the routes differ by under 100 eps term_size per point. Near a root
# z^3 - 1 cancels: the difference is small in absolute terms, not relative ones, hence a
# per-point bound rather than rtol.
assert ((complex_grad - real_grad).abs() <= 100 * eps * term_size).all(), (
    "z.grad is not dL/da + i dL/db"
)
assert ((complex_grad - expected).abs() <= 100 * eps * term_size).all(), (
    "z.grad is not 2 dL/dzbar"
)
relative_difference = (difference / (eps * term_size)).max().item()
print(f"largest difference / (eps term_size): {relative_difference:.2f}")
print(
    f"z.grad = dL/da + i dL/db (computed in real arithmetic) at all {N} points,"
    " to rounding"
)

# %%
# .. _complex-gradient-convention:
#
# JAX's convention, from the same derivatives
# -------------------------------------------
#
# JAX's ``grad`` by the Cookbook's formula, from the same real derivatives:
# :math:`[1, 0]\, J\, [1, -i]^\top = \partial L/\partial a - i\,\partial L/\partial b`.

jax_grad = torch.complex(a.grad, -b.grad)
print("at z[:2], JAX's grad (Cookbook formula) and PyTorch's z.grad:")
print("  JAX    ", jax_grad[:2])
print("  PyTorch", complex_grad[:2])
# The same bound as above: the conjugate of PyTorch's z.grad at every point.
assert ((jax_grad - torch.conj(complex_grad)).abs() <= 100 * eps * term_size).all()

# %%
# The factor 2, on :math:`L = |z|^2`, whose Wirtinger derivatives are
# :math:`\partial L / \partial \bar z = z` and
# :math:`\partial L / \partial z = \bar z`: ``z.grad`` is :math:`2z`, and
# JAX's ``grad``, by the Cookbook's formula from the real derivatives
# :math:`2a` and :math:`2b`, is :math:`2 \bar z`. The last point is
# :math:`3 + 4i`.

z_abs = torch.cat([z, torch.tensor([3 + 4j], dtype=torch.complex128)])
z_leaf = z_abs.clone().requires_grad_()
(z_leaf.abs() ** 2).sum().backward()
real_part = z_abs.real.clone().requires_grad_()
imag_part = z_abs.imag.clone().requires_grad_()
(real_part**2 + imag_part**2).sum().backward()
jax_grad_abs = torch.complex(real_part.grad, -imag_part.grad)  # [1, 0] J [1, -i]^T
print("z[:2]     ", z_abs[:2])
print("z.grad[:2]", z_leaf.grad[:2])
print(f"at 3 + 4i: z.grad = {z_leaf.grad[-1]:.0f}, JAX's grad = {jax_grad_abs[-1]:.0f}")
# 2|z| z/|z| against 2z: a few roundings, a few eps (2.2e-16) relative, far below 1e-12;
# a grad without the factor 2 would be off by |z|.
torch.testing.assert_close(z_leaf.grad, 2 * z_abs, rtol=1e-12, atol=1e-12)
expected_jax = torch.complex(2 * z_abs.real, -2 * z_abs.imag)
# Exact: the VJP of a**2 is 1 * (2 * a**1), products by 1 and 2 and a first power,
# all exact; so are 2 * a and the minus signs.
torch.testing.assert_close(jax_grad_abs, expected_jax, rtol=0, atol=0)

# %%
# Descending with it
# ------------------
#
# Minus the gradient of :math:`L` over the plane (one VJP for the whole grid,
# :math:`v = 1`, since each point is independent) points downhill: at every
# point it is the direction in which :math:`L` decreases fastest. With
# :math:`g` = ``z.grad`` and a unit step direction :math:`d`, the rate of
# change of :math:`L` is
# :math:`\operatorname{Re}(\bar g d) = \frac{\partial L}{\partial a} d_a
# + \frac{\partial L}{\partial b} d_b \ge -|g|`, with equality for
# :math:`d = -g/|g|` only. The cell checks that rate with a forward-mode
# derivative of :math:`L` over :math:`(a, b)`, in 72 directions. Downhill is
# not "towards the nearest root": the arrows cross the contour lines at right
# angles (at a quarter turn from the arrow the rate is zero: that is the
# contour line), and at some points they turn far from the direction of the
# nearest root.

grid = torch.linspace(-1.6, 1.6, 25, dtype=torch.float64)
grid_z = torch.complex(*torch.meshgrid(grid, grid, indexing="xy")).flatten()
_, grid_grad = torch.autograd.functional.vjp(
    loss, grid_z, torch.ones_like(grid_z, dtype=torch.float64)
)
# The same factors multiplied in another order, as for expected above: a few eps
# relative.
torch.testing.assert_close(
    grid_grad, 2 * (grid_z**3 - 1) * torch.conj(3 * grid_z**2), rtol=1e-12, atol=1e-12
)
# where L = 0
roots = torch.exp(2j * torch.pi * torch.arange(3, dtype=torch.float64) / 3)
moving = grid_grad.abs() > 1e-8  # the gradient vanishes at z = 0
# unit direction of steepest descent
step = -grid_grad[moving] / grid_grad[moving].abs()


def loss_of_pairs(pairs):
    return loss(torch.view_as_complex(pairs))


def rate_of_change(directions):
    """dL/dt along z + t * d at every moving grid point, for directions d of
    shape (..., points)."""
    points = (
        torch.view_as_real(grid_z[moving]).expand(*directions.shape, 2).contiguous()
    )
    return torch.func.jvp(
        loss_of_pairs, (points,), (torch.view_as_real(directions).contiguous(),)
    )[1]


steepest = rate_of_change(step)
# A few roundings per point, with no cancellation (the rate is -|g| itself): a few eps
# relative, far below 1e-10; a wrong direction changes the rate by O(|g|).
torch.testing.assert_close(steepest, -grid_grad[moving].abs(), rtol=1e-10, atol=1e-12)
angles = torch.linspace(0, 2 * torch.pi, 73, dtype=torch.float64)[:-1]
turned_directions = torch.polar(
    torch.ones(71, len(step), dtype=torch.float64), step.angle() + angles[1:, None]
)
turned = rate_of_change(turned_directions)  # (71, points)
# The nearest other directions, 5 degrees off, have rate -|g| cos(5 degrees) = -0.996
# |g|: a margin of 0.4% of |g|, far above rounding (a few eps relative).
assert (turned > steepest).all(), (
    "every other direction should have a larger rate than -g/|g|"
)
quarter_turn = turned[17]  # angles[18] = 90 degrees
# Zero up to the rounding of the direction (angle, cos, sin) and of the rate, a few eps
# (2.2e-16) times |g|: far below 1e-12 |g|.
torch.testing.assert_close(
    quarter_turn / steepest.abs(), torch.zeros_like(quarter_turn), rtol=0, atol=1e-12
)
print(
    f"at all {int(moving.sum())} points: rate along -g/|g| is -|g|,"
    " larger along the 71 other directions,"
)
print("and zero a quarter turn away (along the contour line)")

nearest_root = roots[(grid_z[moving, None] - roots).abs().argmin(dim=1)]
to_root = (nearest_root - grid_z[moving]) / (nearest_root - grid_z[moving]).abs()
largest_angle = torch.rad2deg(torch.angle(step / to_root).abs()).max().item()
print(
    "largest angle between an arrow and the direction to the nearest root:"
    f" {largest_angle:.0f} degrees"
)
assert largest_angle > 60, "the arrows point downhill, not at the roots"

# %%
# The picture
# -----------
#
# Minus the gradient, as a direction, over the contours of :math:`L`: the
# arrows cross the contour lines at right angles and run downhill, not
# always towards the nearest root.

fine = torch.linspace(-1.6, 1.6, 301, dtype=torch.float64)
fine_z = torch.complex(*torch.meshgrid(fine, fine, indexing="xy"))
fig, ax = plt.subplots(figsize=(5.2, 4.6), layout="constrained")
filled = ax.contourf(
    fine.numpy(),
    fine.numpy(),
    torch.log10(loss(fine_z) + 1e-3).numpy(),
    levels=20,
    cmap="magma",
)
fig.colorbar(filled, ax=ax, label=r"$\log_{10}(|z^3 - 1|^2 + 10^{-3})$")
arrows_at = grid_z[moving]
ax.quiver(
    arrows_at.real.numpy(),
    arrows_at.imag.numpy(),
    step.real.numpy(),
    step.imag.numpy(),
    color="white",
    scale=40,
    width=0.003,
)
ax.plot(
    roots.real.numpy(),
    roots.imag.numpy(),
    "o",
    color="cyan",
    ms=7,
    label="roots of $z^3 = 1$",
)
ax.set_xlabel("Re $z$")
ax.set_ylabel("Im $z$")
ax.set_aspect("equal")
ax.legend(loc="lower left", fontsize=8)
ax.set_title(
    "minus the gradient of $L$, direction only:\nsteepest descent", fontsize=10
)
plt.show()

# %%
# What to remember
# ----------------
#
# * PyTorch's VJP is :math:`v\,\overline{\partial f/\partial z} + \bar v\,\partial f/\partial \bar z`;
#   for holomorphic :math:`f`, :math:`v\,\overline{f'(z)}`: note the conjugate.
# * For a real loss, ``z.grad`` is :math:`\partial L/\partial a + i\,\partial L/\partial b
#   = 2\,\partial L/\partial \bar z` (PyTorch's note calls it
#   :math:`\partial L/\partial z^*`), so gradient descent works unchanged:
#   minus ``z.grad`` points downhill, which is not necessarily towards a
#   minimum.
# * JAX's ``grad`` of a real function of :math:`z` is the complex conjugate
#   of PyTorch's.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_04_full_and_batched_hessians.py`.
# Reference: :func:`torch.autograd.functional.vjp`, :func:`torch.view_as_real`,
# :func:`torch.func.jvp`, and PyTorch's note `Autograd for Complex Numbers
# <https://docs.pytorch.org/docs/2.13/notes/autograd.html#complex-autograd-doc>`_.
