r"""
The forward and backward graphs that torch.compile traces
=========================================================

Eager autograd records its chain of VJP nodes while the forward pass runs
and walks it afterwards. :func:`torch.compile` works ahead of time instead:
AOTAutograd traces the forward pass *and* its VJPs into one joint graph of
ATen operations, cuts it into a forward graph and a backward graph, and
hands both to a compiler. Which operations end up in the backward graph,
which tensors cross from one graph to the other, and are the gradients
those of eager mode? (And what of double backward, and of ``torch.func``
transforms, under :func:`torch.compile`?) This page captures both graphs
with the ``aot_eager`` recipe and with ``aot_eager_decomp_partition``,
which adds inductor's decomposition table. Both run the graphs without
generating code, so no C++ compiler is needed.
"""

# %%
# The maths
# ---------
#
# The function of the first page of this section, for
# :math:`x, w \in \mathbb{R}^n`:
#
# .. math::
#
#    y = \sum_i \sin(x_i)\, w_i, \qquad
#    v_p = v_y \mathbf{1}, \quad
#    \bar w = v_p \odot \sin x, \quad
#    \bar x = (v_p \odot w) \odot \cos x,
#
# with :math:`v_y \in \mathbb{R}` the incoming :math:`v` (AOTAutograd calls
# it a *tangent*) and :math:`\bar x, \bar w \in \mathbb{R}^n` the VJPs.
# The backward graph has to compute exactly these: one ``expand`` (the VJP
# of the sum), two products (the VJP of :math:`s \odot w`), a ``cos`` and a
# product (the VJP of :math:`\sin`). The choice left to the compiler is what
# the backward graph gets from the forward graph: :math:`\sin x` can be
# saved (:math:`8n` bytes in float64) or computed again from :math:`x`,
# which the backward graph needs anyway for :math:`\cos x`.

# %%
# Capturing the graphs
# --------------------
#
# A backend built with ``aot_autograd`` receives the joint graph in its
# *partition function*, and the two halves in its forward and backward
# compilers. Among the backends registered in torch 2.13's
# `torch/_dynamo/backends/debugging.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_dynamo/backends/debugging.py>`__
# are two whose compilers return the graphs unchanged:
#
# * ``backend="aot_eager"``: ``min_cut_rematerialization_partition`` and
#   ``keep_inference_input_mutations=True``;
# * ``backend="aot_eager_decomp_partition"``: the same min-cut partitioner,
#   with inductor's decomposition table, ``select_decomp_table()``, which
#   rewrites some ATen operations into simpler ones before the cut. Torch
#   passes this partitioner ``compiler="inductor"``, which changes nothing:
#   it is the argument's default (checked below), so ``aot_eager`` gets it
#   too. These are inductor's decompositions and partitioner, without
#   inductor's own graph passes (section "What inductor adds" below) and
#   its code generation.
#
# The backend below takes the same recipes, with compilers and a partition
# function that also keep what they are given; ``default_partition`` is the
# other partitioner, for comparison. One setting of the built-in
# ``aot_eager_decomp_partition`` is left out: it compiles under
# ``functorch_config.patch({"unlift_effect_tokens": True})``, which moves
# the *effect tokens* that order operations with side effects
# (``with_effects`` nodes) from the graphs' inputs and outputs into the
# graphs. None of this page's functions has a side effect, so its graphs
# hold no tokens (checked below) and the setting changes nothing here.

import collections
import inspect
import textwrap

import matplotlib.pyplot as plt
import torch
from functorch.compile import make_boxed_func
from torch._dynamo.backends.common import aot_autograd
from torch._functorch.partitioners import (
    default_partition,
    get_default_op_list,
    min_cut_rematerialization_partition,
)
from torch._inductor.compile_fx import select_decomp_table
from torch.autograd.graph import saved_tensors_hooks

# Start from a clean compilation cache.
torch._dynamo.reset()

RECIPES = {  # name: (partition function, further aot_autograd options)
    "min-cut (aot_eager)": (
        min_cut_rematerialization_partition,
        {"keep_inference_input_mutations": True},
    ),
    "default": (default_partition, {"keep_inference_input_mutations": True}),
    "decomposed (aot_eager_decomp_partition)": (
        min_cut_rematerialization_partition,
        {"decompositions": select_decomp_table()},
    ),
}
compiler_default = (
    inspect.signature(min_cut_rematerialization_partition)
    .parameters["compiler"]
    .default
)
print(
    "min_cut_rematerialization_partition's compiler argument defaults to",
    repr(compiler_default),
)
assert compiler_default == "inductor"


def capturing_backend(recipe, graphs):
    partition, options = RECIPES[recipe]

    def keep(name):
        def compiler(graph_module, example_inputs):
            graphs[name] = graph_module
            # run the graph as it is, like aot_eager
            return make_boxed_func(graph_module.forward)

        return compiler

    def partition_fn(joint_module, joint_inputs, **kwargs):
        graphs["joint"] = joint_module
        return partition(joint_module, joint_inputs, **kwargs)

    return aot_autograd(
        fw_compiler=keep("forward"),
        bw_compiler=keep("backward"),
        partition_fn=partition_fn,
        **options,
    )


def f(x, w):
    return (torch.sin(x) * w).sum()


n = 1000
generator = torch.Generator().manual_seed(0)
x = torch.randn(n, generator=generator, dtype=torch.float64, requires_grad=True)
w = torch.randn(n, generator=generator, dtype=torch.float64, requires_grad=True)


def op_counts(graph_module):
    return collections.Counter(
        node.target.overloadpacket.__name__
        for node in graph_module.graph.nodes
        if node.op == "call_function"
    )


def ops_text(counts):
    return ", ".join(f"{op} {count}" for op, count in counts.items())


def capture(function, recipe, *inputs):
    """Compile FUNCTION with RECIPE, run it forward and backward once: (compiled
    function, its graphs)."""
    graphs = {}
    compiled = torch.compile(
        function, backend=capturing_backend(recipe, graphs), fullgraph=True
    )
    output = compiled(*inputs)  # the first call compiles the forward graph ...
    # ... the backward pass the backward one
    torch.autograd.grad(output, [t for t in inputs if t.requires_grad])
    return compiled, graphs


graphs, compiled = {}, {}
for name in RECIPES:
    compiled[name], graphs[name] = capture(f, name, x, w)


def effect_tokens(graph_module):
    return [
        node
        for node in graph_module.graph.nodes
        if "with_effects" in str(node.target) or "token" in node.name
    ]


assert not any(
    effect_tokens(graph) for captured in graphs.values() for graph in captured.values()
), "no side effects, no effect tokens"


def show(graph_module):
    """One line per ATen operation: result = op(arguments)."""
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            print(f"    input  {node.name}")
        elif node.op == "call_function":
            arguments = ", ".join(str(a) for a in node.args)
            print(
                f"    {node.name} = {node.target.overloadpacket.__name__}({arguments})"
            )
        elif node.op == "output":
            print(f"    output {', '.join(str(a) for a in node.args[0])}")


print("joint graph (primals_1 = x, primals_2 = w, tangents_1 = v_y):")
show(graphs["min-cut (aot_eager)"]["joint"])

# %%
# The joint graph is the forward pass followed by the VJPs of page one,
# as ATen operations: ``expand`` is ``SumBackward0``, ``mul_1`` and
# ``mul_2`` are ``MulBackward0``, ``cos`` and ``mul_3`` are
# ``SinBackward0``. Its outputs are :math:`y` and the two VJPs.
#
# Which operations end up in the backward
# ---------------------------------------
#
# Each partitioner cuts the joint graph in two. The forward graph returns
# :math:`y` followed by the tensors the backward graph needs; those are the
# backward graph's first inputs.

for name in ("min-cut (aot_eager)", "default"):
    print(f"--- {name} partition")
    print("  forward graph:")
    show(graphs[name]["forward"])
    print("  backward graph:")
    show(graphs[name]["backward"])
backward_ops = {
    name: op_counts(captured["backward"]) for name, captured in graphs.items()
}

# %%
# The VJP operations are in both backward graphs; the min-cut partitioner
# of ``aot_eager`` also moves ``sin`` there: it computes :math:`\sin x` a
# second time rather than keep it, the trade of activation checkpointing on
# the previous page, made automatically. It gains here because :math:`x`
# crosses to the backward graph anyway (the VJP of :math:`\sin` needs
# :math:`\cos x`): recomputing :math:`\sin x` hands over one tensor fewer.
# For this function inductor's decompositions change nothing: the
# ``aot_eager_decomp_partition`` recipe gives the same backward graph.

vjp_ops = collections.Counter({"expand": 1, "mul": 3, "cos": 1})
assert backward_ops["default"] == vjp_ops, backward_ops["default"]
assert backward_ops["min-cut (aot_eager)"] == vjp_ops + collections.Counter({"sin": 1})
assert (
    backward_ops["decomposed (aot_eager_decomp_partition)"]
    == backward_ops["min-cut (aot_eager)"]
)
print("backward ops:")
for name, counts in backward_ops.items():
    print(f"  {name + ':':<41} {ops_text(counts)}")

# %%
# For :math:`\sum_i e^{x_i} w_i` the two recipes differ. The VJP of
# :math:`\exp` needs :math:`e^x` itself, not :math:`x`, so one tensor of
# :math:`n` numbers besides :math:`w` crosses either way: :math:`e^x`, or
# :math:`x` to compute :math:`e^x` again from. ``aot_eager`` keeps
# :math:`e^x` and recomputes nothing; ``aot_eager_decomp_partition`` hands
# over :math:`x` and computes :math:`e^x` a second time in the backward
# graph.


def f_exp(x, w):
    return (torch.exp(x) * w).sum()


exp_graphs = {
    name: capture(f_exp, name, x, w)[1]
    for name in ("min-cut (aot_eager)", "decomposed (aot_eager_decomp_partition)")
}
print("exp, backward ops:")
for name, captured in exp_graphs.items():
    print(f"  {name + ':':<41} {ops_text(op_counts(captured['backward']))}")
assert op_counts(exp_graphs["min-cut (aot_eager)"]["backward"])["exp"] == 0, (
    "aot_eager recomputes nothing"
)
assert (
    op_counts(exp_graphs["decomposed (aot_eager_decomp_partition)"]["backward"])["exp"]
    == 1
)

# %%
# One decomposition makes the difference. In the joint graph the VJP of
# :math:`\exp` reads :math:`e^x` through ``detach`` operations (printed
# below), and inductor's table rewrites ``detach`` into ``alias``. The
# min-cut partitioner does not recompute a tensor the backward graph has
# to hold anyway; to decide, it follows the tensor's uses, looking through
# views, and counts a use it cannot fuse as holding the tensor. Its list of
# views (``recomputable_view_ops`` in
# `torch/_functorch/partitioners.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_functorch/partitioners.py>`__)
# holds ``alias`` but not ``detach``, and ``detach`` is not among the
# operations it can fuse. The cell checks both lists, and the cause both
# ways: ``aot_eager``'s recipe with the table's ``detach`` entry alone
# recomputes :math:`e^x`; the table without that entry keeps :math:`e^x`.

print("joint graph of sum(exp(x) * w) under aot_eager:")
show(exp_graphs["min-cut (aot_eager)"]["joint"])
aten = torch.ops.aten
op_types = get_default_op_list()
assert aten.alias in op_types.view_ops and aten.detach not in op_types.view_ops, (
    "alias is a view, detach is not"
)
assert aten.detach not in op_types.fusible_ops, "detach is not fusible"
table = select_decomp_table()
RECIPES["aot_eager + detach -> alias"] = (
    min_cut_rematerialization_partition,
    {
        "keep_inference_input_mutations": True,
        "decompositions": {aten.detach.default: table[aten.detach.default]},
    },
)
RECIPES["inductor's table without detach"] = (
    min_cut_rematerialization_partition,
    {
        "decompositions": {
            op: rule for op, rule in table.items() if op != aten.detach.default
        }
    },
)
for name, exps in (
    ("aot_eager + detach -> alias", 1),
    ("inductor's table without detach", 0),
):
    backward = op_counts(capture(f_exp, name, x, w)[1]["backward"])
    print(f"exp, backward ops, {name}: {ops_text(backward)}")
    assert backward["exp"] == exps, (name, backward)

# %%
# What crosses from forward to backward
# -------------------------------------
#
# The compiled function saves its tensors for backward like any autograd
# function, so the saved-tensor count of the previous page applies:
# distinct storages, leaving out the inputs :math:`x` and :math:`w`. Eager
# autograd and the default partition keep :math:`\sin x`, :math:`8n` bytes;
# ``aot_eager`` and ``aot_eager_decomp_partition`` keep nothing new. For
# :math:`\sum_i e^{x_i} w_i`, eager and ``aot_eager`` keep :math:`e^x`;
# ``aot_eager_decomp_partition``, which hands over the input :math:`x`,
# keeps nothing new.


def new_saved_bytes(run, existing):
    packed = []
    with saved_tensors_hooks(
        lambda tensor: packed.append(tensor) or tensor, lambda tensor: tensor
    ):
        result = run()
    before = {tensor.untyped_storage().data_ptr() for tensor in existing}
    storages = {
        t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in packed
    }
    return result, sum(size for key, size in storages.items() if key not in before)


runs = {
    "eager": f,
    "default partition": compiled["default"],
    'backend="aot_eager"': torch.compile(f, backend="aot_eager", fullgraph=True),
    'backend="aot_eager_decomp_partition"': torch.compile(
        f, backend="aot_eager_decomp_partition", fullgraph=True
    ),
}
saved, gradients = {}, {}
for name, run in runs.items():
    y, saved[name] = new_saved_bytes(lambda: run(x, w), existing=[x, w])
    gradients[name] = torch.autograd.grad(y, (x, w))
    print(f"{name:<20} saves {saved[name]:>5} new bytes for backward")

assert saved == {
    "eager": 8 * n,
    "default partition": 8 * n,
    'backend="aot_eager"': 0,
    'backend="aot_eager_decomp_partition"': 0,
}

exp_saved = {}
for name, backend in (
    ("eager", None),
    ('backend="aot_eager"', "aot_eager"),
    ('backend="aot_eager_decomp_partition"', "aot_eager_decomp_partition"),
):
    run = (
        f_exp
        if backend is None
        else torch.compile(f_exp, backend=backend, fullgraph=True)
    )
    y, exp_saved[name] = new_saved_bytes(lambda: run(x, w), existing=[x, w])
    torch.autograd.grad(y, (x, w))  # run the backward pass too, as above
    print(f"exp: {name:<20} saves {exp_saved[name]:>5} new bytes for backward")
assert exp_saved == {
    "eager": 8 * n,
    'backend="aot_eager"': 8 * n,
    'backend="aot_eager_decomp_partition"': 0,
}

# %%
# The checks
# ----------
#
# The gradients of eager mode and of every recipe against the formulas of
# the maths, :math:`\bar x = w \odot \cos x` and :math:`\bar w = \sin x`
# (with :math:`v_y = 1`). For this function every recipe's graphs compute
# each value with the same ATen operation as eager mode, in float64 (the op
# counts above; the min-cut backward graphs also run ``sin`` again, which
# gives the same values).

x_value, w_value = x.detach(), w.detach()
# sphinx_gallery_break = ("cos", "sin")
expected = (w_value * torch.cos(x_value), torch.sin(x_value))  # (x-bar, w-bar)
for name, grads in gradients.items():
    error = max((g - e).abs().max().item() for g, e in zip(grads, expected))
    print(f"max |{name} - formulas| = {error:.1e}")
# These backends generate no code: the graphs call the same ATen kernels as eager,
# and the formulas the same kernels again, on the same operands ((1 * w) * cos x and
# 1 * sin x, with 1 * w = w exactly; a product's factors at most swapped, which is
# exact), so the gradients are bit-identical; 1e-12 is only slack. A code-generating
# backend such as inductor may round differently, but for these elementwise formulas
# by a few eps of values below 10, still far under 1e-12.
for name, grads in gradients.items():
    torch.testing.assert_close(grads, expected, rtol=1e-12, atol=1e-12)

# %%
# A layer's backward: a matrix product per input that needs a gradient
# ---------------------------------------------------------------------
#
# For :math:`\ell = \lVert h W_2 \rVert^2`, :math:`h = \tanh(x W_1)`, with data
# :math:`x \in \mathbb{R}^{8 \times 16}` and weights
# :math:`W_1 \in \mathbb{R}^{16 \times 32}`, :math:`W_2 \in \mathbb{R}^{32 \times 4}`,
# the VJP of a product :math:`z = a W` (:math:`a` is :math:`x` or :math:`h`)
# maps the :math:`\bar z` arriving at :math:`z` to :math:`a^\top \bar z`
# for the weight and :math:`\bar z W^\top` for :math:`a`: one matrix
# product per input that needs a gradient. :math:`x` needs none, so the
# backward graph should hold three ``mm`` for the forward graph's two. Here inductor's
# decompositions do change the backward graph: ``tanh_backward``, the one
# ATen operation that is the VJP of ``tanh`` in eager autograd and under
# ``aot_eager``, becomes :math:`\bar h \odot (1 - h^2)` in ``mul`` and
# ``sub``, with :math:`\bar h` the cotangent arriving at :math:`h`; ``t``
# (transpose) becomes ``permute``, ``detach`` becomes
# ``alias``. The matrix products stay.

data = torch.randn(8, 16, generator=generator, dtype=torch.float64)
W1 = torch.randn(16, 32, generator=generator, dtype=torch.float64, requires_grad=True)
W2 = torch.randn(32, 4, generator=generator, dtype=torch.float64, requires_grad=True)


def loss(data, W1, W2):
    return (torch.tanh(data @ W1) @ W2).pow(2).sum()


compiled_loss, layer_graphs = capture(loss, "min-cut (aot_eager)", data, W1, W2)
decomposed_loss, decomposed_graphs = capture(
    loss, "decomposed (aot_eager_decomp_partition)", data, W1, W2
)
compiled_grads = torch.autograd.grad(compiled_loss(data, W1, W2), (W1, W2))
decomposed_grads = torch.autograd.grad(decomposed_loss(data, W1, W2), (W1, W2))
eager_grads = torch.autograd.grad(loss(data, W1, W2), (W1, W2))
layer_ops = {part: op_counts(layer_graphs[part]) for part in ("forward", "backward")}
decomposed_ops = {
    part: op_counts(decomposed_graphs[part]) for part in ("forward", "backward")
}
print("ATen ops per graph:")
for part in ("forward", "backward"):
    for name, ops in (("aot_eager", layer_ops), ("decomposed", decomposed_ops)):
        sorted_ops = dict(sorted(ops[part].items()))
        print(f"  {name + ',':<11} {part:>8}: {ops_text(sorted_ops)}")
for counts in (layer_ops, decomposed_ops):
    assert (counts["forward"]["mm"], counts["backward"]["mm"]) == (2, 3)
assert layer_ops["backward"]["tanh_backward"] == 1, (
    "under aot_eager, tanh's VJP is one ATen op"
)
for eager_op, decomposed_into in (
    ("tanh_backward", ("mul", "sub")),
    ("t", ("permute",)),
    ("detach", ("alias",)),
):
    assert (
        layer_ops["backward"][eager_op] >= 1
        and decomposed_ops["backward"][eager_op] == 0
    ), eager_op
    assert all(decomposed_ops["backward"][op] >= 1 for op in decomposed_into), (
        eager_op,
        decomposed_ops,
    )
# The capturing backend runs the traced graphs unchanged on ATen's kernels: the
# same products, tanh and sums as eager, on the same operands, so bit-identical
# results. (Generated kernels, as inductor's, could reorder the 32-term sums;
# then the bound, ~60 eps x absolute-value sums up to 850 = 1e-11, exceeds 1e-12.)
torch.testing.assert_close(compiled_grads, eager_grads, rtol=1e-12, atol=1e-12)

# Apart from the VJP of tanh, the decomposed graphs run eager's kernels on the same
# operands (permute gives the same strides as t; the products by 2 and by 1 are
# exact). That VJP is v (1 - y^2), with v the cotangent arriving at y = tanh(data W1).
with torch.no_grad():
    y = torch.tanh(data @ W1)
    v = 2 * (y @ W2) @ W2.T
eps = torch.finfo(torch.float64).eps
rounding_bound = 20 * eps * (data.abs().T @ v.abs()).max().item()
min_tanh_slope = (1 - y**2).min().item()
max_abs_sum = (data.abs().T @ v.abs()).max().item()
print(
    f"smallest 1 - y^2: {min_tanh_slope:.1e}; largest |data|^T |v|: {max_abs_sum:.0f}"
)
decomposed_error = max(
    (d - e).abs().max().item() for d, e in zip(decomposed_grads, eager_grads)
)
print(f"decomposed - eager: {decomposed_error:.1e} (bound {rounding_bound:.1e})")
# Where tanh saturates, 1 - y^2 is tiny and the two ways of rounding v (1 - y^2)
# (tanh_backward's kernel; mul and sub) can differ by far more than a few eps
# relative. But |y| <= 1, so 1 - y^2 is within eps absolutely, and each side's
# v (1 - y^2) is within 2 eps |v|; the 8-term products over the batch that give
# the gradient of W1 round within 8 eps a side. In all, within
# (2 x 2 + 2 x 8) eps x max(|data|^T |v|): the bound printed, inside atol 1e-11.
assert rounding_bound < 1e-11
torch.testing.assert_close(decomposed_grads, eager_grads, rtol=0, atol=1e-11)

# %%
# What inductor adds
# ------------------
#
# Inductor, the default backend of :func:`torch.compile`, uses the same
# decomposition table and the same min-cut partitioner, but also runs its
# own passes over the graphs (all in
# `torch/_inductor/compile_fx.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_inductor/compile_fx.py>`__):
#
# * pre-grad passes (``run_pre_grad_passes``) on Dynamo's graph before
#   AOTAutograd traces it, so its joint graph can differ from the one above;
# * joint-graph passes (``_recursive_joint_graph_passes``), in its partition
#   function, on the joint graph before the cut;
# * post-grad passes (``_recursive_post_grad_passes``) on the forward graph
#   and on the backward graph after the cut, before it generates code.
#
# So the graphs shown above are not, in general, the ones inductor
# compiles. Its partition function also hands the partitioner
# ``static_lifetime_input_indices``, which AOTAutograd gives every partition
# function (the capturing one above passes it on too): the inputs that live
# as long as the model, such as an ``nn.Module``'s parameters, which the
# min-cut partitioner counts as free to save
# (``treat_parameters_as_free_to_save`` in `torch/_functorch/config.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_functorch/config.py>`__;
# this and the order of the passes above, the site's tests check,
# ``tests/test_torch_claims.py``).
# This page's inputs are plain tensors, and the list is empty (checked;
# torch 2.5 does not pass it).
#
# The joint-graph and post-grad passes need no compiler, so the cell below
# runs both on this page's three functions, in the order inductor does.
# Inductor's partition function also hands the joint-graph passes
# ``skip_invoke_subgraph=True``, which concerns only graphs that call
# subgraphs, and the inputs' device, from which a few passes build the
# patterns they match; the cell leaves both at their defaults, so in that
# respect its call is not quite inductor's. The
# joint-graph passes remove the ``alias`` operations (the decomposed
# ``detach``) and change nothing else: the same other operations in both
# graphs, and the same tensors handed over. The post-grad passes then leave
# both graphs' operations as they are (counted by name). Code generation
# needs a C++ compiler on a CPU, which this page does not assume, so it
# shows no generated code or timings.

from torch._guards import detect_fake_mode
from torch._inductor.compile_fx import (
    _recursive_joint_graph_passes,
    _recursive_post_grad_passes,
)
from torch._inductor.virtualized import V

static_inputs = []  # static_lifetime_input_indices, as each partition receives it


def joint_graph_passes_then_cut(joint_module, joint_inputs, **kwargs):
    static_inputs.append(kwargs.get("static_lifetime_input_indices"))
    # torch 2.5: in place, returns None
    joint_module = _recursive_joint_graph_passes(joint_module) or joint_module
    return min_cut_rematerialization_partition(joint_module, joint_inputs, **kwargs)


def capture_with_inductor_passes(function, *inputs):
    """Like capture() with inductor's decompositions, its joint-graph passes
    before the min-cut partitioner, and its post-grad passes on both graphs after
    the cut: (the graphs after all passes, op counts before the post-grad ones)."""
    graphs, before_post_grad = {}, {}

    def keep(name):
        def compiler(graph_module, example_inputs):
            before_post_grad[name] = op_counts(graph_module)
            with V.set_fake_mode(detect_fake_mode(example_inputs)):
                _recursive_post_grad_passes(graph_module, is_inference=False)
            graphs[name] = graph_module
            return make_boxed_func(graph_module.forward)

        return compiler

    backend = aot_autograd(
        fw_compiler=keep("forward"),
        bw_compiler=keep("backward"),
        partition_fn=joint_graph_passes_then_cut,
        decompositions=select_decomp_table(),
    )
    output = torch.compile(function, backend=backend, fullgraph=True)(*inputs)
    torch.autograd.grad(output, [t for t in inputs if t.requires_grad])
    return graphs, before_post_grad


def handed_over(captured):
    """The names of the tensors the forward graph hands the backward graph."""
    (output,) = [
        node for node in captured["forward"].graph.nodes if node.op == "output"
    ]
    return [str(a) for a in output.args[0][1:]]


DECOMPOSED = "decomposed (aot_eager_decomp_partition)"
removed = 0
for function, inputs, decomposed in (
    (f, (x, w), graphs[DECOMPOSED]),
    (f_exp, (x, w), exp_graphs[DECOMPOSED]),
    (loss, (data, W1, W2), decomposed_graphs),
):
    after_passes, before_post_grad = capture_with_inductor_passes(function, *inputs)
    for part in ("forward", "backward"):
        before, after = op_counts(decomposed[part]), before_post_grad[part]
        print(
            f"{function.__name__:>5}, {part:>8} graph, alias:"
            f" {before['alias']} before the joint-graph passes, {after['alias']} after"
        )
        assert after == before - collections.Counter(alias=before["alias"]), (
            function.__name__,
            part,
            before,
            after,
        )
        assert op_counts(after_passes[part]) == after, "post-grad passes: no change"
        removed += before["alias"]
    assert handed_over(after_passes) == handed_over(decomposed), function.__name__
assert removed > 0, "the joint-graph passes removed no alias"
# Empty for each function (torch 2.5 passes no such list at all: None).
assert len(static_inputs) == 3 and not any(static_inputs), static_inputs
print("static_lifetime_input_indices, as each partition received it:", static_inputs)

# %%
# .. _compile-double-backward:
#
# Double backward through a compiled function
# -------------------------------------------
#
# A Hessian-vector product by double backward differentiates the backward
# pass. For :math:`f` (:math:`\bar x = w \odot \cos x`) and a direction
# :math:`u`, :math:`Hu = -(w \odot \sin x) \odot u`. With
# ``create_graph=True`` the backward graph that AOTAutograd compiled still
# runs, and its result :math:`\bar x` has a ``grad_fn``: the node of an
# autograd function, ``CompiledFunctionBackward`` in
# `torch/_functorch/_aot_autograd/runtime_wrappers.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_functorch/_aot_autograd/runtime_wrappers.py>`__,
# whose backward only raises. So the error comes at the second
# ``autograd.grad``. Inductor, the default backend, compiles through
# AOTAutograd too (the sections above); it is not run on this page.
# ``backend="eager"``, Dynamo's capture alone, runs the captured operations
# as eager autograd records them, and double backward works.

torch._dynamo.reset()
x_value, w_value = x.detach(), w.detach()
direction = torch.randn(n, generator=generator, dtype=torch.float64)
hvp_by_hand = -(w_value * torch.sin(x_value)) * direction  # H u, H diagonal

double_backward = {}
for backend in ("aot_eager", "eager"):
    compiled_f = torch.compile(f, backend=backend, fullgraph=True)
    (x_bar,) = torch.autograd.grad(compiled_f(x, w), x, create_graph=True)
    print(f"{backend}: x-bar's grad_fn is {type(x_bar.grad_fn).__name__}")
    try:
        (double_backward[backend],) = torch.autograd.grad((x_bar * direction).sum(), x)
    except RuntimeError as error:
        print(textwrap.fill(f"RuntimeError: {str(error).splitlines()[0]}", width=86))
        double_backward[backend] = error
error = double_backward["aot_eager"]
assert "aot_autograd does not currently support double backward" in str(error)

# %%
# Two ways around it: leave the part that is differentiated twice to eager
# autograd, as ``backend="eager"`` or no compilation at all does; or write
# the whole HVP with ``torch.func`` (forward over reverse,
# :func:`torch.func.jvp` of :func:`torch.func.grad`) and compile that
# function. Dynamo then traces the transforms into one graph
# (``fullgraph=True`` raises at any graph break) and AOTAutograd gets the
# HVP as a function of its own, with no backward of a compiled backward to
# run.


def hvp_forward_over_reverse(x, w, direction):
    return torch.func.jvp(lambda x: torch.func.grad(f)(x, w), (x,), (direction,))[1]


compiled_hvp = torch.compile(
    hvp_forward_over_reverse, backend="aot_eager", fullgraph=True
)
hvp_by_route = {
    "eager": hvp_forward_over_reverse(x_value, w_value, direction),
    'backend="eager", double backward': double_backward["eager"],
    'torch.func, backend="aot_eager"': compiled_hvp(x_value, w_value, direction),
}
for name, hvp in hvp_by_route.items():
    error = (hvp - hvp_by_hand).abs().max().item()
    print(f"{name:<34} max |H u - by hand| = {error:.1e}")
    # elementwise products of sin, cos and their inputs, rounded in another order:
    # a few eps of values below 10, inside assert_close's float64 defaults
    torch.testing.assert_close(hvp, hvp_by_hand)

# %%
# .. _compile-jacrev-vmap:
#
# Compiling ``jacrev``, ``jacfwd`` and ``vmap``
# ---------------------------------------------
#
# Dynamo traces the ``torch.func`` transforms it meets inside the function
# it compiles. The per-sample Jacobian of :math:`\tanh(x W_1)`, a
# :math:`32 \times 16` matrix :math:`\operatorname{diag}(1 - h^2)\, W_1^\top`
# per row :math:`x` of the data, compiles with ``fullgraph=True`` by
# :func:`torch.func.jacrev` and by :func:`torch.func.jacfwd`, each under
# :func:`torch.func.vmap`. A backend of one's own, any callable that is
# given the graph and its example inputs and returns a function, counts the
# graphs Dynamo hands over
# (this one runs each as it is). Batches of 8, 4, 6 and 8 rows make two: the
# first for 8 rows, the second, at the first new size, with the batch size a
# symbol, one more input of the graph; no later size compiles another. The
# Jacobians have the right shapes and values at every size.

dynamo_graphs = []


def counting_backend(graph_module, example_inputs):
    dynamo_graphs.append(graph_module)
    return graph_module.forward


def tanh_layer(rows):
    return torch.tanh(rows @ W1_value)


W1_value = W1.detach()
for transform in (torch.func.jacrev, torch.func.jacfwd):
    dynamo_graphs.clear()
    compiled_jacobians = torch.compile(
        torch.func.vmap(transform(tanh_layer)), backend=counting_backend, fullgraph=True
    )
    for rows in (8, 4, 6, 8):
        jacobians = compiled_jacobians(data[:rows])
        h = tanh_layer(data[:rows])
        by_hand = (1 - h**2)[:, :, None] * W1_value.T  # (rows, 32, 16)
        # one product and tanh's slope per entry either way: a few eps of values
        # below 10, inside assert_close's float64 defaults
        torch.testing.assert_close(jacobians, by_hand)
    graph_inputs = [
        sum(node.op == "placeholder" for node in graph.graph.nodes)
        for graph in dynamo_graphs
    ]
    print(
        f"vmap({transform.__name__}), batches of 8, 4, 6, 8 rows:"
        f" {len(dynamo_graphs)} graphs, with {graph_inputs} inputs"
    )
    assert graph_inputs == [2, 3], "the data and W1; then the batch size too"

# %%
# The other order, a transform of a compiled function, is refused with
# ``fullgraph=True`` (the message goes on: wrap the transform in the
# compiled function too); without it, Dynamo gives up on the function and
# runs it eagerly: the result is right, but no graph was compiled.

torch._dynamo.reset()
dynamo_graphs.clear()
try:
    torch.func.vmap(
        torch.compile(tanh_layer, backend=counting_backend, fullgraph=True)
    )(data)
    raise AssertionError("vmap of a compiled function compiled it")
except RuntimeError as error:  # Dynamo's Unsupported, a RuntimeError
    print(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    assert "Unsupported functorch tracing attempt" in str(error)
torch._dynamo.reset()
rows_eager = torch.func.vmap(torch.compile(tanh_layer, backend=counting_backend))(data)
print("vmap(torch.compile(f)) without fullgraph: graphs compiled", len(dynamo_graphs))
assert len(dynamo_graphs) == 0
# run eagerly: the same kernels on the same operands, so bit-identical results
torch.testing.assert_close(rows_eager, tanh_layer(data), rtol=0, atol=0)

torch._dynamo.reset()  # leave no compiled code behind for later examples

# %%
# The picture
# -----------
#
# Both partitions of the same joint graph, drawn from the captured forward and backward graphs (backend: the
# capturing ``aot_autograd`` backends above, which generate no code; no
# timings on this page). Red arrows are the tensors the backward graph takes
# from the forward graph; its only other input is :math:`v_y`. A yellow box
# is an operation of the forward pass done again in the backward graph.

symbols = {"primals_1": "x", "primals_2": "w", "tangents_1": "v_y"}


def describe(node):
    if node.op == "placeholder":
        return symbols[node.name]
    arguments = ", ".join(symbols.get(str(a), str(a)) for a in node.args)
    return f"{node.name} = {node.target.overloadpacket.__name__}({arguments})"


def draw(ax, captured, title):
    forward = [node for node in captured["forward"].graph.nodes if node.op != "output"]
    (output,) = [
        node for node in captured["forward"].graph.nodes if node.op == "output"
    ]
    saved_names = {str(a) for a in output.args[0][1:]}
    backward = [
        node
        for node in captured["backward"].graph.nodes
        if node.op != "output" and node.name not in saved_names
    ]
    forward_names = {node.name for node in forward if node.op == "call_function"}
    box = {}
    for column, nodes in ((0, forward), (1, backward)):
        for index, node in enumerate(nodes):
            recomputed = column == 1 and node.name in forward_names
            colour = (
                "#fff2b3" if recomputed else ("#e8eef7" if column == 0 else "#fbe9dc")
            )
            box[column, node.name] = ax.text(
                column,
                -index,
                describe(node),
                ha="center",
                va="center",
                fontsize=8.5,
                family="monospace",
                bbox={"boxstyle": "round", "fc": colour, "ec": "0.5"},
            )
    for node in backward:
        for argument in node.all_input_nodes:
            # from the right edge of the producer to the left edge of the user
            if argument.name in saved_names:
                ax.annotate(
                    "",
                    xy=(0, 0.5),
                    xycoords=box[1, node.name],
                    xytext=(1, 0.5),
                    textcoords=box[0, argument.name],
                    arrowprops={"arrowstyle": "->", "color": "C3", "lw": 1.2},
                )
    ax.text(0, 1, "forward graph", ha="center", fontsize=9.5, weight="bold")
    ax.text(1, 1, "backward graph", ha="center", fontsize=9.5, weight="bold")
    ax.set_title(title, fontsize=10.5)
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(-max(len(forward), len(backward)) + 0.4, 1.5)
    ax.axis("off")


fig, axes = plt.subplots(2, 1, figsize=(7.2, 6.6), layout="constrained")
draw(
    axes[0],
    graphs["default"],
    f"default partition: saves sin(x), {saved['default partition']} new bytes",
)
aot_eager_saved = saved['backend="aot_eager"']
draw(
    axes[1],
    graphs["min-cut (aot_eager)"],
    f"min-cut (aot_eager): recomputes sin(x), {aot_eager_saved} new bytes",
)
plt.show()

# %%
# What to remember
# ----------------
#
# * Under :func:`torch.compile`, AOTAutograd traces the VJPs ahead of time
#   into a joint graph and splits it. With ``aot_eager`` the backward graph
#   holds the VJP operations eager autograd would run; inductor's
#   decompositions rewrite some of them into simpler ATen operations.
# * What the forward graph hands the backward graph is the partitioner's
#   choice: the min-cut partitioner recomputes cheap operations whose
#   inputs cross anyway (``sin`` here); with inductor's decompositions,
#   which turn ``detach`` into ``alias``, it also recomputed ``exp``,
#   handing over the input :math:`x` instead of a new tensor.
# * A custom ``aot_autograd`` backend, ``aot_eager`` or
#   ``aot_eager_decomp_partition`` shows both graphs without a C++
#   compiler; inductor also runs its own graph passes before the trace,
#   before the cut and after it (pre-grad, joint-graph, post-grad), and
#   compiles what they leave. Check compiled gradients against eager ones.
# * AOTAutograd's compiled backward cannot be differentiated again: for a
#   Hessian-vector product, compile the whole HVP written with
#   ``torch.func``, or leave that part to eager autograd. Compile the
#   transformed function (``torch.compile(vmap(jacrev(f)))``), not a
#   transform of a compiled one.
#
# Next: back to the overview, :doc:`/concepts/choosing_a_method`.
# Reference: :func:`torch.compile`, :class:`torch.autograd.graph.saved_tensors_hooks`,
# :func:`torch.autograd.grad`.
