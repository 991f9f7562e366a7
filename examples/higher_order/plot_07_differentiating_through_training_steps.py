r"""
Gradients through training steps: MAML, gradient penalties and create_graph
===========================================================================

Some losses contain a gradient: the loss after a few steps of gradient
descent (MAML, meta-learning an initialisation) or the norm of the critic's
input gradient (the WGAN-GP gradient penalty). Differentiating them means
differentiating a backward pass, which needs that pass recorded as a graph:
``create_graph=True``. This page derives both by hand, checks what autograd
and :mod:`torch.func` return against the derivations, shows what is lost
without ``create_graph`` (first-order MAML, silently; a penalty that trains
nothing), and why ``backward(create_graph=True)`` warns of a memory leak.
"""

# %%
# The maths
# ---------
#
# **MAML on a quadratic.** An inner loss
# :math:`L_{\mathrm{in}}(x) = \tfrac12 x^\top A x - b^\top x`, with :math:`A`
# symmetric positive definite, has gradient :math:`A x - b` and Hessian
# :math:`A`. One step of gradient descent with step size :math:`\alpha` is
# affine in :math:`x`:
#
# .. math::
#
#    x_{k+1} = x_k - \alpha (A x_k - b) = M x_k + \alpha b, \qquad
#    M = I - \alpha A, \qquad
#    x_K = M^K x_0 + \alpha \sum_{j=0}^{K-1} M^j b .
#
# MAML learns the starting point :math:`x_0` so that :math:`K` inner steps
# land where an outer loss :math:`L_{\mathrm{out}}(x) = \tfrac12 x^\top C x -
# d^\top x` (the same task's held-out data: the query set) is small. Its
# gradient is a VJP through the :math:`K` steps, each of Jacobian
# :math:`\partial x_{k+1} / \partial x_k = I - \alpha H(x_k)`:
#
# .. math::
#
#    \begin{aligned}
#    \nabla_{x_0} L_{\mathrm{out}}(x_K)
#    &= (I - \alpha H_0)(I - \alpha H_1) \cdots \\
#    &\qquad (I - \alpha H_{K-1})\, \nabla L_{\mathrm{out}}(x_K),
#    \end{aligned}
#
# with :math:`H_k = H(x_k)` the inner loss's Hessian at step :math:`k`
# (symmetric, so the transposes drop out). For the quadratic every
# :math:`H_k` is :math:`A`, and the gradient is :math:`M^K (C x_K - d)`.
# The Hessians are second derivatives: MAML is second order.
# **First-order MAML** replaces the product by :math:`I` and keeps
# :math:`\hat g = \nabla L_{\mathrm{out}}(x_K)`. What it drops is exactly
# :math:`(M^K - I)\, \hat g`; for :math:`K = 1` that is :math:`-\alpha A\,
# \hat g`, one Hessian-vector product.
#
# In autograd, each inner step uses a gradient :math:`g_k`. If :math:`g_k` is
# a constant (a plain tensor with no graph), then :math:`x_K = x_0 - \alpha
# \sum_k g_k` has Jacobian :math:`I` with respect to :math:`x_0`, and the
# outer gradient is :math:`\hat g`. For the product of factors,
# :math:`g_k` must itself be differentiable: its backward pass recorded as a
# graph, which is what ``create_graph=True`` asks for.
#
# **The gradient penalty.** A critic :math:`D_\theta : \mathbb{R}^n \to
# \mathbb{R}` scores a batch :math:`X \in \mathbb{R}^{B \times n}` one sample
# at a time, :math:`s_i = D_\theta(x_i)`. The Jacobian of :math:`X \mapsto s`
# is :math:`J \in \mathbb{R}^{B \times B \times n}` with :math:`J_{i,j,:} =
# \partial s_i / \partial x_j = 0` for :math:`i \ne j`, since sample
# :math:`i`'s score does not depend on sample :math:`j`. So one VJP with
# :math:`v = \mathbf{1}` gives every per-sample input gradient, stacked:
#
# .. math::
#
#    (\mathbf{1}^\top J)_{j,:} = \sum_{i} J_{i,j,:} = \nabla_x D_\theta(x_j),
#    \qquad
#    P(\theta) = \frac{1}{B} \sum_{i=1}^{B} \bigl(\lVert \nabla_x D_\theta(x_i)
#    \rVert - 1\bigr)^2 .
#
# :math:`P` depends on :math:`\theta` through a gradient, so training the
# critic on it differentiates that gradient with respect to :math:`\theta`:
# again ``create_graph=True``. For the critic :math:`D(x) = w^\top \tanh(W x
# + c)` the derivatives are short:
#
# .. math::
#
#    \begin{aligned}
#    g_i &= \nabla_x D(x_i) = W^\top (w \odot \sigma_i), \\
#    \sigma_i &= 1 - \tanh^2(W x_i + c), \\
#    \nabla_w P &= \frac{2}{B} \sum_{i=1}^{B}
#    \Bigl(1 - \frac{1}{\lVert g_i \rVert}\Bigr)\, \sigma_i \odot (W g_i).
#    \end{aligned}

import gc
import textwrap
import warnings
import weakref

import matplotlib.pyplot as plt
import torch
from torch.func import grad, vmap

generator = torch.Generator().manual_seed(0)


def spd(n, low, high):
    """A random symmetric n x n matrix with eigenvalues evenly spaced in [low, high]."""
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    return q @ torch.diag(torch.linspace(low, high, n, dtype=torch.float64)) @ q.T


n, alpha, K = 5, 0.1, 4
A, C = spd(n, 0.5, 6.0), spd(n, 1.0, 3.0)
b, d, x0 = torch.randn(3, n, generator=generator, dtype=torch.float64)


def inner_loss(x):
    return 0.5 * x @ A @ x - b @ x


def outer_loss(x):
    return 0.5 * x @ C @ x - d @ x


# %%
# .. _maml-create-graph-second-order:
#
# MAML through K inner steps, with and without create_graph
# ---------------------------------------------------------
#
# The inner loop as a training loop writes it, with
# :func:`torch.autograd.grad` for each step. ``second_order`` says whether
# the inner gradients are recorded as a graph.


def maml_gradient(x0, second_order):
    start = x0.clone().requires_grad_()
    x = start
    for _ in range(K):
        (inner_grad,) = torch.autograd.grad(inner_loss(x), x, create_graph=second_order)
        x = x - alpha * inner_grad
    (outer_grad,) = torch.autograd.grad(outer_loss(x), start)
    return outer_grad, x.detach()


maml, x_K = maml_gradient(x0, second_order=True)
first_order, _ = maml_gradient(x0, second_order=False)
expected_first_order = C @ x_K - d  # the outer loss's gradient at x_K
print("second-order MAML:   ", [round(v, 4) for v in maml.tolist()])
print("without create_graph:", [round(v, 4) for v in first_order.tolist()])
print("grad L_out(x_K):     ", [round(v, 4) for v in expected_first_order.tolist()])
# float64 defaults (rtol 1e-7): a few products of 5 x 5 matrices, each side
# rounded a few eps; the dropped factor M^K changes the result by O(1).
torch.testing.assert_close(first_order, expected_first_order)

# %%
# Without ``create_graph`` nothing fails and nothing warns: the loop returns
# first-order MAML's gradient, :math:`\nabla L_{\mathrm{out}}(x_K)`. With it,
# the result differs by what first-order MAML drops,
# :math:`(M^K - I)\, \hat g`, a sum of terms each with at least one
# factor :math:`\alpha A`, the inner Hessian:

identity_n = torch.eye(n, dtype=torch.float64)
M = identity_n - alpha * A
expected_dropped = (torch.linalg.matrix_power(M, K) - identity_n) @ first_order
dropped = maml - first_order
relative = (dropped.norm() / maml.norm()).item()
print(f"|second order - first order| / |second order| = {relative:.2f}")
torch.testing.assert_close(dropped, expected_dropped)  # as above: rounding only
assert relative > 0.1  # no rounding makes an O(1) difference

# %%
# So MAML needs ``create_graph=True`` in its inner steps, and with it the
# gradient is second order: it contains the inner loss's Hessian,
# :math:`K` times. The backward pass of the outer loss then runs through
# the :math:`K` recorded inner backward passes, one Hessian-vector product
# each (a double backward), and their graphs stay in memory from the inner
# steps until that backward pass has run.

# %%
# The checks
# ----------
#
# Second-order MAML's gradient from autograd, against the product of
# factors derived by hand, with :math:`x_K` from its closed form.

M_K = torch.linalg.matrix_power(M, K)
x_K_by_hand = M_K @ x0 + alpha * sum(
    torch.linalg.matrix_power(M, j) @ b for j in range(K)
)
# sphinx_gallery_break = ("M_K @ (C", "(C")
expected = M_K @ (C @ x_K_by_hand - d)
print(f"max |MAML gradient - M^K (C x_K - d)| = {(maml - expected).abs().max():.1e}")
# float64 defaults (rtol 1e-7): both sides are a few products of 5 x 5
# matrices with entries below 10, a few eps apart; a factor of M more or less
# changes the result by O(1).
torch.testing.assert_close(maml, expected)

# %%
# .. _maml-torch-func-grad:
#
# The same with torch.func.grad, beyond a quadratic
# -------------------------------------------------
#
# :func:`torch.func.grad` composes: the inner step is a function of the
# parameters, and the outer gradient is ``grad`` of a function that calls
# it. No ``create_graph`` is needed, because each ``grad`` inside another
# is differentiated by the outer one. The task now is not quadratic: logistic
# regression, parameters :math:`\theta \in \mathbb{R}^4`, a support set
# :math:`(X_s, y_s)` for the inner loss and a query set for the outer one.
# The loss of :math:`m = 12` samples, :math:`\frac{1}{m} \sum_i \bigl(\log(1 +
# e^{x_i^\top \theta}) - y_i x_i^\top \theta\bigr)`, has gradient :math:`X^\top
# (p - y) / m` and Hessian :math:`H(\theta) = X^\top \operatorname{diag}(p
# \odot (1 - p)) X / m`, :math:`p = \operatorname{sigmoid}(X \theta)`, which
# now changes from step to step: the product of factors :math:`(I - \alpha
# H_k)`, here with :math:`\alpha` = ``step`` = 0.5, is the hand-derived
# reference.

m = 12
support_X = torch.randn(m, 4, generator=generator, dtype=torch.float64)
query_X = torch.randn(m, 4, generator=generator, dtype=torch.float64)
support_y = (torch.rand(m, generator=generator, dtype=torch.float64) < 0.5).double()
query_y = (torch.rand(m, generator=generator, dtype=torch.float64) < 0.5).double()
theta0 = torch.randn(4, generator=generator, dtype=torch.float64)
step = 0.5


def logistic_loss(theta, X, y):
    logits = X @ theta
    return (torch.nn.functional.softplus(logits) - y * logits).mean()


def adapt(theta):
    for _ in range(K):
        theta = theta - step * grad(logistic_loss)(theta, support_X, support_y)
    return theta


def meta_loss(theta):
    return logistic_loss(adapt(theta), query_X, query_y)


maml_func = grad(meta_loss)(theta0)
first_order_func = grad(logistic_loss)(adapt(theta0), query_X, query_y)


def maml_autograd(theta0):
    start = theta0.clone().requires_grad_()
    theta = start
    for _ in range(K):
        loss = logistic_loss(theta, support_X, support_y)
        (inner_grad,) = torch.autograd.grad(loss, theta, create_graph=True)
        theta = theta - step * inner_grad
    (outer_grad,) = torch.autograd.grad(logistic_loss(theta, query_X, query_y), start)
    return outer_grad


def maml_by_hand(theta0):
    """The product (I - step H_0) ... (I - step H_{K-1}) grad L_out(theta_K)."""
    thetas = [theta0]
    for _ in range(K):
        p = torch.sigmoid(support_X @ thetas[-1])
        thetas.append(thetas[-1] - step * support_X.T @ (p - support_y) / m)
    p_query = torch.sigmoid(query_X @ thetas[-1])
    vector = query_X.T @ (p_query - query_y) / m
    first_order = vector
    for theta in reversed(thetas[:-1]):  # the factor of step K-1 first
        p = torch.sigmoid(support_X @ theta)
        hessian = support_X.T @ ((p * (1 - p))[:, None] * support_X) / m
        vector = vector - step * hessian @ vector
    return vector, first_order


expected_maml, expected_first_order = maml_by_hand(theta0)
print("torch.func MAML:     ", [round(v, 5) for v in maml_func.tolist()])
print("autograd MAML:       ", [round(v, 5) for v in maml_autograd(theta0).tolist()])
print("product by hand:     ", [round(v, 5) for v in expected_maml.tolist()])
print("first order (func):  ", [round(v, 5) for v in first_order_func.tolist()])
# float64 defaults (rtol 1e-7): sums of 12 products and a few exp, each side a
# few eps from exact; a factor (I - step H_k) dropped changes the result by O(1).
torch.testing.assert_close(maml_func, maml_autograd(theta0))
torch.testing.assert_close(maml_func, expected_maml)
torch.testing.assert_close(first_order_func, expected_first_order)

# %%
# First-order MAML in :mod:`torch.func` is the outer gradient at the adapted
# parameters, computed outside the transform, as ``first_order_func`` is: the
# ``adapt`` call there runs under no transform, so nothing differentiates
# through it. Inside the transform, detaching each inner gradient does the
# same: the steps then add constants to :math:`\theta_0`.


def adapt_first_order(theta):
    for _ in range(K):
        inner_grad = grad(logistic_loss)(theta, support_X, support_y)
        theta = theta - step * inner_grad.detach()
    return theta


first_order_detached = grad(
    lambda theta: logistic_loss(adapt_first_order(theta), query_X, query_y)
)(theta0)
torch.testing.assert_close(first_order_detached, expected_first_order)  # as above
print("grad with detached inner gradients = first-order MAML")

# %%
# .. _gradient-penalty-ones-create-graph:
#
# The gradient penalty: grad_outputs=ones and create_graph
# --------------------------------------------------------
#
# A critic that scores each sample on its own, eight samples of dimension 3
# (in WGAN-GP, points between real and generated samples):

hidden, B = 6, 8
critic = {
    "W": torch.randn(hidden, 3, generator=generator, dtype=torch.float64),
    "c": torch.randn(hidden, generator=generator, dtype=torch.float64),
    "w": torch.randn(hidden, generator=generator, dtype=torch.float64),
}
params = {name: p.clone().requires_grad_() for name, p in critic.items()}
samples = torch.randn(B, 3, generator=generator, dtype=torch.float64)


def score(params, x):
    """D(x) = w^T tanh(W x + c), for one sample x or a batch of rows."""
    return torch.tanh(x @ params["W"].T + params["c"]) @ params["w"]


points = samples.clone().requires_grad_()
scores = score(params, points)
try:
    torch.autograd.grad(scores, points)
    raise AssertionError("expected an error: scores has more than one element")
except RuntimeError as error:
    print(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    assert "grad can be implicitly created only for scalar outputs" in str(error)

# %%
# ``scores`` has :math:`B` entries, so the VJP needs a :math:`v`.
# ``grad_outputs=torch.ones_like(scores)`` is :math:`v = \mathbf{1}`: the sum
# of the :math:`B` scores' gradients, which, since score :math:`i` depends on
# row :math:`i` only, holds in row :math:`i` the gradient of score
# :math:`i`. The check is against per-sample gradients computed separately,
# by :func:`torch.func.vmap` over :func:`torch.func.grad` of one sample's
# score, and against :math:`g_i = W^\top (w \odot \sigma_i)`.

(input_grads,) = torch.autograd.grad(
    scores, points, grad_outputs=torch.ones_like(scores), create_graph=True
)
per_sample = vmap(grad(score, argnums=1), in_dims=(None, 0))(critic, samples)
sigma = 1 - torch.tanh(samples @ critic["W"].T + critic["c"]) ** 2
expected_input_grads = (critic["w"] * sigma) @ critic["W"]  # row i: W^T (w * sigma_i)
print("input gradients:", tuple(input_grads.shape), "| first row:")
print("  ones VJP  ", [round(v, 5) for v in input_grads[0].tolist()])
print("  vmap(grad)", [round(v, 5) for v in per_sample[0].tolist()])
# float64 defaults (rtol 1e-7): sums of 6 products, a tanh, each side a few eps.
torch.testing.assert_close(input_grads, per_sample)
torch.testing.assert_close(input_grads, expected_input_grads)

# %%
# ``create_graph=True`` made ``input_grads`` a function of the parameters
# that autograd can differentiate, so the penalty trains the critic. Its
# gradient with respect to :math:`w`, against the formula from the maths:

penalty = ((input_grads.norm(dim=1) - 1) ** 2).mean()
penalty_grads = torch.autograd.grad(penalty, list(params.values()))
penalty_grads = dict(zip(params, penalty_grads))
norms = expected_input_grads.norm(dim=1, keepdim=True)
expected_w = 2 / B * ((1 - 1 / norms) * sigma * (expected_input_grads @ critic["W"].T))
expected_w = expected_w.sum(dim=0)
print("d penalty / d w:", [round(v, 5) for v in penalty_grads["w"].tolist()])
print("by hand:        ", [round(v, 5) for v in expected_w.tolist()])
torch.testing.assert_close(penalty_grads["w"], expected_w)  # as above


# %%
# The same penalty with :mod:`torch.func`: ``vmap(grad)`` for the input
# gradients inside ``grad`` over the parameters, no ``create_graph``, no
# ``grad_outputs``; checked against autograd's gradient for every
# parameter.


def penalty_func(params, samples):
    input_grads = vmap(grad(score, argnums=1), in_dims=(None, 0))(params, samples)
    return ((input_grads.norm(dim=1) - 1) ** 2).mean()


penalty_grads_func = grad(penalty_func)(critic, samples)
torch.testing.assert_close(penalty_grads_func, penalty_grads)  # as above
print("torch.func penalty gradient = autograd's, for W, c and w")

# %%
# Without ``create_graph`` the input gradients are plain tensors, the
# penalty is a constant, and a critic loss that adds it gets exactly the
# gradient it would get without it. Nothing raises: the penalty trains
# nothing. Only a penalty backpropagated on its own (a separate
# regularisation step) raises, since it has no graph at all.

scores = score(params, points)
critic_loss = scores.mean()  # a stand-in for the critic's Wasserstein loss
(plain_grads,) = torch.autograd.grad(
    scores, points, grad_outputs=torch.ones_like(scores), retain_graph=True
)
constant_penalty = ((plain_grads.norm(dim=1) - 1) ** 2).mean()
print("penalty without create_graph requires grad:", constant_penalty.requires_grad)
with_penalty = torch.autograd.grad(
    critic_loss + 10 * constant_penalty, params["w"], retain_graph=True
)
without = torch.autograd.grad(critic_loss, params["w"])
# Exact: adding a constant passes the same gradient on, through the same operations.
assert not constant_penalty.requires_grad and torch.equal(with_penalty[0], without[0])
try:
    constant_penalty.backward()
    raise AssertionError("expected an error: the penalty has no graph")
except RuntimeError as error:
    print(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    assert "does not require grad and does not have a grad_fn" in str(error)

# %%
# The stacking holds only while each score depends on its own sample alone.
# A critic that normalises over the batch couples the samples, and row
# :math:`j` of the ones-VJP then collects every score's derivative with
# respect to :math:`x_j`: the section "Batches: block-diagonal until
# something mixes the samples" of
# :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`
# shows it for batch standardisation and :class:`torch.nn.BatchNorm1d`. The
# penalty then takes the norms of other vectors than the per-sample
# gradients: for a critic that centres the batch, each row is the gradient
# of :math:`D` at the centred sample (the batch mean held fixed) minus the
# batch mean of those gradients. WGAN-GP's authors (Gulrajani et al.,
# 2017, section 4) leave batch normalisation out of the critic for this
# reason (their penalty is on each input's gradient on its own), and
# recommend layer normalisation, which normalises each sample over its own
# features, instead.

centred = samples.clone().requires_grad_()
(coupled,) = torch.autograd.grad(
    score(critic, centred - centred.mean(dim=0)).sum(), centred
)
per_sample_centred = vmap(grad(score, argnums=1), in_dims=(None, 0))(
    critic, samples - samples.mean(dim=0)
)
gap = (coupled - per_sample_centred).abs().max().item()
print(f"centred batch: max |ones-VJP row - grad D at the centred sample| = {gap:.2f}")
# the rows differ by the batch mean of the per-sample gradients, O(1), not rounding
torch.testing.assert_close(coupled, per_sample_centred - per_sample_centred.mean(dim=0))

# %%
# .. _backward-create-graph-reference-cycle:
#
# backward(create_graph=True) and its reference cycle
# ---------------------------------------------------
#
# Some training loops call ``loss.backward(create_graph=True)`` to keep a
# differentiable gradient in ``.grad``. PyTorch warns, by default only the
# first time in a process (two calls below, one warning);
# :func:`torch.set_warn_always` makes it warn on every call, so that this
# cell shows the warning however often it runs.


def cube(p):
    return p**3


def leaf_after(route, function=cube):
    """Build the gradient of sum(FUNCTION(p)) with create_graph by ROUTE; return
    a weak reference to p, the warnings caught, and whether the gradient has a
    graph."""
    p = torch.randn(1000, generator=generator, dtype=torch.float64).requires_grad_()
    alive = weakref.ref(p)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if route == "autograd.grad":
            (p_grad,) = torch.autograd.grad(function(p).sum(), p, create_graph=True)
        else:
            function(p).sum().backward(create_graph=True)
            p_grad = p.grad
    has_graph = p_grad.grad_fn is not None
    if route == "backward, then .grad = None":
        p.grad = None
    if route == "backward, then .grad.detach_()":
        p.grad.detach_()
    if route.startswith("backward, then zero_grad("):
        optimiser = torch.optim.SGD([p], lr=0.1)
        if route == "backward, then zero_grad()":
            optimiser.zero_grad()
            assert p.grad is None  # the default, set_to_none=True
        else:
            optimiser.zero_grad(set_to_none=False)
            # zeros, detached first: no graph left
            assert p.grad.grad_fn is None and not p.grad.any()
        del optimiser
    del p, p_grad  # every name that leads to p
    gc.collect()
    return alive, [str(w.message) for w in caught], has_graph


def warnings_of_backward():
    p = torch.ones(3, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (p**3).sum().backward(create_graph=True)
    p.grad = None  # no leak here (see below)
    return len(caught)


warn_always = torch.is_warn_always_enabled()
twice = [warnings_of_backward(), warnings_of_backward()]
print(f"two calls with warn_always {warn_always}: warnings {twice}")
# the first call warns unless this process has warned already; the second never
assert warn_always or (twice[0] <= 1 and twice[1] == 0)
torch.set_warn_always(True)
try:
    results = {
        route: leaf_after(route)
        for route in (
            "backward",
            "backward, then .grad = None",
            "backward, then .grad.detach_()",
            "backward, then zero_grad()",
            "backward, then zero_grad(set_to_none=False)",
            "autograd.grad",
        )
    }
    other_losses = {
        name: leaf_after("backward", function)
        for name, function in (("exp(p)", torch.exp), ("2 p", lambda p: 2 * p))
    }
finally:
    torch.set_warn_always(warn_always)
message = results["backward"][1][0]
print(
    textwrap.fill(
        "UserWarning caught: " + message.split(" (Triggered")[0],
        86,
        subsequent_indent="  ",
    )
)
assert "will create a reference cycle between the parameter and its gradient" in message

# %%
# The cycle: ``backward`` stores the gradient in ``p.grad``; with
# ``create_graph=True`` that gradient, :math:`3p^2`, carries the graph that
# computed it, and that graph leads back to ``p``: its last node, the one
# that accumulates into ``p.grad``, holds ``p`` (here ``PowBackward0`` has
# also saved ``p`` for its own backward). So ``p`` holds ``p.grad``, which
# holds the graph, which holds ``p``. The links through the graph are C++
# objects that Python's garbage collector does not see, so ``gc.collect()``
# cannot free them: once every name is deleted, ``p`` is still alive.
# Setting ``p.grad = None`` breaks the cycle, and so does detaching the
# gradient, which drops its graph; an optimiser's ``zero_grad()`` does one or
# the other: by default it sets ``.grad`` to ``None``, and with
# ``set_to_none=False`` it detaches the gradient before zeroing it.
# :func:`torch.autograd.grad` never makes the cycle, since it returns the
# gradient instead of storing it on ``p``. A weak reference to ``p``, which
# does not keep it alive, tells which routes free it:

print(f"{'route':<44} {'warnings':>8} {'gradient has a graph':>21} {'p alive':>8}")
for route, (alive, caught, has_graph) in results.items():
    print(f"{route:<44} {len(caught):>8} {has_graph!s:>21} {alive() is not None!s:>8}")
leaked = [route for route, (alive, _, _) in results.items() if alive() is not None]
assert leaked == ["backward"]
assert all(has_graph for _, _, has_graph in results.values())
assert [len(caught) for _, caught, _ in results.values()] == [1, 1, 1, 1, 1, 0]

# %%
# That last node closes the cycle on its own; a tensor saved for backward is
# not needed, though for the cube the saved ``p`` is a second link. The
# backward of :math:`\exp(p)` saves only its result, yet the graph of its
# gradient ends, like that of the cube, at an ``AccumulateGrad`` node whose
# ``variable`` is ``p``. The walk follows ``next_functions`` from
# ``p.grad.grad_fn`` and lists the nodes whose saved tensors include ``p``:


def graph_nodes(node):
    """The nodes of the backward graph from NODE on, depth first."""
    nodes = [node]
    for child, _ in node.next_functions:
        if child is not None:
            nodes += graph_nodes(child)
    return nodes


for function in (cube, torch.exp):
    p = torch.randn(3, generator=generator, dtype=torch.float64).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning shown above
        function(p).sum().backward(create_graph=True)
    nodes = graph_nodes(p.grad.grad_fn)
    saved_p = [
        type(node).__name__
        for node in nodes
        for name in dir(node)
        if name.startswith("_saved_") and getattr(node, name) is p
    ]
    print(f"{function.__name__}: " + " -> ".join(type(node).__name__ for node in nodes))
    print(f"  nodes that saved p: {saved_p}")
    assert type(nodes[-1]).__name__ == "AccumulateGrad" and nodes[-1].variable is p
    assert saved_p == (["PowBackward0"] if function is cube else [])
    p.grad = None  # no leak here

# %%
# So ``p`` leaks with :math:`\exp` as with the cube. A gradient with no
# graph at all, such as that of :math:`\sum_i 2 p_i`, a constant, closes no
# cycle, and nothing leaks, though the warning fires all the same.

for name, (alive, caught, has_graph) in other_losses.items():
    print(
        f"backward of sum({name}): warnings {len(caught)}, "
        f"gradient has a graph {has_graph}, p alive {alive() is not None}"
    )
outcomes = [
    (len(caught), has_graph, alive() is not None)
    for alive, caught, has_graph in other_losses.values()
]
assert outcomes == [(1, True, True), (1, False, False)]

# %%
# A gradient need not depend on its own parameter to close a cycle. For
# :math:`\sum_i w_i p_i`, ``p.grad`` is :math:`w` and ``w.grad`` is
# :math:`p`: each has a graph that leads to the other parameter, whose
# ``.grad`` leads back. Both leak; setting ``w.grad`` to ``None`` alone
# frees both.


def pair_after(clear_w_grad):
    """Weak references to w and p after backward of sum(w * p) with create_graph."""
    w, p = torch.randn(2, 1000, generator=generator, dtype=torch.float64)
    w.requires_grad_(), p.requires_grad_()
    alive = weakref.ref(w), weakref.ref(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning shown above
        (w * p).sum().backward(create_graph=True)
    assert w.grad.grad_fn is not None and p.grad.grad_fn is not None
    if clear_w_grad:
        w.grad = None
    del w, p
    gc.collect()
    return [ref() is not None for ref in alive]


pair_alive = {clear: pair_after(clear) for clear in (False, True)}
print(f"backward of sum(w * p): w, p alive {pair_alive[False]}")
print(f"  the same, then w.grad = None: w, p alive {pair_alive[True]}")
assert pair_alive == {False: [True, True], True: [False, False]}

# %%
# No name leads to the leaked ``p`` any more, so nothing frees it, nor the
# gradient and the graph it holds: they stay until the process ends. A
# training loop that calls its optimiser's ``zero_grad()`` breaks the cycle
# at every step, with either setting, as the table shows; what is left after
# the last step, or in a model dropped with its ``.grad`` still set, is never
# freed. The gradient penalty and MAML's
# inner steps above use :func:`torch.autograd.grad` with
# ``create_graph=True`` and make no cycle; the final ``loss.backward()`` of a
# training step, without ``create_graph``, stores plain gradients, which
# hold no graph.

# %%
# The picture
# -----------
#
# MAML's meta-objective :math:`F(x_0) = L_{\mathrm{out}}(x_K(x_0))` for a
# two-dimensional quadratic (:math:`K = 3`), minimised over the starting
# point by 25 steps of gradient descent with step size 1: with the
# second-order gradient :math:`M^K \hat g`, which is :math:`\nabla F`, and
# with first-order MAML's :math:`\hat g`. Left, for :math:`\alpha = 0.1`:
# the contours of :math:`F` and both paths; the first-order path is not
# steepest descent, but :math:`\hat g` is a descent direction,
# :math:`\hat g^\top \nabla F = \hat g^\top M^K
# \hat g > 0`, while :math:`M^K` is positive definite, and with step size 1
# it goes down at every step. Right, :math:`F` along the paths, also for
# :math:`\alpha = 0.3`, where an inner step overshoots along the eigenvector
# of :math:`A`'s largest eigenvalue, 6 (:math:`1 - 0.3 \times 6 = -0.8`):
# :math:`M^3` has a negative eigenvalue, and first-order MAML climbs.

A2 = torch.tensor([[5.0, 2.0], [2.0, 2.0]], dtype=torch.float64)  # eigenvalues 1, 6
C2 = torch.tensor([[1.5, 0.0], [0.0, 0.5]], dtype=torch.float64)
b2 = torch.tensor([1.0, -1.0], dtype=torch.float64)
d2 = torch.tensor([-1.0, 0.5], dtype=torch.float64)
identity = torch.eye(2, dtype=torch.float64)


def meta_problem(alpha, K=3):
    """M^K and the shift of x_K = M^K x_0 + shift, for step size ALPHA."""
    M = identity - alpha * A2
    shift = alpha * sum(torch.linalg.matrix_power(M, j) @ b2 for j in range(K))
    return torch.linalg.matrix_power(M, K), shift


def meta_objective(start, M_K, shift):
    x = start @ M_K.T + shift  # x_K for each row of start
    return 0.5 * ((x @ C2) * x).sum(-1) - x @ d2


def descent(M_K, shift, second_order):
    start = torch.tensor([2.5, -2.5], dtype=torch.float64)
    path = [start]
    for _ in range(25):
        g_first_order = C2 @ (M_K @ start + shift) - d2
        # outer step size 1
        start = start - (M_K @ g_first_order if second_order else g_first_order)
        path.append(start)
    return torch.stack(path)  # the start and the 25 steps


runs = {}
for alpha_2d in (0.1, 0.3):
    M_K, shift = meta_problem(alpha_2d)
    for name, second_order in (("second order", True), ("first order", False)):
        path = descent(M_K, shift, second_order)
        runs[alpha_2d, name] = path, meta_objective(path, M_K, shift)
    # the second-order step is gradient descent on F: checked once with autograd
    probe = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    (grad_F,) = torch.autograd.grad(meta_objective(probe, M_K, shift), probe)
    torch.testing.assert_close(grad_F, M_K @ (C2 @ (M_K @ probe.detach() + shift) - d2))
    eigenvalues = [round(v, 3) for v in torch.linalg.eigvalsh(M_K).tolist()]
    print(f"alpha = {alpha_2d}: eigenvalues of M^3 {eigenvalues}")
    # exact sign: the eigenvalues are 1 - alpha * (1 or 6), cubed, far from 0
    assert (min(eigenvalues) > 0) == (alpha_2d == 0.1)
# exact comparisons of F values that differ by far more than rounding (each step
# at alpha = 0.1 lowers F by more than 8e-6)
assert all(len(path) == 26 for path, _ in runs.values())  # the start and 25 steps
assert all(
    (F[1:] < F[:-1]).all() for (alpha_2d, _), (_, F) in runs.items() if alpha_2d == 0.1
)
assert runs[0.3, "second order"][1][-1] < runs[0.3, "second order"][1][0]
assert runs[0.3, "first order"][1][-1] > 100 * runs[0.3, "first order"][1][0].abs()

# %%
# At :math:`\alpha = 0.1` both paths head for the same point. :math:`M^K` is
# invertible, so :math:`\nabla F = M^K \hat g` vanishes exactly where
# :math:`\hat g` does: at the :math:`x_0^*` whose :math:`x_K` is
# :math:`C^{-1} d`, the minimiser of :math:`L_{\mathrm{out}}`. The minimum of
# :math:`F` is therefore that of :math:`L_{\mathrm{out}}`,
# :math:`-\tfrac12 d^\top C^{-1} d`. The paths differ in speed. Since
# :math:`\hat g(x_0) = C M^K (x_0 - x_0^*)`, a step of size 1 multiplies
# :math:`x_0 - x_0^*` by :math:`I - M^K C M^K` (second order) or by
# :math:`I - C M^K` (first order). :math:`F`'s Hessian :math:`M^K C M^K`
# has :math:`M^K` on both sides; its smaller eigenvalue is 0.0044, so each
# steepest-descent step removes 0.44 % of the error along that eigenvector.
# First-order MAML's :math:`\hat g = M^{-K} \nabla F` undoes one factor
# :math:`M^K`, and removes at least 6.6 % a step along each eigenvector of
# :math:`I - C M^K`. After 25 steps the first-order path has nearly reached
# :math:`x_0^*` (the cross in the picture), and the second-order path is
# still on its way along the valley.

M_K, shift = meta_problem(0.1)
x_star = torch.linalg.solve(M_K, torch.linalg.solve(C2, d2) - shift)
F_star = meta_objective(x_star, M_K, shift)
print(f"x0* = {[round(v, 3) for v in x_star.tolist()]}, F(x0*) = {F_star:.4f}")
second_order_factor = torch.linalg.eigvalsh(identity - M_K @ C2 @ M_K)
# real: C M^K is similar to the symmetric C^(1/2) M^K C^(1/2)
first_order_factor = torch.linalg.eigvals(identity - C2 @ M_K).real.sort().values
print(
    "eigenvalues of I - M^3 C M^3:", [round(v, 4) for v in second_order_factor.tolist()]
)
print(
    "eigenvalues of I - C M^3:    ", [round(v, 4) for v in first_order_factor.tolist()]
)
for name in ("second order", "first order"):
    print(f"{name}: F after 25 steps - F(x0*) = {runs[0.1, name][1][-1] - F_star:.1e}")
# g_hat(x0*) = 0: two backward-stable 2 x 2 solves and the product leave a residual of
# a few eps x |C| |M^K| |x0*| (about 4.4), below 1e-14
torch.testing.assert_close(
    C2 @ (M_K @ x_star + shift) - d2,
    torch.zeros(2, dtype=torch.float64),
    rtol=0,
    atol=1e-13,
)
# float64 defaults (rtol 1e-7): both sides a few roundings from -7/12
torch.testing.assert_close(F_star, -0.5 * d2 @ torch.linalg.solve(C2, d2))
# exact comparisons of numbers far from their thresholds: the largest factors are
# 0.995622 and 0.933616, the gaps in F 5.7e-5 and 3.2e-2
assert 0.9955 < second_order_factor.max() < 0.9957
assert 0.9335 < first_order_factor.max() < 0.9337
first_order_gap = runs[0.1, "first order"][1][-1] - F_star
second_order_gap = runs[0.1, "second order"][1][-1] - F_star
assert first_order_gap < 1e-3 and second_order_gap > 1e-2

# %%
# The picture, :math:`\alpha = 0.1` on the left:

paths = torch.cat([runs[0.1, name][0] for name in ("second order", "first order")])
low, high = paths.min(dim=0).values - 0.5, paths.max(dim=0).values + 0.5
grid_1 = torch.linspace(low[0].item(), high[0].item(), 121, dtype=torch.float64)
grid_2 = torch.linspace(low[1].item(), high[1].item(), 121, dtype=torch.float64)
g1, g2 = torch.meshgrid(grid_1, grid_2, indexing="xy")
F_grid = meta_objective(torch.stack([g1, g2], dim=-1), M_K, shift)

fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.4), layout="constrained")
left.contour(
    g1.numpy(), g2.numpy(), F_grid.numpy(), levels=20, colors="0.75", linestyles="solid"
)
styles = {"second order": ("C0", "o"), "first order": ("C1", "s")}
for name, (colour, marker) in styles.items():
    path = runs[0.1, name][0]
    left.plot(path[:, 0], path[:, 1], marker + "-", color=colour, ms=3, label=name)
    for alpha_2d, line in ((0.1, "-"), (0.3, ":")):
        F = runs[alpha_2d, name][1]
        right.plot(
            F.numpy(),
            marker + line,
            color=colour,
            ms=3,
            label=f"{name}, $\\alpha$ = {alpha_2d}",
        )
left.plot(*x_star.tolist(), "kx", ms=8, mew=1.5, label="minimiser $x_0^*$")
left.set_aspect("equal")
left.set_xlabel("$x_0$, first coordinate")
left.set_ylabel("$x_0$, second coordinate")
left.set_title("contours of $F(x_0)$, $\\alpha$ = 0.1", fontsize=10)
left.legend(fontsize=8, loc="lower left")
right.set_yscale("symlog", linthresh=1.0)
right.set_xlabel("descent step")
right.set_title("$F(x_0)$ along the paths", fontsize=10)
right.legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * A loss that contains a gradient (MAML's inner steps, a gradient penalty)
#   needs that gradient computed with ``create_graph=True``, or with
#   :mod:`torch.func`'s nested ``grad``. Without it MAML silently becomes
#   first-order MAML, which drops the factors :math:`I - \alpha H_k`, and a
#   penalty added to the critic's loss silently trains nothing (backpropagated
#   on its own, it raises).
# * ``grad_outputs=ones`` gives per-sample input gradients only because each
#   score depends on its own sample: the Jacobian is block diagonal.
# * Use :func:`torch.autograd.grad` with ``create_graph=True``, not
#   ``backward(create_graph=True)``. That stores in ``.grad`` a gradient
#   with its graph; when that graph leads back to the parameter, directly or
#   through another parameter's ``.grad``, it is a cycle garbage collection
#   cannot break, unless a ``.grad`` in it is set to ``None`` or detached.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_08_hessian_spectrum_from_hvps.py`.
# Reference: :func:`torch.autograd.grad`, :meth:`torch.Tensor.backward`,
# :func:`torch.func.grad`, :func:`torch.func.vmap`,
# :func:`torch.set_warn_always`.
