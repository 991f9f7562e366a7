r"""
A physics-informed residual, and where to sample its points
===========================================================

Physics-informed training fits a network :math:`u_\theta(x)` so that an
equation holds at many points, here :math:`u'(x) = \cos x`. That needs the
derivative of the network with respect to its *input* at every point of a
batch, which is the basics' :math:`v = \mathbf{1}` pattern. Which points to
train on is a question for the gradient of each point's loss with respect to
the *parameters*: among the unbiased estimates that draw points
independently (with replacement) and reweight them, drawing each point in
proportion to the norm of that gradient gives the least variance at the
current parameters. That needs every point's gradient, so it is a benchmark
for cheap rules rather than a sampler. Both are checked against an
independent computation.
"""

# %%
# The maths
# ---------
#
# A network applied row by row to :math:`x \in \mathbb{R}^{N \times 1}` gives
# :math:`u \in \mathbb{R}^{N \times 1}` whose Jacobian is block-diagonal
# (diagonal here): :math:`u_n` depends on :math:`x_n` only. So one VJP with
# :math:`v = \mathbf{1}` returns :math:`u'_\theta(x_n)` at every point,
# provided each row has one scalar output and nothing in the network mixes
# samples (no batch normalisation in training mode); what each broken
# condition gives instead is in
# :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`.
# The residual and the loss are
#
# .. math::
#
#    r_n(\theta) = u'_\theta(x_n) - \cos x_n, \qquad
#    L(\theta) = \frac{1}{N} \sum_{n=1}^{N} \ell_n(\theta)
#    + u_\theta(0)^2, \quad \ell_n = r_n^2.
#
# :math:`u' = \cos` fixes :math:`u` only up to a constant; the term
# :math:`u_\theta(0)^2` pins :math:`u(0) = 0`, so :math:`u \to \sin x`.
# Training differentiates :math:`L` with respect to :math:`\theta` through
# :math:`u'`, so the first VJP needs ``create_graph=True``.
#
# A mini-batch drawn from the :math:`N` points would estimate the gradient of the
# residual term, :math:`\bar g = \frac{1}{N} \sum_n g_n` with
# :math:`g_n = \nabla_\theta \ell_n \in \mathbb{R}^P` (for :math:`P`
# parameters). Drawing point :math:`n` with probability :math:`p_n > 0` and
# taking :math:`\hat g = g_n / (N p_n)` gives :math:`\mathbb{E}[\hat g] = \bar g`
# for every :math:`p`, with variance (the trace of its covariance)
#
# .. math::
#
#    V(p) = \sum_{n=1}^{N} p_n \Bigl\lVert \frac{g_n}{N p_n} - \bar g
#    \Bigr\rVert^2 = \frac{1}{N^2} \sum_{n=1}^{N}
#    \frac{\lVert g_n \rVert^2}{p_n} - \lVert \bar g \rVert^2
#    \;\ge\; \frac{1}{N^2} \Bigl(\sum_{n=1}^{N} \lVert g_n \rVert\Bigr)^2
#    - \lVert \bar g \rVert^2,
#
# by Cauchy–Schwarz, with equality at :math:`p_n \propto \lVert g_n \rVert`
# (the optimal proposal of importance sampling for SGD; Katharopoulos and
# Fleuret, `arXiv:1803.00942 <https://arxiv.org/abs/1803.00942>`_). This is
# the least variance among estimators of this form, :math:`g_n / (N p_n)`
# with points drawn independently with replacement, and only at the
# :math:`\theta` where the :math:`g_n` were computed. That proposal needs
# every row :math:`g_n`, one per point, and once they are all computed their
# mean is :math:`\bar g` itself, with no sampling left to do. So on this page
# :math:`p_n \propto \lVert g_n \rVert` is a benchmark for cheap rules, not
# a sampler to train with; Katharopoulos and Fleuret sample with a cheaper
# upper bound of the norm. Nabian, Gladstone and Meidani
# (`arXiv:2104.12325 <https://arxiv.org/abs/2104.12325>`_) sample
# collocation points in proportion to the loss :math:`\ell_n`, which needs
# no gradient. Here :math:`g_n = 2 r_n \nabla_\theta u'_\theta(x_n)`: a
# derivative with respect to :math:`\theta` of a derivative with respect to
# :math:`x`.

# %%
# The network, and :math:`u'` at every point with one VJP
# --------------------------------------------------------
#
# The weights and biases are drawn from a local generator, each uniform on
# :math:`\pm 1 / \sqrt{\text{fan-in}}` (the range of :class:`torch.nn.Linear`'s
# own initialisation).

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap

generator = torch.Generator().manual_seed(0)
model = nn.Sequential(
    nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)
).to(torch.float64)
with torch.no_grad():
    for layer in model[::2]:
        bound = layer.in_features**-0.5
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)

N = 256
x = torch.linspace(0, 2 * torch.pi, N, dtype=torch.float64).reshape(N, 1)


def derivative_by_vjp(x, create_graph=False):
    """u'(x_n) for every row, from one VJP with v = 1."""
    _, du_dx = torch.autograd.functional.vjp(
        model, x, v=torch.ones(N, 1, dtype=torch.float64), create_graph=create_graph
    )
    return du_dx


def derivative_with_absolute_values(x):
    """u'(x) with every weight and tanh slope replaced by its absolute value."""
    with torch.no_grad():
        hidden = torch.tanh(model[0](x))
        slope1 = 1 - hidden**2  # (N, 32)
        slope2 = 1 - torch.tanh(model[2](hidden)) ** 2  # (N, 32)
        w0, w2, w4 = (model[i].weight.abs().T for i in (0, 2, 4))
        return ((slope1 * w0) @ w2 * slope2) @ w4


du_dx = derivative_by_vjp(x)
per_point_jacobians = vmap(jacrev(model))(x)  # (N, 1, 1): one 1x1 Jacobian per point
print(
    "u'(x) by one VJP:",
    tuple(du_dx.shape),
    "  by vmap(jacrev):",
    tuple(per_point_jacobians.shape),
)
print(
    "max |difference| = "
    f"{(du_dx - per_point_jacobians.reshape(N, 1)).abs().max().item():.1e}",
    "| u' with absolute values: at most "
    f"{derivative_with_absolute_values(x).max().item():.2f}",
)
# Two different ways through the same float64 network (products of size 32
# and tanh): each is off by at most ~70 eps times the size of u' computed with
# absolute values (below 7, asserted), about 1e-13, under atol = 1e-12.
assert derivative_with_absolute_values(x).max() < 7
torch.testing.assert_close(
    du_dx, per_point_jacobians.reshape(N, 1), rtol=1e-10, atol=1e-12
)

# %%
# Training on the residual
# ------------------------
#
# The loss is built from :math:`u'`, so the VJP runs with
# ``create_graph=True`` and ``loss.backward()`` reaches the parameters; the
# loss is :math:`L(\theta)` of the maths section, with its term
# :math:`u_\theta(0)^2`, on all :math:`N` points at every step.

optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
losses = []
for step in range(300):
    optimizer.zero_grad()
    residual = derivative_by_vjp(x, create_graph=True) - torch.cos(x)
    loss = (residual**2).mean() + model(
        torch.zeros(1, 1, dtype=torch.float64)
    ).squeeze() ** 2
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss: {losses[0]:.2e} at the start, {losses[-1]:.2e} after {len(losses)} steps")
assert losses[-1] < 1e-2 * losses[0], "training on the residual should reduce the loss"

# %%
# The trained network's derivative, checked at every point against
# ``vmap(jacrev)`` again, and how close it is to :math:`\cos x`:

du_dx = derivative_by_vjp(x)
print(
    "u' with absolute values after training: at most "
    f"{derivative_with_absolute_values(x).max().item():.2f}"
)
# As above: ~70 eps times at most 7 (asserted again: training moved the
# weights), about 1e-13, under atol = 1e-12.
assert derivative_with_absolute_values(x).max() < 7
torch.testing.assert_close(
    du_dx, vmap(jacrev(model))(x).reshape(N, 1), rtol=1e-10, atol=1e-12
)
print(
    "max |u'(x) - cos x| after training = "
    f"{(du_dx - torch.cos(x)).abs().max().item():.3f}"
)

# %%
# Per-point gradients of the residual loss
# ----------------------------------------
#
# :math:`\ell_n(\theta)` for one point, with the parameters as an argument
# (:func:`torch.func.functional_call`), differentiated by
# :func:`torch.func.grad` and mapped over the points by
# :func:`torch.func.vmap`: the mechanics, and the zeros that a closure over
# the module gives instead, are those of
# :ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`.
# What the residual adds is the inner ``grad`` with respect to :math:`x`:
# :math:`\ell_n` contains :math:`u'`, and ``grad`` of a function that calls
# ``grad`` differentiates through it, with no ``create_graph``.

params = {name: p.detach() for name, p in model.named_parameters()}


def u_one_point(params, x_one):
    return functional_call(model, params, (x_one.reshape(1, 1),)).squeeze()


def loss_one_point(params, x_one):
    du_dx_one = grad(u_one_point, argnums=1)(params, x_one)
    # sphinx_gallery_break = ("cos", "sin")
    return (du_dx_one - torch.cos(x_one)) ** 2


per_sample = vmap(grad(loss_one_point), in_dims=(None, 0))(params, x.squeeze(1))
n_params = sum(p.numel() for p in params.values())
print(f"per-sample gradients: {N} points x {n_params} parameters")
for name, g in per_sample.items():
    print(f"  {name:<9} {tuple(g.shape)}")

# %%
# The checks
# ----------
#
# The reference is a plain loop over 16 points, each with
# ``torch.autograd.grad`` twice (input derivative with ``create_graph``,
# then parameters). The 16 are those with the largest residuals
# :math:`|r_n|`, which the tolerance below divides by; where the training
# left a residual near zero, its relative error would say little.

residual = (du_dx - torch.cos(x)).squeeze(1)
checked_points = residual.abs().argsort(descending=True)[:16].tolist()
print(
    "smallest |r_n| at the 16 points checked: "
    f"{residual[checked_points].abs().min().item():.1e}"
)
# The tolerance below needs |r_n| > 1e-3. A comparison far from rounding
# (the 16th largest |r_n| is ~6e-3 whatever the machine's last bits).
assert residual[checked_points].abs().min() > 1e-3


def loss_gradient_by_loop(n):
    """The gradient of l_n for every parameter, by two torch.autograd.grad calls."""
    x_n = x[n : n + 1].clone().requires_grad_()
    (du_dx_n,) = torch.autograd.grad(model(x_n).sum(), x_n, create_graph=True)
    loss_n = ((du_dx_n - torch.cos(x_n)) ** 2).sum()
    # The last bias shifts u but not u', so the loss does not use it: its
    # gradient is zero (vmap(grad) returns those zeros too).
    return torch.autograd.grad(
        loss_n, list(model.parameters()), allow_unused=True, materialize_grads=True
    )


rows_by_loop = [loss_gradient_by_loop(n) for n in checked_points]
expected = {
    name: torch.stack(column) for name, column in zip(per_sample, zip(*rows_by_loop))
}
from_vmap = {name: g[checked_points] for name, g in per_sample.items()}
difference = max((from_vmap[n] - expected[n]).abs().max().item() for n in expected)
print(
    f"vmap(grad) - loop, 16 points, all parameters: max |difference| = {difference:.1e}"
)
# Entries are 2 r du'/dtheta. Each way's u' is off by ~1e-13 (as above), at
# most about 1e-10 of r, which is above 1e-3 here (asserted): rtol widened
# from 1e-10 to 1e-9. The rest is below atol.
torch.testing.assert_close(from_vmap, expected, rtol=1e-9, atol=1e-13)
# Exact: zeros, the loss never uses this bias.
assert per_sample["4.bias"].abs().max() == 0

# %%
# Which points to sample
# ----------------------
#
# The rows :math:`g_n` average to :math:`\bar g`, the gradient of the
# residual term that a training step on all :math:`N` points uses; checked
# against one backward of that term.

# (N, P): row n is g_n
rows = torch.cat([g.reshape(N, -1) for g in per_sample.values()], dim=1)
mean_row = rows.mean(dim=0)
residual_term = (derivative_by_vjp(x, create_graph=True) - torch.cos(x)).pow(2).mean()
batch_gradient = torch.autograd.grad(
    residual_term, list(model.parameters()), allow_unused=True, materialize_grads=True
)
batch_gradient = torch.cat([g.reshape(-1) for g in batch_gradient])
print(
    "max |mean of the rows - gradient of the residual term| = "
    f"{(mean_row - batch_gradient).abs().max().item():.1e}"
)
torch.testing.assert_close(mean_row, batch_gradient)

# %%
# :math:`V(p)`, computed as defined in the maths section, for four ways of
# drawing a point. Rules built on the residual alone draw point :math:`n`
# with probability proportional to a power :math:`|r_n|^k` (Wu et al.,
# `arXiv:2207.10289 <https://arxiv.org/abs/2207.10289>`_, add a constant):
# :math:`k = 2` is the loss :math:`\ell_n` of Nabian et al., :math:`k = 1` is
# :math:`|r_n|`. A mini-batch of :math:`m` points drawn independently has
# variance :math:`V(p) / m`, so :math:`V(\text{uniform}) / V(p)` is how many
# times more points uniform sampling needs for the same variance.

row_norms = rows.norm(dim=1)
proposals = {
    "uniform": torch.full((N,), 1 / N, dtype=torch.float64),
    "loss l_n = r_n^2": residual**2 / (residual**2).sum(),
    "|r_n|": residual.abs() / residual.abs().sum(),
    "|g_n|": row_norms / row_norms.sum(),
}
variance = {
    name: (p * ((rows / (N * p[:, None]) - mean_row) ** 2).sum(dim=1)).sum()
    for name, p in proposals.items()
}
for name in proposals:
    print(
        f"p proportional to {name:<17} V = {variance[name].item():.3e},",
        f"V(uniform) / V = {(variance['uniform'] / variance[name]).item():.2f}",
    )
least = (row_norms.sum() / N) ** 2 - (mean_row**2).sum()  # the maths section's bound
torch.testing.assert_close(variance["|g_n|"], least)
assert all(
    variance["|g_n|"] < variance[name]
    for name in ("uniform", "loss l_n = r_n^2", "|r_n|")
)

# %%
# Here :math:`|r_n|` gets more than three quarters of the possible
# reduction, and :math:`\ell_n` none: its share is negative, so sampling by
# the loss is slightly *worse* than uniform sampling at this :math:`\theta`
# (:math:`V(\text{uniform}) / V` below 1 in the table above). The rows say
# why: :math:`\lVert g_n \rVert = 2 |r_n|\, \lVert \nabla_\theta
# u'_\theta(x_n) \rVert`, and the second factor varies less than 4-fold
# across the points, so :math:`|r_n|` carries most of the variation of the
# best :math:`p`, while :math:`\ell_n = r_n^2` counts the residual twice and
# draws the points of large residual too often. At another :math:`\theta`,
# or for another equation, the gradients tell whether that still holds.

share = {
    name: (variance["uniform"] - variance[name])
    / (variance["uniform"] - variance["|g_n|"])
    for name in proposals
}
input_derivative_grads = row_norms / (2 * residual.abs())  # |grad_theta u'(x_n)|
print(
    f"share of the reduction: |r_n| {share['|r_n|'].item():.2f}, l_n "
    f"{share['loss l_n = r_n^2'].item():.2f};",
    f"|grad_theta u'(x_n)| from {input_derivative_grads.min().item():.2f} to "
    f"{input_derivative_grads.max().item():.2f}",
)
# Far from rounding: 0.90 and -0.05 here, and the same two values with a
# weight moved by one ulp before training.
assert share["|r_n|"] > 0.75 and share["loss l_n = r_n^2"] < 0
assert input_derivative_grads.max() < 4 * input_derivative_grads.min()

# %%
# The picture
# -----------

fig, axes = plt.subplots(1, 2, figsize=(7.2, 4.2), layout="constrained")
axes[0].plot(
    x.squeeze().numpy(),
    torch.cos(x).squeeze().numpy(),
    color="0.75",
    lw=5,
    label=r"$\cos x$",
)
axes[0].plot(
    x.squeeze().numpy(), du_dx.squeeze().numpy(), label=r"$u'_\theta(x)$, one VJP"
)
axes[0].plot(
    x.squeeze().numpy(),
    model(x).detach().squeeze().numpy(),
    "--",
    label=r"$u_\theta(x)$",
)
axes[0].set_xlabel("$x$")
axes[0].set_title("after training on the residual", fontsize=10)
labels = {
    "uniform": "uniform",
    "loss l_n = r_n^2": r"$\propto \ell_n$",
    "|r_n|": r"$\propto |r_n|$",
    "|g_n|": r"$\propto \|\nabla_\theta \ell_n\|$ (least variance)",
}
for name, p in proposals.items():
    best = name == "|g_n|"
    axes[1].semilogy(
        x.squeeze().numpy(),
        p.numpy(),
        label=labels[name],
        lw=3 if best else 1,
        zorder=1 if best else 2,
    )
axes[1].set_xlabel("$x_n$")
axes[1].set_ylabel("$p_n$")
axes[1].set_title("probability of drawing point $n$", fontsize=10)
for ax, ncols in zip(axes, (1, 2)):  # legends under the axes, clear of the curves
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=ncols)
plt.show()

# %%
# What to remember
# ----------------
#
# * The input derivative of a network over a batch is one VJP with
#   :math:`v = \mathbf{1}`, because each row has one scalar output that
#   depends on its own input row only; check it against
#   ``vmap(jacrev(model))``. To train on it, pass ``create_graph=True``.
# * The per-point gradients of a residual loss nest ``grad`` in :math:`x`
#   inside ``grad`` in :math:`\theta`. Their norms give the sampling of
#   points with the least variance at the current :math:`\theta`: a
#   benchmark (with every :math:`g_n` at hand the exact gradient is their
#   mean) that shows which cheap rule comes close. Here :math:`|r_n|` does,
#   and sampling by the loss is no better than uniform.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`,
# the page for gradients with respect to parameters and per-sample
# gradients in general. Reference: :func:`torch.autograd.functional.vjp`,
# :func:`torch.autograd.grad`, :func:`torch.func.vmap`, :func:`torch.func.grad`,
# :func:`torch.func.jacrev`, :func:`torch.func.functional_call`.
