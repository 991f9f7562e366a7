r"""
Checking a derivative: finite differences, gradcheck, and why float64
=====================================================================

When there is no hand-derived derivative to compare with, a finite
difference is the independent check. Its accuracy is limited by the step
size in two opposite ways, and in float32 it cannot confirm more than a few
digits. This page measures that, uses one finite difference to check a
whole VJP (the dot-product test), and shows :func:`torch.autograd.gradcheck`
catching a real bug.
"""

# %%
# The maths
# ---------
#
# The central difference with step :math:`h` has two errors:
#
# .. math::
#
#    \frac{f(x + h) - f(x - h)}{2h} - f'(x)
#    \approx \underbrace{\frac{h^2}{6} f'''(x)}_{\text{truncation}}
#    + \underbrace{O\Bigl(\frac{\varepsilon\, |f(x)|}{h}\Bigr)}_{\text{rounding}},
#
# where :math:`\varepsilon` is the machine epsilon of the dtype
# (:math:`1.2 \times 10^{-7}` in float32, :math:`2.2 \times 10^{-16}` in
# float64). The sum is smallest near :math:`h \approx \varepsilon^{1/3}`,
# where the typical error is a few times :math:`\varepsilon^{2/3}`
# (:math:`\varepsilon^{2/3}` is :math:`2.4 \times 10^{-5}` in float32,
# :math:`3.7 \times 10^{-11}` in float64; the errors are measured below).
# A single step can land closer by luck, when the roundings happen to
# cancel the truncation, but nothing tells which step that is. That is why
# gradient checks run in float64.
#
# For a vector function, one difference along a random direction :math:`u`
# checks a VJP against all of :math:`J` at once, through the adjoint identity
#
# .. math::
#
#    \langle v^\top J, u \rangle = \langle v, J u \rangle \approx
#    \left\langle v, \frac{f(x + hu) - f(x - hu)}{2h} \right\rangle.

# %%
# Error against step size
# -----------------------
#
# For :math:`f(x) = x^2 + \sin(x^2)`, the function of
# :ref:`sphx_glr_auto_examples_basics_plot_01_elementwise_derivative.py`, at
# :math:`x = 1.3`, whose derivative :math:`2x + 2x\cos(x^2)` is known exactly.

import inspect
import textwrap
import warnings

import matplotlib.pyplot as plt
import torch
from torch.autograd.gradcheck import GradcheckError


def f(x):
    return x**2 + torch.sin(x**2)


def df_dx(x):
    # sphinx_gallery_break = ("cos", "sin")
    return 2 * x + 2 * x * torch.cos(x**2)


steps = torch.logspace(-13, 0, 53, dtype=torch.float64)
errors = {}
for dtype in (torch.float32, torch.float64):
    x0 = torch.tensor(1.3, dtype=dtype)
    exact = df_dx(torch.tensor(1.3, dtype=torch.float64))
    h = steps.to(dtype)
    central = (f(x0 + h) - f(x0 - h)) / (2 * h)
    errors[dtype] = (central.double() - exact).abs()
    best = errors[dtype].argmin()
    eps = torch.finfo(dtype).eps
    name = str(dtype).removeprefix("torch.")
    print(
        f"{name}  eps = {eps:.1e}  best h = {steps[best].item():.0e}  "
        f"smallest error = {errors[dtype][best].item():.1e}  "
        f"(eps^(1/3) = {eps ** (1 / 3):.0e})"
    )

# float64 reaches 1e-9 or better on this grid (at h = 1e-5: truncation
# 2.2 h^2 = 2.2e-10, plus 4 eps |f| / h = 2.4e-10 for a few roundings in each f).
assert errors[torch.float64].min() < 1e-9
for dtype in (torch.float32, torch.float64):
    best_h = steps[errors[dtype].argmin()].item()
    # The best steps sit near eps^(1/3): far larger ones lose to truncation,
    # far smaller ones to rounding, whose error is near eps |f| / h.
    assert 1e-2 < best_h / torch.finfo(dtype).eps ** (1 / 3) < 1e2

# %%
# The smallest error on a grid is partly luck. The typical error is the
# median over many steps: here 1001 steps spread evenly (on a log scale)
# from :math:`\varepsilon^{1/3} / \sqrt{10}` to
# :math:`\sqrt{10}\, \varepsilon^{1/3}`, in units of
# :math:`\varepsilon^{2/3}`:

for dtype in (torch.float32, torch.float64):
    x0, eps = torch.tensor(1.3, dtype=dtype), torch.finfo(dtype).eps
    scale = torch.logspace(-0.5, 0.5, 1001, dtype=torch.float64)  # h / eps^(1/3)
    h = (eps ** (1 / 3) * scale).to(dtype)
    central = ((f(x0 + h) - f(x0 - h)) / (2 * h)).double()
    scaled_error = (central - df_dx(torch.tensor(1.3, dtype=torch.float64))).abs()
    scaled_error /= eps ** (2 / 3)
    name = str(dtype).removeprefix("torch.")
    print(
        f"{name}: median error {scaled_error.median().item():.1f} eps^(2/3), "
        f"smallest {scaled_error.min().item():.3f} eps^(2/3)"
    )
    # Under 30: for h <= eps^(1/3) (half the steps) truncation is at most
    # 2.2 eps^(2/3), and rounding (a few eps |f| in f's values and in x0 +- h,
    # over 2h >= 0.6 eps^(1/3)) below about 20 eps^(2/3). Over 0.1: the possible
    # quotients are f's ulp / 2h, about eps^(2/3), apart, so a step lands within
    # a tenth of that of f' for only a small fraction of the steps, not half.
    assert 0.1 < scaled_error.median() < 30

# %%
# The checks
# ----------
#
# The derivative of :math:`f` at :math:`x = 1.3` three ways, in float64: by
# hand (``df_dx``, the reference), by autograd, and by the central
# difference at :math:`h = 10^{-5}`, near the best step found above.

x_check = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
expected = df_dx(x_check.detach())
(from_autograd,) = torch.autograd.grad(f(x_check), x_check)
with torch.no_grad():
    from_difference = (f(x_check + 1e-5) - f(x_check - 1e-5)) / 2e-5
errors_at_x = {
    "autograd": (from_autograd - expected).abs().item(),
    "central difference": (from_difference - expected).abs().item(),
}
print(f"f'(1.3) by hand = {expected.item():.6f}")
for name, error in errors_at_x.items():
    print(f"  |{name} - by hand| = {error:.1e}")
# Autograd evaluates the terms of df_dx (2x, the same cos(x^2), products) in
# another order: a few eps of |f'| < 3, far under 1e-12 relative.
torch.testing.assert_close(from_autograd, expected, rtol=1e-12, atol=0)
# The difference at h = 1e-5: truncation 2.2e-10 plus rounding below 4.1e-10
# (sin off by 16 eps included; see the cells above and below): under 1e-9.
torch.testing.assert_close(from_difference, expected, rtol=0, atol=1e-9)

# %%
# Checking a whole VJP with one difference
# ----------------------------------------
#
# The basics' map :math:`\mathbb{R}^{N \times 2} \to \mathbb{R}^{N \times 3}`.
# Its whole Jacobian by differences takes one difference per input
# coordinate, :math:`2N`; because rows do not mix, two suffice here (move
# every row's :math:`a` at once, then every row's :math:`b`; checked in the
# next cell). The dot-product test takes one, along a random :math:`u`, with
# :math:`h = 10^{-5}` (near :math:`\varepsilon^{1/3}` in float64).


def batched_map(x):
    a, b = x[:, 0], x[:, 1]
    return torch.stack((a * b, torch.sin(a + b**2), a**2 - 3 * b), dim=1)


generator = torch.Generator().manual_seed(0)
x = 2 * torch.rand(1000, 2, generator=generator, dtype=torch.float64) - 1
u = torch.randn(1000, 2, generator=generator, dtype=torch.float64)
v = torch.randn(1000, 3, generator=generator, dtype=torch.float64)

_, vjp_result = torch.autograd.functional.vjp(batched_map, x, v)
h = 1e-5
directional = (batched_map(x + h * u) - batched_map(x - h * u)) / (2 * h)
left, right = (vjp_result * u).sum(), (v * directional).sum()
print(f"<v^T J, u> = {left.item():.10f}")
print(f"<v, FD>    = {right.item():.10f}")
# The finite difference is good to about 1e-10 relative here (measured above).
torch.testing.assert_close(left, right, rtol=1e-8, atol=1e-8)

# %%
# The two differences that give every row's :math:`3 \times 2` Jacobian,
# against :func:`torch.func.jacrev` of one row, mapped over the rows:

by_two_differences = torch.stack(
    [
        (batched_map(x + h * e) - batched_map(x - h * e)) / (2 * h)
        for e in (
            torch.tensor([1.0, 0.0], dtype=torch.float64),
            torch.tensor([0.0, 1.0], dtype=torch.float64),
        )
    ],
    dim=2,
)  # (N, 3, 2)
per_row = torch.func.vmap(torch.func.jacrev(lambda row: batched_map(row[None])[0]))(x)
shape = tuple(by_two_differences.shape)
print(
    f"2 differences for all {x.shape[0]} rows: shape {shape}, "
    f"max |error| = {(by_two_differences - per_row).abs().max().item():.1e}"
)
# Truncation: h^2 / 6 times a third derivative along a or b, at most 20 for
# |a|, |b| <= 1 (the b-derivative of sin(a + b^2)): 3.3e-10. Rounding: a few
# eps times |f| < 4, over 2h: 1e-10. So under 1e-9 on any machine.
torch.testing.assert_close(by_two_differences, per_row, rtol=0, atol=1e-8)

# %%
# ``gradcheck`` and ``gradgradcheck``
# ------------------------------------
#
# :func:`torch.autograd.gradcheck` compares every entry of the autograd
# Jacobian with finite differences; :func:`torch.autograd.gradgradcheck` does
# the same for the derivative of the backward pass (second order). Both want
# float64 inputs.

x64 = torch.randn(6, generator=generator, dtype=torch.float64, requires_grad=True)
assert torch.autograd.gradcheck(f, (x64,))
assert torch.autograd.gradgradcheck(f, (x64,))
print("gradcheck and gradgradcheck pass in float64")

# %%
# A real bug it catches: a ``detach`` in the wrong place turns
# :math:`x \cdot x` into a function whose autograd derivative is :math:`x`
# instead of :math:`2x`. The forward values are right, so only a derivative
# check can see it.


def square_with_bug(x):
    return x * x.detach()


torch.testing.assert_close(square_with_bug(x64), x64**2)  # same values
try:
    torch.autograd.gradcheck(square_with_bug, (x64,))
    raise AssertionError("gradcheck missed the bug")
except GradcheckError as error:
    print("GradcheckError:", str(error).splitlines()[0])

# %%
# .. _gradcheck-float32:
#
# ``gradcheck`` in float32: the step, not the dtype
# --------------------------------------------------
#
# With its defaults, ``gradcheck`` fails the same correct function in
# float32, and PyTorch warns that it wants float64:

x32 = x64.detach().float().requires_grad_()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        torch.autograd.gradcheck(f, (x32,))
        raise AssertionError("gradcheck passed in float32")
    except GradcheckError as error:
        print("default eps = 1e-6:")
        print("  GradcheckError:", str(error).splitlines()[0])
warning = "warning: " + str(caught[0].message).strip()
print(textwrap.fill(warning, width=86, subsequent_indent="  "))

# %%
# The cause is the step. ``gradcheck`` differentiates with ``eps=1e-6``:
# within a factor of 30 of float64's best step found above, and more
# than 50 times smaller than float32's, where rounding dominates (the cell
# checks both). The same central
# difference at both steps, against the exact derivative and against
# ``gradcheck``'s default tolerance, ``atol + rtol * |numerical|`` with
# ``atol=1e-5``, ``rtol=1e-3``:

best_h = {dtype: steps[errors[dtype].argmin()].item() for dtype in errors}
# Widened to where the best steps can fall on any machine. The grid has four
# steps a decade; at h = 1e-5 the float64 error is below 7e-10 (truncation
# 2.2e-10, rounding 4.1e-10 even with sin off by 16 eps). From the next step
# but one, 3.16e-5, up, every error here is above 1.5e-9 (asserted below);
# only sin's last bits differ between machines, moving each error by at most
# 2 x 1.3e-10 there, so it stays above 7e-10 and the best step is at most
# 1.78e-5 (< 30e-6). Below 1e-7 (float64) or 1e-4 (float32) all possible
# quotients, f's ulp / 2h apart, miss f' by more than the best error.
assert errors[torch.float64][steps > 3e-5].min() > 1.5e-9
assert 0.05 < best_h[torch.float64] / 1e-6 < 30 and best_h[torch.float32] / 1e-6 > 50

h32 = torch.finfo(torch.float32).eps ** (1 / 3)
exact_at_x = df_dx(x64.detach())
fd_error, within_tolerance = {}, {}
for h_step in (1e-6, h32):
    central32 = (
        (f(x32.detach() + h_step) - f(x32.detach() - h_step)) / (2 * h_step)
    ).double()
    error = (central32 - exact_at_x).abs()
    fd_error[h_step] = error.max().item()
    within_tolerance[h_step] = bool((error <= 1e-5 + 1e-3 * central32.abs()).all())
    print(
        f"float32, h = {h_step:.1e}: max |error| = {fd_error[h_step]:.1e}, "
        f"within gradcheck's tolerance: {within_tolerance[h_step]}"
    )
# At h = 1e-6 float32's rounding of x +- h and of f gives errors up to ~0.1,
# far outside; at eps^(1/3) they stay below 3e-4 (sin off by 16 eps), inside.
assert not within_tolerance[1e-6] and within_tolerance[h32]

# %%
# With ``eps`` set to :math:`\varepsilon^{1/3}` (the tolerances stay the
# defaults), ``gradcheck`` passes the correct function in float32 and still
# catches the bug, whose error :math:`|x|` is far above the
# finite-difference error at that step:

assert x64.abs().min() > 100 * fd_error[h32]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the float64 warning above, again
    assert torch.autograd.gradcheck(f, (x32,), eps=h32)
    print(f"eps = {h32:.1e}: gradcheck passes the correct function in float32")
    try:
        torch.autograd.gradcheck(square_with_bug, (x32,), eps=h32)
        raise AssertionError("gradcheck missed the bug in float32")
    except GradcheckError as error:
        print(f"eps = {h32:.1e}: on the bug,")
        print("  GradcheckError:", str(error).splitlines()[0])

# %%
# What ``gradcheck`` lets through: its tolerances, in any dtype
# --------------------------------------------------------------
#
# ``gradcheck`` accepts an analytical derivative within
# ``atol + rtol * |numerical|`` of the finite difference, so an error below
# that is not seen, in float64 too. A function whose autograd derivative is
# :math:`(1 + \delta) f'(x)` (its value is :math:`f`, the extra term is zero
# in value) makes that visible: :math:`\delta = 10^{-3}` passes the
# defaults. To see smaller errors, tighten ``rtol`` and ``atol`` as well,
# down to what the finite difference allows. In float64 with ``eps=1e-6``
# it is good to :math:`10^{-9}` here, so ``rtol = atol = 1e-8`` catches
# :math:`\delta = 10^{-5}` and still passes the correct function. In
# float32 the floor is the difference's own error, printed above for
# :math:`h = \varepsilon^{1/3}`.

defaults = inspect.signature(torch.autograd.gradcheck).parameters
print(
    "gradcheck's defaults:",
    {name: defaults[name].default for name in ("eps", "atol", "rtol")},
)
assert (defaults["atol"].default, defaults["rtol"].default) == (1e-5, 1e-3)


def with_relative_error(delta):
    """f, whose autograd derivative is (1 + delta) f'."""
    return lambda x: f(x) + delta * (f(x) - f(x).detach())


def gradcheck_passes(delta, **tolerances):
    return torch.autograd.gradcheck(
        with_relative_error(delta), (x64,), raise_exception=False, **tolerances
    )


tight = {"rtol": 1e-8, "atol": 1e-8}
for delta in (1e-3, 1e-5, 0.0):
    print(
        f"relative error {delta:.0e}: with the defaults",
        "passes" if gradcheck_passes(delta) else "caught",
        "| with rtol = atol = 1e-8:",
        "passes" if gradcheck_passes(delta, **tight) else "caught",
    )
# delta = 1e-3: the error is 1e-3 |f'| plus the float64 difference's ~1e-10,
# inside rtol |f'| + atol = 1e-3 |f'| + 1e-5. At 1e-8: the difference's error
# stays below 1e-9 (truncation 1e-12 |f'''| / 6, rounding a few eps |f| / 1e-6),
# while 1e-5 |f'| exceeds 1e-8 (1 + |f'|) at all these x (|f'| > 0.3).
assert gradcheck_passes(1e-3) and gradcheck_passes(1e-5)
assert not gradcheck_passes(1e-5, **tight) and gradcheck_passes(0.0, **tight)

# %%
# The picture
# -----------
#
# The errors of the first section against the step. Right of the best step
# truncation dominates and falls as :math:`h^2` (the dotted line); left of
# it rounding dominates and grows as :math:`1/h`, scattered by the last
# bits. float32's floor is far higher than float64's, and at a larger step,
# as :math:`\varepsilon^{1/3}` predicts.

fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
for dtype, color in ((torch.float32, "C3"), (torch.float64, "C0")):
    ax.loglog(
        steps.numpy(),
        errors[dtype].clamp(min=1e-17).numpy(),
        "o-",
        ms=3,
        color=color,
        label=str(dtype),
    )
ax.loglog(
    steps.numpy(),
    (steps**2 / 6 * 12).numpy(),
    "k:",
    lw=1,
    label=r"$\propto h^2$ (truncation)",
)
ax.set_xlabel("step $h$")
ax.set_ylabel("|central difference - exact|")
ax.set_ylim(1e-13, 1e2)
ax.set_title("finite-difference error of $f'(1.3)$")
ax.legend()
plt.show()

# %%
# What to remember
# ----------------
#
# * A central difference with :math:`h \approx \varepsilon^{1/3}` is
#   typically accurate to a few :math:`\varepsilon^{2/3}`: :math:`10^{-10}`
#   in float64, :math:`10^{-4}` in float32 (one step may do better by luck,
#   with no way to tell which). Check gradients in float64.
# * ``gradcheck``'s default ``eps=1e-6`` suits float64 only. In float32 pass
#   ``eps`` near :math:`\varepsilon^{1/3}`.
# * What ``gradcheck`` lets through is set by ``atol`` and ``rtol``
#   (``1e-5`` and ``1e-3``), not by the dtype: a relative error of
#   :math:`10^{-3}` passes in float64. Tighten them too, as far as the
#   finite difference's own error allows (``1e-8`` in float64 here).
# * One difference along a random direction checks a whole VJP through
#   :math:`\langle v^\top J, u\rangle = \langle v, Ju\rangle`.
# * ``gradcheck`` finds bugs that leave the forward values right.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_02_vjp_arguments_and_errors.py`.
# Reference: :func:`torch.autograd.gradcheck.gradcheck`,
# :func:`torch.autograd.gradcheck.gradgradcheck`, :func:`torch.func.jacrev`,
# :func:`torch.func.vmap`.
