r"""
An ensemble of models as one batched model: outputs, gradients, per-sample gradients
====================================================================================

Training :math:`M` copies of one architecture (an ensemble, a sweep over
seeds) usually means a Python loop over the models: :math:`M` forward and
:math:`M` backward passes of small matrices. This page stacks the
models' parameters with :func:`torch.func.stack_module_state` and runs all
of them as one model with :func:`torch.func.functional_call` and
:func:`torch.func.vmap`: their outputs, on one minibatch or one each, their
gradients, and the gradient of every sample for every model, each in one
call and checked against the loop it replaces. Then what moved from
``functorch``'s ``make_functional`` to ``functional_call``, and the step
people forget: the stacked parameters are new tensors, so the trained values
must be copied back into the modules.
"""

# %%
# The maths
# ---------
#
# One architecture :math:`f(\theta, x)` with :math:`P` parameters, and
# :math:`M` models :math:`\theta_1, \dots, \theta_M`. Stacking them gives
# :math:`\Theta \in \mathbb{R}^{M \times P}`, and the ensemble is the map
#
# .. math::
#
#    F(\Theta, X_1, \dots, X_M) = \bigl(f(\theta_1, X_1), \dots,
#    f(\theta_M, X_M)\bigr),
#
# where every model may get the same minibatch (:math:`X_m = X`) or its own.
# For a linear layer :math:`y = W x + b` this is one *batched* matrix
# product: the :math:`M` weights :math:`W_m \in \mathbb{R}^{o \times i}`
# stacked into :math:`(M, o, i)` multiply the :math:`M` inputs in one call
# instead of :math:`M`.
#
# With the losses :math:`\ell_m(\theta_m)` of the models, the Jacobian of
# :math:`L = (\ell_1, \dots, \ell_M)` with respect to :math:`\Theta` is
# block diagonal: :math:`\ell_m` depends on :math:`\theta_m` only, so
#
# .. math::
#
#    J = \frac{\partial L}{\partial \Theta} = \begin{pmatrix}
#        \nabla \ell_1^\top & & \\ & \ddots & \\ & & \nabla \ell_M^\top
#        \end{pmatrix} \in \mathbb{R}^{M \times MP}, \qquad
#    \mathbf{1}^\top J = \bigl(\nabla \ell_1^\top, \dots, \nabla
#    \ell_M^\top\bigr).
#
# One VJP with :math:`v = \mathbf{1}`, the gradient of the *sum* of the
# losses, holds every model's gradient, unmixed (the mean would scale each by
# :math:`1/M`). ``vmap(grad(loss))`` computes the same rows, one per model.
# Per-sample gradients add a second block level: with :math:`B` samples per
# model, the Jacobian of the :math:`MB` sample losses is block diagonal in
# :math:`m`, each block the :math:`B \times P` matrix of that model's
# per-sample gradients; those rows are lost in any one VJP, and a second
# ``vmap`` computes them.
#
# The model here is a small tanh network, :math:`f(\theta, x) = W_2
# \tanh(W_1 x + b_1) + b_2` with :math:`x \in \mathbb{R}`, 32 hidden units
# and the mean squared error :math:`\ell = \frac{1}{B}\sum_i (f(\theta,
# x_i) - t_i)^2`. Its gradient by hand, with :math:`h_i = \tanh(W_1 x_i +
# b_1)` and :math:`r_i = \tfrac{2}{B}(f(\theta, x_i) - t_i)`:
#
# .. math::
#
#    \nabla_{W_2} \ell = \sum_i r_i h_i^\top, \quad
#    \nabla_{b_2} \ell = \sum_i r_i, \quad
#    \delta_i = (W_2^\top r_i) \odot (1 - h_i^2), \quad
#    \nabla_{W_1} \ell = \sum_i \delta_i x_i^\top, \quad
#    \nabla_{b_1} \ell = \sum_i \delta_i.

# %%
# .. _ensemble-stack-module-state:
#
# M models, stacked
# -----------------
#
# Eight models of one class, each initialised from its own draws of a
# seeded generator. :func:`torch.func.stack_module_state` returns two dicts,
# keyed by the names of ``named_parameters()`` and ``named_buffers()``, each
# tensor with a new leading dimension of size :math:`M`. This network has no
# buffers, so the second dict is empty and every ``buffers`` argument below
# carries nothing; for a model that writes its buffers, such as BatchNorm's
# running statistics, see :ref:`batchnorm-training-mode-errors`.

import copy

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap
from torch.utils import benchmark

generator = torch.Generator().manual_seed(0)
M, B, HIDDEN = 8, 16, 32


def make_model():
    """A 1 -> HIDDEN -> 1 tanh network in float64, each weight and bias uniform
    on +-1/sqrt(fan-in) (the range of nn.Linear's own initialisation), drawn from
    the page's generator."""
    model = nn.Sequential(nn.Linear(1, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 1))
    model = model.to(torch.float64)
    with torch.no_grad():
        for layer in (model[0], model[2]):
            bound = layer.in_features**-0.5
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    return model


models = [make_model() for _ in range(M)]
params, buffers = stack_module_state(models)
for name, stacked in params.items():
    print(f"{name:<9} {tuple(stacked.shape)!s:<12} leaf: {stacked.is_leaf}")
print("buffers:", buffers)

# %%
# ``functional_call`` needs a module to call, but only for its code: every
# tensor comes from the stacked dicts. As the migration guide of
# :mod:`torch.func` suggests, the copy it calls is moved to the ``meta``
# device, where tensors have shapes and no data. ``deepcopy`` copies the
# parameters for a moment; ``.to("meta")`` replaces them, so what the page
# keeps holds no third copy of their values (the modules hold one, the
# stacked dicts another). The ``meta`` copy cannot run on its own:

base = copy.deepcopy(models[0]).to("meta")
assert all(p.is_meta for p in base.parameters())
x = torch.linspace(-2, 2, B, dtype=torch.float64).unsqueeze(1)  # (B, 1)
try:
    base(x)
except RuntimeError as error:
    print(f"RuntimeError: {str(error).splitlines()[0]}")
    assert "device meta" in str(error)


def one_model(params, buffers, x):
    """The output of the model whose parameters and buffers are PARAMS, BUFFERS."""
    return functional_call(base, (params, buffers), (x,))


# %%
# The same minibatch for every model: ``in_dims=(0, 0, None)`` maps over the
# leading dimension of the parameters and buffers and passes ``x`` whole to
# each model. The result is checked against the loop over the modules it
# replaces.

outputs = vmap(one_model, in_dims=(0, 0, None))(params, buffers, x)
print("outputs, one minibatch:", tuple(outputs.shape), "(M, B, 1)")
loop_outputs = torch.stack([model(x) for model in models])
# float64: batched and single matrix products may add in other orders; rounding
# near 1e-16 (printed), far inside the defaults.
torch.testing.assert_close(outputs, loop_outputs)
print(f"max |vmap - loop| = {(outputs - loop_outputs).abs().max().item():.1e}")

# %%
# A different minibatch per model
# -------------------------------
#
# Bagging gives each model its own resample of the data; here each model gets
# :math:`B` points of its own. The data now carries the model dimension too,
# and ``in_dims=0`` (for every argument) pairs model :math:`m` with
# minibatch :math:`m`.

x_per_model = 4 * torch.rand(M, B, 1, generator=generator, dtype=torch.float64) - 2
t_per_model = torch.sin(2 * x_per_model) + 0.1 * torch.randn(
    M, B, 1, generator=generator, dtype=torch.float64
)
outputs_per_model = vmap(one_model)(params, buffers, x_per_model)
loop_outputs = torch.stack([model(xs) for model, xs in zip(models, x_per_model)])
torch.testing.assert_close(outputs_per_model, loop_outputs)  # as above
print("outputs, one minibatch each:", tuple(outputs_per_model.shape))

# %%
# A mismatch of ``in_dims`` need not raise. ``(0, 0, None)`` with the
# per-model data hands every model all :math:`M` minibatches: the output gains
# a dimension, and only its diagonal is the ensemble's answer.

mixed = vmap(one_model, in_dims=(0, 0, None))(params, buffers, x_per_model)
print("in_dims (0, 0, None) on per-model data:", tuple(mixed.shape))
assert mixed.shape == (M, M, B, 1)
diagonal = torch.stack([mixed[m, m] for m in range(M)])
torch.testing.assert_close(diagonal, outputs_per_model)  # as above

# %%
# .. _ensemble-gradients-in-one-call:
#
# Every model's gradient in one call
# ----------------------------------
#
# ``grad`` of one model's loss, mapped over the models, gives the
# :math:`M` gradients: one dict whose entries stack them, each with the
# shape of the stacked parameter, :math:`(M, \dots)`; model :math:`m`'s
# gradient is row :math:`m`. The loop it replaces is one ``backward`` per
# module.


def loss(params, buffers, xs, ts):
    return F.mse_loss(one_model(params, buffers, xs), ts)


ensemble_grads = vmap(grad(loss))(params, buffers, x_per_model, t_per_model)
for model in models:
    model.zero_grad()
for model, xs, ts in zip(models, x_per_model, t_per_model):
    F.mse_loss(model(xs), ts).backward()
loop_grads = {
    name: torch.stack([model.get_parameter(name).grad for model in models])
    for name in params
}
for name, g in ensemble_grads.items():
    print(f"grad {name:<9} {tuple(g.shape)}")
    assert g.shape == params[name].shape
# float64: the same sums, perhaps in other orders; as above, the defaults.
torch.testing.assert_close(ensemble_grads, loop_grads)
print("vmap(grad) equals a backward pass per model")

# %%
# By the block structure of the maths, the gradient of the *sum* of the
# :math:`M` losses with respect to the stacked leaves holds the same rows:
# one ordinary backward pass, with :math:`v = \mathbf{1}`.

summed = vmap(loss)(params, buffers, x_per_model, t_per_model).sum()
from_sum = dict(zip(params, torch.autograd.grad(summed, list(params.values()))))
torch.testing.assert_close(from_sum, ensemble_grads)  # as above
print("gradient of the summed loss = the M gradients, stacked")

# %%
# The checks
# ----------
#
# The gradients of the maths section, written for all :math:`M` models at once
# with ``einsum`` (no autograd), against ``vmap(grad)``.


def ensemble_grads_by_hand(params, xs, ts):
    """The gradient of each model's mean squared error, from the formulas above."""
    w1, b1 = params["0.weight"], params["0.bias"]  # (M, H, 1), (M, H)
    w2, b2 = params["2.weight"], params["2.bias"]  # (M, 1, H), (M, 1)
    hidden = torch.tanh(torch.einsum("mbi,mhi->mbh", xs, w1) + b1[:, None, :])
    prediction = torch.einsum("mbh,moh->mbo", hidden, w2) + b2[:, None, :]
    r = 2 * (prediction - ts) / xs.shape[1]  # (M, B, 1)
    # sphinx_gallery_break = ("1 - hidden**2", "1 + hidden**2")
    delta = torch.einsum("mbo,moh->mbh", r, w2) * (1 - hidden**2)
    return {
        "0.weight": torch.einsum("mbh,mbi->mhi", delta, xs),
        "0.bias": delta.sum(dim=1),
        "2.weight": torch.einsum("mbo,mbh->moh", r, hidden),
        "2.bias": r.sum(dim=1),
    }


with torch.no_grad():
    expected = ensemble_grads_by_hand(params, x_per_model, t_per_model)
error = max((ensemble_grads[n] - expected[n]).abs().max().item() for n in expected)
print(f"max |vmap(grad) - by hand| over {M} models: {error:.1e}")
# float64: the same formulas in other orders, and tanh's last bits; rounding near
# 1e-16 (printed), far inside the defaults.
torch.testing.assert_close(ensemble_grads, expected)

# %%
# .. _ensemble-per-sample-gradients:
#
# Per-sample gradients of every model
# -----------------------------------
#
# One more ``vmap`` inside: over the samples of a minibatch, with the
# parameters shared (``None``). The loss of one sample treats it as a batch
# of one. The result has two leading dimensions, model and sample.


def loss_one_sample(params, buffers, x_one, t_one):
    return loss(params, buffers, x_one.unsqueeze(0), t_one.unsqueeze(0))


per_sample = vmap(grad(loss_one_sample), in_dims=(None, None, 0, 0))
every_model_every_sample = vmap(per_sample)(params, buffers, x_per_model, t_per_model)
for name, g in every_model_every_sample.items():
    print(f"per-sample grad {name:<9} {tuple(g.shape)}")

# %%
# Against the loop of :math:`MB` backward passes, one per model and sample,
# and the mean over the samples against each model's gradient above:

loop_rows = {name: torch.empty_like(g) for name, g in every_model_every_sample.items()}
for m, model in enumerate(models):
    for i in range(B):
        sample_loss = F.mse_loss(
            model(x_per_model[m, i : i + 1]), t_per_model[m, i : i + 1]
        )
        row = torch.autograd.grad(sample_loss, list(model.parameters()))
        for name, g in zip(params, row):
            loop_rows[name][m, i] = g
torch.testing.assert_close(every_model_every_sample, loop_rows)  # as above
means = {name: g.mean(dim=1) for name, g in every_model_every_sample.items()}
torch.testing.assert_close(means, ensemble_grads)  # as above
print(f"{M} x {B} per-sample gradients equal the loop; their means, each model's")

# %%
# What one call saves
# -------------------
#
# The loop runs the module :math:`M` times; ``vmap`` runs the ``meta`` copy's
# forward once, with batched tensors. A forward pre-hook counts the calls.
# :class:`torch.profiler.profile` (with ``record_shapes=True``) then counts the
# matrix products, the work of a linear layer, forward and backward: the
# innermost ``aten::mm``, ``aten::addmm`` and ``aten::bmm`` events (under
# ``vmap`` an ``mm`` is recorded around the batched call that does its work).

MATRIX_PRODUCTS = {"aten::mm", "aten::addmm", "aten::bmm"}


def descendants(event):
    """The names of every event recorded inside EVENT."""
    return {
        name
        for child in event.cpu_children
        for name in {child.name} | descendants(child)
    }


def matrix_products(run):
    """(name, input shapes) of each innermost matrix product that RUN computes."""
    with torch.profiler.profile(record_shapes=True) as profiled:
        run()
    return [
        (event.name, event.input_shapes)
        for event in profiled.events()
        if event.name in MATRIX_PRODUCTS and not descendants(event) & MATRIX_PRODUCTS
    ]


def loop_step(models, xs, ts):
    """Each model's gradient, one model at a time."""
    return [
        torch.autograd.grad(F.mse_loss(model(x_m), t_m), list(model.parameters()))
        for model, x_m, t_m in zip(models, xs, ts)
    ]


def vmap_step(params, buffers, xs, ts):
    """Each model's gradient, all models in one call."""
    return vmap(grad(loss))(params, buffers, xs, ts)


forward_calls = []
hooks = [
    module.register_forward_pre_hook(lambda module, args: forward_calls.append(1))
    for module in [base, *models]
]
loop_step(models, x_per_model, t_per_model)
loop_forwards = len(forward_calls)
forward_calls.clear()
vmap_step(params, buffers, x_per_model, t_per_model)
vmap_forwards = len(forward_calls)
for hook in hooks:
    hook.remove()
print(f"module forward calls: loop {loop_forwards}, vmap {vmap_forwards}")
assert (loop_forwards, vmap_forwards) == (M, 1)

# %%
# The same count for ensembles of 1 to 8 of the models: the loop's grows with
# :math:`M`, ``vmap``'s does not, and each of its products carries all the
# models in a leading dimension.

ensemble_sizes = [1, 2, 4, 8]
loop_counts, vmap_counts = [], []
for size in ensemble_sizes:
    some_params, some_buffers = stack_module_state(models[:size])
    xs, ts = x_per_model[:size], t_per_model[:size]
    loop_counts.append(len(matrix_products(lambda: loop_step(models[:size], xs, ts))))
    products = matrix_products(lambda: vmap_step(some_params, some_buffers, xs, ts))
    vmap_counts.append(len(products))
    # each of vmap's products covers the SIZE models: a leading dimension on an input
    assert all(any(s[:1] == [size] for s in shapes) for _, shapes in products)
print("models:                 ", ensemble_sizes)
print("matrix products, loop:  ", loop_counts)
print("matrix products, vmap:  ", vmap_counts)
for name, shapes in products:
    print(f"  vmap, {M} models: {name} {shapes}")
assert loop_counts == [size * loop_counts[0] for size in ensemble_sizes]
assert vmap_counts == [loop_counts[0]] * len(ensemble_sizes)

# %%
# Fewer calls are not free calls. ``vmap`` trades :math:`M` eager calls for
# one call with a larger fixed cost: every operation in it passes through
# ``vmap``'s and ``grad``'s layers and a batching rule before its kernel runs.
# For a network this small that fixed cost can exceed several eager forward
# and backward passes, so at small :math:`M` the loop may well be the faster;
# where the two meet depends on the model's size and on the machine. The
# times below, for one model and for :math:`M`, come from the machine that
# built this page (median of several runs, the same gradients on both sides)
# and are shown, not asserted.

timings = {}
for size in (1, M):
    some_params, some_buffers = stack_module_state(models[:size])
    timer_globals = {
        **globals(),
        "some_models": models[:size],
        "some_params": some_params,
        "some_buffers": some_buffers,
        "xs": x_per_model[:size],
        "ts": t_per_model[:size],
    }
    for label, stmt in (
        ("loop", "loop_step(some_models, xs, ts)"),
        ("vmap", "vmap_step(some_params, some_buffers, xs, ts)"),
    ):
        timings[label, size] = benchmark.Timer(
            stmt, globals=timer_globals, num_threads=torch.get_num_threads()
        ).blocked_autorange(min_run_time=0.3)
for size in (1, M):
    loop_ms, vmap_ms = (timings[label, size].median * 1e3 for label in ("loop", "vmap"))
    print(
        f"{size} model(s): loop {loop_ms:.2f} ms, vmap {vmap_ms:.2f} ms; "
        f"the loop is {max(loop_ms, vmap_ms) / min(loop_ms, vmap_ms):.1f}x "
        + ("slower" if loop_ms > vmap_ms else "faster")
    )

# %%
# .. _ensemble-train-and-copy-back:
#
# Training the stack, and copying it back
# ---------------------------------------
#
# The stacked tensors are new leaves that require grad: an optimizer takes
# them as they are, and one backward pass of the summed loss (the maths
# section's :math:`v = \mathbf{1}`) fills every model's block of their
# ``.grad`` with that model's own gradient (the mean of the losses would
# divide each by :math:`M`, unlike the gradients of the separate runs).
# Adam's update is elementwise: the step of each entry depends on that
# entry's gradients only, not on the other entries or the tensor's shape,
# so one Adam over the stacked tensors takes the steps :math:`M`
# separate Adams would. Checked over ten steps against a copy of the modules
# trained one at a time.


def train(params, steps, optimizer):
    for _ in range(steps):
        optimizer.zero_grad()
        vmap(loss)(params, buffers, x_per_model, t_per_model).sum().backward()
        optimizer.step()


def train_one_at_a_time(optimizer_class, steps):
    """Copies of the untrained modules, each trained by its own optimizer, with
    their parameters stacked as in PARAMS."""
    modules = copy.deepcopy(snapshot)
    for model, x_m, t_m in zip(modules, x_per_model, t_per_model):
        own_optimizer = optimizer_class(model.parameters(), lr=0.01)
        for _ in range(steps):
            own_optimizer.zero_grad()
            F.mse_loss(model(x_m), t_m).backward()
            own_optimizer.step()
    return {
        name: torch.stack([model.get_parameter(name) for model in modules]).detach()
        for name in params
    }


def largest_gap(stacked, separately):
    """max |stacked - separately| over every entry of every parameter."""
    return max(
        (stacked[n].detach() - separately[n]).abs().max().item() for n in stacked
    )


for model in models:
    model.zero_grad()  # sets .grad to None: the loops above left gradients there
snapshot = copy.deepcopy(models)  # the modules as they were, before any training
optimizer = torch.optim.Adam(params.values(), lr=0.01)
train(params, 10, optimizer)

separately = train_one_at_a_time(torch.optim.Adam, 10)
adam_gap = largest_gap(params, separately)
print(f"10 Adam steps: max |stacked - one at a time| = {adam_gap:.1e}")


def adam_with_nudged_gradients(nudge, steps=10):
    """STEPS Adam steps from the untrained values, every gradient entry moved by
    +-NUDGE (random signs) before each step; the result, and the smallest |g| met."""
    nudged, _ = stack_module_state(snapshot)
    signs = torch.Generator().manual_seed(1)
    nudged_optimizer = torch.optim.Adam(nudged.values(), lr=0.01)
    smallest = float("inf")
    for _ in range(steps):
        nudged_optimizer.zero_grad()
        vmap(loss)(nudged, buffers, x_per_model, t_per_model).sum().backward()
        for p in nudged.values():
            smallest = min(smallest, p.grad.abs().min().item())
            random_signs = (
                2 * torch.randint(2, p.shape, generator=signs, dtype=p.dtype) - 1
            )
            p.grad += nudge * random_signs
        nudged_optimizer.step()
    return nudged, smallest


# How far can rounding move ten Adam steps? Adam's step, lr m / (sqrt(v) + eps),
# magnifies an error in g by up to lr / eps = 1e6 where g is near 0, and by up
# to about lr / |g| where |g| >> eps; and a gap in the parameters changes the
# next gradients, so the gaps compound. Nudging every gradient entry by 1e-13 at
# every step measures all of that at once: a thousand times the few 1e-16 by
# which rounding moves the gradients (printed above), in the linear regime
# (every |g| met is far above 1e-13).
nudged, smallest_gradient = adam_with_nudged_gradients(1e-13)
nudged_gap = largest_gap(nudged, params)
print(f"smallest |g| entry met: {smallest_gradient:.1e}")
print(f"gradients nudged by 1e-13 a step: max |nudged - stacked| = {nudged_gap:.1e}")
assert smallest_gradient > 1e-9  # seeded data: ten thousand times the nudge
# To first order the gap is proportional to the nudge: rounding's share, a
# thousand times smaller, is then far inside the defaults' atol = 1e-7 below.
assert nudged_gap < 1e-7
torch.testing.assert_close({n: p.detach() for n, p in params.items()}, separately)

# %%
# An optimizer whose update looks across a tensor does not separate the
# models. :class:`torch.optim.Adafactor` scales each step by the root mean
# square of the whole parameter tensor (at least ``eps[1] = 1e-3``), divides
# it by the root mean square of the whole update when that exceeds ``d = 1``
# (update clipping), and keeps the second moment of a tensor of two or more dimensions as factors over its last
# two: on the stacked tensors the :math:`M` models share those scales, and a
# stacked bias of shape :math:`(M, 32)` gets a factor that runs across the
# models. The same ten steps, stacked and one module at a time:

adafactor_params, _ = stack_module_state(snapshot)  # the untrained values again
train(adafactor_params, 10, torch.optim.Adafactor(adafactor_params.values(), lr=0.01))
adafactor_gap = largest_gap(
    adafactor_params, train_one_at_a_time(torch.optim.Adafactor, 10)
)
print(f"10 Adafactor steps: max |stacked - one at a time| = {adafactor_gap:.1e}")
# Rounding alone would leave gaps near 1e-16 (as for Adam); a gap above 1e-6 is
# the shared scales at work.
assert adafactor_gap > 1e-6

# %%
# The modules themselves did not move: ``stack_module_state`` copied their
# parameters, so nothing links the leaves the optimizer updated to the
# ``nn.Linear`` objects, and their ``.grad`` stay unset. A model saved or
# evaluated now would be the untrained one.

for model, before in zip(models, snapshot):
    for (name, p), p_before in zip(model.named_parameters(), before.parameters()):
        # exact: untouched tensors, compared with a copy of their values
        assert torch.equal(p, p_before) and p.grad is None, name
print("after training the stack: every module's parameters unchanged, .grad None")

# %%
# The trained values have to be copied back, model :math:`m` from row
# :math:`m`, without recording the copy in autograd:

train(params, 290, optimizer)  # 300 steps in all, for the picture below
with torch.no_grad():
    for m, model in enumerate(models):
        for name, p in model.named_parameters():
            p.copy_(params[name][m])
for m, model in enumerate(models):
    for name, p in model.named_parameters():
        # exact: copy_ writes the same float64 values
        assert torch.equal(p, params[name][m]), (m, name)
trained = vmap(one_model, in_dims=(0, 0, None))(params, buffers, x)
torch.testing.assert_close(torch.stack([model(x) for model in models]), trained)
print("copied back: each module's output equals its row of the ensemble's")

# %%
# .. _migrate-make-functional:
#
# From make_functional to functional_call
# ---------------------------------------
#
# Code written for ``functorch`` (before PyTorch 2.0) called
# ``fmodel, params = make_functional(model)``: a stateless deep copy of the
# module, and a tuple of that copy's parameters, used as
# ``fmodel(params, x)``; ``make_functional_with_buffers`` added a tuple of
# buffers, and ``combine_state_for_ensemble(models)`` returned an ``fmodel``
# and the stacked parameters and buffers, detached (unlike those of
# ``stack_module_state``, they do not require grad). All three are deprecated
# since PyTorch 2.0: in 2.13 ``functorch`` still runs them, each with a
# ``FutureWarning`` that names its replacement (checked by the site's tests), and
# :mod:`torch.func` has none of them. The replacement is
# :func:`torch.func.functional_call`, which calls the module as it is, with
# tensors given by name substituted for that call only:
#
# * ``fmodel(params, x)`` becomes ``functional_call(model, params, (x,))``
#   with ``params`` a dict keyed by ``named_parameters()`` names;
# * with buffers, ``functional_call(model, (params, buffers), (x,))``;
# * ``combine_state_for_ensemble`` becomes ``stack_module_state`` (no
#   ``fmodel``: the function ``one_model`` above plays its part).
#
# Old code that passes a tuple keeps working with a two-line ``fmodel``:

for old_name in (
    "make_functional",
    "make_functional_with_buffers",
    "combine_state_for_ensemble",
):
    assert not hasattr(torch.func, old_name)
model = copy.deepcopy(models[0])  # a copy, edited below
names = [name for name, _ in model.named_parameters()]


def fmodel(param_tuple, *args):
    """make_functional's fmodel: MODEL run with PARAM_TUPLE, in parameter order."""
    return functional_call(model, dict(zip(names, param_tuple)), args)


param_tuple = tuple(p.detach().clone() for p in model.parameters())  # a copy
# exact: the same operations on equal values, in the same order
assert torch.equal(fmodel(param_tuple, x), model(x))
own_before = [(p, p.detach().clone()) for p in model.parameters()]
# For that call only: doubled parameters change the output by far more than
# rounding, and afterwards the module holds its own parameters again (exact:
# the same objects, compared with a copy of their values).
assert not torch.equal(fmodel(tuple(2 * p for p in param_tuple), x), model(x))
assert all(
    p is q and torch.equal(p, value)
    for p, (q, value) in zip(model.parameters(), own_before)
)
tuple_grads = grad(lambda ps: F.mse_loss(fmodel(ps, x), torch.sin(2 * x)))(param_tuple)
model.zero_grad()
F.mse_loss(model(x), torch.sin(2 * x)).backward()
torch.testing.assert_close(tuple_grads, tuple(p.grad for p in model.parameters()))
print("fmodel(param_tuple, x) = model(x); grad of the tuple = backward's .grad")

# %%
# One difference matters when training: ``make_functional``'s parameters
# belonged to its copy, so training them left ``model`` as it was, the
# situation of the section above. With ``functional_call`` and
# ``dict(model.named_parameters())`` there is one set of tensors, the
# module's own: an in-place update of the dict is an update of the module.

own = dict(model.named_parameters())
with torch.no_grad():
    own["2.bias"] += 1
assert model[2].bias is own["2.bias"]
# exact: the same float64 addition of 1 to the same value
assert torch.equal(model[2].bias, params["2.bias"][0].detach() + 1)
print(f"after own['2.bias'] += 1, model[2].bias = {model[2].bias.item():.4f}")

# %%
# The picture
# -----------
#
# Left, the eight models after 300 batched Adam steps, each fitted to its own
# 16 points (drawn in its colour), evaluated in one call on a grid; where the
# data thins out, they disagree, which is what an ensemble is for. Right, the
# count of the section on what one call saves.

grid = torch.linspace(-2.5, 2.5, 201, dtype=torch.float64).unsqueeze(1)
with torch.no_grad():
    on_grid = vmap(one_model, in_dims=(0, 0, None))(params, buffers, grid)
fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.2), layout="constrained")
for m in range(M):
    left.plot(grid.squeeze(1), on_grid[m].squeeze(1), color=f"C{m}", lw=1)
    left.plot(x_per_model[m], t_per_model[m], ".", color=f"C{m}", ms=4)
left.plot(grid.squeeze(1), torch.sin(2 * grid.squeeze(1)), "k--", lw=1, label="sin 2x")
left.set_xlabel("x")
left.set_ylabel("f(θ_m, x)")
left.set_ylim(-2, 2)
left.set_title(f"{M} models, one vmap call", fontsize=10)
left.legend(fontsize=8, loc="lower right")
right.plot(ensemble_sizes, loop_counts, "o-", label="loop over the models")
right.plot(ensemble_sizes, vmap_counts, "s-", label="vmap (batched products)")
right.set_xlabel("models M")
right.set_ylabel("matrix products per step")
right.set_xticks(ensemble_sizes)
right.set_title("one gradient step of every model", fontsize=10)
right.legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * ``params, buffers = stack_module_state(models)``, a ``meta`` copy of one
#   model, and ``vmap`` of ``functional_call`` run :math:`M` models as one:
#   ``in_dims=(0, 0, None)`` shares a minibatch, ``in_dims=0`` gives each its
#   own. ``vmap(grad(loss))`` gives every model's gradient, the gradient of
#   the summed loss; a second ``vmap`` inside gives per-sample gradients of
#   every model. Each matrix product then runs once, batched, not :math:`M`
#   times.
# * The stacked tensors are new leaves: train them with an elementwise
#   optimizer such as Adam (Adafactor mixes the models), then copy them back
#   into the modules under ``torch.no_grad()``, or the modules stay untrained.
# * ``make_functional`` is deprecated; ``functional_call(model, params,
#   args)`` with a dict of named tensors replaces it, and a two-line wrapper
#   serves code that passes a tuple.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_13_per_sample_gradient_norms_without_per_sample_gradients.py`.
# Reference: :func:`torch.func.stack_module_state`,
# :func:`torch.func.functional_call`, :func:`torch.func.vmap`,
# :func:`torch.func.grad`, :class:`torch.optim.Adam`,
# :class:`torch.optim.Adafactor`,
# :class:`torch.profiler.profile`, :class:`torch.utils.benchmark.Timer`,
# ``nn.Module.register_forward_pre_hook``.
