r"""
Writing your own VJP rule with torch.autograd.Function
======================================================

When autograd's derivative of a function is slow, unstable or unavailable,
you can supply the VJP yourself: the ``backward`` of a
:class:`torch.autograd.Function` *is* a VJP rule. This page writes one for
:math:`f(x) = x^2 + \sin(x^2)`, the function of
:ref:`sphx_glr_auto_examples_basics_plot_01_elementwise_derivative.py`,
verifies it with
:func:`~torch.autograd.gradcheck`, shows a bug that a check with
:math:`v = \mathbf{1}` cannot see, differentiates through the rule a
second time, and runs it under the reverse-mode and batching transforms
of :mod:`torch.func` (``vmap``, ``grad``, ``vjp``, ``jacrev``). Forward
mode needs a second rule, a ``jvp``, which a later page of this section
writes.
"""

# %%
# The maths
# ---------
#
# Elementwise :math:`f` has Jacobian :math:`J = \operatorname{diag}(f'(x))`,
# so the VJP rule ``backward`` must implement, for an incoming
# ``grad_output`` :math:`v` shaped like the output,
#
# .. math::
#
#    v \mapsto v^\top J = v \odot f'(x), \qquad f'(x) = 2x + 2x\cos(x^2).
#
# The factor :math:`v` matters: autograd calls ``backward`` with whatever
# :math:`v` the rest of the computation produced, not with ones. If
# ``backward`` is written with differentiable torch operations, autograd can
# also differentiate *it*, which gives second derivatives:
#
# .. math::
#
#    f''(x) = 2 + 2\cos(x^2) - 4x^2 \sin(x^2).

# %%
# The rule
# --------
#
# ``forward`` computes the value, ``setup_context`` saves what ``backward``
# needs, ``backward`` returns :math:`v \odot f'(x)`. Defining
# ``setup_context`` (rather than taking ``ctx`` in ``forward``) is what
# :mod:`torch.func` transforms require of a Function, and
# ``generate_vmap_rule = True`` lets :func:`torch.func.vmap` batch it. That
# is enough for the reverse-mode transforms, which the last section runs;
# the forward-mode ones need a ``jvp`` rule as well.

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.autograd.gradcheck import GradcheckError


class CustomF(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return x**2 + torch.sin(x**2)

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        # sphinx_gallery_break = ("cos", "sin")
        return grad_output * (2 * x + 2 * x * torch.cos(x**2))


def f(x):
    return x**2 + torch.sin(x**2)


generator = torch.Generator().manual_seed(0)
x = torch.randn(1000, generator=generator, dtype=torch.float64)
v = torch.randn(1000, generator=generator, dtype=torch.float64)

_, custom = torch.autograd.functional.vjp(CustomF.apply, x, v=v)
print("the rule's VJP:", tuple(custom.shape), "for", x.numel(), "points")

# %%
# The checks
# ----------
#
# The rule's VJP for a random :math:`v`, against :math:`v \odot f'(x)` with
# the derivative of the maths section, and against autograd's own VJP of
# the plain function ``f``, which knows nothing of the rule.

expected = v * (2 * x + 2 * x * torch.cos(x**2))
_, autograd = torch.autograd.functional.vjp(f, x, v=v)
hand_error = (custom - expected).abs().max().item()
print(f"max |custom rule - v f'(x) by hand|     = {hand_error:.1e}")
rule_error = (custom - autograd).abs().max().item()
print(f"max |custom rule - autograd's own VJP| = {rule_error:.1e}")
# Same formula, float64: all three take cos(x^2) from the same kernel, then a
# few correctly rounded * and + (autograd's in another order): a few eps of
# 2|x v|(1 + |cos|) < 40, under 1e-13.
torch.testing.assert_close(custom, expected, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(custom, autograd, rtol=1e-12, atol=1e-12)

# %%
# ``gradcheck`` and ``gradgradcheck``
# ------------------------------------
#
# :func:`torch.autograd.gradcheck` compares the rule with finite differences;
# :func:`torch.autograd.gradgradcheck` checks the derivative of the rule
# itself.

x_check = torch.randn(8, generator=generator, dtype=torch.float64, requires_grad=True)
assert torch.autograd.gradcheck(CustomF.apply, (x_check,))
assert torch.autograd.gradgradcheck(CustomF.apply, (x_check,))
print("gradcheck: passed; gradgradcheck: passed")

# %%
# Which :math:`v` does ``gradcheck`` use? A copy of the rule that records
# every ``grad_output`` it receives answers that. By default
# (``fast_mode=False``) ``gradcheck`` builds the whole Jacobian: it calls
# ``backward`` once per output element with a one-hot :math:`v = e_i`, which
# returns row :math:`i` of :math:`J`, and compares the rows with a
# finite-difference Jacobian. The steps are in torch 2.13's
# `torch/autograd/gradcheck.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/autograd/gradcheck.py>`_:
# ``_check_analytical_jacobian_attributes`` builds the rows twice (the second
# time to check that ``backward`` gives the same answer again), then
# ``_test_backward_mul_by_grad_output`` calls ``backward`` with
# :math:`v = 0` and ``_test_undefined_backward_mode`` with an undefined
# gradient, which a Function receives as zeros; both answers must be 0. With
# ``fast_mode=True`` it compares a single number, :math:`v^\top J u`, for
# one random :math:`v` and :math:`u`, so ``backward`` sees one dense
# :math:`v` (twice, from the same function) instead of one :math:`e_i` per
# output, then the same two zeros. The counts below follow from these steps
# for this release; another may add or drop a call.


class CustomFRecorded(CustomF):
    received = []

    @staticmethod
    def backward(ctx, grad_output):
        CustomFRecorded.received.append(grad_output.detach().clone())
        return CustomF.backward(ctx, grad_output)


received = {}
for fast_mode in (False, True):
    CustomFRecorded.received = []
    assert torch.autograd.gradcheck(
        CustomFRecorded.apply, (x_check,), fast_mode=fast_mode
    )
    received[fast_mode] = torch.stack(CustomFRecorded.received)
    nonzeros = [int(grad_output.count_nonzero()) for grad_output in received[fast_mode]]
    print(
        f"fast_mode={fast_mode!s:<5}: {len(nonzeros)} calls of backward, "
        "non-zero entries of each v:"
    )
    print(f"  {nonzeros}")

one_hot = torch.eye(8, dtype=torch.float64)
zeros = torch.zeros(2, 8, dtype=torch.float64)
# Exact: one-hot vectors and zeros, which gradcheck builds without arithmetic.
torch.testing.assert_close(
    received[False], torch.cat((one_hot, one_hot, zeros)), rtol=0, atol=0
)
dense_v = received[True][0]
# Exact: a count, and fast mode passes copies of the same random v both times.
assert dense_v.count_nonzero() == 8, "fast mode's v is dense"
torch.testing.assert_close(
    received[True], torch.stack((dense_v, dense_v, *zeros)), rtol=0, atol=0
)

# %%
# A bug that :math:`v = \mathbf{1}` cannot see
# ---------------------------------------------
#
# A ``backward`` that forgets ``grad_output`` returns :math:`f'(x)` whatever
# :math:`v` is. Tested with :math:`v = \mathbf{1}` it is indistinguishable
# from the right rule; any other :math:`v` exposes it.


class CustomFForgetsV(CustomF):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x + 2 * x * torch.cos(x**2)  # bug: grad_output ignored


ones = torch.ones_like(x)
_, buggy_with_ones = torch.autograd.functional.vjp(CustomFForgetsV.apply, x, v=ones)
_, right_with_ones = torch.autograd.functional.vjp(f, x, v=ones)
# As above: the same cos(x^2), then a few roundings of terms below 40: under 1e-13.
torch.testing.assert_close(buggy_with_ones, right_with_ones, rtol=1e-12, atol=1e-12)
print(
    "with v = 1 the buggy rule matches:",
    f"max |diff| = {(buggy_with_ones - right_with_ones).abs().max().item():.1e}",
)

_, buggy = torch.autograd.functional.vjp(CustomFForgetsV.apply, x, v=v)
print(f"with a random v it is off by up to {(buggy - autograd).abs().max().item():.2f}")
assert (buggy - autograd).abs().max() > 1

try:
    torch.autograd.gradcheck(CustomFForgetsV.apply, (x_check,))
    raise AssertionError("gradcheck missed the bug")
except GradcheckError as error:
    print("gradcheck on the buggy rule -> GradcheckError:")
    print(" ", str(error).splitlines()[0])

# %%
# Second derivatives through the rule
# -----------------------------------
#
# ``create_graph=True`` records the operations of ``backward``; a second VJP
# differentiates them.

grid = torch.linspace(-2.5, 2.5, 501, dtype=torch.float64)
grid_ones = torch.ones_like(grid)


def first_derivative(x):
    return torch.autograd.functional.vjp(
        CustomF.apply, x, v=grid_ones, create_graph=True
    )[1]


_, second = torch.autograd.functional.vjp(first_derivative, grid, v=grid_ones)
first = first_derivative(grid).detach()
expected_second = 2 + 2 * torch.cos(grid**2) - 4 * grid**2 * torch.sin(grid**2)
# first is the rule's own formula times 1: the same operations as the hand one.
# second uses the same sin and cos kernels, and a dozen correctly rounded
# operations on terms below 4 x^2 = 25: a few eps each, under 1e-13.
torch.testing.assert_close(
    first, 2 * grid + 2 * grid * torch.cos(grid**2), rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(second, expected_second, rtol=1e-12, atol=1e-12)
second_error = (second - expected_second).abs().max().item()
print(f"max |f'' through the rule - f'' by hand| = {second_error:.1e}")

# %%
# .. _custom-function-under-torch-func:
#
# The rule under ``torch.func``
# -----------------------------
#
# ``generate_vmap_rule`` lets :func:`torch.func.vmap` batch the function, so
# :func:`torch.func.grad` gives the derivative at every point:

per_point = torch.func.vmap(torch.func.grad(CustomF.apply))(grid)
# The same elementwise formula, batched: a few eps of terms below 15, under 1e-13.
torch.testing.assert_close(per_point, first, rtol=1e-12, atol=1e-12)
print("vmap(grad(CustomF.apply)) matches the VJP at all", grid.numel(), "points")

# %%
# The other transforms, and what ``setup_context`` is for:
# below, ``vmap``, ``grad`` inside ``vmap``, ``vjp``, ``jacrev`` and
# ``jacrev`` nested in itself (a second derivative) run on the rule above
# and on a version that takes ``ctx`` in ``forward``; each result is
# compared with the transform of the plain ``f``. Forward mode
# (:func:`torch.func.jvp`, :func:`torch.func.jacfwd`, and
# :func:`torch.func.hessian`, whose outer transform is forward mode) pushes
# a tangent *through* ``forward`` and needs a ``jvp`` staticmethod as well;
# :ref:`sphx_glr_auto_examples_in_practice_plot_06_forward_mode_custom_rules.py`
# writes one and shows the error without it.
# :func:`torch.autograd.functional.jvp` is not a ``torch.func`` transform:
# it computes a JVP with two reverse passes (the double-backward trick), so
# it needs no ``jvp`` rule, as long as ``backward`` is itself made of
# differentiable torch operations (the next cell shows what happens when it
# is not). It is in the table too.


class CustomFCtxInForward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return f(x)

    backward = staticmethod(CustomF.backward)


points = torch.linspace(-1.5, 1.5, 5, dtype=torch.float64)
tangent = torch.ones_like(points)
transforms = {
    "vmap": lambda fn: torch.func.vmap(fn)(points),
    "vmap(grad)": lambda fn: torch.func.vmap(torch.func.grad(fn))(points),
    "vjp": lambda fn: torch.func.vjp(fn, points)[1](tangent)[0],
    "jacrev": lambda fn: torch.func.jacrev(fn)(points),
    "jacrev(jacrev)": lambda fn: torch.func.jacrev(
        torch.func.jacrev(lambda x: fn(x).sum())
    )(points),
    "functional.jvp": lambda fn: torch.autograd.functional.jvp(fn, points, tangent)[1],
}
rules = {"CustomF": CustomF, "ctx in forward": CustomFCtxInForward}
outcome = {}
print(f"{'transform':<16}" + "".join(f"{name:<22}" for name in rules).rstrip())
for transform_name, transform in transforms.items():
    from_plain_f = transform(f)
    for rule_name, rule in rules.items():
        try:
            # Elementwise formulas (and exact zeros off the diagonal) on |x| <= 1.5:
            # a few eps of terms below 15 on both sides, under 1e-13.
            torch.testing.assert_close(
                transform(rule.apply), from_plain_f, rtol=1e-12, atol=1e-12
            )
            outcome[transform_name, rule_name] = "works"
        except RuntimeError as error:
            outcome[transform_name, rule_name] = type(error).__name__
            assert "must override the setup_context" in str(error), str(error)
    print(
        f"{transform_name:<16}"
        + "".join(f"{outcome[transform_name, name]:<22}" for name in rules).rstrip()
    )

assert all(outcome[t, "CustomF"] == "works" for t in transforms)
assert {t for t in transforms if outcome[t, "ctx in forward"] == "works"} == {
    "functional.jvp"
}

# %%
# :func:`torch.autograd.functional.jvp` differentiates ``backward``
# itself, with respect to its ``grad_output`` (`torch/autograd/functional.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/autograd/functional.py>`_).
# A ``backward`` computed
# outside torch, in NumPy say (the kind of rule this page is for), leaves
# nothing to differentiate: the reverse-mode results are right, and the JVP
# comes back as zeros, with no error. ``strict=True`` turns that into an
# error.


class CustomFNumPyBackward(CustomFCtxInForward):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        x_np, v_np = x.detach().numpy(), grad_output.detach().numpy()
        return torch.from_numpy(v_np * (2 * x_np + 2 * x_np * np.cos(x_np**2)))


_, numpy_vjp = torch.autograd.functional.vjp(
    CustomFNumPyBackward.apply, points, tangent
)
_, numpy_jvp = torch.autograd.functional.jvp(
    CustomFNumPyBackward.apply, points, tangent
)
print("NumPy backward, functional.vjp:", [round(t, 4) for t in numpy_vjp.tolist()])
print("NumPy backward, functional.jvp:", numpy_jvp.tolist())
torch.testing.assert_close(numpy_vjp, transforms["vjp"](f))  # right
assert (numpy_jvp == 0).all()  # exact zeros: nothing was differentiated
try:
    torch.autograd.functional.jvp(
        CustomFNumPyBackward.apply, points, tangent, strict=True
    )
    raise AssertionError("strict=True should refuse a backward it cannot differentiate")
except RuntimeError as error:
    message = f"strict=True -> RuntimeError: {error}"
    print(textwrap.fill(message, 86, subsequent_indent="  ", break_on_hyphens=False))
    assert "independent of the inputs" in str(error)

# %%
# Without a ``jvp`` rule the second derivative is still available in
# reverse mode, ``jacrev(jacrev(f))``; ``hessian`` needs the rule (the
# forward-mode page shows its error without one). A Function
# that takes ``ctx`` in ``forward`` works with plain autograd, which is all
# :func:`torch.autograd.functional.jvp` uses, but under none of the
# :mod:`torch.func` transforms in the table; and ``functional.jvp`` is right
# only if ``backward`` is differentiable.

# %%
# The picture
# -----------
#
# :math:`f`, its derivative from the rule, and the second derivative two
# ways: by hand (grey) and by differentiating the rule's ``backward``
# (dots).

fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
ax.plot(grid.numpy(), f(grid).numpy(), label="$f$")
ax.plot(grid.numpy(), first.numpy(), label="$f'$: the custom rule")
ax.plot(
    grid.numpy(), expected_second.numpy(), color="0.75", lw=5, label="$f''$ by hand"
)
ax.plot(
    grid[::20].numpy(),
    second[::20].numpy(),
    "o",
    ms=3,
    color="C3",
    label="$f''$: differentiating the rule",
)
ax.set_xlabel("$x$")
ax.legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * ``backward`` is a VJP rule: it must multiply by ``grad_output``.
#   A check with :math:`v = \mathbf{1}` cannot tell; ``gradcheck`` can.
# * Write ``backward`` with differentiable torch operations and second
#   derivatives come for free (``gradgradcheck`` them).
# * ``setup_context`` and ``generate_vmap_rule = True`` make the function
#   usable under the reverse-mode :mod:`torch.func` transforms and
#   ``vmap``; ``jvp``, ``jacfwd`` and ``hessian`` also need a ``jvp``
#   staticmethod
#   (:ref:`sphx_glr_auto_examples_in_practice_plot_06_forward_mode_custom_rules.py`).
#   :func:`torch.autograd.functional.jvp` needs none, but
#   gives zeros silently if ``backward`` leaves torch (``strict=True``
#   raises instead).
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_04_physics_informed_and_per_sample.py`.
# Reference: :class:`torch.autograd.Function`,
# :func:`torch.autograd.gradcheck.gradcheck`, :func:`torch.func.grad`,
# :func:`torch.func.jvp`, :func:`torch.func.hessian`,
# :func:`torch.autograd.functional.jvp`.
