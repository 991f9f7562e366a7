r"""
Per-sample gradients and HVPs of models with BatchNorm or dropout
=================================================================

``vmap(grad(...))`` gives per-sample gradients of a plain model, and
``jvp(grad(...))`` Hessian-vector products (HVPs). A model with
:class:`~torch.nn.BatchNorm2d` in training mode breaks both, in two
separate ways. As it runs, BatchNorm writes into its buffers: ``grad``
refuses the in-place ``add_`` to its counter (it lets the running mean and
variance be written without a word), and ``vmap`` refuses per-sample
statistics written into one running mean. And its output for one sample
depends on every sample of the batch, so "the gradient of one sample"
needs a definition. This page shows the errors as torch prints them (every
line of the message), and computes each definition by a route that works
(eval mode, :func:`torch.func.replace_all_batch_norm_modules_`, per-sample
buffers, GroupNorm), gradients and HVPs alike, each checked against a loop
over the samples, and eval mode against the derivative by hand. With
dropout the loop needs ``vmap``'s masks: read back from the gradients, or
drawn outside ``vmap`` and passed to a forward that takes them. Last, a
recurrent layer's Jacobian in eval mode: on a CPU it works, checked against
the GRU's equations; on a GPU, cuDNN refuses its backward in eval mode.
"""

# %%
# The maths
# ---------
#
# A :math:`3 \times 3` convolution maps each image :math:`x_i` (one channel,
# :math:`8 \times 8`) to :math:`z_i \in \mathbb{R}^{C \times 6 \times 6}`.
# BatchNorm in training mode normalises channel :math:`c` with the
# statistics of the whole batch, over :math:`n = 36B` values,
#
# .. math::
#
#    \begin{aligned}
#    \mu_c &= \frac{1}{n} \sum_{j, q} z_{j c q}, \\
#    \sigma_c^2 &= \frac{1}{n} \sum_{j, q} (z_{j c q} - \mu_c)^2, \\
#    y_{i c q} &= \gamma_c \frac{z_{i c q} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}
#    + \beta_c,
#    \end{aligned}
#
# (:math:`q` runs over the 36 positions) and, as it runs, writes into its
# buffers, the running statistics that eval mode uses instead of
# :math:`\mu, \sigma^2`: with momentum :math:`m = 0.1`,
#
# .. math::
#
#    \begin{aligned}
#    \bar\mu_c &\leftarrow (1 - m)\,\bar\mu_c + m\,\mu_c, \\
#    \bar\sigma_c^2 &\leftarrow (1 - m)\,\bar\sigma_c^2
#    + m\,\tfrac{n}{n - 1}\,\sigma_c^2,
#    \end{aligned}
#
# and it adds 1 to a counter, ``num_batches_tracked``. The model here then
# takes :math:`h = \tanh y`, averages it over the positions to
# :math:`p_i \in \mathbb{R}^C`, and predicts :math:`w^\top p_i + b`; sample
# :math:`i`'s loss is :math:`\ell_i = r_i^2` with :math:`r_i = w^\top p_i + b
# - t_i`.
#
# In training mode :math:`\ell_i` depends on every :math:`x_j` through
# :math:`\mu` and :math:`\sigma^2` (the picture at the end shows how much),
# and so, in general, does row :math:`i` of the batch's Jacobian
# :math:`\partial \ell / \partial \theta \in \mathbb{R}^{B \times P}`: it
# is not "sample :math:`i`'s gradient" in the sense that per-sample clipping
# or influence needs. Three functions of
# one sample are, and each is a route below:
#
# 1. frozen statistics (eval mode): :math:`\bar\mu, \bar\sigma^2` in place of
#    :math:`\mu, \sigma^2`, so BatchNorm is a fixed affine map per channel;
# 2. the sample's own statistics: the sample as a batch of one
#    (:math:`n = 36`), which is what BatchNorm computes, once allowed to run,
#    when ``vmap`` hands it one sample at a time;
# 3. a normalisation whose statistics are per sample by design: GroupNorm
#    normalises each sample over groups of its own channels.
#
# In eval mode the derivative is short by hand. With
# :math:`\hat z = (z - \bar\mu) / \bar s`, :math:`\bar s = \sqrt{\bar\sigma^2 +
# \epsilon}`, and :math:`\delta = \partial \ell / \partial y`,
#
# .. math::
#
#    \frac{\partial \ell}{\partial b} = 2r, \quad
#    \frac{\partial \ell}{\partial w} = 2r\,p, \quad
#    \delta_{c q} = \frac{2r\,w_c\,(1 - h_{c q}^2)}{36}, \quad
#    \frac{\partial \ell}{\partial \beta_c} = \sum_q \delta_{c q}, \quad
#    \frac{\partial \ell}{\partial \gamma_c} = \sum_q \delta_{c q}\,
#    \hat z_{c q},
#
# and with :math:`\partial \ell / \partial z_{c q} = \delta_{c q} \gamma_c /
# \bar s_c` the convolution's bias gets :math:`\sum_q \partial \ell /
# \partial z_{c q}` and its weight :math:`W_{c k}` the sum over :math:`q` of
# that times the pixel of :math:`x` that :math:`W_{c k}` multiplies at
# position :math:`q`.
#
# A Hessian-vector product :math:`H v = \tfrac{d}{ds}\nabla L(\theta + s v)`
# (at :math:`s = 0`) of the batch loss :math:`L = \tfrac{1}{B} \sum_i \ell_i` in
# training mode differentiates through :math:`\mu` and :math:`\sigma^2` too.
# Dropout with probability 1/2 multiplies hidden unit :math:`u` of sample
# :math:`i` by :math:`2 m_{iu}`, each :math:`m_{iu} \in \{0, 1\}` a fair coin;
# with the mask fixed, sample :math:`i`'s loss is an ordinary function of
# :math:`\theta`, and a loop that knows the masks reproduces its gradient.

# %%
# A small CNN with BatchNorm
# --------------------------
#
# The running statistics come from ten forward passes in training mode on
# other batches, as training would leave them.

import copy
import inspect
import textwrap
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.colors import LogNorm
from torch import nn
from torch.func import (
    functional_call,
    grad,
    jacfwd,
    jacrev,
    jvp,
    replace_all_batch_norm_modules_,
    vjp,
    vmap,
)

generator = torch.Generator().manual_seed(0)
B, C = 16, 4  # samples, channels


def small_cnn(norm):
    """Convolution, NORM, tanh, the mean over positions, a linear head."""
    layers = (nn.Conv2d(1, C, 3), norm, nn.Tanh(), nn.AdaptiveAvgPool2d(1))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(C, 1)).to(torch.float64)


def draw(*shape):
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def initialise(module):
    """Every parameter of MODULE drawn from the local generator."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * draw(*p.shape))
    return module


def print_wrapped(text):
    print("\n".join(textwrap.wrap(text, 86, subsequent_indent="  ")))


model = initialise(small_cnn(nn.BatchNorm2d(C)))
with torch.no_grad():
    model[1].weight.add_(1)  # gamma near 1
    for _ in range(10):
        model(draw(B, 1, 8, 8))
images, targets = draw(B, 1, 8, 8), draw(B)
params = {name: p.detach() for name, p in model.named_parameters()}
names = list(params)
conv_out = F.conv2d(images, params["0.weight"], params["0.bias"])  # z, (B, C, 6, 6)
for kind, tensors in (("parameters", params), ("buffers", dict(model.named_buffers()))):
    print_wrapped(
        f"{kind}: "
        + ", ".join(
            f"{n} {'x'.join(map(str, t.shape)) or 'scalar'}" for n, t in tensors.items()
        )
    )

# %%
# BatchNorm in training mode against the maths section's :math:`y`, whose
# :math:`\sigma_c^2` divides by :math:`n` (on a copy of the layer, so that
# the model's buffers stay as they are):

batch_mean = conv_out.mean((0, 2, 3), keepdim=True)
batch_var = conv_out.var((0, 2, 3), correction=0, keepdim=True)  # divides by n
normalised = (conv_out - batch_mean) / torch.sqrt(batch_var + model[1].eps)
with torch.no_grad():
    y_module = copy.deepcopy(model[1])(conv_out)
y_formula = (
    params["1.weight"][:, None, None] * normalised + params["1.bias"][:, None, None]
)
formula_gap = (y_module - y_formula).abs().max()
print(f"training mode: max |BatchNorm2d - formula| = {formula_gap:.1e}")
# float64 defaults: means and variances of 576 values of O(1), in other orders.
torch.testing.assert_close(y_module, y_formula)


def show_error(call, expected_type, expected_text, show=True):
    """Run CALL, check it raises EXPECTED_TYPE with EXPECTED_TEXT, and if SHOW
    print the message, every line of it, at the page's width."""
    try:
        call()
    except expected_type as error:
        assert expected_text in str(error), str(error)
        if show:
            for line in f"{type(error).__name__}: {error}".splitlines():
                print_wrapped(line)
        return
    raise AssertionError(f"expected {expected_type.__name__}: {expected_text}")


def loss_of(module):
    """Sample i's loss (the sample as a batch of one), a function of the
    parameters, run through MODULE."""

    def sample_loss(params, image, target):
        prediction = functional_call(module, params, (image.unsqueeze(0),))
        return (prediction[0, 0] - target) ** 2

    return sample_loss


def batch_loss(module):
    """The mean loss over the batch, a function of the parameters."""

    def loss(params):
        prediction = functional_call(module, params, (images,))
        return ((prediction[:, 0] - targets) ** 2).mean()

    return loss


def batch_update(running, z, dims=(0, 2, 3)):
    """The running statistics RUNNING after one training-mode pass whose
    convolution output is Z, with statistics over DIMS: the maths section's
    update (var() divides by n - 1)."""
    return {
        "1.running_mean": 0.9 * running["1.running_mean"] + 0.1 * z.mean(dims),
        "1.running_var": 0.9 * running["1.running_var"] + 0.1 * z.var(dims),
    }


def per_sample_vmap(module):
    return vmap(grad(loss_of(module)), in_dims=(None, 0, 0))(params, images, targets)


def per_sample_loop(module):
    """The reference: one forward and one backward pass per sample."""
    rows = []
    for image, target in zip(images, targets):
        loss = (module(image.unsqueeze(0))[0, 0] - target) ** 2
        rows.append(torch.autograd.grad(loss, list(module.parameters())))
    return {name: torch.stack(column) for name, column in zip(names, zip(*rows))}


# %%
# .. _batchnorm-training-mode-errors:
#
# Training mode: two errors and a silent write
# --------------------------------------------
#
# The per-sample gradients that work for a model without BatchNorm
# (:ref:`sphx_glr_auto_examples_in_practice_plot_05_derivatives_with_respect_to_parameters.py`),
# applied as they are, in training mode:

show_error(lambda: per_sample_vmap(model), RuntimeError, "mutate a captured Tensor")

# %%
# A new module is in training mode, and BatchNorm's forward begins by
# adding 1 to its counter, ``num_batches_tracked.add_(1)``: an in-place
# method writing into a tensor that the function ``grad`` transforms
# neither received nor made, which ``grad`` refuses before it writes. The
# message names the transforms that share this rule, and ``vjp`` and ``jvp``
# alone refuse it too:

before_refusals = {name: b.clone() for name, b in model.named_buffers()}
show_error(
    lambda: vjp(batch_loss(model), params),
    RuntimeError,
    "mutate a captured Tensor",
    show=False,
)
show_error(
    lambda: jvp(batch_loss(model), (params,), (params,)),
    RuntimeError,
    "mutate a captured Tensor",
    show=False,
)
print("vjp and jvp refuse the counter's add_ too; the module's buffers are unchanged")
# Exact: each transform refused the add_ before anything was written.
assert all(torch.equal(b, before_refusals[n]) for n, b in model.named_buffers())

# %%
# The rule is about in-place methods, which write the tensor they are
# called on (``written.add_(1)``); a captured tensor that an operation
# writes as another argument (``out=written``) passes. The running mean and variance
# are written that way: BatchNorm hands them to the batch-norm kernel as
# arguments after its input, and the kernel updates them. So on a copy
# without the counter, ``grad`` of the batch loss runs and moves the copy's
# running statistics by one update, without a word (no warning either).

written = torch.zeros(2, dtype=torch.float64)


def write_by_argument(x):
    torch.add(written, 1, out=written)
    return x**2


def write_by_method(x):
    written.add_(1)
    return x**2


grad(write_by_argument)(torch.ones((), dtype=torch.float64))
show_error(
    lambda: grad(write_by_method)(torch.ones((), dtype=torch.float64)),
    RuntimeError,
    "mutate a captured Tensor",
    show=False,
)
# Exact: one write of 1 went through, the in-place method was refused.
assert torch.equal(written, torch.ones(2, dtype=torch.float64))

no_counter = copy.deepcopy(model)
no_counter[1].num_batches_tracked = None
statistics_before = {name: b.clone() for name, b in no_counter.named_buffers()}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    grad(batch_loss(no_counter))(params)
assert caught == [], [str(w.message) for w in caught]
silent = dict(no_counter.named_buffers())
silent_move = max(
    (silent[n] - b).abs().max().item() for n, b in statistics_before.items()
)
print(f"grad, no counter: running statistics moved by up to {silent_move:.3f}, unasked")
# float64 defaults: means and variances of 576 values of O(1), in other orders.
torch.testing.assert_close(silent, batch_update(statistics_before, conv_out))

# %%
# The message's advice, passing the buffers in as an input, satisfies
# ``grad``, and leads to ``vmap``'s own error: one running mean, which has
# no batch dimension, cannot take :math:`B` different updates at once (what
# :ref:`sphx_glr_auto_examples_in_practice_plot_09_vmap_limits_and_fixes.py`
# shows for any tensor made outside the batch). Its second line is torch's
# advice: ``track_running_stats=False``, which route 2 below sets. The
# buffers passed here are a throwaway copy, because the failed call writes:
# the counter's ``add_`` runs before batch norm raises.

buffers = {name: b.clone() for name, b in model.named_buffers()}


def sample_loss_with_buffers(params, buffers, image, target):
    prediction = functional_call(model, (params, buffers), (image.unsqueeze(0),))
    return (prediction[0, 0] - target) ** 2


attempt = {name: b.clone() for name, b in buffers.items()}
show_error(
    lambda: vmap(grad(sample_loss_with_buffers), in_dims=(None, None, 0, 0))(
        params, attempt, images, targets
    ),
    RuntimeError,
    "were not batched",
)
counter = "1.num_batches_tracked"
print(f"after the error: the copy's counter {buffers[counter]} -> {attempt[counter]}")
# Exact: the counter moved by 1, the running statistics not at all.
assert attempt[counter] == buffers[counter] + 1
assert all(torch.equal(attempt[n], buffers[n]) for n in buffers if n != counter)

# %%
# .. _batchnorm-eval-mode:
#
# Frozen statistics: eval mode
# ----------------------------
#
# In eval mode BatchNorm reads its running statistics and writes nothing,
# so ``vmap`` has nothing to refuse. The loop runs the module in eval mode
# too, one sample at a time.

model.eval()
buffers_before = {name: b.clone() for name, b in model.named_buffers()}
eval_rows = per_sample_vmap(model)
eval_loop = per_sample_loop(model)
print(
    "eval mode: max |vmap - loop| =",
    f"{max((eval_rows[k] - eval_loop[k]).abs().max().item() for k in names):.1e}",
)
# float64 defaults (rtol 1e-7): the same sums of O(1) terms in other orders.
torch.testing.assert_close(eval_rows, eval_loop)
# Exact: eval mode writes into no buffer.
assert all(torch.equal(b, buffers_before[n]) for n, b in model.named_buffers())

# %%
# .. _batchnorm-per-sample-statistics:
#
# Each sample's own statistics
# ----------------------------
#
# :func:`torch.func.replace_all_batch_norm_modules_` sets every BatchNorm's
# running statistics and counter to ``None`` and ``track_running_stats``
# to ``False``, in place: BatchNorm then always normalises with the
# statistics of what it is given and stores nothing. Under ``vmap`` it is
# given one image: each sample is normalised by the mean and variance of
# its own 36 positions, the statistics of a batch of one (route 2). The
# loop runs the patched copy on each image as a batch of one.

own_stats = copy.deepcopy(model).train()
replace_all_batch_norm_modules_(own_stats)
patched = own_stats[1]
print_wrapped(
    f"patched BatchNorm2d: track_running_stats {patched.track_running_stats}"
    f" | running_mean {patched.running_mean} | running_var {patched.running_var}"
    f" | num_batches_tracked {patched.num_batches_tracked}"
)
assert not patched.track_running_stats and list(patched.buffers()) == []
assert patched.running_mean is None and patched.running_var is None
assert patched.num_batches_tracked is None
own_rows = per_sample_vmap(own_stats)
own_loop = per_sample_loop(own_stats)
# float64 defaults: as in eval mode.
torch.testing.assert_close(own_rows, own_loop)
own_rows_in_eval_mode = per_sample_vmap(own_stats.eval())
own_stats.train()
# Exact: with no running statistics, eval mode runs the same operations.
assert all(torch.equal(own_rows_in_eval_mode[k], own_rows[k]) for k in names)
print("own statistics: vmap equals the loop over batches of one")

# %%
# The same gradients come from ``functional_call`` with *per-sample
# buffers*: one copy of the running statistics per sample, batched with
# ``in_dims=0``, which ``vmap`` lets each sample update with its own
# statistics (the update formula of the maths section, with :math:`\mu_c,
# \sigma_c^2` of one image). The copies end up holding them.

model.train()
one_copy_each = {name: b.expand(B, *b.shape).clone() for name, b in buffers.items()}
copies_rows = vmap(grad(sample_loss_with_buffers), in_dims=(None, 0, 0, 0))(
    params, one_copy_each, images, targets
)
expected_copies = {
    **batch_update(buffers, conv_out, dims=(2, 3)),  # each image's own statistics
    "1.num_batches_tracked": buffers["1.num_batches_tracked"].expand(B) + 1,
}
# float64 defaults: the same statistics, normalisation and backward pass,
# whichever kernels run them.
torch.testing.assert_close(copies_rows, own_rows)
# float64 defaults: a mean and a variance of 36 values, in other orders;
# var() divides by n - 1, as the update does.
torch.testing.assert_close(one_copy_each, expected_copies)
print("per-sample buffers: the same gradients; copy i holds sample i's update")

# %%
# Own statistics need several values per channel in one sample. After a
# linear layer, :class:`~torch.nn.BatchNorm1d` sees one value per feature
# and refuses:

features = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to(torch.float64)
replace_all_batch_norm_modules_(features)
show_error(
    lambda: vmap(lambda row: features(row.unsqueeze(0)))(draw(B, 3)),
    ValueError,
    "Expected more than 1 value per channel when training",
)

# %%
# GroupNorm: statistics per sample by design
# ------------------------------------------
#
# :class:`~torch.nn.GroupNorm` (groups first, then channels) normalises
# each sample over groups of its own channels and positions, in training
# and eval mode alike, and has no buffers. Its affine parameters have
# BatchNorm's names and shapes, so the same ``params`` run it.

grouped = small_cnn(nn.GroupNorm(2, C))
grouped.load_state_dict(params)  # strict: every key matches
assert list(grouped.buffers()) == []
group_rows = per_sample_vmap(grouped)
# float64 defaults: as above.
torch.testing.assert_close(group_rows, per_sample_loop(grouped))
group_rows_in_eval_mode = per_sample_vmap(grouped.eval())
# Exact: GroupNorm runs the same operations in eval mode.
assert all(torch.equal(group_rows_in_eval_mode[k], group_rows[k]) for k in names)
print("GroupNorm: vmap equals the loop, in training and eval mode alike")

# %%
# With samples independent, the rows are the per-sample terms of the batch
# gradient: their mean is the gradient of the mean loss, in one backward
# pass. Not so for BatchNorm in training mode, whose batch loss is not a sum
# of per-sample losses: neither the own-statistics rows nor the eval-mode
# rows average to its gradient.


def batch_gradient(module):
    loss = ((module(images)[:, 0] - targets) ** 2).mean()
    return dict(zip(names, torch.autograd.grad(loss, list(module.parameters()))))


def mean_of(rows):
    return {name: row.mean(dim=0) for name, row in rows.items()}


def largest_gap(first, second):
    return max((first[k] - second[k]).abs().max().item() for k in names)


model.eval()
# float64 defaults: sums of 16 terms of O(1) in other orders.
torch.testing.assert_close(mean_of(eval_rows), batch_gradient(model))
torch.testing.assert_close(mean_of(group_rows), batch_gradient(grouped))
train_gradient = batch_gradient(own_stats)  # the patched copy: batch statistics
print("BatchNorm, training-mode batch gradient: max |mean of rows - it|:")
for label, rows in (("own statistics", own_rows), ("eval mode", eval_rows)):
    train_gap = largest_gap(mean_of(rows), train_gradient)
    print(f"  rows with {label:<15} {train_gap:.3f}")
    assert train_gap > 1e-2  # far from rounding: another function

# %%
# The checks
# ----------
#
# The eval-mode rows against the derivative by hand from the maths section,
# for all 16 samples and every parameter.

running_mean, running_var = model[1].running_mean, model[1].running_var
s_bar = torch.sqrt(running_var + model[1].eps)[:, None, None]
z_hat = (conv_out - running_mean[:, None, None]) / s_bar
gamma, beta = params["1.weight"][:, None, None], params["1.bias"][:, None, None]
hidden = torch.tanh(gamma * z_hat + beta)
pooled = hidden.mean(dim=(2, 3))  # (B, C)
residual = pooled @ params["5.weight"][0] + params["5.bias"] - targets  # (B,)
two_r = 2 * residual[:, None, None, None]
w = params["5.weight"][0][:, None, None]
# sphinx_gallery_break = ("(1 - hidden**2)", "(1 - hidden)")
delta = two_r * w * (1 - hidden**2) / 36  # dl/dy, (B, C, 6, 6)
d_conv = delta * gamma / s_bar  # dl/dz
patches = F.unfold(images, 3)  # (B, 9, 36): the pixel each W_ck meets at each q
expected = {
    "0.weight": torch.einsum("bcq,bkq->bck", d_conv.flatten(2), patches).reshape(
        B, C, 1, 3, 3
    ),
    "0.bias": d_conv.sum(dim=(2, 3)),
    "1.weight": (delta * z_hat).sum(dim=(2, 3)),
    "1.bias": delta.sum(dim=(2, 3)),
    "5.weight": 2 * residual[:, None, None] * pooled[:, None, :],
    "5.bias": 2 * residual[:, None],
}
print(f"eval mode: max |vmap(grad) - by hand| = {largest_gap(eval_rows, expected):.1e}")
# float64 defaults (rtol 1e-7): the same products and sums of O(1) terms in
# other orders, a few eps apart; a wrong derivative is off by far more.
torch.testing.assert_close(eval_rows, expected)

# %%
# Running statistics, and ``functional_call`` with buffers
# --------------------------------------------------------
#
# A forward pass in training mode updates the buffers it runs with.
# :func:`torch.func.functional_call` given only parameters runs with the
# module's own buffers, so it moves them; given ``(params, buffers)`` it
# runs with the tensors passed and updates those, in place, and leaves the
# module's alone. One pass on ``images``, checked against the update formula
# with the batch's :math:`\mu_c` and :math:`\sigma_c^2`:

model.train()
own_before = {name: b.clone() for name, b in model.named_buffers()}
passed = {name: b.clone() for name, b in buffers.items()}
functional_call(model, (params, passed), (images,))
# Exact: the module's buffers were not touched.
assert all(torch.equal(b, own_before[n]) for n, b in model.named_buffers())
expected_update = {
    **batch_update(buffers, conv_out),
    "1.num_batches_tracked": buffers["1.num_batches_tracked"] + 1,
}
# float64 defaults: means and variances of 576 values, in other orders.
torch.testing.assert_close(passed, expected_update)
functional_call(model, params, (images,))
moved = model[1].num_batches_tracked - own_before["1.num_batches_tracked"]
print("functional_call(model, (params, copies)): the copies updated, the module's not")
print(
    f"functional_call(model, params): the module's num_batches_tracked moved by {moved}"
)
assert moved == 1
# float64 defaults: as above, the module's own statistics moved by one update.
torch.testing.assert_close(
    {n: b for n, b in model.named_buffers() if n != "1.num_batches_tracked"},
    batch_update(own_before, conv_out),
)

# %%
# The per-sample copies above are not this update. Their mean running mean
# is the batch's (every image has 36 positions). Their mean running
# variance differs, for two reasons that pull in opposite directions. It
# averages the images' own variances, :math:`a_c = \tfrac{1}{B}
# \textstyle\sum_i \sigma_{ic}^2`, and so leaves out the spread between the
# images' means, :math:`s_c = \tfrac{1}{B} \textstyle\sum_i (\mu_{ic} -
# \mu_c)^2`, that the batch's variance includes: :math:`\sigma_c^2 = a_c +
# s_c` (each with :math:`1/n`). And each copy stores its variance times
# :math:`36/35`, the batch's update times :math:`576/575`. So the mean of
# the copies minus the batch's update is
#
# .. math::
#
#    \begin{aligned}
#    &m \left(\tfrac{36}{35} - \tfrac{576}{575}\right) a_c \\
#    &\quad - m\,\tfrac{576}{575}\, s_c,
#    \end{aligned}
#
# a positive term and a negative one; which is larger depends on the data.
# To take per-sample gradients and still keep the running statistics a
# training step would, update them with one forward pass on the batch in
# training mode, as here, and drop the copies.

mean_of_copies = {
    n: one_copy_each[n].mean(dim=0) for n in ("1.running_mean", "1.running_var")
}
within = conv_out.var((2, 3), correction=0).mean(0)  # a_c
spread = conv_out.mean((2, 3)).var(0, correction=0)  # s_c
# float64 defaults: the law of total variance, sums of O(1) terms in other orders.
torch.testing.assert_close(batch_var.flatten(), within + spread)
# float64 defaults: a mean of 16 means of 36 values is the mean of the 576.
torch.testing.assert_close(mean_of_copies["1.running_mean"], passed["1.running_mean"])
variance_gap = mean_of_copies["1.running_var"] - passed["1.running_var"]
bessel_part = 0.1 * (36 / 35 - 576 / 575) * within
spread_part = -0.1 * (576 / 575) * spread
for label, values in (
    ("running_var, mean of copies - batch's", variance_gap),
    ("  factors 36/35 against 576/575", bessel_part),
    ("  spread between the images' means", spread_part),
):
    print(f"{label:<38}", " ".join(f"{value:+.4f}" for value in values.tolist()))
# float64 defaults: the decomposition is exact; both sides are a few roundings
# of variances of O(1) apart, far below 1e-7.
torch.testing.assert_close(variance_gap, bessel_part + spread_part)
assert (bessel_part > 0).all() and (spread_part < 0).all()
# Far from rounding (every |gap| above 2e-3): on this data the sign differs
# between channels.
assert (variance_gap > 0).any() and (variance_gap < 0).any()

# %%
# HVPs in training mode
# ---------------------
#
# Forward-over-reverse, ``jvp(grad(L))``, meets the counter's ``add_``
# again:

v = {name: draw(*p.shape) for name, p in params.items()}


show_error(
    lambda: jvp(grad(batch_loss(model)), (params,), (v,)),
    RuntimeError,
    "mutate a captured Tensor",
)

# %%
# The patched copy normalises with the batch's statistics and stores
# nothing: the training-mode loss without its side effect. Its HVP is
# checked against the usual autograd route, double backward on the module
# itself in training mode, which works, and updates the running statistics
# on every call. After :math:`k` calls on the same batch, the update of the
# maths section applied :math:`k` times,
#
# .. math::
#
#    \begin{aligned}
#    \bar\mu_c &\leftarrow (1 - m)^k \bar\mu_c \\
#    &\quad + (1 - (1 - m)^k)\, \mu_c, \\
#    \bar\sigma_c^2 &\leftarrow (1 - m)^k \bar\sigma_c^2 \\
#    &\quad + (1 - (1 - m)^k)\, \tfrac{n}{n - 1} \sigma_c^2.
#    \end{aligned}

_, hvp_train = jvp(grad(batch_loss(own_stats)), (params,), (v,))


def hvp_by_double_backward(loss, parameters, tangent):
    """The HVP of LOSS, a scalar of PARAMETERS, along TANGENT: the gradient
    with its graph kept, then the VJP of the gradient with TANGENT."""
    gradient = torch.autograd.grad(loss, parameters, create_graph=True)
    return torch.autograd.grad(gradient, parameters, tangent)


def double_backward_hvp(module):
    loss = ((module(images)[:, 0] - targets) ** 2).mean()
    hvp = hvp_by_double_backward(loss, list(module.parameters()), list(v.values()))
    return dict(zip(names, hvp))


k = 5
before = {name: b.clone() for name, b in model.named_buffers()}
for _ in range(k):
    hvp_autograd = double_backward_hvp(model)
kept = (1 - 0.1) ** k  # (1 - m)^k
fresh = 1 - kept
expected_after_k = {
    "1.running_mean": kept * before["1.running_mean"]
    + fresh * conv_out.mean((0, 2, 3)),
    # sphinx_gallery_break = ("conv_out.var((0, 2, 3))", "batch_var.flatten()")
    "1.running_var": kept * before["1.running_var"] + fresh * conv_out.var((0, 2, 3)),
    "1.num_batches_tracked": before["1.num_batches_tracked"] + k,
}
print(f"max |jvp(grad) - double backward| = {largest_gap(hvp_train, hvp_autograd):.1e}")
print(
    f"after {k} double-backward HVPs: num_batches_tracked",
    f"{before['1.num_batches_tracked'].item()} ->",
    model[1].num_batches_tracked.item(),
)
# float64 defaults: the same second derivatives, summed in other orders.
torch.testing.assert_close(hvp_train, hvp_autograd)
# float64 defaults: k updates with a mean and a variance of 576 values.
torch.testing.assert_close(dict(model.named_buffers()), expected_after_k)

# %%
# In eval mode ``jvp(grad(L))`` works on the module itself, and computes
# the HVP of another function, the loss with the statistics frozen:

model.eval()
_, hvp_eval = jvp(grad(batch_loss(model)), (params,), (v,))
# float64 defaults: as above.
torch.testing.assert_close(hvp_eval, double_backward_hvp(model))
eval_train_gap = largest_gap(hvp_eval, hvp_train)
print(
    f"eval mode: HVP equals double backward; max |eval - train| = {eval_train_gap:.2f}"
)
assert eval_train_gap > 1e-2

# %%
# .. _per-sample-hvps:
#
# Per-sample HVPs
# ---------------
#
# Each sample's HVP, :math:`\nabla^2 \ell_i\, v`, comes from ``vmap`` over
# ``jvp(grad(...))`` of one sample's loss, for each route; the loop runs
# double backward on one sample at a time. With frozen statistics or
# GroupNorm the samples are independent, and the mean of their HVPs is the
# batch loss's HVP; with each sample's own statistics it is not the
# training-mode HVP, as for the gradients.


def per_sample_hvp(module):
    def one_sample(image, target):
        def sample_gradient(params):
            return grad(loss_of(module))(params, image, target)

        return jvp(sample_gradient, (params,), (v,))[1]

    return vmap(one_sample)(images, targets)


def per_sample_hvp_loop(module):
    rows = []
    for image, target in zip(images, targets):
        loss = (module(image.unsqueeze(0))[0, 0] - target) ** 2
        rows.append(
            hvp_by_double_backward(loss, list(module.parameters()), list(v.values()))
        )
    return {name: torch.stack(column) for name, column in zip(names, zip(*rows))}


_, hvp_group = jvp(grad(batch_loss(grouped)), (params,), (v,))
routes = {
    "eval mode": (model.eval(), hvp_eval),
    "own statistics": (own_stats.train(), hvp_train),
    "GroupNorm": (grouped.train(), hvp_group),
}
for label, (module, batch_hvp) in routes.items():
    hvp_rows, hvp_loop_rows = per_sample_hvp(module), per_sample_hvp_loop(module)
    hvp_gap = largest_gap(hvp_rows, hvp_loop_rows)
    mean_gap = largest_gap(mean_of(hvp_rows), batch_hvp)
    print(
        f"{label:<15} max |vmap - loop| = {hvp_gap:.1e}",
        f" max |mean of rows - batch HVP| = {mean_gap:.1e}",
    )
    # float64 defaults: the same second derivatives, summed in other orders.
    torch.testing.assert_close(hvp_rows, hvp_loop_rows)
    if label == "own statistics":
        assert mean_gap > 1e-2  # far from rounding: another function
    else:
        # float64 defaults: a mean of 16 HVPs against one sum, in another order.
        torch.testing.assert_close(mean_of(hvp_rows), batch_hvp)

# %%
# Dropout's randomness
# --------------------
#
# :ref:`vmap-dropout-randomness` shows, on a dropout layer alone, that
# ``vmap`` refuses a random operation under its default
# ``randomness="error"``, and the masks that ``"different"`` (one per
# sample) and ``"same"`` (one for all) draw. New here: a model, a small MLP
# with :class:`~torch.nn.Dropout` (probability 1/2) after its 64 hidden
# units, whose per-sample gradients (``randomness="different"``) a loop
# checks only if it uses ``vmap``'s masks.

H, p_drop = 64, 0.5
layers = (nn.Linear(8, H), nn.Tanh(), nn.Dropout(p_drop), nn.Linear(H, 1))
mlp = initialise(nn.Sequential(*layers).to(torch.float64))
mlp_params = {name: p.detach() for name, p in mlp.named_parameters()}
inputs = draw(B, 8)


def mlp_rows():
    return vmap(grad(loss_of(mlp)), in_dims=(None, 0, 0), randomness="different")(
        mlp_params, inputs, targets
    )


# %%
# The masks come from torch's global generator (neither ``nn.Dropout`` nor
# ``F.dropout`` takes a ``generator``, or a mask): restoring its state
# before a second call draws them again, and doing that inside
# ``torch.random.fork_rng()`` puts the state back afterwards. And they can
# be read back from the gradients. The row of the first weight that belongs
# to a dropped unit is exactly zero (its gradient is multiplied by the
# mask's 0), and a kept unit's is not, unless one factor of its entries
# (:math:`2 r_i`, the unit's output weight, :math:`1 - h_{iu}^2`, the
# input) is 0. The second weight's gradient checks that: its entry for unit
# :math:`u` is :math:`2 r_i \cdot 2 h_{iu}` for a kept unit and 0 for a
# dropped one, and it is 0 exactly where the mask read from the first
# weight is. The loop then recomputes each sample's gradient with its mask.


def loss_with_mask(params, features, target, mask):
    """Sample loss with dropout's mask given: MASK is 1 for kept units."""
    hidden = torch.tanh(F.linear(features, params["0.weight"], params["0.bias"]))
    kept = hidden * mask / (1 - p_drop)  # what Dropout computes, mask fixed
    return (F.linear(kept, params["3.weight"], params["3.bias"])[0] - target) ** 2


def loop_with_masks(masks, tangent=None):
    """Each sample's gradient, or its HVP along TANGENT, with its mask."""
    parameters = list(mlp.parameters())
    rows = []
    for features, target, mask in zip(inputs, targets, masks):
        loss = loss_with_mask(dict(mlp.named_parameters()), features, target, mask)
        if tangent is None:
            rows.append(torch.autograd.grad(loss, parameters))
        else:
            rows.append(
                hvp_by_double_backward(loss, parameters, list(tangent.values()))
            )
    return {name: torch.stack(column) for name, column in zip(mlp_params, zip(*rows))}


def masks_of(rows):
    """(B, H), 1 for the units kept: rows of the first weight's gradient not 0."""
    return (rows["0.weight"] != 0).any(dim=2).to(torch.float64)


dropout_arguments = {
    "nn.Dropout": list(inspect.signature(nn.Dropout).parameters),
    "F.dropout": list(inspect.signature(F.dropout).parameters),
}
for layer, arguments in dropout_arguments.items():
    print(f"{layer} takes {', '.join(arguments)}")
assert not {"generator", "mask"} & {*sum(dropout_arguments.values(), [])}
global_state = torch.get_rng_state()
rows = mlp_rows()
state_after = torch.get_rng_state()
with torch.random.fork_rng():
    torch.set_rng_state(global_state)
    replayed = mlp_rows()
masks = masks_of(rows)
print(f"masks read back from the gradients: {B} x {H}; replayed bit for bit")
# Exact: the same generator state draws the same masks, and the same masks
# the same gradients, bit for bit; fork_rng put the state back.
assert all(torch.equal(replayed[name], rows[name]) for name in mlp_params)
assert torch.equal(torch.get_rng_state(), state_after)
# Exact: the second weight's gradient is 0 exactly where the mask is.
assert torch.equal((rows["3.weight"][:, 0] != 0).to(torch.float64), masks)
# float64 defaults: the same products and sums in other orders.
torch.testing.assert_close(rows, loop_with_masks(masks))
print("per-sample gradients with dropout equal the loop run with those masks")

# %%
# Restoring the generator's state replays the masks, so seeding it (say
# ``torch.manual_seed`` inside ``torch.random.fork_rng()``) would fix them
# on every run, with the model as it is; this site seeds only generators of
# its own. The other way: draw the masks outside ``vmap``, from a seeded
# generator, and pass them in. As dropout takes no mask, the forward is
# written out with the mask as an argument: ``loss_with_mask`` above, which
# the loop already runs.

masks = torch.bernoulli(
    torch.full((B, H), 1 - p_drop, dtype=torch.float64), generator=generator
)
rows = vmap(grad(loss_with_mask), in_dims=(None, 0, 0, 0))(
    mlp_params, inputs, targets, masks
)
loop_rows = loop_with_masks(masks)
gap = max((rows[name] - loop_rows[name]).abs().max().item() for name in mlp_params)
print(f"masks drawn outside vmap: max |vmap - loop| = {gap:.1e}")
# float64 defaults: as above.
torch.testing.assert_close(rows, loop_rows)

# %%
# With the masks an argument, per-sample HVPs through dropout come as for
# BatchNorm, ``vmap`` over ``jvp(grad(...))``, and the loop runs double
# backward on each sample with its mask:

v_mlp = {name: draw(*p.shape) for name, p in mlp_params.items()}


def masked_hvp(params, features, target, mask):
    def sample_gradient(params):
        return grad(loss_with_mask)(params, features, target, mask)

    return jvp(sample_gradient, (params,), (v_mlp,))[1]


hvp_rows = vmap(masked_hvp, in_dims=(None, 0, 0, 0))(mlp_params, inputs, targets, masks)
hvp_loop_rows = loop_with_masks(masks, tangent=v_mlp)
gap = max((hvp_rows[n] - hvp_loop_rows[n]).abs().max().item() for n in mlp_params)
print(f"per-sample HVPs through dropout: max |vmap - loop| = {gap:.1e}")
# float64 defaults: the same second derivatives, summed in other orders.
torch.testing.assert_close(hvp_rows, hvp_loop_rows)

# %%
# .. _rnn-jacobian-eval-mode:
#
# A recurrent layer's Jacobian in eval mode
# -----------------------------------------
#
# A recurrent layer has no buffers (checked below for GRU, LSTM and RNN),
# and in what it computes its mode changes only the dropout it applies
# between stacked layers (``dropout=``, 0 by default); on a GPU the mode
# also decides which cuDNN kernels run (below). On this
# CPU build the Jacobian of a :class:`~torch.nn.GRU` in eval mode comes from
# :func:`torch.func.jacrev` and :func:`torch.autograd.functional.jacobian`
# alike. The check is independent of the module's kernel: the GRU equations
# of its documentation, written out step by step with the module's own
# weights, give its outputs, and :func:`torch.func.jacfwd` of that loop
# (forward mode, the other way round) its Jacobian.

steps, in_size, state_size = 5, 3, 4
gru = initialise(nn.GRU(in_size, state_size, batch_first=True).to(torch.float64))
sequence = draw(1, steps, in_size)
for layer in (nn.GRU, nn.LSTM, nn.RNN):  # on "meta": no memory, no random draws
    assert list(layer(in_size, state_size, device="meta").buffers()) == [], layer


def gru_states(sequence):
    return gru(sequence)[0]  # (1, steps, state_size): the state after each step


def gru_by_hand(sequence):
    """r, z, n and the new state, one step at a time, from the module's weights."""
    state, states = sequence.new_zeros(1, state_size), []
    for x in sequence.unbind(1):
        x_r, x_z, x_n = F.linear(x, gru.weight_ih_l0, gru.bias_ih_l0).chunk(3, 1)
        h_r, h_z, h_n = F.linear(state, gru.weight_hh_l0, gru.bias_hh_l0).chunk(3, 1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        state = (1 - z) * torch.tanh(x_n + r * h_n) + z * state
        states.append(state)
    return torch.stack(states, dim=1)


gru.eval()
jacobian_rev = jacrev(gru_states)(sequence)  # (1, steps, state_size, 1, steps, in_size)
jacobian_functional = torch.autograd.functional.jacobian(gru_states, sequence)
jacobian_by_hand = jacfwd(gru_by_hand)(sequence)
rnn_gap = (jacobian_rev - jacobian_by_hand).abs().max()
print(f"GRU in eval mode: max |jacrev - jacfwd of the equations| = {rnn_gap:.1e}")
# float64 defaults: the same products, sigmoids and tanhs in other orders.
torch.testing.assert_close(gru_states(sequence), gru_by_hand(sequence))
torch.testing.assert_close(jacobian_rev, jacobian_by_hand)
torch.testing.assert_close(jacobian_functional, jacobian_rev)

# %%
# On a GPU, cuDNN's RNN kernels tie backward to training mode: in eval mode
# torch calls cuDNN's inference forward, which keeps no reserve space (what
# cuDNN's backward reads), and torch's cuDNN backward refuses with ``cudnn
# RNN backward can only be called in training mode``
# (``aten/src/ATen/native/cudnn/RNN.cpp``), which ``backward`` and
# ``autograd.grad`` of an RNN in eval mode meet there. This CPU build has no
# cuDNN: neither the error nor its fixes run here. The usual fixes are to
# put the recurrent layer alone in training mode (``model.eval()``, then
# ``.train()`` on the RNN only, so that BatchNorm and dropout elsewhere stay
# frozen), which for an RNN with ``dropout=0`` changes nothing in the
# maths, or to take the Jacobian inside
# ``torch.backends.cudnn.flags(enabled=False)``, which makes torch run its
# own RNN loop (``aten/src/ATen/native/RNN.cpp``; on a GPU its cells are
# fused CUDA kernels, not the operations the CPU runs), whose backward works
# in either mode. Both are meant for ``backward``, ``autograd.grad`` and
# :func:`torch.autograd.functional.jacobian` with its default
# ``vectorize=False`` (one ordinary backward pass per output element);
# whether :func:`torch.func.jacrev`, which batches the backward with
# ``vmap``, runs through cuDNN's backward is not checked here. What the
# first fix relies on does run here, on a CPU, where both modes run the
# same operations: in training mode the Jacobian is the same, bit for bit.
# (On a GPU, where the two modes run different cuDNN forwards, expect
# agreement up to rounding only.)

gru.train()
jacobian_train = jacrev(gru_states)(sequence)
gru.eval()
print("GRU (dropout=0): training-mode Jacobian equal to eval mode's, bit for bit")
# Exact: with no dropout, training mode runs the same operations.
assert torch.equal(jacobian_train, jacobian_rev)

# %%
# The picture
# -----------
#
# Why a per-sample gradient needs one of these routes: how much sample
# :math:`i`'s loss depends on image :math:`j`, the norm of
# :math:`\partial \ell_i / \partial x_j`, for BatchNorm in training mode
# (the patched copy: batch statistics), in eval mode, and GroupNorm. The
# section on batches of
# :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`
# makes the same point for :class:`~torch.nn.BatchNorm1d`, with the same
# reason for the exact zeros; here it is BatchNorm2d's, and GroupNorm's.


def coupling(module):
    """(B, B): the norm of d loss_i / d image_j."""

    def losses(images):
        return (functional_call(module, params, (images,))[:, 0] - targets) ** 2

    return jacrev(losses)(images).flatten(2).norm(dim=2)


model.eval()
couplings = {
    "BatchNorm, training mode": coupling(own_stats),
    "BatchNorm, eval mode": coupling(model),
    "GroupNorm": coupling(grouped),
}
off_diagonal = ~torch.eye(B, dtype=torch.bool)
for title, matrix in couplings.items():
    ratio = matrix[off_diagonal].max() / matrix.diagonal().max()
    print(f"{title:<25} max off-diagonal / max diagonal = {ratio:.1e}")
# Exact zeros: with samples independent, the cotangent of loss i is zero on
# every other sample's path, and the backward pass multiplies it by finite
# numbers.
assert (couplings["BatchNorm, eval mode"][off_diagonal] == 0).all()
assert (couplings["GroupNorm"][off_diagonal] == 0).all()
assert (couplings["BatchNorm, training mode"][off_diagonal] > 0).all()

positive = torch.cat([m[m > 0] for m in couplings.values()])
scale = LogNorm(positive.min().item(), positive.max().item())
fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.9), layout="constrained")
for ax, (title, matrix) in zip(axes, couplings.items()):
    shown = matrix.masked_fill(matrix == 0, float("nan"))  # exact zeros: white
    heat_map = ax.imshow(shown.numpy(), norm=scale, cmap="viridis")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("image j", fontsize=9)
    ax.set_xticks([0, B - 1])
    ax.set_yticks([0, B - 1])
axes[0].set_ylabel("loss i", fontsize=9)
fig.suptitle("How much loss i depends on image j (white: exactly 0)", fontsize=10)
fig.colorbar(
    heat_map, ax=axes, shrink=0.8, label=r"$\|\partial \ell_i / \partial x_j\|$"
)
plt.show()

# %%
# What to remember
# ----------------
#
# * BatchNorm in training mode writes into its buffers: ``grad``, also
#   inside ``jvp``, refuses the ``add_`` to its counter (without a counter
#   it lets the running statistics move unasked), and ``vmap`` refuses
#   per-sample statistics written into one running mean, after the counter
#   of the buffers passed has moved. Apart from the errors, it couples the
#   samples.
# * Choose what "one sample's gradient" means: frozen statistics
#   (``model.eval()``), the sample's own statistics
#   (:func:`~torch.func.replace_all_batch_norm_modules_` or per-sample
#   buffers), or GroupNorm; check it, and ``vmap(jvp(grad(...)))``'s
#   per-sample HVPs, against a loop. BatchNorm's training-mode batch
#   gradient is not the mean of the first two.
# * In training mode, ``functional_call(model, (params, buffers), x)``
#   updates the buffers passed (in eval mode it writes nothing). Averaged,
#   per-sample copies give the batch's running mean but not its running
#   variance (no spread between the samples, other :math:`n/(n-1)`
#   factors): run the batch once in training mode for that. A
#   double-backward HVP in training mode moves the running statistics once
#   per call.
# * Dropout under ``vmap`` needs ``randomness="different"`` (or
#   ``"same"``); a loop reproduces its per-sample gradients only with the
#   same masks: read them back, or draw them outside ``vmap`` and pass them
#   to a forward that takes them.
# * An RNN's Jacobian in eval mode works on a CPU (``jacrev``,
#   ``autograd.functional.jacobian``). cuDNN's RNN backward needs training
#   mode (not checked here): call ``.train()`` on the RNN alone, which with
#   ``dropout=0`` gives the same Jacobian, or turn cuDNN off for the call.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_11_stopping_and_replacing_gradients.py`.
# Reference: :func:`torch.func.vmap`, :func:`torch.func.grad`,
# :func:`torch.func.jvp`, :func:`torch.func.jacrev`, :func:`torch.func.jacfwd`,
# :func:`torch.func.functional_call`, :func:`torch.autograd.functional.jacobian`,
# :func:`torch.func.replace_all_batch_norm_modules_`,
# :class:`torch.nn.BatchNorm2d`, :class:`torch.nn.GroupNorm`,
# :class:`torch.nn.Dropout`, :class:`torch.nn.GRU`, :func:`torch.autograd.grad`,
# `Patching Batch Norm <https://docs.pytorch.org/docs/2.13/func.batch_norm.html>`_.
