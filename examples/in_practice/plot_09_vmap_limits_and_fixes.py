r"""
What vmap refuses, what it does slowly, and how to rewrite each
===============================================================

:func:`torch.func.vmap` runs a function written for one sample on a whole
batch at once, and is how per-sample gradients and Jacobians are computed
(``vmap(grad(f))``, ``vmap(jacrev(f))``). Code that runs fine in a loop can
fail under it: a write into a tensor made outside the batch, ``.item()``, an
``if`` on a tensor, a dropout layer. Other code runs, with a warning that
there is "a performance drop". This page raises each error for real, shows
its message as PyTorch words it, and runs a fix that is checked against a
loop or a derivative worked out by hand; it counts what the warning costs,
and what ``chunk_size`` trades.
"""

# %%
# The maths
# ---------
#
# For a function :math:`f` of one sample and a batch :math:`X` of :math:`B`
# samples :math:`x_1, \dots, x_B`, ``vmap(f)(X)`` is the stack
#
# .. math::
#
#    \operatorname{vmap}(f)(X) = \bigl(f(x_1), \dots, f(x_B)\bigr),
#
# what the loop ``torch.stack([f(x) for x in X])`` computes. But ``f`` runs
# once: its argument is a *batched* tensor that looks like one sample
# (``x.shape`` is a sample's shape) and holds all :math:`B`, and each
# operation it meets runs its *batching rule*, one call for the whole batch.
# Hence the limits. Python sees one ``x`` where the loop saw :math:`B`
# different ones, so a Python number taken from it (``.item()``) or an
# ``if`` on its values has no single answer. A tensor made outside the
# batch (captured, or built with ``torch.zeros``) holds one sample's worth
# of numbers, and cannot take a batch written into it. A random operation
# has two readings, the same draw for every sample or a draw each, and
# ``vmap`` makes you choose. An operation with no batching rule still runs,
# through a *fallback* that loops over the samples and calls it :math:`B`
# times.
#
# The functions below have derivatives that are easy by hand, to check the
# fixes against. The running example clips a sample to norm at most 1,
#
# .. math::
#
#    c(x) = \frac{x}{\max(1, r)}, \quad r = \lVert x \rVert, \qquad
#    \frac{\partial c}{\partial x} =
#    \begin{cases} I & r < 1, \\
#    \dfrac{1}{r}\bigl(I - u u^\top\bigr), \quad u = x / r, & r > 1,
#    \end{cases}
#
# (at :math:`r = 1` it has a kink: the samples here keep away from it). Its
# Jacobian is symmetric, so the VJP with a cotangent :math:`v` is
# :math:`J v`. The first two moments :math:`s(x) = (\sum_j x_j, \sum_j
# x_j^2)` have the Jacobian rows :math:`\mathbf{1}^\top` and :math:`2
# x^\top`. Dropout with rate :math:`p` multiplies by a random mask,
# :math:`y = m \odot x / (1 - p)` with :math:`m_j \in \{0, 1\}`, and its
# VJP is :math:`v \mapsto m \odot v / (1 - p)`, with the mask of the
# forward pass.

import textwrap
import warnings

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.func import grad, jacrev, vmap

generator = torch.Generator().manual_seed(0)
B, n = 8, 5
X = 0.5 * torch.randn(B, n, generator=generator, dtype=torch.float64)
norms = X.norm(dim=1)
print("norms of the samples:", [round(r, 2) for r in norms.tolist()])
# both cases of the clip occur, and none near the kink at 1
assert (norms > 1.05).any() and (norms < 0.95).any()
assert ((norms - 1).abs() > 0.1).all()

seen = []  # the shape of the argument, at each call of the function


def record_shape(x):
    seen.append(tuple(x.shape))
    return x


vmap(record_shape)(X)
print(f"vmap over {B} samples: {len(seen)} call, on an argument of shape {seen[0]}")
assert seen == [(n,)]


def show(error, before=""):
    """Print BEFORE and the first line of ERROR's message, wrapped to the page's
    width."""
    line = f"{before}{type(error).__name__}: {str(error).splitlines()[0]}"
    print(
        textwrap.fill(
            line,
            86,
            subsequent_indent="  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    )


def raises(call, expected_type, expected_text):
    """Run CALL, check that it raises EXPECTED_TYPE saying EXPECTED_TEXT, show it."""
    try:
        call()
    except expected_type as error:
        assert expected_text in str(error), str(error)
        show(error)
        return
    raise AssertionError(f"expected {expected_type.__name__}: {expected_text}")


# %%
# Writing into a captured tensor
# ------------------------------
#
# A buffer allocated once and filled in place, a habit from loops:

moments = torch.zeros(2, dtype=torch.float64)  # made outside, captured below


def moments_in_place(x):
    moments[0] = x.sum()
    moments[1] = (x**2).sum()
    return moments


raises(lambda: vmap(moments_in_place)(X), RuntimeError, "inplace arithmetic")

# %%
# ``moments`` has no batch dimension: its two numbers cannot take :math:`B`
# sums. An in-place add into such a tensor fails with another message,
# about broadcasting, whose shape names the batch size (here 8):

total = torch.zeros(n, dtype=torch.float64)


def running_total(x):
    total.add_(x)
    return total


raises(lambda: vmap(running_total)(X), RuntimeError, f"broadcast shape [{B}, {n}]")

# %%
# A tensor made *inside* the function with ``torch.zeros`` is no different:
# it is not made from the batched ``x``, so it has no batch dimension
# either, and the same two messages come back.


def message(call):
    """The message of the RuntimeError that CALL raises."""
    try:
        call()
    except RuntimeError as error:
        return str(error)
    raise AssertionError("no error")


def moments_zeros_inside(x):
    result = torch.zeros(2, dtype=torch.float64)
    result[0] = x.sum()
    result[1] = (x**2).sum()
    return result


def total_inside(x):
    result = torch.zeros(n, dtype=torch.float64)
    result += x
    return result


same_messages = (
    message(lambda: vmap(moments_zeros_inside)(X))
    == message(lambda: vmap(moments_in_place)(X)),
    message(lambda: vmap(total_inside)(X)) == message(lambda: vmap(running_total)(X)),
)
print("made inside with torch.zeros, the same messages:", same_messages)
assert same_messages == (True, True)

# %%
# The buffer is a trap in the loop too: every call returns the *same*
# tensor, so a list of results holds :math:`B` references to the last one.

in_a_loop = [moments_in_place(x) for x in X]
print("all results one tensor:", all(m is moments for m in in_a_loop))
assert all(m is moments for m in in_a_loop)
# what it holds: the last sample's moments
torch.testing.assert_close(in_a_loop[0], torch.stack([X[-1].sum(), (X[-1] ** 2).sum()]))

# %%
# Two fixes. :meth:`torch.Tensor.new_zeros` makes the buffer from ``x``, so
# under ``vmap`` it is batched like ``x`` (one buffer per sample) and the
# writes go in; or build the result out of place, with :func:`torch.stack`.
# Both differentiate, and ``vmap(jacrev(...))`` gives every sample's
# Jacobian, checked against :math:`(\mathbf{1}^\top; 2x^\top)`.


def moments_new_zeros(x):
    result = x.new_zeros(2)  # batched under vmap, like x
    result[0] = x.sum()
    result[1] = (x**2).sum()
    return result


def moments_out_of_place(x):
    return torch.stack([x.sum(), (x**2).sum()])


loop = torch.stack([torch.stack([x.sum(), (x**2).sum()]) for x in X])
expected_moments_jacobian = torch.stack([torch.ones_like(X), 2 * X], dim=1)  # (B, 2, n)
for fix in (moments_new_zeros, moments_out_of_place):
    torch.testing.assert_close(vmap(fix)(X), loop)
    jacobians = vmap(jacrev(fix))(X)
    print(f"{fix.__name__}: values and Jacobians {tuple(jacobians.shape)} as by hand")
    # Exact: each entry of the Jacobian is 1 or 2 x_j, a product by 2.
    torch.testing.assert_close(jacobians, expected_moments_jacobian, rtol=0, atol=0)

# %%
# ``.item()`` and a data-dependent ``if``
# ---------------------------------------
#
# The clip, written the way it is said, two ways:


def clip_item(x):
    return x / max(1.0, x.norm().item())


def clip_if(x):
    norm = x.norm()
    if norm > 1:
        return x / norm
    return x


raises(lambda: vmap(clip_item)(X), RuntimeError, "calling .item() on a Tensor")
raises(lambda: vmap(clip_if)(X), RuntimeError, "data-dependent control flow")

# %%
# ``.item()`` is wrong even without ``vmap``: the number it returns is a
# constant to autograd, so the Jacobian loses the norm's term,
# :math:`I / r` instead of :math:`(I - u u^\top) / r`. No error says so:

large = X[norms.argmax()]
r_large = large.norm()
u_large = large / r_large
eye = torch.eye(n, dtype=torch.float64)
with_item = jacrev(clip_item)(large)
item_error = (with_item - (eye - torch.outer(u_large, u_large)) / r_large).abs().max()
print(
    f"r = {r_large.item():.2f}: max |jacrev(clip_item) - I / r| = "
    f"{(with_item - eye / r_large).abs().max().item():.0e}; "
    f"its largest error {item_error.item():.2f}"
)
torch.testing.assert_close(with_item, eye / r_large)
assert item_error > 0.1

# %%
# Fixes: keep the number a tensor, and the choice an operation.
# :func:`torch.clamp` gives :math:`\max(1, r)` as a tensor; :func:`torch.where`
# computes both branches for every sample and picks one per sample. (Both
# branches are differentiated too: where a branch not taken divides by
# zero, its NaN reaches the gradient,
# :ref:`sphx_glr_auto_examples_in_practice_plot_08_nan_and_inf_gradients.py`
# shows why and the fix; no norm is zero here.)


def clip_clamp(x):
    return x / torch.clamp(x.norm(), min=1.0)


def clip_where(x):
    norm = x.norm()
    return torch.where(norm > 1, x / norm, x)


# %%
# :func:`torch.cond` keeps the ``if`` as an operation with two branch
# functions. It is a prototype in torch 2.13, and runs through
# ``torch.compile(..., fullgraph=True)``, which traces both branches on the
# first call (`cond.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_higher_order_ops/cond.py>`_).
# Under ``vmap``, with a predicate that differs between samples, its
# batching rule (in the same file) runs *both* branches on the whole batch
# and selects with ``torch.where``, so it costs what ``where`` costs. The
# profiler shows both branches' operations (the division of one, the copy
# of the other) and the selection, and the result is ``where``'s.


def divide_by_norm(x):
    return x / x.norm()


def unchanged(x):
    return x.clone()


def clip_cond(x):
    return torch.cond(x.norm() > 1, divide_by_norm, unchanged, (x,))


by_cond = vmap(clip_cond)(X)  # the first call compiles
with torch.profiler.profile() as profiled:
    by_cond = vmap(clip_cond)(X)
ran = {event.name for event in profiled.events()}
print("vmap(clip_cond) ran:", sorted(ran & {"aten::div", "aten::clone", "aten::where"}))
assert {"aten::div", "aten::clone", "aten::where"} <= ran
# the same operations on the same numbers: equal on any one machine
torch.testing.assert_close(by_cond, vmap(clip_where)(X))
clipped = {
    name: vmap(fix)(X)
    for name, fix in (("clamp", clip_clamp), ("where", clip_where), ("cond", clip_cond))
}
clip_loop = torch.stack([clip_if(x) for x in X])
for name, result in clipped.items():
    # Each divides x by its norm, as the loop does: a division of the same numbers,
    # or a multiplication by a rounded reciprocal (a few eps apart).
    torch.testing.assert_close(result, clip_loop)
print("clip by clamp, where and cond: each equals the loop of clip_if")

# %%
# Its derivative is another matter: in torch 2.13 the ``torch.func``
# transforms that differentiate stop on ``torch.cond``: ``grad``, ``vjp``
# and ``jacrev`` (so ``vmap(jacrev(clip_cond))`` too) with an internal
# assertion, ``jvp`` with an error of ``torch.compile``'s tracer, while
# ``torch.autograd`` differentiates through it. Since each output row
# depends only on its own sample, one ``autograd.grad`` of
# ``vmap(clip_cond)`` with cotangents :math:`V` gives every sample's VJP
# :math:`J_i v_i` at once. It is checked with the other derivatives in the
# next section.

V = torch.randn(B, n, generator=generator, dtype=torch.float64)
release = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
transforms = {
    "grad": lambda: grad(lambda x: clip_cond(x).sum())(X[0]),
    "vjp": lambda: torch.func.vjp(clip_cond, X[0])[1](V[0]),
    "jacrev": lambda: jacrev(clip_cond)(X[0]),
    "vmap(jacrev)": lambda: vmap(jacrev(clip_cond))(X),
    "jvp": lambda: torch.func.jvp(clip_cond, (X[0],), (V[0],)),
}
failed_with = {}
for name, run in transforms.items():
    try:
        run()
        print(f"{name}: works with torch {torch.__version__}")
    except Exception as error:  # whatever it is, it is shown
        failed_with[name] = type(error).__name__
        show(error, before=f"{name} of clip_cond: ")
if release == (2, 13):
    assert failed_with == {
        "grad": "AssertionError",
        "vjp": "AssertionError",
        "jacrev": "AssertionError",
        "vmap(jacrev)": "AssertionError",
        "jvp": "UncapturedHigherOrderOpError",
    }

X_leaf = X.clone().requires_grad_()
(cond_vjps,) = torch.autograd.grad(vmap(clip_cond)(X_leaf), X_leaf, V)

# %%
# The checks
# ----------
#
# Every sample's Jacobian of the clip, from ``vmap(jacrev(...))`` of the
# fixes, against the Jacobian by hand from the maths section; and the VJPs
# through ``torch.cond`` against :math:`J_i v_i`.

u = X / norms[:, None]
projections = u[:, :, None] * u[:, None, :]  # u u^T, one per sample
expected = torch.where(
    (norms > 1)[:, None, None],
    # sphinx_gallery_break = ("eye - projections", "eye + projections")
    (eye - projections) / norms[:, None, None],
    eye,
)
jacobians = {
    "clamp": vmap(jacrev(clip_clamp))(X),
    "where": vmap(jacrev(clip_where))(X),
}
for name, jacobian in jacobians.items():
    error = (jacobian - expected).abs().max().item()
    print(
        f"vmap(jacrev(clip_{name})): {tuple(jacobian.shape)}, max |error| = {error:.0e}"
    )
error = (cond_vjps - torch.einsum("bij,bj->bi", expected, V)).abs().max().item()
print(f"autograd through vmap(clip_cond), J_i v_i: max |error| = {error:.0e}")
# float64 defaults (rtol = atol = 1e-7): both sides are a few products, quotients and
# one norm of the same numbers, a few eps apart; a wrong derivative is off by
# far more.
torch.testing.assert_close(jacobians, {"clamp": expected, "where": expected})
torch.testing.assert_close(cond_vjps, torch.einsum("bij,bj->bi", expected, V))

# %%
# Dropout: ``randomness=``
# ------------------------
#
# Per-sample gradients through a dropout layer (in training mode, as it is
# made): the loss :math:`\langle \mathrm{dropout}(x), w \rangle` has the
# gradient :math:`m \odot w / (1 - p)`. ``grad(..., has_aux=True)`` returns
# the layer's output too, which shows the mask (no sample has a zero
# entry, so a zero in the output is a dropped entry).

p, features = 0.5, 64
dropout = nn.Dropout(p)
samples = torch.randn(B, features, generator=generator, dtype=torch.float64)
w = torch.randn(features, generator=generator, dtype=torch.float64)
assert (samples != 0).all()


def loss_with_dropout(x):
    kept = dropout(x)
    return (kept * w).sum(), kept


per_sample_grad = vmap(grad(loss_with_dropout, has_aux=True))
raises(lambda: per_sample_grad(samples), RuntimeError, "randomness error mode")

# %%
# The message names the two modes. ``randomness="different"`` draws a mask
# for each sample, as a dropout layer does for the rows of a batch in
# training; ``"same"`` draws one mask and uses it for every sample.
# ``nn.Dropout`` takes no ``generator=``: it draws from torch's default
# generator, so the masks change from run to run, and what is printed and
# checked here holds for any draw but with negligible odds. Two 64-entry
# masks drawn independently are equal with probability :math:`2^{-64}`, so
# "8 distinct masks" fails with probability below :math:`28 \cdot 2^{-64} <
# 10^{-17}`.


def distinct_rows(masks):
    return torch.unique(masks, dim=0).shape[0]


batch_masks = dropout(samples) != 0  # the layer on the batch, outside vmap
print(f"dropout of the batch, no vmap: distinct masks: {distinct_rows(batch_masks)}")
assert distinct_rows(batch_masks) == B

for randomness in ("different", "same"):
    gradients, kept = vmap(
        grad(loss_with_dropout, has_aux=True), randomness=randomness
    )(samples)
    masks = kept != 0
    print(
        f'"{randomness}": {B} samples, distinct masks: {distinct_rows(masks)}; '
        "gradient = mask * w / (1 - p)"
    )
    # Exact: products by 0, 1 and 1 / (1 - p) = 2, with the forward pass's mask.
    assert torch.equal(gradients, masks * w / (1 - p))
    assert torch.equal(kept, masks * samples / (1 - p))
    assert distinct_rows(masks) == (B if randomness == "different" else 1)

# %%
# In evaluation mode dropout is the identity and draws nothing, so the
# default ``randomness="error"`` has nothing to refuse, and every gradient is
# :math:`w`. Dropout inside a model, and batch norm, under ``torch.func``:
# the next page.

dropout.eval()
gradients, _ = per_sample_grad(samples)
dropout.train()  # back to training mode, for the sections below
print("eval mode, default randomness: every per-sample gradient is w")
# Exact: the identity's gradient is w, copied.
assert torch.equal(gradients, w.expand(B, features))

# %%
# The batching-rule fallback
# --------------------------
#
# A per-sample scale by a quantile, :math:`x / Q_{0.9}(|x|)`, with
# :func:`torch.quantile`, which has no batching rule in torch 2.13. ``vmap``
# still computes it, through the fallback, and warns:


def scaled_by_quantile(x):
    return x / torch.quantile(x.abs(), 0.9)


def fallback_warnings(run):
    """Run RUN(), return its result and the messages of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    return result, [str(warning.message) for warning in caught]


scaled, messages = fallback_warnings(lambda: vmap(scaled_by_quantile)(X))
print(
    textwrap.fill(
        "UserWarning caught: " + messages[0].split(". ")[0] + ".",
        86,
        subsequent_indent="  ",
    )
)
assert len(messages) == 1 and "performance drop" in messages[0]
assert "aten::quantile" in messages[0]
# one division, the same in both, of numbers quantile computes alike
torch.testing.assert_close(scaled, torch.stack([scaled_by_quantile(x) for x in X]))

# %%
# What the fallback costs, counted with :class:`torch.profiler.profile`: it
# takes the batch apart, calls the operation once per sample, and stacks the
# results. The calls of ``aten::quantile`` that do the work (not the outer
# call, which holds the others) are counted, and the calls of ``aten::sort``
# inside them: :math:`B` each, as many as a Python loop makes. The fallback
# saves the loop's Python, not its calls.

COUNTED = ("aten::quantile", "aten::sort")


def op_calls(run):
    """How many calls of each COUNTED operation RUN() makes, not counting those
    that only hold other calls of the same operation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback's warning, shown above
        with torch.profiler.profile() as profiled:
            run()
    return {
        name: sum(
            event.name == name
            and not any(child.name == name for child in event.cpu_children)
            for event in profiled.events()
        )
        for name in COUNTED
    }


def print_calls(calls):
    print(f"{'calls of':<28}" + "".join(f"{name:>16}" for name in COUNTED))
    for route, counts in calls.items():
        print(f"{route:<28}" + "".join(f"{counts[name]:>16}" for name in COUNTED))


calls = {
    "vmap, fallback": op_calls(lambda: vmap(scaled_by_quantile)(X)),
    "Python loop": op_calls(lambda: [scaled_by_quantile(x) for x in X]),
}
print_calls(calls)
fallback, loop = calls["vmap, fallback"], calls["Python loop"]
assert fallback == loop and fallback["aten::quantile"] == B

# %%
# Two ways out. Where the operation can take the batch itself (``quantile``
# has ``dim=``), call it once, outside ``vmap``, and pass its result in.
# Otherwise write it with operations that have batching rules: ``quantile``'s
# default (linear) interpolation is, with the sorted values
# :math:`s_0 \le \dots \le s_{n-1}`, :math:`h = q (n - 1)` and
# :math:`k = \lfloor h \rfloor`,
#
# .. math::
#
#    Q_q = s_k + (h - k)\,(s_{k+1} - s_k),
#
# a sort and some indexing. Both give the fallback's numbers, with one call
# for the whole batch and no warning.


def quantile_by_sort(values, q):
    """The q-quantile (0 <= q < 1) of a 1-d VALUES, interpolated linearly."""
    s = values.sort().values
    h = q * (values.shape[-1] - 1)
    k = int(h)  # from the shape, not from the data: no .item()
    return s[k] + (h - k) * (s[k + 1] - s[k])


def scaled_by_sort(x):
    return x / quantile_by_sort(x.abs(), 0.9)


def scaled_by(x, scale):
    return x / scale


def hoisted_route(batch):
    """quantile(dim=1) once, outside vmap, then vmap over samples and scales."""
    return vmap(scaled_by)(batch, torch.quantile(batch.abs(), 0.9, dim=1))


hoisted, hoisted_messages = fallback_warnings(lambda: hoisted_route(X))
rewritten, rewritten_messages = fallback_warnings(lambda: vmap(scaled_by_sort)(X))
assert hoisted_messages == [] and rewritten_messages == []
calls["quantile(dim=1), then vmap"] = op_calls(lambda: hoisted_route(X))
calls["rewritten with sort"] = op_calls(lambda: vmap(scaled_by_sort)(X))
print_calls(calls)
hoisted_counts = calls["quantile(dim=1), then vmap"]
rewritten_counts = calls["rewritten with sort"]
assert hoisted_counts["aten::quantile"] == 1 and rewritten_counts["aten::quantile"] == 0
# one sort for the whole batch, where the fallback sorted once per sample
assert fallback["aten::sort"] == B * hoisted_counts["aten::sort"]
assert fallback["aten::sort"] == B * rewritten_counts["aten::sort"]
# quantile interpolates with lerp, a + w (b - a) or b - (1 - w)(b - a): a few
# roundings from s_k + (h - k)(s_{k+1} - s_k); the defaults allow far more.
torch.testing.assert_close(hoisted, scaled)
torch.testing.assert_close(rewritten, scaled)
print("no warning; both equal the fallback's result")

# %%
# The rewrite matters most for derivatives. Under ``grad``, ``quantile`` is
# taken apart into the operations it is made of, and the fallback warning
# names one of those, not ``quantile``; the rewritten scale gives per-sample
# gradients with no fallback, equal to a loop of ``autograd.grad`` through
# ``torch.quantile``. (The warning's op name is worth searching for: a
# batching rule may exist in a newer release.)


def loss_by_quantile(x):
    return torch.tanh(scaled_by_quantile(x)).sum()


def loss_by_sort(x):
    return torch.tanh(scaled_by_sort(x)).sum()


_, messages = fallback_warnings(lambda: vmap(grad(loss_by_quantile))(X))
named = messages[0].split("batching rule for ")[1].split(". ")[0]
print(f"vmap(grad(loss_by_quantile)): the fallback warning names {named}")
assert "performance drop" in messages[0] and "quantile" not in named
gradients, messages = fallback_warnings(lambda: vmap(grad(loss_by_sort))(X))
assert messages == []
loop_gradients = torch.stack(
    [torch.autograd.grad(loss_by_quantile(x), x)[0] for x in X.clone().requires_grad_()]
)
# tanh and its derivative, and the quantile by two roundings of the same
# interpolation: a few eps apart, inside the defaults.
torch.testing.assert_close(gradients, loop_gradients)
print("vmap(grad(loss_by_sort)): no warning, equal to the loop through quantile")

# %%
# ``chunk_size``
# --------------
#
# ``vmap(f, chunk_size=c)`` splits the batch into chunks of :math:`c`
# samples and calls ``f`` once per chunk, :math:`\lceil B / c \rceil` calls;
# ``chunk_size=1`` is a loop. What it buys is memory: the intermediates
# hold :math:`c` samples instead of :math:`B`. A function whose
# intermediate is :math:`d \times d` per sample, the pairwise products
# :math:`x_j x_k` of :math:`d = 50` features, shows both. The calls are
# counted with a wrapper, and the bytes that each call's product allocates
# with the profiler's memory records (``profile_memory=True``):
# :math:`c \cdot d^2 \cdot 8` for float64.

width = 50
points = torch.randn(24, width, generator=generator, dtype=torch.float64)
calls_of_f = []


def pairwise_energy(x):
    calls_of_f.append(1)
    return torch.tanh(x[:, None] * x[None, :]).sum()


def chunked(chunk_size):
    """Calls of pairwise_energy, the largest bytes one call's product allocated,
    and the result, for vmap with CHUNK_SIZE."""
    calls_of_f.clear()
    with torch.profiler.profile(profile_memory=True) as profiled:
        result = vmap(pairwise_energy, chunk_size=chunk_size)(points)
    product_bytes = max(
        event.cpu_memory_usage
        for event in profiled.events()
        if event.name == "aten::mul"
    )
    return len(calls_of_f), product_bytes, result


chunk_sizes = [24, 12, 8, 6, 4, 2, 1]
chunk_costs = {}
whole_batch = vmap(pairwise_energy)(points)
for c in chunk_sizes:
    n_calls, product_bytes, result = chunked(c)
    chunk_costs[c] = (n_calls, product_bytes)
    print(
        f"chunk_size={c:>2}: calls {n_calls:>2}, bytes of each call's product "
        f"{product_bytes:>6}"
    )
    assert n_calls == -(-len(points) // c)  # ceil(24 / c)
    assert product_bytes == c * width**2 * 8
    # The same 2500 tanh summed as without chunks, perhaps in another order:
    # within 2500 eps x 2500 (the sum of |tanh| at most) = 1.4e-9 of each other,
    # inside atol 1e-7.
    torch.testing.assert_close(result, whole_batch)

# %%
# Chunks and randomness. With ``randomness="same"``, ``vmap`` saves the
# default generator's state and restores it before each chunk, so a
# dropout layer draws the same mask in every chunk (``_chunked_vmap`` in
# `vmap.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_functorch/vmap.py>`_).
# A generator of your own, passed as ``generator=``, is not restored: each
# chunk draws its own mask, and "same" holds only within a chunk.

same_chunked = vmap(dropout, randomness="same", chunk_size=2)(samples)
print(
    'nn.Dropout, "same", chunk_size=2:',
    distinct_rows(same_chunked != 0),
    "mask for 4 chunks",
)
assert distinct_rows(same_chunked != 0) == 1

mask_generator = torch.Generator().manual_seed(1)


def dropout_with_generator(x):
    keep = torch.full(x.shape, 1 - p, dtype=x.dtype)  # not batched: one mask's odds
    mask = torch.bernoulli(keep, generator=mask_generator)
    return mask * x / (1 - p)


own_masks = {
    c: distinct_rows(
        vmap(dropout_with_generator, randomness="same", chunk_size=c)(samples) != 0
    )
    for c in (None, 2)
}
print(
    f'own generator, "same": {own_masks[None]} mask without chunks, '
    f"{own_masks[2]} with chunk_size=2 (one per chunk)"
)
assert own_masks == {None: 1, 2: B // 2}

# %%
# The picture
# -----------
#
# Left: the calls the fallback makes grow with the batch, one per sample
# like a Python loop, while ``quantile(dim=1)`` outside ``vmap`` makes one
# call whatever the batch. Right: ``chunk_size`` trades calls of the
# function for the size of its intermediates (both counted above).

batch_sizes = [1, 2, 4, 8, 16, 32]
fallback_calls, hoisted_calls = [], []
for size in batch_sizes:
    batch = torch.randn(size, n, generator=generator, dtype=torch.float64)
    fallback_calls.append(
        op_calls(lambda: vmap(scaled_by_quantile)(batch))["aten::quantile"]
    )
    hoisted_calls.append(op_calls(lambda: hoisted_route(batch))["aten::quantile"])
assert fallback_calls == batch_sizes and hoisted_calls == [1] * len(batch_sizes)


def log2_axis(ax, which, values):
    """A base-2 log scale on AX's WHICH ("x" or "y") axis, VALUES as plain ticks."""
    getattr(ax, f"set_{which}scale")("log", base=2)
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_ticks(values, labels=[f"{value:g}" for value in values])
    axis.set_minor_locator(plt.NullLocator())


fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.4), layout="constrained")
left.plot(batch_sizes, fallback_calls, "o-", label="vmap, fallback (= a loop)")
left.plot(batch_sizes, hoisted_calls, "s-", label="quantile(dim=1), then vmap")
log2_axis(left, "x", batch_sizes)
log2_axis(left, "y", batch_sizes)
left.set_xlabel("batch size B")
left.set_ylabel("calls of aten::quantile")
left.set_title("The fallback: one call per sample", fontsize=10)
left.legend(fontsize=8, loc="upper left")

chunk_calls = [chunk_costs[c][0] for c in chunk_sizes]
chunk_kb = [chunk_costs[c][1] / 1000 for c in chunk_sizes]
right.plot(chunk_sizes, chunk_calls, "o-", color="C2")
log2_axis(right, "x", chunk_sizes)
log2_axis(right, "y", chunk_calls)
right.set_xlabel("chunk_size c (a batch of 24)")
right.set_ylabel("calls of the function", color="C2")
memory = right.twinx()
memory.plot(chunk_sizes, chunk_kb, "s--", color="C3")
log2_axis(memory, "y", chunk_kb)
memory.set_ylabel("kB (1000 bytes) of one call's product", color="C3")
right.set_title("chunk_size: calls against memory", fontsize=10)
plt.show()

# %%
# What to remember
# ----------------
#
# * Under ``vmap`` the function runs once on a batched tensor. Make buffers
#   from the input (``x.new_zeros``) or build results out of place; keep
#   numbers as tensors (no ``.item()``) and choices as operations
#   (``torch.where``, or ``torch.cond``, which under ``vmap`` also runs both
#   branches, and whose derivative needs ``torch.autograd`` in torch 2.13).
#   ``.item()`` also silently drops its term from a derivative.
# * Random operations need ``randomness="different"`` (a draw per sample,
#   as a batch gets in training) or ``"same"`` (one draw for all). With
#   ``chunk_size``, "same" holds across chunks for the default generator
#   only.
# * The "performance drop" warning means a loop of :math:`B` calls of the
#   op it names. Call the op on the batch outside ``vmap``, or rewrite it
#   with operations that have batching rules; under ``grad`` the op named
#   may be one your op is made of.
# * ``chunk_size=c`` makes :math:`\lceil B / c \rceil` calls, each with
#   intermediates :math:`c` samples high: memory for calls.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_10_stateful_modules_under_torch_func.py`.
# Reference: :func:`torch.func.vmap`, :func:`torch.func.grad`,
# :func:`torch.func.jacrev`, :meth:`torch.Tensor.new_zeros`, :func:`torch.stack`,
# :func:`torch.clamp`, :func:`torch.where`, :func:`torch.cond`,
# :class:`torch.nn.Dropout`, :func:`torch.bernoulli`, :func:`torch.quantile`,
# :class:`torch.profiler.profile`, :func:`torch.autograd.grad`.
