r"""
The same VJP, six spellings: torch.autograd and torch.func
==========================================================

:func:`torch.autograd.functional.vjp` is one of several ways to compute
:math:`v^\top J` in PyTorch. This page computes one product with six of
them and asserts that each equals the product by hand, counts what differs
when several products are needed (whether the forward pass runs again for
each one), shows one trap (gradients that accumulate), and ends with a table
of equivalent calls, each run and checked.
"""

# %%
# The maths
# ---------
#
# For :math:`f : \mathbb{R}^{N \times 2} \to \mathbb{R}^{N \times 3}` and
# :math:`v \in \mathbb{R}^{N \times 3}`, all spellings compute
#
# .. math::
#
#    v^\top J = \frac{\partial}{\partial x} \langle v, f(x) \rangle
#    \in \mathbb{R}^{N \times 2},
#    \qquad \langle v, f(x) \rangle = \sum_{n,i} v_{n,i} f_{n,i}(x).
#
# The right-hand form is why a VJP is also "the gradient of the output
# weighted by :math:`v`", the form :func:`torch.func.grad` and
# ``Tensor.backward(gradient=v)`` take. They differ in what they keep:
# :func:`torch.func.vjp` runs the forward pass once and returns a function
# that maps any :math:`v` to :math:`v^\top J`; the
# :mod:`torch.autograd.functional` version runs the forward pass again on
# every call; :func:`torch.autograd.grad` differentiates a graph you built
# once, and with ``retain_graph=True`` that graph survives the backward pass
# and serves the next :math:`v`.

# %%
# One product, six spellings
# --------------------------

import textwrap

import matplotlib.pyplot as plt
import torch

forward_calls = 0


def f(x: torch.Tensor) -> torch.Tensor:
    global forward_calls
    forward_calls += 1
    a, b = x[:, 0], x[:, 1]
    return torch.stack((a * b, torch.sin(a + b**2), a**2 - 3 * b), dim=1)


N = 1000
generator = torch.Generator().manual_seed(0)
x = 2 * torch.rand(N, 2, generator=generator, dtype=torch.float64) - 1
v = torch.randn(N, 3, generator=generator, dtype=torch.float64)

results = {}
_, results["autograd.functional.vjp"] = torch.autograd.functional.vjp(f, x, v=v)

_, vjp_fn = torch.func.vjp(f, x)
(results["func.vjp"],) = vjp_fn(v)

x_leaf = x.clone().requires_grad_()
(results["autograd.grad"],) = torch.autograd.grad(f(x_leaf), x_leaf, grad_outputs=v)

x_leaf = x.clone().requires_grad_()
f(x_leaf).backward(gradient=v)
results["Tensor.backward(gradient=v)"] = x_leaf.grad.clone()

# sphinx_gallery_break = ("(v * f(x)", "f(x")
results["func.grad of <v, f(x)>"] = torch.func.grad(lambda x: (v * f(x)).sum())(x)

(results["func.vmap of vjp_fn"],) = torch.func.vmap(vjp_fn)(v.unsqueeze(0))
results["func.vmap of vjp_fn"] = results["func.vmap of vjp_fn"].squeeze(0)


# %%
# The checks
# ----------
#
# Each spelling against :math:`v^\top J` from the Jacobian by hand. With
# :math:`a, b` the two columns of :math:`x` and :math:`c = \cos(a + b^2)`,
# each point's block is
# :math:`J_n = \begin{pmatrix} b & a \\ c & 2bc \\ 2a & -3 \end{pmatrix}`,
# and :math:`(v^\top J)_n = v_n^\top J_n`.


def jacobian_by_hand(x):
    """(N, 2) -> (N, 3, 2): the blocks J_n."""
    a, b = x[:, 0], x[:, 1]
    c = torch.cos(a + b**2)
    rows = (
        torch.stack((b, a), 1),
        torch.stack((c, 2 * b * c), 1),
        torch.stack((2 * a, torch.full_like(a, -3.0)), 1),
    )
    return torch.stack(rows, dim=1)


expected = torch.einsum("ni,nij->nj", v, jacobian_by_hand(x))  # v^T J, (N, 2)
print(f"{'spelling':<30} {'shape':<10} max |error|")
for name, result in results.items():
    error = (result - expected).abs().max().item()
    print(f"{name:<30} {str(tuple(result.shape)):<10} {error:.1e}")
for name, result in results.items():
    # Each entry is a sum of three products of v (|v| < 3.9) with partials (at most 3 in
    # magnitude); the APIs and einsum sum them in other orders and kernels: terms
    # adding up to < 12, within a few times 12 x 2.2e-16 ~ 1e-14, << 1e-12.
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)

# %%
# Full Jacobians: ``functional.jacobian``, ``jacrev``, ``jacfwd``
# ----------------------------------------------------------------
#
# The same three-way agreement for whole Jacobians, on a small batch (the
# :math:`(N, 3, N, 2)` tensor grows as :math:`N^2`).

small = x[:5]
full = {
    "functional.jacobian": torch.autograd.functional.jacobian(f, small),
    "func.jacrev": torch.func.jacrev(f)(small),
    "func.jacfwd": torch.func.jacfwd(f)(small),
}
for name, jac in full.items():
    # Forward or reverse, each entry is the same few products of entries at most 3 in
    # magnitude, plus exact zeros: a few eps (2.2e-16) apart.
    torch.testing.assert_close(jac, full["functional.jacobian"], rtol=1e-12, atol=1e-12)
    print(f"{name:<20} {tuple(jac.shape)}")

# %%
# .. _what-is-re-run:
#
# What is re-run: counting forward and backward passes
# ----------------------------------------------------
#
# Three one-hot VJPs (the three rows of each point's Jacobian). The measure
# is how many passes run: ``f`` counts its forward passes, and an identity
# :class:`torch.autograd.Function` in front of it counts the backward passes
# that reach the input. Three calls of the functional API run ``f`` three
# times; :func:`torch.func.vjp` runs it once and reuses the saved graph for
# every :math:`v`, and so does :func:`torch.autograd.grad` on one output with
# ``retain_graph=True``. These three run three backward passes;
# ``vmap(vjp_fn)`` runs them as one batched backward pass. It calls only the
# Function's ``backward`` (on a batched ``grad_output``), so the Function
# needs no vmap rule; ``vmap`` over its ``forward`` would need one
# (``generate_vmap_rule = True`` or a ``vmap`` static method), as checked
# below.

basis = torch.zeros(3, N, 3, dtype=torch.float64)
for k in range(3):
    basis[k, :, k] = 1.0
backward_calls = 0


class CountBackward(torch.autograd.Function):
    """The identity; counts the backward passes that reach its input."""

    @staticmethod
    def forward(x):
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad_output):
        global backward_calls
        backward_calls += 1
        return grad_output


def f_counted(x):
    return f(CountBackward.apply(x))


def with_functional_vjp():
    return [
        torch.autograd.functional.vjp(f_counted, x, v=basis[k])[1] for k in range(3)
    ]


def with_func_vjp():
    _, vjp_fn = torch.func.vjp(f_counted, x)
    return [vjp_fn(basis[k])[0] for k in range(3)]


def with_vmapped_vjp_fn():
    _, vjp_fn = torch.func.vjp(f_counted, x)
    return torch.func.vmap(vjp_fn)(basis)[0]


def with_retained_graph():
    x_leaf = x.clone().requires_grad_()
    out = f_counted(x_leaf)
    return [
        torch.autograd.grad(out, x_leaf, grad_outputs=basis[k], retain_graph=True)[0]
        for k in range(3)
    ]


passes, rows = {}, {}
for name, three_vjps in {
    "functional.vjp": with_functional_vjp,
    "func.vjp": with_func_vjp,
    "autograd.grad(retain_graph=True)": with_retained_graph,
    "vmap(vjp_fn)": with_vmapped_vjp_fn,
}.items():
    forward_calls = backward_calls = 0
    rows[name] = torch.stack(list(three_vjps()))
    passes[name] = (forward_calls, backward_calls)

print(f"{'passes for 3 VJPs':<34}{'forward':>8}{'backward':>10}")
for name, (forward, backward) in passes.items():
    print(f"  {name:<32}{forward:>8}{backward:>10}")
expected_passes = {  # (forward, backward)
    "functional.vjp": (3, 3),
    "func.vjp": (1, 3),
    "autograd.grad(retain_graph=True)": (1, 3),
    "vmap(vjp_fn)": (1, 1),
}
assert passes == expected_passes, passes
try:  # CountBackward has no vmap rule: vmap over its forward raises
    torch.func.vmap(CountBackward.apply)(x)
    raise AssertionError("vmap over a Function's forward needs a vmap rule")
except RuntimeError as error:
    assert "does not have vmap support" in str(error), error
for name in rows:
    # One-hot v: each entry is the same few products of entries at most 3 in
    # magnitude, plus exact zeros; looped and batched kernels differ by a few eps
    # (2.2e-16) at most.
    torch.testing.assert_close(
        rows[name], rows["functional.vjp"], rtol=1e-12, atol=1e-12
    )

# %%
# Without ``retain_graph=True``, the first backward pass frees the tensors the
# graph saved, and a second product on the same output raises:

x_leaf = x.clone().requires_grad_()
out = f(x_leaf)
torch.autograd.grad(out, x_leaf, grad_outputs=basis[0])
try:
    torch.autograd.grad(out, x_leaf, grad_outputs=basis[1])
    raise AssertionError("a second backward through a freed graph should raise")
except RuntimeError as error:
    print(textwrap.fill(f"RuntimeError: {str(error).split('.')[0]}", width=86))

# %%
# .. _backward-accumulates:
#
# The trap: ``backward`` accumulates
# ----------------------------------
#
# ``Tensor.backward`` adds into ``x.grad`` rather than overwriting it. Call
# it twice and the "VJP" doubles, silently. The functional forms return a
# fresh tensor each time.

x_leaf = x.clone().requires_grad_()
for _ in range(2):
    f(x_leaf).backward(gradient=v)
# g + g = 2g exactly, with g within ~1e-14 of v^T J by hand (as in the checks above).
torch.testing.assert_close(x_leaf.grad, 2 * expected, rtol=1e-12, atol=1e-12)
print(
    "after two backward calls, x.grad / (v^T J) =",
    (x_leaf.grad / expected).mean().item(),
)
x_leaf.grad = None  # reset before the next product

# %%
# For a scalar loss, ``backward()`` needs no ``gradient``: it is the VJP with
# :math:`v = 1`, the derivative of the loss with respect to itself. A loss
# :math:`\sum_i v_i f_i(x)` therefore gives the same :math:`v^\top J` as
# ``backward(gradient=v)`` on :math:`f(x)`:

loss = (v * f(x_leaf)).sum()
loss.backward()
# The backward of sum hands 1 to mul, whose backward gives v * 1 = v exactly; from there
# the same backward as functional.vjp's, within ~1e-14 of v^T J by hand (the checks).
torch.testing.assert_close(x_leaf.grad, expected, rtol=1e-12, atol=1e-12)
print("loss.backward() for loss = (v * f(x)).sum() gives v^T J")
x_leaf.grad = None

# %%
# .. _is-grads-batched:
#
# Equivalent calls
# ----------------
#
# With ``from torch import autograd, func``, ``f`` and ``x`` as above, ``v``
# of the shape of ``f(x)``, ``V`` a stack of :math:`K` such cotangents, and
# ``x_leaf = x.detach().requires_grad_()``: ``torch.autograd`` differentiates
# with respect to tensors that require grad, and ``backward`` writes ``.grad``
# of leaves (of other tensors only after ``retain_grad()``), adding to what is
# there.
#
# .. list-table::
#    :header-rows: 1
#
#    * - to compute
#      - ``torch.autograd``
#      - ``torch.func``
#    * - :math:`v^\top J`, shaped like ``x``
#      - ``autograd.functional.vjp(f, x, v)[1]``,
#        ``autograd.grad(f(x_leaf), x_leaf, v)[0]``,
#        ``f(x_leaf).backward(gradient=v)`` then ``x_leaf.grad``
#      - ``func.vjp(f, x)[1](v)[0]``,
#        ``func.grad(lambda x: (v * f(x)).sum())(x)``
#    * - :math:`v^\top J` for each of :math:`K` cotangents, :math:`(K, N, 2)`
#      - ``autograd.grad(f(x_leaf), x_leaf, V, is_grads_batched=True)[0]``;
#        or ``y = f(x_leaf)`` once, then
#        ``autograd.grad(y, x_leaf, V[k], retain_graph=True)[0]`` for each
#        :math:`k`
#      - ``func.vmap(func.vjp(f, x)[1])(V)[0]``
#    * - full :math:`J`, :math:`(N, 3, N, 2)`
#      - ``autograd.functional.jacobian(f, x)``
#      - ``func.jacrev(f)(x)``, ``func.jacfwd(f)(x)``
#    * - per-sample :math:`J_n`, :math:`(N, 3, 2)`
#      - ``autograd.functional.jacobian(lambda x: f(x).sum(0), x, vectorize=True).transpose(0, 1)``
#        (block-diagonal :math:`J` only; without the transpose it is
#        :math:`(3, N, 2)`)
#      - ``func.vmap(func.jacrev(f_one_point))(x)``, with ``f_one_point``
#        the map for one point, :math:`(2,) \to (3,)`
#
# Every call in the table runs below, as written, on the first 5 points, and
# is checked against the Jacobian by hand of the checks above.

from torch import autograd, func


def f_one_point(point):
    """(2,) -> (3,): f for one point."""
    return f(point.unsqueeze(0)).squeeze(0)


x, v = x[:5], v[:5]
V = torch.randn(4, 5, 3, generator=generator, dtype=torch.float64)  # K = 4 cotangents
expected_blocks = jacobian_by_hand(x)  # J_n, (N, 3, 2)
expected_vjp = torch.einsum("ni,nij->nj", v, expected_blocks)  # v^T J, (N, 2)
expected_vjps = torch.einsum("kni,nij->knj", V, expected_blocks)  # (K, N, 2)
# J_n on the diagonal blocks
expected_jacobian = torch.einsum(
    "nij,nm->nimj", expected_blocks, torch.eye(5, dtype=torch.float64)
)

# %%
# The calls, as written in the table, each with the value it must equal:

x_leaf = x.detach().requires_grad_()
f(x_leaf).backward(gradient=v)
y = f(x_leaf)
table = {  # each call as written in the table: (result, what it must equal)
    "autograd.functional.vjp(f, x, v)[1]": (
        autograd.functional.vjp(f, x, v)[1],
        expected_vjp,
    ),
    "autograd.grad(f(x_leaf), x_leaf, v)[0]": (
        autograd.grad(f(x_leaf), x_leaf, v)[0],
        expected_vjp,
    ),
    "f(x_leaf).backward(gradient=v); x_leaf.grad": (x_leaf.grad, expected_vjp),
    "func.vjp(f, x)[1](v)[0]": (func.vjp(f, x)[1](v)[0], expected_vjp),
    "func.grad(lambda x: (v * f(x)).sum())(x)": (
        func.grad(lambda x: (v * f(x)).sum())(x),
        expected_vjp,
    ),
    "autograd.grad(..., V, is_grads_batched=True)[0]": (
        autograd.grad(f(x_leaf), x_leaf, V, is_grads_batched=True)[0],
        expected_vjps,
    ),
    "autograd.grad(y, ..., V[k], retain_graph=True)[0]": (
        torch.stack(
            [
                autograd.grad(y, x_leaf, V[k], retain_graph=True)[0]
                for k in range(len(V))
            ]
        ),
        expected_vjps,
    ),
    "func.vmap(func.vjp(f, x)[1])(V)[0]": (
        func.vmap(func.vjp(f, x)[1])(V)[0],
        expected_vjps,
    ),
    "autograd.functional.jacobian(f, x)": (
        autograd.functional.jacobian(f, x),
        expected_jacobian,
    ),
    "func.jacrev(f)(x)": (func.jacrev(f)(x), expected_jacobian),
    "func.jacfwd(f)(x)": (func.jacfwd(f)(x), expected_jacobian),
    "autograd.functional.jacobian(... sum(0) ...).transpose(0, 1)": (
        autograd.functional.jacobian(
            lambda x: f(x).sum(0), x, vectorize=True
        ).transpose(0, 1),
        expected_blocks,
    ),
    "func.vmap(func.jacrev(f_one_point))(x)": (
        func.vmap(func.jacrev(f_one_point))(x),
        expected_blocks,
    ),
}
print(f"{'call':<61} {'shape':<12} max |error|")
for call, (result, expected_result) in table.items():
    # Each entry is one partial (b, a, 2a, -3, or c times 1 or 2b, at most 3 in
    # magnitude) or a sum of three products of one with v (|v| < 4), plus exact zeros;
    # the calls and einsum sum in other orders: within 3 x 12 x 2.2e-16 = 8e-15,
    # << 1e-12.
    torch.testing.assert_close(result, expected_result, rtol=1e-12, atol=1e-12)
    error = (result - expected_result).abs().max().item()
    print(f"{call:<61} {str(tuple(result.shape)):<12} {error:.1e}")

# %%
# The picture
# -----------
#
# The passes counted above, side by side. Reusing the graph saves two of the
# three forward passes and none of the three backward passes
# (``vmap(vjp_fn)`` runs the three as one batched backward pass). What that saves in time depends on what a forward pass
# costs next to a backward pass, and on each API's own overhead per call:
# :ref:`sphx_glr_auto_examples_jacobians_plot_02_batched_jacobian_methods.py`
# times the loop of three ``functional.vjp`` calls against the batched forms
# from :math:`N = 10` to :math:`10^5`. The pass counts are the same on every
# machine.

names = list(passes)
positions = torch.arange(len(names), dtype=torch.float64)
fig, ax = plt.subplots(figsize=(6.4, 2.8), layout="constrained")
ax.barh(
    positions - 0.2,
    [passes[name][0] for name in names],
    height=0.4,
    color="C0",
    label="forward passes (calls of f)",
)
ax.barh(
    positions + 0.2,
    [passes[name][1] for name in names],
    height=0.4,
    color="C1",
    label="backward passes reaching x",
)
ax.set_yticks(positions.tolist(), names)
ax.invert_yaxis()
ax.set_xticks(range(4))
ax.set_xlabel("passes for three one-hot VJPs (counted)")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %%
# What to remember
# ----------------
#
# * All spellings compute the same :math:`v^\top J`; the functional API
#   re-runs the forward pass per call, while :func:`torch.func.vjp` and
#   :func:`torch.autograd.grad` with ``retain_graph=True`` reuse one.
# * Reuse saves forward passes only, so it pays most when the forward pass
#   dominates the cost.
# * ``backward`` accumulates into ``.grad``: reset it between products.
#
# Next: :ref:`sphx_glr_auto_examples_jacobians_plot_04_random_v_trace_and_diagonal.py`.
# Reference: :func:`torch.func.vjp`, :func:`torch.func.grad`,
# :func:`torch.func.jacrev`, :func:`torch.func.jacfwd`,
# :func:`torch.func.vmap`, :func:`torch.autograd.grad`,
# :meth:`torch.Tensor.backward`.
