r"""
Dicts, tuples and extra outputs: the structure of what torch.func returns
=========================================================================

:mod:`torch.func` transforms take and return nested dicts, tuples and lists of
tensors ("pytrees"), not only single tensors, and can carry an extra output
that is not differentiated. This page shows what comes back in each case and
checks it against the derivative by hand: a Jacobian of a dict with respect to
a dict is a dict of dicts; ``has_aux``, :func:`torch.func.grad_and_value` (JAX's
``value_and_grad``, with the pair the other way round) and ``argnums``; a
parameter Jacobian flattened into one matrix, turned back into a dict, and used
for a neural tangent kernel; and one forward pass serving many VJPs, including
VJPs that can themselves be differentiated.
"""

# %%
# The maths
# ---------
#
# A function of a pytree is a function of its leaves. With inputs
# :math:`x_1, \dots, x_k` (the leaves, of any shapes) and outputs
# :math:`y_1, \dots, y_m`, the Jacobian is a block matrix with one block per
# (output, input) pair,
#
# .. math::
#
#    J = \begin{pmatrix} J_{11} & \cdots & J_{1k} \\ \vdots & & \vdots \\
#        J_{m1} & \cdots & J_{mk} \end{pmatrix}, \qquad
#    J_{ab} = \frac{\partial y_a}{\partial x_b}
#    \in \mathbb{R}^{\mathrm{shape}(y_a) \times \mathrm{shape}(x_b)}.
#
# ``jacrev`` returns these blocks nested the same way: the output's structure
# outside, the input's inside, each block of shape ``y_a.shape + x_b.shape``.
# A VJP takes a cotangent :math:`v` with the output's structure (one
# :math:`v_a` per output, shaped like it) and returns the input's structure:
#
# .. math::
#
#    (v^\top J)_b = \sum_{a=1}^{m} v_a^\top J_{ab}, \qquad b = 1, \dots, k.
#
# The example is :math:`f(a, b) = (u, w)` with :math:`a \in \mathbb{R}^3`,
# :math:`b \in \mathbb{R}^2`, :math:`u = b_1 \sin a` (elementwise) and
# :math:`w = b \sum_j a_j`. Its four blocks, by hand, are
#
# .. math::
#
#    J_{ua} = b_1 \operatorname{diag}(\cos a), \quad
#    J_{ub} = \begin{pmatrix} \sin a & 0 \end{pmatrix}, \quad
#    J_{wa} = b \, \mathbf{1}^\top, \quad
#    J_{wb} = \Bigl(\sum_j a_j\Bigr) I_2.
#
# Flattening every leaf and concatenating turns :math:`J` into one matrix.
# For a model's parameters :math:`\theta` (a dict) and a batch of :math:`B`
# inputs with :math:`K` outputs each, it is :math:`J \in \mathbb{R}^{BK \times P}`,
# and the empirical neural tangent kernel (NTK) is :math:`\Theta = J J^\top`.
# For a linear model :math:`f_\theta(x_i) = W x_i + c` with
# :math:`W \in \mathbb{R}^{K \times D}`, :math:`\partial f(x_i)_k / \partial
# W_{k'j} = \delta_{kk'} x_{ij}` and :math:`\partial f(x_i)_k / \partial c_{k'}
# = \delta_{kk'}`, so
#
# .. math::
#
#    \Theta_{(i,k),(i',k')} = \delta_{kk'} \bigl(x_i^\top x_{i'} + 1\bigr),
#    \qquad \Theta = \bigl(X X^\top + \mathbf{1}\mathbf{1}^\top\bigr) \otimes I_K.

# %%
# .. _pytree-jacobian-structure:
#
# Dicts in, dicts out
# -------------------
#
# ``f`` takes a dict and returns a dict. ``jacrev`` returns a dict (over the
# outputs) of dicts (over the inputs).

import re
import textwrap

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.func import functional_call, grad, grad_and_value, jacrev, vjp, vmap

generator = torch.Generator().manual_seed(0)
forward_calls = 0


def f(inputs):
    global forward_calls
    forward_calls += 1
    a, b = inputs["a"], inputs["b"]
    return {"u": b[0] * torch.sin(a), "w": b * a.sum()}


inputs = {
    "a": torch.randn(3, generator=generator, dtype=torch.float64),
    "b": torch.randn(2, generator=generator, dtype=torch.float64),
}
jacobian = jacrev(f)(inputs)
for out_name, row in jacobian.items():
    for in_name, block in row.items():
        print(f"jacobian[{out_name!r}][{in_name!r}]: {tuple(block.shape)}")
f_output = f(inputs)
block_shapes = {
    out_name: {in_name: tuple(block.shape) for in_name, block in row.items()}
    for out_name, row in jacobian.items()
}
# Exact: the nesting and every block's shape, output.shape + input.shape.
assert block_shapes == {
    out_name: {name: (*out.shape, *leaf.shape) for name, leaf in inputs.items()}
    for out_name, out in f_output.items()
}

# %%
# The VJP's cotangent has the output's structure, and its result the input's.
# ``vjp`` returns the output and ``vjp_fn``; ``vjp_fn`` returns a tuple with
# one entry per positional argument of ``f``: here one, the dict.

v = {
    "u": torch.randn(3, generator=generator, dtype=torch.float64),
    "w": torch.randn(2, generator=generator, dtype=torch.float64),
}
_, vjp_fn = vjp(f, inputs)
(vjp_result,) = vjp_fn(v)
print("vjp result:", {name: tuple(leaf.shape) for name, leaf in vjp_result.items()})
assert {name: leaf.shape for name, leaf in vjp_result.items()} == {
    name: leaf.shape for name, leaf in inputs.items()
}

# %%
# A cotangent whose structure differs from the output's is refused, with
# both structures in the message (``*`` is a leaf). In torch's pytrees a
# dict's key order is part of its structure, so the same keys in another
# order are refused too (JAX sorts a dict's keys, and would accept them); so
# is a list where the output has a tuple (below, for ``g``).


NBSP = "\N{NO-BREAK SPACE}"  # not whitespace to textwrap


def raised(call, expected_text):
    """Run CALL, check it raises with EXPECTED_TEXT, print the first line."""
    try:
        call()
    except (RuntimeError, ValueError) as error:
        assert expected_text in str(error), str(error)
        first_line = str(error).splitlines()[0]
        # Keep each {...} and (...) on one line: no-break spaces inside them.
        kept = re.sub(
            r"[{(][^{}()]*[})]", lambda m: m.group().replace(" ", NBSP), first_line
        )
        wrapped = textwrap.fill(f"{type(error).__name__}: {kept}", width=86)
        print(wrapped.replace(NBSP, " "))
        return
    raise AssertionError(f"expected an error containing {expected_text!r}")


raised(lambda: vjp_fn({"u": v["u"]}), "Expected pytree structure of cotangents")
raised(lambda: vjp_fn((v["u"], v["w"])), "Expected pytree structure of cotangents")
raised(
    lambda: vjp_fn({"w": v["w"], "u": v["u"]}),
    "Expected pytree structure of cotangents",
)

# %%
# Every leaf of a differentiated argument must be a tensor: a Python number
# among them is refused. Pass it as an argument that is not differentiated
# (``argnums`` below), or as a tensor.

raised(
    lambda: grad(lambda d: d["scale"] * d["a"].sum())({"a": inputs["a"], "scale": 2.0}),
    "must be Tensor",
)
scaled_sum_grad = grad(lambda d, scale: scale * d["a"].sum())({"a": inputs["a"]}, 2.0)
# Exact: 2 times the ones of the sum's gradient.
torch.testing.assert_close(
    scaled_sum_grad["a"], torch.full((3,), 2.0, dtype=torch.float64), rtol=0, atol=0
)

# %%
# The derivative by hand, block by block, from the maths above:

a, b = inputs["a"], inputs["b"]
expected = {
    "u": {
        # sphinx_gallery_break = ("torch.cos(a)", "torch.sin(a)")
        "a": torch.diag(b[0] * torch.cos(a)),
        "b": torch.stack((torch.sin(a), torch.zeros_like(a)), dim=1),
    },
    "w": {
        "a": b[:, None] * torch.ones(1, 3, dtype=torch.float64),
        "b": a.sum() * torch.eye(2, dtype=torch.float64),
    },
}
expected_vjp = {
    name: sum(v[out_name] @ expected[out_name][name] for out_name in v)
    for name in inputs
}

# %%
# The checks
# ----------
#
# ``jacrev``'s dict of dicts against the four blocks by hand, and the VJP
# against :math:`\sum_a v_a^\top J_{ab}` for each input.

error = max(
    (jacobian[o][i] - expected[o][i]).abs().max().item()
    for o in expected
    for i in expected[o]
)
print(f"max |jacrev block - block by hand| = {error:.1e}")
# Each entry is one cos, sin or 3-term sum times a number of size < 3
# (asserted), a few roundings of eps = 2.2e-16 on either side: far within 1e-12
# on any machine.
assert all(leaf.abs().max() < 3 for leaf in (*inputs.values(), *v.values()))
torch.testing.assert_close(jacobian, expected, rtol=1e-12, atol=1e-12)
# Sums of at most 5 such entries times v's (< 3): a few eps x 50, within 1e-12.
torch.testing.assert_close(vjp_result, expected_vjp, rtol=1e-12, atol=1e-12)
print("vjp result equals sum over outputs of v_a^T J_ab")

# %%
# Nested tuples work the same way. With ``argnums=(0, 1)`` and a second
# argument that is itself a pair, the Jacobian of a pair of outputs is a
# pair (outputs) of pairs (arguments), the second of which is a pair again.


def g(x, yz):
    y, z = yz
    return x * y, (y * z).sum()


x, y, z = (torch.randn(3, generator=generator, dtype=torch.float64) for _ in range(3))
nested = jacrev(g, argnums=(0, 1))(x, (y, z))
d_xy_dx, (d_xy_dy, d_xy_dz) = nested[0]
d_sum_dx, (d_sum_dy, d_sum_dz) = nested[1]
print(
    "d(x*y)/dz:",
    tuple(d_xy_dz.shape),
    "| d(sum y*z)/dy:",
    tuple(d_sum_dy.shape),
)
zeros = torch.zeros(3, 3, dtype=torch.float64)
# Exact: each block is a one-hot basis vector times y, x or z, or exact zeros.
torch.testing.assert_close(d_xy_dx, torch.diag(y), rtol=0, atol=0)
torch.testing.assert_close(d_xy_dy, torch.diag(x), rtol=0, atol=0)
torch.testing.assert_close(d_xy_dz, zeros, rtol=0, atol=0)
torch.testing.assert_close(d_sum_dx, torch.zeros(3, dtype=torch.float64))
torch.testing.assert_close((d_sum_dy, d_sum_dz), (z, y), rtol=0, atol=0)

# %%
# The ``vjp_fn`` of the same function takes its cotangent as a pair (a
# tensor and a scalar, like the outputs; a list is refused) and returns one
# entry per argument, the second a pair again:
# :math:`(c_1 \odot y,\ (c_1 \odot x + c_2 z,\ c_2 y))`.

c1 = torch.randn(3, generator=generator, dtype=torch.float64)
c2 = torch.tensor(2.0, dtype=torch.float64)
_, g_vjp_fn = vjp(g, x, (y, z))
raised(lambda: g_vjp_fn([c1, c2]), "Expected pytree structure of cotangents")
for_x, (for_y, for_z) = g_vjp_fn((c1, c2))
print(
    "vjp of g:",
    tuple(for_x.shape),
    "and a pair",
    (tuple(for_y.shape), tuple(for_z.shape)),
)
# Exact: the same products, and one sum of two terms (correctly rounded, in
# either order).
torch.testing.assert_close(
    (for_x, (for_y, for_z)), (c1 * y, (c1 * x + c2 * z, c2 * y)), rtol=0, atol=0
)

# %%
# .. _has-aux-and-grad-and-value:
#
# Extra outputs: ``has_aux``, ``grad_and_value``, ``argnums``
# -----------------------------------------------------------
#
# ``grad`` needs a function that returns one scalar tensor. A training loss
# often comes with something to log (here the predictions), and returning
# both is an error:

targets = torch.randn(3, generator=generator, dtype=torch.float64)


def loss_and_predictions(weights, x):
    global forward_calls
    forward_calls += 1
    predictions = weights * x
    return ((predictions - targets) ** 2).sum(), predictions


weights = torch.randn(3, generator=generator, dtype=torch.float64)
raised(lambda: grad(loss_and_predictions)(weights, x), "to return a Tensor, got")
raised(
    lambda: grad(lambda w, x: w * x)(weights, x),
    "to return a scalar Tensor",
)

# %%
# ``has_aux=True`` says the function returns ``(output, aux)``: the first is
# differentiated, the second is passed through. ``grad_and_value`` returns
# the value too, from the same forward pass. The pair is ``(gradient,
# value)``: JAX's ``value_and_grad`` returns ``(value, gradient)``. With
# ``has_aux`` it is ``(gradient, (value, aux))``. Counting calls of the
# function: computing the value separately runs it twice; either transform,
# once.

expected_gradient = 2 * (weights * x - targets) * x  # d/dw sum (w x - t)^2

forward_calls = 0
gradient, predictions = grad(loss_and_predictions, has_aux=True)(weights, x)
calls_grad_aux = forward_calls

forward_calls = 0
gradient_2, (loss, predictions_2) = grad_and_value(loss_and_predictions, has_aux=True)(
    weights, x
)
calls_grad_and_value = forward_calls

forward_calls = 0
loss_again, _ = loss_and_predictions(weights, x)
gradient_3, _ = grad(loss_and_predictions, has_aux=True)(weights, x)
calls_separately = forward_calls
print(
    f"calls: grad(has_aux) {calls_grad_aux} | grad_and_value(has_aux) "
    f"{calls_grad_and_value} | value, then grad {calls_separately}"
)
assert (calls_grad_aux, calls_grad_and_value, calls_separately) == (1, 1, 2)
# Elementwise: a product, a difference and a doubling of numbers of size < 2
# (asserted), grouped differently by the backward pass: a few eps, within 1e-12
# anywhere.
assert all(t.abs().max() < 2 for t in (weights, x, targets))
for each in (gradient, gradient_2, gradient_3):
    torch.testing.assert_close(each, expected_gradient, rtol=1e-12, atol=1e-12)
# Exact: the aux and the value are the forward pass's own tensors.
torch.testing.assert_close(predictions, weights * x, rtol=0, atol=0)
torch.testing.assert_close((loss, predictions_2), (loss_again, predictions))
print("grad_and_value returns (gradient, (value, aux)); both checked")

# %%
# ``vjp`` and ``jacrev`` take ``has_aux`` too: ``vjp`` then returns
# ``(output, vjp_fn, aux)`` and ``jacrev`` returns ``(jacobian, aux)``. The
# aux may be any pytree whose leaves are tensors (nested below); a leaf that
# is not a tensor, a string say, is refused.

_, vjp_fn_aux, aux = vjp(lambda w: (w * x, {"norm": w.norm()}), weights, has_aux=True)
jac_w, aux_jac = jacrev(lambda w: (w * x, {"norm": w.norm()}), has_aux=True)(weights)
print("vjp aux:", {k: round(t.item(), 4) for k, t in aux.items()})
# Exact: each entry on both sides is one product, x times v_u's entry (or, in
# jacrev's rows, times a one-hot's 1 or 0), rounded once; and the same norm call.
torch.testing.assert_close(vjp_fn_aux(v["u"])[0], x * v["u"], rtol=0, atol=0)
torch.testing.assert_close(jac_w, torch.diag(x), rtol=0, atol=0)
torch.testing.assert_close(aux["norm"], weights.norm(), rtol=0, atol=0)
torch.testing.assert_close(aux_jac, aux, rtol=0, atol=0)


def with_nested_aux(w, label=None):
    """W * X, and an aux nesting a tuple, a list and a dict (and LABEL if given)."""
    nested = (w.norm(), [w.sum(), {"max": w.max()}])
    return w * x, nested if label is None else (*nested, label)


_, _, nested_aux = vjp(with_nested_aux, weights, has_aux=True)
assert torch.equal(nested_aux[1][1]["max"], weights.max())  # exact: the same max
raised(
    lambda: vjp(lambda w: with_nested_aux(w, label="run 1"), weights, has_aux=True),
    "Expected tensors, got unsupported type",
)

# %%
# The aux is not differentiated by the transform; it comes back as computed.
# If the inputs require grad *outside* the transform, it keeps their graph,
# as any tensor computed from them does (keep that in mind when logging it:
# it holds the graph alive). ``.detach()`` it if only its value is wanted.

w_leaf = weights.clone().requires_grad_()
_, predictions_leaf = grad(loss_and_predictions, has_aux=True)(w_leaf, x)
print(
    "aux requires grad: input without grad",
    predictions.requires_grad,
    "| input with grad",
    predictions_leaf.requires_grad,
)
# The graph it holds: a grad_fn, through which the input's gradient flows.
assert not predictions.requires_grad and predictions_leaf.requires_grad
assert predictions_leaf.grad_fn is not None
(through_aux,) = torch.autograd.grad(predictions_leaf.sum(), w_leaf)
torch.testing.assert_close(through_aux, x, rtol=0, atol=0)  # exact: 1 * x

# %%
# ``argnums`` chooses which positional arguments are differentiated: an int
# gives one gradient, a tuple a tuple of them. Each argument may be a
# pytree.

for_x = grad(loss_and_predictions, argnums=1, has_aux=True)(weights, x)[0]
(for_w, for_x_too), _ = grad(loss_and_predictions, argnums=(0, 1), has_aux=True)(
    weights, x
)
expected_for_x = 2 * (weights * x - targets) * weights
print("argnums=1:", tuple(for_x.shape), "| argnums=(0, 1): a tuple of 2")
# As the gradient above: a few roundings of numbers of size < 2.
torch.testing.assert_close(for_x, expected_for_x, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(
    (for_w, for_x_too), (expected_gradient, expected_for_x), rtol=1e-12, atol=1e-12
)
raised(
    lambda: grad(loss_and_predictions, argnums=2, has_aux=True)(weights, x),
    "only 2 positional inputs",
)

# %%
# .. _parameter-jacobian-as-matrix:
#
# A parameter Jacobian as a matrix, and back
# ------------------------------------------
#
# ``jacrev`` over :func:`torch.func.functional_call` differentiates with
# respect to the parameters dict, so the Jacobian is a dict with one block
# per parameter, of shape ``output.shape + parameter.shape``. A linear model
# with :math:`D = 3` inputs and :math:`K = 2` outputs, on :math:`B = 4`
# inputs:

B, D, K = 4, 3, 2
model = nn.Linear(D, K).to(torch.float64)
params = {  # seeded parameters, used instead of the module's own
    name: torch.randn(p.shape, generator=generator, dtype=torch.float64)
    for name, p in model.named_parameters()
}
X = torch.randn(B, D, generator=generator, dtype=torch.float64)


def outputs(params):
    return functional_call(model, params, (X,))  # (B, K)


parameter_jacobian = jacrev(outputs)(params)
for name, block in parameter_jacobian.items():
    print(f"parameter_jacobian[{name!r}]: {tuple(block.shape)}")

# %%
# To flatten: reshape each block to (outputs, that parameter's size) and
# concatenate along the columns, in the dict's order. To go back: split a
# vector of length :math:`P` at the same sizes and reshape. These two
# functions are all that is needed; ``torch.nn.utils.parameters_to_vector``
# flattens in the same order (the module's parameter order), as checked.


def flatten(tree, batch_shape=()):
    """The leaves of the dict TREE as one tensor of shape (*batch_shape, P)."""
    rows = [leaf.reshape(*batch_shape, -1) for leaf in tree.values()]
    return torch.cat(rows, dim=-1)


def unflatten(vector, like):
    """VECTOR (length P) split into a dict shaped like LIKE."""
    sizes = [leaf.numel() for leaf in like.values()]
    pieces = torch.split(vector, sizes)
    return {name: piece.reshape(like[name].shape) for name, piece in zip(like, pieces)}


J = flatten(parameter_jacobian, batch_shape=(B * K,))  # rows: (sample, output)
P = J.shape[1]
print(f"J: {tuple(J.shape)} = (B K) x P, P = {P}")
theta = flatten(params)
round_trip = unflatten(theta, params)
with torch.no_grad():  # torch's own unflatten, into the module's parameters
    torch.nn.utils.vector_to_parameters(theta, model.parameters())
# Exact: reshape, cat, split and copies only move numbers.
assert all(torch.equal(round_trip[name], params[name]) for name in params)
assert all(torch.equal(p, params[name]) for name, p in model.named_parameters())
assert torch.equal(torch.nn.utils.parameters_to_vector(model.parameters()), theta)
print("unflatten(flatten(params)) == params; same order as parameters_to_vector")

# %%
# With :math:`J` as a matrix, the NTK is one product, checked against
# :math:`(X X^\top + \mathbf{1}\mathbf{1}^\top) \otimes I_K` from the maths
# (rows and columns ordered (sample, output), as ``reshape`` orders them).

ntk = J @ J.T
ones_B = torch.ones(B, B, dtype=torch.float64)
expected_ntk = torch.kron(X @ X.T + ones_B, torch.eye(K, dtype=torch.float64))
print(
    f"NTK: {tuple(ntk.shape)}, max |J J^T - by hand| = "
    f"{(ntk - expected_ntk).abs().max():.1e}"
)
# Each entry sums at most P = 8 (J J^T) or D + 1 = 4 (X X^T + 1) terms, whose
# sizes add to at most (|X| |X|^T + 1) < 10 (asserted): within ~10 eps x 10 =
# 2e-14 of the exact value, either way, on any machine; 1e-12 is ample.
assert (X.abs() @ X.abs().T + 1).max() < 10
torch.testing.assert_close(ntk, expected_ntk, rtol=1e-12, atol=1e-12)

# %%
# The way back matters when a VJP or JVP meets the flat matrix: a VJP returns
# :math:`J^\top v` as a dict like ``params``, and a JVP takes its tangent as
# one. ``flatten`` and ``unflatten`` connect the two: the VJP's dict,
# flattened, is ``J.T @ v``, and a JVP of that dict, unflattened from it, is
# the NTK times :math:`v`, :math:`\Theta v = J (J^\top v)`, with no matrix
# formed: a combination of all the NTK's columns, weighted by the entries of
# :math:`v`, and one column only for a one-hot :math:`v`
# (:ref:`sphx_glr_auto_examples_higher_order_plot_06_ntk_and_gauss_newton.py`
# builds on this product).

cotangent = torch.randn(B, K, generator=generator, dtype=torch.float64)
_, pullback = vjp(outputs, params)
(parameter_shaped,) = pullback(cotangent)  # J^T v, a dict like params
ntk_v = torch.func.jvp(
    outputs, (params,), (unflatten(flatten(parameter_shaped), params),)
)[1]
magnitudes = torch.kron(X.abs() @ X.abs().T + ones_B, torch.eye(K, dtype=torch.float64))
# Both routes add products J_jk J_ik v_i (J^T v: sums of B K = 8 against the
# VJP's B = 4, which skips J's zeros), at most 16 terms to an entry, whose sizes
# add to < 20 ((|X| |X|^T + 1) kron I_K times |v|, asserted): errors under
# 16 eps x 20 = 7e-14 on any machine; 1e-12 is ample.
assert (magnitudes @ cotangent.abs().flatten()).max() < 20
torch.testing.assert_close(
    flatten(parameter_shaped), J.T @ cotangent.flatten(), rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(
    ntk_v.flatten(), expected_ntk @ cotangent.flatten(), rtol=1e-12, atol=1e-12
)
print("flatten(VJP dict) == J^T v; JVP of it == NTK v by hand")

# %%
# The older :func:`torch.autograd.functional.vjp` takes a tensor or a tuple of
# tensors only; a dict is refused (its ``jacobian`` likewise). Pass
# ``tuple(params.values())`` and rebuild the dict, or use :mod:`torch.func`.

for older_api in (
    lambda: torch.autograd.functional.vjp(outputs, params, v=cotangent),
    lambda: torch.autograd.functional.jacobian(outputs, params),
):
    try:
        older_api()
        raise AssertionError("torch.autograd.functional should refuse a dict")
    except TypeError as error:
        assert "must be either a Tensor or a tuple of Tensors" in str(error)
        print(textwrap.fill(f"TypeError: {error}", width=86))

# %%
# .. _one-forward-pass-many-vjps:
#
# One forward pass, many VJPs
# ---------------------------
#
# ``vjp`` runs the function once and returns ``vjp_fn``, which keeps what the
# forward pass saved: every later call, for any cotangent, runs only a
# backward pass. ``vmap(vjp_fn)`` takes a batch of cotangents (each leaf
# with a leading batch dimension) and runs them as one batched backward
# pass. With :mod:`torch.autograd`, the graph of one forward pass serves
# many calls of :func:`torch.autograd.grad` if each but the last passes
# ``retain_graph=True``; without it the first call frees the tensors the
# graph saved, and a second call whose backward pass needs one of them
# raises (checked at the end of this section).
# :ref:`sphx_glr_auto_examples_jacobians_plot_03_functional_to_torch_func.py`
# counts the backward passes of each route.
# The five one-hot cotangents of ``f``'s five outputs give the five rows of
# its Jacobian, which must equal the blocks by hand, stacked. The measure is
# the number of calls of ``f``, counted by ``f`` itself.

rows_by_hand = torch.cat(
    [torch.cat([expected[o][i] for i in inputs], dim=1) for o in expected], dim=0
)
one_hots = torch.eye(5, dtype=torch.float64)
unflatten_each = vmap(unflatten, in_dims=(0, None))  # rows -> dicts of batches

forward_calls = 0
_, vjp_fn = vjp(f, inputs)
rows_loop = torch.stack(
    [flatten(vjp_fn(unflatten(one_hot, f_output))[0]) for one_hot in one_hots]
)
calls_loop = forward_calls

forward_calls = 0
_, vjp_fn = vjp(f, inputs)
(rows_vmap,) = vmap(vjp_fn)(unflatten_each(one_hots, f_output))
rows_vmap = flatten(rows_vmap, batch_shape=(5,))
calls_vmap = forward_calls

forward_calls = 0
leaves = {name: leaf.clone().requires_grad_() for name, leaf in inputs.items()}
graph_outputs = f(leaves)
rows_retained = []
for k, one_hot in enumerate(one_hots):
    cotangents = unflatten(one_hot, graph_outputs)
    vjp_leaves = torch.autograd.grad(
        list(graph_outputs.values()),
        list(leaves.values()),
        grad_outputs=list(cotangents.values()),
        retain_graph=k < 4,  # the last call may free the graph
    )
    rows_retained.append(torch.cat(vjp_leaves))
rows_retained = torch.stack(rows_retained)
calls_retained = forward_calls

print(
    f"calls of f for 5 VJPs: vjp_fn in a loop {calls_loop}, vmap(vjp_fn) {calls_vmap},"
)
print(f"  autograd.grad with retain_graph=True {calls_retained}")
assert (calls_loop, calls_vmap, calls_retained) == (1, 1, 1)
for rows in (rows_loop, rows_vmap, rows_retained):
    # As in the checks: one cos, sin or 3-term sum times a number, a few eps.
    torch.testing.assert_close(rows, rows_by_hand, rtol=1e-12, atol=1e-12)
print("each route's 5 rows equal the Jacobian by hand")

# %%
# Without ``retain_graph``, whether a second call raises depends on what the
# graph saved: ``f``'s ``sin`` and products saved tensors, and the first call
# freed them; ``a + 1`` saves none, so its graph serves a second call, and a
# missing ``retain_graph`` there goes unnoticed.


def second_call_error(output):
    """The first line of the error of a second autograd.grad through OUTPUT's
    graph (neither call retains it), or None."""
    for _ in range(2):
        try:
            torch.autograd.grad(output, leaves["a"], torch.ones_like(output))
        except RuntimeError as error:
            return str(error).splitlines()[0]
    return None


f_error = second_call_error(f(leaves)["u"])
print(f"f's u, second call: RuntimeError: {f_error.split(' (or')[0]}")
assert f_error.startswith("Trying to backward through the graph a second time")
assert second_call_error(leaves["a"] + 1) is None
print("a + 1, second call: no error")

# %%
# .. _vjp-that-keeps-a-graph:
#
# VJPs that can be differentiated again
# -------------------------------------
#
# A VJP :math:`v^\top J(x)` is itself a function of :math:`x` (and of
# :math:`v`). For ``f``, its ``a`` part is :math:`b_1 \cos a \odot v_u +
# (v_w^\top b) \mathbf{1}`, so the VJP of that with a second vector
# :math:`t`, with respect to :math:`a`, is :math:`-b_1 \sin a \odot v_u \odot t`.
# With :func:`torch.autograd.grad`, the VJP carries a graph only if asked
# with ``create_graph=True``; without it, differentiating it again fails:

t = torch.randn(3, generator=generator, dtype=torch.float64)
expected_second = -b[0] * torch.sin(a) * v["u"] * t

leaves = {name: leaf.clone().requires_grad_() for name, leaf in inputs.items()}
graph_outputs = f(leaves)
plain_vjp, _ = torch.autograd.grad(
    list(graph_outputs.values()), list(leaves.values()), list(v.values())
)
print("without create_graph, the VJP requires grad:", plain_vjp.requires_grad)
assert not plain_vjp.requires_grad
raised(
    lambda: torch.autograd.grad(plain_vjp, leaves["a"], t),
    "does not require grad and does not have a grad_fn",
)

graph_outputs = f(leaves)
vjp_a, _ = torch.autograd.grad(
    list(graph_outputs.values()),
    list(leaves.values()),
    list(v.values()),
    create_graph=True,
)
(second_autograd,) = torch.autograd.grad(vjp_a, leaves["a"], t)
print("with create_graph=True:", vjp_a.requires_grad, "| differentiated again")

# %%
# In :mod:`torch.func` nothing needs asking: transforms nest, so the VJP
# computed inside an outer transform is differentiated by it.


def vjp_a_dot_t(a):
    _, inner_vjp_fn = vjp(f, {"a": a, "b": b})
    return (inner_vjp_fn(v)[0]["a"] * t).sum()


second_func = grad(vjp_a_dot_t)(a)
for second in (second_autograd, second_func):
    # Products of one sin and three numbers (a few eps), plus the derivative of
    # (v_w . b) 1, which is exactly 0 in a: within 1e-12 on any machine.
    torch.testing.assert_close(second, expected_second, rtol=1e-12, atol=1e-12)
print("second-order VJP, autograd and torch.func: both equal -b1 sin(a) v_u t")

# %%
# The picture
# -----------
#
# Left: ``jacrev(f)``'s dict of dicts laid out as the block matrix of the
# maths. Right: the parameter Jacobian's dict flattened into one
# :math:`BK \times P` matrix; the columns of ``weight`` hold each sample's
# inputs, those of ``bias`` ones, each on its output's row.

jacobian_matrix = torch.cat(
    [torch.cat([jacobian[o][i] for i in inputs], dim=1) for o in jacobian], dim=0
)
row_names = [f"(x{i + 1}, f{k + 1})" for i in range(B) for k in range(K)]
column_names = [f"W{k + 1}{j + 1}" for k in range(K) for j in range(D)]
column_names += [f"c{k + 1}" for k in range(K)]
panels = (
    (jacobian_matrix, ["u1", "u2", "u3", "w1", "w2"], ["a1", "a2", "a3", "b1", "b2"]),
    (J, row_names, column_names),
)
titles = ("jacrev(f): J[out][in] as blocks", "flatten(jacrev(outputs)(params))")
splits = ((3, 3), (None, D * K))  # where the blocks meet: (row, column)

fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.8), layout="constrained")
for ax, (matrix, rows, columns), title, (row_split, column_split) in zip(
    axes, panels, titles, splits
):
    limit = matrix.abs().max().item()
    image = ax.imshow(matrix.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.axvline(column_split - 0.5, color="k", lw=1.5)
    if row_split is not None:
        ax.axhline(row_split - 0.5, color="k", lw=1.5)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.7)
axes[1].set_xlabel("weight (6) | bias (2)", fontsize=9)
axes[0].set_xlabel("a (3) | b (2)", fontsize=9)
plt.show()

# %%
# What to remember
# ----------------
#
# * :mod:`torch.func` follows the structure it is given: a cotangent has
#   exactly the output's structure (a dict's key order included, a tuple not
#   a list), a VJP the input's, and a Jacobian of a dict by a dict
#   is a dict of dicts of blocks shaped ``out.shape + in.shape``.
# * ``has_aux=True`` passes an extra output through ``grad``, ``vjp`` and
#   ``jacrev``; ``grad_and_value`` returns ``(gradient, value)`` from one
#   forward pass (JAX's ``value_and_grad`` is ``(value, gradient)``);
#   ``argnums`` picks the arguments.
# * To get a matrix, reshape each block to (outputs, -1) and concatenate in
#   the dict's order; split and reshape to go back. ``J @ J.T`` is the NTK.
# * ``vjp_fn`` (or a retained graph) serves any number of cotangents from one
#   forward pass; a VJP is differentiable again under ``create_graph=True``
#   or inside another transform.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_01_vjp_or_jvp.py`.
# Reference: :func:`torch.func.jacrev`, :func:`torch.func.vjp`,
# :func:`torch.func.jvp`, :func:`torch.func.grad`,
# :func:`torch.func.grad_and_value`, :func:`torch.func.vmap`,
# :func:`torch.func.functional_call`, :func:`torch.autograd.grad`,
# :func:`torch.autograd.functional.vjp`,
# :func:`torch.nn.utils.parameters_to_vector`,
# :func:`torch.nn.utils.vector_to_parameters`.
