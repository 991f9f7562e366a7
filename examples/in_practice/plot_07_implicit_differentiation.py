r"""
VJPs through a linear solve and a fixed point, without unrolling
================================================================

Some outputs are defined by an equation rather than by a sequence of
operations: :math:`x` with :math:`Ax = b`, or :math:`x^\star` with
:math:`x^\star = T(x^\star, \theta)` reached by iterating :math:`T`.
Backpropagating through every iteration works, but what it saves for
backward grows with the number of iterations (here one tensor per
iteration after the first), and it differentiates the iterates rather than
the solution. The implicit function theorem gives the VJP from the
equation alone. This page
writes that VJP for a linear solve and, as a custom
:class:`torch.autograd.Function`, for a fixed point, and compares it with
backpropagation through the unrolled loop on accuracy and on the bytes
saved for backward.
"""

# %%
# The maths
# ---------
#
# A linear solve
# ~~~~~~~~~~~~~~
#
# :math:`x = A^{-1} b` with :math:`A \in \mathbb{R}^{n \times n}`,
# :math:`b \in \mathbb{R}^{n}`. Differentiating :math:`Ax = b` gives
# :math:`A\,dx = db - dA\,x`, so for a cotangent :math:`v \in \mathbb{R}^n`
#
# .. math::
#
#    v^\top dx = v^\top A^{-1} (db - dA\,x) = w^\top db - w^\top dA\, x,
#    \qquad w = A^{-\top} v,
#
# that is, the VJPs are
#
# .. math::
#
#    \bar b = w = A^{-\top} v \in \mathbb{R}^{n}, \qquad
#    \bar A = -w\, x^\top \in \mathbb{R}^{n \times n}.
#
# One more solve, with :math:`A^\top`, and an outer product: nothing about
# *how* :math:`x` was computed is needed.
#
# A fixed point
# ~~~~~~~~~~~~~
#
# Now :math:`x^\star(\theta) \in \mathbb{R}^n` solves
# :math:`x^\star = T(x^\star, \theta)` for :math:`\theta \in \mathbb{R}^n`.
# Differentiating the equation,
# :math:`dx^\star = T_x\, dx^\star + T_\theta\, d\theta` with
# :math:`T_x = \partial T / \partial x \in \mathbb{R}^{n \times n}` and
# :math:`T_\theta = \partial T / \partial \theta`, so
# :math:`dx^\star = (I - T_x)^{-1} T_\theta\, d\theta` and
#
# .. math::
#
#    v^\top \frac{\partial x^\star}{\partial \theta} = u^\top T_\theta,
#    \qquad u = v + T_x^\top u.
#
# The *adjoint equation* for :math:`u` is a linear solve with
# :math:`(I - T_x)^\top`. When :math:`T` is a contraction it can be solved
# by iterating :math:`u \leftarrow v + T_x^\top u`, and each step is one VJP
# of :math:`T` with respect to :math:`x`; the last step is one VJP with
# respect to :math:`\theta`. Only :math:`x^\star` and :math:`\theta` are
# needed, not the iterates that led to :math:`x^\star`.
#
# The example: :math:`x^\star` minimises
# :math:`\tfrac12 x^\top A x + \sum_i \log\cosh x_i - \theta^\top x` with
# :math:`A` symmetric, eigenvalues in :math:`[1, 4]`, and :math:`T` is a
# gradient step with step size :math:`\alpha = 1/5`:
#
# .. math::
#
#    T(x, \theta) = x - {\alpha\,(A x + \tanh x - \theta)}, \qquad
#    T_x = I - {\alpha\,(A + D)}, \quad D = {\operatorname{diag}(1 - \tanh^2 x)},
#    \quad T_\theta = \alpha I.
#
# :math:`A + D` has eigenvalues in :math:`[1, 5]`, so :math:`T_x` (symmetric)
# has eigenvalues in :math:`[0, 0.8]` at every :math:`x`: a contraction with
# rate at most 0.8. At :math:`x^\star` itself the spectrum is narrower, and
# its spectral radius :math:`\rho(T_x)` is the rate the iterations near
# :math:`x^\star` actually show. The reference comes from the equation
# directly: with :math:`I - T_x = \alpha (A + D)` and
# :math:`T_\theta = \alpha I`, the hand derivative is
# :math:`v^\top \partial x^\star / \partial \theta = \bigl((A +
# D^\star)^{-1} v\bigr)^\top` (:math:`A + D` is symmetric), with
# :math:`D^\star` at :math:`x^\star`.

# %%
# A linear solve, by hand and by autograd
# ---------------------------------------
#
# The two VJPs of the maths section, for a well-conditioned
# :math:`5 \times 5` system, against autograd's, which differentiates
# :func:`torch.linalg.solve` by its own rule.

import matplotlib.pyplot as plt
import torch
from torch.autograd.graph import saved_tensors_hooks

n = 5
generator = torch.Generator().manual_seed(0)
A = torch.randn(n, n, generator=generator, dtype=torch.float64) + n * torch.eye(
    n, dtype=torch.float64
)
b = torch.randn(n, generator=generator, dtype=torch.float64)
v = torch.randn(n, generator=generator, dtype=torch.float64)

assert torch.linalg.cond(A) < 10, "a well-conditioned A"
x = torch.linalg.solve(A, b)
w = torch.linalg.solve(A.T, v)
expected_grad_b, expected_grad_A = w, -torch.outer(w, x)

A_leaf, b_leaf = A.clone().requires_grad_(), b.clone().requires_grad_()
grad_A_autograd, grad_b_autograd = torch.autograd.grad(
    torch.linalg.solve(A_leaf, b_leaf), (A_leaf, b_leaf), v
)
A_bar_error = (expected_grad_A - grad_A_autograd).abs().max().item()
b_bar_error = (expected_grad_b - grad_b_autograd).abs().max().item()
print(f"max |A-bar by hand - autograd| = {A_bar_error:.1e}")
print(f"max |b-bar by hand - autograd| = {b_bar_error:.1e}")
print(f"smallest |entry| of w: {w.abs().min().item():.3f}")
assert w.abs().min() > 0.16  # the premise of the tolerance below
# x is the same solve on both sides; w comes from two different solves with
# A^T (cond(A) = 3.7, n = 5), each within ~3 n cond eps = 1.2e-14 relative of
# the exact w, whose entries all exceed 0.16 here: inside rtol = 1e-12.
torch.testing.assert_close(expected_grad_A, grad_A_autograd, rtol=1e-12, atol=1e-14)
torch.testing.assert_close(expected_grad_b, grad_b_autograd, rtol=1e-12, atol=1e-14)

# %%
# And against central finite differences of :math:`v^\top A^{-1} b`, one
# entry of :math:`A` or :math:`b` at a time, which use only solves:

eps = 1e-6
fd_A, fd_b = torch.empty_like(A), torch.empty_like(b)
for index in [(i, j) for i in range(n) for j in range(n)]:
    step = torch.zeros_like(A)
    step[index] = eps
    fd_A[index] = (
        v
        @ (torch.linalg.solve(A + step, b) - torch.linalg.solve(A - step, b))
        / (2 * eps)
    )
for i in range(n):
    step = torch.zeros_like(b)
    step[i] = eps
    fd_b[i] = (
        v
        @ (torch.linalg.solve(A, b + step) - torch.linalg.solve(A, b - step))
        / (2 * eps)
    )
fd_error = max(
    (expected_grad_A - fd_A).abs().max(), (expected_grad_b - fd_b).abs().max()
)
print(f"max |by hand - finite differences| = {fd_error.item():.1e}")
# Central differences with step 1e-6: truncation error ~ 1e-12; rounding: each
# solve is off by up to ~3 n cond eps |x| = 8e-15, times |v| = 3.9, over 2e-6:
# up to 3e-8, so atol widened from 1e-8 to 1e-7 (the float64 default).
torch.testing.assert_close(expected_grad_A, fd_A, rtol=1e-7, atol=1e-7)
torch.testing.assert_close(expected_grad_b, fd_b, rtol=1e-7, atol=1e-7)

# %%
# The fixed point, and the reference
# ----------------------------------
#
# The example of the maths section with :math:`n = 8`: :math:`x^\star` by
# Newton's method to machine precision, the hand derivative ``expected``,
# and the spectrum of :math:`T_x` at :math:`x^\star`.

n = 8
Q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
A = Q @ torch.diag(torch.linspace(1, 4, n, dtype=torch.float64)) @ Q.T
theta = 2 * torch.randn(n, generator=generator, dtype=torch.float64)
v = torch.randn(n, generator=generator, dtype=torch.float64)
alpha = 1 / 5


def T(x, theta):
    return x - alpha * (A @ x + torch.tanh(x) - theta)


x_star = torch.zeros(n, dtype=torch.float64)
for _ in range(30):  # Newton's method on A x + tanh(x) - theta = 0
    D = torch.diag(1 - torch.tanh(x_star) ** 2)
    x_star = x_star - torch.linalg.solve(A + D, A @ x_star + torch.tanh(x_star) - theta)
residual = (T(x_star, theta) - x_star).abs().max().item()
D_star = torch.diag(1 - torch.tanh(x_star) ** 2)
expected = torch.linalg.solve(A + D_star, v)  # A + D is symmetric
# Machine precision for this equation: evaluating A x + tanh(x) - theta in
# floating point is off by up to (n + a few) eps times the size of its
# terms, |A| |x| + |tanh x| + |theta|, once at x* and once inside T;
# 4 (n + 4) eps covers both, with eps = 2.2e-16 (float64).
terms = (A.abs() @ x_star.abs() + torch.tanh(x_star).abs() + theta.abs()).max().item()
rounding_bound = alpha * 4 * (n + 4) * torch.finfo(torch.float64).eps * terms
print(f"Newton: |T(x*) - x*| = {residual:.1e} (rounding bound {rounding_bound:.1e})")
assert residual <= rounding_bound

T_x_at_solution = torch.eye(n, dtype=torch.float64) - alpha * (A + D_star)
spectrum = torch.linalg.eigvalsh(T_x_at_solution)
rho = spectrum.abs().max().item()
print(
    f"eigenvalues of T_x at x*: {spectrum.min().item():.3f} to "
    f"{spectrum.max().item():.3f}; rho = {rho:.3f}"
)
# The bound of the maths, [0, 0.8], holds with a margin far above rounding (1e-15).
assert 0 < spectrum.min() and spectrum.max() < 0.8

# %%
# .. _implicit-vjp-custom-function:
#
# The implicit VJP as a custom Function
# -------------------------------------
#
# ``forward`` iterates :math:`T` without recording anything (a custom
# Function's ``forward`` runs with gradients off: the count of saved bytes
# below finds nothing of the loop) and saves :math:`x^\star` and
# :math:`\theta`. ``backward`` evaluates :math:`T` once at
# :math:`x^\star` with gradients on, then runs the adjoint iteration with
# VJPs of that one evaluation, as many steps as the forward pass unless
# told otherwise (``adjoint_steps``).


class FixedPoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta, T, x0, steps, adjoint_steps):
        x = x0
        for _ in range(steps):
            x = T(x, theta)
        ctx.save_for_backward(x, theta)
        ctx.T, ctx.adjoint_steps = T, adjoint_steps
        return x

    @staticmethod
    def backward(ctx, v):
        x_star, theta = ctx.saved_tensors
        with torch.enable_grad():
            x_star, theta = (
                x_star.detach().requires_grad_(),
                theta.detach().requires_grad_(),
            )
            t_value = ctx.T(x_star, theta)
            u = v
            for _ in range(ctx.adjoint_steps):  # u <- v + T_x^T u
                (vjp_x,) = torch.autograd.grad(t_value, x_star, u, retain_graph=True)
                # sphinx_gallery_break = (" + v", "")
                u = v + vjp_x
            (grad_theta,) = torch.autograd.grad(t_value, theta, u)  # T_theta^T u
        return grad_theta, None, None, None, None


def implicit(theta, steps, adjoint_steps=None):
    adjoint_steps = steps if adjoint_steps is None else adjoint_steps
    return FixedPoint.apply(
        theta, T, torch.zeros(n, dtype=torch.float64), steps, adjoint_steps
    )


def unrolled(theta, steps):
    x = torch.zeros(n, dtype=torch.float64)
    for _ in range(steps):
        x = T(x, theta)
    return x


# %%
# The checks
# ----------
#
# After 150 steps both the implicit VJP and backpropagation through the
# unrolled loop should give the hand derivative of the maths section,
# ``expected``, to rounding.

theta_leaf = theta.clone().requires_grad_()
(implicit_grad,) = torch.autograd.grad(implicit(theta_leaf, 150), theta_leaf, v)
(unrolled_grad,) = torch.autograd.grad(unrolled(theta_leaf, 150), theta_leaf, v)
implicit_error = (implicit_grad - expected).abs().max().item()
unrolled_error = (unrolled_grad - expected).abs().max().item()
print(
    f"150 steps: max |implicit - expected| = {implicit_error:.1e},",
    f"max |unrolled - expected| = {unrolled_error:.1e}",
)
# 0.8^150 ~ 3e-15: both have converged to rounding. Each step's rounding
# (a few n eps of terms below ~5) adds up to at most 1 / (1 - 0.8) = 5 times,
# and the reference solve (cond <= 5) is within ~3 n cond eps: ~3e-14 in all.
torch.testing.assert_close(implicit_grad, expected, rtol=1e-12, atol=1e-13)
torch.testing.assert_close(unrolled_grad, expected, rtol=1e-12, atol=1e-13)

# %%
# :func:`torch.autograd.gradcheck` compares the Jacobian that the Function's
# ``backward`` gives with finite differences of its ``forward``:

assert torch.autograd.gradcheck(
    lambda theta: implicit(theta, 150), (theta.clone().requires_grad_(),)
)
print("gradcheck of the implicit VJP: passed")

# %%
# Accuracy for a given number of steps
# ------------------------------------
#
# With :math:`K` steps, the unrolled loop returns the exact derivative of
# the :math:`K`-th iterate :math:`x_K(\theta)`, and its backward makes
# :math:`K - 1` VJPs of :math:`T` with respect to :math:`x` (:math:`x_0 = 0`
# needs none; counted in the next section). The implicit VJP treats
# :math:`x_K` as the solution, and its adjoint iteration makes :math:`K`.
# Near :math:`x^\star` both are partial sums of the same series,
# :math:`v^\top \sum_j T_x^j\, T_\theta`, one term per VJP plus the first,
# and each dropped term is about :math:`\rho(T_x)` times the one before. So
# with equal steps the implicit VJP is closer by about :math:`1/\rho`, for
# one VJP more. With equal VJPs (the implicit one given :math:`K - 1`
# adjoint steps) the two sums would be equal for a linear :math:`T`; here,
# where :math:`T_x` changes along the iterates, their errors are within 20%
# of each other (a ratio between 1 / 1.2 and 1.2).

steps_grid = list(range(5, 101, 5))
variants = {
    "unrolled": unrolled,
    "implicit": implicit,
    "implicit, K - 1 VJPs": lambda theta, K: implicit(theta, K, adjoint_steps=K - 1),
}
errors = {name: [] for name in (*variants, "x_K")}
for steps in steps_grid:
    theta_leaf = theta.clone().requires_grad_()
    for name, method in variants.items():
        (grad_theta,) = torch.autograd.grad(method(theta_leaf, steps), theta_leaf, v)
        errors[name].append((grad_theta - expected).norm().item())
    errors["x_K"].append((unrolled(theta, steps) - x_star).norm().item())
equal_steps = [u / i for u, i in zip(errors["unrolled"], errors["implicit"])]
equal_vjps = [u / i for u, i in zip(errors["unrolled"], errors["implicit, K - 1 VJPs"])]
print("gradient errors; (ratio): the unrolled error divided by the one to its left")
print("  K  |x_K - x*|  unrolled  implicit (ratio)  implicit, K - 1 VJPs (ratio)")
for steps in (10, 30, 50):
    k = steps_grid.index(steps)
    print(
        f"{steps:3d}  {errors['x_K'][k]:10.1e}  {errors['unrolled'][k]:8.1e}",
        f" {errors['implicit'][k]:8.1e}  ({equal_steps[k]:.2f})",
        f" {errors['implicit, K - 1 VJPs'][k]:20.1e}  ({equal_vjps[k]:.2f})",
    )
above_rounding = [k for k, error in enumerate(errors["unrolled"]) if error > 1e-12]
last = above_rounding[-1]
rate = (errors["unrolled"][last] / errors["unrolled"][last - 1]) ** (1 / 5)
print(
    f"rho = {rho:.3f}: the unrolled error shrinks by {rate:.3f} per step",
    f"from K = {steps_grid[last - 1]} to {steps_grid[last]};",
)
print(
    f"at K = {steps_grid[last]} the ratio at equal steps is {equal_steps[last]:.2f},",
    f"1 / rho = {1 / rho:.2f}",
)
# Rounding errors are at most ~3e-14 (see above), so above 1e-12 all three
# errors are truncation, which the maths compares, to within 3% on any machine.
assert all(equal_steps[k] > 1 for k in above_rounding), (
    "with equal steps the implicit VJP is closer"
)
assert all(1 / 1.2 < equal_vjps[k] < 1.2 for k in above_rounding), (
    "with equal VJPs the two are close"
)
assert abs(rate / rho - 1) < 0.02, "near x* the error shrinks by rho per step"
assert abs(equal_steps[last] * rho - 1) < 0.1, (
    "the gain at equal steps tends to 1 / rho"
)

# %%
# What each one computes in backward, and what it keeps
# -----------------------------------------------------
#
# Both backward passes make about :math:`K` VJPs of :math:`T` with respect
# to :math:`x`. :class:`torch.profiler.profile` records each backward
# function autograd runs, by the name of its node (``grad_fn.name()``); the
# ``TanhBackward0`` events count the VJPs of :math:`T`, one each
# (:math:`K - 1` unrolled, since :math:`x_0 = 0` needs no gradient;
# :math:`K` implicit). What
# differs is what the forward pass leaves for backward: the bytes of the
# distinct tensors saved for backward, counted by a
# :class:`torch.autograd.graph.saved_tensors_hooks` pack hook (each storage
# counted once). :math:`A` is left out of the count: both backward passes
# need it, the unrolled one as a saved tensor, the implicit one through
# ``ctx.T``, a Python function that refers to it, which no hook sees (the
# cell checks which one saves it). So the count is the rest of what each
# backward pass holds on to, and it is the part that grows with :math:`K`.
# Not all of it is memory added for backward: the implicit function saves
# only :math:`\theta`, its input, and :math:`x^\star`, its output, which
# exist anyway; the unrolled loop saves :math:`\tanh x_k` at every step after
# the first, each of which would otherwise be freed as the loop moves on.


def saved_bytes_and_backward_calls(method, steps):
    """Bytes saved for backward other than A's, whether A was saved, and
    the number of VJPs of tanh in the backward pass."""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    theta_leaf = theta.clone().requires_grad_()
    with saved_tensors_hooks(pack, lambda tensor: tensor):
        x_K = method(theta_leaf, steps)
    with torch.profiler.profile() as profiled:
        torch.autograd.grad(x_K, theta_leaf, v)
    calls = sum(event.name == "TanhBackward0" for event in profiled.events())
    saved_A = storages.pop(A.untyped_storage().data_ptr(), None) is not None
    return sum(storages.values()), saved_A, calls


memory_grid = [10, 50, 100, 150]
saved = {name: [] for name in ("unrolled", "implicit")}
tanh_vjps = {name: [] for name in saved}
for steps in memory_grid:
    for name, method in {"unrolled": unrolled, "implicit": implicit}.items():
        nbytes, saved_A, calls = saved_bytes_and_backward_calls(method, steps)
        saved[name].append(nbytes)
        tanh_vjps[name].append(calls)
        assert saved_A == (name == "unrolled"), (
            f"{name}: A saved for backward: {saved_A}"
        )
        assert calls == steps - (name == "unrolled"), (
            f"{name}: {calls} VJPs of tanh for K = {steps}"
        )
    unrolled_bytes, implicit_bytes = saved["unrolled"][-1], saved["implicit"][-1]
    print(
        f"K = {steps:3d}: saved for backward: unrolled {unrolled_bytes:5,d} bytes,",
        f"implicit {implicit_bytes:3d} bytes",
    )
print(
    "VJPs of tanh (TanhBackward0): unrolled",
    ", ".join(map(str, tanh_vjps["unrolled"])) + "; implicit",
    ", ".join(map(str, tanh_vjps["implicit"])),
)
print(f"left out of both counts: A, {n * n * 8} bytes")
print("  (saved by the unrolled loop; the implicit one reaches it via T)")
# Implicit: x* and theta, n float64 each, the output and the input: nothing
# added. Unrolled: tanh's output (n float64) at every step after the first
# (x_0 = 0 needs no gradient).
assert saved["implicit"] == [2 * n * 8] * len(memory_grid)
assert saved["unrolled"] == [(steps - 1) * n * 8 for steps in memory_grid]

# %%
# The picture
# -----------

fig, axes = plt.subplots(
    1, 2, figsize=(7.2, 3.8), layout="constrained", width_ratios=(3, 2)
)
axes[0].semilogy(steps_grid, errors["unrolled"], "o-", ms=3, label="unrolled backprop")
axes[0].semilogy(
    steps_grid, errors["implicit"], "s-", ms=3, label="implicit, K adjoint steps"
)
axes[0].semilogy(
    steps_grid,
    errors["implicit, K - 1 VJPs"],
    "^:",
    ms=3,
    label="implicit, K - 1 (as many VJPs)",
)
axes[0].semilogy(
    steps_grid, errors["x_K"], "--", color="0.5", label=r"$\|x_K - x^\star\|$"
)
axes[0].set_xlabel("steps $K$ (forward, and adjoint)")
axes[0].set_title(
    "error of $v^\\top \\partial x^\\star / \\partial\\theta$", fontsize=11
)
axes[0].set_yticks([10.0**k for k in range(-16, 1, 4)])
axes[0].legend(fontsize=8.5)
axes[1].plot(memory_grid, saved["unrolled"], "o-", label="unrolled backprop")
axes[1].plot(memory_grid, saved["implicit"], "s-", label="implicit")
axes[1].set_xlabel("steps $K$")
axes[1].set_ylabel("bytes saved for backward, A left out")
axes[1].set_title("what the forward pass keeps", fontsize=11)
axes[1].legend(fontsize=8.5)
plt.show()

# %%
# What to remember
# ----------------
#
# * A solution of an equation has a VJP from the equation alone: for
#   :math:`Ax = b`, :math:`\bar b = A^{-\top} v` and
#   :math:`\bar A = -\bar b\, x^\top`; for :math:`x^\star = T(x^\star,
#   \theta)`, solve :math:`u = v + T_x^\top u`, then
#   :math:`\bar\theta = T_\theta^\top u`.
# * As a custom Function, the forward pass keeps :math:`x^\star` and
#   :math:`\theta` only, whatever the number of steps; the unrolled loop
#   keeps a tensor at every step after the first (here :math:`\tanh x_k`,
#   :math:`n` numbers). (Both also need :math:`A`, the same for any number
#   of steps.)
# * With the same number of steps the implicit VJP was closer here, by
#   about :math:`1/\rho(T_x)`, because it makes one VJP more: one more term
#   of the same series. With as many VJPs their errors are within 20% of
#   each other; what the implicit VJP saves is memory. It is exact only at
#   a solution, so converge the forward pass (and check with
#   ``gradcheck``).
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_08_nan_and_inf_gradients.py`.
# Reference: :func:`torch.linalg.solve`, :class:`torch.autograd.Function`,
# :func:`torch.autograd.grad`, :func:`torch.autograd.gradcheck.gradcheck`,
# :class:`torch.autograd.graph.saved_tensors_hooks`.
