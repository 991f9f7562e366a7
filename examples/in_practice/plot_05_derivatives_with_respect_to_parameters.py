r"""
Gradients with respect to a model's parameters, one per sample, clipped
=======================================================================

:mod:`torch.func` transforms differentiate a function with respect to its
*arguments*. A model's parameters are not arguments of ``model(x)``: they
live inside the module. This page shows the trap that follows (a closure
over the module gives gradients that are exactly zero, with no error), the
fix with :func:`torch.func.functional_call`, and then the use that needs
it most: per-sample gradients of a small CNN, clipped one sample at a time
as in differentially private SGD (DP-SGD), checked against a Python loop.
"""

# %%
# The maths
# ---------
#
# For a batch of :math:`B` samples :math:`(x_i, y_i)` and parameters
# :math:`\theta \in \mathbb{R}^P`, the per-sample losses
# :math:`\ell_i(\theta) = \ell(f_\theta(x_i), y_i)` form a map
# :math:`\mathbb{R}^P \to \mathbb{R}^B` with Jacobian
#
# .. math::
#
#    J = \begin{pmatrix} \nabla_\theta \ell_1^\top \\ \vdots \\
#        \nabla_\theta \ell_B^\top \end{pmatrix} \in \mathbb{R}^{B \times P}.
#
# One backward pass of the mean loss gives :math:`v^\top J` with
# :math:`v = \tfrac{1}{B}\mathbf{1}`: the *average* of the rows, and the rows
# themselves are lost. DP-SGD needs each row's norm: it clips every
# per-sample gradient to norm at most :math:`C`, then averages,
#
# .. math::
#
#    \bar g = \frac{1}{B} \sum_{i=1}^{B} g_i \min\!\Bigl(1,
#    \frac{C}{\lVert g_i \rVert}\Bigr), \qquad g_i = \nabla_\theta \ell_i,
#
# (and adds Gaussian noise scaled by :math:`C`, which is not a derivative and
# is left out here). :math:`\bar g` is still a :math:`v^\top J`, with
# :math:`v_i = \min(1, C / \lVert g_i \rVert) / B`, but that :math:`v`
# needs the norm of every row, which the backward pass of the mean loss never
# forms. This page gets the norms from the rows: ``vmap`` of ``grad``
# gives all :math:`B` rows in one batched pass, provided the parameters are
# an *argument* of the function being differentiated. (The rows are one
# way, not the only one: for linear layers the norms follow from one
# ordinary backward pass, with no row formed;
# :ref:`sphx_glr_auto_examples_in_practice_plot_13_per_sample_gradient_norms_without_per_sample_gradients.py`
# shows how.)

# %%
# .. _closure-over-the-module:
#
# The trap: a closure over the module
# -----------------------------------
#
# The natural first attempt passes the parameters in but lets the function
# call the module, which reads its own ``nn.Parameter`` objects:

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.utils import benchmark

generator = torch.Generator().manual_seed(0)


def initialise(network):
    """Each weight and bias of NETWORK's linear and convolution layers uniform on
    +-1/sqrt(fan-in), the range of their own initialisation, from the local
    generator."""
    with torch.no_grad():
        for layer in network.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                # fan-in: the inputs of one output unit
                bound = layer.weight[0].numel() ** -0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return network


mlp = initialise(
    nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)).to(torch.float64)
)
x_small = torch.randn(8, 3, generator=generator, dtype=torch.float64)
y_small = torch.randn(8, 1, generator=generator, dtype=torch.float64)
params = {name: p.detach() for name, p in mlp.named_parameters()}


def loss_closure(params):
    return F.mse_loss(mlp(x_small), y_small)  # `params` is never used


naive = grad(loss_closure)(params)
for name, g in naive.items():
    print(
        f"closure: grad wrt {name:<9} {tuple(g.shape)!s:<8} max |entry| = "
        f"{g.abs().max().item():.1f}"
    )
# Exact: grad returns zeros, computed by no arithmetic, for inputs the loss does not
# use.
assert all((g == 0).all() for g in naive.values()), (
    "the closure's gradient should be all zeros"
)

# %%
# Every entry is exactly zero, and nothing warns. The zeros are the right
# answer to the question that was asked: ``grad`` wraps the tensors it is
# given and differentiates with respect to *those*; the loss is computed
# from ``mlp``'s own parameters, which are other tensor objects, so it does
# not depend on what was passed. The symptom is visible in the value too:
# moving the parameters by 1 does not change the loss.

moved = {name: p + 1 for name, p in params.items()}
print(
    f"loss at params {loss_closure(params).item():.6f}, at params + 1 "
    f"{loss_closure(moved).item():.6f}"
)
# Exact: both calls run the same operations on the same tensors (the argument
# is ignored), so the results are bit-identical on any one machine.
assert loss_closure(moved) == loss_closure(params)

# %%
# The older :mod:`torch.autograd.functional` API has the same trap: it
# calls the function with new tensors that alias the inputs and
# differentiates with respect to those, so a function that ignores them
# gets zeros, with no error unless ``strict=True``
# (:ref:`sphx_glr_auto_examples_in_practice_plot_02_vjp_arguments_and_errors.py`
# shows both for ``vjp``). For ``jacobian`` this is the behaviour reported in
# pytorch/pytorch#49830. With a function that runs ``mlp`` and ignores its
# arguments:

zero_jacobian = torch.autograd.functional.jacobian(
    lambda *ps: mlp(x_small), tuple(mlp.parameters())
)
print("functional.jacobian of a function that ignores the parameters: all zeros")
assert all((j == 0).all() for j in zero_jacobian)  # exact zeros, as above

# %%
# The fix: :func:`torch.func.functional_call` runs the module with the
# tensors in ``params`` substituted for its parameters, by name, for that call
# only. The result is checked against ``loss.backward()`` on the module
# itself, an independent computation of the same gradient.


def loss_of_params(params):
    # sphinx_gallery_break = ("functional_call(mlp, params, (x_small,)", "mlp(x_small")
    return F.mse_loss(functional_call(mlp, params, (x_small,)), y_small)


fixed = grad(loss_of_params)(params)
mlp.zero_grad()
F.mse_loss(mlp(x_small), y_small).backward()
by_backward = {name: p.grad for name, p in mlp.named_parameters()}
# grad of functional_call and backward() run the same forward and backward
# operations on the same tensors: bit-identical on any one machine.
torch.testing.assert_close(fixed, by_backward, rtol=1e-12, atol=1e-14)
print("functional_call: grad wrt every parameter equals loss.backward()'s .grad")
print(
    f"and the loss now moves with params: {loss_of_params(params).item():.6f} -> "
    f"{loss_of_params(moved).item():.6f}"
)

# %%
# Per-sample gradients of a small CNN
# -----------------------------------
#
# The same construction as PyTorch's per-sample-gradients tutorial, scaled
# down to run in a fraction of a second on a CPU: two convolutions, two linear
# layers, cross-entropy, :math:`B = 32` single-channel :math:`12 \times 12`
# images with random labels. ``loss_one_sample`` treats one sample as a batch
# of one; ``vmap`` maps it over the batch while sharing the parameters
# (``in_dims=(None, 0, 0)``).


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)  # 12x12 -> 10x10
        self.conv2 = nn.Conv2d(8, 16, 3)  # 10x10 -> 8x8, pooled to 4x4
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, images):
        hidden = F.relu(self.conv1(images))
        hidden = F.max_pool2d(F.relu(self.conv2(hidden)), 2)
        return self.fc2(F.relu(self.fc1(hidden.flatten(1))))


B = 32
cnn = initialise(SmallCNN().to(torch.float64))
images = torch.randn(B, 1, 12, 12, generator=generator, dtype=torch.float64)
labels = torch.randint(0, 10, (B,), generator=generator)
cnn_params = {name: p.detach() for name, p in cnn.named_parameters()}


def loss_one_sample(params, image, label):
    logits = functional_call(cnn, params, (image.unsqueeze(0),))
    return F.cross_entropy(logits, label.unsqueeze(0))


per_sample_grads = vmap(grad(loss_one_sample), in_dims=(None, 0, 0))(
    cnn_params, images, labels
)
P = sum(p.numel() for p in cnn_params.values())
print(f"per-sample gradients: {B} samples x {P} parameters")
for name, g in per_sample_grads.items():
    print(f"  {name:<13} {tuple(g.shape)}")

# %%
# The checks
# ----------
#
# The reference is the loop that ``vmap`` replaces: for each sample, a
# forward pass of the module and ``torch.autograd.grad`` with respect to its
# parameters.


def per_sample_loop(images, labels):
    rows = []
    for image, label in zip(images, labels):
        loss = F.cross_entropy(cnn(image.unsqueeze(0)), label.unsqueeze(0))
        rows.append(torch.autograd.grad(loss, list(cnn.parameters())))
    return {name: torch.stack(column) for name, column in zip(cnn_params, zip(*rows))}


expected = per_sample_loop(images, labels)

# %%
# Batched and single-sample kernels add in different orders, so the two
# agree only up to rounding, and how far apart they may be depends on the
# size of what is added. ``absolute_value_sums`` measures that size: for
# each gradient entry, the sum of the absolute values of the products it
# adds up. It runs the same layers with every weight, bias and pixel
# replaced by its absolute value, keeping the ReLU and max-pool choices of
# the real pass, and with each :math:`\partial \ell / \partial\,
# \mathrm{logit}` (a softmax minus a one-hot, at most 1 in size) replaced
# by 1, which makes the sums upper bounds. It also returns the largest such
# sum for a logit.


def absolute_value_sums(params, image):
    image = image.unsqueeze(0)
    z1 = F.conv2d(image, params["conv1.weight"], params["conv1.bias"])
    h2 = F.relu(F.conv2d(F.relu(z1), params["conv2.weight"], params["conv2.bias"]))
    pooled = F.max_pool2d(h2, 2)
    z3 = F.linear(pooled.flatten(1), params["fc1.weight"], params["fc1.bias"])
    kept_by_pool = h2 == pooled.repeat_interleave(2, dim=-1).repeat_interleave(
        2, dim=-2
    )
    gates = (z1 > 0, (h2 > 0) & kept_by_pool, z3 > 0)  # which terms the real pass keeps

    def logits_from_absolute_values(abs_params):
        hidden = gates[0] * F.conv2d(
            image.abs(), abs_params["conv1.weight"], abs_params["conv1.bias"]
        )
        hidden = gates[1] * F.conv2d(
            hidden, abs_params["conv2.weight"], abs_params["conv2.bias"]
        )
        hidden = 4 * F.avg_pool2d(hidden, 2)  # the one kept entry of each window
        hidden = gates[2] * F.linear(
            hidden.flatten(1), abs_params["fc1.weight"], abs_params["fc1.bias"]
        )
        return F.linear(hidden, abs_params["fc2.weight"], abs_params["fc2.bias"])

    abs_params = {name: p.abs() for name, p in params.items()}
    entry_sums = grad(lambda abs_params: logits_from_absolute_values(abs_params).sum())(
        abs_params
    )
    return entry_sums, logits_from_absolute_values(abs_params).max()


sums, logit_sums = vmap(absolute_value_sums, in_dims=(None, 0))(cnn_params, images)
largest_sum = max(entry_sums.max().item() for entry_sums in sums.values())
print(
    f"largest absolute-value sum: of a gradient entry {largest_sum:.1f}, of a logit "
    f"{logit_sums.max().item():.1f}"
)
difference = max(
    (per_sample_grads[name] - expected[name]).abs().max().item() for name in expected
)
print(f"max |vmap(grad) - loop| over {B} samples, {P} parameters: {difference:.1e}")
# To first order in eps = 2.2e-16, each way is off from the exact entry by
# ~700 roundings (sums of 9, 72, 256, 32 and 10 terms forward, of 10, 32, 144
# and 100 backward), each < eps times the entry's sum S; plus the logits'
# error, < ~400 eps times their sums L, which moves softmax - one-hot by < twice
# that, and the entry by that times S. With S < 60 and L < 60 (asserted):
# 60 eps (700 + 800 x 60) = 6.4e-10 each way, so atol widened to 2e-9.
assert largest_sum < 60 and logit_sums.max() < 60
torch.testing.assert_close(per_sample_grads, expected, rtol=1e-10, atol=2e-9)

# %%
# The rows average to the ordinary gradient of the mean loss, one backward
# pass of the whole batch (:math:`v = \tfrac{1}{B}\mathbf{1}` above):

cnn.zero_grad()
F.cross_entropy(cnn(images), labels).backward()
for name, p in cnn.named_parameters():
    # As above, each sample's part is within 6.4e-10 each way; the two means add
    # sums of 32 such parts (< 32 eps x 60 = 4e-13 more): atol 2e-9.
    torch.testing.assert_close(
        per_sample_grads[name].mean(dim=0), p.grad, rtol=1e-10, atol=2e-9
    )
print("mean of the per-sample gradients equals the batch gradient")

# %%
# What ``vmap`` saves
# -------------------
#
# A forward pre-hook counts how many times the module runs: once per sample
# in the loop, once in all for ``vmap``. It is removed once counted, so the
# runs timed below carry no hook.

forward_calls = []
counting = cnn.register_forward_pre_hook(
    lambda module, args: forward_calls.append(args[0].shape[0])
)
per_sample_loop(images, labels)
loop_forwards = len(forward_calls)
forward_calls.clear()
vmap(grad(loss_one_sample), in_dims=(None, 0, 0))(cnn_params, images, labels)
vmap_forwards = len(forward_calls)
counting.remove()
print(f"module forward calls: loop {loop_forwards}, vmap {vmap_forwards}")
assert (loop_forwards, vmap_forwards) == (B, 1)

# %%
# That counts calls of the module, each with its own Python and dispatch
# overhead and small kernels; it is not a count of arithmetic. The
# convolutions show how the work is split. :class:`torch.profiler.profile`
# with ``record_shapes=True`` records each ATen operation with the shapes of
# its inputs. For a convolution, forward or backward, they say how many
# images it covers: its batch size, times its groups (the input's channels
# over the weight's). Under ``vmap`` the convolution of one sample is
# recorded too, with the batched call that does the work inside it; only the
# innermost ``aten::convolution`` and ``aten::convolution_backward`` calls
# are counted. These are ATen operations, not kernels: the kernels an
# operation runs inside it are not counted here.

CONVOLUTIONS = ("aten::convolution", "aten::convolution_backward")


def convolution_calls(run):
    """(batch size, groups) of each convolution that RUN computes."""
    with torch.profiler.profile(record_shapes=True) as profiled:
        run()
    calls = []
    for event in profiled.events():
        inside = [child.name for child in event.cpu_children]
        if event.name in CONVOLUTIONS and not set(inside) & set(CONVOLUTIONS):
            # forward: (input, weight, ...); backward: (grad_output, input, weight, ...)
            shapes = event.input_shapes[event.name == "aten::convolution_backward" :]
            (batch, channels, *_), weight = shapes[0], shapes[1]
            calls.append((batch, channels // weight[1]))
    return calls


def vmap_run(count):
    return lambda: vmap(grad(loss_one_sample), in_dims=(None, 0, 0))(
        cnn_params, images[:count], labels[:count]
    )


loop_calls = convolution_calls(lambda: per_sample_loop(images, labels))
one_sample = convolution_calls(lambda: per_sample_loop(images[:1], labels[:1]))
vmap_calls = convolution_calls(vmap_run(B))
half_batch = convolution_calls(vmap_run(B // 2))
for name, calls in (("loop", loop_calls), ("vmap(grad)", vmap_calls)):
    print(
        f"{name:<10} convolution calls {len(calls):>3},",
        f"(batch size, groups): {sorted(set(calls))}",
    )
print(f"vmap(grad) on {B // 2} samples: {len(half_batch)} convolution calls")
# Exact: counts of ATen operations. The loop repeats one sample's, each on one
# image; vmap makes as many for 16 samples as for 32, and each covers all 32.
assert len(loop_calls) == B * len(one_sample) and set(loop_calls) == {(1, 1)}
assert len(half_batch) == len(vmap_calls)
assert all(batch * groups == B for batch, groups in vmap_calls)

# %%
# The loop makes one sample's convolution operations 32 times over, each on
# one image. ``vmap`` makes the same few operations whatever the batch size,
# each on all the images at once: as the batch of the call (batch size 32)
# or as its groups, one group per sample (groups 32). How an operation is
# split into kernels is the backend's business, and fewer operations need
# not mean fewer kernels: on a CPU in float64, the backward of a grouped
# convolution runs its kernel once per group, so the calls with groups 32
# still run one kernel per sample inside (the site's tests check this: ``tests/test_torch_claims.py``). What
# ``vmap`` removes for certain is the per-sample work around the kernels:
# the module's Python, the dispatch and the autograd bookkeeping of 32
# separate passes.

# %%
# Median times of 5 runs on the machine that built this page, after a
# warm-up, for the same work on both sides (forward and gradient for all 32
# samples). The counts above say where a difference can come from: the
# number of operations, each with its overhead, and how the backend splits
# each into kernels.

median_ms = {}
statements = {
    "loop": "per_sample_loop(images, labels)",
    "vmap(grad)": "vmap(grad(loss_one_sample), in_dims=(None, 0, 0))"
    "(cnn_params, images, labels)",
}
for name, stmt in statements.items():
    timer = benchmark.Timer(stmt=stmt, globals=globals())
    timer.timeit(1)  # warm-up
    median_ms[name] = sorted(timer.timeit(1).mean for _ in range(5))[2] * 1e3
ratio = median_ms["loop"] / median_ms["vmap(grad)"]
print(
    f"loop {median_ms['loop']:.2f} ms, vmap(grad) {median_ms['vmap(grad)']:.2f} ms:",
    f"vmap is {ratio:.1f}x faster"
    if ratio >= 1
    else f"vmap is {1 / ratio:.1f}x slower",
)

# %%
# Clipping each sample's gradient, as in DP-SGD
# ---------------------------------------------
#
# The norm of :math:`g_i` is taken over *all* parameters together. With
# :math:`C` set to the median norm, half of the samples are scaled down to
# norm :math:`C` and the others are left alone.

per_sample_norms = torch.sqrt(
    sum((g.reshape(B, -1) ** 2).sum(dim=1) for g in per_sample_grads.values())
)
C = per_sample_norms.median().item()
# min(1, C / ||g_i||), shape (B,): 1 exactly for the norms up to C. (Not
# clamp(C / norms, max=1): a float divided by a tensor is computed as C times
# the reciprocal, which for the median's own norm can round to just below 1.)
scale = torch.where(per_sample_norms > C, C / per_sample_norms, 1.0)
# That rounding, seen: 49 times the correctly rounded 1/49 is just below 1.
forty_nine = torch.tensor([49.0], dtype=torch.float64)
print(f"49.0 / tensor([49.]) = {(49.0 / forty_nine).item()!r}")
assert (49.0 / forty_nine).item() < 1, "a float / a tensor is no longer C * (1 / t)"
clipped = {
    name: g * scale.reshape(B, *[1] * (g.dim() - 1))
    for name, g in per_sample_grads.items()
}
clipped_mean = {name: g.mean(dim=0) for name, g in clipped.items()}
clipped_norms = torch.sqrt(
    sum((g.reshape(B, -1) ** 2).sum(dim=1) for g in clipped.values())
)
print(
    f"C = {C:.4f}; samples scaled down: {(scale < 1).sum().item()} of {B};",
    f"largest norm before {per_sample_norms.max().item():.4f}, after "
    f"{clipped_norms.max().item():.4f}",
)
# A count, exact: for an even B, median returns the lower of the two middle
# norms, so the B / 2 norms above it (all distinct, so strictly greater than C)
# are scaled down, and the median's own sample keeps scale 1.
assert per_sample_norms.unique().numel() == B and (scale < 1).sum() == B // 2
# Each norm sums 9802 positive squares: within 9802 eps/2 = 1.1e-12 relative,
# whatever the order, so a clipped norm is within ~2.5e-12 of C: widened from
# C * (1 + 1e-12) to C * (1 + 1e-11).
assert (clipped_norms <= C * (1 + 1e-11)).all()

# %%
# The reference is the loop again, this time clipping each sample's ``.grad``
# with :func:`torch.nn.utils.clip_grad_norm_`, an independent implementation
# of the same rule up to the :math:`10^{-6}` it adds to the norm (`clip_grad.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/nn/utils/clip_grad.py>`_;
# hence the tolerance below), which also returns the norm before clipping.

loop_sum = {name: torch.zeros_like(p) for name, p in cnn.named_parameters()}
loop_norms, loop_clipped_norms = [], []
for image, label in zip(images, labels):
    cnn.zero_grad()
    F.cross_entropy(cnn(image.unsqueeze(0)), label.unsqueeze(0)).backward()
    loop_norms.append(torch.nn.utils.clip_grad_norm_(cnn.parameters(), max_norm=C))
    loop_clipped_norms.append(
        torch.sqrt(sum((p.grad**2).sum() for p in cnn.parameters()))
    )
    for name, p in cnn.named_parameters():
        loop_sum[name] += p.grad
loop_norms, loop_clipped_norms = (
    torch.stack(loop_norms),
    torch.stack(loop_clipped_norms),
)
# The 1e-6, seen: a clipped sample's norm is C * norm / (norm + 1e-6), not C.
# Both norms sum 9802 squares (within 1.1e-12 relative, above) and the scaling
# rounds once more: rtol 1e-11, far below the 1e-6 / norm that tells them apart.
torch.testing.assert_close(
    loop_clipped_norms,
    loop_norms * torch.clamp(C / (loop_norms + 1e-6), max=1),
    rtol=1e-11,
    atol=0,
)
print(
    "largest norm after clip_grad_norm_: C -"
    f" {C - loop_clipped_norms.max().item():.1e} (C * norm / (norm + 1e-6))"
)
sums_norms = torch.sqrt(
    sum((entry_sums.reshape(B, -1) ** 2).sum(dim=1) for entry_sums in sums.values())
)
print(
    "norm of the absolute-value sums / norm of g_i: at most "
    f"{(sums_norms / per_sample_norms).max().item():.0f}"
)
# By the bound above, the vmap and loop rows differ by a vector of norm
# < 2 eps (700 + 800 x 60) = 2.1e-11 times that of the sums S_i, which is
# < 300 |g_i| (asserted): 6.4e-9 relative; each norm adds < 1.1e-12 (see
# above). So rtol widened from 1e-12 to 1e-8.
assert (sums_norms < 300 * per_sample_norms).all()
torch.testing.assert_close(per_sample_norms, loop_norms, rtol=1e-8, atol=0)
for name in cnn_params:
    # clip_grad_norm_ scales by min(1, C / (norm + 1e-6)) rather than
    # min(1, C / norm), which moves a sample's g_i by a vector of norm
    # < norm * 1e-6 / (norm + 1e-6) < 1e-6; rounding adds < 2e-9 (above). An
    # entry of the mean moves by no more than the largest move: atol 2e-6.
    torch.testing.assert_close(
        clipped_mean[name], loop_sum[name] / B, rtol=0, atol=2e-6
    )
print("clipped mean from vmap(grad) equals the loop with clip_grad_norm_ per sample")

# %%
# Once the norms are known, the clipped mean is the :math:`v^\top J` of the
# maths section: one more backward pass of the batch, with the per-sample
# losses weighted by :math:`v_i = \min(1, C / \lVert g_i \rVert) / B`.

cnn.zero_grad()
per_sample_losses = F.cross_entropy(cnn(images), labels, reduction="none")  # (B,)
(per_sample_losses * scale / B).sum().backward()
for name, p in cnn.named_parameters():
    # The bound of the batch mean above (weights scale / B <= 1 / B): atol 2e-9.
    torch.testing.assert_close(clipped_mean[name], p.grad, rtol=1e-10, atol=2e-9)
print("clipped mean equals one weighted backward pass, v_i = min(1, C/|g_i|) / B")

# %%
# The norms without the rows: ghost clipping
# ------------------------------------------
#
# For a :class:`~torch.nn.Linear` layer applied once per sample (one input
# vector a sample), sample :math:`i`'s squared gradient norm is
# :math:`\lVert \delta_i \rVert^2 (\lVert a_i \rVert^2 + 1)`, with
# :math:`a_i` the layer's input and :math:`\delta_i` the gradient at its
# output, both from one batched forward and backward pass of the summed
# loss (row :math:`i` of that gradient is :math:`\delta_i` as long as
# samples do not mix: no batch statistics). The rows are not needed.
# :ref:`sphx_glr_auto_examples_in_practice_plot_13_per_sample_gradient_norms_without_per_sample_gradients.py`
# derives it, counts the memory it saves, clips with it and extends it to
# sequences. Checked here against the rows, for the CNN's two linear
# layers:

layer_inputs, layer_outputs = {}, {}


def keep_input_and_output(layer, args, output):
    layer_inputs[layer], layer_outputs[layer] = args[0].detach(), output


linear_layers = {"fc1": cnn.fc1, "fc2": cnn.fc2}
hooks = [
    layer.register_forward_hook(keep_input_and_output)
    for layer in linear_layers.values()
]
summed_loss = F.cross_entropy(cnn(images), labels, reduction="sum")
output_grads = torch.autograd.grad(
    summed_loss, [layer_outputs[layer] for layer in linear_layers.values()]
)
for hook in hooks:
    hook.remove()
for (name, layer), delta in zip(linear_layers.items(), output_grads):
    a = layer_inputs[layer]
    ghost_norms_squared = (delta**2).sum(dim=1) * ((a**2).sum(dim=1) + 1)
    weight_rows, bias_rows = (
        per_sample_grads[f"{name}.weight"],
        per_sample_grads[f"{name}.bias"],
    )
    from_rows = (weight_rows**2).sum(dim=(1, 2)) + (bias_rows**2).sum(dim=1)
    ghost_error = (ghost_norms_squared - from_rows).abs().max().item()
    print(
        f"{name}: squared per-sample norms from a and delta, "
        f"max |difference from rows| = {ghost_error:.1e}"
    )
    torch.testing.assert_close(ghost_norms_squared, from_rows)

# %%
# Clipping the *batch* gradient instead (one backward, one
# ``clip_grad_norm_``) is a different, and for DP-SGD wrong, update: it bounds
# the norm of the average, not each sample's influence on it.

cnn.zero_grad()
F.cross_entropy(cnn(images), labels).backward()
torch.nn.utils.clip_grad_norm_(cnn.parameters(), max_norm=C)
gap = max(
    (clipped_mean[name] - p.grad).abs().max().item()
    for name, p in cnn.named_parameters()
)
print(f"max |per-sample clipped mean - clipped batch gradient| = {gap:.4f}")
assert gap > 1e-3, "the two updates should differ"

# %%
# The picture
# -----------

order = torch.argsort(per_sample_norms, descending=True)
fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
ax.bar(
    range(B),
    per_sample_norms[order].numpy(),
    color="0.8",
    label=r"$\|g_i\|$ before clipping",
)
ax.bar(
    range(B),
    clipped_norms[order].numpy(),
    width=0.5,
    color="C0",
    label=r"$\|g_i\|$ after clipping",
)
ax.axhline(C, color="C3", lw=1, label=f"$C$ = median norm = {C:.3f}")
ax.set_xlabel("sample (sorted by gradient norm)")
ax.set_ylabel("per-sample gradient norm")
ax.set_ylim(0.9 * per_sample_norms.min().item(), 1.05 * per_sample_norms.max().item())
ax.set_title(f"DP-SGD clipping of {B} per-sample gradients ({P} parameters each)")
ax.legend(fontsize=8, loc="upper right")
plt.show()

# %%
# What to remember
# ----------------
#
# * A transform differentiates with respect to the tensors it passes in.
#   A function that ignores them and calls the module gets exactly zero,
#   with no error: if moving ``params`` does not move the loss, that is it.
# * :func:`torch.func.functional_call` makes the parameters an argument;
#   ``vmap(grad(loss_one_sample), in_dims=(None, 0, 0))`` then gives every
#   per-sample gradient in one batched pass (check a few against a loop).
# * DP-SGD clips each row :math:`g_i` before averaging: a :math:`v^\top J`
#   whose :math:`v` needs every row's norm. Clipping the batch gradient is a
#   different update.
# * A linear layer's per-sample norms (one input vector a sample) need no
#   per-sample gradients (ghost clipping): the inputs and output gradients
#   of one batched backward pass give them.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_06_forward_mode_custom_rules.py`.
# Reference: :func:`torch.func.functional_call`, :func:`torch.func.grad`,
# :func:`torch.func.vmap`, :func:`torch.autograd.functional.jacobian`,
# :func:`torch.autograd.grad`, :func:`torch.nn.utils.clip_grad_norm_`,
# ``nn.Module.register_forward_pre_hook``, ``nn.Module.register_forward_hook``,
# :class:`torch.utils.benchmark.Timer`.
