r"""
Batched Jacobians: seven methods, the work each does and its time
=================================================================

The basics built the :math:`(N, 3, 2)` batch of Jacobians of a map
:math:`\mathbb{R}^2 \to \mathbb{R}^3` with a Python loop of three
:func:`~torch.autograd.functional.vjp` calls. Six other ways compute the
same numbers; this page checks that they agree, counts the work each one
does (forward passes, ATen operator calls, bytes allocated), times them from
:math:`N = 10` to :math:`10^5` on the machine that built it, and shows what
the naive full Jacobian would cost.
"""

# %%
# The maths
# ---------
#
# :math:`f(x_n) = (a_n b_n,\; \sin(a_n + b_n^2),\; a_n^2 - 3 b_n)` for each of
# :math:`N` points, with the block-diagonal Jacobian of the basics: the full
# :math:`J \in \mathbb{R}^{N \times 3 \times N \times 2}` is zero off the
# :math:`N` diagonal blocks :math:`J_n \in \mathbb{R}^{3 \times 2}`. Every
# method below exploits that, in one of two ways:
#
# * **rows for all samples at once**: one VJP with the one-hot
#   :math:`v^{(k)}` gives row :math:`k` of every :math:`J_n`. The three VJPs
#   can run in a Python loop, or batched (``is_grads_batched``,
#   :func:`torch.func.vmap` of :func:`torch.func.vjp`). Equivalently, the
#   Jacobian of the batch sum :math:`\sum_n f(x_n) \in \mathbb{R}^3` is
#   :math:`(3, N, 2)` and holds the same rows, because summing over
#   :math:`n` adds only zeros to each block.
# * **one sample at a time, vectorised**: write :math:`f` for one point,
#   take its :math:`3 \times 2` Jacobian with :func:`torch.func.jacrev`
#   (3 VJPs) or :func:`torch.func.jacfwd` (2 JVPs), and map that over the
#   batch with :func:`torch.func.vmap`.
#
# The naive route, :func:`torch.autograd.functional.jacobian` of the batched
# :math:`f` (with ``vectorize=True``, as measured here), ignores the
# structure and builds all :math:`6N^2` entries of :math:`J`, of which
# :math:`6N` are not zero. Its default, ``vectorize=False``, runs a Python
# loop of :math:`3N` backward passes, one per output entry, where
# ``vectorize=True`` runs one batched pass (both counted below).

# %%
# The function, the seven methods
# -------------------------------

import collections
import platform

import matplotlib.pyplot as plt
import torch
from torch.utils import benchmark

forward_passes = 0  # calls of f or f_one_point, counted below


def f(x: torch.Tensor) -> torch.Tensor:
    """(N, 2) -> (N, 3)."""
    global forward_passes
    forward_passes += 1
    a, b = x[:, 0], x[:, 1]
    return torch.stack((a * b, torch.sin(a + b**2), a**2 - 3 * b), dim=1)


def f_one_point(point: torch.Tensor) -> torch.Tensor:
    """(2,) -> (3,): the same map for a single point."""
    global forward_passes
    forward_passes += 1  # under vmap, one call serves the whole batch
    a, b = point[0], point[1]
    return torch.stack((a * b, torch.sin(a + b**2), a**2 - 3 * b))


def one_hot_rows(n: int, dtype: torch.dtype) -> torch.Tensor:
    """(3, N, 3): basis[k] is the one-hot v selecting output component k."""
    basis = torch.zeros(3, n, 3, dtype=dtype)
    for k in range(3):
        basis[k, :, k] = 1.0
    return basis


def loop_of_vjps(x):
    jacobians = torch.empty(x.shape[0], 3, 2, dtype=x.dtype)
    for k in range(3):
        v = torch.zeros(x.shape[0], 3, dtype=x.dtype)
        v[:, k] = 1.0
        _, jacobians[:, k, :] = torch.autograd.functional.vjp(f, x, v=v)
    return jacobians


def grad_is_grads_batched(x):
    x = x.detach().requires_grad_()
    (rows,) = torch.autograd.grad(
        f(x), x, one_hot_rows(x.shape[0], x.dtype), is_grads_batched=True
    )
    return rows.transpose(0, 1)  # (3, N, 2) -> (N, 3, 2)


def jacobian_of_batch_sum(x):
    rows = torch.autograd.functional.jacobian(
        lambda x: f(x).sum(dim=0), x, vectorize=True
    )
    return rows.transpose(0, 1)


def vmap_of_vjp(x):
    _, vjp_fn = torch.func.vjp(f, x)
    (rows,) = torch.func.vmap(vjp_fn)(one_hot_rows(x.shape[0], x.dtype))
    return rows.transpose(0, 1)


def vmap_of_jacrev(x):
    return torch.func.vmap(torch.func.jacrev(f_one_point))(x)


def vmap_of_jacfwd(x):
    return torch.func.vmap(torch.func.jacfwd(f_one_point))(x)


def jacobian_by_hand(x):
    a, b = x[:, 0], x[:, 1]
    c = torch.cos(a + b**2)
    rows = (
        torch.stack((b, a), 1),
        # sphinx_gallery_break = ("2 * ", "")
        torch.stack((c, 2 * b * c), 1),
        torch.stack((2 * a, torch.full_like(b, -3.0)), 1),
    )
    return torch.stack(rows, dim=1)


methods = {
    "loop of 3 functional.vjp": loop_of_vjps,
    "autograd.grad, is_grads_batched": grad_is_grads_batched,
    "functional.jacobian of batch sum": jacobian_of_batch_sum,
    "vmap of func.vjp": vmap_of_vjp,
    "vmap of jacrev (one point)": vmap_of_jacrev,
    "vmap of jacfwd (one point)": vmap_of_jacfwd,
    "hand-written derivative": jacobian_by_hand,
}

# %%
# The checks
# ----------
#
# All seven agree with the Jacobians derived by hand.

generator = torch.Generator().manual_seed(0)


def points(n: int) -> torch.Tensor:
    return 2 * torch.rand(n, 2, generator=generator, dtype=torch.float64) - 1


x = points(1000)
expected = jacobian_by_hand(x)
results = {name: method(x) for name, method in methods.items()}
for name, result in results.items():
    error = (result - expected).abs().max().item()
    print(f"{name:<34} {tuple(result.shape)}  max |error| = {error:.1e}")

# Each entry is b, a, 2a, -3, or the same cos(a + b^2) times 1 or 2b, plus exact
# zeros; the methods' kernels differ, but only by a few roundings of entries at
# most 3 in magnitude: a few eps (2.2e-16). assert_close compares the two
# dictionaries method by method.
torch.testing.assert_close(
    results, {name: expected for name in methods}, rtol=1e-12, atol=1e-12
)

# %%
# .. _batched-jacobian-work-and-time:
#
# Work and time
# -------------
#
# Three measures of the work that do not depend on how long anything takes:
#
# * **forward passes**: calls of ``f`` (or of ``f_one_point``, which
#   :func:`torch.func.vmap` calls once for the whole batch), counted by the
#   functions themselves;
# * **ATen operator calls**: the ``aten::`` events that
#   :class:`torch.profiler.profile` records, the operator calls through
#   PyTorch's dispatcher: those made by the code, by autograd's backward
#   formulas and by ``vmap``'s batching rules, and those operators make
#   inside themselves (printed below for ``torch.stack``);
# * **bytes allocated**: what the same profiler records of memory with
#   ``profile_memory=True``: for each call, the bytes it allocates minus
#   those it frees, outside the calls nested in it (the event's
#   ``self_cpu_memory_usage``), summed over the calls where that is
#   positive. A result counts once, in the call that allocates it; views
#   allocate nothing; an uninitialised tensor from :func:`torch.empty` counts
#   although nothing is written to it yet (the loop of VJPs fills one). The
#   hand-written derivative shows it: the tensors it makes hold 19 numbers
#   per point, and the measure gives :math:`19 \cdot 8` bytes per point
#   (checked below).
#
# One profiled run of every method at every :math:`N` gives the counts; each
# run sits in a range of its own
# (:class:`torch.autograd.profiler.record_function`), and every event is
# traced back to its range through its ``cpu_parent``. The counts follow
# torch's derivative formulas, batching rules and kernels: another release,
# another number of threads or another :math:`N` can change them a little
# (printed below), so the page asserts how they compare, not the numbers
# themselves.
#
# Then each method is timed with :class:`torch.utils.benchmark.Timer` on the
# same input, after the runs above (the checks, and the profiled run):
# ``blocked_autorange`` sizes its blocks with a few first runs, which warm
# up too, and takes the median over repeated blocks. Every method starts
# from ``x`` and does the whole job: the autodiff methods include their own
# forward pass (the hand-written derivative needs none). ``Timer`` runs the
# statement in one thread unless its ``num_threads`` says otherwise; the
# page passes ``num_threads=1`` to say so, so every time below is one
# thread's, while the profiled run used torch's own number of threads (both
# printed below). The times come from the machine that built this page;
# each timing is kept short (``min_run_time=0.04``: repeated calls for at
# least 0.04 s).


def outermost(event) -> str:
    """The name of the outermost range EVENT ran in: here, one method's run."""
    while event.cpu_parent is not None:
        event = event.cpu_parent
    return event.name


def work_by_range(profiled) -> dict:
    """ATen operator calls and bytes allocated, by the range they ran in."""
    work = collections.defaultdict(lambda: {"calls": 0, "bytes": 0})
    for event in profiled.events():
        if event.name.startswith("aten::"):
            counts = work[outermost(event)]
            counts["calls"] += 1
            counts["bytes"] += max(event.self_cpu_memory_usage, 0)
    return work


sizes = [10, 100, 1_000, 10_000, 100_000]
inputs = {n: points(n) for n in sizes}
passes = {}
with torch.profiler.profile(profile_memory=True) as profiled:
    for n, x_n in inputs.items():
        for name, method in methods.items():
            forward_passes = 0
            with torch.autograd.profiler.record_function(f"{name}, N = {n}"):
                method(x_n)
            passes[name, n] = forward_passes
work = work_by_range(profiled)

hand_run = [
    event
    for event in profiled.events()
    if event.name.startswith("aten::")
    and outermost(event) == "hand-written derivative, N = 10"
]
stacks = [event for event in hand_run if event.name == "aten::stack"]
inside_stacks = [event for event in hand_run if event.cpu_parent in stacks]
print(
    f"hand-written derivative, N = 10: {len(stacks)} torch.stack calls,\n  recorded"
    f" with {sorted({event.name for event in inside_stacks})} inside them"
)
assert stacks and inside_stacks, "calls made inside an operator are counted too"

timing_threads = 1  # every Timer below runs its statement in one thread
measured = {name: [] for name in methods}
for n, x_n in inputs.items():
    for name, method in methods.items():
        timer = benchmark.Timer(
            stmt="method(x)",
            globals={"method": method, "x": x_n},
            num_threads=timing_threads,
        )
        median = timer.blocked_autorange(min_run_time=0.04).median
        measured[name].append(
            {"forward passes": passes[name, n], **work[f"{name}, N = {n}"]}
            | {"ms": median * 1e3}
        )

threads = torch.get_num_threads()
print(
    f"torch {torch.__version__}, {platform.machine()}:"
    f" counts with {threads} threads, times with {timing_threads}"
)


def relative(seconds: float, baseline: float) -> str:
    if seconds == baseline:
        return "(the baseline)"
    ratio = baseline / seconds
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


n_last = sizes[-1]
header = f"{'forward':>30}{'ATen':>6}{'bytes':>8}{'median':>11}  speed against"
print(f"\nN = {n_last:,}{header}")
print(f"{'passes':>41}{'calls':>6}{'/point':>8}{'time':>11}  the loop of VJPs")
baseline = measured["loop of 3 functional.vjp"][-1]["ms"]
for name in methods:
    counts = measured[name][-1]
    forward, calls = counts["forward passes"], counts["calls"]
    per_point = counts["bytes"] / n_last
    print(
        f"  {name:<32}{forward:>7}{calls:>6}{per_point:>8.0f}"
        f"{counts['ms']:>8.2f} ms  {relative(counts['ms'], baseline)}"
    )

# The counts, at every N: the loop of VJPs runs f three times, the batched
# methods once, the hand-written derivative never; the hand-written
# derivative makes the fewest operator calls and allocates the fewest bytes;
# the loop of VJPs allocates the most.
expected_passes = {name: 1 for name in methods} | {
    "loop of 3 functional.vjp": 3,
    "hand-written derivative": 0,
}
for i, n in enumerate(sizes):
    at_n = {name: measured[name][i] for name in methods}
    passes_at_n = {name: counts["forward passes"] for name, counts in at_n.items()}
    assert passes_at_n == expected_passes, f"N = {n}: forward passes {passes_at_n}"
    hand = at_n.pop("hand-written derivative")
    for measure in ("calls", "bytes"):
        assert all(counts[measure] > hand[measure] for counts in at_n.values()), (
            f"N = {n}: {measure}"
        )
    loop = at_n.pop("loop of 3 functional.vjp")
    assert all(counts["bytes"] < loop["bytes"] for counts in at_n.values()), (
        f"N = {n}: bytes"
    )

# The bytes measure counts each tensor once, views none: the hand-written
# derivative makes b**2, a + b**2, its cosine, 2b, 2bc, 2a and the -3s (one number
# per point each), three stacked rows (two each) and the stacked result (six):
# 19 float64 per point. Byte counts are integers; the bound of 64 bytes leaves
# room for a few scalars (8 bytes each) made or freed outside the reader's code,
# while one tensor counted twice, or a view counted, would add at least 8N >= 80.
hand_bytes = [counts["bytes"] for counts in measured["hand-written derivative"]]
print(f"hand-written derivative: {hand_bytes[-1] / n_last:.0f} bytes per point")
assert all(abs(b - 19 * 8 * n) <= 64 for b, n in zip(hand_bytes, sizes)), hand_bytes

# Operator calls hardly change with N: at every N from 100 on, each method's count
# is within a factor of 1.5 of its count at N = 10. The counts are integers, so
# this is no rounding tolerance: a loose bound on the few calls another code path
# can add.
call_growth = [
    counts["calls"] / measured[name][0]["calls"]
    for name in methods
    for counts in measured[name][1:]
]
print(
    f"operator calls at N = {sizes[1]:,} to {sizes[-1]:,} over those at N = {sizes[0]}:"
    f" {min(call_growth):.2f} to {max(call_growth):.2f} times"
)
assert all(2 / 3 <= growth <= 1.5 for growth in call_growth), call_growth

# And bytes per point hardly change with N: at every N, each method's are within
# 10% of its bytes per point at N = 10^5. Integers again: the bound leaves room for
# the few allocations of a fixed size (scalars), which weigh most at N = 10.
per_point_spread = [
    counts["bytes"] / n / (measured[name][-1]["bytes"] / n_last)
    for name in methods
    for counts, n in zip(measured[name], sizes)
]
print(
    f"bytes per point at N = {sizes[0]} to {sizes[-1]:,} over those at N = {n_last:,}:"
    f" {min(per_point_spread):.2f} to {max(per_point_spread):.2f} times"
)
assert all(1 / 1.1 <= spread <= 1.1 for spread in per_point_spread), per_point_spread

# %%
# How the counts relate to the times: each method makes about as many
# operator calls at every :math:`N`, and allocates about as many bytes per
# point, so its bytes grow in proportion to :math:`N` (both printed and
# checked above). If each call cost a fixed time (Python,
# dispatch, autograd's bookkeeping) plus a time per byte, the calls would
# set the time at small :math:`N` and the bytes at large :math:`N`. But both
# costs differ between operations (a ``sin`` and an ``add`` on the same
# elements do different work) and between machines, so neither count need
# order the times.
# The figure at the end puts this build's times next to the bytes
# allocated. On a busy machine every time scatters, which is why the page
# asserts the counts and only shows the times.


# %%
# .. _naive-full-jacobian-of-a-batch:
#
# The naive full Jacobian
# -----------------------
#
# :func:`torch.autograd.functional.jacobian` of the batched ``f``, with
# ``vectorize=True`` (one batched backward pass), returns the whole
# :math:`(N, 3, N, 2)` tensor. Its diagonal blocks are the answer; the rest
# is zeros that cost time and memory. Counted (one profiled run at each
# :math:`N`, as above) and timed for small :math:`N` only; at
# :math:`N = 10^5` its size is computed, not allocated.

naive_sizes = [10, 30, 100, 300, 1000]
naive_inputs = {n: points(n) for n in naive_sizes}
with torch.profiler.profile(profile_memory=True) as profiled:
    for n, x_n in naive_inputs.items():
        with torch.autograd.profiler.record_function(f"naive, N = {n}"):
            full = torch.autograd.functional.jacobian(f, x_n, vectorize=True)
        blocks = full.diagonal(dim1=0, dim2=2).permute(2, 0, 1)  # (N, 3, 2)
        # The same few products as jacobian_by_hand's, in another order, plus exact
        # zeros: a few eps of entries at most 3 in magnitude.
        torch.testing.assert_close(
            blocks, jacobian_by_hand(x_n), rtol=1e-12, atol=1e-12
        )
naive_bytes = [work_by_range(profiled)[f"naive, N = {n}"]["bytes"] for n in naive_sizes]

naive_ms = []
for n, allocated in zip(naive_sizes, naive_bytes):
    timer = benchmark.Timer(
        stmt="jacobian(f, x, vectorize=True)",
        globals={
            "jacobian": torch.autograd.functional.jacobian,
            "f": f,
            "x": naive_inputs[n],
        },
        num_threads=timing_threads,
    )
    naive_ms.append(timer.blocked_autorange(min_run_time=0.04).median * 1e3)
    result_mib = n * 3 * n * 2 * 8 / 2**20
    print(
        f"N = {n:>4}: ({n}, 3, {n}, 2), {result_mib:6.2f} MiB;"
        f" its run allocates {allocated / 2**20:7.2f} MiB, {naive_ms[-1]:7.2f} ms"
    )

n_big = 100_000
result_bytes = n_big * 3 * n_big * 2 * torch.finfo(torch.float64).bits // 8
print(
    f"N = {n_big:,}: ({n_big}, 3, {n_big}, 2) in float64 would take"
    f" {result_bytes / 2**30:,.0f} GiB"
)
print(f"the (N, 3, 2) answer takes {n_big * 3 * 2 * 8 / 2**20:.1f} MiB")

# The claims, counted: at N = 1000 the naive route allocates more than 100
# times the bytes of any structured method, and from N = 100 to N = 1000 (10x)
# its bytes grow about 100x (N^2) while theirs grow about 10x (N).
at_100, at_1000 = sizes.index(100), sizes.index(1000)
most_structured = max(measured[name][at_1000]["bytes"] for name in methods)
naive_growth = (
    naive_bytes[naive_sizes.index(1000)] / naive_bytes[naive_sizes.index(100)]
)
structured_growth = [
    measured[name][at_1000]["bytes"] / measured[name][at_100]["bytes"]
    for name in methods
]
assert naive_bytes[-1] > 100 * most_structured, (naive_bytes[-1], most_structured)
assert naive_growth > 90 and all(9.9 < growth < 10.1 for growth in structured_growth), (
    naive_growth,
    structured_growth,
)
print(
    f"N = 1000, bytes allocated: naive {naive_bytes[-1]:,},\n  structured methods"
    f" at most {most_structured:,}"
    f" ({naive_bytes[-1] / most_structured:.0f} times fewer)"
)
print(
    f"N = 100 -> 1000: bytes allocated grow {naive_growth:.2f} times (naive),\n"
    f"  {min(structured_growth):.2f} to {max(structured_growth):.2f} times (structured)"
)
slowest_at_1000 = max(measured[name][at_1000]["ms"] for name in methods)
print(
    f"N = 1000, measured: naive {naive_ms[-1]:.1f} ms,"
    f" slowest structured method {slowest_at_1000:.2f} ms"
)

# %%
# Without ``vectorize=True``, :func:`torch.autograd.functional.jacobian`
# builds the same tensor with a Python loop that runs one backward pass per
# entry of ``f(x)``, :math:`3N` of them (the loop over ``out.nelement()`` in
# `torch/autograd/functional.py <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/autograd/functional.py#L808-L817>`__).
# The measure is a hook on the output of ``f``
# (:meth:`torch.Tensor.register_hook`), which runs once per backward pass
# through it; at :math:`N = 100` the loop runs 300, the vectorised call 1.
# Both times are shown, not asserted.

backward_passes = 0


def count_backward_pass(grad):
    global backward_passes
    backward_passes += 1


def f_with_hook(x):
    y = f(x)
    y.register_hook(count_backward_pass)  # runs once per backward pass through y
    return y


x_100 = points(100)
passes_by_mode, ms_by_mode, full_by_mode = {}, {}, {}
for vectorize in (False, True):
    backward_passes = 0
    full_by_mode[vectorize] = torch.autograd.functional.jacobian(
        f_with_hook, x_100, vectorize=vectorize
    )
    passes_by_mode[vectorize] = backward_passes
    timer = benchmark.Timer(
        stmt="jacobian(f, x, vectorize=vectorize)",
        globals={
            "jacobian": torch.autograd.functional.jacobian,
            "f": f,
            "x": x_100,
            "vectorize": vectorize,
        },
        num_threads=timing_threads,
    )
    ms_by_mode[vectorize] = timer.blocked_autorange(min_run_time=0.04).median * 1e3
    count = passes_by_mode[vectorize]
    print(
        f"N = 100, functional.jacobian with vectorize={vectorize}: {count} backward"
        f" pass{'es' if count > 1 else ''}, {ms_by_mode[vectorize]:.2f} ms"
    )
# Pass counts are integers: exact.
assert passes_by_mode == {False: 3 * 100, True: 1}, passes_by_mode
# One-hot cotangents through the same backward formulas, looped or batched: each entry
# is one partial (b, a, 2a, -3, or cos(a + b^2) times 1 or 2b, at most 3 in magnitude)
# plus exact zeros, a few eps (2.2e-16) apart at most.
torch.testing.assert_close(
    full_by_mode[False], full_by_mode[True], rtol=1e-12, atol=1e-12
)

# %%
# The picture
# -----------
#
# Time and work against :math:`N`. Left, the median times measured on the
# machine that built this page; right, the bytes allocated, counted by the
# profiler.

fig, (ax_time, ax_work) = plt.subplots(
    1, 2, figsize=(7.2, 5.6), layout="constrained", sharex=True
)
for name in methods:
    style = "k--" if name == "hand-written derivative" else "o-"
    ax_time.loglog(sizes, [counts["ms"] for counts in measured[name]], style, ms=4)
    ax_work.loglog(
        sizes,
        [counts["bytes"] for counts in measured[name]],
        style,
        ms=4,
        label=name,
    )
ax_time.loglog(naive_sizes, naive_ms, "s:", color="0.4")
ax_work.loglog(
    naive_sizes,
    naive_bytes,
    "s:",
    color="0.4",
    label="naive full Jacobian (vectorize=True)",
)
ax_time.set_xlabel("batch size $N$")
ax_work.set_xlabel("batch size $N$")
ax_time.set_ylabel("median time (ms)")
ax_work.set_ylabel("bytes allocated (counted)")
ax_time.set_title(
    f"measured:\ntorch {torch.__version__}, {timing_threads} thread (Timer)",
    fontsize=10,
)
ax_work.set_title(
    "counted: bytes allocated,\ntorch.profiler, profile_memory=True", fontsize=10
)
fig.legend(fontsize=9, loc="outside lower center", ncol=2)
plt.show()

# %%
# What to remember
# ----------------
#
# * Everything that exploits the block-diagonal structure allocates about the
#   same number of bytes per point at every :math:`N`, so its memory grows
#   linearly in :math:`N`; the naive full Jacobian allocates an amount that
#   grows as :math:`N^2` (and needs :math:`6N^2` elements for its result
#   alone), so it is out of reach long before :math:`N = 10^5`.
# * Among the structured methods the loop of three ``functional.vjp`` calls
#   allocates the most, and it runs the forward pass once per VJP where
#   the batched forms run it once (both asserted above). How much that shows
#   in the time depends on :math:`N` and on the machine: the table above gives
#   this build's figures at :math:`N = 10^5`, one measurement, and another
#   machine, or a busier one, can order the methods' times differently. The
#   hand-written derivative does the least work of all: no autodiff.
# * All methods agree to rounding: pick for clarity first.
#
# Next: :ref:`sphx_glr_auto_examples_jacobians_plot_03_functional_to_torch_func.py`.
# Reference: :func:`torch.autograd.grad`, :func:`torch.autograd.functional.jacobian`,
# :func:`torch.func.vmap`, :func:`torch.func.jacrev`, :func:`torch.func.jacfwd`,
# :class:`torch.utils.benchmark.Timer`, :class:`torch.profiler.profile`,
# :class:`torch.autograd.profiler.record_function`.
