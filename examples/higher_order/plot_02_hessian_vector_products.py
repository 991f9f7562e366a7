r"""
Hessian-vector products without the Hessian
===========================================

For a scalar function of :math:`n` variables, the Hessian has :math:`n^2`
entries, but the product :math:`Hv` costs only a few gradient evaluations:
it is the JVP (or VJP) of the gradient. This page computes :math:`Hv` five
ways, checks them against the full Hessian and a hand-derived one, counts
the forward passes, backward functions and matrix products each runs, and
times them as :math:`n` grows.
"""

# %%
# The maths
# ---------
#
# .. math::
#
#    f(x) = \tfrac12 x^\top A x + \sum_{i=1}^{n} \cos x_i, \qquad
#    A = A^\top \in \mathbb{R}^{n \times n},
#
#    \nabla f(x) = A x - \sin x, \qquad
#    H(x) = A - \operatorname{diag}(\cos x) \in \mathbb{R}^{n \times n}.
#
# The gradient :math:`g = \nabla f : \mathbb{R}^n \to \mathbb{R}^n` has
# Jacobian :math:`H`, so
#
# .. math::
#
#    H v = \text{JVP of } g \text{ with } v, \qquad
#    v^\top H = \text{VJP of } g \text{ with } v,
#
# equal because :math:`H` is symmetric, as the Hessian of every twice
# continuously differentiable function is (this one included:
# :math:`A` is symmetric). Each costs one gradient evaluation plus a constant
# number of further passes over it, each pass :math:`O(n^2)` for this
# :math:`f` (one product with :math:`A`, or a few); the full Hessian needs
# :math:`n` such passes.

# %%
# Five ways to compute :math:`Hv`
# -------------------------------

import statistics
import time

import matplotlib.pyplot as plt
import torch
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

generator = torch.Generator().manual_seed(0)


def make_problem(n):
    B = torch.randn(n, n, generator=generator, dtype=torch.float64) / n**0.5
    A = (B + B.T) / 2
    x = torch.randn(n, generator=generator, dtype=torch.float64)
    v = torch.randn(n, generator=generator, dtype=torch.float64)
    return A, x, v


n = 200
A, x, v = make_problem(n)


def f(x, A=A):
    return 0.5 * x @ A @ x + torch.cos(x).sum()


def hvp_functional(f, x, v):
    return torch.autograd.functional.hvp(f, x, v)[1]


def vhp_functional(f, x, v):
    return torch.autograd.functional.vhp(f, x, v)[1]


def double_backward(f, x, v):
    x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    (hv,) = torch.autograd.grad(g, x, grad_outputs=v)
    return hv


def forward_over_reverse(f, x, v):
    return torch.func.jvp(torch.func.grad(f), (x,), (v,))[1]


def reverse_over_reverse(f, x, v):
    _, vjp_fn = torch.func.vjp(torch.func.grad(f), x)
    return vjp_fn(v)[0]


methods = {
    "functional.hvp": hvp_functional,
    "functional.vhp": vhp_functional,
    "double backward": double_backward,
    "func: jvp of grad": forward_over_reverse,
    "func: vjp of grad": reverse_over_reverse,
}

hessian = torch.autograd.functional.hessian(f, x)
expected_hessian = A - torch.diag(torch.cos(x))
# Entry by entry a few roundings of numbers below 1.3 (A is exactly symmetric, and
# the products with one-hot vectors behind autograd's entries add exact zeros):
# ~1e-16, far below 1e-12.
torch.testing.assert_close(hessian, expected_hessian, rtol=1e-12, atol=1e-12)
print("full Hessian:", tuple(hessian.shape), " equals A - diag(cos x)")

results = {name: method(f, x, v) for name, method in methods.items()}
for name, result in results.items():
    print(f"{name:<20} Hv: {tuple(result.shape)}")

# %%
# The checks
# ----------
#
# Each :math:`Hv` against the hand-derived :math:`Av - (\cos x) \odot v`,
# and against the full Hessian times :math:`v`.

# sphinx_gallery_break = ("-", "+")
expected = A @ v - torch.cos(x) * v
for name, result in results.items():
    error = (result - expected).abs().max().item()
    print(f"{name:<20} max |Hv - expected| = {error:.1e}")
    # Each side sums n = 200 products, whose sizes (plus |cos x_i v_i|) add to at
    # most 8.8: they differ by under n eps 8.8 = 200 * 2.2e-16 * 8.8 = 4e-13, within
    # atol 1e-12.
    torch.testing.assert_close(result, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(result, hessian @ v, rtol=1e-10, atol=1e-12)

# %%
# ``create_graph``: why double backward needs it
# ----------------------------------------------
#
# Without ``create_graph=True`` the first ``grad`` returns a gradient with no
# graph behind it, and the second call fails. The message:

x_leaf = x.clone().requires_grad_()
(g_no_graph,) = torch.autograd.grad(f(x_leaf), x_leaf)
try:
    torch.autograd.grad(g_no_graph, x_leaf, grad_outputs=v)
except RuntimeError as error:
    message = str(error)
    print("RuntimeError:", message.splitlines()[0])
assert "does not require grad" in message

# %%
# .. _hvp-routes-counted:
#
# What each route runs, counted
# -----------------------------
#
# Four counts per route, the same on every machine:
#
# * **forward passes**: calls of :math:`f`, counted by a wrapper;
# * **backward functions**: the backward functions autograd's engine
#   evaluates, each recorded as an ``autograd::engine::evaluate_function:``
#   event by :class:`torch.profiler.profile` (``AccumulateGrad``, where a
#   pass reaches :math:`x`, left out): those of :math:`f`'s operations in a
#   pass through :math:`f`'s graph, those of the gradient's operations in a
#   pass through the gradient's;
# * **products with an** :math:`n \times n` **matrix**: the FLOPs that
#   ``FlopCounterMode`` counts (it counts
#   matrix-matrix products; here each is a :math:`1 \times n` row times an
#   :math:`n \times n` matrix, :math:`A` or a matrix of zeros, next item),
#   divided by :math:`2n^2`, the FLOPs of one such product;
# * **of which with broadcast zeros**: products whose :math:`n \times n`
#   operand is one stored zero seen through stride 0, the way torch's
#   fallback hands a ``ZeroTensor`` (a zero that stores nothing) to an
#   operation with no kernel for it, such as ``mm``: as
#   ``zeros({}).expand(sizes)``
#   (`aten/src/ATen/ZeroTensorFallback.cpp
#   <https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/ZeroTensorFallback.cpp>`__).
#   The profiler records that ``aten::zeros`` and ``aten::expand`` inside the
#   ``aten::mm`` event; the cell counts the ``aten::mm`` events that hold
#   both.
#
# How many backward passes each route starts (calls of
# :func:`torch.autograd.grad`, which :mod:`torch.autograd.functional` and
# :mod:`torch.func` call too) is counted by the site's tests: three for
# ``functional.hvp``, two for ``functional.vhp``, double backward and
# ``vjp`` of ``grad``, one for ``jvp`` of ``grad``.


def products_with_broadcast_zeros(events):
    """The aten::mm events in which a stored zero is expanded to a matrix."""
    return [
        event
        for event in events
        if event.name == "aten::mm"
        and {"aten::zeros", "aten::expand"} <= {c.name for c in event.cpu_children}
    ]


forward_passes = 0


def counting_calls(f):
    def f_counted(x):
        global forward_passes
        forward_passes += 1
        return f(x)

    return f_counted


def count(method, f, x, v):
    """Forward passes, backward functions (their names), products with the n x n
    matrix, and those with broadcast zeros, for one call."""
    global forward_passes
    forward_passes = 0
    flops = FlopCounterMode(display=False)
    with flops, torch.profiler.profile() as profiled:
        method(counting_calls(f), x, v)
    products = flops.get_total_flops() / (2 * x.numel() ** 2)
    events = profiled.events()
    prefix = "autograd::engine::evaluate_function: "
    backward = sorted(
        e.name.removeprefix(prefix)
        for e in events
        if e.name.startswith(prefix) and not e.name.endswith("AccumulateGrad")
    )
    return (
        forward_passes,
        backward,
        products,
        len(products_with_broadcast_zeros(events)),
    )


counts = {name: count(method, f, x, v) for name, method in methods.items()}
header = f"{f'n = {n}':<22}{'forward':>8}{'backward':>10}{'products':>13}"
print(f"{header}{'with broadcast':>16}")
print(f"{'passes':>30}{'functions':>10}{'with n x n':>13}{'zeros':>16}")
for name, (forward, backward, products, broadcast) in counts.items():
    print(
        f"  {name:<20}{forward:>8}{len(backward):>10}{products:>13.0f}{broadcast:>16}"
    )

# Exact integers, the same on every machine: calls of f, events, and FLOPs / 2n^2 an
# exact quotient. How many backward functions a pass evaluates depends on how the
# installed torch records f's operations: those are compared, not pinned.
forward, backward, products, broadcast = (
    dict(zip(counts, column)) for column in zip(*counts.values())
)
reverse_over_reverse = ["functional.vhp", "double backward", "func: vjp of grad"]
assert set(forward.values()) == {1}, forward
# one product in the forward pass, one in the gradient, two through the gradient
assert {products[name] for name in reverse_over_reverse} == {4}, products
# the same backward functions, by name and number
assert len({tuple(backward[name]) for name in reverse_over_reverse}) == 1, backward
assert len(backward["functional.hvp"]) > len(backward["functional.vhp"]), "a third pass"
assert products["functional.hvp"] > products["functional.vhp"], "a third pass"
assert 0 < len(backward["func: jvp of grad"]) < len(backward["functional.vhp"]), "one"
# jvp of grad's are those of one gradient pass through f's graph
gradient_alone = count(lambda f, x, v: torch.func.grad(f)(x), f, x, v)[1]
assert backward["func: jvp of grad"] == gradient_alone, gradient_alone
# functional.hvp's docstring, which the text below quotes
hvp_note = " ".join(torch.autograd.functional.hvp.__doc__.split())
assert "significantly slower than `vhp`" in hvp_note, hvp_note
assert "twice continuously differentiable" in hvp_note, hvp_note
assert "you should use vhp instead" in hvp_note, hvp_note
assert broadcast["func: jvp of grad"] > 0, "products with zero tangents"
assert not any(broadcast[name] for name in methods if name != "func: jvp of grad")
# Without its products with broadcast zeros, jvp of grad runs exactly the products
# of vjp of grad.
assert (
    products["func: jvp of grad"] - broadcast["func: jvp of grad"]
    == products["func: vjp of grad"]
)

# %%
# What the counts say:
#
# * **functional.vhp, double backward, vjp of grad** do the same work, and
#   evaluate the same backward functions: one forward pass (one product with
#   :math:`A`), one backward pass for the gradient, recorded so that it can
#   be differentiated (one more), and one backward pass through that
#   gradient with :math:`v` (two more: :math:`x` meets :math:`A` twice in
#   :math:`x^\top A x`). They compute :math:`v^\top H`, which is
#   :math:`Hv` because :math:`H` is symmetric.
# * **functional.hvp** computes :math:`Hv` itself, with the "double-backward
#   trick": its second backward pass takes a dummy vector :math:`u` (zeros
#   that require grad) instead of :math:`v` and builds the graph of
#   :math:`u^\top H`, and a third backward pass differentiates that with
#   respect to :math:`u`, in direction :math:`v`, which gives :math:`Hv`. The
#   third pass costs two more products, and more backward functions. Its
#   docstring calls it significantly
#   slower than :func:`~torch.autograd.functional.vhp`, and recommends
#   ``vhp`` for twice continuously differentiable functions (the cell above
#   reads both in the docstring).
# * **jvp of grad** (forward-over-reverse) runs one forward and one backward
#   pass (the fewest backward functions: only those of :math:`f`'s
#   operations, the same as :func:`torch.func.grad` alone, checked above),
#   carrying a tangent through every operation of both: the two
#   products of the gradient, two for their tangents, and two more that
#   multiply by an :math:`n \times n` matrix of zeros: the tangent of the
#   constant :math:`A`, which has none of its own, so forward mode uses a
#   ``ZeroTensor`` of its shape, materialised as a broadcast view (stride 0).
#   Without those two it runs the four products of the routes above.
#
# So, for one :math:`Hv` and counted in FLOPs of products with
# :math:`n \times n` matrices, the reverse-over-reverse routes (``vhp``,
# double backward, ``vjp`` of ``grad``) do the least; forward-over-reverse
# counts the same plus two products with zeros, a third of its counted
# FLOPs. A count of FLOPs is not a time: how long those two products take,
# and their share of ``jvp`` of ``grad``'s time, are measured below on the
# machine that built this page (most of it on the CPU this page was written
# on; shown, not asserted).
# :ref:`The full-Hessian page <sphx_glr_auto_examples_higher_order_plot_04_full_and_batched_hessians.py>`
# agrees: a Hessian is :math:`n` of these products sharing one gradient, the
# two zero-tangent products come once per point (a third of one
# :math:`Hv`'s six, two of a Hessian's :math:`2n + 4` there),
# reverse-over-reverse also peaks lower in memory there, and so
# :func:`torch.func.hessian`'s forward-over-reverse default is left to a
# timing.

# %%
# Cost as :math:`n` grows
# -----------------------
#
# Median times (:class:`torch.utils.benchmark.Timer`, after a counted call as
# the warm-up) for one :math:`Hv` by each method, and for the route through
# the full Hessian (build :math:`H`, then multiply). All start from the same
# ``f``, ``x`` and ``v``, and all run in one thread (``num_threads=1``,
# ``Timer``'s default, passed to say so; so do the timings after this
# cell). Figures from the machine that built this page; the
# full Hessian is timed up to :math:`n = 1000` only, to keep the page within
# a few seconds. The products with :math:`n \times n` matrices are counted
# in the warm-up call, as above (``H @ v`` at the end of the full-Hessian
# route is a matrix-vector product, which FlopCounterMode does not count).


def through_full_hessian(f, x, v):
    return torch.autograd.functional.hessian(f, x, vectorize=True) @ v


sizes = [10, 100, 1000, 3000]
full_sizes = [10, 100, 1000]
median_ms = {name: [] for name in [*methods, "full Hessian, then H @ v"]}
products = {name: [] for name in median_ms}
for size in sizes:
    A_n, x_n, v_n = make_problem(size)

    def f_n(x, A=A_n):
        return 0.5 * x @ A @ x + torch.cos(x).sum()

    timed = dict(methods)
    if size in full_sizes:
        timed["full Hessian, then H @ v"] = through_full_hessian
    for name, method in timed.items():
        flops = FlopCounterMode(display=False)
        with flops:
            method(f_n, x_n, v_n)  # counted, and the warm-up
        products[name].append(flops.get_total_flops() / (2 * size**2))
        timer = benchmark.Timer(
            stmt="method(f, x, v)",
            globals={"method": method, "f": f_n, "x": x_n, "v": v_n},
            num_threads=1,
        )
        median_ms[name].append(timer.blocked_autorange(min_run_time=0.04).median * 1e3)

# Counted at every n: each Hv route runs the same number of products as at
# n = 200; the full Hessian runs 2n + 2, n products Hv sharing one gradient
# (counted nesting by nesting on the full-Hessian page).
for name in methods:
    # Exact: FLOP counts are integers fixed by the shapes, and FLOPs / 2n^2 an exact
    # quotient.
    assert products[name] == [counts[name][2]] * len(sizes), (name, products[name])
# Exact too: integer FLOP counts over 2n^2.
full_hessian_products = [2 * size + 2 for size in full_sizes]
assert products["full Hessian, then H @ v"] == full_hessian_products, products

print(
    f"n = {sizes[-1]}: median time of one Hv, measured;"
    " products with an n x n matrix, counted"
)
for name in methods:
    print(f"  {name:<20} {median_ms[name][-1]:8.3f} ms   {products[name][-1]:.0f}")
full_ms = median_ms["full Hessian, then H @ v"][-1]
full_products = products["full Hessian, then H @ v"][-1]
one_hv_ms = median_ms["double backward"][sizes.index(full_sizes[-1])]
full_label = f"n = {full_sizes[-1]}: full Hessian then H @ v"
print(f"{full_label} {full_ms:9.2f} ms ({full_products:.0f} products)")
print(f"{'one Hv by double backward':>{len(full_label)}} {one_hv_ms:9.3f} ms")

# %%
# One product with the broadcast zero matrix, next to one with :math:`A`, at
# :math:`n = 3000`, timed alone on the same machine:

row = x_n[None, :]  # (1, n), the shape of the products above
broadcast_zeros = torch.zeros((), dtype=torch.float64).expand(sizes[-1], sizes[-1])
assert 0 in broadcast_zeros.stride() and not broadcast_zeros.any()
product_ms = {}
for name, matrix in {
    "with A": A_n,
    "with the broadcast zeros": broadcast_zeros,
}.items():
    row.mm(matrix)  # warm-up
    timer = benchmark.Timer(
        stmt="row.mm(matrix)", globals={"row": row, "matrix": matrix}, num_threads=1
    )
    product_ms[name] = timer.blocked_autorange(min_run_time=0.04).median * 1e3
ratio = product_ms["with the broadcast zeros"] / product_ms["with A"]
speed = f"{ratio:.1f}x slower" if ratio >= 1 else f"{1 / ratio:.1f}x faster"
zeros_ms = product_ms["with the broadcast zeros"]
print(
    f"one product with A: {product_ms['with A']:.2f} ms;"
    f" with the broadcast zeros: {zeros_ms:.2f} ms ({speed})"
)

# %%
# And inside ``jvp`` of ``grad`` itself: the profiler's events give the
# time spent in its ``aten::mm`` calls with broadcast zeros (each event's
# ``cpu_time_total``), and the cell prints their share of the whole call's
# time, the median of three calls at :math:`n = 3000`, on the machine that
# built this page, with torch set to one thread like the timings above (the
# profiler adds its own overhead to the call, the products included). It
# also lists the operations the profiler records inside one of those
# products, with the shapes of their inputs.

shares = []
threads = torch.get_num_threads()
torch.set_num_threads(1)  # as Timer ran the statements above
try:
    for _ in range(3):
        with torch.profiler.profile(record_shapes=True) as profiled:
            start = time.perf_counter()
            forward_over_reverse(f_n, x_n, v_n)
            elapsed = time.perf_counter() - start
        zero_products = products_with_broadcast_zeros(profiled.events())
        # Exact integers: the broadcast zero products counted above.
        assert len(zero_products) == counts["func: jvp of grad"][3]
        shares.append(sum(e.cpu_time_total for e in zero_products) / 1e6 / elapsed)
finally:
    torch.set_num_threads(threads)
share = statistics.median(shares)
print(
    f"jvp of grad at n = {sizes[-1]}: its two products with the broadcast zeros"
    f" took {share * 100:.0f} %"
)
print(f"  of its time, median of {len(shares)} calls")


def within(event):
    """The events recorded inside EVENT, at any depth."""
    for child in event.cpu_children:
        yield child
        yield from within(child)


inside = [child.name for child in zero_products[0].cpu_children]
print("inside one of them:")
print("  " + ", ".join(inside[:3]))
if inside[3:]:
    print("  " + ", ".join(inside[3:]))
clones = [event for event in within(zero_products[0]) if event.name == "aten::clone"]
print("  the clone's input:", clones[0].input_shapes[0])
assert [clone.input_shapes[0] for clone in clones] == [[sizes[-1], sizes[-1]]], inside

# %%
# Besides the ``aten::zeros`` and ``aten::expand`` that make the broadcast
# operand, the list holds an ``aten::clone`` of an :math:`n \times n` input:
# the stored zero is copied out to all :math:`n^2` entries before the
# product runs.

# %%
# The picture
# -----------
#
# Top, the times measured on the machine that built this page; bottom, the
# products with an :math:`n \times n` matrix, counted. For large :math:`n`
# these products are most of the work of every route (each goes through all
# :math:`n^2` entries of a matrix), so the counts are a guide to the times,
# not a prediction: by them the three routes with four products would take
# similar times and functional.hvp, with six, half as long again. The times
# follow that only roughly: each route also has its own per-call overhead
# and elementwise work, which the count leaves out, and on a shared machine
# routes with the same count can differ by a third or more. jvp of grad also
# runs six, but two of them are with the broadcast zero matrix, whose cost
# the cells above measured, all in one thread, beside a product with
# :math:`A` and inside jvp of grad itself: that, not the count alone,
# decides where jvp of grad lands among the times. The full Hessian's
# :math:`2n + 2` products grow with :math:`n` and leave the count of every
# :math:`Hv` route far behind. The times are this build's measurements, and
# a busy machine scatters them; the counts are asserted.

fig, (ax_time, ax_count) = plt.subplots(
    2, 1, figsize=(7.2, 7.6), layout="constrained", sharex=True
)
for name, values in median_ms.items():
    style = "s:" if name.startswith("full") else "o-"
    ax_time.loglog(sizes[: len(values)], values, style)
    ax_count.loglog(sizes[: len(products[name])], products[name], style, label=name)
route_counts = sorted({counts[name][2] for name in methods})
for value in route_counts:
    sharing = ", ".join(name for name in methods if counts[name][2] == value)
    below = value == route_counts[0]  # the lowest line's label goes under it
    ax_count.annotate(
        f"{value:.0f}: {sharing}",
        (sizes[0], value),
        xytext=(0, -4 if below else 4),
        textcoords="offset points",
        va="top" if below else "baseline",
        fontsize=9,
    )
ax_count.set_ylim(bottom=route_counts[0] / 2)  # room for the label under it
ax_count.set_xlabel("$n$")
ax_time.set_ylabel("median time of one $Hv$ (ms)")
ax_count.set_ylabel("products with an $n \\times n$ matrix")
ax_time.set_title("measured on the build machine", fontsize=10)
ax_count.set_title("counted (FlopCounterMode FLOPs / $2n^2$)", fontsize=10)
fig.legend(
    *ax_count.get_legend_handles_labels(),
    loc="outside lower center",
    ncols=3,
    fontsize=9,
)
plt.show()

# %%
# What to remember
# ----------------
#
# * :math:`Hv` is the JVP (or VJP) of the gradient: a constant number of
#   passes (here one forward pass and one to three backward passes), never
#   :math:`n`.
# * Double backward needs ``create_graph=True`` on the first pass;
#   :mod:`torch.func` composes ``jvp``/``vjp`` with ``grad`` instead.
# * For one :math:`Hv` of a twice continuously differentiable :math:`f`
#   (:math:`v^\top H = Hv`), counted in products with :math:`A`:
#   :func:`~torch.autograd.functional.vhp`, ``vjp(grad(f))`` or double
#   backward do the least work; :func:`~torch.autograd.functional.hvp`
#   spends a third backward pass on transposing, and ``jvp(grad(f))``
#   multiplies zero tangents of constants, once per point: a third of its
#   counted FLOPs here (on the CPU this page was written on, most of its
#   time: measured above, not asserted), a fixed few products in a full
#   Hessian
#   (:ref:`sphx_glr_auto_examples_higher_order_plot_04_full_and_batched_hessians.py`).
# * Building the Hessian to multiply it once costs :math:`2n + 2` products
#   here, against four for one :math:`Hv`.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_03_complex_inputs.py`.
# Reference: :func:`torch.autograd.functional.hvp`,
# :func:`torch.autograd.functional.vhp`,
# :func:`torch.autograd.functional.hessian`, :func:`torch.func.grad`,
# :func:`torch.func.jvp`, ``torch.utils.flop_counter.FlopCounterMode``,
# :class:`torch.profiler.profile`.
