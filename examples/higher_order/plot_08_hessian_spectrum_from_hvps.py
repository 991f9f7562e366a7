r"""
The spectrum of a network's Hessian from Hessian-vector products
================================================================

How large is the largest curvature of a loss, where are the others, and
what does that cost? The Hessian with respect to a network's parameters is
an :math:`n \times n` matrix; power iteration, Lanczos and stochastic
Lanczos quadrature need only products :math:`Hv`, each a few gradients'
worth of arithmetic. This page computes the top eigenvalue, the top five
and the whole spectral density of a small network's Hessian that way,
counts the products each needs and what one costs against a gradient. It
checks the products against the explicit Hessian times :math:`v`, the
eigenvalues against :func:`torch.linalg.eigvalsh` of the explicit Hessian,
and each probe's quadrature against :math:`v^\top H^p v`, with tolerances
from the maths, the measured rounding defects and LAPACK's eigensolver
error taken as :math:`10 n \varepsilon \lVert H \rVert` where they can be,
and said to be estimates where they are not (beside each check); the
spectral density itself is shown, and its mean compared with the exact one
statistically.
"""

# %%
# The maths
# ---------
#
# A network :math:`f_\theta` with its parameters flattened into
# :math:`\theta \in \mathbb{R}^n`, and a mean squared error over :math:`N`
# samples,
#
# .. math::
#
#    L(\theta) = \frac{1}{N} \sum_{i=1}^{N} \bigl(f_\theta(x_i) - y_i\bigr)^2,
#    \qquad H = \nabla^2 L(\theta) \in \mathbb{R}^{n \times n}, \qquad
#    H = H^\top.
#
# The gradient :math:`\nabla L : \mathbb{R}^n \to \mathbb{R}^n` has Jacobian
# :math:`H`, so :math:`Hv` is a JVP of the gradient (forward-over-reverse)
# and :math:`v^\top H` a VJP of it (double backward); they are equal because
# :math:`H` is symmetric. Either costs a constant number of gradients,
# whatever :math:`n`; the explicit :math:`H` costs :math:`n` products (one
# per column) and :math:`n^2` numbers. With eigenpairs
# :math:`H u_i = \lambda_i u_i`,
# :math:`\lambda_1 \ge \dots \ge \lambda_n`, three methods use only
# products:
#
# * **Power iteration**: :math:`v \leftarrow Hv / \lVert Hv \rVert`. If
#   :math:`\lambda_1 > \nu = \max_{j \ge 2} \lvert \lambda_j \rvert`, the
#   component of :math:`v` off :math:`u_1` shrinks like
#   :math:`(\nu / \lambda_1)^k` after :math:`k` products (:math:`\nu` is the
#   largest absolute value among the other eigenvalues, whatever their
#   sign; :math:`\lambda_2` is the next largest in value, the one
#   Kato–Temple needs). The Rayleigh quotient
#   :math:`\mu = v^\top H v` and the residual :math:`r = \lVert Hv - \mu v
#   \rVert` (unit :math:`v`) bound the error: some eigenvalue lies within
#   :math:`r` of :math:`\mu`, and if :math:`\lambda_2 < \mu`, then
#   :math:`0 \le \lambda_1 - \mu \le r^2 / (\mu - \lambda_2)` (Kato–Temple).
# * **Lanczos**: :math:`k` products build an orthonormal basis
#   :math:`Q_k \in \mathbb{R}^{n \times k}` of
#   :math:`\{q, Hq, \dots, H^{k-1} q\}` and a tridiagonal
#   :math:`T_k = Q_k^\top H Q_k` with
#
#   .. math::
#
#      H Q_k = Q_k T_k + \beta_k q_{k+1} e_k^\top, \qquad
#      T_k = \begin{pmatrix} \alpha_1 & \beta_1 & & \\
#            \beta_1 & \alpha_2 & \ddots & \\ & \ddots & \ddots & \beta_{k-1} \\
#            & & \beta_{k-1} & \alpha_k \end{pmatrix}.
#
#   The eigenvalues :math:`\theta_1 \ge \dots \ge \theta_k` of :math:`T_k`
#   (Ritz values) interlace the spectrum (Cauchy):
#   :math:`\lambda_{n-k+j} \le \theta_j \le \lambda_j`. With :math:`k = n`
#   they *are* the eigenvalues (:math:`T_n = Q_n^\top H Q_n`, :math:`Q_n`
#   orthogonal), provided the Krylov space reaches dimension :math:`n`: the
#   eigenvalues distinct and :math:`q` with a nonzero component along every
#   eigenvector; otherwise some :math:`\beta_m = 0` with :math:`m < n` and
#   the recurrence breaks down. For fewer steps, with
#   :math:`T_k = S \Theta S^\top`, the vector :math:`y_j = Q_k s_j` has
#   residual :math:`\lVert H y_j - \theta_j y_j \rVert = \beta_k \lvert
#   s_{kj} \rvert`, so *an* eigenvalue lies within that of :math:`\theta_j`
#   (which one, it does not say: if :math:`q` is orthogonal to
#   :math:`u_1`, :math:`\theta_1` converges to :math:`\lambda_2` and
#   :math:`\lambda_1` is missed). The extreme ones converge first.
# * **Stochastic Lanczos quadrature**: the spectral density
#   :math:`\phi(t) = \frac{1}{n} \sum_i \delta(t - \lambda_i)`. For a unit
#   vector :math:`v`, :math:`v^\top g(H) v = \sum_i (u_i^\top v)^2
#   g(\lambda_i)`, an integral of :math:`g` against weights that average to
#   :math:`1/n` over random :math:`v`. Lanczos from :math:`q = v` gives its
#   Gauss quadrature: nodes :math:`\theta_j`, weights :math:`\tau_j^2 =
#   s_{1j}^2`, and
#
#   .. math::
#
#      \sum_{j=1}^{k} \tau_j^2 \theta_j^p = e_1^\top T_k^p e_1
#      = v^\top H^p v \qquad \text{for } p \le 2k - 1,
#
#   exact in exact arithmetic. Averaged over a few random :math:`v`, the
#   nodes and weights estimate :math:`\phi`.

# %%
# .. _hessian-wrt-network-parameters:
#
# The Hessian with respect to a network's parameters
# --------------------------------------------------
#
# A small regression network (3 inputs, two hidden layers of 12 and 8
# ``tanh`` units, 161 parameters, float64), trained for a few hundred Adam
# steps so that the Hessian is that of a fitted model. Its layers are
# initialised from a local generator, as PyTorch's own initialisation would
# draw from the global one.

import math

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.func import functional_call, grad, hessian, jvp
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

generator = torch.Generator().manual_seed(0)
model = nn.Sequential(
    nn.Linear(3, 12), nn.Tanh(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1)
).to(torch.float64)
with torch.no_grad():
    for layer in model:
        if isinstance(layer, nn.Linear):
            bound = layer.in_features**-0.5  # PyTorch's default range
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
N = 64
inputs = torch.randn(N, 3, generator=generator, dtype=torch.float64)
direction = torch.tensor([[1.5], [-1.0], [0.5]], dtype=torch.float64)
noise = torch.randn(N, 1, generator=generator, dtype=torch.float64)
targets = torch.sin(inputs @ direction) + 0.1 * noise

optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
for step in range(300):
    optimiser.zero_grad()
    ((model(inputs) - targets) ** 2).mean().backward()
    optimiser.step()
params = {name: p.detach() for name, p in model.named_parameters()}
print(f"training loss {((model(inputs) - targets) ** 2).mean().item():.4f}")

# %%
# :func:`torch.func.hessian` of a function of the parameter *dict* (run
# through the module by :func:`torch.func.functional_call`) gives the
# Hessian as a dict of dicts: one block per pair of parameters, of shape
# ``p.shape + q.shape``.


def loss_of_params(params):
    return ((functional_call(model, params, (inputs,)) - targets) ** 2).mean()


blocks = hessian(loss_of_params)(params)
print(f"{len(blocks)} x {len(blocks['0.weight'])} blocks;", end=" ")
print("blocks['2.weight']['0.bias']:", tuple(blocks["2.weight"]["0.bias"].shape))

# %%
# For linear algebra, one matrix is handier. Flatten the parameters into
# one vector :math:`\theta` and split it back into views inside the loss;
# the Hessian of that function is the :math:`n \times n` matrix, and it is
# the blocks laid side by side, row block :math:`p`, column block :math:`q`.

names = list(params)
shapes = [p.shape for p in params.values()]
sizes = [p.numel() for p in params.values()]


def unflatten(theta):
    return {
        name: piece.view(shape)
        for name, piece, shape in zip(names, theta.split(sizes), shapes)
    }


def loss(theta):
    return loss_of_params(unflatten(theta))


theta = torch.cat([p.reshape(-1) for p in params.values()])
n = theta.numel()
explicit_hessian = hessian(loss)(theta)
from_blocks = torch.cat(
    [
        torch.cat([blocks[row][col].reshape(a, b) for col, b in zip(names, sizes)], 1)
        for row, a in zip(names, sizes)
    ]
)
print(f"n = {n} parameters; the Hessian: {tuple(explicit_hessian.shape)}")
torch.testing.assert_close(explicit_hessian, from_blocks)
torch.testing.assert_close(explicit_hessian, explicit_hessian.T)
print("the blocks, laid out, are the flat Hessian; and it is symmetric")

# %%
# ``explicit_hessian`` is symmetric up to rounding only (its entries
# :math:`\partial_j \partial_i L` and :math:`\partial_i \partial_j L` are
# computed by different products); the checks below use its symmetric part,
# so that the theorems of the maths section, which are about a symmetric
# matrix, apply to the matrix the checks use.

hessian_sym = (explicit_hessian + explicit_hessian.T) / 2

# %%
# .. _hvp-cost-against-a-gradient:
#
# One HVP costs a few gradients
# -----------------------------
#
# Four routes, each a function of :math:`\theta` (and :math:`v`):
# the gradient; :math:`Hv` by double backward; :math:`Hv` by
# forward-over-reverse (``jvp`` of ``grad``); and :math:`Hv` from a
# gradient graph built once (``create_graph=True``) and kept
# (``retain_graph=True``), the route for many products at one point; and,
# for comparison, the explicit Hessian. Each is counted in two ways that
# are the same on every machine: calls of the network (a forward pre-hook)
# and the floating-point operations of its matrix products
# (``FlopCounterMode``, which counts matrix products and convolutions; the
# ``tanh`` and other elementwise operations are not counted). Times are
# medians from :class:`torch.utils.benchmark.Timer` on the machine that built
# the page: shown, not asserted.


def gradient(theta):
    """The gradient by torch.autograd, as the double-backward HVP computes it."""
    theta = theta.detach().requires_grad_()
    (g,) = torch.autograd.grad(loss(theta), theta)
    return g


def hvp_double_backward(theta, v):
    theta = theta.detach().requires_grad_()
    (g,) = torch.autograd.grad(loss(theta), theta, create_graph=True)
    (hv,) = torch.autograd.grad(g, theta, grad_outputs=v)
    return hv


def hvp_forward_over_reverse(theta, v):
    return jvp(grad(loss), (theta,), (v,))[1]


def hvp_at(theta):
    """A function v -> Hv at THETA, which reuses one gradient graph."""
    theta = theta.detach().requires_grad_()
    (g,) = torch.autograd.grad(loss(theta), theta, create_graph=True)

    def hvp(v):
        (hv,) = torch.autograd.grad(g, theta, grad_outputs=v, retain_graph=True)
        return hv

    return hvp


v = torch.randn(n, generator=generator, dtype=torch.float64)
hvp_here = hvp_at(theta)
routes = {
    "gradient": lambda: gradient(theta),
    "HVP, double backward": lambda: hvp_double_backward(theta, v),
    "HVP, jvp of grad": lambda: hvp_forward_over_reverse(theta, v),
    "HVP, kept graph": lambda: hvp_here(v),
    "explicit Hessian": lambda: hessian(loss)(theta),
}
network_calls = []
counting = model.register_forward_pre_hook(lambda module, args: network_calls.append(1))
flops, calls, median_ms = {}, {}, {}
for name, route in routes.items():
    network_calls.clear()
    counter = FlopCounterMode(display=False)
    with counter:
        route()  # counted, and the warm-up for the timer
    flops[name], calls[name] = counter.get_total_flops(), len(network_calls)
counting.remove()
for name, route in routes.items():
    timer = benchmark.Timer(stmt="route()", globals={"route": route}, num_threads=1)
    median_ms[name] = timer.blocked_autorange(min_run_time=0.05).median * 1e3
print(
    f"{'':<22}{'network calls':>14}{'FLOPs (products)':>18}{'/ gradient':>11}"
    f"{'time':>11}"
)
for name in routes:
    ratio = flops[name] / flops["gradient"]
    print(
        f"{name:<22}{calls[name]:>14}{flops[name]:>18,}{ratio:>11.2f}"
        f"{median_ms[name]:>8.2f} ms"
    )
hvps = ["HVP, double backward", "HVP, jvp of grad", "HVP, kept graph"]
# Integers, the same on every machine. A fresh double backward is a gradient
# (recorded) plus one pass through it: the kept graph's product.
assert flops["HVP, double backward"] == flops["gradient"] + flops["HVP, kept graph"]
assert calls["HVP, kept graph"] == 0 and calls["gradient"] == 1
assert all(flops[name] < 4 * flops["gradient"] for name in hvps), flops
assert flops["HVP, kept graph"] < 2 * flops["gradient"], flops
assert flops["explicit Hessian"] > 50 * flops["HVP, double backward"], flops

# %%
# Each route's :math:`Hv` against the explicit (symmetrised) Hessian times
# :math:`v`:

exact_hv = hessian_sym @ v
# Both sides sum the same terms in different orders. The explicit product is
# within n eps |H| |v| entrywise (a length-n dot product per row), so within
# n eps ||H||_F ||v|| in norm; each route's rounding is taken to be of the
# same order (it is about 1e-15 relative, printed), hence twice that.
route_bound = (
    2 * n * torch.finfo(torch.float64).eps * torch.linalg.matrix_norm(hessian_sym)
) * v.norm()
for name in hvps:
    route_error = (routes[name]() - exact_hv).norm()
    print(f"{name:<22}||Hv - H @ v|| / ||H @ v|| = {route_error / exact_hv.norm():.0e}")
    assert route_error <= route_bound, (name, route_error, route_bound)

# %%
# So one :math:`Hv` costs less than four gradients of arithmetic by either
# route (asserted; about three here): double backward is one forward pass,
# one backward pass recorded as a graph and one backward pass through that
# graph; ``jvp`` of ``grad`` is one forward and one backward pass, each
# carrying a tangent (the network is called once, counted above; two of its
# matrix products, 2 × 4,608 FLOPs, multiply the broadcast zero tangent of
# the constant inputs, see :ref:`hvp-routes-counted`). Once the gradient's
# graph is kept, each further
# product costs less than two gradients. The explicit Hessian costs more
# than fifty HVPs (about a hundred here: its :math:`n = 161` columns are
# :math:`n` products sharing one gradient). If an HVP takes twenty times a
# gradient's time, its arithmetic does not explain it. Look instead at the
# time spent running many small operations one by one (the two HVP routes
# count about the same FLOPs; their times are in the table), at rebuilding
# the gradient for every product when many are taken at one point, or at
# :func:`torch.autograd.functional.hvp`, which runs a third backward pass
# (:ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`
# counts it). At :math:`n = 161` the explicit Hessian, one vectorised call,
# is still quick; but it costs :math:`n` products and stores :math:`n^2`
# numbers, while one product costs a fixed number of gradients whatever
# :math:`n` (a gradient's own cost grows with the model) and a method that
# needs :math:`k` products stores at most :math:`k` vectors of :math:`n`.
#
# The methods below take their products from the kept graph, through a
# counter: ``products`` holds how many each run took.

products = 0


def counted(hvp):
    def hvp_counted(v):
        global products
        products += 1
        return hvp(v)

    return hvp_counted


hvp_counted = counted(hvp_here)

# %%
# .. _hessian-top-eigenvalue-power-iteration:
#
# The top eigenvalue by power iteration
# -------------------------------------
#
# Iterate until the residual is below :math:`10^{-10}` of :math:`\lvert \mu
# \rvert`; each iteration is one product. The residual of every iteration
# is kept to see the rate.


def power_iteration(hvp, start, tolerance, max_products):
    """mu, its residual, the last v and Hv, and every mu and relative residual."""
    v = start / start.norm()
    mus, relative_residuals = [], []
    for _ in range(max_products):
        hv = hvp(v)
        mu = v @ hv
        residual = (hv - mu * v).norm()
        mus.append(mu)
        relative_residuals.append((residual / mu.abs()).item())
        if residual <= tolerance * mu.abs():
            break
        v = hv / hv.norm()
    return mu, residual, (v, hv), mus, relative_residuals


start = torch.randn(n, generator=generator, dtype=torch.float64)
products = 0
mu, residual, (v_top, hv_top), power_mus, power_residuals = power_iteration(
    hvp_counted, start, 1e-10, 500
)
power_products = products
print(f"power iteration: mu = {mu.item():.10f}, residual {residual.item():.1e}")
print(f"  {power_products} products to a relative residual of 1e-10")
assert power_products == len(power_residuals) < 500, "converged, one product each"
# The stopping test itself, on the values it compared: true on any machine.
assert residual <= 1e-10 * mu.abs()

# %%
# The rate the maths predicts is :math:`\nu / \lambda_1` per product, read
# here from the explicit spectrum; the residuals of the last twenty
# iterations shrink at that rate. The number of products it predicts for a
# factor :math:`10^{-10}` is of the order of the count above (the start's
# components along :math:`u_1` and :math:`u_2` shift it). That the last
# twenty are already at the asymptotic rate is a property of this start
# and this spectrum, not a theorem; so it is not assumed but computed from
# them: with :math:`c = U^\top v_0` (the start's components), the vector
# after :math:`i` products is proportional to
# :math:`\sum_j c_j \lambda_j^i u_j`, and its residual in exact arithmetic
# follows. The measured rate is checked against that one, and that one
# against :math:`\nu / \lambda_1`.

eigenvalues, eigenvectors = torch.linalg.eigh(hessian_sym)  # ascending
by_size = eigenvalues[eigenvalues.abs().argsort(descending=True)]
rate = (by_size[1] / by_size[0]).abs().item()
print(f"nu / lambda_1 = {rate:.4f}: log(1e-10) / log(rate) =", end=" ")
print(f"{math.log(1e-10) / math.log(rate):.0f} products")
assert by_size[0] == eigenvalues[-1], "the largest in size is the largest: positive"
components = eigenvectors.T @ (start / start.norm())


def exact_relative_residual(i):
    """r / |mu| after i products from the start, in exact arithmetic."""
    weights_i = components**2 * (eigenvalues / eigenvalues[-1]) ** (2 * i)
    mu_i = (weights_i * eigenvalues).sum() / weights_i.sum()
    spread = (weights_i * (eigenvalues - mu_i) ** 2).sum() / weights_i.sum()
    return (spread.sqrt() / mu_i.abs()).item()


exact_residuals = [exact_relative_residual(i) for i in range(len(power_residuals))]
observed = (power_residuals[-1] / power_residuals[-21]) ** (1 / 20)
exact_rate = (exact_residuals[-1] / exact_residuals[-21]) ** (1 / 20)
print(f"rate over the last 20 products: {observed:.4f};", end=" ")
print(f"in exact arithmetic from this start {exact_rate:.4f}")
# Rounding: each product is within n eps ||H||_F of H v (plus the graph's d,
# measured below, 1e-14); components off u_1 decay at the rate, so the errors
# add up to at most 1 / (1 - rate) times one step's, and move a residual
# of order 1e-10 ||H|| (the last ones) by < 1e-2 relative, the 20th root of a
# ratio of two by < 1e-3: 0.01 is ample. Exact arithmetic against the rate:
# a property of this start, computed above (the correction decays like
# (nu_3 / nu)^i, nu_3 the next absolute value after nu, times its c_j).
assert abs(observed - exact_rate) < 0.01, (observed, exact_rate)
assert abs(exact_rate - rate) < 0.01, (exact_rate, rate)

# %%
# .. _hessian-top-eigenvalues-lanczos:
#
# The top eigenvalues by Lanczos
# ------------------------------
#
# Lanczos with full reorthogonalisation: each new vector is made orthogonal
# to every earlier one, twice (after one pass, rounding leaves a component
# of size about :math:`\varepsilon` times what was removed; a second pass
# removes that), which keeps :math:`Q_k` orthonormal to rounding, unless the
# new vector is itself at rounding level (a breakdown, :math:`\beta_m
# \approx 0`), which the defect :math:`F` below would show. It keeps
# all :math:`k` vectors (:math:`O(nk)` memory) and costs :math:`O(nk)` work
# per step on top of the product: fine for a few dozen steps.


def lanczos(hvp, start, steps):
    """T_k, Q_k (as rows) and the residual beta_k q_{k+1} after STEPS products."""
    basis, alphas, betas = [start / start.norm()], [], []
    for step in range(steps):
        w = hvp(basis[-1])
        alphas.append(basis[-1] @ w)
        Q = torch.stack(basis)
        for _ in range(2):  # includes the three-term recurrence's alpha and beta
            w = w - Q.T @ (Q @ w)
        if step < steps - 1:
            betas.append(w.norm())
            basis.append(w / betas[-1])
    off = torch.stack(betas) if betas else torch.zeros(0, dtype=w.dtype)
    T = torch.diag(torch.stack(alphas)) + torch.diag(off, 1) + torch.diag(off, -1)
    return T, torch.stack(basis), w


# %%
# Rounding makes the Lanczos relation hold only approximately. Its defects
# are measured against the explicit (symmetrised) Hessian, and every bound
# below is written in terms of them: :math:`E = H Q_k - Q_k T_k - r e_k^\top`
# (the products' rounding, and that of the explicit :math:`H`),
# :math:`F = Q_k^\top Q_k - I` and :math:`Q_k^\top r`.

eps = torch.finfo(torch.float64).eps
scale = torch.linalg.matrix_norm(hessian_sym, ord=2)  # ||H||, for the bounds


def lanczos_defects(T, Q, r):
    """||E||, ||F|| and ||Q^T r|| of a Lanczos run (Q as rows)."""
    k = T.shape[0]
    E = hessian_sym @ Q.T - Q.T @ T
    E[:, -1] -= r  # r e_k^T
    F = Q @ Q.T - torch.eye(k, dtype=T.dtype)
    return (
        torch.linalg.matrix_norm(E, ord=2),
        torch.linalg.matrix_norm(F, ord=2),
        (Q @ r).norm(),
    )


# %%
# With :math:`k = n` steps the Ritz values are the eigenvalues (no
# breakdown: the smallest :math:`\beta_m` is printed). Here :math:`r` is part
# of :math:`E` (it is zero in exact arithmetic). With :math:`P = (I +
# F)^{1/2}`, :math:`U = Q_n P^{-1}` is orthogonal, so :math:`U^\top H U` has
# the eigenvalues of :math:`H`, and :math:`U^\top H U - T_n = P T_n P^{-1} -
# T_n + P^{-1} Q_n^\top E P^{-1}` has norm at most :math:`(2 \lVert T_n
# \rVert \lVert F \rVert + \lVert E \rVert \sqrt{(1 + \lVert F \rVert) /
# (1 - \lVert F \rVert)}) / \sqrt{1 - \lVert F \rVert}`. Both matrices are
# symmetric, so by Weyl's inequality their eigenvalues, *sorted*, differ by
# at most that; each of the two symmetric eigensolvers adds
# :math:`p(n)\, \varepsilon \lVert H \rVert` (LAPACK's bound, :math:`p(n)`
# a modest function of :math:`n`; :math:`10 n` is assumed here).

products = 0
T_full, Q_full, r_full = lanczos(hvp_counted, start, n)
full_products = products
error_E, error_F, _ = lanczos_defects(T_full, Q_full, torch.zeros_like(r_full))
ritz_full = torch.linalg.eigvalsh(T_full)
full_error = (ritz_full - eigenvalues).abs().max()
print(f"k = n = {n} steps ({full_products} products):", end=" ")
print(f"max |Ritz value - eigenvalue| = {full_error.item():.1e}")
smallest_beta = torch.diagonal(T_full, 1).abs().min()
print(f"  ||E|| = {error_E.item():.1e}, ||F|| = {error_F.item():.1e},", end=" ")
print(f"smallest beta_m = {smallest_beta.item():.1e}")
# Far above rounding level (n eps ||H||): no breakdown.
assert smallest_beta > 1e3 * n * eps * scale
# Weyl with the measured E and F, and p(n) = 10 n for each eigensolver.
assert error_F < 0.5
T_norm = torch.linalg.matrix_norm(T_full, ord=2)
full_bound = (
    2 * T_norm * error_F + error_E * ((1 + error_F) / (1 - error_F)) ** 0.5
) / (1 - error_F) ** 0.5 + 2 * 10 * n * eps * scale
assert full_products == n and full_error <= full_bound, (full_error, full_bound)

# %%
# With :math:`k = 30` steps, the five largest Ritz values have converged:
# their residual bounds :math:`\beta_k \lvert s_{kj} \rvert` are tiny
# (printed). The bound each is printed with adds the rounding terms (the
# measured defects and an assumed :math:`p(k) = 10 k` for ``eigh``), which
# dominate it and are the same for all five. Every Ritz value interlaces
# the spectrum:
# :math:`\lambda_{n-k+j} \le \theta_j \le \lambda_j` (checked for all
# thirty, up to the rounding slack in the comment), so in particular none
# lies outside :math:`[\lambda_n, \lambda_1]`.

k = 30
products = 0
T, Q, r = lanczos(hvp_counted, start, k)
lanczos_products = products
ritz, S = torch.linalg.eigh(T)  # ascending
ritz, S = ritz.flip(0), S.flip(1)  # largest first
error_E, error_F, leak = lanczos_defects(T, Q, r)
beta_k = r.norm()
# For unit y = Q s (norm within sqrt(1 +- ||F||) of 1): ||H y - theta y|| is at most
# beta_k |s_kj| + ||E||; rounding of eigh(T) adds p(k) eps ||T||, p(k) = 10 k assumed.
assert error_F < 0.5
converged = beta_k * S[-1].abs()
ritz_bounds = (converged + error_E) / (1 - error_F) ** 0.5 + 10 * k * eps * scale
print(f"k = {k} steps ({lanczos_products} products); the five largest Ritz values:")
for value, residual_j, bound in zip(ritz[:5], converged[:5], ritz_bounds[:5]):
    print(f"  {value.item():.10f}  beta_k |s_kj| = {residual_j.item():.0e};", end=" ")
    print(f"with rounding: an eigenvalue within {bound.item():.1e}")
# eigh's rounding of s_kj, about p(k) eps ||T|| / gap (gaps > 0.5 here), could
# raise these to ~1e-12 on another machine.
assert (converged[:5] < 1e-10).all(), converged[:5]
# Cauchy interlacing holds for U^T H U, U orthonormal. T_k = Q^T H Q - F T - Q^T r
# e_k^T - Q^T E, and Q = U (I + F)^(1/2): by Weyl the eigenvalues move by at most
# ||E|| (1 + ||F||) + 2 ||F|| ||H|| + ||Q^T r|| in all, plus eigh's and eigvalsh's
# p eps ||H|| (p = 10 n for both).
slack = 2 * error_E + 2 * error_F * scale + leak + 2 * 10 * n * eps * scale
ascending = eigenvalues  # lambda_n <= ... <= lambda_1
lower, upper = ascending[:k].flip(0), ascending[n - k :].flip(0)  # j = 1..k
assert ((lower - slack <= ritz) & (ritz <= upper + slack)).all()
assert lanczos_products == k

# %%
# The checks
# ----------
#
# The top eigenvalue from power iteration and the top five from
# :math:`k = 30` Lanczos steps, against :func:`torch.linalg.eigvalsh` of
# the explicit Hessian. For :math:`\mu`, the Kato–Temple bound :math:`r^2 /
# (\mu - \lambda_2)`; it needs :math:`\lambda_2`, which products alone do
# not give (here it comes from the explicit spectrum). For each Ritz value
# :math:`\theta_j`, the residual bound puts *an* eigenvalue within it
# (checked); that this eigenvalue is :math:`\lambda_j`, that Lanczos has
# missed none above it, the products cannot tell. The Kaniel–Paige–Saad
# bound says so from the start's angle :math:`\phi_j` to :math:`u_j`
# (taken from the explicit eigenvectors): in exact arithmetic
#
# .. math::
#
#    \begin{aligned}
#    0 \le \lambda_j - \theta_j &\le (\lambda_j - \lambda_n)
#    \Bigl(\frac{K_j \tan \phi_j}{C_{k-j}(1 + 2 \gamma_j)} \Bigr)^2, \\
#    \gamma_j &= \frac{\lambda_j - \lambda_{j+1}}{\lambda_{j+1} - \lambda_n},
#    \\
#    K_j &= \prod_{i<j} \frac{\theta_i - \lambda_n}{\theta_i - \lambda_j},
#    \end{aligned}
#
# :math:`C_m` the Chebyshev polynomial of degree :math:`m`. It is tiny here,
# so :math:`\theta_j` is near :math:`\lambda_j` and far from its
# neighbours (checked, with the rounding slack), and :math:`\lvert
# \theta_j - \lambda_j \rvert` is within the residual bound.

# sphinx_gallery_break = ("hessian_sym)", "hessian_sym[:-1, :-1])")
expected = torch.linalg.eigvalsh(hessian_sym).flip(0)  # largest first
power_error = (expected[0] - mu).item()
# Kato-Temple holds for rho = v^T H v, H the symmetrised explicit Hessian. The
# product from the graph differs from H v by d (measured; H v itself within
# n eps ||H||_F), so |mu - rho| <= d + 2 n eps ||H||_F and the residual for rho
# is within 2 (d + 2 n eps ||H||_F) of the computed one; eigvalsh adds
# p(n) eps ||H||, p(n) = 10 n. So lambda_1 - mu lies in [-off, s^2 / gap + off].
d = (hv_top - hessian_sym @ v_top).norm()
off = d + 2 * n * eps * torch.linalg.matrix_norm(hessian_sym) + 10 * n * eps * scale
s = residual + 2 * off
assert mu - off > expected[1]
power_bound = s**2 / (mu - off - expected[1]) + off
print(f"power iteration: lambda_1 - mu = {power_error:.1e}", end=" ")
print(f"(bound {power_bound.item():.1e})")
assert -off <= power_error <= power_bound
# What the products give: an eigenvalue within each bound (plus eigvalsh's).
nearest = (ritz[:5, None] - expected[None, :]).abs().min(1).values
assert (nearest <= ritz_bounds[:5] + 10 * n * eps * scale).all()
# Which one: Kaniel-Paige-Saad, from the start's components along u_1..u_5.
cosines = (eigenvectors.flip(1)[:, :5].T @ (start / start.norm())).abs()
kaniel_paige_saad = []
for j in range(5):
    gamma = (expected[j] - expected[j + 1]) / (expected[j + 1] - expected[-1])
    K = torch.prod((ritz[:j] - expected[-1]) / (ritz[:j] - expected[j]))
    chebyshev = torch.cosh((k - 1 - j) * torch.acosh(1 + 2 * gamma))
    tangent = (1 - cosines[j] ** 2).sqrt() / cosines[j]
    kaniel_paige_saad.append(
        (expected[j] - expected[-1]) * (K * tangent / chebyshev) ** 2
    )
kaniel_paige_saad = torch.stack(kaniel_paige_saad)
print("Kaniel-Paige-Saad, in exact arithmetic:")
print("  lambda_j - theta_j <=", end=" ")
print(" ".join(f"{e:.0e}" for e in kaniel_paige_saad.tolist()))
# An exact-arithmetic bound; the computed basis spans the Krylov space up to
# rounding of the order of the defects (1e-14). Together with interlacing
# (theta_j <= lambda_j + slack), theta_j is within kps + slack of lambda_j, and
# much closer to it than to lambda_{j-1} or lambda_{j+1}: the eigenvalue the
# residual bound finds is lambda_j.
above = torch.cat([expected.new_tensor([math.inf]), expected[:4]])  # lambda_{j-1}
gaps = torch.minimum(expected[:5] - expected[1:6], above - expected[:5])
assert (kaniel_paige_saad + slack + ritz_bounds[:5] < gaps / 2).all()
lanczos_errors = (ritz[:5] - expected[:5]).abs()
print("Lanczos: |theta_j - lambda_j|, j = 1..5:", end=" ")
print(" ".join(f"{e:.0e}" for e in lanczos_errors.tolist()))
assert (lanczos_errors <= ritz_bounds[:5] + 10 * n * eps * scale).all()

# %%
# For the same 30 products, power iteration's relative residual is still
# about :math:`10^{-4}` (what exact arithmetic gives from this start,
# checked), and it has one eigenvalue; Lanczos has five, with the residual
# bounds printed above. What holds from any start: power iteration's vector
# after :math:`j - 1` products is in the Krylov space of :math:`j` Lanczos
# steps,
# and the largest Ritz value :math:`\theta_1` of :math:`T_j` is the largest
# Rayleigh quotient over that space, so power iteration's :math:`j`-th
# :math:`\mu` is never above it, nor it above :math:`\lambda_1` (checked for
# every :math:`j \le k`, up to the interlacing slack above).

print(f"after {k} products, power iteration's relative residual", end=" ")
print(f"{power_residuals[k - 1]:.1e} (exact: {exact_residuals[k - 1]:.1e})")
# As for the rate above: rounding moves a residual of 1e-4 ||H|| by < 1e-6.
assert abs(power_residuals[k - 1] / exact_residuals[k - 1] - 1) < 1e-6
for j in range(1, k + 1):
    largest_ritz = torch.linalg.eigvalsh(T[:j, :j])[-1]
    assert power_mus[j - 1] <= largest_ritz + slack <= expected[0] + 2 * slack

# %%
# .. _hessian-spectral-density-lanczos-quadrature:
#
# The spectral density by stochastic Lanczos quadrature
# -----------------------------------------------------
#
# Eight random unit probes, :math:`k = 30` Lanczos steps each: 240 products.
# For each probe the quadrature nodes are the Ritz values and the weights
# the squared first components of :math:`T_k`'s eigenvectors.

probes = 8
products = 0
nodes, weights, moment_checks = [], [], []
for probe in range(probes):
    start_probe = torch.randn(n, generator=generator, dtype=torch.float64)
    T_probe, Q_probe, r_probe = lanczos(hvp_counted, start_probe, k)
    theta_probe, S_probe = torch.linalg.eigh(T_probe)
    nodes.append(theta_probe)
    weights.append(S_probe[0] ** 2)
    moment_checks.append((T_probe, Q_probe, r_probe))
quadrature_products = products
nodes, weights = torch.stack(nodes), torch.stack(weights)
print(f"quadrature: {probes} probes x {k} steps = {quadrature_products} products")
assert quadrature_products == probes * k

# %%
# The provable check is the Gauss quadrature's exactness: for each probe,
# :math:`\sum_j \tau_j^2 \theta_j^p = v^\top H^p v` for
# :math:`p = 0, \dots, 2k - 1 = 59`. Both sides are scaled by
# :math:`s^p`, :math:`s = \max(\lVert H \rVert, \lVert T_k \rVert)`
# (about 17.65 here, the largest eigenvalue; its 59th power would swamp
# any comparison), and the right-hand side is computed
# with the explicit Hessian, independently of the products. In exact
# arithmetic they are equal. With rounding, writing
# :math:`H^a q = Q_k T_k^a e_1 + \sum_{i<a} H^{a-1-i} E T_k^i e_1` for
# :math:`a < k` and :math:`p = a + b`, the difference is at most (to first
# order, in units of :math:`s^p`) :math:`p \lVert E \rVert / s +
# \lVert F \rVert + \lVert Q_k^\top r \rVert / s`, plus the rounding of
# evaluating both sides (:math:`p` products
# with :math:`H`, each within :math:`n \varepsilon \lVert H \rVert_F`, and
# the eigendecomposition of :math:`T_k`).

top_moment = 2 * k - 1
worst = 0.0
for (T_probe, Q_probe, r_probe), theta_probe, w_probe in zip(
    moment_checks, nodes, weights
):
    probe_E, probe_F, probe_leak = lanczos_defects(T_probe, Q_probe, r_probe)
    scale_p = torch.maximum(scale, torch.linalg.matrix_norm(T_probe, ord=2))
    powers = torch.arange(top_moment + 1, dtype=torch.float64)
    quadrature = (w_probe * (theta_probe / scale_p) ** powers[:, None]).sum(1)
    q, moments = Q_probe[0], []
    for p in range(top_moment + 1):
        moments.append(Q_probe[0] @ q)
        q = hessian_sym @ q / scale_p
    moments = torch.stack(moments)
    # p products with H (each within n eps ||H||_F) and eigh(T)'s p(k) eps ||T||
    # per power, p(k) = 10 k; the two sums of n and k terms
    evaluation = (
        powers * (n * torch.linalg.matrix_norm(hessian_sym) / scale_p + 10 * k) + 2 * n
    )
    # First order in the measured defects, doubled for the neglected products
    # of them (all below 1e-10) and the norms of Q and y near 1; see above.
    bound = 2 * (
        powers * probe_E / scale_p + probe_F + probe_leak / scale_p + evaluation * eps
    )
    moment_errors = (quadrature - moments).abs()
    assert (moment_errors <= bound).all(), (moment_errors - bound).max()
    worst = max(worst, (moment_errors / bound).max().item())
print(f"moments 0..{top_moment} of every probe: quadrature = v^T H^p v;", end=" ")
print(f"largest error / bound: {worst:.2f}")

# %%
# What the probes estimate is random: the mean of :math:`v^\top H^p v` over
# probes estimates :math:`\operatorname{tr}(H^p) / n`, the :math:`p`-th
# moment of :math:`\phi`, with an error that shrinks like :math:`1 /
# \sqrt{\text{probes}}`. For the mean eigenvalue (:math:`p = 1`): for
# :math:`v` uniform on the unit sphere, :math:`v^\top H v` has mean
# :math:`\operatorname{tr}(H)/n` and variance :math:`\frac{2}{n+2}
# \bigl(\operatorname{tr}(H^2)/n - (\operatorname{tr}(H)/n)^2\bigr)`, so the
# mean of eight has the standard deviation printed. Its error here is
# checked to be under ten of them, which by Chebyshev's inequality fails
# for at most one start in a hundred: a check of this seeded case, not a
# theorem. Each probe's weights sum to 1 (the squares of the first row of
# an orthogonal matrix):

quadrature_mean = (weights * nodes).sum(1).mean()
exact_mean = hessian_sym.trace() / n
variance = 2 / (n + 2) * ((hessian_sym**2).sum() / n - exact_mean**2)
standard_deviation = (variance / probes).sqrt()
print(f"mean eigenvalue: quadrature {quadrature_mean.item():.4f},", end=" ")
print(f"exact trace(H) / n {exact_mean.item():.4f},", end=" ")
print(f"sd {standard_deviation.item():.4f}")
assert (quadrature_mean - exact_mean).abs() < 10 * standard_deviation
torch.testing.assert_close(weights.sum(1), torch.ones(probes, dtype=torch.float64))

# %%
# The picture
# -----------
#
# Left: the relative residual of the top eigenvalue against the number of
# products, for power iteration (with the rate the maths predicts) and for
# Lanczos (the residual bound :math:`\beta_k \lvert s_{k1} \rvert /
# \theta_1` of its largest Ritz value, recomputed after each step, plus the
# rounding terms of the bound above, which set its floor). Right:
# the spectral density, smoothed by a Gaussian of width :math:`\sigma`: the
# exact one from the 161 eigenvalues, and the quadrature's from 240 products.

lanczos_residuals = []
for steps in range(1, k + 1):
    values, vectors = torch.linalg.eigh(T[:steps, :steps])
    beta = T[steps, steps - 1] if steps < k else beta_k
    bound = beta * vectors[-1, -1].abs() + error_E + 10 * k * eps * scale
    lanczos_residuals.append((bound / values[-1]).item())

sigma = 0.15
grid = torch.linspace(-1.0, 18.0, 800, dtype=torch.float64)


def smoothed(points, masses):
    kernel = torch.exp(-0.5 * ((grid[:, None] - points[None, :]) / sigma) ** 2)
    return (kernel * masses).sum(1) / (sigma * math.sqrt(2 * math.pi))


exact_density = smoothed(eigenvalues, torch.full((n,), 1.0 / n, dtype=torch.float64))
quadrature_density = smoothed(nodes.reshape(-1), weights.reshape(-1) / probes)

fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.3), layout="constrained")
steps_power = range(1, len(power_residuals) + 1)  # products
left.semilogy(
    steps_power,
    [power_residuals[-1] * rate ** (j - steps_power[-1]) for j in steps_power],
    color="0.75",
    lw=4,
    label=r"rate $\nu/\lambda_1$ (maths)",
)
left.semilogy(steps_power, power_residuals, color="C0", label="power iteration")
left.semilogy(range(1, k + 1), lanczos_residuals, color="C3", label="Lanczos")
left.axhline(1e-10, color="0.6", lw=0.8)
left.set_xlabel("Hessian-vector products")
left.set_ylabel("relative residual, top eigenvalue")
left.legend(fontsize=8)
right.semilogy(grid.numpy(), exact_density.numpy(), color="0.6", lw=3, label="exact")
right.semilogy(
    grid.numpy(), quadrature_density.numpy(), color="C3", label="Lanczos quadrature"
)
right.set_ylim(1e-4, 10)
right.set_xlabel(r"eigenvalue $\lambda$")
right.set_ylabel(rf"density ($\sigma$ = {sigma})")
right.legend(fontsize=8)
fig.suptitle(f"Hessian of a {n}-parameter network, from products only", fontsize=10)
plt.show()

# %%
# What to remember
# ----------------
#
# * The Hessian with respect to parameters: :func:`torch.func.hessian` of
#   :func:`~torch.func.functional_call` gives blocks per parameter pair;
#   flatten the parameters into one vector to get the matrix.
# * One :math:`Hv` costs about three gradients of arithmetic, by double
#   backward or ``jvp`` of ``grad``; for many products at one point, keep
#   the gradient's graph. Count before timing a "20x" HVP.
# * Power iteration needs about :math:`\log \text{tol} / \log (\nu /
#   \lambda_1)` products for one eigenvalue. Lanczos, with the same
#   products, gives several, its Ritz values interlace the spectrum, and at
#   :math:`k = n` they are the spectrum (barring a breakdown). Which
#   eigenvalue a Ritz value has found, the products alone do not say.
#   Stochastic Lanczos quadrature turns a few Lanczos runs into an
#   estimate of the spectral density: each probe's quadrature gives its
#   own :math:`v^\top H^p v` exactly for :math:`p \le 2k - 1`, and their
#   mean estimates :math:`\operatorname{tr}(H^p)/n`, with a random error
#   that shrinks like :math:`1/\sqrt{\text{probes}}`.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_01_checking_gradients.py`.
# Reference: :func:`torch.func.hessian`, :func:`torch.func.functional_call`,
# :func:`torch.func.jvp`, :func:`torch.func.grad`, :func:`torch.autograd.grad`,
# :func:`torch.linalg.eigvalsh`, :func:`torch.linalg.eigh`,
# :class:`torch.utils.benchmark.Timer`, ``FlopCounterMode``.
