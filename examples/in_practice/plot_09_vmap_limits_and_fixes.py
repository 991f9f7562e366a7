r"""
What vmap refuses, what it does slowly, and how to rewrite each
===============================================================

:func:`torch.func.vmap` runs a function written for one sample on a whole
batch at once, and is how per-sample gradients and Jacobians are computed
(``vmap(grad(f))``, ``vmap(jacrev(f))``). Code that runs fine in a loop can
fail under it: a write into a tensor made outside the batch, ``.item()``, an
``if`` on a tensor, a dropout layer, a call of ``torch.autograd.grad``.
Other code runs, with a warning that there is "a performance drop". This
page raises each error for real, shows the first line of its message as
PyTorch words it (and the lines after, where the first stops short), and
runs a fix that is checked against a loop or a derivative worked out by
hand; it counts what the warning costs, and what ``chunk_size`` trades.
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
# ``vmap`` makes you choose. ``torch.autograd`` differentiates tensors that
# require grad, and the batched ``x`` does not, so ``torch.autograd.grad``
# inside the function finds nothing to differentiate; ``torch.func``'s
# transforms are made to nest inside ``vmap``. An operation with no batching
# rule often still runs, through a *fallback* that loops over the samples
# and calls it :math:`B` times, but not always: the fallback refuses
# ``torch.equal``, which returns a bool, and ``nonzero``, whose output's
# shape depends on the values, is registered with ``vmap`` to raise.
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

import json
import tempfile
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


def show(error, before="", lines=1):
    """Print BEFORE and the first LINES non-blank lines of ERROR's message, each
    wrapped to the page's width."""
    message = [line.strip() for line in str(error).splitlines() if line.strip()]
    message[0] = f"{before}{type(error).__name__}: {message[0]}"
    for number, line in enumerate(message[:lines]):
        print(
            textwrap.fill(
                line,
                86,
                initial_indent="  " if number else "",
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
# .. _vmap-in-place-captured:
#
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
# .. _vmap-item-and-if:
#
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
# zero, the derivative of that division is NaN there, and it reaches the
# gradient, as a cell below shows;
# :ref:`sphx_glr_auto_examples_in_practice_plot_08_nan_and_inf_gradients.py`
# shows why and the fix. No norm in ``X`` is zero.)


def clip_clamp(x):
    return x / torch.clamp(x.norm(), min=1.0)


def clip_where(x):
    norm = x.norm()
    return torch.where(norm > 1, x / norm, x)


# %%
# :func:`torch.cond` keeps the ``if`` as an operation with two branch
# functions; its documentation calls it a prototype feature. Called eagerly
# with a tensor predicate, it runs through ``torch.compile(...,
# fullgraph=True)`` (``_hop_compile_and_call`` in `utils.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_higher_order_ops/utils.py>`_):
# the first call compiles, tracing both branches, and every call enters
# the compiled code (the profiler shows a "Torch-Compiled Region" each
# time). Under ``vmap`` the predicate ``x.norm() > 1`` is made from the
# batched ``x``, so it is batched too, and then the batching rule
# (``cond_batch_rule`` in `cond.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_higher_order_ops/cond.py>`_)
# runs *both* branches on the whole batch and selects with
# ``torch.where``, whatever the predicate's values. So it runs what
# ``where`` runs, plus what a branch recomputes of the predicate's work
# (here ``divide_by_norm`` takes the norm again: two norms, against
# ``clip_where``'s one), the second branch's copy, and the entry into
# compiled code. The profiler shows both branches' operations (the division
# of one, the copy of the other) and the selection, also for a batch whose
# samples all take the first branch, and counts the norms; and the result
# is ``where``'s.


def divide_by_norm(x):
    return x / x.norm()


def unchanged(x):
    return x.clone()


def clip_cond(x):
    return torch.cond(x.norm() > 1, divide_by_norm, unchanged, (x,))


vmap(clip_cond)(X)  # the first call compiles
BRANCHES_AND_SELECTION = {"aten::div", "aten::clone", "aten::where"}
assert (3 * norms > 1).all()
for label, batch in (("3 X), r > 1", 3 * X), ("X)", X)):
    with torch.profiler.profile() as profiled:
        by_cond = vmap(clip_cond)(batch)
    ran = {event.name for event in profiled.events()}
    compiled = any(name.startswith("Torch-Compiled Region") for name in ran)
    print(
        f"vmap(clip_cond)({label}: ran",
        *sorted(ran & BRANCHES_AND_SELECTION),
        f"| compiled: {compiled}",
    )
    assert BRANCHES_AND_SELECTION <= ran and compiled
with torch.profiler.profile() as profiled_where:
    vmap(clip_where)(X)
norms_taken = {
    name: sum(event.name == "aten::linalg_vector_norm" for event in run.events())
    for name, run in (("cond", profiled), ("where", profiled_where))
}
print("norms taken, cond and where:", norms_taken["cond"], norms_taken["where"])
# Counts of calls: the predicate's norm and the branch's own, against one.
assert norms_taken["cond"] == 2 * norms_taken["where"] > 0, norms_taken
# by_cond is now vmap(clip_cond)(X)
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
# assertion, ``jvp`` with an error of ``torch.compile``'s tracer (whose
# cause is on the lines after the first), while ``torch.autograd``
# differentiates through it. (With a release where a transform works, its
# result is checked against the derivative by hand in the next section.)
# Since each output row depends only on its own sample, one
# ``autograd.grad`` of ``vmap(clip_cond)`` with cotangents :math:`V` gives
# every sample's VJP :math:`J_i v_i` at once. It is checked with the other
# derivatives in the next section.

V = torch.randn(B, n, generator=generator, dtype=torch.float64)
release = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
transforms = {  # each gives the derivative at X[0] (all of X for vmap), or raises
    "grad": lambda: grad(lambda x: clip_cond(x).sum())(X[0]),
    "vjp": lambda: torch.func.vjp(clip_cond, X[0])[1](V[0])[0],
    "jacrev": lambda: jacrev(clip_cond)(X[0]),
    "vmap(jacrev)": lambda: vmap(jacrev(clip_cond))(X),
    "jvp": lambda: torch.func.jvp(clip_cond, (X[0],), (V[0],))[1],
}
failed_with, worked = {}, {}
for name, run in transforms.items():
    try:
        worked[name] = run()
        print(f"{name}: works with torch {torch.__version__}")
    except Exception as error:  # whatever it is, it is shown
        failed_with[name] = f"{type(error).__name__}: {error}"
        show(error, before=f"{name} of clip_cond: ", lines=4 if name == "jvp" else 1)
if release == (2, 13):
    assert set(failed_with) == set(transforms)
    for name, text in failed_with.items():
        stable_part = (
            "higher order operator doesn't work unless it is captured completely"
            if name == "jvp"
            else "AssertionError: Expected FakeTensor"
        )
        assert stable_part in text, text

X_leaf = X.clone().requires_grad_()
(cond_vjps,) = torch.autograd.grad(vmap(clip_cond)(X_leaf), X_leaf, V)

# %%
# Under ``vmap``, then, ``cond`` is ``where``, for gradients too: both
# branches are computed, and differentiated, for every sample. Give one
# sample norm 0: ``divide_by_norm`` makes 0 / 0 for it, which the selection
# drops from the value; the gradient gets the derivative of that division,
# whose 0 / 0 is NaN too, and that the selection does not drop (a NaN value
# with a finite derivative, as in ``x + nan``, would leave the gradient
# finite). ``torch.clamp`` has no such branch.

with_zero = X.clone()
with_zero[3] = 0.0
with_zero.requires_grad_()
gradients_at_zero = {}
for name, fix in (("cond", clip_cond), ("where", clip_where), ("clamp", clip_clamp)):
    clipped_with_zero = vmap(fix)(with_zero)
    assert (clipped_with_zero[3] == 0).all()  # the value is right
    (gradients_at_zero[name],) = torch.autograd.grad(
        clipped_with_zero, with_zero, torch.ones_like(with_zero)
    )
    rows_with_nan = gradients_at_zero[name].isnan().any(dim=1).nonzero().flatten()
    print(f"vmap(clip_{name}), sample 3 zero: gradient rows with NaN", end=" ")
    print(rows_with_nan.tolist())
others = torch.arange(B) != 3
for name in ("cond", "where"):
    assert gradients_at_zero[name][3].isnan().all()
    assert gradients_at_zero[name][others].isfinite().all()
assert gradients_at_zero["clamp"].isfinite().all()

# %%
# The checks
# ----------
#
# Every sample's Jacobian of the clip, from ``vmap(jacrev(...))`` of the
# fixes, against the Jacobian by hand from the maths section; the VJPs
# through ``torch.cond`` against :math:`J_i v_i`; and whatever
# ``torch.func`` transform of ``clip_cond`` works with the release running
# this page (none with torch 2.13) against the same.

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
# any torch.func transform of clip_cond that works (none with torch 2.13)
by_hand = {
    "grad": expected[0].sum(dim=0),  # J^T 1, J symmetric
    "vjp": expected[0] @ V[0],
    "jacrev": expected[0],
    "vmap(jacrev)": expected,
    "jvp": expected[0] @ V[0],
}
for name, derivative in worked.items():
    torch.testing.assert_close(derivative, by_hand[name])

# %%
# .. _autograd-inside-vmap:
#
# ``torch.autograd`` inside ``vmap``
# ----------------------------------
#
# A per-sample VJP written the way a loop writes it, with
# :func:`torch.autograd.grad`, does not survive ``vmap``. Inside the
# function ``x`` is the batched tensor, and it does not require grad even
# when the batch does: autograd records on the tensors underneath, which the
# function never sees. So ``autograd.grad`` finds no graph behind its output:

seen_requires_grad = []


def vjp_by_autograd(x, v):
    seen_requires_grad.append(x.requires_grad)
    return torch.autograd.grad(clip_clamp(x), x, v)[0]


raises(lambda: vmap(vjp_by_autograd)(X_leaf, V), RuntimeError, "does not require grad")
print(
    f"X_leaf.requires_grad: {X_leaf.requires_grad}; "
    f"x.requires_grad inside vmap: {seen_requires_grad[0]}"
)
assert X_leaf.requires_grad and seen_requires_grad == [False]

# %%
# Making ``x`` require grad inside the function, as
# :func:`torch.autograd.functional.vjp` does with its input, is refused,
# with a message that names both and points to the transforms of
# ``torch.func``. (Older releases returned zeros here, with no error:
# functorch 0.1.1 with torch 1.11, `functorch issue 922
# <https://github.com/pytorch/functorch/issues/922>`_.)


def vjp_by_functional(x, v):
    return torch.autograd.functional.vjp(clip_clamp, x, v)[1]


raises(lambda: vmap(vjp_by_functional)(X, V), RuntimeError, "Tensor.requires_grad_()")

# %%
# The fix is :func:`torch.func.vjp` (or :func:`torch.func.grad` for a
# scalar), which takes the function and runs it at a level of autograd of
# its own, inside ``vmap``'s: every sample's VJP in one call, equal to the
# loop of ``autograd.functional.vjp`` and to :math:`J_i v_i` by hand. What
# ``vmap`` can batch in ``autograd.grad`` is the cotangent alone, of a graph
# built outside it: the graph of ``vmap(clip_clamp)(X_leaf)``, with two
# sets of cotangents at once. ``is_grads_batched=True`` asks
# ``autograd.grad`` for the same, and gives the same.


def vjp_by_func(x, v):
    _, vjp_fn = torch.func.vjp(clip_clamp, x)
    return vjp_fn(v)[0]


per_sample_vjps = vmap(vjp_by_func)(X, V)
loop_vjps = torch.stack(
    [torch.autograd.functional.vjp(clip_clamp, x, v)[1] for x, v in zip(X, V)]
)
by_hand_vjps = torch.einsum("bij,bj->bi", expected, V)
clipped_leaf = vmap(clip_clamp)(X_leaf)  # the graph, built once, outside


def vjp_of_the_graph(cotangents):
    return torch.autograd.grad(clipped_leaf, X_leaf, cotangents, retain_graph=True)[0]


two_sets = vmap(vjp_of_the_graph)(torch.stack([V, -V]))
print(
    f"vmap(torch.func.vjp): {tuple(per_sample_vjps.shape)}, max |error| = "
    f"{(per_sample_vjps - by_hand_vjps).abs().max().item():.0e}; "
    f"vmap over cotangents: {tuple(two_sets.shape)}"
)
# the same products, quotients and norm as the loop, or a few eps apart;
# J_i v_i by hand as in the checks above
torch.testing.assert_close(per_sample_vjps, loop_vjps)
torch.testing.assert_close(per_sample_vjps, by_hand_vjps)
torch.testing.assert_close(two_sets, torch.stack([by_hand_vjps, -by_hand_vjps]))
(batched_grads,) = torch.autograd.grad(
    clipped_leaf, X_leaf, torch.stack([V, -V]), is_grads_batched=True
)
# the same backward pass on the same cotangents
torch.testing.assert_close(batched_grads, two_sets)

# %%
# Inside ``grad`` (or ``jacrev``), ``torch.autograd.grad`` does run: the
# transform's own level records the operations. But unless it is asked to
# record its own backward pass (``create_graph=True``), the gradient it
# returns is a constant to the outer transform, which then differentiates a
# constant: zeros, and no error. The second derivative of
# :math:`\sum_i x_i^3`, summed over :math:`i` (:math:`6x`), shows it.


def inner_gradient_summed(create_graph):
    def f(x):
        (inner,) = torch.autograd.grad((x**3).sum(), x, create_graph=create_graph)
        return inner.sum()

    return f


second_without = torch.func.grad(inner_gradient_summed(False))(X[0])
second_with = torch.func.grad(inner_gradient_summed(True))(X[0])
print("grad of autograd.grad without create_graph:", second_without[:3].tolist())
# Exact: no path from the constant to x, so the gradient is filled with zeros.
assert torch.equal(second_without, torch.zeros_like(X[0]))
# 6x from two products by small integers: within an eps or two of x's size.
torch.testing.assert_close(second_with, 6 * X[0])

# %%
# .. _vmap-dropout-randomness:
#
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
# checked here holds for every draw except a set of negligible
# probability. Two 64-entry
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
# .. _vmap-batching-rule-fallback:
#
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
# Not every operation runs under ``vmap``. The fallback refuses one that
# returns something other than tensors (``torch.equal``'s bool), and
# ``nonzero``, whose output's shape depends on the values, has a rule whose
# job is to raise; each has its own message. Other operations with
# value-dependent shapes (``argwhere``, ``repeat_interleave``) go through
# the fallback and fail there, when it stacks per-sample results of
# different sizes:

raises(lambda: vmap(lambda x: x * torch.equal(x, x))(X), RuntimeError, "fallback")
raises(lambda: vmap(lambda x: (x > 0).nonzero())(X), RuntimeError, "dynamic shape")
_, messages = fallback_warnings(
    lambda: raises(
        lambda: vmap(lambda x: torch.argwhere(x > 0))(X), RuntimeError, "equal size"
    )
)
# the fallback ran (and warned) before it failed
assert len(messages) == 1 and "aten::argwhere" in messages[0], messages

# %%
# What the fallback costs, counted with :class:`torch.profiler.profile`: it
# calls the operation once per sample. The calls of ``aten::quantile`` that
# do the work (not the outer call, which holds the others) are counted, and
# the calls of ``aten::sort`` and ``aten::lerp_`` inside them: :math:`B`
# each, as many as a Python loop makes. The fallback saves no calls.

COUNTED = ("aten::quantile", "aten::sort", "aten::lerp_")


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
assert fallback == loop and set(fallback.values()) == {B}

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
# The rewrite matters most for derivatives. ``quantile`` has no derivative
# formula of its own: under ``grad`` it runs as the operations it is made
# of, and those are what ``vmap`` sees. The profiler shows ``quantile``
# called once, on the whole batch, and its ``sort`` once too (``sort`` has
# a batching rule), while ``lerp_`` falls back, :math:`B` calls; the
# warning names that, not ``quantile``. The rewritten scale gives per-sample
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
assert "performance drop" in messages[0] and named.startswith("aten::lerp_")
under_grad = op_calls(lambda: vmap(grad(loss_by_quantile))(X))
print_calls({"vmap(grad(loss_by_quantile))": under_grad})
assert under_grad == {"aten::quantile": 1, "aten::sort": 1, "aten::lerp_": B}
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
# .. _vmap-chunk-size:
#
# ``chunk_size``
# --------------
#
# ``vmap(f, chunk_size=c)`` splits the batch into chunks of :math:`c`
# samples and calls ``f`` once per chunk, :math:`\lceil B / c \rceil` calls;
# ``chunk_size=1`` makes as many calls as a loop, but each still runs under
# ``vmap``, on a batch of one, so none of the refusals above goes away.
# What it buys is memory: each call's intermediates hold at most :math:`c`
# samples instead of :math:`B` (the last chunk holds what is left). A function
# whose intermediate is :math:`d \times d` per sample, the pairwise products
# :math:`x_j x_k` of :math:`d = 50` features, shows both. The calls are
# counted with a wrapper; the bytes that each call's product allocates
# (:math:`c \cdot d^2 \cdot 8` for float64), and the peak of the tensor
# memory alive at once, with the profiler's memory records
# (``profile_memory=True``; the peak as in
# :ref:`sphx_glr_auto_examples_under_the_hood_plot_02_memory_what_reverse_mode_keeps.py`,
# from the records' running total).
#
# The peak follows :math:`c` only while nothing outlives a call. With no
# gradient to come it is the product and its ``tanh``, :math:`2 c d^2 \cdot 8`
# bytes (plus the finished chunks' results, 8 bytes a sample). When the
# input requires grad, autograd keeps every chunk's ``tanh`` output for the
# backward pass: :math:`B d^2 \cdot 8` bytes whatever :math:`c`, on top of
# one call's product. Chunking then lowers only the part that is freed.

width = 50
points = torch.randn(24, width, generator=generator, dtype=torch.float64)
points_leaf = points.clone().requires_grad_()  # a backward pass would follow
calls_of_f = []


def pairwise_energy(x):
    calls_of_f.append(1)
    return torch.tanh(x[:, None] * x[None, :]).sum()


def memory_records(run):
    """Run RUN() under the profiler: its [memory] records in order, each with
    "Bytes" (negative for a release) and "Total Allocated"; and its profile."""
    with torch.profiler.profile(profile_memory=True) as profiled:
        run()
    with tempfile.TemporaryDirectory() as folder:
        profiled.export_chrome_trace(f"{folder}/trace.json")
        with open(f"{folder}/trace.json") as trace:
            events = json.load(trace)["traceEvents"]
    records = [event["args"] for event in events if event.get("name") == "[memory]"]
    return records, profiled


def peak_bytes(records):
    """The largest running total of RECORDS, less what was alive before them."""
    at_start = records[0]["Total Allocated"] - records[0]["Bytes"]
    return max(record["Total Allocated"] for record in records) - at_start


def chunked(chunk_size, batch):
    """Calls of pairwise_energy, the largest bytes one call's product allocated,
    the peak bytes, and the result, for vmap over BATCH with CHUNK_SIZE."""
    calls_of_f.clear()
    result = []
    records, profiled = memory_records(
        lambda: result.append(vmap(pairwise_energy, chunk_size=chunk_size)(batch))
    )
    product_bytes = max(
        event.cpu_memory_usage
        for event in profiled.events()
        if event.name == "aten::mul"
    )
    return len(calls_of_f), product_bytes, peak_bytes(records), result[0]


chunk_sizes = [24, 12, 8, 6, 4, 2, 1]
sample_bytes = width**2 * 8  # one sample's product, or its tanh
chunk_costs = {}
whole_batch = vmap(pairwise_energy)(points)
print(
    f"{'chunk_size':>10} {'calls':>5} {'product bytes':>14} {'peak bytes':>11}", end=""
)
print(f" {'peak, requires_grad':>20}")
for c in chunk_sizes:
    n_calls, product_bytes, peak, result = chunked(c, points)
    *_, peak_with_grad, result_with_grad = chunked(c, points_leaf)
    chunk_costs[c] = (n_calls, peak, peak_with_grad)
    print(f"{c:>10} {n_calls:>5} {product_bytes:>14} {peak:>11} {peak_with_grad:>20}")
    assert n_calls == -(-len(points) // c)  # ceil(24 / c)
    assert product_bytes == c * sample_bytes
    # Exact byte counts of the tensors alive at once, plus the finished chunks'
    # results, less than one sample's product:
    assert 0 <= peak - 2 * c * sample_bytes < sample_bytes
    assert 0 <= peak_with_grad - (len(points) + c) * sample_bytes < sample_bytes
    # The same 2500 tanh summed as without chunks, perhaps in another order:
    # within 2500 eps x 2500 (the sum of |tanh| at most) = 1.4e-9 of each other,
    # inside atol 1e-7.
    torch.testing.assert_close(result, whole_batch)
    torch.testing.assert_close(result_with_grad.detach(), whole_batch)

# %%
# Chunks and randomness. With ``randomness="same"``, ``vmap`` saves the
# state of torch's default CPU generator (:func:`torch.get_rng_state`) and
# restores it before each chunk, so a dropout layer on the CPU draws the
# same mask in every chunk (``_chunked_vmap`` in `vmap.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_functorch/vmap.py>`_):
# from the same state, the chunked call gives the unchunked call's output
# and leaves the generator where the unchunked call leaves it. Only that
# generator is restored. A generator of your own, passed as ``generator=``,
# is not: each chunk draws its own mask, and "same" holds only within a
# chunk. Nor are the GPU's generators (read in the source, not run here:
# this page runs on a CPU): on that reading, a dropout layer on a GPU
# draws a mask per chunk too.

state = torch.get_rng_state()
same_whole = vmap(dropout, randomness="same")(samples)
state_after_whole = torch.get_rng_state()
torch.set_rng_state(state)
same_chunked = vmap(dropout, randomness="same", chunk_size=2)(samples)
print(
    f'nn.Dropout, "same", chunk_size=2: {distinct_rows(same_chunked != 0)} mask '
    "for 4 chunks"
)
print(
    "  the output as without chunks:",
    torch.equal(same_chunked, same_whole),
    "| the generator's state after it too:",
    torch.equal(torch.get_rng_state(), state_after_whole),
)
assert distinct_rows(same_chunked != 0) == 1
# Exact: the same mask drawn from the same state, the same products
assert torch.equal(same_chunked, same_whole)
assert torch.equal(torch.get_rng_state(), state_after_whole)

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
# function for peak memory, by as much as :math:`c` shrinks while nothing
# outlives a call; when the input requires grad, the ``tanh`` outputs kept
# for the backward pass stay, and the peak falls by half at most (all
# counted above).

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
right.plot(chunk_sizes, chunk_calls, "o-", color="C2", label="calls")
log2_axis(right, "x", chunk_sizes)
log2_axis(right, "y", chunk_calls)
right.set_xlabel("chunk_size c (a batch of 24)")
right.set_ylabel("calls of the function", color="C2")
memory = right.twinx()
for column, style, label in ((1, "s--", "peak"), (2, "^:", "peak, requires_grad")):
    peaks_kb = [chunk_costs[c][column] / 1000 for c in chunk_sizes]
    memory.plot(chunk_sizes, peaks_kb, style, color="C3", label=label)
log2_axis(memory, "y", [40, 80, 160, 320, 640])
right.set_ylim(0.8, 60)  # room above the lines for the legend
memory.set_ylim(32, 2400)
memory.set_ylabel("peak kB (1000 bytes)", color="C3")
memory.legend(fontsize=8, loc="upper center")
right.set_title("chunk_size: calls against peak memory", fontsize=10)
plt.show()

# %%
# What to remember
# ----------------
#
# * Under ``vmap`` the function runs once on a batched tensor. Make buffers
#   from the input (``x.new_zeros``) or build results out of place; keep
#   numbers as tensors (no ``.item()``) and choices as operations
#   (``torch.where``, or ``torch.cond``: under ``vmap``, with a predicate
#   made from the batch, it runs both branches as ``where`` does, NaN
#   gradients of the branch not taken included; it compiles on its first
#   call, and its derivative needs ``torch.autograd`` in torch 2.13).
#   ``.item()`` also silently drops its term from a derivative.
# * Inside ``vmap``, differentiate with ``torch.func.vjp`` or
#   ``torch.func.grad``: ``torch.autograd.grad`` and
#   ``torch.autograd.functional`` raise there: the first finds no graph
#   behind the function's output, the second is refused when it makes its
#   input require grad. ``vmap`` over the cotangents alone of a graph built
#   outside works.
# * Random operations need ``randomness="different"`` (a draw per sample,
#   as a batch gets in training) or ``"same"`` (one draw for all). With
#   ``chunk_size``, "same" holds across chunks for draws from the default
#   CPU generator only.
# * The "performance drop" warning means a loop of :math:`B` calls of the
#   op it names. Call the op on the batch outside ``vmap``, or rewrite it
#   with operations that have batching rules; under ``grad`` the op named
#   may be one your op is made of. Some ops get no fallback and raise.
# * ``chunk_size=c`` makes :math:`\lceil B / c \rceil` calls, each with
#   intermediates at most :math:`c` samples high: it lowers the peak of what each
#   call frees, not of what autograd keeps for a backward pass.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_10_stateful_modules_under_torch_func.py`.
# Reference: :func:`torch.func.vmap`, :func:`torch.func.grad`,
# :func:`torch.func.jacrev`, :meth:`torch.Tensor.new_zeros`, :func:`torch.stack`,
# :func:`torch.clamp`, :func:`torch.where`, :func:`torch.cond`,
# :class:`torch.nn.Dropout`, :func:`torch.bernoulli`, :func:`torch.quantile`,
# :class:`torch.profiler.profile`, :func:`torch.autograd.grad`,
# :func:`torch.autograd.functional.vjp`, :func:`torch.func.vjp`,
# :func:`torch.get_rng_state`.
