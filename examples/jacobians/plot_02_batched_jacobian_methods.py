r"""
Batched Jacobians: seven methods, the work each does and its time
=================================================================

The basics built the :math:`(N, 3, 2)` batch of Jacobians of a map
:math:`\mathbb{R}^2 \to \mathbb{R}^3` with a Python loop of three
:func:`~torch.autograd.functional.vjp` calls. Six other ways compute the
same numbers; this page checks that they agree, counts the work each one
does (forward passes, ATen operations, elements written), times them from
:math:`N = 10` to :math:`10^5` on the machine that built it, and shows what
the naive full Jacobian would cost.
"""

# %%
# The maths, and why the shortcuts are allowed
# --------------------------------------------
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
from torch.utils._python_dispatch import TorchDispatchMode

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


def by_hand(x):
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
    "hand-written derivative": by_hand,
}

# %%
# All seven agree
# ---------------

generator = torch.Generator().manual_seed(0)


def points(n: int) -> torch.Tensor:
    return 2 * torch.rand(n, 2, generator=generator, dtype=torch.float64) - 1


x = points(1000)
expected = by_hand(x)
for name, method in methods.items():
    result = method(x)
    # Each entry is b, a, 2a, -3, or the same cos(a + b^2) times 1 or 2b, plus exact
    # zeros; the methods' kernels differ, but only by a few roundings of entries at
    # most 3 in magnitude: a few eps (2.2e-16).
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)
    error = (result - expected).abs().max().item()
    print(f"{name:<34} {tuple(result.shape)}  max |error| = {error:.1e}")

# %%
# Work and time
# -------------
#
# Three deterministic measures of the work, the same on every machine with
# the same torch release (they follow torch's derivative formulas and
# batching rules, which can change between releases):
#
# * **forward passes**: calls of ``f`` (or of ``f_one_point``, which
#   :func:`torch.func.vmap` calls once for the whole batch);
# * **ATen operations**: the operator calls that reach a
#   ``TorchDispatchMode`` (from ``torch.utils._python_dispatch``) at the
#   Python dispatch key, below autograd and ``vmap``: the calls made by the
#   code, by autograd's backward formulas and by ``vmap``'s batching rules.
#   An operation decomposed before that key is seen as its parts
#   (``reshape`` as a ``view``); a kernel that runs after it is one call,
#   whatever it calls inside itself (``stack``); and the kernels for
#   forward-mode AD's ZeroTensors (below) run before it, so the mode sees
#   the calls they make instead (a ``stack`` with a ZeroTensor among its
#   inputs is seen as ``zeros``, ``expand`` and ``stack``: the fallback in
#   `ZeroTensorFallback.cpp <https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/ZeroTensorFallback.cpp>`__
#   materialises the zeros). All three checked below;
# * **elements written**: the number of elements of the tensors those
#   calls return, except views, which share their input's memory, the
#   uninitialised tensors of :func:`torch.empty` and its variants, which
#   are allocated but not written (the loop's result is one; its three
#   row copies into it are counted), and tensors with no memory behind them
#   (a data pointer of 0): forward-mode AD's ZeroTensors, tangents known to be
#   zero (``_efficientzerotensor`` in
#   `TensorFactories.cpp <https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/TensorFactories.cpp>`__),
#   and tensors on the `meta device <https://docs.pytorch.org/docs/stable/meta.html>`__,
#   which hold shapes only.
#
# Then each method is timed with :class:`torch.utils.benchmark.Timer` on the
# same input: the counted call doubles as the warm-up, then the median over
# repeated blocks (``blocked_autorange``). Every method starts from ``x`` and
# does the whole job: the autodiff methods include their own forward pass
# (the hand-written derivative needs none). The times
# come from the machine that built this page; each timing is kept short
# (``min_run_time=0.04``: repeated calls for at least 0.04 s).


class CountWork(TorchDispatchMode):
    """Counts the ATen operations that reach it (by name too), and the tensor
    elements they write."""

    aten = torch.ops.aten
    writes_nothing = {
        aten.empty,
        aten.empty_like,
        aten.empty_strided,
        aten.new_empty,
        aten.new_empty_strided,
    }

    def __init__(self):
        super().__init__()
        self.operations = 0
        self.names = collections.Counter()
        self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        self.operations += 1
        self.names[func.overloadpacket.__name__] += 1
        if not func.is_view and func.overloadpacket not in self.writes_nothing:
            outputs = result if isinstance(result, (tuple, list)) else (result,)
            for tensor in outputs:
                if not isinstance(tensor, torch.Tensor):
                    continue
                if tensor.is_meta or tensor._is_zerotensor():
                    assert tensor.data_ptr() == 0, (
                        "no memory behind it, so nothing written"
                    )
                else:
                    self.elements += tensor.numel()
        return result


# %%
# What the mode sees, next to :class:`torch.profiler.profile`, which records every ATen
# call, nested ones included: ``torch.stack`` is one call for the mode,
# while the profiler also records the ``unsqueeze`` and ``cat`` its kernel
# runs; ``reshape`` is seen as its ``view``; a ``stack`` with a ZeroTensor
# among its inputs, as the fallback's calls.

pair = (torch.ones(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
with torch.profiler.profile() as profiled, CountWork() as work:
    torch.stack(pair, dim=1)
inside = [event.name for event in profiled.events() if event.name.startswith("aten::")]
print(f"torch.stack: {work.operations} operation for the mode; the profiler records")
print(f"  {sorted(set(inside))}")
assert work.operations == 1 and {"aten::unsqueeze", "aten::cat"} <= set(inside)
with CountWork() as work:
    pair[0].reshape(2, 2)
print(f"reshape: the mode sees {dict(work.names)}")
assert work.names == {"view": 1}
# a ZeroTensor, as forward-mode AD makes them
zero_tangent = torch._efficientzerotensor(4, dtype=torch.float64)
with CountWork() as work:
    torch.stack((zero_tangent, pair[1]))
print(f"stack with a ZeroTensor input: the mode sees {dict(work.names)}")
assert work.names == {"zeros": 1, "expand": 1, "stack": 1}

# %%
# The counts are those of the run under the mode, which can differ a
# little from a run without it: with a mode active, autograd's backward adds
# gradients out of place (``add``, never ``add_``; counted by the mode and
# checked below). ``can_accumulate_inplace`` in
# `input_buffer.cpp <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/csrc/autograd/input_buffer.cpp>`__
# refuses tensors that are "subclass-like", which every tensor is while a mode
# is active (`TensorSubclassLikeUtils.h <https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/TensorSubclassLikeUtils.h>`__).
# Without a mode it adds in place where it can: the ``add_`` in the first
# count printed below, made by the profiler on a run without the mode.


def additions_without_mode() -> dict:
    with torch.profiler.profile() as profiled:
        loop_of_vjps(x[:10])
    names = [event.name for event in profiled.events()]
    return {"add": names.count("aten::add"), "add_": names.count("aten::add_")}


with CountWork() as work:
    loop_of_vjps(x[:10])
under_mode = {"add": work.names["add"], "add_": work.names["add_"]}
print(f"additions in the loop of VJPs, without the mode: {additions_without_mode()}")
print(f"additions in the loop of VJPs, under the mode:   {under_mode}")
assert under_mode["add_"] == 0 and under_mode["add"] > 0


def count_and_time(method, x):
    global forward_passes
    forward_passes = 0
    with CountWork() as work:
        method(x)  # counted, and the warm-up
    counts = {
        "forward passes": forward_passes,
        "operations": work.operations,
        "elements": work.elements,
    }
    timer = benchmark.Timer(stmt="method(x)", globals={"method": method, "x": x})
    return counts | {"ms": timer.blocked_autorange(min_run_time=0.04).median * 1e3}


threads = torch.get_num_threads()
print(f"torch {torch.__version__}, {threads} threads, {platform.machine()}")

sizes = [10, 100, 1_000, 10_000, 100_000]
measured = {name: [] for name in methods}
for n in sizes:
    x_n = points(n)
    for name, method in methods.items():
        measured[name].append(count_and_time(method, x_n))


def relative(seconds: float, baseline: float) -> str:
    if seconds == baseline:
        return "(the baseline)"
    ratio = baseline / seconds
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


n_last = sizes[-1]
header = f"{'forward':>30}{'ATen':>6}{'elements':>10}{'median':>11}  speed against"
print(f"\nN = {n_last:,}{header}")
print(f"{'passes':>41}{'ops':>6}{'per point':>10}{'time':>11}  the loop of VJPs")
baseline = measured["loop of 3 functional.vjp"][-1]["ms"]
for name in methods:
    work = measured[name][-1]
    forward, ops = work["forward passes"], work["operations"]
    per_point = work["elements"] / n_last
    print(
        f"  {name:<32}{forward:>7}{ops:>6}{per_point:>10.1f}"
        f"{work['ms']:>8.2f} ms  {relative(work['ms'], baseline)}"
    )

# The counts, at every N: the loop of VJPs runs f three times, the batched
# methods once, the hand-written derivative never; the hand-written
# derivative runs the fewest operations and writes the fewest elements; the
# loop of VJPs writes the most. The operation counts do not depend on N.
for name in methods:
    operations = {counts["operations"] for counts in measured[name]}
    assert len(operations) == 1, f"{name}: {operations} operations"
for i, n in enumerate(sizes):
    work = {name: measured[name][i] for name in methods}
    passes = {name: counts["forward passes"] for name, counts in work.items()}
    expected_passes = {name: 1 for name in methods} | {
        "loop of 3 functional.vjp": 3,
        "hand-written derivative": 0,
    }
    assert passes == expected_passes, f"N = {n}: forward passes {passes}"
    hand = work.pop("hand-written derivative")
    for measure in ("operations", "elements"):
        assert all(counts[measure] > hand[measure] for counts in work.values()), (
            f"N = {n}: {measure}"
        )
    loop = work.pop("loop of 3 functional.vjp")
    assert all(counts["elements"] < loop["elements"] for counts in work.values()), (
        f"N = {n}: elements"
    )

# %%
# How the counts relate to the times: each method runs the same number of
# operations at every :math:`N` (asserted above), and the elements it writes
# grow in proportion to :math:`N` (checked below from :math:`N = 100` to
# :math:`1000`). If each operation cost a fixed time (Python, dispatch,
# autograd's bookkeeping) plus a time per element, the operation count would
# set the time at small :math:`N` and the elements at large :math:`N`. But
# both costs differ between operations (a ``sin`` and an ``add`` on the same
# elements do different work) and between machines, so neither count need
# order the times.
# The figure at the end puts this build's times next to the elements
# written. On a busy machine every time scatters, which is why the page
# asserts the counts and only shows the times.


# %%
# The naive full Jacobian
# -----------------------
#
# :func:`torch.autograd.functional.jacobian` of the batched ``f``, with
# ``vectorize=True`` (one batched backward pass), returns the whole
# :math:`(N, 3, N, 2)` tensor. Its diagonal blocks are the answer; the rest
# is zeros that cost time and memory. Counted and timed for small :math:`N`
# only; at :math:`N = 10^5` its size is computed, not allocated.

naive_sizes = [10, 30, 100, 300, 1000]
naive_ms, naive_elements = [], []
for n in naive_sizes:
    x_n = points(n)
    with CountWork() as work:
        # counted, and the warm-up
        full = torch.autograd.functional.jacobian(f, x_n, vectorize=True)
    naive_elements.append(work.elements)
    blocks = full.diagonal(dim1=0, dim2=2).permute(2, 0, 1)  # (N, 3, 2)
    # The same few products as by_hand's, in another order, plus exact zeros: a few eps
    # of entries at most 3 in magnitude.
    torch.testing.assert_close(blocks, by_hand(x_n), rtol=1e-12, atol=1e-12)
    timer = benchmark.Timer(
        stmt="jacobian(f, x, vectorize=True)",
        globals={"jacobian": torch.autograd.functional.jacobian, "f": f, "x": x_n},
    )
    naive_ms.append(timer.blocked_autorange(min_run_time=0.04).median * 1e3)
    mebibytes = full.numel() * full.element_size() / 2**20
    print(
        f"N = {n:>4}: {tuple(full.shape)}, {mebibytes:7.2f} MiB,"
        f" {work.elements:>11,} elements written, {naive_ms[-1]:8.2f} ms"
    )

n_big = 100_000
naive_bytes = n_big * 3 * n_big * 2 * torch.finfo(torch.float64).bits // 8
print(
    f"N = {n_big:,}: ({n_big}, 3, {n_big}, 2) in float64 would take"
    f" {naive_bytes / 2**30:,.0f} GiB"
)
print(f"the (N, 3, 2) answer takes {n_big * 3 * 2 * 8 / 2**20:.1f} MiB")

# The claims, counted: at N = 1000 the naive route writes more elements than
# every structured method, and from N = 100 to N = 1000 (10x) its count grows
# about 100x (N^2) while theirs grow about 10x (N).
at_100, at_1000 = sizes.index(100), sizes.index(1000)
most_structured = max(measured[name][at_1000]["elements"] for name in methods)
naive_growth = (
    naive_elements[naive_sizes.index(1000)] / naive_elements[naive_sizes.index(100)]
)
structured_growth = [
    measured[name][at_1000]["elements"] / measured[name][at_100]["elements"]
    for name in methods
]
assert naive_elements[-1] > 100 * most_structured, (naive_elements[-1], most_structured)
assert naive_growth > 90 and all(9.9 < growth < 10.1 for growth in structured_growth), (
    naive_growth,
    structured_growth,
)
print(
    f"N = 1000, elements written: naive {naive_elements[-1]:,},\n  structured methods"
    f" at most {most_structured:,}"
    f" ({naive_elements[-1] / most_structured:.0f} times fewer)"
)
print(
    f"N = 100 -> 1000: elements written grow {naive_growth:.2f} times (naive),\n"
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
# Time and work against N
# -----------------------
#
# Left, the median times measured on the machine that built this page; right,
# the elements written, counted (the same on every machine with the same
# torch release).

fig, (ax_time, ax_work) = plt.subplots(
    1, 2, figsize=(7.2, 5.6), layout="constrained", sharex=True
)
for name in methods:
    style = "k--" if name == "hand-written derivative" else "o-"
    ax_time.loglog(sizes, [counts["ms"] for counts in measured[name]], style, ms=4)
    ax_work.loglog(
        sizes,
        [counts["elements"] for counts in measured[name]],
        style,
        ms=4,
        label=name,
    )
ax_time.loglog(naive_sizes, naive_ms, "s:", color="0.4")
ax_work.loglog(
    naive_sizes,
    naive_elements,
    "s:",
    color="0.4",
    label="naive full Jacobian (vectorize=True)",
)
ax_time.set_xlabel("batch size $N$")
ax_work.set_xlabel("batch size $N$")
ax_time.set_ylabel("median time (ms)")
ax_work.set_ylabel("elements written (counted)")
ax_time.set_title(
    f"measured:\ntorch {torch.__version__}, {torch.get_num_threads()} threads",
    fontsize=10,
)
ax_work.set_title(
    "counted: ATen outputs,\nviews, empty and no-memory excluded", fontsize=10
)
fig.legend(fontsize=9, loc="outside lower center", ncol=2)
plt.show()

# %%
# What to remember
# ----------------
#
# * Everything that exploits the block-diagonal structure writes about the
#   same number of elements per point at every :math:`N`, so its work grows
#   linearly in :math:`N`; the naive full Jacobian writes a number that grows
#   as :math:`N^2` (and needs :math:`6N^2` elements for its result alone), so
#   it is out of reach long before :math:`N = 10^5`.
# * Among the structured methods the loop of three ``functional.vjp`` calls
#   writes the most elements, and it runs the forward pass once per VJP where
#   the batched forms run it once (both asserted above). How much that shows
#   in the time depends on :math:`N` and on the machine: the table above gives
#   this build's figures at :math:`N = 10^5`, where some batched forms can
#   measure slower than the loop. The hand-written derivative does the least
#   work of all: no autodiff.
# * All methods agree to rounding: pick for clarity first.
#
# Next: :ref:`sphx_glr_auto_examples_jacobians_plot_03_functional_to_torch_func.py`.
# Reference: :func:`torch.autograd.grad`, :func:`torch.autograd.functional.jacobian`,
# :func:`torch.func.vmap`, :func:`torch.func.jacrev`, :func:`torch.func.jacfwd`,
# :class:`torch.utils.benchmark.Timer`.
