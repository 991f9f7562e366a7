r"""
Reverse mode, one VJP node at a time
====================================

``y.backward()`` looks like one operation. It is a walk over a graph that the
forward pass recorded, in which every node but the ``AccumulateGrad`` sinks
at the leaves (which write ``.grad``) is a VJP rule: it takes the :math:`v`
arriving from the output side and passes :math:`v^\top J` on to its inputs.
This page opens that graph for :math:`y = \sum_i \sin(x_i)\, w_i`, calls
each node by hand in reverse order, checks the result against the chain
rule's formulas and :func:`torch.autograd.functional.vjp`, and uses tensor
hooks to watch, and then change, the :math:`v` that reaches an intermediate
result; and shows why a module's full backward hook and an in-place ReLU
do not mix, and how to hook such a module anyway.
"""

# %%
# The maths
# ---------
#
# For :math:`x, w \in \mathbb{R}^n` the forward pass computes three results,
# each with its own Jacobian:
#
# .. math::
#
#    s = \sin(x) \in \mathbb{R}^n, \qquad
#    p = s \odot w \in \mathbb{R}^n, \qquad
#    y = \mathbf{1}^\top p \in \mathbb{R},
#
#    J_{\text{sum}} = \mathbf{1}^\top \in \mathbb{R}^{1 \times n}, \quad
#    \frac{\partial p}{\partial s} = \operatorname{diag}(w), \quad
#    \frac{\partial p}{\partial w} = \operatorname{diag}(s), \quad
#    \frac{\partial s}{\partial x} = \operatorname{diag}(\cos x),
#
# all :math:`n \times n` except the first. The gradient is the product of
# the chain, evaluated from the left, one VJP at a time, starting from
# :math:`v_y = 1`:
#
# .. math::
#
#    v_p = v_y \mathbf{1} \in \mathbb{R}^n, \qquad
#    v_s = v_p \odot w, \qquad
#    v_w = v_p \odot s, \qquad
#    v_x = v_s \odot \cos x.
#
# Each step is one node of autograd's graph. No step builds an
# :math:`n \times n` matrix: a node only needs the vector that arrives and
# the tensors it saved during the forward pass (``SinBackward0`` keeps
# :math:`x`, ``MulBackward0`` keeps :math:`s` and :math:`w`).

# %%
# The graph the forward pass records
# ----------------------------------
#
# Most floating-point (or complex) results of an operation on a tensor that
# requires grad, computed while gradients are being recorded, have a
# ``grad_fn``: the node that will run its VJP, named by
# :func:`~torch.autograd.graph.Node.name`. ``next_functions`` lists, for
# each input of the operation that can carry a gradient, the node that
# receives that input's share of :math:`v` (``None`` where the input needs
# no gradient); an input that can carry none, such as the boolean
# condition of ``torch.where``, has no entry (checked at the end of this
# cell). A leaf that requires grad is reached through an ``AccumulateGrad``
# node, which adds what arrives to the leaf's ``.grad``.

import matplotlib.pyplot as plt
import torch

n = 4
generator = torch.Generator().manual_seed(0)
x = torch.randn(n, generator=generator, dtype=torch.float64, requires_grad=True)
w = torch.randn(n, generator=generator, dtype=torch.float64, requires_grad=True)


def forward(x, w):
    s = torch.sin(x)
    p = s * w
    return s, p, p.sum()


s, p, y = forward(x, w)
for symbol, tensor in (("s", s), ("p", p), ("y", y)):
    print(f"{symbol}.grad_fn = {tensor.grad_fn.name()}")


def label(node):
    name = node.name().replace("torch::autograd::", "")
    if name == "AccumulateGrad":
        name += " (x)" if node.variable is x else " (w)"
    return name


def walk(node, depth=0):
    """Print the graph below NODE, one line a node, children indented."""
    print("    " * depth + label(node))
    for child, _ in node.next_functions:
        if child is not None:
            walk(child, depth + 1)


print("\nthe graph, from the output to the leaves:")
walk(y.grad_fn)

# Three inputs, two entries: x (through its AccumulateGrad) and the zeros,
# which need no gradient (None); the condition x > 0 has none.
chosen = torch.where(x > 0, x, torch.zeros(n, dtype=torch.float64))
entries = [node and label(node) for node, _ in chosen.grad_fn.next_functions]
print("\ntorch.where(x > 0, x, zeros): next_functions", entries)
assert entries == ["AccumulateGrad (x)", None]

# %%
# Not every result gets one. Integer and boolean results (``argmax``, a
# comparison) have no gradient; some floating-point results do not depend
# differentiably on the input's values at all (``zeros_like`` and
# ``new_ones`` take only its shape and dtype, ``histc`` counts entries);
# ``detach()`` returns a tensor cut from the graph, and under
# :class:`torch.no_grad` nothing is recorded:

no_node = {
    "torch.argmax(x)": torch.argmax(x),
    "x > 0": x > 0,
    "torch.zeros_like(x)": torch.zeros_like(x),
    "x.new_ones(3)": x.new_ones(3),
    "torch.histc(x, bins=4)": torch.histc(x, bins=4),
    "x.detach()": x.detach(),
}
with torch.no_grad():
    no_node["torch.sin(x) under no_grad"] = torch.sin(x)
for name, result in no_node.items():
    print(
        f"{name:<28} grad_fn = {result.grad_fn}, requires_grad = {result.requires_grad}"
    )
    assert result.grad_fn is None and not result.requires_grad, name

# %%
# What a node keeps: ``SinBackward0`` saved :math:`x` (the autograd notes
# document these ``_saved_*`` attributes), because its VJP needs
# :math:`\cos x`. What nodes keep, and what that costs, is the subject of
# the next page.

# Exact: a node keeps the tensor itself (no arithmetic), so the values are the same
# bits.
assert torch.equal(s.grad_fn._saved_self, x), "sin's node should keep its input"
assert torch.equal(p.grad_fn._saved_self, s) and torch.equal(p.grad_fn._saved_other, w)
print("SinBackward0 keeps x; MulBackward0 keeps s and w")

# %%
# Running the chain by hand
# -------------------------
#
# A node is callable: ``node(v)`` applies its VJP rule and returns one
# gradient per entry of ``next_functions`` (a single tensor when there is
# one). This is not part of the documented ``torch.autograd.graph.Node``
# interface, but it works for every node
# of this graph; the check below is what says so. The loop is a small
# version of autograd's engine: visit the nodes in reverse topological order
# (every node after all the nodes that send it something), add up what
# arrives, call the node, pass the pieces on. Calling an ``AccumulateGrad``
# node writes the leaf's ``.grad``, as ``backward()`` does.


def reverse_topological_order(root):
    order, seen = [], set()

    def visit(node):
        if node is None or node in seen:
            return
        seen.add(node)
        for child, _ in node.next_functions:
            visit(child)
        order.append(node)

    visit(root)
    return order[::-1]  # the output's node first, the leaves last


def backward_by_hand(output, verbose=False):
    arriving = {output.grad_fn: torch.ones((), dtype=torch.float64)}  # v_y = 1
    with torch.no_grad():  # the VJPs themselves need no graph here
        for node in reverse_topological_order(output.grad_fn):
            v = arriving.pop(node)
            outgoing = node(v)
            if isinstance(outgoing, torch.Tensor):
                outgoing = (outgoing,)
            if verbose:
                print(f"{label(node):<19} receives v of shape {tuple(v.shape)}")
            for (child, _), piece in zip(node.next_functions, outgoing or ()):
                if child is not None:  # where paths meet, the pieces add up
                    arriving[child] = (
                        # sphinx_gallery_break = ("arriving[child] + piece", "piece")
                        arriving[child] + piece if child in arriving else piece
                    )
    assert not arriving, "every node should have been called"


backward_by_hand(y, verbose=True)
node_by_node = (x.grad.clone(), w.grad.clone())
print("x.grad by hand:", node_by_node[0])

# %%
# The checks
# ----------
#
# The node-by-node gradients against the formulas of the maths,
# :math:`v_x = w \odot \cos x` and :math:`v_w = \sin x`, and against
# :func:`torch.autograd.functional.vjp` (which records a fresh graph and lets
# the engine run it).


def f(x, w):
    return forward(x, w)[2]


expected = (w.detach() * torch.cos(x.detach()), torch.sin(x.detach()))  # (v_x, v_w)
_, from_vjp = torch.autograd.functional.vjp(
    f, (x.detach(), w.detach()), v=torch.ones((), dtype=torch.float64)
)
for name, other in (("formulas", expected), ("functional.vjp", from_vjp)):
    error = max(
        (mine - theirs).abs().max().item() for mine, theirs in zip(node_by_node, other)
    )
    print(f"max |node-by-node - {name}| = {error:.1e}")
# The formulas are the same operations (1 * w * cos x, 1 * sin x, with the same sin and
# cos kernels), and the engine calls the same nodes: the same bits on any one machine;
# 1e-12 is only slack.
torch.testing.assert_close(node_by_node, expected, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(node_by_node, from_vjp, rtol=1e-12, atol=1e-12)

# %%
# The graph above is a tree. When a tensor feeds two operations, two paths
# meet at its node and the pieces are summed: for
# :math:`y = \sum_i \sin(x_i)\, x_i` the leaf :math:`x` receives
# :math:`x \odot \cos x` through ``SinBackward0`` and :math:`\sin x`
# directly from ``MulBackward0``.

x.grad = None
backward_by_hand((torch.sin(x) * x).sum())
# The same two pieces, x cos x and sin x, added (+ is commutative): the same bits.
torch.testing.assert_close(
    x.grad,
    x.detach() * torch.cos(x.detach()) + torch.sin(x.detach()),
    rtol=1e-12,
    atol=1e-12,
)
print("two paths into x:", x.grad)

# %%
# Hooks see the :math:`v` that arrives
# ------------------------------------
#
# :meth:`torch.Tensor.register_hook` on an intermediate tensor runs when its
# :math:`v` has been summed up, before the node below it is called. Recorded
# at :math:`p` and :math:`s`, it is :math:`v_p = \mathbf{1}` and
# :math:`v_s = v_p \odot w = w`, as the chain above says.

x.grad, w.grad = None, None
s, p, y = forward(x, w)
seen = {}
p.register_hook(lambda v: seen.__setitem__("p", v.clone()))
s.register_hook(lambda v: seen.__setitem__("s", v.clone()))
y.backward()
print("v arriving at p:", seen["p"])
print("v arriving at s:", seen["s"])
# Exact: the expanded 1 of the sum's VJP, and 1 * w = w.
torch.testing.assert_close(
    seen["p"], torch.ones(n, dtype=torch.float64), rtol=0, atol=0
)
torch.testing.assert_close(seen["s"], w.detach(), rtol=0, atol=0)

# %%
# "Summed up" means once per backward pass, however many paths reach the
# tensor. In :math:`y = \sum_i (s_i w_i + s_i)` the tensor :math:`s` feeds a
# product and an addition: its hook runs once, with
# :math:`v_s = w + \mathbf{1}`, not once with :math:`w` and once with
# :math:`\mathbf{1}`.

x.grad, w.grad = None, None
s = torch.sin(x)
calls = []
s.register_hook(lambda v: calls.append(v.clone()))
(s * w + s).sum().backward()
print(f"{len(calls)} hook call, v_s =", calls[0])
assert len(calls) == 1, "the hook should run once, after the two pieces are summed"
# Exact: the two pieces, 1 * w = w through the product and 1 through the addition,
# added once by a correctly rounded + (commutative, so in either order).
torch.testing.assert_close(calls[0], w.detach() + 1, rtol=0, atol=0)

# %%
# Hooks can change it
# -------------------
#
# A hook that returns a tensor replaces :math:`v` at that tensor: the VJPs
# from there on receive the new :math:`v`, so only the gradients whose path
# from the output passes through the tensor can change. Scaling
# :math:`v_s` by 3 scales ``x.grad`` by 3 and leaves ``w.grad`` alone:
# :math:`w` gets its share from ``MulBackward0``, on a path that does not
# pass through :math:`s`.
# (Per-tensor gradient clipping and gradient reversal can be written as
# hooks of this kind.)

x.grad, w.grad = None, None
s, p, y = forward(x, w)
s.register_hook(lambda v: 3 * v)
y.backward()
print("x.grad, v_s times 3:", x.grad)
# The same operations on both sides, (3 * (1 * w)) * cos x and 1 * sin x: the same bits.
torch.testing.assert_close(
    x.grad, 3 * w.detach() * torch.cos(x.detach()), rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(w.grad, torch.sin(x.detach()), rtol=1e-12, atol=1e-12)
assert not torch.allclose(x.grad, node_by_node[0]), (
    "the hook should have changed x.grad"
)

# %%
# .. _full-backward-hook-inplace:
#
# Module hooks and in-place operations
# ------------------------------------
#
# :meth:`torch.nn.Module.register_full_backward_hook` calls a hook with the
# :math:`v` that arrives at a module's output (``grad_output``) and the
# :math:`v^\top J` the module passes to its input (``grad_input``). To catch
# both, calling the module passes its inputs, and then its outputs, through
# an identity :class:`torch.autograd.Function` (``BackwardHookFunction``,
# whose nodes call the hook), but only when gradients are being recorded
# and one of those tensors requires grad (``torch/utils/hooks.py``). A
# custom Function that returns an input as it is returns a view of it, and
# autograd forbids modifying in place a view made inside a custom Function:
# its handling of the in-place change would override the Function's
# backward, and with it the hook. So, in PyTorch 2.13, the forward pass
# raises at the in-place operation when the hooked module modifies its input
# in place (a hooked :class:`torch.nn.ReLU` with ``inplace=True``) or its
# output is modified in place afterwards (a hooked ``Linear`` followed by
# such a ReLU). :meth:`~torch.nn.Module.register_full_backward_pre_hook`
# wraps the same way and raises the same. Under :class:`torch.no_grad`
# nothing is wrapped and the same forward pass runs, so inference with such
# a model is unaffected; neither are tensors none of which requires grad (a
# hooked in-place ReLU applied to a constant), though a layer with
# parameters that require grad has outputs that do.

import textwrap

linear = torch.nn.Linear(3, 2, dtype=torch.float64)
with torch.no_grad():  # weights from the page's generator, not the global one
    linear.weight.copy_(torch.randn(2, 3, generator=generator, dtype=torch.float64))
    linear.bias.copy_(torch.randn(2, generator=generator, dtype=torch.float64))
batch = torch.randn(5, 3, generator=generator, dtype=torch.float64, requires_grad=True)
cotangent = torch.randn(5, 2, generator=generator, dtype=torch.float64)  # the v
in_place = torch.nn.Sequential(linear, torch.nn.ReLU(inplace=True))
ignore = lambda *hook_args: None  # noqa: E731

handle = linear.register_full_backward_hook(ignore)
wrapped = linear(batch)
handle.remove()
print("a hooked Linear's output: grad_fn", wrapped.grad_fn.name())
print("  a view of the result of", wrapped._base.grad_fn.name())
assert wrapped.grad_fn.name() == "BackwardHookFunctionBackward"
assert wrapped._base is not None


class Identity(torch.autograd.Function):
    """Any custom Function that returns its input as it is."""

    @staticmethod
    def forward(ctx, tensor):
        return tensor

    @staticmethod
    def backward(ctx, grad):
        return grad


assert Identity.apply(batch)._base is batch  # a view of the input, as above


def forward_error(register):
    """Register a hook with REGISTER, run the in-place model, return its error."""
    handle = register()
    try:
        in_place(batch)
    except RuntimeError as error:
        return str(error)
    finally:
        handle.remove()
    raise AssertionError("the in-place ReLU should have raised")


errors = {
    "full hook on the Linear": forward_error(
        lambda: linear.register_full_backward_hook(ignore)
    ),
    "full hook on the ReLU": forward_error(
        lambda: in_place[1].register_full_backward_hook(ignore)
    ),
    "pre-hook on the ReLU": forward_error(
        lambda: in_place[1].register_full_backward_pre_hook(ignore)
    ),
}
for hooked, message in errors.items():
    print(f"{hooked:<24} RuntimeError in the forward pass")
    assert "of BackwardHookFunction is a view and is being modified inplace" in message
assert len(set(errors.values())) == 1, "the three should raise the same error"
print(textwrap.fill(f"RuntimeError: {message}", 86, subsequent_indent="  "))

handles = [module.register_full_backward_hook(ignore) for module in in_place]
with torch.no_grad():
    in_place(batch)  # nothing wrapped, no error
in_place[1](batch.detach().clone())  # no error: the ReLU's input needs no grad
for handle in handles:
    handle.remove()
print("under no_grad, and a hooked ReLU on a constant: no error")

# %%
# Three fixes, each checked against the :math:`v` given to ``backward``
# (here the cotangent at the hooked module's output, since that module is
# the model's last; in general it is whatever arrives there).
# ``ReLU(inplace=False)``: the hook on the ReLU then gets ``grad_output``
# :math:`= v` and ``grad_input`` :math:`= v \odot [z > 0]`, with :math:`z`
# the Linear's output. Tensor hooks (:meth:`torch.Tensor.register_hook`),
# which wrap nothing: one on the module's output, registered by a forward
# hook, sees only ``grad_output``; for ``grad_input`` add one on its input,
# registered by a forward pre-hook, before the in-place change (the hook
# then gets the gradient of the input as it was). Or the full hook on a module that does the in-place
# operation inside, on a tensor it computed itself (here the
# ``Sequential``): that comes before its outputs are wrapped, and its
# ``grad_input`` is :math:`(v \odot [z > 0])\, W`, with :math:`W` the Linear's
# weight.

seen_by = {}


def hook_the_output(module, args, output):  # returns None: the output is kept
    output.register_hook(lambda v: seen_by.update(tensor_hook=v))


def hook_the_input(module, args):  # returns None: the input is kept
    args[0].register_hook(lambda v: seen_by.update(tensor_hook_input=v))


out_of_place = torch.nn.Sequential(linear, torch.nn.ReLU())
hooks = [
    out_of_place[1].register_full_backward_hook(
        lambda module, grad_in, grad_out: seen_by.update(relu=(grad_out, grad_in))
    ),
    in_place[1].register_forward_hook(hook_the_output),
    in_place[1].register_forward_pre_hook(hook_the_input),
    in_place.register_full_backward_hook(
        lambda module, grad_in, grad_out: seen_by.update(sequential=(grad_out, grad_in))
    ),
]
out_of_place(batch).backward(cotangent)
in_place(batch).backward(cotangent)
for handle in hooks:
    handle.remove()

masked = torch.where(linear(batch) > 0, cotangent, 0.0)  # v ⊙ [z > 0]
print("no error; hooks that ran:", list(seen_by))
# Exact: the hooks get v itself, and ReLU's VJP selects entries of v (no arithmetic).
torch.testing.assert_close(seen_by["relu"], ((cotangent,), (masked,)), rtol=0, atol=0)
torch.testing.assert_close(seen_by["tensor_hook"], cotangent, rtol=0, atol=0)
torch.testing.assert_close(seen_by["tensor_hook_input"], masked, rtol=0, atol=0)
torch.testing.assert_close(seen_by["sequential"][0], (cotangent,), rtol=0, atol=0)
# float64 defaults: the same product as the Linear's VJP, masked v times W.
torch.testing.assert_close(seen_by["sequential"][1], (masked @ linear.weight.detach(),))

# %%
# The picture
# -----------
#
# The graph, drawn from ``grad_fn`` and ``next_functions`` (each node's depth is its
# longest distance from the output), with what each node computes and the
# :math:`v` each arrow carries.

rules = {
    "SumBackward0": r"$v \mapsto v\,\mathbf{1}$",
    "MulBackward0": r"$v \mapsto (v \odot w,\ v \odot s)$",
    "SinBackward0": r"$v \mapsto v \odot \cos x$",
}
carried = {
    ("SumBackward0", 0): r"$v_p = \mathbf{1}$",
    ("MulBackward0", 0): r"$v_s = w$",
    ("MulBackward0", 1): r"$v_w = s$",
    ("SinBackward0", 0): r"$v_x = w \odot \cos x$",
}
depth = {}
for node in reverse_topological_order(y.grad_fn):
    depth.setdefault(node, 0)
    for child, _ in node.next_functions:
        if child is not None:
            depth[child] = max(depth.get(child, 0), depth[node] + 1)
rows = {}
for node, level in depth.items():
    rows.setdefault(level, []).append(node)
position = {
    node: (column - (len(row) - 1) / 2, -level)
    for level, row in rows.items()
    for column, node in enumerate(row)
}

fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
for node, (px, py) in position.items():
    name = node.name().replace("torch::autograd::", "")
    if name == "AccumulateGrad":
        box = "AccumulateGrad\n" + (
            "x.grad += v" if node.variable is x else "w.grad += v"
        )
    else:
        box = f"{name}\n{rules[name]}"
    ax.text(
        px,
        py,
        box,
        ha="center",
        va="center",
        fontsize=9,
        bbox={"boxstyle": "round", "fc": "#e8eef7", "ec": "C0"},
    )
    for index, (child, _) in enumerate(node.next_functions):
        if child is None:
            continue
        cx, cy = position[child]
        ax.annotate(
            "",
            xy=(cx, cy + 0.22),
            xytext=(px, py - 0.22),
            arrowprops={"arrowstyle": "->", "color": "C1"},
        )
        side = -1 if cx < px else 1  # label on the outer side of the arrow
        ax.text(
            (px + cx) / 2 + 0.06 * side,
            (py + cy) / 2,
            carried[(name, index)],
            fontsize=9,
            color="C1",
            ha="right" if side < 0 else "left",
        )
ax.set_xlim(-1.1, 1.1)
ax.set_ylim(-len(rows) + 0.5, 0.5)
ax.set_title(r"backward graph of $y = \sum_i \sin(x_i)\, w_i$", fontsize=10)
ax.axis("off")
plt.show()

# %%
# What to remember
# ----------------
#
# * The backward graph is a chain of VJP rules: ``grad_fn`` is a tensor's
#   node, ``next_functions`` its edges; at the leaves, ``AccumulateGrad``
#   nodes write ``.grad``. Where paths meet, the arriving pieces are summed.
# * Each node needs only the :math:`v` that arrives and what it saved in the
#   forward pass; no Jacobian matrix is ever formed.
# * :meth:`torch.Tensor.register_hook` sees the summed :math:`v` at a tensor
#   and can replace it, which can change only the gradients whose path from the
#   output passes through that tensor.
# * A module's full backward hook wraps its inputs and outputs in views made
#   by a custom Function, which must not be modified in place: use
#   ``ReLU(inplace=False)``, a tensor hook on the output, or hook a module
#   that does the in-place operation inside.
#
# Next: :ref:`sphx_glr_auto_examples_under_the_hood_plot_02_memory_what_reverse_mode_keeps.py`.
# Reference: :meth:`torch.Tensor.register_hook`, :meth:`torch.Tensor.backward`,
# :func:`torch.autograd.graph.Node.name`, :func:`torch.autograd.functional.vjp`,
# :meth:`torch.nn.Module.register_full_backward_hook`.
