r"""
A physics-informed residual and per-sample gradients
====================================================

Physics-informed training fits a network :math:`u_\theta(x)` so that an
equation holds at many points, here :math:`u'(x) = \cos x`. That needs the
derivative of the network with respect to its *input* at every point of a
batch, which is the basics' :math:`v = \mathbf{1}` pattern, and for some
methods the gradient of each point's loss with respect to the *parameters*,
which is :func:`torch.func.vmap` of :func:`torch.func.grad`. Both are
checked against an independent computation.
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
# samples (no batch normalisation in training mode); a cell below shows
# what each broken condition gives. The residual and the loss are
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
# :math:`u'`, so the first VJP needs ``create_graph=True``. Per-sample
# gradients :math:`\nabla_\theta \ell_n \in \mathbb{R}^{N \times P}` (for
# :math:`P` parameters) are what methods such as gradient clipping per sample
# or influence estimates need; ``vmap(grad(...))`` computes them without a
# Python loop.

# %%
# The network, and :math:`u'` at every point with one VJP
# --------------------------------------------------------

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap

torch.manual_seed(0)  # the network's initial weights
model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)).to(torch.float64)

N = 256
x = torch.linspace(0, 2 * torch.pi, N, dtype=torch.float64).reshape(N, 1)


def derivative_by_vjp(x, create_graph=False):
    """u'(x_n) for every row, from one VJP with v = 1."""
    _, du_dx = torch.autograd.functional.vjp(model, x, v=torch.ones(N, 1, dtype=torch.float64), create_graph=create_graph)
    return du_dx


def derivative_with_absolute_values(x):
    """u'(x) with every weight and tanh slope replaced by its absolute value."""
    with torch.no_grad():
        hidden = torch.tanh(model[0](x))
        slope1, slope2 = 1 - hidden**2, 1 - torch.tanh(model[2](hidden)) ** 2  # (N, 32) each
        return ((slope1 * model[0].weight.abs().T) @ model[2].weight.abs().T * slope2) @ model[4].weight.abs().T


du_dx = derivative_by_vjp(x)
per_point_jacobians = vmap(jacrev(model))(x)  # (N, 1, 1): one 1x1 Jacobian per point
print("u'(x) by one VJP:", tuple(du_dx.shape), "  by vmap(jacrev):", tuple(per_point_jacobians.shape))
print(f"max |difference| = {(du_dx - per_point_jacobians.reshape(N, 1)).abs().max().item():.1e}",
      f"| u' with absolute values: at most {derivative_with_absolute_values(x).max().item():.2f}")
# Two different ways through the same float64 network (products of size 32
# and tanh): each is off by at most ~70 eps times the size of u' computed with
# absolute values (below 7, asserted), about 1e-13, under atol = 1e-12.
assert derivative_with_absolute_values(x).max() < 7
torch.testing.assert_close(du_dx, per_point_jacobians.reshape(N, 1), rtol=1e-10, atol=1e-12)

# %%
# When one VJP with :math:`v = \mathbf{1}` is not :math:`u'`
# -----------------------------------------------------------
#
# It needs both conditions of the maths section. With two outputs per row,
# :math:`v = \mathbf{1}` returns the sum of their derivatives. In training
# mode, batch normalisation mixes the rows (each feature is normalised with
# the batch's mean and variance): :math:`J` is then full, and
# :math:`v = \mathbf{1}` returns its column sums
# :math:`\sum_m \partial u_m / \partial x_n`, not its diagonal. Here on 8
# points, with a :class:`~torch.nn.BatchNorm1d` after the first layer, and
# the full :math:`8 \times 8` Jacobian as the reference (in eval mode, with
# fixed statistics, the rows no longer mix). Why :math:`v = \mathbf{1}`
# works, and when it does not, in general:
# :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`.

few = x[::32]  # 8 points
ones_8 = torch.ones(8, 1, dtype=torch.float64)


def u_and_its_square(x):
    return torch.cat((model(x), model(x) ** 2), dim=1)  # two outputs per row


_, from_two_outputs = torch.autograd.functional.vjp(u_and_its_square, few, torch.ones(8, 2, dtype=torch.float64))
_, u_prime = torch.autograd.functional.vjp(model, few, ones_8)
print(f"two outputs per row: max |v = 1 VJP - u'| = {(from_two_outputs - u_prime).abs().max().item():.3f}",
      "(it is (u + u^2)' = u' (1 + 2u))")
torch.testing.assert_close(from_two_outputs, u_prime * (1 + 2 * model(few)))

with_batch_norm = nn.Sequential(model[0], nn.BatchNorm1d(32, dtype=torch.float64), *model[1:])
for mode in ("train", "eval"):
    with_batch_norm.train(mode == "train")
    full = torch.autograd.functional.jacobian(with_batch_norm, few).reshape(8, 8)  # full[m, n] = du_m/dx_n
    _, by_vjp = torch.autograd.functional.vjp(with_batch_norm, few, ones_8)
    off_diagonal = full - torch.diag(full.diagonal())
    gap = (by_vjp.squeeze(1) - full.diagonal()).abs().max().item()
    print(f"batch norm, {mode} mode: max |off-diagonal of J| = {off_diagonal.abs().max().item():.3f},",
          f"max |v = 1 VJP - diagonal| = {gap:.3f}")
    torch.testing.assert_close(by_vjp.squeeze(1), full.sum(dim=0))  # v = 1 gives the column sums
    if mode == "train":
        assert gap > 0.01, "in training mode the column sums are not u'"
    else:
        torch.testing.assert_close(by_vjp.squeeze(1), full.diagonal())  # in eval mode they are

# %%
# Training on the residual
# ------------------------
#
# The loss is built from :math:`u'`, so the VJP runs with
# ``create_graph=True`` and ``loss.backward()`` reaches the parameters; the
# loss is :math:`L(\theta)` of the maths section, with its term
# :math:`u_\theta(0)^2`.

optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
losses = []
for step in range(300):
    optimizer.zero_grad()
    residual = derivative_by_vjp(x, create_graph=True) - torch.cos(x)
    loss = (residual**2).mean() + model(torch.zeros(1, 1, dtype=torch.float64)).squeeze() ** 2
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss: {losses[0]:.2e} at the start, {losses[-1]:.2e} after {len(losses)} steps")
assert losses[-1] < 1e-2 * losses[0], "training on the residual should reduce the loss"

# %%
# The trained network's derivative, checked at every point against
# ``vmap(jacrev)`` again, and how close it is to :math:`\cos x`:

du_dx = derivative_by_vjp(x)
print(f"u' with absolute values after training: at most {derivative_with_absolute_values(x).max().item():.2f}")
# As above: ~70 eps times at most 7 (asserted again: training moved the
# weights), about 1e-13, under atol = 1e-12.
assert derivative_with_absolute_values(x).max() < 7
torch.testing.assert_close(du_dx, vmap(jacrev(model))(x).reshape(N, 1), rtol=1e-10, atol=1e-12)
print(f"max |u'(x) - cos x| after training = {(du_dx - torch.cos(x)).abs().max().item():.3f}")

# %%
# Per-sample gradients of the residual loss
# -----------------------------------------
#
# :math:`\ell_n(\theta)` for one point, written with
# :func:`torch.func.functional_call` so the parameters are an argument:
# :math:`u'` by :func:`torch.func.grad` with respect to :math:`x`, then
# ``grad`` with respect to the parameters, mapped over the points with
# ``vmap``. Why ``functional_call`` is needed, and the zeros that a closure
# over the module gives instead, are the subject of
# :ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`.

params = {name: p.detach() for name, p in model.named_parameters()}


def u_one_point(params, x_one):
    return functional_call(model, params, (x_one.reshape(1, 1),)).squeeze()


def loss_one_point(params, x_one):
    du_dx_one = grad(u_one_point, argnums=1)(params, x_one)
    return (du_dx_one - torch.cos(x_one)) ** 2


per_sample = vmap(grad(loss_one_point), in_dims=(None, 0))(params, x.squeeze(1))
n_params = sum(p.numel() for p in params.values())
print(f"per-sample gradients: {N} points x {n_params} parameters,",
      {name: tuple(g.shape) for name, g in list(per_sample.items())[:2]}, "...")

# %%
# The check: a plain loop over 16 points, each with
# ``torch.autograd.grad`` twice (input derivative with ``create_graph``, then
# parameters). The 16 are those with the largest residuals :math:`|r_n|`,
# which the tolerance below divides by; where the training left a residual
# near zero, its relative error would say little.

residual = (du_dx - torch.cos(x)).squeeze(1)
checked_points = residual.abs().argsort(descending=True)[:16].tolist()
print(f"smallest |r_n| at the 16 points checked: {residual[checked_points].abs().min().item():.1e}")
# The tolerance below needs |r_n| > 1e-3. A comparison far from rounding
# (the 16th largest |r_n| is ~1e-2 whatever the machine's last bits).
assert residual[checked_points].abs().min() > 1e-3
for n in checked_points:
    x_n = x[n : n + 1].clone().requires_grad_()
    (du_dx_n,) = torch.autograd.grad(model(x_n).sum(), x_n, create_graph=True)
    loss_n = ((du_dx_n - torch.cos(x_n)) ** 2).sum()
    # The last bias shifts u but not u', so the loss does not use it: its
    # gradient is zero (vmap(grad) returns those zeros too).
    loop_grads = torch.autograd.grad(loss_n, list(model.parameters()), allow_unused=True, materialize_grads=True)
    for (name, from_vmap), from_loop in zip(per_sample.items(), loop_grads):
        # Entries are 2 r du'/dtheta. Each way's u' is off by ~1e-13 (as above),
        # at most about 1e-10 of r, which is above 1e-3 here (asserted): rtol
        # widened from 1e-10 to 1e-9. The rest is below atol.
        torch.testing.assert_close(from_vmap[n], from_loop, rtol=1e-9, atol=1e-13)
assert per_sample["4.bias"].abs().max() == 0  # exact: zeros, the loss never uses this bias
print("vmap(grad) equals the loop at the 16 points, for every parameter")

# %%
# The picture
# -----------

grad_norms = torch.sqrt(sum((g.reshape(N, -1) ** 2).sum(dim=1) for g in per_sample.values()))
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
axes[0].plot(x.squeeze().numpy(), torch.cos(x).squeeze().numpy(), color="0.75", lw=5, label=r"$\cos x$")
axes[0].plot(x.squeeze().numpy(), du_dx.squeeze().numpy(), label=r"$u'_\theta(x)$, one VJP")
axes[0].plot(x.squeeze().numpy(), model(x).detach().squeeze().numpy(), "--", label=r"$u_\theta(x)$")
axes[0].set_xlabel("$x$")
axes[0].legend(fontsize=8)
axes[0].set_title("after training on the residual")
axes[1].semilogy(x.squeeze().numpy(), grad_norms.numpy())
axes[1].set_xlabel("$x_n$")
axes[1].set_title(r"$\|\nabla_\theta \ell_n\|$ per point, from vmap(grad)")
plt.show()

# %%
# What to remember
# ----------------
#
# * The input derivative of a network over a batch is one VJP with
#   :math:`v = \mathbf{1}`, because each row has one scalar output that
#   depends on its own input row only; check it against
#   ``vmap(jacrev(model))``. Batch normalisation in training mode breaks
#   this, and so do several outputs per row.
# * To train on it, pass ``create_graph=True``.
# * Per-sample parameter gradients: ``vmap(grad(loss_one_point))`` with
#   :func:`torch.func.functional_call`; check a few against a loop.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`.
# Reference: :func:`torch.autograd.functional.vjp`,
# :func:`torch.autograd.functional.jacobian`, :class:`torch.nn.BatchNorm1d`, :func:`torch.func.vmap`,
# :func:`torch.func.grad`, :func:`torch.func.jacrev`,
# :func:`torch.func.functional_call`.
