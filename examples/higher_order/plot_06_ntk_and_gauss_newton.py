r"""
Neural tangent kernels and Gauss–Newton steps from one Jacobian
===============================================================

The Jacobian :math:`J` of a model's outputs with respect to its parameters
appears twice in practice: as :math:`J J^\top`, the empirical neural tangent
kernel (NTK), and as :math:`J^\top J`, the Gauss–Newton matrix of a
least-squares fit. Neither needs :math:`J` itself: each product with a vector
is one VJP and one JVP, in one order or the other. This page computes the NTK
of a small network matrix-free and checks it against explicit Jacobians, then
fits a curve with Levenberg–Marquardt steps whose only access to :math:`J` is
through :func:`torch.func.linearize` and :func:`torch.func.vjp`.
"""

# %%
# The maths
# ---------
#
# For a model :math:`f(\theta, x)` with :math:`P` parameters evaluated at
# :math:`N` inputs, :math:`J = \partial f / \partial \theta \in
# \mathbb{R}^{N \times P}`. The two matrices and their products are
#
# .. math::
#
#    \Theta = J J^\top \in \mathbb{R}^{N \times N}, \qquad
#    \Theta v = J \,(J^\top v): \text{ a VJP, then a JVP},
#
#    G = J^\top J \in \mathbb{R}^{P \times P}, \qquad
#    G u = J^\top (J u): \text{ a JVP, then a VJP}.
#
# :math:`J^\top v` is parameter-shaped (a dictionary of tensors like the
# model's parameters); :math:`J u` is output-shaped. With
# :math:`J = U S V^\top` (singular value decomposition),
# :math:`\Theta = U S^2 U^\top` and :math:`G = V S^2 V^\top`: the two share
# their non-zero eigenvalues.
#
# A least-squares fit minimises :math:`L(\theta) = \tfrac12 \lVert r(\theta)
# \rVert^2` for residuals :math:`r \in \mathbb{R}^N` with Jacobian :math:`J`;
# its gradient is :math:`J^\top r`, and a Levenberg–Marquardt step solves
#
# .. math::
#
#    (J^\top J + \lambda I)\, \delta = -J^\top r,
#
# which is a Gauss–Newton step when :math:`\lambda = 0`. Conjugate gradients
# (CG) solve it with products :math:`(G + \lambda I) u` alone.

# %%
# .. _empirical-ntk:
#
# The empirical NTK of a small network
# ------------------------------------
#
# :func:`torch.func.functional_call` makes the parameters an argument, so
# the network is a function of :math:`\theta` that ``torch.func`` can
# differentiate.

import warnings

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.func import functional_call, jacrev, jvp, linearize, vjp, vmap
from torch.utils.flop_counter import FlopCounterMode

generator = torch.Generator().manual_seed(0)
model = nn.Sequential(
    nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)
).to(torch.float64)
params = {  # seeded parameters, used instead of the module's own
    name: torch.randn(p.shape, generator=generator, dtype=torch.float64)
    / (p.shape[1] ** 0.5 if p.dim() == 2 else 1)
    for name, p in model.named_parameters()
}
N = 50
x = torch.linspace(-2, 2, N, dtype=torch.float64).reshape(N, 1)


def network(params, x):
    return functional_call(model, params, (x,)).squeeze(-1)  # (N,)


def ntk_vector_product(v):
    """Theta v = J (J^T v): a VJP, then a JVP; J is never formed."""
    _, pullback = vjp(lambda p: network(p, x), params)
    (parameter_shaped,) = pullback(v)  # J^T v, a dict like params
    return jvp(lambda p: network(p, x), (params,), (parameter_shaped,))[1]


def matmul_flops(fn):
    with FlopCounterMode(display=False) as counter:
        result = fn()
    return result, counter.get_total_flops()


# The explicit route: J (one row per input, by jacrev), then J J^T.
jacobian_dict, flops_jacobian = matmul_flops(lambda: jacrev(network)(params, x))
J = torch.cat([block.reshape(N, -1) for block in jacobian_dict.values()], dim=1)
ntk_explicit, flops_product = matmul_flops(lambda: J @ J.T)
P = J.shape[1]
print(f"J: {tuple(J.shape)} (N x P)   NTK: {tuple(ntk_explicit.shape)}")

v = torch.randn(N, generator=generator, dtype=torch.float64)
ntk_v, flops_ntk_v = matmul_flops(lambda: ntk_vector_product(v))
ntk_matrix_free, flops_ntk_full = matmul_flops(
    lambda: vmap(ntk_vector_product)(torch.eye(N, dtype=torch.float64))
)
# Row j of the vmapped result is Theta e_j, column j of Theta (symmetric).
product_error = (ntk_v - ntk_explicit @ v).abs().max().item()
matrix_error = (ntk_matrix_free - ntk_explicit).abs().max().item()
print(f"max |Theta v (VJP then JVP) - J J^T v| = {product_error:.1e}")
print(f"max |vmapped products - J J^T| = {matrix_error:.1e}")
# Rounding, at worst: J J^T sums P = 1153 products per entry, and both routes sum over N
# = 50 and through the layers, ~1500 roundings in all, each within eps/2 = 1.1e-16 of
# the sizes of the terms, which add to (|J| |J|^T |v|)_i <= 846 here: 1500 * 1.1e-16 *
# 846 = 1.4e-10, hence atol 2e-10.
torch.testing.assert_close(ntk_v, ntk_explicit @ v, rtol=1e-10, atol=2e-10)
# Entry by entry the same bound, 1500 * 1.1e-16 (|J| |J|^T)_ij, is ~80 times under rtol
# 1e-10 |Theta_ij|: no entry cancels to below 13% of (|J| |J|^T)_ij.
torch.testing.assert_close(ntk_matrix_free, ntk_explicit, rtol=1e-10, atol=1e-12)

# %%
# What each route costs, in matmul FLOPs counted by
# ``FlopCounterMode`` (of the operations it
# counts, this network runs only matrix products; its elementwise operations,
# such as :math:`\tanh` and the bias additions, are not counted):

_, flops_forward = matmul_flops(lambda: network(params, x))
print(f"one forward pass:                  {flops_forward:>10,} FLOPs")
print(
    f"one product Theta v:               {flops_ntk_v:>10,} FLOPs"
    f" ({flops_ntk_v / flops_forward:.1f} forward passes)"
)
print(f"full NTK, vmapped products:        {flops_ntk_full:>10,} FLOPs")
print(
    f"full NTK, explicit J then J J^T:   {flops_jacobian + flops_product:>10,} FLOPs"
    f"  (J holds {N * P:,} numbers)"
)
assert flops_ntk_v <= 8 * flops_forward, "one NTK product costs a few forward passes"
assert flops_ntk_full > flops_jacobian + flops_product, (
    "for the full kernel, the explicit route is cheaper here"
)

# %%
# One product costs a handful of forward passes and stores no
# :math:`N \times P` matrix, which is what iterative methods (CG, Lanczos)
# need. For the *whole* kernel of this small network, forming :math:`J`
# first takes fewer FLOPs than :math:`N` vmapped products. The two counts
# grow differently with :math:`N` and :math:`P`, so for other sizes and
# architectures the balance can differ: count it as above.
#
# Gauss–Newton products with ``linearize``
# -----------------------------------------
#
# The fit: :math:`y_n = a e^{-b t_n} + c + \varepsilon_n` at :math:`N = 40`
# times, with noise of standard deviation 0.02, for
# :math:`\theta = (a, b, c)`. Residuals and their Jacobian by hand:
#
# .. math::
#
#    r_n(\theta) = a e^{-b t_n} + c - y_n, \qquad
#    J_{n,:} = \bigl(e^{-b t_n},\; -a t_n e^{-b t_n},\; 1\bigr),
#    \quad J \in \mathbb{R}^{40 \times 3}.
#
# :func:`torch.func.linearize` evaluates the residuals and returns
# ``jvp_fn``, :math:`u \mapsto J u`, which replays a recorded graph instead of
# calling the function again. :func:`torch.func.vjp` gives
# :math:`w \mapsto J^\top w`. A counter shows how often the residual function
# runs. ``linearize`` keeps what the replay needs for as long as ``jvp_fn``
# lives, and its documentation warns that it therefore needs more memory
# than :func:`torch.func.jvp`, and that when all the tangents are known at
# once, ``vmap`` over ``jvp`` may be the better choice. It suits CG, whose
# tangents arrive one at a time, each computed from the product before; the
# last section, whose tangents are the columns of an identity matrix, uses
# ``vmap`` over ``jvp`` instead.

n_data = 40
t = torch.linspace(0, 4, n_data, dtype=torch.float64)
theta_true = torch.tensor([2.0, 1.3, 0.5], dtype=torch.float64)
y = theta_true[0] * torch.exp(-theta_true[1] * t) + theta_true[2]
y = y + 0.02 * torch.randn(n_data, generator=generator, dtype=torch.float64)

evaluations = 0


def residuals(theta):
    global evaluations
    evaluations += 1
    a, b, c = theta
    return a * torch.exp(-b * t) + c - y


def jacobian_by_hand(theta):
    a, b, c = theta
    decay = torch.exp(-b * t)
    return torch.stack([decay, -a * t * decay, torch.ones_like(t)], dim=1)  # (40, 3)


def linearise(theta):
    """r(theta), u -> J u, and w -> J^T w."""
    with warnings.catch_warnings():
        # torch 2.13's linearize warns from inside its own graph folding
        # ("Attempted to insert a get_attr Node ..."), whatever the function.
        warnings.filterwarnings("ignore", message="Attempted to insert a get_attr Node")
        r, jvp_fn = linearize(residuals, theta)
    _, vjp_fn = vjp(residuals, theta)
    # sphinx_gallery_break = ("(w", "(w.flip(0)")
    return r, jvp_fn, lambda w: vjp_fn(w)[0]


assert (
    "higher memory requirements" in linearize.__doc__
    and "vmap(jvp)" in linearize.__doc__
)

theta_start = torch.tensor([1.0, 0.3, 0.0], dtype=torch.float64)
evaluations = 0
r, J_times, J_transpose_times = linearise(theta_start)
setup_evaluations = evaluations
u = torch.randn(3, generator=generator, dtype=torch.float64)
gauss_newton_u = J_transpose_times(J_times(u))
print(
    f"residual evaluations: {setup_evaluations} to set up,"
    f" {evaluations - setup_evaluations} for a product J^T J u"
)
# linearize 2, vjp 1
assert (setup_evaluations, evaluations - setup_evaluations) == (3, 0)

J_start = jacobian_by_hand(theta_start)
gauss_newton_error = (gauss_newton_u - J_start.T @ J_start @ u).abs().max().item()
print(f"max |J^T (J u) - explicit J^T J u| = {gauss_newton_error:.1e}")
# Each entry of J^T J u and J^T r as a fraction of the sizes of its terms, |J|^T |J| |u|
# and |J|^T |r|.
size_fraction = torch.cat(
    [
        (J_start.T @ (J_start @ u)).abs()
        / (J_start.abs().T @ (J_start.abs() @ u.abs())),
        (J_start.T @ r).abs() / (J_start.abs().T @ r.abs()),
    ]
)
print(f"smallest entry / size of its terms: {size_fraction.min().item():.2f}")
# Sums of 3, then of 40 products: within ~50 eps of the sizes of their terms. Every
# entry is at least half of those sizes (little cancellation; asserted), so both routes
# are within ~100 eps relative of the exact products: well within rtol 1e-12 = 4500 eps.
assert size_fraction.min() > 0.5, size_fraction
torch.testing.assert_close(
    gauss_newton_u, J_start.T @ (J_start @ u), rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(J_transpose_times(r), J_start.T @ r, rtol=1e-12, atol=1e-12)

# %%
# Levenberg–Marquardt with conjugate gradients
# --------------------------------------------
#
# CG solves :math:`(G + \lambda I)\delta = -J^\top r` from products alone; in
# exact arithmetic it ends within :math:`P = 3` iterations. In floating
# point, the damped solves of Levenberg–Marquardt still end after three (the
# residual is then rounding, checked below); the undamped Gauss–Newton solves
# far from the solution, where :math:`G` is badly conditioned, take a fourth
# at some steps, and the page asserts the count for LM, and for GN only at
# its worst-conditioned step. A step is kept if it lowers the loss (then
# :math:`\lambda` shrinks), otherwise :math:`\lambda` grows and the step is
# retried. With :math:`\lambda = 0` every step is kept: plain Gauss–Newton.
#
# The fit stops once :math:`\lVert g \rVert \le 10^{-6}`, with
# :math:`g = J^\top r`. Near the minimum a step lowers the loss
# :math:`\tfrac12 \lVert r \rVert^2` by about
# :math:`\tfrac12 g^\top G^{-1} g`, quadratically small in the gradient. Run
# on past the tolerance (done once below), the loop reaches steps whose
# computed change of :math:`\lVert r \rVert` is about :math:`10^{-15}` of
# itself, the size of rounding (here some even come out positive, and the
# step is rejected): whether such a step is kept would then depend on the
# machine's last bits, and so would the final gradient. With this tolerance
# every accept-or-reject test is decided by far more than rounding, and the
# code checks that too.


def conjugate_gradients(apply_matrix, rhs, max_iterations=10, rtol=1e-10):
    """The solution, and |residual| / |rhs| after each iteration (their number is
    the iteration count)."""
    solution = torch.zeros_like(rhs)
    residual, direction = rhs.clone(), rhs.clone()
    relative_residuals = []
    for _ in range(max_iterations):
        matrix_direction = apply_matrix(direction)
        step_length = (residual @ residual) / (direction @ matrix_direction)
        solution = solution + step_length * direction
        new_residual = residual - step_length * matrix_direction
        relative_residuals.append((new_residual.norm() / rhs.norm()).item())
        if new_residual.norm() <= rtol * rhs.norm():
            break
        direction = (
            new_residual
            + (new_residual @ new_residual) / (residual @ residual) * direction
        )
        residual = new_residual
    return solution, relative_residuals


def fit(theta, damping, max_steps, gradient_tolerance=1e-6, check_against_dense=True):
    history = []
    for _ in range(max_steps):
        r, J_times, J_transpose_times = linearise(theta)
        gradient = J_transpose_times(r)
        history.append(
            {
                "theta": theta,
                "residual_norm": r.norm().item(),
                "gradient_norm": gradient.norm().item(),
            }
        )
        if gradient.norm() <= gradient_tolerance:
            break
        step, cg_residuals = conjugate_gradients(
            lambda u: J_transpose_times(J_times(u)) + damping * u, -gradient
        )
        J_dense = jacobian_by_hand(theta)
        matrix = J_dense.T @ J_dense + damping * torch.eye(3, dtype=torch.float64)
        history[-1].update(
            cg_iterations=len(cg_residuals),
            cg_residuals=cg_residuals,
            cond=torch.linalg.cond(matrix).item(),
        )
        if check_against_dense:
            dense_step = torch.linalg.solve(matrix, -J_dense.T @ r)
            eps = torch.finfo(torch.float64).eps
            bound = history[-1]["cond"] * (1e-10 + 100 * eps) * dense_step.norm().item()
            # CG against a dense solve with the hand Jacobian. CG stops at a residual of
            # 1e-10 |rhs| and the solve is backward stable: each is within bound = cond
            # (1e-10 + 100 eps) |step| of the exact step (cond reaches 1e6 far from the
            # solution).
            torch.testing.assert_close(step, dense_step, rtol=0, atol=2 * bound)
        if damping == 0:
            theta = theta + step
            continue
        change = (residuals(theta + step).norm() - r.norm()).item()
        history[-1]["relative_change"] = change / r.norm().item()
        if change < 0:
            theta, damping = theta + step, damping / 3
        else:
            damping = damping * 4
    return history


gauss_newton = fit(theta_start, damping=0.0, max_steps=6)
levenberg_marquardt = fit(theta_start, damping=1.0, max_steps=20)
for name, history in [
    ("Gauss-Newton", gauss_newton),
    ("Levenberg-Marquardt", levenberg_marquardt),
]:
    norms = ", ".join(f"{h['residual_norm']:.3g}" for h in history)
    print(f"{name}: |r| per iteration = {norms}")
lm_steps = levenberg_marquardt[:-1]
print(
    "CG iterations per LM step:",
    [h["cg_iterations"] for h in lm_steps],
    " per GN step:",
    [h["cg_iterations"] for h in gauss_newton],
)
after_second = min(h["cg_residuals"][1] for h in lm_steps)
after_third = max(h["cg_residuals"][2] for h in lm_steps)
print(
    f"LM's CG: cond(G + lambda I) <= {max(h['cond'] for h in lm_steps):.0f};"
    " |residual| / |rhs|"
)
print(
    f"  after the 2nd iteration >= {after_second:.1e},"
    f" after the 3rd <= {after_third:.1e}"
)
# P = 3: in exact arithmetic the residual after the third iteration is 0; in floating
# point it is rounding, which the page measures rather than bounds (the rough estimate
# ~100 eps cond |rhs| misses this page's solves by up to 40 times either way). Measured
# here: after the third at most 5.5e-14 |rhs|, 1,800 times below the 1e-10 stop (the
# site's tests with other machines' last bits see up to 4e-13, still 250 times below);
# after the second at least 1.1e-2 |rhs|, the error of a two-term approximation, far
# above it. So every LM solve takes exactly three iterations.
assert (
    max(h["cond"] for h in lm_steps) < 100
    and after_second > 1e-8
    and after_third < 1e-11
)
assert all(h["cg_iterations"] == 3 for h in lm_steps)
fourth = [h for h in gauss_newton if h["cg_iterations"] == 4]
print("GN steps with a fourth CG iteration:")
print("  cond(G) =", ", ".join(f"{h['cond']:.0e}" for h in fourth))
print(
    "  |residual| / |rhs| after the 3rd:",
    ", ".join(f"{h['cg_residuals'][2]:.0e}" for h in fourth),
)
# Measured, not from an estimate (~100 eps cond(G) |rhs| gives 2e-8 for cond 9e5, where
# 8e-7 is printed): the worst-conditioned GN solve is left 8e-7 |rhs| after the third
# iteration, 8,000 times the 1e-10 stop, so it takes a fourth on any machine. The GN
# solves with cond(G) <= 1.6e3 end after three here, at 3e-12 |rhs| at most: 30 times
# below the stop, too thin a margin to assert: of GN's counts, only this one is.
worst = max(gauss_newton, key=lambda h: h["cond"])
assert worst["cond"] > 1e5 and worst["cg_residuals"][2] > 1e-8, worst
assert worst["cg_iterations"] == 4
changes = [h["relative_change"] for h in lm_steps]
print("relative change of |r| per tried step:")
print(" ", ", ".join(f"{c:.1e}" for c in changes))
assert levenberg_marquardt[-1]["gradient_norm"] <= 1e-6, (
    "LM stopped on its tolerance, not on max_steps"
)
# Every accept-or-reject test was decided by far more than rounding moves
# |r|: each of the 40 residuals is off by a few eps (2.2e-16) times its
# terms (at most 3), so |r| = 0.12 moves by under 1e-14, 1e-13 relative.
assert min(abs(c) for c in changes) > 1e-12, (
    "a step was kept or rejected by a margin rounding could flip"
)

# Run on: the same loop, from the same start, for four steps past where the tolerance
# stopped it (no tolerance, and no dense comparison: its rhs, J_dense^T r, and CG's, the
# VJP, differ by rounding, which is no longer negligible next to a gradient below 1e-6).
run_on = fit(
    theta_start,
    damping=1.0,
    max_steps=len(levenberg_marquardt) + 3,
    gradient_tolerance=0.0,
    check_against_dense=False,
)
run_on_changes = [h["relative_change"] for h in run_on[len(lm_steps) :]]
print(
    "run on: relative change of |r| per tried step:",
    ", ".join(f"{c:.1e}" for c in run_on_changes),
)
# Each true change shrinks as the gradient squared (1e-12, then ~1e-17); the computed
# one adds the rounding of two |r|, under 1e-13 relative (as above): a change that small
# is rounding.
assert min(abs(c) for c in run_on_changes) < 1e-13, (
    "the run-on steps should reach rounding"
)

# %%
# From this start, plain Gauss–Newton overshoots and its loss explodes;
# the damped steps converge. At the end the gradient, computed from the hand
# Jacobian, is within the stopping tolerance, and the loss is no larger than
# at the true parameters (which the noisy data do not fit exactly).

theta_fit = levenberg_marquardt[-1]["theta"]
r_fit = residuals(theta_fit)
gradient_at_fit = jacobian_by_hand(theta_fit).T @ r_fit
loss_fit = 0.5 * (r_fit @ r_fit).item()
loss_true = 0.5 * (residuals(theta_true) ** 2).sum().item()
print(
    f"fitted (a, b, c) = ({theta_fit[0]:.4f}, {theta_fit[1]:.4f}, {theta_fit[2]:.4f}),"
    f" true (2, 1.3, 0.5)"
)
print(
    f"loss {loss_fit:.6f} (at the true parameters {loss_true:.6f}),"
    f" max |J^T r| = {gradient_at_fit.abs().max().item():.1e}"
)
assert (
    max(h["residual_norm"] for h in gauss_newton)
    > 100 * gauss_newton[0]["residual_norm"]
), "GN should blow up here"
assert loss_fit <= loss_true, (
    "the least-squares minimum is at most the loss at the true parameters"
)
# The loop stopped with |J^T r| <= 1e-6 (VJP); the hand Jacobian's gradient
# agrees with it to rounding (1e-15 here), so its largest entry is within it too.
torch.testing.assert_close(
    gradient_at_fit, torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-6
)

# %%
# The NTK of the fitted curve and its Gauss–Newton matrix
# -------------------------------------------------------
#
# At the solution, the matrix-free NTK (VJP then JVP, :math:`40 \times 40`)
# and the Gauss–Newton matrix built from three products (JVP then VJP,
# :math:`3 \times 3`). Here every tangent is known in advance (the columns
# of an identity matrix), so the JVPs are ``vmap`` over
# :func:`torch.func.jvp`, as ``linearize``'s documentation suggests for that
# case, not a replay of ``linearize``'s graph.

_, fit_vjp_fn = vjp(residuals, theta_fit)


def J_times_at_fit(u):
    return jvp(residuals, (theta_fit,), (u,))[1]


fit_ntk = vmap(lambda w: J_times_at_fit(fit_vjp_fn(w)[0]))(
    torch.eye(n_data, dtype=torch.float64)
)
fit_gauss_newton = vmap(lambda u: fit_vjp_fn(J_times_at_fit(u))[0])(
    torch.eye(3, dtype=torch.float64)
)
print(
    f"NTK {tuple(fit_ntk.shape)}, Gauss–Newton matrix {tuple(fit_gauss_newton.shape)}"
)

# %%
# The checks
# ----------
#
# Both matrices entry by entry against :math:`J J^\top` (``expected``) and
# :math:`J^\top J` (``expected_gauss_newton``) from the hand Jacobian. Then
# the maths: :math:`J J^\top` has rank 3, and its three non-zero
# eigenvalues are those of :math:`J^\top J` (as for any :math:`AB` and
# :math:`BA`, so this second check alone would not catch a wrong product).

J_fit = jacobian_by_hand(theta_fit)
expected, expected_gauss_newton = J_fit @ J_fit.T, J_fit.T @ J_fit
fit_ntk_error = (fit_ntk - expected).abs().max().item()
fit_gauss_newton_error = (fit_gauss_newton - expected_gauss_newton).abs().max().item()
print(
    f"max |NTK - J J^T| = {fit_ntk_error:.1e},"
    f" max |GN matrix - J^T J| = {fit_gauss_newton_error:.1e} (hand J)"
)
# Every entry sums terms of one sign (J's columns: e^{-bt} > 0, -a t e^{-bt} <= 0, and
# 1), so no cancellation: each route is within a few tens of eps (exp, products, sums of
# 3 or 40) of the exact entry, relative. Well within rtol 1e-12 = 4500 eps; a wrong VJP
# or JVP is off by O(1).
torch.testing.assert_close(fit_ntk, expected, rtol=1e-12, atol=0)
torch.testing.assert_close(fit_gauss_newton, expected_gauss_newton, rtol=1e-12, atol=0)
ntk_eigenvalues = torch.linalg.eigvalsh(fit_ntk)[-3:]
gauss_newton_eigenvalues = torch.linalg.eigvalsh(fit_gauss_newton)
print("largest eigenvalues of J J^T:", ntk_eigenvalues)
print("eigenvalues of J^T J:        ", gauss_newton_eigenvalues)
# The exact eigenvalues agree, and the other 37 are 0. Rounding of the matrices (sums of
# 3 terms) and eigvalsh's (~N eps ||J||^2) move them by under 50 eps 44.6 = 5e-13: far
# below 1e-10 * 0.96 and 1e-10.
torch.testing.assert_close(
    ntk_eigenvalues, gauss_newton_eigenvalues, rtol=1e-10, atol=1e-12
)
assert torch.linalg.eigvalsh(fit_ntk)[:-3].abs().max() < 1e-10, "the other 37 are zero"

# %%
# The picture
# -----------

fig, axes = plt.subplot_mosaic(
    [["ntk", "fit"], ["convergence", "convergence"]],
    figsize=(7.2, 6.0),
    layout="constrained",
)
axes = [axes["ntk"], axes["fit"], axes["convergence"]]
image = axes[0].imshow(ntk_explicit.numpy(), cmap="viridis", extent=(-2, 2, 2, -2))
axes[0].set_title("empirical NTK $\\Theta(x, x')$", fontsize=10)
axes[0].set_xlabel("$x'$")
axes[0].set_ylabel("$x$")
axes[0].set_xticks(range(-2, 3))
axes[0].set_yticks(range(-2, 3))
fig.colorbar(image, ax=axes[0], shrink=0.8)
fine_t = torch.linspace(0, 4, 200, dtype=torch.float64)
axes[1].plot(t.numpy(), y.numpy(), "o", ms=3, color="0.5", label="data")
axes[1].plot(
    fine_t.numpy(),
    (theta_fit[0] * torch.exp(-theta_fit[1] * fine_t) + theta_fit[2]).numpy(),
    label="LM fit",
)
axes[1].plot(
    fine_t.numpy(),
    (theta_start[0] * torch.exp(-theta_start[1] * fine_t) + theta_start[2]).numpy(),
    "--",
    label="start",
)
axes[1].set_xlabel("$t$")
axes[1].set_title("$a e^{-bt} + c$", fontsize=10)
axes[1].legend(fontsize=9)
for name, history, style in [
    ("Gauss-Newton", gauss_newton, "s--"),
    ("Levenberg-Marquardt", levenberg_marquardt, "o-"),
]:
    axes[2].semilogy(
        [h["residual_norm"] for h in history], style, label=f"{name}: $\\|r\\|$"
    )
axes[2].semilogy(
    [h["gradient_norm"] for h in levenberg_marquardt],
    "^:",
    label="LM: $\\|J^\\top r\\|$",
)
axes[2].set_xlabel("iteration")
axes[2].set_title("convergence", fontsize=10)
axes[2].legend(fontsize=9, loc="lower left")
plt.show()

# %%
# What to remember
# ----------------
#
# * :math:`J J^\top v` (NTK) is a VJP then a JVP; :math:`J^\top J u`
#   (Gauss–Newton) is a JVP then a VJP. Neither forms :math:`J`, and the two
#   matrices share their non-zero eigenvalues.
# * :func:`torch.func.linearize` evaluates the function twice up front;
#   each JVP after that replays the recorded graph without calling the
#   function, which suits the repeated products of CG. It keeps that graph,
#   at a cost in memory: when all tangents are known at once, ``vmap`` over
#   :func:`torch.func.jvp` is the documented alternative.
# * One product costs a few forward passes; whether a full kernel is cheaper
#   matrix-free or through :math:`J` depends on the sizes: count it.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_07_differentiating_through_training_steps.py`.
# Reference: :func:`torch.func.functional_call`, :func:`torch.func.vjp`,
# :func:`torch.func.jvp`, :func:`torch.func.linearize`, :func:`torch.func.vmap`,
# :func:`torch.func.jacrev`, ``torch.utils.flop_counter.FlopCounterMode``.
