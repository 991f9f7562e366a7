r"""
Every argument of torch.autograd.functional.vjp, and every error it raises itself
=================================================================================

What :func:`torch.autograd.functional.vjp` accepts, what it returns, and
every error its own code raises in PyTorch 2.13 (a section near the end
lists them, with a link to the source), each raised here for real, its
message shown as PyTorch words it (wrapped to the page's width), and a fix
that is then run. Then the errors of autograd itself that ``vjp`` spares you
and ``backward`` does not: a second backward pass through one graph, a
result with nothing to differentiate, and ``.grad`` of a non-leaf. Also the
cases that raise nothing and are wrong anyway: an input the function
ignores, and derivatives at non-differentiable points.
"""

# %%
# The maths
# ---------
#
# For :math:`f : \mathbb{R}^n \to \mathbb{R}^m` with Jacobian :math:`J \in
# \mathbb{R}^{m \times n}`, ``vjp`` takes :math:`v \in \mathbb{R}^m` and
# returns :math:`v^\top J \in \mathbb{R}^{1 \times n}`. With tensors of any
# shape, ``v`` has exactly the output's shape and the result the input's;
# shapes that do not match are rejected, never broadcast. For a tuple of
# outputs the result is :math:`v_1^\top J_1 + v_2^\top J_2`, and for a tuple
# of inputs it is a tuple, one block of :math:`v^\top J` per input.
#
# The functions on this page are elementwise, or sums, so each VJP is known
# by hand. For the square, the cube and a scaling :math:`(x, s) \mapsto s x`,
#
# .. math::
#
#    x^2:\ 2x \odot v, \qquad x^3:\ 3x^2 \odot v, \qquad
#    s x:\ \bigl(s v,\ x^\top v\bigr),
#
# and the VJP of the cube's VJP :math:`3x^2` (with :math:`v = \mathbf{1}`
# both times) is :math:`6x`. The checks near the end compare every fix with
# these.

# %%
# The signature
# -------------
#
# ``vjp(func, inputs, v=None, create_graph=False, strict=False)`` returns
# ``(func(*inputs), vjp)``:
#
# * ``inputs``: a tensor, or a tuple of tensors (not a list); the result
#   ``vjp`` has the same structure;
# * ``v``: a tensor shaped like the output of ``func``, or a tuple of them
#   (not a list) for a tuple of outputs; it may be omitted only when the
#   output has one element, and then means :math:`v = 1`, the gradient;
# * ``create_graph``: keep the graph, so the result can be differentiated
#   again;
# * ``strict``: raise instead of returning zeros for an input that no output
#   is connected to in the autograd graph (a test of the graph, not of the
#   maths: ``x**2 + 0 * w`` passes and gets zeros for ``w``); it also raises
#   for any output that does not require grad, and, with ``create_graph``,
#   for a result that does not require grad (the section on silent zeros
#   runs each case).

import re
import textwrap
import warnings

import matplotlib.pyplot as plt
import torch
from torch.autograd.functional import vjp

generator = torch.Generator().manual_seed(0)
x = torch.randn(4, generator=generator, dtype=torch.float64)
ones = torch.ones(4, dtype=torch.float64)
fixes = {}  # what each fix returns, compared with the maths in the checks


NO_BREAK = "\N{NO-BREAK SPACE}"  # not whitespace to textwrap


def print_wrapped(message):
    """Print MESSAGE at the page's width, breaking neither a word nor a [...]."""
    keep = re.sub(r"\[[^\]]*\]", lambda m: m.group().replace(" ", NO_BREAK), message)
    lines = textwrap.wrap(keep, 86, subsequent_indent="  ", break_on_hyphens=False)
    print("\n".join(lines).replace(NO_BREAK, " "))


def raised(call, expected_type, expected_text):
    """Run CALL, check it raises EXPECTED_TYPE with EXPECTED_TEXT, print the message."""
    try:
        call()
    except expected_type as error:
        assert expected_text in str(error), str(error)
        print_wrapped(f"{type(error).__name__}: {error}")
        return
    raise AssertionError(f"expected {expected_type.__name__}: {expected_text}")


# %%
# .. _vjp-v-omitted:
#
# ``v`` omitted for an output with more than one element
# ------------------------------------------------------

raised(lambda: vjp(lambda x: x**2, x), RuntimeError, "can only be None")

# %%
# Fix: pass ``v`` shaped like the output (or reduce the output to one
# element, if a gradient is what you want).

_, fixed = vjp(lambda x: x**2, x, v=ones)
_, gradient = vjp(lambda x: (x**2).sum(), x)  # one element: v = 1 is implied
print("fixed:", fixed)
fixes["x**2, v = ones"], fixes["(x**2).sum(), v omitted"] = fixed, gradient

# %%
# ``v`` of the wrong shape
# ------------------------
#
# No broadcasting: a ``(4, 1)`` ``v`` for a ``(4,)`` output is an error.

raised(
    lambda: vjp(lambda x: x**2, x, v=torch.ones(4, 1, dtype=torch.float64)),
    RuntimeError,
    "v has invalid size",
)

# %%
# Fix: ``v = torch.ones_like(output)``, or reshape ``v`` to the output's
# shape.

output = x**2
_, fixes["x**2, v reshaped"] = vjp(
    lambda x: x**2, x, v=torch.ones(4, 1, dtype=torch.float64).reshape(output.shape)
)

# %%
# ``v`` and a tuple of outputs
# ----------------------------
#
# A function returning a tuple of outputs needs one ``v`` per output, each
# shaped like its output, as a tuple of the same length; a single tensor
# counts as a tuple of one, so it is enough for a tuple of one output. A
# function returning one tensor needs one ``v`` (a tuple holding one tensor
# also works).

two_outputs = lambda x: (x**2, x.sum())  # noqa: E731
raised(
    lambda: vjp(two_outputs, x, v=ones), RuntimeError, "v is a tuple of invalid length"
)
raised(
    lambda: vjp(two_outputs, x, v=(ones, ones)),
    RuntimeError,
    "Entry 1 in v has invalid size",
)
raised(
    lambda: vjp(lambda x: x**2, x, v=(ones, ones)),
    RuntimeError,
    "The given v should contain a single Tensor",
)

# %%
# Fix: one ``v`` per output. The result is the sum of the two VJPs:
# :math:`v_1^\top J_1 + v_2^\top J_2`.

v_square, v_sum = ones, torch.tensor(2.0, dtype=torch.float64)
_, fixed = vjp(two_outputs, x, v=(v_square, v_sum))
print("fixed:", fixed)
fixes["(x**2, x.sum()), v = (ones, 2)"] = fixed
# a tuple of one output, a plain tensor v
_, fixes["(x**2,), a plain tensor v"] = vjp(lambda x: (x**2,), x, v=ones)

# %%
# Lists, and numbers where tensors belong
# ---------------------------------------
#
# ``inputs``, ``v`` and the function's outputs must each be a tensor or a
# tuple of tensors. A list is rejected, and so is a Python number inside a
# tuple; the message says which argument and which index.

raised(
    lambda: vjp(lambda x: x**2, [x], v=ones),
    TypeError,
    "The inputs given to vjp must be",
)
raised(
    lambda: vjp(lambda x: x**2, x, v=[ones]), TypeError, "The v given to vjp must be"
)
raised(
    lambda: vjp(lambda x, scale: scale * x, (x, 2.0), v=ones),
    TypeError,
    "value at index 1 has type <class 'float'>",
)
raised(
    lambda: vjp(two_outputs, x, v=(ones, 2.0)),
    TypeError,
    "value at index 1 has type <class 'float'>",
)
raised(
    lambda: vjp(lambda x: x.detach().sum().item(), x),
    TypeError,
    "The outputs of the user-provided function",
)
raised(
    lambda: vjp(lambda x: (x**2, x.sum().item()), x, v=(ones, v_sum)),
    TypeError,
    "value at index 1",
)

# %%
# Fix: tuples, ``(x,)``; numbers as tensors, ``torch.tensor(2.0)``; return
# tensors (``.item()`` or ``float(...)`` leave autograd).

_, (fixes["x**2, inputs (x,), v (ones,)"],) = vjp(lambda x: x**2, (x,), v=(ones,))
scale = torch.tensor(2.0, dtype=torch.float64)
_, (for_x, for_scale) = vjp(lambda x, scale: scale * x, (x, scale), v=ones)
fixes["scale * x, for x"], fixes["scale * x, for scale"] = for_x, for_scale

# %%
# Integer inputs
# --------------

raised(
    lambda: vjp(lambda x: x**2, torch.arange(4), v=torch.ones(4)),
    RuntimeError,
    "only Tensors of floating point dtype",
)

# %%
# Fix: convert the input, not inside the function: ``vjp`` needs a
# floating-point or complex tensor to differentiate with respect to
# (complex works too, although the message names floating point only). For
# a complex input the result follows PyTorch's conjugate convention: for
# :math:`z^2` and :math:`v = 1` it is the conjugate :math:`2 \bar{z}` and
# not :math:`2z`, as
# :ref:`sphx_glr_auto_examples_higher_order_plot_03_complex_inputs.py`
# explains.

converted = torch.arange(4).to(torch.float64)
_, fixes["x**2 at arange(4), as float64"] = vjp(lambda x: x**2, converted, v=ones)
z = torch.tensor([1 + 2j, -0.5 + 1j], dtype=torch.complex128)
_, for_complex = vjp(lambda z: z**2, z, v=torch.ones(2, dtype=torch.complex128))
print("z:", z.tolist(), "| vjp of z**2 with v = 1:", for_complex.tolist())
fixes["z**2, complex z"] = for_complex

# %%
# Inputs that do, or do not, require grad
# ---------------------------------------
#
# Without ``create_graph``, neither matters: ``vjp`` calls the function on
# ``x.detach().requires_grad_()``. ``detach`` returns an alias, not a copy:
# a new tensor that shares ``x``'s memory but none of its history. So ``x``
# needs no ``requires_grad``, and a leaf that has it gets no ``.grad``
# written (``vjp`` uses :func:`torch.autograd.grad`, not ``backward``). A
# function that keeps its argument shows what ``vjp`` passes in:

received = []


def cube(t):
    received.append(t)
    return t**3


leaf = x.clone().requires_grad_()
_, result = vjp(cube, leaf, v=ones)
inner = received[-1]
print(
    "the function got: a new tensor:",
    inner is not leaf,
    "| same memory:",
    inner.data_ptr() == leaf.data_ptr(),
    "| history:",
    inner.grad_fn,
)
assert (
    inner is not leaf and inner.data_ptr() == leaf.data_ptr() and inner.grad_fn is None
)
assert leaf.grad is None and not result.requires_grad
print(
    "leaf.grad after vjp:", leaf.grad, "| result requires grad:", result.requires_grad
)

# %%
# ``create_graph=True``: differentiating the result again
# --------------------------------------------------------
#
# With the default ``create_graph=False`` the result is a plain tensor. With
# ``True``, and a VJP that depends on the input (not so for a linear
# function, below), it carries a graph, which leads back to the tensor the
# function was called with. If ``x`` requires grad, that tensor is a view
# of ``x``, so the graph reaches ``x``. If ``x`` does not, it is the
# detached alias from above, which the caller never sees: the result
# requires grad, yet differentiating it with respect to ``x`` fails.

_, first = vjp(cube, x, v=ones, create_graph=True)
print("first requires grad:", first.requires_grad)
torch.testing.assert_close(first, 3 * x**2)
raised(
    lambda: torch.autograd.grad(first, x, ones), RuntimeError, "does not require grad"
)
# vjp's alias of x: reachable
(fixes["x**3 twice, w.r.t. vjp's alias"],) = torch.autograd.grad(
    first, received[-1], ones
)

# %%
# Two patterns that work, for :math:`f(x) = x^3` and :math:`(f')' = 6x`: make
# ``x`` require grad *before* the call and differentiate the result with
# respect to ``x``; or put the first VJP inside a second one, which
# differentiates with respect to its own alias.

x_leaf = x.clone().requires_grad_()
_, first = vjp(cube, x_leaf, v=ones, create_graph=True)
assert received[-1]._base is x_leaf  # the function got a view of x_leaf
(second_by_grad,) = torch.autograd.grad(first, x_leaf, ones)

_, second = vjp(lambda x: vjp(cube, x, v=ones, create_graph=True)[1], x, v=ones)
print("second derivative, both ways:")
print(second_by_grad)
print(second)
fixes["x**3 twice, x requires grad"] = second_by_grad
fixes["x**3 twice, vjp of vjp"] = second

# %%
# .. _silent-zeros-unused-input:
#
# The silent zeros: an input the function does not use
# ----------------------------------------------------
#
# A function of ``(x, w)`` that ignores ``w`` returns a VJP of zeros for
# ``w``. Correct, but often a bug: the classic is a closure over a global
# tensor instead of the argument.

w = torch.randn(4, generator=generator, dtype=torch.float64)
_, (for_x, for_w) = vjp(lambda x, w: x**2, (x, w), v=ones)
print("VJP for the unused w:", for_w)
torch.testing.assert_close(for_w, torch.zeros(4, dtype=torch.float64))

forgotten = torch.randn(4, generator=generator, dtype=torch.float64)
_, closure_vjp = vjp(lambda x: forgotten**2, x, v=ones)  # meant x**2
print("VJP of a closure over the wrong tensor:", closure_vjp)
torch.testing.assert_close(closure_vjp, torch.zeros(4, dtype=torch.float64))

# %%
# ``strict=True`` turns both into errors:

raised(
    lambda: vjp(lambda x, w: x**2, (x, w), v=ones, strict=True),
    RuntimeError,
    "independent of input 1",
)
raised(
    lambda: vjp(lambda x: forgotten**2, x, v=ones, strict=True),
    RuntimeError,
    "does not require gradients",
)

# %%
# The second message states the test: ``strict`` refuses every output that
# does not require grad, even when another output depends on every input
# and no zeros would be returned. A function returning ``x**2`` and a
# constant is refused, although its VJP without ``strict`` is the right,
# non-zero :math:`2x`:

with_constant = lambda x: (x**2, torch.ones(4, dtype=torch.float64))  # noqa: E731
raised(
    lambda: vjp(with_constant, x, v=(ones, ones), strict=True),
    RuntimeError,
    "Output 1 of the user-provided",
)
_, not_zero = vjp(with_constant, x, v=(ones, ones))
torch.testing.assert_close(not_zero, 2 * x)
print("without strict:", not_zero)

# %%
# With ``create_graph=True`` it also refuses a VJP that does not require
# grad, such as a linear function's: :math:`v^\top J` is then a constant,
# and the result has no graph to differentiate.

raised(
    lambda: vjp(lambda x: 3 * x, x, v=ones, create_graph=True, strict=True),
    RuntimeError,
    "create_graph=True",
)

# %%
# Fix: leave ``strict`` off and treat the result as the constant it is (its
# derivative with respect to ``x`` is 0).

_, constant = vjp(lambda x: 3 * x, x, v=ones, create_graph=True)
torch.testing.assert_close(constant, 3 * ones)
assert not constant.requires_grad
print(
    "linear function, create_graph=True:",
    constant.tolist(),
    "| requires grad:",
    constant.requires_grad,
)

# %%
# The test is the result's ``requires_grad``, not whether it depends on
# ``x``. With a ``v`` that requires grad, the same linear function passes
# ``strict=True``: :math:`3v` requires grad through ``v``, and ``x`` is
# still not in its graph.

x_leaf = x.clone().requires_grad_()
v_leaf = ones.clone().requires_grad_()
_, through_v = vjp(lambda x: 3 * x, x_leaf, v=v_leaf, create_graph=True, strict=True)
wrt_x, wrt_v = torch.autograd.grad(through_v, (x_leaf, v_leaf), ones, allow_unused=True)
print(
    "v requires grad, strict=True: no error | d/dv:", wrt_v.tolist(), "| d/dx:", wrt_x
)
assert wrt_x is None
torch.testing.assert_close(wrt_v, 3 * ones)

# %%
# For an input, too, ``strict`` tests the graph, not the maths.
# ``x**2 + 0 * w`` does not change with ``w``, but ``w`` is in its graph:
# ``strict`` lets it through, and the VJP for ``w`` is zeros.
# ``x**2 + (w > 0).double()`` does change with ``w`` (in steps), but the
# comparison leaves the graph: ``strict`` raises.

_, (_, times_zero) = vjp(lambda x, w: x**2 + 0 * w, (x, w), v=ones, strict=True)
print("x**2 + 0 * w, strict=True: no error | VJP for w:", times_zero.tolist())
torch.testing.assert_close(times_zero, torch.zeros(4, dtype=torch.float64))
raised(
    lambda: vjp(lambda x, w: x**2 + (w > 0).double(), (x, w), v=ones, strict=True),
    RuntimeError,
    "independent of input 1",
)

# %%
# Is that every error?
# --------------------
#
# In PyTorch 2.13 a call to ``vjp`` can reach nine ``raise`` statements in
# `torch/autograd/functional.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/autograd/functional.py>`_,
# and each was raised above:
#
# * ``vjp`` itself: ``v`` omitted for an output with more than one element;
# * ``_as_tuple``, two: something other than a tensor or a tuple (a list,
#   a number) as ``inputs``, ``v`` or the function's output, and something
#   other than a tensor inside such a tuple;
# * ``_validate_v``, three: a ``v`` whose length does not match a tuple of
#   outputs (a single tensor counts as one), a tuple ``v`` of other than
#   one tensor for a single output, and a ``v`` (or an entry of it) of the
#   wrong size;
# * ``_check_requires_grad``, one, with ``strict``: an output that does not
#   require grad;
# * ``_fill_in_zeros``, two, with ``strict``: an input no output is
#   connected to, and, with ``create_graph``, a result that does not require
#   grad.
#
# The other ``raise`` statements in these helpers serve ``jvp``,
# ``hessian``, ``vhp`` and ``hvp``, which share them, or check arguments
# that ``vjp`` builds itself. Errors from autograd's core underneath (the
# integer input above is one) and from your own function come on top of
# these, and another release may add or change some: the site's tests count
# the ``raise`` statements of these helpers in the installed torch, so a
# release that adds or removes one is noticed.

# %%
# .. _backward-a-second-time:
#
# Autograd's own errors: a second backward pass
# ---------------------------------------------
#
# ``vjp`` calls the function afresh each time, so every call records a new
# graph. A graph you record yourself and run with ``backward`` or
# :func:`torch.autograd.grad` is spent by its first pass: the pass frees the
# tensors the nodes saved for their VJPs (here the ``x`` that the node of
# ``x**3`` keeps, to compute :math:`3x^2 \odot v`). The nodes and their edges
# stay; a second pass reaches a node whose saved tensor is gone. (A pass with
# ``create_graph=True`` frees nothing: ``retain_graph`` defaults to
# ``create_graph``. The cell checks that too.)

x_leaf = x.clone().requires_grad_()
cubed = x_leaf**3
assert torch.equal(cubed.grad_fn._saved_self, x_leaf)  # PowBackward0 saved x
torch.autograd.grad(cubed, x_leaf, ones)
raised(
    lambda: torch.autograd.grad(cubed, x_leaf, ones),
    RuntimeError,
    "Trying to backward through the graph a second time",
)
try:
    cubed.grad_fn._saved_self
    raise AssertionError("the saved x should have been freed by the first pass")
except RuntimeError as error:
    assert "already been freed" in str(error), str(error)
    print(f"after the first pass: {cubed.grad_fn.name()} is still there, x is freed")
(edge,) = cubed.grad_fn.next_functions  # the edge to x's AccumulateGrad stays
assert edge[0].name() == "torch::autograd::AccumulateGrad", edge
cubed = x_leaf**3
torch.autograd.grad(cubed, x_leaf, ones, create_graph=True)
# no error: create_graph kept the graph
(second_pass,) = torch.autograd.grad(cubed, x_leaf, ones)
torch.testing.assert_close(second_pass, 3 * x**2)  # the same VJP, 3 x^2 * 1

# %%
# What goes is what the nodes saved, not the graph: ``x + 1``, whose node
# saves no tensor (its VJP is :math:`v` itself), runs twice without
# complaint. Three fixes for a graph that does save something, each checked
# against :math:`3x^2 \odot v` for two ``v``: pass ``retain_graph=True`` to
# every pass but the last; record the graph again for each pass (what
# ``vjp`` above does); or take :func:`torch.func.vjp`'s function, which can
# be called as often as you like, because it retains the graph at each call
# (its ``retain_graph`` defaults to True) and keeps it as long as the
# function lives; a call with ``retain_graph=False`` spends it.

shifted = x_leaf + 1
twice = [torch.autograd.grad(shifted, x_leaf, ones)[0] for _ in range(2)]
assert all(torch.equal(grad, ones) for grad in twice)  # exact: v passed through

v_other = torch.randn(4, generator=generator, dtype=torch.float64)
cubed = x_leaf**3
kept = [
    torch.autograd.grad(cubed, x_leaf, ones, retain_graph=True)[0],
    torch.autograd.grad(cubed, x_leaf, v_other)[0],  # the last pass may free it
]
recorded_again = [torch.autograd.grad(x_leaf**3, x_leaf, v)[0] for v in (ones, v_other)]
_, cube_vjp = torch.func.vjp(lambda t: t**3, x)
called_again = [cube_vjp(v)[0] for v in (ones, v_other, ones)]
print("retain_graph, recorded again, torch.func.vjp (3 calls): no error")
_, spent_by_one_call = torch.func.vjp(lambda t: t**3, x)
spent_by_one_call(ones, retain_graph=False)
try:
    spent_by_one_call(ones)
    raise AssertionError("retain_graph=False should have spent the graph")
except RuntimeError as error:  # the error above, not shown again
    assert "backward through the graph a second time" in str(error), str(error)
# float64 defaults: 3 * x**2 * v by hand against the same products in the node's
# formula, a few eps apart at most.
for results in (kept, recorded_again, called_again):
    torch.testing.assert_close(results[:2], [3 * x**2 * ones, 3 * x**2 * v_other])
# Exact: the same v through the same retained graph, the same operations.
torch.testing.assert_close(called_again[2], called_again[0], rtol=0, atol=0)
fixes["x**3, retain_graph, v_other"] = kept[1]
fixes["x**3, torch.func.vjp, v_other"] = called_again[1]
fixes["x**3, recorded again, v_other"] = recorded_again[1]

# %%
# .. _does-not-require-grad:
#
# Autograd's own errors: nothing to differentiate
# -----------------------------------------------
#
# ``backward`` of a result that has no graph, because nothing it was
# computed from required grad, or because it was computed under
# :class:`torch.no_grad` or from a ``detach()``-ed tensor, has nothing to
# run: "element 0" is the first (here the only) tensor that ``backward`` was
# given. ``vjp`` never raises this one: it makes its alias of ``x`` require
# grad, and gives zeros for an output whose graph does not reach that
# alias, including one computed under ``no_grad`` or from a ``detach()``
# inside the function, although its value depends on ``x``; only
# ``strict=True`` refuses such an output (the section on silent zeros).

x_leaf = x.clone().requires_grad_()
with torch.no_grad():
    computed_under_no_grad = (x_leaf**2).sum()
for no_graph in (
    (x**2).sum(),  # x does not require grad
    computed_under_no_grad,
    (x_leaf.detach() ** 2).sum(),
):
    assert no_graph.grad_fn is None and not no_graph.requires_grad
    raised(no_graph.backward, RuntimeError, "does not require grad and does not have")


def square_under_no_grad(t):
    with torch.no_grad():
        return t**2


for cut_inside in (square_under_no_grad, lambda t: t.detach() ** 2):
    _, silent = vjp(cut_inside, x, ones)  # no error, and zeros where 2x belongs
    # Exact: vjp fills in zeros for an input no output is connected to.
    assert torch.equal(silent, torch.zeros_like(x))
    try:
        vjp(cut_inside, x, ones, strict=True)
        raise AssertionError("strict=True should refuse an output with no graph")
    except RuntimeError as error:  # the message of the section on silent zeros
        assert "does not require gradients" in str(error), str(error)
print("vjp of t**2 under no_grad, or of t.detach()**2: zeros, no error")

# %%
# Fix: make the input require grad *before* computing from it, and compute
# with gradients recorded.

(x_leaf**2).sum().backward()
print("x_leaf.grad:", x_leaf.grad)
torch.testing.assert_close(x_leaf.grad, 2 * x)  # float64 defaults; pow gives 1 * 2x
fixes["(x**2).sum() of a leaf"] = x_leaf.grad

# %%
# .. _grad-none-non-leaf:
#
# ``.grad`` is None on a non-leaf
# -------------------------------
#
# By default ``backward`` writes ``.grad`` on leaves only: tensors that
# require grad and were not computed by a recorded operation. An
# intermediate result is not one, and reading its ``.grad`` gives None and a
# warning (caught here; its last part, "Triggered internally at" a path of
# PyTorch's build, is cut). A tensor made to require grad and then converted
# to another dtype or device, such as
# ``torch.randn(4, requires_grad=True).double()``, is the same trap: the
# float64 copy is computed from the float32 leaf, so it is not a leaf. (A
# conversion that changes nothing, ``.double()`` of a float64 leaf, returns
# the leaf itself.)

x_leaf = x.clone().requires_grad_()
sines = torch.sin(x_leaf)
(sines * sines).sum().backward()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    read = sines.grad
(warning,) = caught
message = str(warning.message).split(" (Triggered internally")[0]
print_wrapped(f"{warning.category.__name__} caught: {message}")
assert read is None and warning.category is UserWarning
assert "not a leaf Tensor is being accessed" in message
converted_leaf = torch.randn(4, generator=generator, requires_grad=True).double()
print("is_leaf: x_leaf", x_leaf.is_leaf, "| sines", sines.is_leaf, end="")
print(" | randn(4, requires_grad=True).double()", converted_leaf.is_leaf)
assert x_leaf.is_leaf and not sines.is_leaf and not converted_leaf.is_leaf
assert x_leaf.double() is x_leaf  # already float64: no copy, the leaf itself

# %%
# Fix: :meth:`torch.Tensor.retain_grad` on the intermediate before the
# pass, ``backward(inputs=[...])`` naming it (which then writes its
# ``.grad`` and leaves the leaf's alone), or :func:`torch.autograd.grad`
# with respect to it; each gives :math:`2\sin x` for
# :math:`\sum_i \sin^2 x_i`. (For the converted tensor: create it in its
# final dtype, then call ``requires_grad_()``.)

sines = torch.sin(x_leaf)
sines.retain_grad()
(sines * sines).sum().backward()
sines_named = torch.sin(x_leaf)
leaf_grad_before = x_leaf.grad.clone()
(sines_named * sines_named).sum().backward(inputs=[sines_named])
sines_again = torch.sin(x_leaf)
(wrt_sines,) = torch.autograd.grad((sines_again * sines_again).sum(), sines_again)
print("retain_grad:", sines.grad)
# Exact: all three are s + s, s from the same sin kernel on the same x, and
# 2 * sin(x) doubles that s exactly.
for non_leaf_grad in (sines.grad, sines_named.grad, wrt_sines):
    torch.testing.assert_close(non_leaf_grad, 2 * torch.sin(x), rtol=0, atol=0)
assert torch.equal(x_leaf.grad, leaf_grad_before)  # inputs= left the leaf alone
made_in_float64 = torch.randn(
    4, generator=generator, dtype=torch.float64
).requires_grad_()
assert made_in_float64.is_leaf and made_in_float64.dtype == torch.float64

# %%
# Non-differentiable points
# -------------------------
#
# No error either. At a kink, where the function has no derivative,
# autograd returns whatever the operation's backward formula gives there,
# so the value depends on how the function is written, not on the function.
# :math:`\max(x, 0)` written three ways gets three values at 0: ``relu``
# gives 0, ``torch.maximum(x, torch.zeros_like(x))`` gives 0.5 (a tie
# splits the gradient in half; ``maximum`` takes two tensors, not a
# number) and ``clamp(x, min=0)`` gives 1 up to torch 2.13 and 0 from torch
# 2.14, whose formula changed. :math:`|x|` gets 0, because its
# formula uses :math:`\operatorname{sign}(0) = 0`. Ties in a reduction
# follow the same kind of rule: ``torch.max(t)`` splits the gradient evenly
# among tied maxima, ``t.max(dim=0)`` sends all of it to the one index it
# returns. The formulas are in PyTorch's `derivatives.yaml
# <https://github.com/pytorch/pytorch/blob/v2.13.0/tools/autograd/derivatives.yaml>`_;
# the cell checks each value.

points = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
three_ones = torch.ones(3, dtype=torch.float64)
kinks = {
    "abs(x)": torch.abs,
    "relu(x)": torch.relu,
    "maximum(x, zeros_like(x))": lambda x: torch.maximum(x, torch.zeros_like(x)),
    "clamp(x, min=0)": lambda x: torch.clamp(x, min=0),
}
at_kinks = {name: vjp(fn, points, three_ones)[1] for name, fn in kinks.items()}
for name, derivative in at_kinks.items():
    print(f"{name:<26} derivative at x = (-1, 0, 1): {derivative.tolist()}")
tied = torch.tensor([2.0, 2.0, 1.0], dtype=torch.float64)
_, max_all = vjp(torch.max, tied)
_, max_dim = vjp(lambda t: t.max(dim=0).values, tied)
returned_index = tied.max(dim=0).indices.item()
release = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
print("gradient of the max of (2, 2, 1):")
print("  torch.max(t) ", max_all.tolist())
print(
    "  t.max(dim=0) ", max_dim.tolist(), "| index t.max(dim=0) returns:", returned_index
)
# Exact on any machine: the values at 0 are 0, 1 or 1 / 2, chosen by
# comparisons and scaled by a halving; the max's by an equality test.
assert [at_kinks[name][1].item() for name in kinks][:3] == [0.0, 0.0, 0.5]
assert at_kinks["clamp(x, min=0)"][1].item() == (1.0 if release <= (2, 13) else 0.0), (
    "clamp's formula changed in 2.14"
)
assert max_all.tolist() == [0.5, 0.5, 0.0]
assert max_dim.tolist() == [1.0 if i == returned_index else 0.0 for i in range(3)]

# %%
# Infinite and NaN derivatives are a different matter: :math:`\sqrt{x}` at
# 0, the end of its domain, has slope :math:`+\infty`, and
# :math:`\sqrt{x^2}`, which is :math:`|x|`, gets NaN at 0 from
# :math:`\infty \cdot 0` in the chain rule; where such values come from and
# how to keep them out is
# :ref:`sphx_glr_auto_examples_in_practice_plot_08_nan_and_inf_gradients.py`.

# %%
# The checks
# ----------
#
# Every fix above, against the VJP the maths section derives by hand (but
# :math:`2 \sin x`, for the ``.grad`` of a non-leaf, is checked where it
# stands).

expected = {
    "x**2, v = ones": 2 * x * ones,
    "(x**2).sum(), v omitted": 2 * x,
    "x**2, v reshaped": 2 * x,
    "(x**2, x.sum()), v = (ones, 2)": 2 * x * v_square + v_sum,
    "(x**2,), a plain tensor v": 2 * x,
    "x**2, inputs (x,), v (ones,)": 2 * x,
    "scale * x, for x": scale * ones,
    "scale * x, for scale": x @ ones,
    "x**2 at arange(4), as float64": 2 * converted,
    "z**2, complex z": torch.conj(2 * z),  # PyTorch's convention: conjugated
    "x**3 twice, w.r.t. vjp's alias": 6 * x,
    "x**3 twice, x requires grad": 6 * x,
    # sphinx_gallery_break = ("6", "5")
    "x**3 twice, vjp of vjp": 6 * x,
    "x**3, retain_graph, v_other": 3 * x**2 * v_other,
    "x**3, torch.func.vjp, v_other": 3 * x**2 * v_other,
    "x**3, recorded again, v_other": 3 * x**2 * v_other,
    "(x**2).sum() of a leaf": 2 * x,
}
for name, result in fixes.items():
    error = (result - expected[name]).abs().max().item()
    print(f"{name:<32} max |result - expected| = {error:.0e}")
# float64 defaults (rtol 1e-7): both sides are a few products and sums of the
# same numbers, a few eps apart; a wrong derivative is off by far more.
torch.testing.assert_close(fixes, expected)  # entry by entry, keys included

# %%
# The picture
# -----------
#
# The kinks, seen: the same function :math:`\max(x, 0)` written three ways,
# and :math:`|x|` (lines), with what autograd returns for the derivative
# (dots) and its value at 0 ringed.

grid = torch.arange(-20, 21, dtype=torch.float64) / 20  # holds 0 exactly, at index 20
assert grid[20] == 0  # exact: 0 / 20 is correctly rounded, so 0 everywhere
fig, axes = plt.subplots(
    2, 2, figsize=(7.2, 5.2), layout="constrained", sharex=True, sharey=True
)
for ax, (name, fn) in zip(axes.flat, kinks.items()):
    _, derivative = vjp(fn, grid, torch.ones_like(grid))
    ax.plot(grid.numpy(), fn(grid).numpy(), color="0.6", label="function")
    ax.plot(grid.numpy(), derivative.numpy(), "o", ms=3, label="autograd derivative")
    ax.plot(
        0, derivative[20].item(), "o", ms=10, mfc="none", color="C3", label="value at 0"
    )
    ax.set_title(f"{name}: {derivative[20].item():g} at 0", fontsize=10)
    ax.set_ylim(-1.3, 1.3)
    ax.set_xticks([-1, -0.5, 0, 0.5, 1])
fig.legend(
    *axes[0, 0].get_legend_handles_labels(),
    loc="outside lower center",
    ncols=3,
    fontsize=9,
)
plt.show()

# %%
# What to remember
# ----------------
#
# * ``v`` must have exactly the output's shape (for a tuple of outputs, a
#   tuple of that length; a plain tensor counts as a tuple of one); only a
#   one-element output may omit it.
# * ``vjp`` works on a detached alias of ``x``, unless ``create_graph=True``
#   and ``x`` requires grad. For a second derivative with respect to ``x``,
#   make ``x`` require grad before the call.
# * Unused inputs and closures give zeros silently; ``strict=True`` makes
#   them errors (and also refuses any output that does not require grad).
# * A backward pass frees what the graph's nodes saved (unless it ran with
#   ``create_graph=True``): pass ``retain_graph=True`` to all passes but the
#   last, record the graph again, or call :func:`torch.func.vjp`'s function
#   as often as needed. By default ``.grad`` is written on leaves only: for
#   an intermediate result, call ``retain_grad()`` before the pass, name it
#   in ``backward(inputs=...)``, or take :func:`torch.autograd.grad` with
#   respect to it.
# * At a kink autograd returns its formula's value, which depends on how the
#   function is written (``relu(x)``, ``maximum(x, zeros_like(x))`` and
#   ``clamp(x, min=0)`` give 0, 0.5 and 1 at 0 with torch 2.13, and
#   ``clamp``'s value changed in 2.14): check such points
#   explicitly.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_03_custom_vjp_rule.py`.
# Reference: :func:`torch.autograd.functional.vjp`, :func:`torch.autograd.grad`,
# :func:`torch.func.vjp`, :meth:`torch.Tensor.retain_grad`, ``torch.relu``,
# :func:`torch.maximum`, :func:`torch.clamp`, :func:`torch.max`.
