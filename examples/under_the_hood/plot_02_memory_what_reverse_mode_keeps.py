r"""
What reverse mode keeps in memory, counted in bytes
===================================================

Most VJPs need tensors from the forward pass (a product needs its factors,
``tanh`` its output; a sum, an addition or a view needs none): reverse mode
has to keep them from the moment the forward pass computes them until the
backward pass uses them. How many bytes is that, how does it grow with
depth, and what do forward mode, ``jacrev``'s ``chunk_size`` and
activation checkpointing change (and how does checkpointing get along with
``autograd.grad``, double backward and ``torch.func``)? This page counts
the bytes exactly, with :class:`torch.autograd.graph.saved_tensors_hooks`
and with the memory records of :class:`torch.profiler.profile`.
"""

# %%
# The maths
# ---------
#
# A stack of :math:`L` layers acting on a batch :math:`x \in \mathbb{R}^{B \times n}`,
# with fixed weights :math:`W_l \in \mathbb{R}^{n \times n}`:
#
# .. math::
#
#    h_0 = x, \qquad h_{l+1} = \tanh(h_l W_l) \in \mathbb{R}^{B \times n},
#    \qquad y = \mathbf{1}^\top h_L \mathbf{1} \in \mathbb{R}.
#
# The VJP of layer :math:`l` maps the :math:`v_{l+1}` arriving at
# :math:`h_{l+1}` to
#
# .. math::
#
#    v_l = \bigl(v_{l+1} \odot (1 - h_{l+1}^2)\bigr)\, W_l^\top
#    \in \mathbb{R}^{B \times n},
#
# so it needs :math:`h_{l+1}` (``tanh`` saves its output) and :math:`W_l`.
# The weights exist anyway; the outputs :math:`h_1, \dots, h_L` exist only
# because the backward pass will need them. Reverse mode therefore keeps
# :math:`L \cdot B n` numbers, :math:`8 L B n` bytes in float64, growing with
# depth. A JVP runs alongside the forward pass, and the tangent of layer
# :math:`l` is used up by layer :math:`l + 1`: nothing needs keeping.

# %%
# Counting honestly
# -----------------
#
# :class:`~torch.autograd.graph.saved_tensors_hooks` calls a *pack* hook for
# every tensor a node saves. Adding up the sizes of what it sees overcounts:
# a tensor saved by two nodes is counted twice, a view shares its base's
# memory, and inputs and weights would be in the total although they exist
# whether or not a backward pass follows. So the count below keeps one entry per storage
# (the memory block behind a tensor and all its views) and splits the
# storages into those that existed before the forward pass (inputs and
# weights) and those the forward pass allocated: the second group is the
# memory that reverse mode keeps.

import json
import tempfile
import textwrap
import warnings

import matplotlib.pyplot as plt
import torch
import torch.autograd.forward_ad as fwAD
from torch.autograd.graph import saved_tensors_hooks
from torch.utils.checkpoint import checkpoint

B, n = 32, 64
activation_bytes = B * n * 8  # one h_l in float64
generator = torch.Generator().manual_seed(0)
x = torch.randn(B, n, generator=generator, dtype=torch.float64)
x_leaf = x.clone().requires_grad_()
weights = [
    torch.randn(n, n, generator=generator, dtype=torch.float64) / n**0.5
    for _ in range(16)
]
layer_calls = 0


def layer(h, weight):
    global layer_calls
    layer_calls += 1
    return torch.tanh(h @ weight)


def network(h, depth, layer_weights=weights):
    for weight in layer_weights[:depth]:
        h = layer(h, weight)
    return h


def storage_key(tensor):
    return tensor.untyped_storage().data_ptr()


def saved_bytes(run, existing):
    """Run RUN() and count what its nodes save: (number of saved tensors,
    their bytes added up naively, bytes of the distinct storages that were
    not in EXISTING). The result of RUN() is kept alive until the count is
    made, so its graph, and what the graph saves, is still there."""
    packed = []
    with saved_tensors_hooks(
        lambda tensor: packed.append(tensor) or tensor, lambda tensor: tensor
    ):
        result = run()
    naive = sum(tensor.numel() * tensor.element_size() for tensor in packed)
    before = {storage_key(tensor) for tensor in existing}
    storages = {
        storage_key(t): t.untyped_storage().nbytes()
        for t in packed
        if storage_key(t) not in before
    }
    del result
    return len(packed), naive, sum(storages.values())


# Not every node keeps something: a sum, an addition, an expand or a view has a
# VJP that needs only shapes, while tanh keeps its output and a product both factors.
saved_counts = {
    name: saved_bytes(run, existing=[x_leaf])[0]
    for name, run in {
        "sum": lambda: x_leaf.sum(),
        "add": lambda: x_leaf + x_leaf,
        "expand": lambda: x_leaf[None].expand(3, B, n),
        "view": lambda: x_leaf.view(-1),
        "tanh": lambda: torch.tanh(x_leaf),
        "mul": lambda: x_leaf * x_leaf,
    }.items()
}
print(
    "tensors saved by one operation:",
    ", ".join(f"{name} {count}" for name, count in saved_counts.items()),
)
assert saved_counts == {
    "sum": 0,
    "add": 0,
    "expand": 0,
    "view": 0,
    "tanh": 1,
    "mul": 2,
}, saved_counts

count, naive, kept = saved_bytes(
    lambda: network(x_leaf, 4).sum(), existing=[x_leaf, *weights]
)
print(
    f"{'':<19}{'saved tensors':>13}{'bytes added up naively':>25}"
    f"{'bytes of new storages':>24}"
)
print(f"{'fixed weights:':<19}{count:>13}{naive:>25}{kept:>24}")
assert count == 2 * 4, "each layer saves its weight and tanh's output"
assert naive == 4 * (n * n * 8 + activation_bytes)
assert kept == 4 * activation_bytes, (
    "reverse mode keeps the L layer outputs, 8 L B n bytes"
)

trainable = [weight.clone().requires_grad_() for weight in weights[:4]]
count, naive, kept = saved_bytes(
    lambda: network(x, 4, trainable).sum(), existing=[x, *trainable]
)
print(f"{'trainable weights:':<19}{count:>13}{naive:>25}{kept:>24}")
assert count == 11, "x; h_1, h_2, h_3 twice each; h_4; three weights"
assert naive == (1 + 2 * 3 + 1) * activation_bytes + 3 * n * n * 8, (
    "x and h_4 once, h_1 to h_3 twice, three weights"
)
assert kept == 4 * activation_bytes, "the same L layer outputs"

# %%
# With fixed weights, the weights make up two thirds of the naive total.
# With trainable weights (and data :math:`x` that needs no gradient), every
# matrix product also saves its input, for its weight's gradient: :math:`x`
# for the first, and for the others :math:`h_l`, which ``tanh`` has already
# saved; every product but the first also saves its weight, for the
# gradient of its input. With the four outputs of ``tanh``, that is eleven
# saved tensors, a different naive total, and still the same four new
# storages. The honest count is the same in both cases; the naive one is not.
#
# Peak memory, as far as it can be measured
# -----------------------------------------
#
# Saved bytes are what the graph holds between the two passes. The *peak*
# also includes the temporaries of both passes. ``torch.cpu`` has no
# counterpart of :func:`torch.cuda.max_memory_allocated`, and the process's
# memory is shared with everything else the interpreter has done, so this
# page reads the peak from the records of :class:`torch.profiler.profile`.
# With ``profile_memory=True`` it records every allocation and every release
# of tensor memory on the CPU, by any thread, in the order they happen, each
# as a ``[memory]`` record with its bytes (negative for a release) and the
# allocator's running total of the bytes allocated while profiling and not
# yet released. The trace that
# :meth:`~torch.profiler.profile.export_chrome_trace` writes lists these
# records with their fields. The running total just before the first record
# is what was alive when the block began; the largest total minus that is
# the peak of the tensor memory the block allocated. It leaves out tensors
# that existed before the block and memory that kernels take other than from
# PyTorch's allocator. The records are exact byte counts, so the peak is the
# same on every run. (Each event the profiler records also carries a
# ``self_cpu_memory_usage``, but an allocation and a release inside the same
# event cancel there: a sum of those can miss a peak.)


assert not hasattr(torch.cpu, "max_memory_allocated"), (
    "torch.cpu now has a peak-memory counter"
)


def memory_records(run):
    """Run RUN() under the profiler: (its [memory] records, in the order they
    happened, each with "Bytes" and "Total Allocated"; result)."""
    with torch.profiler.profile(profile_memory=True) as profiled:
        result = run()
    with tempfile.TemporaryDirectory() as folder:
        profiled.export_chrome_trace(f"{folder}/trace.json")
        with open(f"{folder}/trace.json") as trace:
            events = json.load(trace)["traceEvents"]
    records = [event["args"] for event in events if event.get("name") == "[memory]"]
    for before, record in zip(records, records[1:]):
        # each total is the one before plus the record's own bytes: no record
        # is missing or out of order
        assert record["Total Allocated"] == before["Total Allocated"] + record["Bytes"]
    return records, result


def peak_bytes(run):
    """Run RUN() under the profiler: (peak bytes of live tensors, result)."""
    records, result = memory_records(run)
    at_start = records[0]["Total Allocated"] - records[0]["Bytes"]
    return max(record["Total Allocated"] for record in records) - at_start, result


def matrix_products(run):
    """Run RUN() under the profiler: how many matrix products (``mm``) it
    calls, including those inside other operations' calls (forward-mode AD
    computes an operation's tangent inside that operation's call)."""
    with torch.profiler.profile() as profiled:
        run()
    return sum(event.name == "aten::mm" for event in profiled.events())


# %%
# .. _reverse-against-forward-memory:
#
# Reverse mode against forward mode, by depth
# -------------------------------------------
#
# Reverse mode: one gradient :math:`\nabla_x y \in \mathbb{R}^{B \times n}`
# with :func:`torch.autograd.grad`. Forward mode: one directional derivative
# :math:`\nabla_x y \cdot u` with :func:`torch.func.jvp`, which records no
# backward graph, so no pack hook is ever called; the same with the dual
# numbers of :mod:`torch.autograd.forward_ad`; and the same directional
# derivative written by hand, one tangent formula per layer,
# :math:`\dot h_{l+1} = (1 - h_{l+1}^2) \odot (\dot h_l W_l)`. That is not
# the same work as the gradient: forward mode needs :math:`Bn` JVPs for the
# whole gradient. The dot product test checks them against each other,
# :math:`\langle \nabla_x y, u \rangle = J u`, with a rounding bound that
# the cell computes, to first order, from each side's own chain of
# operations: the sum, over its intermediate results :math:`q`, of
# :math:`|\partial\, \text{result} / \partial q|` times the error
# :math:`q` can have on its own.

depths = [1, 2, 4, 8, 16]
u = torch.randn(B, n, generator=generator, dtype=torch.float64)


def network_jvp_by_hand(h, tangent, depth):
    for weight in weights[:depth]:
        h = layer(h, weight)
        tangent = (1 - h**2) * (tangent @ weight)
    return h.sum(), tangent.sum()


eps = torch.finfo(torch.float64).eps


def product_error(a, b):
    """A product of 64-term sums is within 64 eps of |a| |b|, in any order."""
    return 64 * eps * (a.detach().abs() @ b.abs())


def elementwise_error(q):
    """An elementwise result is within 16 eps of the exact operation on its
    inputs: + - * are correctly rounded (eps / 2); 16 eps is a generous
    allowance for tanh."""
    return 16 * eps * q.detach().abs()


def rounding_bounds(depth):
    """First-order rounding bounds for J u and for <gradient, u>, each from
    its chain of operations (the JVP by hand above; the VJP of the maths)."""
    h, tangent = x.clone().requires_grad_(), u.clone().requires_grad_()
    forward, jvp_side, slopes = [], [], []  # (q, the error q can have on its own)
    for weight in weights[:depth]:
        product, tangent_product = h @ weight, tangent @ weight
        forward.append((product, product_error(h, weight)))
        jvp_side.append((tangent_product, product_error(tangent, weight)))
        h = torch.tanh(product)
        square = h**2
        slopes.append(1 - square)
        tangent = slopes[-1] * tangent_product
        forward += [(q, elementwise_error(q)) for q in (h, square, slopes[-1])]
        jvp_side.append((tangent, elementwise_error(tangent)))
    v, vjp_side = torch.ones(B, n, dtype=torch.float64), []
    for weight, slope in zip(weights[depth - 1 :: -1], slopes[::-1]):
        scaled = v * slope
        v = scaled @ weight.T
        vjp_side.append((scaled, elementwise_error(scaled)))
        vjp_side.append((v, product_error(scaled, weight.T)))
    terms = v * u
    vjp_side.append((terms, elementwise_error(terms)))
    bounds = []
    for result, side in ((tangent, forward + jvp_side), (terms, forward + vjp_side)):
        adjoints = torch.autograd.grad(
            result.sum(), [q for q, _ in side], retain_graph=True
        )
        bounds.append(
            sum((a.abs() * error).sum().item() for a, (_, error) in zip(adjoints, side))
            # the final sum of B n = 2048 terms
            + 2048 * eps * result.detach().abs().sum().item()
        )
    return bounds


def dual_numbers_jvp(depth):
    with fwAD.dual_level():
        output = network(fwAD.make_dual(x, u), depth).sum()
        return fwAD.unpack_dual(output).tangent


reverse_saved, reverse_peak, forward_peak, dual_peak, hand_peak = [], [], [], [], []
products, largest_bound = {"forward_ad": [], "by hand": []}, 0.0
for depth in depths:
    _, _, kept = saved_bytes(
        lambda: network(x_leaf, depth).sum(), existing=[x_leaf, *weights]
    )
    reverse_saved.append(kept)
    count, _, _ = saved_bytes(
        lambda: torch.func.jvp(lambda h: network(h, depth).sum(), (x,), (u,)),
        existing=[x],
    )
    assert count == 0, "forward mode records no backward graph"  # an exact count

    peak, (gradient,) = peak_bytes(
        lambda: torch.autograd.grad(network(x_leaf, depth).sum(), x_leaf)
    )
    reverse_peak.append(peak)
    peak, (_, directional) = peak_bytes(
        lambda: torch.func.jvp(lambda h: network(h, depth).sum(), (x,), (u,))
    )
    forward_peak.append(peak)
    peak, directional_dual = peak_bytes(lambda: dual_numbers_jvp(depth))
    dual_peak.append(peak)
    peak, (_, directional_by_hand) = peak_bytes(
        lambda: network_jvp_by_hand(x, u, depth)
    )
    hand_peak.append(peak)
    products["forward_ad"].append(matrix_products(lambda: dual_numbers_jvp(depth)))
    products["by hand"].append(
        matrix_products(lambda: network_jvp_by_hand(x, u, depth))
    )
    jvp_bound, vjp_bound = rounding_bounds(depth)
    largest_bound = max(largest_bound, jvp_bound + vjp_bound, 2 * jvp_bound)
    # Each side is within its first-order bound of the exact value (the dual
    # numbers and func.jvp run the hand JVP's operations, plus exact products with
    # zeros): two sides differ by at most the sum of their bounds, which stays under
    # the atol of assert_close's float64 defaults (rtol = atol = 1e-7) with a
    # margin far larger than any second-order (eps^2) term.
    assert largest_bound < 1e-7
    torch.testing.assert_close((gradient * u).sum(), directional)
    torch.testing.assert_close(directional_by_hand, directional)
    torch.testing.assert_close(directional_dual, directional)

print(
    f"{'depth':>5} {'reverse saved':>14} {'reverse peak':>13}"
    f" {'forward saved':>14} {'func.jvp peak':>14} {'by hand peak':>13}"
)
for depth, saved, peak, fpeak, hpeak in zip(
    depths, reverse_saved, reverse_peak, forward_peak, hand_peak
):
    print(f"{depth:>5} {saved:>14} {peak:>13} {0:>14} {fpeak:>14} {hpeak:>13}")
print(f"largest rounding bound of two sides: {largest_bound:.1e} (atol 1e-7)")

# %%
# The checks
# ----------
#
# What reverse mode keeps, counted by the saved-tensor hooks, against the
# maths: the :math:`L` outputs of ``tanh``, :math:`8LBn` bytes; forward mode
# keeps nothing (no pack hook was called, asserted above).

expected = [8 * depth * B * n for depth in depths]  # 8 L B n bytes
print("saved by reverse mode:", reverse_saved)
print("8 L B n:              ", expected)
assert reverse_saved == expected, "8 L B n bytes"  # integer counts: exact

# %%
# What the peaks show
# -------------------
#
# Reverse mode's peak is what it saved plus one activation-sized buffer and
# two 8-byte scalars, at every depth: :math:`y` and its :math:`v = 1`, and,
# by the VJP formula, the temporary
# :math:`v_{l+1} \odot (1 - h_{l+1}^2)` of the backward pass on its way to
# the next product.
#
# Forward mode keeps nothing, but carries a tangent beside every value and
# needs temporaries for the tangent formulas. From depth 2 on, whatever the
# depth, its peak is five activation-sized buffers for the hand-written JVP
# and six, and 8 bytes, for :func:`torch.func.jvp` and
# :mod:`torch.autograd.forward_ad` alike (the same peaks, below); at depth 1,
# where :math:`h_0 = x` and its tangent :math:`u` existed before, four for
# both (and the 8 bytes for ``func.jvp``). The sixth buffer comes from the
# order of the work. PyTorch's forward-mode AD computes an operation's
# tangent inside that operation's call: while ``tanh`` writes
# :math:`h_{l+1}` and its tangent, the layer's input :math:`h_l` and its
# tangent, the product :math:`h_l W_l` and its tangent are all still alive,
# six buffers. The hand-written JVP finishes each layer's value first: the product and
# :math:`h_l` are gone before it works on the tangent.
#
# PyTorch's forward-mode AD also does work the hand-written JVP skips. The
# tangent formula of a matrix product is :math:`\dot h_l W_l + h_l \dot W_l`
# (``at::mm(self_t, mat2_p) + at::mm(self_p, mat2_t)`` in
# `tools/autograd/derivatives.yaml
# <https://github.com/pytorch/pytorch/blob/v2.13.0/tools/autograd/derivatives.yaml>`__).
# A weight is a constant and has no tangent; the generated code
# (`tools/autograd/gen_variable_type.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/tools/autograd/gen_variable_type.py>`__)
# puts ``at::_efficientzerotensor`` in its place, a zero tensor that holds
# no memory, and does not skip the product. ``mm`` has no kernel for such a
# tensor, so the fallback
# (`aten/src/ATen/ZeroTensorFallback.cpp
# <https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/ZeroTensorFallback.cpp>`__)
# materialises it as ``at::zeros({})`` expanded to the weight's shape: a
# broadcast zero matrix, one 8-byte scalar with strides (0, 0). The CPU
# ``mm`` kernel then copies that factor into a dense :math:`n \times n`
# matrix of zeros before it multiplies: 32 KiB here, two activations' worth,
# the largest block ``func.jvp`` allocates (below). So each layer spends a
# full :math:`B \times n \times n` product, and an :math:`n \times n`
# temporary, on an activation-sized buffer of zeros, :math:`h_l \dot W_l`:
# the profiler counts three matrix products per layer under
# :mod:`torch.autograd.forward_ad`, where the hand-written JVP has two. That
# ``mm`` has no kernel for zero tensors, that the third product's factor is
# that broadcast scalar, and that ``mm`` copies it into a dense matrix, the
# site's tests check (``tests/test_torch_claims.py``);
# :ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`
# finds the same products. Those products do not make the sixth buffer:
# ``TimesWeight`` below is :math:`h W` with a tangent rule of its own,
# :math:`\dot h W`, for a weight that has no tangent (and, with
# ``set_materialize_grads(False)``, is handed none rather than a matrix of
# zeros). With it the network makes two products per layer and allocates
# nothing larger than an activation, and its peak is the same six buffers,
# 8 bytes less.
#
# Where the peaks cross therefore depends on the implementation as much as
# on the mode. Reverse mode's peak, :math:`(L + 1) \cdot 8Bn` bytes and the
# two scalars, passes ``torch.func.jvp``'s between depth 4 and 8; it reaches
# the hand-written JVP's at depth 4 (above it by the two scalars only) and
# grows past it from there on.


class TimesWeight(torch.autograd.Function):
    """h @ weight, for a weight with no tangent: the tangent is tangent @ weight."""

    generate_vmap_rule = True  # so that torch.func.vmap, and jacfwd, can batch it

    @staticmethod
    def forward(h, weight):
        return h @ weight

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_forward(inputs[1])
        # a missing tangent reaches jvp as None, not as a matrix of zeros
        ctx.set_materialize_grads(False)

    @staticmethod
    def jvp(ctx, h_tangent, weight_tangent):
        assert weight_tangent is None, "a rule for a constant weight"
        (weight,) = ctx.saved_tensors
        return h_tangent @ weight


def network_with_rule(h, depth):
    for weight in weights[:depth]:
        h = torch.tanh(TimesWeight.apply(h, weight))
    return h


def largest_block(run):
    """The most bytes RUN() allocates at once."""
    records, _ = memory_records(run)
    return max(record["Bytes"] for record in records)


rule_peak, rule_products = [], []
for depth in depths:
    peak, (_, directional_rule) = peak_bytes(
        lambda: torch.func.jvp(lambda h: network_with_rule(h, depth).sum(), (x,), (u,))
    )
    rule_peak.append(peak)
    rule_products.append(
        matrix_products(
            lambda: torch.func.jvp(
                lambda h: network_with_rule(h, depth).sum(), (x,), (u,)
            )
        )
    )
    # the hand JVP's operations: within the sum of the two sides' rounding
    # bounds, asserted below 1e-7 above, so assert_close's float64 defaults
    torch.testing.assert_close(directional_rule, network_jvp_by_hand(x, u, depth)[1])

print(
    "reverse peak - saved, in bytes:",
    sorted({peak - saved for peak, saved in zip(reverse_peak, reverse_saved)}),
)
for name, peak in (("func.jvp", forward_peak), ("by hand", hand_peak)):
    print(
        f"{name} peak at depth 16: {peak[-1] // activation_bytes} activations"
        f" + {peak[-1] % activation_bytes} bytes"
    )
print(
    f"TimesWeight peak at depth 16: {rule_peak[-1] // activation_bytes} activations"
    f" + {rule_peak[-1] % activation_bytes} bytes"
)
print("forward_ad dual numbers: peaks", dual_peak)
print(
    "matrix products per layer: forward_ad",
    sorted({count // depth for count, depth in zip(products["forward_ad"], depths)}),
    " by hand",
    sorted({count // depth for count, depth in zip(products["by hand"], depths)}),
    " TimesWeight",
    sorted({count // depth for count, depth in zip(rule_products, depths)}),
)
func_jvp_block = largest_block(
    lambda: torch.func.jvp(lambda h: network(h, 4).sum(), (x,), (u,))
)
rule_block = largest_block(
    lambda: torch.func.jvp(lambda h: network_with_rule(h, 4).sum(), (x,), (u,))
)
hand_block = largest_block(lambda: network_jvp_by_hand(x, u, 4))
print(
    f"largest block allocated: func.jvp {func_jvp_block},"
    f" TimesWeight {rule_block}, by hand {hand_block}"
)
assert all(
    peak - saved == activation_bytes + 2 * 8
    for peak, saved in zip(reverse_peak, reverse_saved)
)
assert all(a < b for a, b in zip(reverse_peak, reverse_peak[1:])), (
    "reverse mode's peak grows with depth"
)
assert hand_peak[0] == 4 * activation_bytes, "depth 1: four activations"
assert forward_peak[0] == 4 * activation_bytes + 8, "depth 1: four, and 8 bytes"
assert forward_peak[1:] == [6 * activation_bytes + 8] * 4, (
    "func.jvp, from depth 2 on: six and 8 bytes, whatever the depth"
)
assert hand_peak[1:] == [5 * activation_bytes] * 4, (
    "by hand, from depth 2 on: five, whatever the depth"
)
assert dual_peak == forward_peak, "forward_ad: the same peaks as func.jvp"
assert rule_peak == [peak - 8 for peak in forward_peak], (
    "no zero products: the same buffers, without the 8-byte scalar"
)
assert products["by hand"] == rule_products == [2 * depth for depth in depths]
assert products["forward_ad"] == [3 * depth for depth in depths], (
    "one more product per layer than by hand"
)
assert func_jvp_block == n * n * 8, "func.jvp: an n x n matrix"
assert rule_block == hand_block == activation_bytes, "the others: one activation"
assert forward_peak[2] > reverse_peak[2] and forward_peak[3] < reverse_peak[3], (
    "func.jvp: crossing between 4 and 8"
)
assert hand_peak[1] > reverse_peak[1] and hand_peak[2] == reverse_peak[2] - 2 * 8, (
    "by hand: equal at depth 4"
)

# %%
# .. _checkpointing-recompute:
#
# Checkpointing: recompute instead of keeping
# -------------------------------------------
#
# :func:`torch.utils.checkpoint.checkpoint` runs a segment of the network
# without saving anything inside it; it keeps only the segment's input, and
# runs the segment again in the backward pass, when its VJPs need the saved
# tensors. Cutting :math:`L = 16` layers into segments of length :math:`k`
# keeps the :math:`L/k` segment inputs, of which the first is :math:`x`
# itself, so :math:`(L/k - 1) \cdot 8Bn` bytes are allocated and kept. The
# price: every layer runs twice, :math:`2L` layer calls instead of
# :math:`L` (counted by the layer function itself). The gradient is the
# same. By default each checkpoint also keeps a copy of the random number
# generator's state (:func:`torch.get_rng_state`), to draw the same numbers
# when it recomputes, and while it recomputes it holds one copy more: the
# state of that moment, to put back afterwards. This network draws no random
# numbers, so the segments below are checkpointed with
# ``preserve_rng_state=False`` (what the default adds is measured after the
# loop: four kept states and the one taken during a recomputation).

depth = 16
layer_calls = 0
(plain_gradient,) = torch.autograd.grad(network(x_leaf, depth).sum(), x_leaf)
assert layer_calls == depth
segment_lengths = [1, 2, 4, 8, 16]
checkpoint_saved, checkpoint_peak, checkpoint_calls = [], [], []


def checkpointed(h, k, preserve_rng_state=False, use_reentrant=False):
    for start in range(0, depth, k):
        h = checkpoint(
            lambda h, start=start: network_slice(h, start, k),
            h,
            use_reentrant=use_reentrant,
            preserve_rng_state=preserve_rng_state,
        )
    return h


def network_slice(h, start, k):
    for weight in weights[start : start + k]:
        h = layer(h, weight)
    return h


for k in segment_lengths:
    _, _, kept = saved_bytes(
        lambda: checkpointed(x_leaf, k).sum(), existing=[x_leaf, *weights]
    )
    checkpoint_saved.append(kept)
    layer_calls = 0
    peak, (gradient,) = peak_bytes(
        lambda: torch.autograd.grad(checkpointed(x_leaf, k).sum(), x_leaf)
    )
    checkpoint_peak.append(peak)
    checkpoint_calls.append(layer_calls)
    # Same operations on the same numbers, recomputed (the same kernels, forward
    # and backward): bit-identical on any one machine; 1e-12 is only slack.
    torch.testing.assert_close(gradient, plain_gradient, rtol=1e-12, atol=1e-12)

print(
    f"no checkpoint: {reverse_saved[-1]} bytes saved, peak {reverse_peak[-1]},"
    f" {depth} layer calls"
)
for k, saved, peak, calls in zip(
    segment_lengths, checkpoint_saved, checkpoint_peak, checkpoint_calls
):
    print(
        f"segments of {k:>2}: {saved:>6} bytes saved, peak {peak:>6},"
        f" {calls} layer calls"
    )
assert checkpoint_calls == [2 * depth] * len(segment_lengths), (
    "every layer should run twice"
)
assert checkpoint_saved == [
    (depth // k - 1) * activation_bytes for k in segment_lengths
]
assert min(checkpoint_peak) < reverse_peak[-1], "checkpointing should lower the peak"

rng_state_bytes = torch.get_rng_state().nbytes
peak_with_rng_states, _ = peak_bytes(
    lambda: torch.autograd.grad(
        checkpointed(x_leaf, 4, preserve_rng_state=True).sum(), x_leaf
    )
)
print(
    f"segments of  4, default preserve_rng_state=True: peak {peak_with_rng_states},"
    f" {(peak_with_rng_states - checkpoint_peak[2]) / rng_state_bytes:g}"
    f" x {rng_state_bytes} bytes more"
)
assert (
    peak_with_rng_states - checkpoint_peak[2] == (depth // 4 + 1) * rng_state_bytes
), "one state per checkpoint, and one more while a segment is recomputed"

# %%
# Saved bytes fall as segments get longer, but the peak does not follow:
# during the backward pass one segment at a time is recomputed, and its
# :math:`k` activations are alive together with the :math:`L/k - 1` kept
# segment inputs and one temporary: :math:`(L/k + k) \cdot 8Bn` bytes, plus
# the two scalars. Both extremes end at the peak of no checkpointing
# (segments of 1 keep every layer's input, almost what reverse mode keeps
# anyway; one segment of 16 recomputes all 16 layers at once). The lowest
# peak is in between, at :math:`k = \sqrt{L}`, the classic choice.

best = segment_lengths[checkpoint_peak.index(min(checkpoint_peak))]
print("lowest peak with segments of", best)
assert checkpoint_peak == [
    (depth // k + k) * activation_bytes + 2 * 8 for k in segment_lengths
]
assert checkpoint_peak[0] == checkpoint_peak[-1] == reverse_peak[-1], (
    "the extremes gain nothing"
)
assert best == 4 == depth**0.5, "the lowest peak should be at k = sqrt(L)"

# %%
# .. _checkpoint-autograd-grad:
#
# Checkpointing with ``autograd.grad`` and double backward
# --------------------------------------------------------
#
# Every checkpoint above passes ``use_reentrant=False``. With
# ``use_reentrant=True``, the older implementation, a checkpoint is an
# :class:`~torch.autograd.Function` whose backward recomputes the segment,
# runs a backward pass of its own over it with
# :func:`torch.autograd.backward`, and returns what that pass left in the
# ``.grad`` of the segment's input. It refuses :func:`torch.autograd.grad`
# (and ``.backward(inputs=...)``):

try:
    torch.autograd.grad(checkpointed(x_leaf, 4, use_reentrant=True).sum(), x_leaf)
    raise AssertionError("the reentrant checkpoint accepted autograd.grad")
except RuntimeError as error:
    message = str(error)
    print(textwrap.fill("RuntimeError: " + message, width=86))
    assert "torch.utils.checkpoint is incompatible with .grad()" in message

# %%
# ``use_reentrant=False`` works with :func:`torch.autograd.grad` (the loop
# above) and also differentiates twice: the Hessian-vector product
# :math:`Hu` of :math:`y`, from ``create_graph=True`` and a second
# ``autograd.grad``, is the one without checkpointing. The price grows
# again: the second backward pass recomputes every segment once more,
# :math:`3L` layer calls in all.
#
# The reentrant checkpoint goes wrong instead, quietly when the loss has
# another term. Its inner backward pass
# builds no graph, even under ``loss.backward(create_graph=True)``, so the
# gradient it returns is a constant to the second backward pass. If the loss
# has no other term, the gradient has no graph at all, and a second
# ``autograd.grad`` raises; if it has one, the second derivative silently
# leaves out the checkpointed segment. Below the loss is :math:`y` plus
# :math:`\lVert x \rVert^2`, whose HVP is :math:`2u`, and :math:`2u` is all
# the reentrant route returns. (``backward(create_graph=True)`` into a
# leaf also warns about a reference cycle,
# :ref:`backward-create-graph-reference-cycle`; the cell silences that
# warning and clears ``.grad``.)


def hessian_vector_product(output_of):
    """(H u, layer calls) for y = OUTPUT_OF(x).sum(), by double backward."""
    global layer_calls
    layer_calls = 0
    output = output_of(x_leaf).sum()
    (gradient,) = torch.autograd.grad(output, x_leaf, create_graph=True)
    (product,) = torch.autograd.grad((gradient * u).sum(), x_leaf)
    return product, layer_calls


plain_hvp, plain_hvp_calls = hessian_vector_product(lambda h: network(h, depth))
checkpoint_hvp, checkpoint_hvp_calls = hessian_vector_product(
    lambda h: checkpointed(h, 4)
)

x_reentrant = x.clone().requires_grad_()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the reference-cycle warning (see above)
    loss = checkpointed(x_reentrant, 4, use_reentrant=True).sum()
    (loss + (x_reentrant**2).sum()).backward(create_graph=True)
    reentrant_gradient, x_reentrant.grad = x_reentrant.grad, None
    checkpointed(x_reentrant, 4, use_reentrant=True).sum().backward(create_graph=True)
    alone_has_graph, x_reentrant.grad = x_reentrant.grad.requires_grad, None
(reentrant_hvp,) = torch.autograd.grad((reentrant_gradient * u).sum(), x_reentrant)

print(
    f"layer calls for H u: {plain_hvp_calls} without checkpoints,"
    f" {checkpoint_hvp_calls} with (L = {depth})"
)
print(f"largest |entry| of H u: {plain_hvp.abs().max().item():.2f}")
print(
    "reentrant, loss y + |x|^2: max |HVP - 2u| ="
    f" {(reentrant_hvp - 2 * u).abs().max().item():.1e}"
)
print("reentrant, loss y alone: does the gradient have a graph?", alone_has_graph)
assert (plain_hvp_calls, checkpoint_hvp_calls) == (depth, 3 * depth)
assert not alone_has_graph
# The same operations on the same numbers, recomputed, as for the gradient above:
# bit-identical on any one machine; 1e-12 is only slack.
torch.testing.assert_close(checkpoint_hvp, plain_hvp, rtol=1e-12, atol=1e-12)
# the first derivative is right: y's gradient plus 2x ...
torch.testing.assert_close(reentrant_gradient, plain_gradient + 2 * x)
# ... the second is the HVP of |x|^2 alone: H u is missing
torch.testing.assert_close(reentrant_hvp, 2 * u)
assert plain_hvp.abs().max() > 1, "and H u is not small"

# %%
# .. _torch-func-memory-chunk-size:
#
# ``torch.func``: no hooks, and ``chunk_size``
# --------------------------------------------
#
# The ``torch.func`` transforms that build a VJP refuse saved-tensor hooks,
# so only the profiler's count works inside them.

try:
    saved_bytes(lambda: torch.func.jacrev(torch.sin)(x[0]), existing=[x])
    raise AssertionError("torch.func accepted saved-tensor hooks")
except RuntimeError as error:
    print(textwrap.fill("RuntimeError: " + str(error).split(". ")[0], width=86))

# %%
# :func:`torch.func.jacrev` computes :math:`J \in \mathbb{R}^{m \times n}` as
# :math:`m` VJPs batched with ``vmap``, so the backward pass carries a batch
# of :math:`m` cotangents through every layer. ``chunk_size = c`` splits them
# into batches of :math:`c`: the same VJPs, with :math:`c` cotangents alive
# instead of :math:`m`. That matters when the layers are wide compared with
# the Jacobian, as here: one sample, :math:`n = m = 16`, hidden width 256,
# 4 layers (``chunk_size=16`` is all :math:`m` at once).
# :func:`torch.func.jacfwd` (no ``chunk_size`` argument) carries :math:`n`
# tangents through every layer instead, with their temporaries, and, as
# above, multiplies by each weight's zero tangent, copied into a dense
# matrix: here a :math:`256 \times 256` one, 512 KiB, more than half of
# its peak. With ``TimesWeight`` in place of the products, ``jacfwd``
# carries the same tangents without the zero products, and its peak falls
# below a fifth of that: what the tangents and their temporaries take, still
# above ``jacrev``'s.
# Every chunk size does the same :math:`m` VJPs, each with the
# matrix-product FLOPs of one forward pass, one product per layer, because
# the weights here are constants and only the sample is differentiated
# (were the weights differentiated too, each VJP would also multiply out
# their gradients, a second product per layer). The site's tests count the
# FLOPs with ``FlopCounterMode`` (``tests/test_torch_claims.py``), which
# counts matrix products and convolutions, not elementwise operations such
# as ``tanh``.
#
# The reference is the Jacobian multiplied out by hand, layer by layer:
# :math:`J = J_{L-1} \cdots J_0` with
# :math:`J_l = \operatorname{diag}(1 - h_{l+1}^2)\, W_l^\top`; from the
# same matrices the cell computes the rounding bound the comparison allows.

width, narrow = 256, 16
shapes = [(narrow, width), (width, width), (width, width), (width, narrow)]
wide_weights = [
    torch.randn(*shape, generator=generator, dtype=torch.float64) / shape[0] ** 0.5
    for shape in shapes
]
sample = torch.randn(narrow, generator=generator, dtype=torch.float64)


def wide_network(h):
    for weight in wide_weights:
        h = torch.tanh(h @ weight)
    return h


expected_jacobian = torch.eye(narrow, dtype=torch.float64)
abs_layer_jacobians = []  # |J_l|, for the rounding bound below
h = sample
for weight in wide_weights:
    h = torch.tanh(h @ weight)
    # sphinx_gallery_break = ("**2", "")
    expected_jacobian = (1 - h**2)[:, None] * weight.T @ expected_jacobian
    abs_layer_jacobians.append(((1 - h**2)[:, None] * weight.T).abs())


def largest_entry_of_product(matrices):
    """max entry of matrices[-1] @ ... @ matrices[0]."""
    product = matrices[0]
    for matrix in matrices[1:]:
        product = matrix @ product
    return product.max().item()


# The rounding bound for comparing a computed Jacobian with the hand one. Each
# side multiplies the layer Jacobians J_l = diag(1 - h_{l+1}^2) W_l^T (or pushes
# vectors through them) with sums of 16, 256, 256 and 256 terms: to first order
# within (16 + 3 x 256 + 4) eps x the entries of |J_3||J_2||J_1||J_0|, plus, for
# each l, eps x that product with |W_l^T| for |J_l| (1 - h^2 is rounded to within eps).
eps = torch.finfo(torch.float64).eps
chain = largest_entry_of_product(abs_layer_jacobians)  # |J_3||J_2||J_1||J_0|
with_abs_weights = [
    largest_entry_of_product(
        abs_layer_jacobians[:layer]
        + [weight.T.abs()]
        + abs_layer_jacobians[layer + 1 :]
    )
    for layer, weight in enumerate(wide_weights)
]
bound_one_side = (narrow + 3 * width + 4) * eps * chain + eps * sum(with_abs_weights)
print(
    f"largest entry of |J_3||J_2||J_1||J_0|: {chain:.0f};"
    f" with |W_l^T| for |J_l|: {max(with_abs_weights):.0f};"
)
print(f"bound for both sides {2 * bound_one_side:.1e}")
# The bound from the maths just above, for both sides: inside the atol of 1e-10 used
# below.
assert 2 * bound_one_side < 1e-10

chunk_sizes = [16, 8, 4, 2, 1]
jacrev_peak = []
for chunk_size in chunk_sizes:
    peak, jacobian = peak_bytes(
        lambda: torch.func.jacrev(wide_network, chunk_size=chunk_size)(sample)
    )
    jacrev_peak.append(peak)
    # Within the rounding bound computed above (2 x bound_one_side, asserted below
    # 1e-10), so atol widened from 1e-12 to 1e-10.
    torch.testing.assert_close(jacobian, expected_jacobian, rtol=1e-12, atol=1e-10)
jacfwd_peak, jacobian = peak_bytes(lambda: torch.func.jacfwd(wide_network)(sample))
# the same bound
torch.testing.assert_close(jacobian, expected_jacobian, rtol=1e-12, atol=1e-10)
jacfwd_block = largest_block(lambda: torch.func.jacfwd(wide_network)(sample))


def wide_network_with_rule(h):
    for weight in wide_weights:
        h = torch.tanh(TimesWeight.apply(h, weight))
    return h


jacfwd_rule_peak, jacobian = peak_bytes(
    lambda: torch.func.jacfwd(wide_network_with_rule)(sample)
)
# the same bound
torch.testing.assert_close(jacobian, expected_jacobian, rtol=1e-12, atol=1e-10)

for chunk_size, peak in zip(chunk_sizes, jacrev_peak):
    print(f"jacrev, chunk_size={chunk_size:>2}: peak {peak:>6} bytes")
print(f"jacfwd:                peak {jacfwd_peak:>6} bytes")
print(f"jacfwd's largest block: {jacfwd_block} bytes, a {width} x {width} matrix")
print(f"jacfwd with TimesWeight: peak {jacfwd_rule_peak:>6} bytes")
assert all(a > b for a, b in zip(jacrev_peak, jacrev_peak[1:])), (
    "smaller chunks, lower peak"
)
assert jacfwd_peak > max(jacrev_peak)
assert jacfwd_block == width * width * 8 > jacfwd_peak / 2, (
    "most of jacfwd's peak is one dense copy of a zero tangent"
)
assert max(jacrev_peak) < jacfwd_rule_peak < jacfwd_peak / 5, (
    "without the zero products: under a fifth, still above jacrev"
)

# %%
# A small ``chunk_size`` costs no extra matrix-product FLOPs (the tests'
# count is the same for every :math:`c`), but the VJPs run as :math:`m / c`
# separate batches instead of one.
#
# .. _vmap-over-checkpoint:
#
# ``torch.func`` over a checkpointed network
# ------------------------------------------
#
# Inside a function handed to a ``torch.func`` transform, each kind of
# checkpoint meets a limit. ``use_reentrant=False`` is built on saved-tensor
# hooks, which :func:`torch.func.grad`, :func:`torch.func.vjp` and
# :func:`torch.func.jacrev` refuse (as above). ``use_reentrant=True`` is an
# :class:`~torch.autograd.Function` without a ``setup_context`` method, and
# no transform accepts one, not even :func:`torch.func.vmap` alone. And
# ``vmap`` of the non-reentrant checkpoint runs forward, but an ordinary
# backward pass through its output fails: the segments are recomputed
# there, outside ``vmap``, from the inputs the checkpoint kept, which are
# ``vmap``'s batched tensors (the error is raised inside a layer). The cell
# tries the three on four samples.

samples = x[:4]
samples_leaf = samples.clone().requires_grad_()


def checkpointed_sum(use_reentrant):
    return lambda h: checkpointed(h, 4, use_reentrant=use_reentrant).sum()


def vmap_then_backward():
    outputs = torch.func.vmap(checkpointed_sum(False))(samples_leaf)
    return torch.autograd.grad(outputs.sum(), samples_leaf)


attempts = {  # name: (what runs, the stable part of torch's message)
    "vmap(grad(f)), use_reentrant=False": (
        lambda: torch.func.vmap(torch.func.grad(checkpointed_sum(False)))(samples),
        "don't yet support saved tensor hooks",
    ),
    "vmap(f), use_reentrant=True": (
        lambda: torch.func.vmap(checkpointed_sum(True))(samples),
        "must override the setup_context staticmethod",
    ),
    "vmap(f), use_reentrant=False, then autograd.grad": (
        vmap_then_backward,
        "your tensor may have escaped from inside a function being vmapped",
    ),
}
for name, (attempt, stable_part) in attempts.items():
    try:
        attempt()
        raise AssertionError(f"{name} ran")
    except RuntimeError as error:
        print(name + ":")
        message = str(error).split(" For more details")[0]
        print(
            textwrap.fill(
                "RuntimeError: " + message,
                width=86,
                initial_indent="  ",
                subsequent_indent="  ",
            )
        )
        assert stable_part in str(error), str(error)

# %%
# Forward mode records no backward graph, so under :func:`torch.func.jacfwd`
# a checkpoint has nothing to recompute: ``vmap(jacfwd(f))`` runs with
# ``use_reentrant=False``, calls each layer once, and gives the per-sample
# gradients. Since the samples are independent, those are the rows of the
# gradient of the whole batch, ``plain_gradient`` above, from one ordinary
# backward pass, where checkpointing works. Under ``jacfwd`` the checkpoint
# saves no memory: the profiler's peak is higher with it than without.

forward_mode = {}
for name, function in (
    ("without checkpoints", lambda h: network(h, depth).sum()),
    ("with checkpoints", checkpointed_sum(False)),
):
    layer_calls = 0
    peak, per_sample_gradient = peak_bytes(
        lambda: torch.func.vmap(torch.func.jacfwd(function))(samples)
    )
    forward_mode[name] = peak, layer_calls
    print(f"vmap(jacfwd), {name}: {layer_calls} layer calls, peak {peak} bytes")
    # Forward mode multiplies the same layer Jacobians in the other order: the two
    # differ by rounding of order 16 layers x 64-term sums x eps x entries of size
    # about 1, some 1e-13, far inside assert_close's float64 defaults.
    torch.testing.assert_close(per_sample_gradient, plain_gradient[:4])
assert all(calls == depth for _, calls in forward_mode.values()), "no recomputation"
assert forward_mode["with checkpoints"][0] > forward_mode["without checkpoints"][0]

# %%
# The picture
# -----------
#
# The bytes counted above: saved and peak by depth for reverse mode, with
# the peaks of one JVP (top); saved and peak with checkpointing (bottom
# left); and the peak of ``jacrev`` by chunk size, with ``jacfwd``'s, most
# of which is the dense copy of a weight's zero tangent, and ``jacfwd``'s
# with ``TimesWeight`` (bottom right).


def kib(values):
    return [value / 1024 for value in values]


def bars(ax, ticks, series, xlabel, title):
    """Side-by-side bars, one group a tick, one bar a (label, values) series."""
    width = 0.8 / len(series)
    for index, (label, values) in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * width
        ax.bar(
            [p + offset for p in range(len(ticks))],
            kib(values),
            width=width,
            label=label,
        )
    ax.set_xticks(range(len(ticks)), [str(t) for t in ticks])
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)


fig, axes = plt.subplot_mosaic(
    [["depth", "depth"], ["checkpoint", "chunk"]],
    figsize=(7.2, 6.8),
    layout="constrained",
)
axes = [axes["depth"], axes["checkpoint"], axes["chunk"]]
bars(
    axes[0],
    depths,
    [("reverse: saved", reverse_saved), ("reverse: peak", reverse_peak)],
    "depth $L$",
    "gradient (reverse) vs one JVP (forward)",
)
axes[0].plot(
    range(len(depths)),
    kib(forward_peak),
    "o-",
    color="C2",
    label="func.jvp: peak (saved 0)",
)
axes[0].plot(
    range(len(depths)),
    kib(hand_peak),
    "s--",
    color="C4",
    label="JVP by hand: peak (saved 0)",
)
for ax in axes[:2]:
    ax.set_ylabel("KiB of tensors")
bars(
    axes[1],
    segment_lengths,
    [("saved", checkpoint_saved), ("peak", checkpoint_peak)],
    "checkpoint segment length $k$",
    "checkpointing, $L = 16$",
)
axes[1].axhline(
    reverse_peak[-1] / 1024, color="0.4", ls="--", lw=1, label="peak, no checkpoint"
)
axes[1].set_ylim(0, 1.45 * reverse_peak[-1] / 1024)
bars(
    axes[2],
    chunk_sizes,
    [("jacrev: peak", jacrev_peak)],
    "jacrev chunk_size $c$ ($m = 16$)",
    "Jacobian $16 \\times 16$, width 256",
)
for peak, style, label in (
    (jacfwd_peak, "C3--", "jacfwd: peak (512 KiB of zeros)"),
    (jacfwd_rule_peak, "C4:", "jacfwd, TimesWeight: peak"),
):
    axes[2].axhline(peak / 1024, color=style[:2], ls=style[2:], lw=1.2, label=label)
axes[2].set_ylim(0, 1.3 * jacfwd_peak / 1024)
for ax, corner in zip(axes, ["upper left", "upper center", "upper center"]):
    ax.legend(fontsize=9, loc=corner)
plt.show()

# %%
# What to remember
# ----------------
#
# * Reverse mode keeps what its VJPs need, here every layer's output:
#   :math:`8LBn` bytes, growing with depth. Count it per storage, not per
#   saved tensor, and leave out the weights and inputs that exist anyway.
# * Forward mode keeps nothing, but carries tangents and their temporaries,
#   and gives one direction per pass. PyTorch's forward-mode AD
#   (``torch.func.jvp`` and ``torch.autograd.forward_ad`` alike) computes
#   each operation's tangent inside its call, so a layer's input, product
#   and output are alive with their tangents; it also multiplies by the zero
#   tangents of constants in operations without a kernel for zero tensors,
#   such as ``mm``, which on a CPU copies the zero into a dense matrix first.
#   ``jacrev``'s ``chunk_size`` and checkpointing lower the peak by doing the
#   same work in pieces or twice.
# * Checkpoint with ``use_reentrant=False``: it works with ``autograd.grad``
#   and double backward (each backward pass recomputes the segments), where
#   the reentrant one refuses ``autograd.grad`` and silently drops its
#   segment from second derivatives. No checkpoint works under
#   ``torch.func``'s reverse-mode transforms; under ``jacfwd`` it recomputes
#   nothing and saves no memory.
# * On a CPU, measure memory deterministically: saved-tensor hooks for what
#   the graph keeps, the profiler's memory records (the allocator's running
#   total) for the peak of live tensor bytes.
#
# Next: :ref:`sphx_glr_auto_examples_under_the_hood_plot_03_vjps_under_torch_compile.py`.
# Reference: :class:`torch.autograd.graph.saved_tensors_hooks`,
# :func:`torch.utils.checkpoint.checkpoint`, :func:`torch.func.jvp`,
# :mod:`torch.autograd.forward_ad`, :func:`torch.func.jacrev`,
# :func:`torch.func.jacfwd`, :func:`torch.autograd.grad`,
# :class:`torch.profiler.profile`, :class:`torch.autograd.Function`,
# :func:`torch.get_rng_state`.
