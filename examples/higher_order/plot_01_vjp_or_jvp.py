r"""
Forward or reverse: JVPs, VJPs and what each costs
==================================================

A VJP pulls an output-shaped vector back to the inputs; a Jacobian-vector
product (JVP) pushes an input-shaped vector forward to the outputs. In
arithmetic, each costs a small multiple of one evaluation of the function
(counted below), so a full Jacobian costs one of them per column or one per
row: which is cheaper depends on its shape. In memory they differ: reverse
mode keeps intermediate results of the forward pass for its backward pass,
so what it keeps grows with the depth of the function; forward mode keeps
none for later. This page checks the two against each other and against
the maths, lists what each route runs backwards, counts the FLOPs each
runs, measures the tensor memory each mode holds as a stack of layers gets
deeper, then counts and times both modes on tall and wide Jacobians.
"""

# %%
# The maths
# ---------
#
# For :math:`f : \mathbb{R}^n \to \mathbb{R}^m` with Jacobian
# :math:`J \in \mathbb{R}^{m \times n}` at :math:`x`:
#
# .. math::
#
#    \text{JVP (forward mode): } u \in \mathbb{R}^n \mapsto J u \in \mathbb{R}^m,
#
#    \text{VJP (reverse mode): } v \in \mathbb{R}^m \mapsto v^\top J \in \mathbb{R}^{1 \times n}.
#
# They are adjoint linear maps: for every :math:`u` and :math:`v`,
#
# .. math::
#
#    \langle v, J u \rangle = \langle J^\top v, u \rangle.
#
# A full Jacobian takes :math:`n` JVPs (one per column, :math:`u = e_j`) or
# :math:`m` VJPs (one per row, :math:`v = e_i`): forward mode for *tall*
# Jacobians (:math:`m \gg n`, few inputs), reverse mode for *wide* ones
# (:math:`n \gg m`, such as the gradient of a scalar loss, :math:`m = 1`).
#
# The test function is one dense layer,
#
# .. math::
#
#    f(x) = \tanh(W x), \quad W \in \mathbb{R}^{m \times n}, \qquad
#    J = \operatorname{diag}\bigl(1 - \tanh^2(W x)\bigr)\, W.

# %%
# Three ways to compute a JVP
# ---------------------------
#
# :func:`torch.func.jvp` and the dual numbers of
# :mod:`torch.autograd.forward_ad` run true forward mode;
# :func:`torch.autograd.functional.jvp` computes the same product with two
# reverse passes (the "double-backward trick", seen below).

import json
import os
import tempfile

import matplotlib.pyplot as plt
import torch
import torch.autograd.forward_ad as fwAD
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

generator = torch.Generator().manual_seed(0)
n, m = 50, 30
W = torch.randn(m, n, generator=generator, dtype=torch.float64) / n**0.5
x = torch.randn(n, generator=generator, dtype=torch.float64)
u = torch.randn(n, generator=generator, dtype=torch.float64)  # input-shaped
v = torch.randn(m, generator=generator, dtype=torch.float64)  # output-shaped


def f(x):
    return torch.tanh(W @ x)


# sphinx_gallery_break = (" ** 2", "")
J = (1 - torch.tanh(W @ x) ** 2)[:, None] * W  # by hand, (m, n)

_, jvp_functional = torch.autograd.functional.jvp(f, x, u)
_, jvp_func = torch.func.jvp(f, (x,), (u,))
with fwAD.dual_level():
    jvp_dual = fwAD.unpack_dual(f(fwAD.make_dual(x, u))).tangent
jvps = {
    "functional.jvp": jvp_functional,
    "func.jvp": jvp_func,
    "forward_ad dual": jvp_dual,
}
for name, result in jvps.items():
    print(f"{name:<16} J u: {tuple(result.shape)}")

_, vjp_result = torch.autograd.functional.vjp(f, x, v)
print(f"functional.vjp   v^T J: {tuple(vjp_result.shape)}")

# %%
# The checks
# ----------
#
# Each JVP against :math:`Ju` and the VJP against :math:`v^\top J`, both
# from the hand-derived :math:`J`.

expected = J @ u
for name, result in jvps.items():
    error = (result - expected).abs().max().item()
    print(f"{name:<16} max |J u - expected| = {error:.1e}")
    # Sums of n = 50 products, in another order: rounding below
    # n eps sum |W_ij u_j| = 50 * 2.2e-16 * 5.1 = 6e-14, under 1e-12.
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)

expected_vjp = v @ J
vjp_error = (vjp_result - expected_vjp).abs().max().item()
print(f"functional.vjp   max |v^T J - expected| = {vjp_error:.1e}")
# Sums of m = 30 products: rounding below m eps sum |v_i W_ij| = 30 * 2.2e-16 * 4.0 =
# 3e-14.
torch.testing.assert_close(vjp_result, expected_vjp, rtol=1e-12, atol=1e-12)

# %%
# The adjoint identity, checked
# -----------------------------

left = torch.dot(v, jvp_func)  # <v, J u>
right = torch.dot(vjp_result, u)  # <J^T v, u>
print(f"<v, J u> = {left.item():.12f}")
print(f"<J^T v, u> = {right.item():.12f}")
# Both sides sum the n m = 1500 terms v_i J_ij u_j, whose sizes add to 68, through n + m
# + 1 roundings: they differ by under 81 eps 68 = 1.2e-12, within the 4.5e-12 allowed
# (|left| = 3.46).
torch.testing.assert_close(left, right, rtol=1e-12, atol=1e-12)

# %%
# Reverse passes, seen
# --------------------
#
# :func:`torch.autograd.functional.jvp` runs two reverse passes: its source
# (`torch/autograd/functional.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/autograd/functional.py>`__)
# calls :func:`torch.autograd.grad` twice, and the site's tests count the
# passes. The first computes :math:`g(w) = J^\top w` for a dummy :math:`w`
# (a tensor that requires grad; its values do not matter) and records that
# computation; :math:`g` is linear in :math:`w` with Jacobian
# :math:`J^\top`, whatever :math:`w` holds, so the second, a VJP of
# :math:`g` with :math:`u`, gives :math:`(J^\top)^\top u = J u`.
#
# What each route runs backwards shows in the events of
# :class:`torch.profiler.profile`: autograd's engine records every backward
# function it evaluates as ``autograd::engine::evaluate_function:`` and the
# function's name. A VJP evaluates :math:`f`'s two, ``TanhBackward0`` and
# ``MvBackward0`` (the backward functions of :math:`\tanh` and of the
# product :math:`Wx`). ``functional.jvp`` evaluates the same two, then, in
# its second pass, those of the operations the first one recorded: the
# product with :math:`W^\top` (``MvBackward0`` again) and
# ``TanhBackwardBackward0``, the backward function of :math:`\tanh`'s
# backward. The forward-mode routes evaluate none.


def backward_functions(route):
    """The backward functions autograd's engine evaluates while route() runs."""
    with torch.profiler.profile() as profiled:
        route()
    prefix = "autograd::engine::evaluate_function: "
    names = [
        e.name[len(prefix) :] for e in profiled.events() if e.name.startswith(prefix)
    ]
    # AccumulateGrad, where a pass reaches an input, is left out
    return [name for name in names if not name.endswith("AccumulateGrad")]


def dual_numbers_jvp():
    with fwAD.dual_level():
        return fwAD.unpack_dual(f(fwAD.make_dual(x, u))).tangent


evaluated = {
    "functional.jvp": backward_functions(
        lambda: torch.autograd.functional.jvp(f, x, u)
    ),
    "func.jvp": backward_functions(lambda: torch.func.jvp(f, (x,), (u,))),
    "forward_ad dual": backward_functions(dual_numbers_jvp),
    "functional.vjp": backward_functions(
        lambda: torch.autograd.functional.vjp(f, x, v)
    ),
}
print("backward functions evaluated:")
for route, names in evaluated.items():
    print(f"  {route}: {', '.join(names) or 'none'}")
assert evaluated["func.jvp"] == evaluated["forward_ad dual"] == [], "no reverse pass"
vjp_names = evaluated["functional.vjp"]
assert evaluated["functional.jvp"][: len(vjp_names)] == vjp_names, "a VJP first"
second_pass = evaluated["functional.jvp"][len(vjp_names) :]
assert sorted(second_pass) == ["MvBackward0", "TanhBackwardBackward0"], second_pass

# %%
# Arithmetic, counted
# -------------------
#
# "A small multiple of one evaluation", in FLOPs (two per multiply-add):
# ``FlopCounterMode`` counts those of
# matrix-matrix products, not of elementwise operations such as
# :math:`\tanh` or of matrix-vector products, so the cell evaluates
# :math:`f` on a batch of :math:`k = 8` inputs at once,
# :math:`\tanh(X W^\top)` with :math:`X \in \mathbb{R}^{k \times n}`: one
# matrix product of :math:`2kmn` FLOPs. A VJP, forward pass included, adds
# one product in the backward pass (for :math:`X`; the constant :math:`W`
# needs no gradient): twice :math:`f`'s FLOPs. A JVP adds two, the two
# terms of a product's tangent, :math:`\dot X W^\top + X \dot W^\top`, the
# second with the zero tangent of the constant :math:`W`, which PyTorch's
# forward mode multiplies out rather than skip (as
# :ref:`sphx_glr_auto_examples_under_the_hood_plot_02_memory_what_reverse_mode_keeps.py`
# shows): three times.

k = 8
# a generator of its own, which leaves the page's later draws as they were
batch_generator = torch.Generator().manual_seed(1)
X = torch.randn(k, n, generator=batch_generator, dtype=torch.float64)
X_tangent = torch.randn(k, n, generator=batch_generator, dtype=torch.float64)
X_cotangent = torch.randn(k, m, generator=batch_generator, dtype=torch.float64)


def f_batch(X):
    return torch.tanh(X @ W.T)


def batch_dual_jvp():
    with fwAD.dual_level():
        return fwAD.unpack_dual(f_batch(fwAD.make_dual(X, X_tangent))).tangent


def flops(route):
    with FlopCounterMode(display=False) as counter:
        route()
    return counter.get_total_flops()


f_flops = flops(lambda: f_batch(X))
route_flops = {
    "func.vjp": flops(lambda: torch.func.vjp(f_batch, X)[1](X_cotangent)),
    "func.jvp": flops(lambda: torch.func.jvp(f_batch, (X,), (X_tangent,))),
    "forward_ad dual": flops(batch_dual_jvp),
}
print(f"f on {k} inputs: {f_flops} FLOPs; in multiples of that:")
for route, count in route_flops.items():
    print(f"  {route}: {count / f_flops:g}")
# Exact: FLOP counts are integers fixed by the shapes.
assert f_flops == 2 * k * m * n
assert route_flops == {
    "func.vjp": 2 * f_flops,
    "func.jvp": 3 * f_flops,
    "forward_ad dual": 3 * f_flops,
}, route_flops

# %%
# What each mode keeps
# --------------------
#
# A VJP runs backwards, after the forward pass has finished, and needs
# intermediate results of it: :math:`\tanh` keeps its output, since its
# derivative is :math:`1 - \tanh^2`. For a stack of :math:`L` layers
# :math:`h \mapsto \tanh(W_s h)`, differentiated with respect to its input
# :math:`x` only, reverse mode keeps every layer's output, the last one
# (the result) included: :math:`8nL` bytes in float64. Were :math:`W_s`
# trainable too, each product would also keep its input :math:`h` for
# :math:`W_s`'s gradient; but that input is :math:`x` or the previous
# layer's output, kept already, so the bytes stay the same (checked below).
# A JVP runs alongside the forward pass and each layer's tangent is used up
# by the next, so forward mode keeps nothing for later: what it holds at any
# time does not grow with the depth.
#
# The measure: :class:`torch.profiler.profile` with ``profile_memory=True``
# records every allocation and release of tensor memory by torch's CPU
# allocator while it profiles, with a running total of the bytes allocated
# since profiling began (memory allocated before is not in it); its trace
# (``export_chrome_trace``) lists them as ``[memory]`` events. That total,
# less its value before the first event, is what the block has allocated:
# its last value is what is still held when the forward pass returns (what
# the graph keeps, and the result), its largest the peak while it runs.
# Tensors made before, such as :math:`x`, :math:`u` and :math:`W_s`, are
# not counted.
# :ref:`sphx_glr_auto_examples_under_the_hood_plot_02_memory_what_reverse_mode_keeps.py`
# measures deeper networks and both passes.

W_square = torch.randn(n, n, generator=generator, dtype=torch.float64) / n**0.5


def tensor_memory(run):
    """run()'s result, and the bytes it allocated: held at the end, the peak, and the
    largest single allocation."""
    with torch.profiler.profile(profile_memory=True) as profiled:
        result = run()
    with tempfile.TemporaryDirectory() as folder:
        trace = os.path.join(folder, "trace.json")
        profiled.export_chrome_trace(trace)
        with open(trace) as file:
            events = json.load(file)["traceEvents"]
    memory = [event["args"] for event in events if event["name"] == "[memory]"]
    before = memory[0]["Total Allocated"] - memory[0]["Bytes"]
    totals = [event["Total Allocated"] - before for event in memory]
    largest = max(event["Bytes"] for event in memory)
    return result, {
        "held": totals[-1],
        "peak": max(totals),
        "largest": largest,
        # how many times an allocation of that size is made, and released
        "largest made": sum(event["Bytes"] == largest for event in memory),
        "largest freed": sum(event["Bytes"] == -largest for event in memory),
    }


def layer_stack(h, depth, weight=W_square):
    for _ in range(depth):
        h = torch.tanh(weight @ h)
    return h


def stack_jvp(depth):
    with fwAD.dual_level():
        return fwAD.unpack_dual(layer_stack(fwAD.make_dual(x, u), depth)).tangent


depths = (1, 2, 4, 8)
forward_peaks, forward_largest = [], set()
print("bytes   reverse mode, held after the forward pass   forward mode")
print("depth   W_s fixed     W_s trainable                 peak   held at the end")
for depth in depths:
    x_leaf = x.clone().requires_grad_()
    trainable_weight = W_square.clone().requires_grad_()
    # the results, and the graphs behind them, stay alive until the next depth
    result, reverse = tensor_memory(lambda: layer_stack(x_leaf, depth))
    result_trainable, reverse_trainable = tensor_memory(
        lambda: layer_stack(x_leaf, depth, trainable_weight)
    )
    tangent, forward = tensor_memory(lambda: stack_jvp(depth))
    forward_peaks.append(forward["peak"])
    forward_largest.add(forward["largest"])
    print(
        f"{depth:>5}   {reverse['held']:>9}     {reverse_trainable['held']:>13}"
        f"                {forward['peak']:>5}   {forward['held']:>15}"
    )
    # Exact byte counts of the tensors allocated.
    assert reverse["held"] == reverse_trainable["held"] == 8 * n * depth, (
        "every layer's output"
    )
    assert forward["held"] == 8 * n, "forward mode keeps only the tangent it returns"
    assert forward["largest"] == 8 * n * n, "an n x n matrix"
    assert forward["largest made"] == forward["largest freed"] == depth, "per layer"
# From depth 2 on, each layer frees the previous layer's values as it makes
# its own (at depth 1, the layer's inputs x and u were made before the block).
assert len(set(forward_peaks[1:])) == 1, "forward mode's peak does not grow with depth"
print(
    f"forward mode's largest single allocation: {max(forward_largest)} bytes,"
    " made and freed once per layer"
)

# %%
# Here most of forward mode's peak is one allocation of :math:`8n^2` bytes
# (printed above), an :math:`n \times n` matrix: the zero tangent of the
# constant :math:`W_s`, written out for its product with :math:`h` in the
# tangent :math:`\dot W_s h + W_s \dot h` (the next section counts such a
# product in ``jacfwd``). It is made and freed in each layer (counted
# above), so it too stays the same at every depth.

# %%
# .. _jacfwd-or-jacrev:
#
# Full Jacobians: columns or rows
# -------------------------------
#
# :func:`torch.func.jacfwd` stacks :math:`n` JVPs, :func:`torch.func.jacrev`
# stacks :math:`m` VJPs (both vectorised with ``vmap``). Same numbers:

# Each entry is (1 - tanh(W x)_i^2) W_ij by a few roundings of numbers below 1 (the
# products with one-hot vectors add exact zeros): error ~1e-16, far below 1e-12.
torch.testing.assert_close(torch.func.jacfwd(f)(x), J, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(torch.func.jacrev(f)(x), J, rtol=1e-12, atol=1e-12)
print("jacfwd and jacrev both equal the hand-derived J:", tuple(J.shape))

# %%
# The products each one runs, counted by ``FlopCounterMode`` per ATen
# operation and divided by :math:`2mn`, the FLOPs of one product with
# :math:`W`. By default it counts matrix-matrix products (``mm`` and its
# kin), convolutions and attention kernels, not matrix-vector products;
# its ``custom_mapping`` argument makes it count those (``mv``) too, at
# :math:`2mn` FLOPs for an :math:`m \times n` matrix.
# Besides the forward pass's :math:`Wx` (one ``mv``), ``jacrev`` runs one
# ``mm``, the :math:`m` basis cotangents times :math:`W`: :math:`m`
# products. ``jacfwd`` runs one ``mm`` too, :math:`W` times the :math:`n`
# basis tangents, :math:`n` products, and one more ``mv``: the term
# :math:`\dot W x` of the product's tangent, where :math:`\dot W` is the
# zero tangent forward mode gives the constant :math:`W`. The profiler's
# events show it made, with :math:`W`'s shape
# (``aten::_efficientzerotensor``, a tensor of zeros that stores none), and
# multiplied: an ``aten::mv`` on an :math:`m \times n` operand, inside
# which torch writes the zero out as one stored zero expanded to that shape
# (``aten::zeros`` and ``aten::expand``); it is the same for every column,
# so its product runs once. In all,
# ``jacfwd`` runs :math:`n + 1` products with an :math:`m \times n` matrix
# besides :math:`Wx`, ``jacrev`` :math:`m`.


def mv_flops(matrix_shape, vector_shape, *args, **kwargs):
    return 2 * matrix_shape[0] * matrix_shape[1]


def products_with_W(run):
    """The products with an m x n matrix that run() runs, per ATen operation."""
    counter = FlopCounterMode(
        display=False, custom_mapping={torch.ops.aten.mv: mv_flops}
    )
    with counter:
        run()
    flops = counter.get_flop_counts()["Global"]
    return {
        str(op).removeprefix("aten."): count / (2 * m * n)
        for op, count in flops.items()
    }


def zero_tangents_of_W(run):
    """How many zero tangents of W's shape run() makes, and how many products
    with an m x n matrix it runs on one, expanded from a stored zero."""
    with torch.profiler.profile(record_shapes=True) as profiled:
        run()
    events = profiled.events()
    made = sum(
        event.name == "aten::_efficientzerotensor"
        and event.concrete_inputs[0] == [m, n]
        for event in events
    )
    multiplied = sum(
        event.name == "aten::mv"
        and event.input_shapes[0] == [m, n]
        and {"aten::zeros", "aten::expand"} <= {c.name for c in event.cpu_children}
        for event in events
    )
    return made, multiplied


listed, zero_tangents = {}, {}
for name, transform in (("jacfwd", torch.func.jacfwd), ("jacrev", torch.func.jacrev)):
    listed[name] = products_with_W(lambda: transform(f)(x))
    zero_tangents[name] = zero_tangents_of_W(lambda: transform(f)(x))
    counted = ", ".join(f"{op} {count:g}" for op, count in listed[name].items())
    made, multiplied = zero_tangents[name]
    print(f"{name}: products {counted};")
    print(f"  zero tangents of W's shape: {made} made, {multiplied} multiplied")
# Exact: FLOP counts are integers fixed by the shapes, FLOPs / 2mn an exact quotient.
assert listed["jacfwd"]["mm"] == n and listed["jacrev"]["mm"] == m, listed
assert listed["jacrev"]["mv"] == 1, "W x"
# jacfwd's one mv more is the product with W's zero tangent, which jacrev does not make.
assert listed["jacfwd"]["mv"] - listed["jacrev"]["mv"] == 1
assert zero_tangents["jacfwd"][0] >= 1 and zero_tangents["jacfwd"][1] == 1
assert zero_tangents["jacrev"] == (0, 0), zero_tangents

# %%
# Counted and measured: tall against wide
# ---------------------------------------
#
# The short side of the Jacobian stays at 16, the long side grows to 4096.
#
# **Counted.** With ``vmap``, the products of one full Jacobian run as one
# matrix product: :math:`W` times the stack of basis tangents
# (``jacfwd``, one column per JVP) or the stack of basis cotangents times
# :math:`W` (``jacrev``, one row per VJP). Each single product with :math:`W`
# costs :math:`2mn` FLOPs, so the FLOPs that
# ``FlopCounterMode`` counts, divided by
# :math:`2mn`, give the number of products in it. (Without a
# ``custom_mapping`` it counts matrix-matrix products, convolutions and
# attention kernels, not matrix-vector products: it leaves out the forward
# pass's :math:`Wx` in both and, in ``jacfwd``, the product with
# :math:`W`'s zero tangent counted above, one evaluation's worth each.) The
# count is the same on every machine, and the page asserts it: 16 products
# for the mode that fits the shape, 4096 for the other, a ratio of 256.
#
# **Measured.** Median times with :class:`torch.utils.benchmark.Timer`, after
# the counted call as a warm-up, the same input for both methods, in one
# thread (``num_threads=1``, ``Timer``'s default, passed to say so), on the
# machine that built this page. The time ratio is not the product ratio:
# fixed per-call costs weigh on the cheap side, and the expensive side also
# builds and processes a :math:`4096 \times 4096` basis. The sizes stop at
# 4096 so that the page runs in a few seconds on a 2-core CPU.


def count_and_time(jacobian_fn, x, W):
    counter = FlopCounterMode(display=False)
    with counter:
        jacobian_fn(x)  # counted, and the warm-up
    products = counter.get_total_flops() / (2 * W.numel())
    timer = benchmark.Timer(
        stmt="jacobian_fn(x)",
        globals={"jacobian_fn": jacobian_fn, "x": x},
        num_threads=1,
    )
    return products, timer.blocked_autorange(min_run_time=0.04).median * 1e3


short = 16
long_sides = [64, 256, 1024, 4096]
times = {shape: {"jacfwd": [], "jacrev": []} for shape in ("tall", "wide")}
products = {shape: {"jacfwd": [], "jacrev": []} for shape in ("tall", "wide")}
for long in long_sides:
    for shape, (rows, cols) in {"tall": (long, short), "wide": (short, long)}.items():
        W_shape = (
            torch.randn(rows, cols, generator=generator, dtype=torch.float64)
            / cols**0.5
        )
        x_shape = torch.randn(cols, generator=generator, dtype=torch.float64)

        def layer(x, W=W_shape):
            return torch.tanh(W @ x)

        for name, transform in {
            "jacfwd": torch.func.jacfwd,
            "jacrev": torch.func.jacrev,
        }.items():
            count, ms = count_and_time(transform(layer), x_shape, W_shape)
            products[shape][name].append(count)
            times[shape][name].append(ms)

# The claim of the maths, counted: jacfwd's matrix product holds n products (one per
# column), jacrev's m (one per row), so the mode that fits the shape runs 16, the
# other the long side (the uncounted mv calls are the ones listed above).
for i, long in enumerate(long_sides):
    # Exact: FLOP counts are integers fixed by the shapes, and FLOPs / 2mn an exact
    # quotient.
    assert (products["tall"]["jacfwd"][i], products["tall"]["jacrev"][i]) == (
        short,
        long,
    ), products["tall"]
    assert (products["wide"]["jacfwd"][i], products["wide"]["jacrev"][i]) == (
        long,
        short,
    ), products["wide"]
for shape, fitting, other in (
    ("tall", "jacfwd", "jacrev"),
    ("wide", "jacrev", "jacfwd"),
):
    size = "4096 x 16" if shape == "tall" else "16 x 4096"
    fit_count, other_count = products[shape][fitting][-1], products[shape][other][-1]
    print(
        f"{shape} ({size}): products counted:"
        f" {fitting} {fit_count:.0f}, {other} {other_count:.0f}"
    )
    fit_ms, other_ms = times[shape][fitting][-1], times[shape][other][-1]
    speed = (
        f"{other_ms / fit_ms:.1f}x faster"
        if fit_ms <= other_ms
        else f"{fit_ms / other_ms:.1f}x slower"
    )
    print(
        f"    measured: {fitting} {fit_ms:.3f} ms, {other} {other_ms:.3f} ms"
        f" -> {fitting} {speed}"
    )

# %%
# The picture
# -----------
#
# The measured times; the counts behind them are 16 against the long side
# at every size, asserted above.

fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6), layout="constrained", sharey=True)
for ax, shape in zip(axes, ("tall", "wide")):
    for name, style in (("jacfwd", "o-"), ("jacrev", "s--")):
        ax.loglog(long_sides, times[shape][name], style, label=name)
    label = "outputs $m$ ($n = 16$)" if shape == "tall" else "inputs $n$ ($m = 16$)"
    ax.set_xlabel(label)
    ax.set_title(f"{shape} Jacobian")
axes[0].set_ylabel("median time (ms), measured")
axes[0].legend()
plt.show()

# %%
# What to remember
# ----------------
#
# * JVP: input-shaped in, output-shaped out; VJP: the reverse. They are
#   adjoint: :math:`\langle v, Ju \rangle = \langle J^\top v, u\rangle`.
# * A full Jacobian costs :math:`\min(n, m)` products (here plus the forward
#   pass, and for ``jacfwd`` one with :math:`W`'s zero tangent) if you pick
#   the mode by its shape: ``jacfwd`` for tall, ``jacrev`` for wide
#   (gradients of a loss are the extreme wide case). Counted here: 16
#   products against 4096, on any machine; what that is worth in time, the
#   build machine's figures above show.
# * In arithmetic both cost a small multiple of one evaluation (here 2 and
#   3 times its matrix-product FLOPs); in memory they differ: reverse mode
#   keeps intermediate results for its backward pass (here every layer's
#   output, :math:`8nL` bytes, whether or not :math:`W_s` is trainable),
#   growing with depth; forward mode keeps none for later, and its peak
#   stays flat.
# * :func:`torch.autograd.functional.jvp` is reverse mode in disguise (two
#   reverse passes, the second through the first's backward functions, as
#   the profiler shows); for true forward mode use :func:`torch.func.jvp` or
#   ``forward_ad``.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`.
# Reference: :func:`torch.func.jvp`, :func:`torch.autograd.functional.jvp`,
# :func:`torch.autograd.forward_ad.make_dual`, :func:`torch.func.jacfwd`,
# :func:`torch.func.jacrev`, ``torch.utils.flop_counter.FlopCounterMode``,
# :class:`torch.profiler.profile`.
