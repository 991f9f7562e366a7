r"""
Per-sample gradient norms without per-sample gradients
======================================================

Differentially private SGD (DP-SGD) clips each sample's gradient to a norm
of at most :math:`C` before averaging (and then adds Gaussian noise, which
is not a derivative and is left out here). The clipping needs every sample's
gradient *norm*, one number a sample; the route of
:ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`,
``vmap`` of ``grad``, first forms every per-sample gradient, :math:`B`
numbers for each parameter. For linear layers the norms follow from what
one ordinary batched backward pass already has: each layer's inputs and the
gradients at its outputs. A second backward pass, with each sample's loss
weighted by its clipping factor, then gives the clipped mean, and no
per-sample gradient is ever formed. This page derives the norms, checks
them against ``vmap(grad)``, counts the bytes each route keeps, clips,
derives and checks the norms of a layer applied at every position of a
sequence, and ends with three common ways of getting per-sample gradients
(hooks, ExpandedWeights, ``torch.func``) and why a hook-based per-sample
gradient can be None.
"""

# %%
# The maths
# ---------
#
# A linear layer maps sample :math:`i`'s input :math:`a_i \in
# \mathbb{R}^{d}` to :math:`z_i = W a_i + b \in \mathbb{R}^{p}`. With
# :math:`\delta_i = \partial \ell_i / \partial z_i \in \mathbb{R}^{p}`, the
# gradient of sample :math:`i`'s loss at the layer's output, the chain rule
# gives sample :math:`i`'s gradient for the layer's parameters:
#
# .. math::
#
#    \nabla_W \ell_i = \delta_i a_i^\top \in \mathbb{R}^{p \times d},
#    \qquad \nabla_b \ell_i = \delta_i \in \mathbb{R}^{p}.
#
# :math:`\delta_i a_i^\top` has rank one, and the squared Frobenius norm of
# a rank-one matrix is the product of its factors' squared norms (its
# entries are :math:`\delta_{ij} a_{ik}`, and
# :math:`\sum_{jk} \delta_{ij}^2 a_{ik}^2 = \lVert \delta_i \rVert^2
# \lVert a_i \rVert^2`). So
#
# .. math::
#
#    \lVert \nabla_W \ell_i \rVert_F^2 + \lVert \nabla_b \ell_i \rVert^2
#    = \lVert \delta_i \rVert^2 \bigl(\lVert a_i \rVert^2 + 1\bigr),
#
# :math:`p + d` numbers a sample instead of :math:`p(d + 1)`. When every
# parameter is in a linear layer that each sample passes through once, the
# squared norm of the whole gradient :math:`g_i = \nabla_\theta \ell_i` is
# the sum of this over the layers (a layer applied more than once a sample,
# as further down, needs another form). Every :math:`a_i` is in the forward
# pass of the batch, and every :math:`\delta_i` is in one backward pass of
# the *summed* loss :math:`\sum_j \ell_j`: as long as samples do not mix (no
# batch statistics), :math:`\ell_j` does not depend on :math:`z_i` for
# :math:`j \ne i`, so row :math:`i` of the gradient at the layer's output is
# :math:`\partial \ell_i / \partial z_i = \delta_i`.
#
# A layer applied at each of :math:`T` positions of a sequence has inputs
# :math:`A_i \in \mathbb{R}^{T \times d}` and output gradients :math:`D_i
# \in \mathbb{R}^{T \times p}`, and its gradient is a sum over positions,
# :math:`\nabla_W \ell_i = D_i^\top A_i`, no longer of rank one. Its squared
# norm is still a product of small matrices:
#
# .. math::
#
#    \lVert D_i^\top A_i \rVert_F^2
#    = \operatorname{tr}\bigl(A_i^\top D_i D_i^\top A_i\bigr)
#    = \bigl\langle A_i A_i^\top,\, D_i D_i^\top \bigr\rangle_F,
#    \qquad \lVert \nabla_b \ell_i \rVert^2
#    = \lVert D_i^\top \mathbf{1} \rVert^2
#    = \bigl\langle \mathbf{1}\mathbf{1}^\top,\, D_i D_i^\top \bigr\rangle_F,
#
# two :math:`T \times T` Gram matrices a sample instead of :math:`p(d + 1)`
# numbers: cheaper when :math:`T^2` is small against :math:`p d`.
#
# Once the norms are known, the clipped mean of DP-SGD is a
# :math:`v^\top J` of the per-sample losses (:math:`J` has rows
# :math:`g_i^\top`), with weights fixed by the first pass:
#
# .. math::
#
#    \bar g = \frac{1}{B} \sum_{i=1}^{B} \min\!\Bigl(1,
#    \frac{C}{\lVert g_i \rVert}\Bigr) g_i
#    = \nabla_\theta \sum_{i=1}^{B} v_i \ell_i(\theta), \qquad
#    v_i = \frac{1}{B} \min\!\Bigl(1, \frac{C}{\lVert g_i \rVert}\Bigr),
#
# one more backward pass of the batch. Goodfellow (`arXiv:1510.01799
# <https://arxiv.org/abs/1510.01799>`_) gives the per-example norm of a
# linear layer; Lee and Kifer (`arXiv:2009.03106
# <https://arxiv.org/abs/2009.03106>`_) clip with it and the weighted
# second backward pass; Li et al. (`arXiv:2110.05679
# <https://arxiv.org/abs/2110.05679>`_) give the sequence form and call the
# procedure ghost clipping.

# %%
# The rows, the long way
# ----------------------
#
# A classifier of three linear layers with ``tanh`` between them, on
# :math:`B = 64` samples of 20 features and 5 classes. The route of the
# parameters page: :func:`torch.func.functional_call` makes the parameters
# an argument, ``vmap(grad(...))`` gives every sample's gradient, and the
# norms are taken over all parameters together.

import textwrap

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.graph import saved_tensors_hooks
from torch.func import functional_call, grad, vmap

generator = torch.Generator().manual_seed(0)
B, FEATURES, WIDTH, CLASSES = 64, 20, 32, 5


def initialise(network):
    """NETWORK's linear weights and biases uniform on +-1/sqrt(fan-in), the range
    of their own initialisation, drawn from the page's generator."""
    with torch.no_grad():
        for layer in network.modules():
            if isinstance(layer, nn.Linear):
                bound = layer.in_features**-0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                if layer.bias is not None:
                    layer.bias.uniform_(-bound, bound, generator=generator)
    return network.to(torch.float64)


def classifier(width):
    return initialise(
        nn.Sequential(
            nn.Linear(FEATURES, width),
            nn.Tanh(),
            nn.Linear(width, width),
            nn.Tanh(),
            nn.Linear(width, CLASSES),
        )
    )


model = classifier(WIDTH)
features = torch.randn(B, FEATURES, generator=generator, dtype=torch.float64)
labels = torch.randint(0, CLASSES, (B,), generator=generator)
params = {name: p.detach() for name, p in model.named_parameters()}
P = sum(p.numel() for p in params.values())


def loss_of_one_sample(network):
    """The cross-entropy loss of one sample as a function of NETWORK's parameters."""

    def loss(params, sample, label):
        logits = functional_call(network, params, (sample.unsqueeze(0),))
        return F.cross_entropy(logits, label.unsqueeze(0))

    return loss


def per_sample_rows(network, inputs, labels):
    """Every sample's gradient, a dict of (B, ...) rows, by vmap(grad)."""
    network_params = {name: p.detach() for name, p in network.named_parameters()}
    return vmap(grad(loss_of_one_sample(network)), in_dims=(None, 0, 0))(
        network_params, inputs, labels
    )


def norms(rows):
    """Each sample's gradient norm, over all the parameters together."""
    return torch.sqrt(sum((g.reshape(B, -1) ** 2).sum(dim=1) for g in rows.values()))


rows = per_sample_rows(model, features, labels)
row_norms = norms(rows)
print(f"per-sample gradients: {B} samples x {P} parameters")
print("first norms:", [round(norm, 4) for norm in row_norms[:4].tolist()])

# %%
# The norms from one backward pass
# --------------------------------
#
# A forward hook on each linear layer keeps its input :math:`a` and its
# output :math:`z` (still in the graph). One backward pass of the summed
# loss, :func:`torch.autograd.grad` with respect to the outputs, gives
# every :math:`\delta` at once, each of shape :math:`B \times p`. The graph
# is kept (``retain_graph=True``) for the clipping pass further down.

linear_layers = [layer for layer in model if isinstance(layer, nn.Linear)]
layer_inputs, layer_outputs = {}, {}


def keep_input_and_output(layer, args, output):
    layer_inputs[layer], layer_outputs[layer] = args[0].detach(), output


hooks = [layer.register_forward_hook(keep_input_and_output) for layer in linear_layers]
saved_for_backward = []
with saved_tensors_hooks(lambda t: saved_for_backward.append(t) or t, lambda t: t):
    per_sample_losses = F.cross_entropy(model(features), labels, reduction="none")
for hook in hooks:
    hook.remove()
deltas = torch.autograd.grad(
    per_sample_losses.sum(),
    [layer_outputs[layer] for layer in linear_layers],
    retain_graph=True,
)
for layer, delta in zip(linear_layers, deltas):
    print(f"{layer}: a {tuple(layer_inputs[layer].shape)}, delta {tuple(delta.shape)}")


def ghost_norms_squared(inputs, deltas):
    """Each sample's squared gradient norm, summed over the linear layers, from the
    layers' inputs and the gradients at their outputs."""
    total = 0
    for a, delta in zip(inputs, deltas):
        # sphinx_gallery_break = ("+ 1)", "+ 0)")
        total = total + (delta**2).sum(dim=1) * ((a**2).sum(dim=1) + 1)
    return total


ghost_norms = torch.sqrt(
    ghost_norms_squared([layer_inputs[layer] for layer in linear_layers], deltas)
)

# %%
# .. _ghost-norms-checked:
#
# The checks
# ----------
#
# The ghost norms against the norms of the rows ``vmap(grad)`` formed:

expected = row_norms
print(
    f"max |ghost norm - norm of the row| = {(ghost_norms - expected).abs().max():.1e}"
)
# The float64 defaults (rtol 1e-7, atol 1e-7): the two routes add the same
# products in other orders, so they differ by rounding, ~1e-16 times sums of a
# few hundred terms.
torch.testing.assert_close(ghost_norms, expected)

# %%
# What each route keeps
# ---------------------
#
# Counted in bytes of float64 (8 bytes a number). ``vmap(grad)`` returns
# all :math:`B \cdot P` numbers at once. The ghost route keeps each
# layer's :math:`a` and :math:`\delta`: :math:`B (d + p)` numbers a layer.

row_bytes = sum(g.nbytes for g in rows.values())
input_bytes = sum(a.nbytes for a in layer_inputs.values())
delta_bytes = sum(d.nbytes for d in deltas)
print(f"vmap(grad) rows:        {row_bytes:>9,} bytes = B x P x 8")
print(f"ghost route a, delta:   {input_bytes + delta_bytes:>9,} bytes", end=" ")
print(f"({row_bytes / (input_bytes + delta_bytes):.1f}x fewer)")
assert row_bytes == B * P * 8
layer_sizes = [(layer.in_features, layer.out_features) for layer in linear_layers]
assert input_bytes + delta_bytes == 8 * B * sum(d + p for d, p in layer_sizes)
assert input_bytes + delta_bytes < row_bytes

# %%
# The inputs :math:`a` cost nothing extra: autograd saves each linear
# layer's input anyway, because the weight's gradient :math:`\delta a^\top`
# needs it. The pack hook of
# :class:`~torch.autograd.graph.saved_tensors_hooks` above saw every tensor
# the forward pass saved for backward; each :math:`a` the forward hook kept
# shares its memory with one of them. It is the layer's own: the node of its
# output, ``AddmmBackward0`` (:math:`z = b + a W^\top`), saved :math:`a` as
# its first matrix, ``_saved_mat1``, which the weight's gradient reads, even
# for the first layer, whose input needs no gradient. Beyond what autograd
# keeps, the route holds the :math:`\delta` made by the first backward pass
# (and here the outputs :math:`z`, held only to ask for their gradients; a
# hook on each output, as in
# :ref:`per-sample-gradients-hooks-expandedweights-func`, receives
# :math:`\delta` without them).

saved_storages = {t.untyped_storage().data_ptr() for t in saved_for_backward}
shared = [
    layer_inputs[layer].untyped_storage().data_ptr() in saved_storages
    for layer in linear_layers
]
print(f"layer inputs that autograd saves anyway: {sum(shared)} of {len(shared)}")
assert all(shared)
for layer in linear_layers:
    node = layer_outputs[layer].grad_fn
    assert type(node).__name__ == "AddmmBackward0"
    assert node._saved_mat1.data_ptr() == layer_inputs[layer].data_ptr()

# %%
# The same count cannot be taken inside ``vmap(grad)``: ``grad``, and the
# other transforms its message names, refuse saved-tensor hooks.

try:
    with saved_tensors_hooks(lambda t: t, lambda t: t):
        grad(loss_of_one_sample(model))(params, features[0], labels[0])
except RuntimeError as error:
    message = f"RuntimeError: {str(error).splitlines()[0]}"
    print(textwrap.fill(message, 86, subsequent_indent="  "))
    assert "don't yet support saved tensor hooks" in str(error)
else:
    raise AssertionError("grad accepted saved tensor hooks")

# %%
# The ratio grows with the width: the rows grow with its square (the
# :math:`p \times d` weights), :math:`a` and :math:`\delta` with the width
# itself. For the classifier above at other widths, counted from the
# shapes of the same tensors (checked against the tensors above at width
# 32):


def route_bytes(width):
    """(rows, a and delta) bytes of the two routes for the classifier at WIDTH."""
    sizes = [(FEATURES, width), (width, width), (width, CLASSES)]
    parameters = sum(p * (d + 1) for d, p in sizes)
    return 8 * B * parameters, 8 * B * sum(d + p for d, p in sizes)


assert route_bytes(WIDTH) == (row_bytes, input_bytes + delta_bytes)
widths = [16, 32, 64, 128, 256, 512, 1024]
bytes_by_width = torch.tensor([route_bytes(width) for width in widths])
for width, (rows_b, ghost_b) in zip(widths, bytes_by_width.tolist()):
    print(f"width {width:>4}: rows {rows_b:>12,} bytes, a and delta {ghost_b:>9,}")
# Exact integers, one correctly rounded division each: the ratio rows / (a and
# delta) grows at every step of the width.
ratios = bytes_by_width[:, 0] / bytes_by_width[:, 1]
assert (ratios[1:] > ratios[:-1]).all()

# %%
# .. _ghost-clipping-second-backward:
#
# Clipping with a second backward pass
# ------------------------------------
#
# With :math:`C` the median norm, half of the samples are scaled down. The
# weights :math:`v_i = \min(1, C / \lVert g_i \rVert) / B` are plain numbers
# (not part of the graph: checked), and one more backward pass of the same graph,
# of :math:`\sum_i v_i \ell_i`, gives the clipped mean. (Clipping the
# gradient of the batch instead, with one
# :func:`~torch.nn.utils.clip_grad_norm_`, is a different update: it bounds
# the norm of the average, not each sample's part in it. The ghost clipping
# section of
# :ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`
# shows the two updates differ.)

C = ghost_norms.median().item()
# min(1, C / norm): exactly 1 for the norms up to C (a float over a tensor is
# computed as C times the reciprocal, which can round to just below 1).
scale = torch.where(ghost_norms > C, C / ghost_norms, 1.0)
weights = scale / B
assert not weights.requires_grad
clipped_mean = torch.autograd.grad(
    (per_sample_losses * weights).sum(), list(model.parameters())
)
print(f"C = {C:.4f}; samples scaled down: {(scale < 1).sum().item()} of {B}")

# %%
# The reference clips the rows of ``vmap(grad)`` one by one and averages
# them:

expected_clipped_mean = [
    (g * scale.reshape(B, *[1] * (g.dim() - 1))).mean(dim=0) for g in rows.values()
]
clip_error = max(
    (mine - theirs).abs().max().item()
    for mine, theirs in zip(clipped_mean, expected_clipped_mean)
)
print(f"max |weighted backward - mean of clipped rows| = {clip_error:.1e}")
# The float64 defaults: as above, the same products added in other orders.
torch.testing.assert_close(clipped_mean, expected_clipped_mean)
clipped_norms = row_norms * scale
# From the checks: assert_close(ghost, row) scales rtol by its second argument,
# so |ghost - row| <= 1e-7 + 1e-7 row and row <= (ghost + 1e-7) / (1 - 1e-7). A
# clipped row's norm is row (ghost <= C) or row C / ghost (ghost > C), so at most
# (C + 1e-7) / (1 - 1e-7), times < 1 + 4e-16 for rounding C / ghost (reciprocal,
# product) and the product with row: below C (1 + 2e-7) + 2e-7.
assert (clipped_norms <= C * (1 + 2e-7) + 2e-7).all()

# %%
# The :math:`a` and :math:`\delta` are still at hand, so the weighted sum
# is also :math:`\sum_i v_i \delta_i a_i^\top = (v \odot \delta)^\top A` for
# each layer's weight: one matrix product, with no second backward pass.

for index, (layer, delta) in enumerate(zip(linear_layers, deltas)):
    weighted = weights.unsqueeze(1) * delta
    weight_grad = weighted.T @ layer_inputs[layer]
    # The float64 defaults: one product added in another order.
    torch.testing.assert_close(weight_grad, clipped_mean[2 * index])
    torch.testing.assert_close(weighted.sum(dim=0), clipped_mean[2 * index + 1])
print("(v * delta)^T a and the sum of v * delta equal the weighted backward's")

# %%
# A layer applied at every position
# ---------------------------------
#
# Sequences of :math:`T = 8` positions: one linear layer applied to each
# position, ``tanh``, the mean over positions, and a linear head. For the
# first layer the norm is the Gram-matrix form of the maths section,
# with the bias folded in as a column of ones appended to :math:`A_i`
# (:math:`\langle A A^\top + \mathbf{1}\mathbf{1}^\top, D D^\top\rangle`);
# the head sees one vector a sample and keeps the rank-one form.

T = 8


class SequenceClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.per_position = nn.Linear(FEATURES, WIDTH)
        self.head = nn.Linear(WIDTH, CLASSES)

    def forward(self, sequences):  # (batch, T, FEATURES)
        return self.head(torch.tanh(self.per_position(sequences)).mean(dim=1))


sequence_model = initialise(SequenceClassifier())
sequences = torch.randn(B, T, FEATURES, generator=generator, dtype=torch.float64)
expected_sequence_norms = norms(per_sample_rows(sequence_model, sequences, labels))

layer_inputs.clear(), layer_outputs.clear()
layers = [sequence_model.per_position, sequence_model.head]
hooks = [layer.register_forward_hook(keep_input_and_output) for layer in layers]
sequence_losses = F.cross_entropy(sequence_model(sequences), labels, reduction="none")
for hook in hooks:
    hook.remove()
D, head_delta = torch.autograd.grad(
    sequence_losses.sum(), [layer_outputs[layer] for layer in layers]
)
A = layer_inputs[sequence_model.per_position]  # (B, T, FEATURES); D is (B, T, WIDTH)
A_with_ones = torch.cat([A, A.new_ones(B, T, 1)], dim=2)
input_gram = A_with_ones @ A_with_ones.transpose(1, 2)  # (B, T, T)
delta_gram = D @ D.transpose(1, 2)  # (B, T, T)
per_position_squared = (input_gram * delta_gram).sum(dim=(1, 2))
head_squared = ghost_norms_squared([layer_inputs[sequence_model.head]], [head_delta])
sequence_norms = torch.sqrt(per_position_squared + head_squared)
print(f"Gram matrices: 2 of {T}x{T} a sample, against {WIDTH}x{FEATURES + 1} rows")
print(
    "max |Gram-form norm - norm of the row| = "
    f"{(sequence_norms - expected_sequence_norms).abs().max():.1e}"
)
# The float64 defaults: the same products added in other orders.
torch.testing.assert_close(sequence_norms, expected_sequence_norms)
assert 2 * T * T < WIDTH * (FEATURES + 1)

# %%
# The rank-one formula position by position,
# :math:`\sum_t \lVert \delta_{i,t} \rVert^2 (\lVert a_{i,t} \rVert^2 + 1)`,
# keeps only the diagonals of the two Gram matrices: it is the sum of the
# squared norms of the :math:`T` per-position gradients, not the squared
# norm of their sum, and it is wrong here.

diagonals_only = (
    input_gram.diagonal(dim1=1, dim2=2) * delta_gram.diagonal(dim1=1, dim2=2)
).sum(dim=1)
wrong_norms = torch.sqrt(diagonals_only + head_squared)
relative_gap = ((wrong_norms - expected_sequence_norms) / expected_sequence_norms).abs()
print(f"per-position rank-one formula: off by up to {relative_gap.max():.0%}")
assert relative_gap.max() > 0.05

# %%
# .. _per-sample-gradients-hooks-expandedweights-func:
#
# Hooks, ExpandedWeights and torch.func
# -------------------------------------
#
# There are three common ways to get per-sample gradients in PyTorch.
#
# * **Hooks.** A forward hook keeps each module's input :math:`a`, a
#   backward hook (on the module or on its output) receives
#   :math:`\delta` and writes the module's per-sample gradients into an
#   attribute of its parameters, usually ``grad_sample``:
#   :math:`\delta_i a_i^\top` and :math:`\delta_i` for a linear layer.
#   Opacus's ``GradSampleModule`` works this way, with a hand-written rule
#   for each layer type it knows and, for a module type it has none for,
#   ``vmap(grad(...))`` of that module alone, from its :math:`a` and
#   :math:`\delta` (`its notes
#   <https://github.com/pytorch/opacus/blob/main/opacus/grad_sample/README.md>`_;
#   it refuses modules with buffers), and Opacus implements ghost clipping
#   too (`its fast gradient clipping module
#   <https://github.com/pytorch/opacus/blob/main/opacus/grad_sample/grad_sample_module_fast_gradient_clipping.py>`_).
# * **ExpandedWeights.** PyTorch has a private helper,
#   ``torch.nn.utils._per_sample_grad.call_for_per_sample_grads``, that runs
#   a module with each trainable parameter wrapped in an ``ExpandedWeight``;
#   the backward pass then fills each parameter's ``grad_sample`` with
#   :math:`B` rows and leaves its ``.grad`` None (the site's tests check
#   this: ``tests/test_torch_claims.py``). Opacus offers it as its ``"ew"``
#   mode. Being private, it is not used here.
# * **torch.func.** ``vmap(grad(...))`` of a function of the parameters, as
#   above: it differentiates the function, whatever layers it calls, as long
#   as ``vmap`` and ``grad`` accept what they do (no in-place writes into
#   tensors from outside, such as BatchNorm's running statistics in training
#   mode, :ref:`batchnorm-training-mode-errors`; no ``.item()`` or
#   data-dependent ``if``, :ref:`vmap-item-and-if`), and returns the rows in a
#   dict.
#
# The hooks, written for :class:`~torch.nn.Linear` layers, in a few lines
# (a forward hook that puts a hook on the layer's output), checked against
# the rows of ``vmap(grad)``:


def write_rows_on_backward(layer, args, output):
    """A forward hook for a Linear LAYER: it hooks the output, whose gradient, delta,
    arrives in the backward pass, and writes the per-sample gradients of the summed
    loss into the layer's parameters' grad_sample."""
    a = args[0].detach()  # (B, d)

    def write_rows(delta):  # (B, p): one row per sample
        layer.weight.grad_sample = delta[:, :, None] * a[:, None, :]
        if layer.bias is not None:
            layer.bias.grad_sample = delta

    output.register_hook(write_rows)


def add_per_sample_hooks(network):
    linears = [layer for layer in network.modules() if isinstance(layer, nn.Linear)]
    return [layer.register_forward_hook(write_rows_on_backward) for layer in linears]


handles = add_per_sample_hooks(model)
model.zero_grad()
F.cross_entropy(model(features), labels, reduction="sum").backward()
for handle in handles:
    handle.remove()
for name, p in model.named_parameters():
    # The float64 defaults: one product, against vmap's batched backward.
    torch.testing.assert_close(p.grad_sample, rows[name])
print("hook rows equal the vmap(grad) rows for all", len(rows), "parameters")

# %%
# A hook-based per-sample gradient is absent for a parameter no hook wrote
# to. Opacus sets every trainable parameter's ``grad_sample`` to None when
# it wraps the model, so there it stays None, and its optimizer raises
# ``ValueError: Per sample gradient is not initialized. Not updated in
# backward pass?``; the hooks above never set the attribute, so here it is
# missing (printed as None). It happens, for example, when the parameter
# took no part in the forward pass, or when it was used outside its
# module's own call, so the module's hooks never ran. A cosine classifier is
# the second case: its head normalises the rows of
# ``head.weight`` and applies them with ``F.linear``, without calling
# ``head``. ``.grad`` is filled, ``grad_sample`` is not:


class CosineClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(FEATURES, WIDTH)
        self.head = nn.Linear(WIDTH, CLASSES, bias=False)

    def forward(self, samples):
        hidden = F.normalize(torch.tanh(self.hidden(samples)), dim=1)
        return 10 * F.linear(hidden, F.normalize(self.head.weight, dim=1))


cosine = initialise(CosineClassifier())
handles = add_per_sample_hooks(cosine)
F.cross_entropy(cosine(features), labels, reduction="sum").backward()
for handle in handles:
    handle.remove()
for name, p in cosine.named_parameters():
    rows_written = getattr(p, "grad_sample", None)
    print(
        f"{name:<13} .grad {'None' if p.grad is None else 'set '}",
        f" grad_sample {'None' if rows_written is None else 'set'}",
    )
assert cosine.head.weight.grad is not None
assert getattr(cosine.head.weight, "grad_sample", None) is None

# %%
# ``torch.func`` needs no module boundary:
# :func:`~torch.func.functional_call` substitutes each parameter where the
# forward reads it as a module's attribute, inside that module's call or
# not (the head's ``self.head.weight`` is read outside ``head``), so
# ``vmap(grad(...))`` gives the cosine classifier a row for every parameter
# (a parameter reached another way is the exception, shown next). Checked
# against a loop of one backward pass a sample:

cosine_rows = per_sample_rows(cosine, features, labels)
loop_rows = [
    torch.autograd.grad(
        F.cross_entropy(cosine(sample.unsqueeze(0)), label.unsqueeze(0)),
        list(cosine.parameters()),
    )
    for sample, label in zip(features, labels)
]
expected_cosine_rows = {
    name: torch.stack(column) for name, column in zip(cosine_rows, zip(*loop_rows))
}
# The float64 defaults: batched and one-sample kernels add in other orders.
torch.testing.assert_close(cosine_rows, expected_cosine_rows)
print("vmap(grad) rows of the cosine classifier, head included, equal the loop's")

# %%
# What ``functional_call`` swaps is the module's attributes, for the length of
# the call, not every reference to their tensors. A forward that reaches a
# parameter some other way, here through a plain list kept on the module,
# computes with the module's own tensor, and that parameter's rows are exactly
# zero, with no error: the silent zero of :ref:`closure-over-the-module`.


class WeightFromAList(nn.Module):
    """A linear layer whose forward reads its weight from a list."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(FEATURES, CLASSES)
        self.weights = [self.layer.weight]  # a list holds it: no attribute

    def forward(self, samples):
        return F.linear(samples, self.weights[0], self.layer.bias)


listed_rows = per_sample_rows(initialise(WeightFromAList()), features, labels)
for name, g in listed_rows.items():
    print(f"weight read from a list: {name:<12} rows, max |entry| {g.abs().max():.2f}")
# Exact: grad returns zeros, computed by no arithmetic, for an input the loss
# does not use; the bias is used, and its rows (softmax minus one-hot) are not 0.
assert (listed_rows["layer.weight"] == 0).all()
assert (listed_rows["layer.bias"] != 0).all()

# %%
# With hooks, the fix is to do the normalisation inside the forward of a
# module that owns the head's weight, so that this module's hooks run. It
# needs no formula of its own: sample :math:`i`'s rows for the module's
# parameters are the gradient of :math:`\langle \mathrm{head}(a_i),
# \delta_i \rangle` (a :math:`v^\top J` of the module alone, with
# :math:`v = \delta_i`), and ``vmap(grad(...))`` of the module gives them for
# every sample from the :math:`a` and :math:`\delta` its hooks see. That is
# Opacus's fallback for a module without a rule. The same parameters,
# checked against the rows above:


class CosineHead(nn.Module):
    """10 times the cosine of each input with each row of its weight."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(CLASSES, WIDTH, dtype=torch.float64))

    def forward(self, hidden):
        return 10 * F.linear(
            F.normalize(hidden, dim=1), F.normalize(self.weight, dim=1)
        )


class ModularCosineClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(FEATURES, WIDTH, dtype=torch.float64)
        self.head = CosineHead()

    def forward(self, samples):
        return self.head(torch.tanh(self.hidden(samples)))


modular = ModularCosineClassifier()
modular.load_state_dict(cosine.state_dict())  # the same names: head.weight, ...
layer_inputs.clear(), layer_outputs.clear()
hook = modular.head.register_forward_hook(keep_input_and_output)
modular_losses = F.cross_entropy(modular(features), labels, reduction="none")
hook.remove()
(head_output_grad,) = torch.autograd.grad(
    modular_losses.sum(), [layer_outputs[modular.head]]
)


def head_output_dot_delta(head_params, a, delta):
    """<head(a), delta> for one sample, as a function of the head's parameters."""
    output = functional_call(modular.head, head_params, (a.unsqueeze(0),))
    return (output * delta).sum()


head_params = {name: p.detach() for name, p in modular.head.named_parameters()}
head_rows = vmap(grad(head_output_dot_delta), in_dims=(None, 0, 0))(
    head_params, layer_inputs[modular.head], head_output_grad
)
# The float64 defaults: the same derivative by another chain of products.
torch.testing.assert_close(head_rows["weight"], cosine_rows["head.weight"])
print("rows of the head module from its a and delta equal the vmap(grad) rows")

# %%
# The picture
# -----------
#
# Left: every sample's gradient norm both ways, and what clipping at the
# median leaves. Right: the bytes each route keeps, against the width of
# the classifier.

order = torch.argsort(expected, descending=True)
fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.4), layout="constrained")
left.bar(range(B), expected[order].numpy(), color="0.8", label="norm of the row")
left.plot(
    range(B), ghost_norms[order].numpy(), "o", ms=3, color="C0", label="ghost norm"
)
left.bar(range(B), clipped_norms[order].numpy(), width=0.4, color="C1", label="clipped")
left.axhline(C, color="C3", lw=1, label="$C$")
left.set_xlabel("sample (sorted by norm)")
left.set_ylabel(r"$\|g_i\|$")
left.set_title("The same norms, either way", fontsize=10)
left.set_ylim(0, 1.45 * expected.max().item())  # from 0: bar lengths are the norms
left.legend(fontsize=8, loc="upper right", ncols=2)
right.loglog(widths, bytes_by_width[:, 0].numpy(), "o-", label=r"rows: $8BP$")
right.loglog(
    widths, bytes_by_width[:, 1].numpy(), "s-", label=r"$a, \delta$: $8B\sum(d+p)$"
)
right.set_xlabel("hidden width")
right.set_ylabel("bytes kept (float64)")
right.set_title(f"Bytes kept, B = {B}", fontsize=10)
right.legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * A linear layer's per-sample gradient norm is
#   :math:`\lVert \delta_i \rVert \sqrt{\lVert a_i \rVert^2 + 1}`: inputs and
#   output gradients from one batched backward of the summed loss (samples
#   not mixed: no batch statistics), with no per-sample gradient formed. For
#   a layer applied along a sequence, it is the square root of the inner
#   product of two :math:`T \times T` Gram matrices.
# * DP-SGD's clipped mean is then one more backward pass, of the losses
#   weighted by :math:`\min(1, C / \lVert g_i \rVert) / B`.
# * Hook-based per-sample gradients exist only for parameters whose
#   module's hooks ran (a module with no hand-written rule can use
#   ``vmap(grad(...))`` of itself); ``vmap(grad(...))`` of
#   ``functional_call`` covers every parameter the forward reads as a
#   module's attribute, at :math:`B \cdot P` numbers.
#
# Next: :ref:`sphx_glr_auto_examples_under_the_hood_plot_01_inside_the_vjp_chain.py`.
# Reference: :func:`torch.func.functional_call`, :func:`torch.func.grad`,
# :func:`torch.func.vmap`, :func:`torch.autograd.grad`,
# :class:`torch.autograd.graph.saved_tensors_hooks`,
# :func:`torch.nn.utils.clip_grad_norm_`, ``nn.Module.register_forward_hook``,
# ``Tensor.register_hook``.
