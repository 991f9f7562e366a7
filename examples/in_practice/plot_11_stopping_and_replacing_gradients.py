r"""
Stopping a gradient, or putting another in its place
====================================================

``detach`` and :class:`torch.no_grad` both make a value a constant for the
backward pass, and give the same :math:`v^\top J` under autograd. Inside a
:mod:`torch.func` transform they part: :func:`~torch.func.jacrev` treats a
``no_grad`` block as a constant and :func:`~torch.func.jacfwd` does not,
while ``detach`` is a constant for both. This page shows each, checked
against the derivative by hand, and then replaces :math:`v^\top J` on
purpose in three ways practitioners use: the straight-through estimator, a
gradient reversal layer, and a hook that clips or rescales the :math:`v`
that reaches a tensor.
"""

# %%
# The maths
# ---------
#
# Write :math:`\operatorname{sg}` ("stop gradient") for an operation whose
# value is its argument and whose derivative is taken to be zero. The
# function of the first sections is elementwise,
#
# .. math::
#
#    f(x) = x \odot x^2 = x^3, \qquad J = \operatorname{diag}(3 x^2),
#    \qquad v^\top J = 3 x^2 \odot v,
#
# and with the square's derivative stopped,
#
# .. math::
#
#    f_{\operatorname{sg}}(x) = x \odot \operatorname{sg}(x^2), \qquad
#    J_{\operatorname{sg}} = \operatorname{diag}(x^2), \qquad
#    v^\top J_{\operatorname{sg}} = x^2 \odot v:
#
# the same values, a third of the derivative. Three ways of replacing a
# VJP follow.
#
# * The straight-through estimator for a quantiser :math:`q(x) =
#   \operatorname{round}(4x) / 4` (rounding to the nearest quarter), whose
#   derivative is 0 wherever it exists: :math:`s(x) = x +
#   \operatorname{sg}(q(x) - x)` has the value :math:`q(x)` and the Jacobian
#   :math:`I`, so :math:`v^\top J = v`.
# * Gradient reversal :math:`r_\lambda`: the value :math:`r_\lambda(z) = z`,
#   and the VJP :math:`v \mapsto -\lambda v`. The same trick writes it,
#   :math:`r_\lambda(z) = \operatorname{sg}(z) - \lambda\,(z -
#   \operatorname{sg}(z))`: the second term is 0 in value and has the
#   Jacobian :math:`-\lambda I`. Between features
#   :math:`z = \tanh(W x)` and a second head, it makes the features' weights
#   :math:`W` descend one loss and ascend the other:
#   :math:`\nabla_W = (\delta_{\text{task}} - \lambda\, \delta_{\text{domain}})
#   \, x^\top`, with :math:`\delta` each loss's gradient with respect to
#   :math:`W x`.
# * A hook on an intermediate :math:`h = A x` of :math:`\ell = w^\top
#   \tanh(h)`: the backward pass reaches :math:`h` with :math:`\delta =
#   w \odot (1 - \tanh^2 h)`, the hook returns :math:`\psi(\delta)` in its
#   place, and :math:`x` receives :math:`A^\top \psi(\delta)`. Here
#   :math:`\psi` clips each entry to :math:`[-\tau, \tau]`, or rescales
#   :math:`\delta` to a norm of at most :math:`\tau`,
#   :math:`\psi(\delta) = \delta \min(1, \tau / \|\delta\|)`.

# %%
# ``detach`` and ``no_grad`` under autograd
# -----------------------------------------
#
# Two ways to write :math:`f_{\operatorname{sg}}`: square a detached
# ``x``, or square ``x`` under ``torch.no_grad()``. Under autograd both
# give :math:`x^2 \odot v`. The points are drawn away from 0, where
# :math:`x^2` and :math:`3x^2` are far apart.

import textwrap

import matplotlib.pyplot as plt
import torch
import torch.autograd.forward_ad as fwAD
from torch import nn
from torch.func import functional_call, grad, hessian, jacfwd, jacrev, jvp, vjp, vmap

generator = torch.Generator().manual_seed(0)


def draw(*shape):
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def print_wrapped(text):
    print("\n".join(textwrap.wrap(text, 86, subsequent_indent="  ")))


def show_error(call, expected_type, expected_text):
    """Run CALL, check it raises EXPECTED_TYPE with EXPECTED_TEXT, print the
    message's first line at the page's width."""
    try:
        call()
    except expected_type as error:
        assert expected_text in str(error), str(error)
        print_wrapped(f"{type(error).__name__}: {str(error).splitlines()[0]}")
        return
    raise AssertionError(f"expected {expected_type.__name__}: {expected_text}")


def check_setup_context_error(calls):
    """Check that each of CALLS raises the setup_context error (not printed
    again)."""
    for name, call in calls.items():
        try:
            call()
        except RuntimeError as error:
            assert "must override the setup_context staticmethod" in str(error), name
        else:
            raise AssertionError(f"{name}: expected the setup_context error")


def cube_detached(x):
    return x * x.detach() ** 2


def cube_no_grad(x):
    with torch.no_grad():
        square = x**2
    return x * square


def summed(function):
    return lambda x: function(x).sum()


magnitude = 0.5 + 1.5 * torch.rand(5, generator=generator, dtype=torch.float64)
x = magnitude * torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
v = draw(5)
x_leaf = x.clone().requires_grad_()
by_autograd = {
    name: torch.autograd.grad(function(x_leaf), x_leaf, v)[0]
    for name, function in (("detach", cube_detached), ("no_grad", cube_no_grad))
}
print("x:", [round(value, 3) for value in x.tolist()])
for name, vjp_x in by_autograd.items():
    print(
        f"autograd, {name:<8} v^T J / v =", [round(r, 3) for r in (vjp_x / v).tolist()]
    )
# float64 defaults: one product of the same numbers, maybe in another order.
torch.testing.assert_close(by_autograd["detach"], x**2 * v)
torch.testing.assert_close(by_autograd["no_grad"], x**2 * v)

# %%
# .. _no-grad-inside-torch-func:
#
# ``no_grad`` inside a transform: ``jacrev`` and ``jacfwd`` disagree
# ------------------------------------------------------------------
#
# The same two functions under :func:`torch.func.jacrev` and
# :func:`torch.func.jacfwd`. The reverse-mode transforms (``jacrev``,
# ``vjp``, ``grad``) treat the ``no_grad`` block as a constant, as autograd
# does. The forward-mode ones (``jacfwd``, ``jvp``) push the tangent through
# it and return the whole derivative :math:`\operatorname{diag}(3x^2)`.
# ``detach`` is a constant for both.

jacobians = {
    (mode, name): transform(function)(x)
    for mode, transform in (("jacrev", jacrev), ("jacfwd", jacfwd))
    for name, function in (("detach", cube_detached), ("no_grad", cube_no_grad))
}
for (mode, name), jacobian in jacobians.items():
    diagonal = [round(d, 3) for d in jacobian.diagonal().tolist()]
    print(f"{mode}, {name:<8} diagonal:", diagonal)
expected_full = torch.diag(3 * x**2)  # the derivative of x^3, nothing stopped
# float64 defaults: products of the same numbers in other orders.
torch.testing.assert_close(jacobians["jacfwd", "no_grad"], expected_full)
# Far from rounding: the two differ by 2x^2 >= 0.5 on the diagonal.
assert (
    jacobians["jacfwd", "no_grad"] - jacobians["jacrev", "no_grad"]
).abs().max() > 0.4

# %%
# That is documented behaviour, in two places. :class:`torch.no_grad`'s
# reference has a note: "This API does not apply to forward-mode AD";
# ``no_grad`` turns off the recording of the graph that reverse mode walks
# back, and forward mode records nothing: it computes each tangent with
# its value, inside the block too. And the references of
# :func:`torch.func.grad` and :func:`torch.func.vjp` say that they respect
# a ``torch.no_grad`` inside the function and ignore one around the call.
# torch.func's `UX limitations
# <https://docs.pytorch.org/docs/2.13/func.ux_limitations.html>`_ page, the
# list of what the transforms do not support (assigning to globals,
# ``torch.autograd`` calls inside a transform, ``vmap``'s limits,
# randomness), does not mention ``no_grad``. The same, with the transforms' vector forms and with
# forward-mode AD on a dual tensor (:mod:`torch.autograd.forward_ad`):

ones = torch.ones_like(x)
vectors = {
    "vjp": vjp(cube_no_grad, x)[1](ones)[0],
    "grad of the sum": grad(summed(cube_no_grad))(x),
    "jvp": jvp(cube_no_grad, (x,), (ones,))[1],
}
with fwAD.dual_level():
    vectors["forward_ad"] = fwAD.unpack_dual(
        cube_no_grad(fwAD.make_dual(x, ones))
    ).tangent
for name, vector in vectors.items():
    print(f"no_grad, {name:<15} =", [round(r, 3) for r in vector.tolist()])
# float64 defaults: as above.
torch.testing.assert_close(vectors["vjp"], x**2)
torch.testing.assert_close(vectors["grad of the sum"], x**2)
torch.testing.assert_close(vectors["jvp"], 3 * x**2)
torch.testing.assert_close(vectors["forward_ad"], 3 * x**2)

# %%
# A ``no_grad`` around the call changes nothing: each transform ignores it,
# and returns the whole derivative of :math:`x^3`.


def cube(x):
    return x**3


with torch.no_grad():
    outside = {
        "jacrev": jacrev(cube)(x).diagonal(),
        "jacfwd": jacfwd(cube)(x).diagonal(),
        "vjp": vjp(cube, x)[1](ones)[0],
        "grad": grad(summed(cube))(x),
        "jvp": jvp(cube, (x,), (ones,))[1],
    }
# float64 defaults: as above.
torch.testing.assert_close(outside, dict.fromkeys(outside, 3 * x**2))
print("no_grad around jacrev, jacfwd, vjp, grad and jvp: each gives 3 x^2")

# %%
# A composition of the two modes mixes the answers.
# :func:`torch.func.hessian` is ``jacfwd(jacrev(f))`` (checked below): the
# inner reverse pass holds the square constant and returns the gradient
# :math:`x^2` of :math:`\sum_i f_{\operatorname{sg}}(x)_i`, whose value was
# computed under ``no_grad``; the outer forward pass differentiates that
# square anyway, :math:`\operatorname{diag}(2x)`. ``jacrev(jacrev(f))``
# gives 0, and with ``detach`` both give 0, the Hessian of a function whose
# gradient :math:`\operatorname{sg}(x^2)` is a constant.


hessians = {
    "hessian, no_grad": hessian(summed(cube_no_grad))(x),
    "jacrev(jacrev), no_grad": jacrev(jacrev(summed(cube_no_grad)))(x),
    "hessian, detach": hessian(summed(cube_detached))(x),
    "jacrev(jacrev), detach": jacrev(jacrev(summed(cube_detached)))(x),
}
for name, matrix in hessians.items():
    print(f"{name:<24} diagonal:", [round(d, 3) for d in matrix.diagonal().tolist()])
# float64 defaults: 2x from one product; exact zeros from graphs with no path.
torch.testing.assert_close(hessians["hessian, no_grad"], torch.diag(2 * x))
torch.testing.assert_close(
    hessians["hessian, no_grad"], jacfwd(jacrev(summed(cube_no_grad)))(x)
)
assert not hessians["jacrev(jacrev), no_grad"].any()
assert not hessians["hessian, detach"].any()
assert not hessians["jacrev(jacrev), detach"].any()

# %%
# So, to stop a gradient in code that any transform may run, reverse or
# forward, use ``detach`` (or compute the constant outside the function
# and pass it in). ``torch.no_grad`` inside a function stops reverse mode
# only.

# %%
# The checks
# ----------
#
# Every route that stops the square's derivative, against
# :math:`J_{\operatorname{sg}} = \operatorname{diag}(x^2)` by hand: autograd
# with ``detach`` and with ``no_grad`` (as :math:`v^\top J`), ``jacrev`` with
# either, ``jacfwd`` with ``detach``.

# The marker (a comment the page does not show) names the wrong derivative
# the site's tests write into the next line, to see the checks fail.
# sphinx_gallery_break = ("x**2", "3 * x**2")
expected = torch.diag(x**2)
stopped = {
    "jacrev, detach": jacobians["jacrev", "detach"],
    "jacrev, no_grad": jacobians["jacrev", "no_grad"],
    "jacfwd, detach": jacobians["jacfwd", "detach"],
    "autograd, detach": torch.diag(by_autograd["detach"] / v),
    "autograd, no_grad": torch.diag(by_autograd["no_grad"] / v),
}
for name, jacobian in stopped.items():
    print(f"{name:<18} max |J - diag(x^2)| = {(jacobian - expected).abs().max():.1e}")
# float64 defaults: products of the same numbers, and for autograd's
# (x^2 v) / v two roundings, a relative error of a few eps.
torch.testing.assert_close(stopped, dict.fromkeys(stopped, expected))

# %%
# .. _straight-through-estimator:
#
# The straight-through estimator
# ------------------------------
#
# Quantising to quarters, :math:`q(x) = \operatorname{round}(4x) / 4`, has
# derivative 0 between its steps, so its VJP is zero and nothing upstream
# learns. The straight-through estimator ``x + (q(x) - x).detach()`` keeps
# the quantised value in the forward pass and lets :math:`v` through
# unchanged in the backward pass.


def quantise(x):
    return torch.round(4 * x) / 4


def straight_through(x):
    return x + (quantise(x) - x).detach()


points = 2 * draw(1000)
cotangent = draw(1000)
values = straight_through(points)
_, vjp_quantise = vjp(quantise, points)
_, vjp_straight = vjp(straight_through, points)
from_quantise, from_straight = vjp_quantise(cotangent)[0], vjp_straight(cotangent)[0]
print(f"value: max |s(x) - q(x)| = {(values - quantise(points)).abs().max():.1e}")
print(f"VJP of q: max |v^T J| = {from_quantise.abs().max():.1e}")
print(f"VJP of s: max |v^T J - v| = {(from_straight - cotangent).abs().max():.1e}")
# Exact: 4x and /4 are exact; q and x are within an eighth and, when q is
# not 0, within a factor of 2 of each other, so q - x is exact (Sterbenz),
# and x + (q - x) is q exactly.
assert torch.equal(values, quantise(points))
# Exact: round's derivative is 0, and the only differentiable path in s is
# the add (the difference is detached), which passes v on: no rounding.
assert not from_quantise.any()
assert torch.equal(from_straight, cotangent)

# %%
# ``detach`` cuts the tangent in forward mode too, so ``jacfwd`` agrees
# with ``jacrev`` here: the identity, at every point (the check is on a few
# points, so that the Jacobians stay small).

few = points[:6]
# Exact: entries are 0 or 1 times 1.
assert torch.equal(jacrev(straight_through)(few), torch.eye(6, dtype=torch.float64))
assert torch.equal(jacfwd(straight_through)(few), torch.eye(6, dtype=torch.float64))
print("jacrev and jacfwd of the straight-through estimator: the identity")

# %%
# .. _gradient-reversal:
#
# Gradient reversal
# -----------------
#
# Gradient reversal's VJP is not the derivative of its value either: the
# value is :math:`z` and the VJP :math:`-\lambda v`. The trick of the
# straight-through estimator writes it with ``detach`` alone:
# ``z.detach() - lam * (z - z.detach())`` is ``z.detach()`` plus a term
# that is 0 in value and has the Jacobian :math:`-\lambda I`. It is made of
# ordinary operations, so autograd and every transform, forward mode
# included, differentiate it the same way (checked: autograd, ``jacrev``,
# ``jacfwd``, and the last two under ``vmap``):

lam = 0.5


def reverse_by_detach(z):
    return z.detach() - lam * (z - z.detach())


z, z_cotangent = draw(4), draw(4)
z_leaf = z.clone().requires_grad_()
minus_lam_identity = -lam * torch.eye(4, dtype=torch.float64)
# Exact: z - z is 0 for finite z, lam * 0 is 0 and z - 0 is z.
assert torch.equal(reverse_by_detach(z), z)
# Exact: the one path from z is a product by 1, by lam = 0.5 and by -1.
assert torch.equal(
    torch.autograd.grad(reverse_by_detach(z_leaf), z_leaf, z_cotangent)[0],
    -lam * z_cotangent,
)
assert torch.equal(jacrev(reverse_by_detach)(z), minus_lam_identity)
assert torch.equal(jacfwd(reverse_by_detach)(z), minus_lam_identity)
three_z = torch.stack((z, -z, 2 * z))
for transform in (jacrev, jacfwd):
    batched = vmap(transform(reverse_by_detach))(three_z)
    # Exact: as above, for each of the three.
    assert torch.equal(batched, minus_lam_identity.expand(3, 4, 4))
print("detach form: value z; autograd's VJP -lambda v; jacrev = jacfwd = -lambda I,")
print("  and under vmap for three z")

# %%
# A tensor hook that returns :math:`-\lambda v` reverses it too, as
# :ref:`sphx_glr_auto_examples_under_the_hood_plot_01_inside_the_vjp_chain.py`
# remarks of hooks that replace :math:`v`. The hook goes on a copy of
# :math:`z`, so that only the path through the copy is reversed (a hook on
# :math:`z` itself gets a wrong gradient, checked in the two-head model
# below). Like the
# clipping hook of :ref:`clipping-with-a-tensor-hook`, it works under
# autograd and the reverse-mode transforms, and ``jacfwd`` of it raises.


def reverse_by_hook(z):
    copy = z.clone()
    copy.register_hook(lambda g: -lam * g)
    return copy


# Exact: -0.5 times v.
assert torch.equal(
    torch.autograd.grad(reverse_by_hook(z_leaf), z_leaf, z_cotangent)[0],
    -lam * z_cotangent,
)
assert torch.equal(vjp(reverse_by_hook, z)[1](z_cotangent)[0], -lam * z_cotangent)
print("hook form: autograd's and torch.func.vjp's VJP -lambda v")
show_error(
    lambda: jacfwd(reverse_by_hook)(z),
    RuntimeError,
    "cannot register a hook on a tensor that doesn't require gradient",
)

# %%
# The third way writes the rule by hand in a
# :class:`torch.autograd.Function`. Written without ``setup_context``,
# its ``forward`` takes ``ctx``; that works with autograd and is refused by
# the :mod:`torch.func` transforms (``jacrev`` below; ``grad``, ``jvp``,
# ``jacfwd`` and ``vmap`` with the same error, checked):


class ReverseCtxInForward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, lam):
        ctx.lam = lam
        return z.view_as(z)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.lam * grad_output, None


old_form = torch.autograd.grad(
    ReverseCtxInForward.apply(z_leaf, lam), z_leaf, z_cotangent
)
# Exact: -0.5 times v.
assert torch.equal(old_form[0], -lam * z_cotangent)
print("autograd: the ctx-in-forward reversal's VJP is -lambda v")
show_error(
    lambda: jacrev(lambda z: ReverseCtxInForward.apply(z, lam))(z),
    RuntimeError,
    "must override the setup_context staticmethod",
)


def reverse_ctx_in_forward(z):
    return ReverseCtxInForward.apply(z, lam)


check_setup_context_error(
    {
        "grad": lambda: grad(summed(reverse_ctx_in_forward))(z),
        "jvp": lambda: jvp(reverse_ctx_in_forward, (z,), (z,)),
        "jacfwd": lambda: jacfwd(reverse_ctx_in_forward)(z),
        "vmap": lambda: vmap(reverse_ctx_in_forward)(torch.stack((z, -z))),
    }
)

# %%
# The fix: a ``forward`` without ``ctx`` and a ``setup_context`` that keeps
# :math:`\lambda`
# (:ref:`sphx_glr_auto_examples_in_practice_plot_03_custom_vjp_rule.py`
# explains the form); ``generate_vmap_rule`` lets ``vmap`` batch it
# (without it ``vmap`` raises, shown below). Its Jacobian under ``jacrev``
# is :math:`-\lambda I`, for one :math:`z` and under ``vmap`` for three.
# ``jacfwd`` raises: it needs a ``jvp`` rule.


class ReverseGradient(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(z, lam):
        return z.view_as(z)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.lam = inputs[1]

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.lam * grad_output, None


def reverse(z):
    return ReverseGradient.apply(z, lam)


reversal_jacobian = jacrev(reverse)(z)
batched_jacobians = vmap(jacrev(reverse))(three_z)
# Exact: -0.5 times 1 and times 0.
assert torch.equal(reversal_jacobian, minus_lam_identity)
assert torch.equal(batched_jacobians, minus_lam_identity.expand(3, 4, 4))
assert torch.equal(ReverseGradient.apply(z, lam), z)
print("jacrev of the reversal:", reversal_jacobian.diagonal().tolist())
show_error(lambda: jacfwd(reverse)(z), NotImplementedError, "must implement the jvp")


class ReverseGradientNoVmapRule(ReverseGradient):
    generate_vmap_rule = False


show_error(
    lambda: vmap(lambda z: ReverseGradientNoVmapRule.apply(z, lam))(z.expand(3, 4)),
    RuntimeError,
    "does not have vmap support",
)

# %%
# A ``jvp`` rule
# (:ref:`custom-function-jvp`)
# maps the input's tangent :math:`\dot z` to the output's. Under the
# :mod:`torch.func` transforms (``jvp``, ``jacfwd``, ``hessian``) which one
# to return is a choice: :math:`\dot z`, the derivative of the value, or
# :math:`-\lambda \dot z`, which matches the VJP and the detach form. The
# second:


class ReverseGradientBothModes(ReverseGradient):
    @staticmethod
    def jvp(ctx, z_tangent, lam_tangent):
        return -ctx.lam * z_tangent


def reverse_both_modes(z):
    return ReverseGradientBothModes.apply(z, lam)


# Exact: -0.5 times 1 and times 0.
assert torch.equal(jacfwd(reverse_both_modes)(z), minus_lam_identity)
print("jacfwd with a jvp rule returning -lambda z_tangent: -lambda I")

# %%
# Plain forward-mode AD on a dual tensor (:mod:`torch.autograd.forward_ad`)
# leaves no such choice here. This ``forward`` returns a view of its input,
# ``z.view_as(z)``, and then the ``jvp`` rule must return a view of
# :math:`\dot z` (``z_tangent.view_as(z_tangent)``, which works);
# :math:`-\lambda \dot z` is refused. A ``forward`` that returns a copy,
# ``z.clone()``, lifts that condition, and the reversed tangent goes
# through:


def forward_ad_tangent(function, z):
    with fwAD.dual_level():
        dual_out = function(fwAD.make_dual(z, torch.ones_like(z)))
        return fwAD.unpack_dual(dual_out).tangent


class ReverseGradientValueTangent(ReverseGradient):
    @staticmethod
    def jvp(ctx, z_tangent, lam_tangent):
        return z_tangent.view_as(z_tangent)


def reverse_value_tangent(z):
    return ReverseGradientValueTangent.apply(z, lam)


class ReverseGradientCopy(ReverseGradientBothModes):
    @staticmethod
    def forward(z, lam):
        return z.clone()


show_error(
    lambda: forward_ad_tangent(reverse_both_modes, z),
    RuntimeError,
    "forward is returning a view (or an input as-is) but the jvp is not returning",
)
copy_tangent = forward_ad_tangent(lambda z: ReverseGradientCopy.apply(z, lam), z)
# Exact: 1 passed on, and -0.5 times 1.
assert torch.equal(forward_ad_tangent(reverse_value_tangent, z), torch.ones_like(z))
assert torch.equal(copy_tangent, torch.full_like(z, -lam))
print("forward_ad, jvp returning a view of z_tangent: tangent 1")
print("forward_ad, forward returning z.clone(): tangent", copy_tangent.tolist())

# %%
# Features :math:`z = \tanh(W x)` feed a task head :math:`a` directly and a
# domain head :math:`b` through the reversal; the loss is the sum of the
# two heads' squared errors. The weights :math:`W` get the task's gradient
# minus :math:`\lambda` times the domain's (the maths section), the domain
# head its own gradient, unreversed: checked by hand for the Function under
# autograd, and for the three forms under :func:`torch.func.grad`. A hook
# put on :math:`z` itself, not on a copy, reverses the task head's path
# too, and the weights' gradient is wrong (last lines).

W, a, b = draw(4, 3), draw(4), draw(4)
features_in, task_target, domain_target = draw(3), draw(()), draw(())


def adversarial_loss(W, b, reversal):
    z = torch.tanh(W @ features_in)
    task = (a @ z - task_target) ** 2
    domain = (b @ reversal(z) - domain_target) ** 2
    return task + domain


reversals = {
    "Function": reverse,
    "detach": reverse_by_detach,
    "hook": reverse_by_hook,
}
W_leaf, b_leaf = W.clone().requires_grad_(), b.clone().requires_grad_()
gradients = {
    "autograd, Function": torch.autograd.grad(
        adversarial_loss(W_leaf, b_leaf, reverse), (W_leaf, b_leaf)
    )
}
for name, reversal in reversals.items():
    gradients[f"grad, {name}"] = grad(adversarial_loss, argnums=(0, 1))(W, b, reversal)

z = torch.tanh(W @ features_in)
task_residual, domain_residual = a @ z - task_target, b @ z - domain_target
delta_task = 2 * task_residual * a * (1 - z**2)  # d task / d (W x)
delta_domain = 2 * domain_residual * b * (1 - z**2)  # d domain / d (W x)
expected_W = torch.outer(delta_task - lam * delta_domain, features_in)
expected_b = 2 * domain_residual * z
for name, (gradient_W, gradient_b) in gradients.items():
    print(
        f"{name:<18} max |grad W - by hand| =",
        f"{(gradient_W - expected_W).abs().max():.1e}",
        f"| max |grad b - by hand| = {(gradient_b - expected_b).abs().max():.1e}",
    )
    # float64 defaults: tanh and a few sums of 4 terms, in other orders.
    torch.testing.assert_close(gradient_W, expected_W)
    torch.testing.assert_close(gradient_b, expected_b)


def reverse_by_hook_on_z(z):
    z.register_hook(lambda g: -lam * g)
    return z


hook_on_z_W = grad(adversarial_loss)(W, b, reverse_by_hook_on_z)
both_reversed_W = torch.outer(-lam * (delta_task + delta_domain), features_in)
print(
    "hook on z itself: max |grad W - by hand| =",
    f"{(hook_on_z_W - expected_W).abs().max():.2f}",
)
# float64 defaults: as above; the two differ by (1 + lam) delta_task x^T.
torch.testing.assert_close(hook_on_z_W, both_reversed_W)
assert (hook_on_z_W - expected_W).abs().max() > 0.1  # far from rounding

# %%
# The forms agree on :math:`v^\top J` and part ways beyond it. The gradient
# holds the domain head's residual :math:`b^\top r_\lambda(z) -
# y_{\text{domain}}`, and differentiating the gradient again, as
# :func:`torch.func.hessian` (``jacfwd`` over ``jacrev``) does, takes the
# derivative of :math:`r_\lambda(z)` that each form gives: :math:`-\lambda I`
# for the detach form and for the Function with the ``jvp`` rule above,
# :math:`I` for the hook form (the copy is :math:`z`; the hook changes only
# the backward pass) and for the Function whose ``jvp`` returns
# :math:`\dot z`. So the Hessians with respect to :math:`W` of the first two
# are one matrix, and those of the last two another; the Function without
# a ``jvp`` rule raises, as ``jacfwd`` did.

second = {
    name: hessian(adversarial_loss)(W, b, reversal)
    for name, reversal in (
        ("detach", reverse_by_detach),
        ("hook", reverse_by_hook),
        ("Function with jvp", reverse_both_modes),
        ("Function, jvp z_tangent", reverse_value_tangent),
    )
}
gap = (second["detach"] - second["hook"]).abs().max()
print(f"hessian wrt W, 12 x 12: max |detach - hook| = {gap:.2f}")
# float64 defaults: the same products and tanh, in other orders.
torch.testing.assert_close(second["Function with jvp"], second["detach"])
torch.testing.assert_close(second["Function, jvp z_tangent"], second["hook"])
assert gap > 0.1  # far from rounding
show_error(
    lambda: hessian(adversarial_loss)(W, b, reverse),
    NotImplementedError,
    "must implement the jvp",
)

# %%
# .. _clipping-with-a-tensor-hook:
#
# Clipping :math:`v` with a tensor hook
# -------------------------------------
#
# :meth:`torch.Tensor.register_hook` on an intermediate tensor runs when
# the backward pass reaches it, with the gradient :math:`\delta` that
# arrived there; what it returns is passed on instead. Clipping each entry
# to :math:`[-\tau, \tau]`, with :math:`\tau` half the largest
# :math:`|\delta_i|`, so that some entries are clipped and some are not:

A, w = draw(5, 4), draw(5)
x_in = draw(4)
h = A @ x_in
delta = w * (1 - torch.tanh(h) ** 2)  # what reaches h: w (1 - tanh^2 h)
tau = 0.5 * delta.abs().max().item()


def clipped_loss(x):
    h = A @ x
    h.register_hook(lambda g: g.clamp(-tau, tau))
    return w @ torch.tanh(h)


x_leaf = x_in.clone().requires_grad_()
clipped = torch.autograd.grad(clipped_loss(x_leaf), x_leaf)[0]
expected_clipped = A.T @ delta.clamp(-tau, tau)
print(f"tau = {tau:.3f}: {(delta.abs() > tau).sum().item()} of 5 entries clipped")
print(
    "autograd: max |grad - A^T clip(delta)| =",
    f"{(clipped - expected_clipped).abs().max():.1e}",
)
assert 0 < (delta.abs() > tau).sum() < 5
# float64 defaults: tanh and a product with A, in other orders.
torch.testing.assert_close(clipped, expected_clipped)
# Far from rounding: without the hook the gradient is A^T delta.
assert (clipped - A.T @ delta).abs().max() > 1e-3

# %%
# The reverse-mode transforms run tensor hooks too: ``grad`` and ``vjp``
# give the clipped gradient. Forward mode has no :math:`v` to clip: inside
# ``jacfwd`` nothing requires grad (no reverse pass will run), and
# ``register_hook`` raises.

# float64 defaults: as above.
torch.testing.assert_close(grad(clipped_loss)(x_in), expected_clipped)
torch.testing.assert_close(
    vjp(clipped_loss, x_in)[1](torch.tensor(1.0, dtype=torch.float64))[0],
    expected_clipped,
)
print("torch.func.grad and vjp run the hook")
show_error(
    lambda: jacfwd(clipped_loss)(x_in),
    RuntimeError,
    "cannot register a hook on a tensor that doesn't require gradient",
)

# %%
# What a hook sees depends on who calls the backward pass. Rescaling
# :math:`\delta` to a norm of at most :math:`\tau` under ``vmap(grad(...))``
# rescales each sample's :math:`\delta_i` by its own norm; the same hook in
# one autograd call on the batch sees all the samples' :math:`\delta` at
# once, and rescales by the batch's norm.


def rescaled_loss(x):
    h = x @ A.T  # works for one sample (4,) and for a batch (B, 4)
    h.register_hook(lambda g: g * torch.clamp(tau_norm / g.norm(), max=1.0))
    return (torch.tanh(h) @ w).sum()


batch = draw(8, 4)
deltas = w * (1 - torch.tanh(batch @ A.T) ** 2)  # (B, 5), row i is delta_i
norms = deltas.norm(dim=1, keepdim=True)
# tau_norm halfway between the 4th and 5th smallest norms: 4 samples rescaled,
# each norm at least half their gap from tau_norm (checked below).
fourth, fifth = norms.flatten().sort().values[3:5].tolist()
tau_norm = (fourth + fifth) / 2
per_sample = vmap(grad(rescaled_loss))(batch)
batch_leaf = batch.clone().requires_grad_()
whole_batch = torch.autograd.grad(rescaled_loss(batch_leaf), batch_leaf)[0]
expected_per_sample = deltas * torch.clamp(tau_norm / norms, max=1.0) @ A
expected_whole = deltas * min(1.0, tau_norm / deltas.norm().item()) @ A
rescaled_rows = (norms > tau_norm).sum().item()
print(
    f"tau = {tau_norm:.3f}: {rescaled_rows} of 8 samples have |delta_i| > tau;",
    f"the batch's |delta| = {deltas.norm():.2f}",
)
assert rescaled_rows == 4 and deltas.norm() > tau_norm and fifth - fourth > 1e-6
# float64 defaults: tanh, norms of 5 and 40 terms and products with A.
torch.testing.assert_close(per_sample, expected_per_sample)
torch.testing.assert_close(whole_batch, expected_whole)
assert (per_sample - whole_batch).abs().max() > 1e-3  # far from rounding
print("vmap(grad): each sample rescaled by its own norm; autograd: by the batch's")

# %%
# A module's full backward hook
# -----------------------------
#
# :meth:`torch.nn.Module.register_full_backward_hook` gets a module's
# ``grad_input`` (the gradients with respect to its inputs) and may return
# replacements. On the ``Tanh`` of a small network, clipping its
# ``grad_input`` is the tensor hook above on :math:`h = A x + c`: the first
# layer's weight gets :math:`\psi(\delta)\, x^\top`. Checked by hand:

net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1)).to(torch.float64)
with torch.no_grad():
    for parameter in net.parameters():
        parameter.copy_(draw(*parameter.shape))
h_net = net[0](x_in).detach()
delta_net = net[2].weight.detach()[0] * (1 - torch.tanh(h_net) ** 2)
tau_net = 0.5 * delta_net.abs().max().item()
hook_calls = []


def clip_grad_input(module, grad_input, grad_output):
    hook_calls.append(module)
    return (grad_input[0].clamp(-tau_net, tau_net),)


net[1].register_full_backward_hook(clip_grad_input)
net(x_in).sum().backward()
expected_weight = torch.outer(delta_net.clamp(-tau_net, tau_net), x_in)
clipped_entries = (delta_net.abs() > tau_net).sum().item()
print(
    f"full backward hook: {clipped_entries} of 5 entries clipped,",
    f"max |grad - by hand| = {(net[0].weight.grad - expected_weight).abs().max():.1e}",
)
assert 0 < clipped_entries < 5 and len(hook_calls) == 1
# float64 defaults: tanh and one outer product.
torch.testing.assert_close(net[0].weight.grad, expected_weight)

# %%
# The reverse-mode transforms (``grad``, ``vjp``, ``jacrev``, and
# ``hessian`` through its inner ``jacrev``) refuse the module's hook, with
# the error of the ctx-in-forward reversal above: torch passes the module's
# inputs and outputs through an ``autograd.Function`` of its own that takes
# ``ctx`` in ``forward`` (``BackwardHookFunction``, in
# `torch/nn/modules/_functions.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/nn/modules/_functions.py>`_).

net_params = {name: p.detach() for name, p in net.named_parameters()}
show_error(
    lambda: grad(lambda p: functional_call(net, p, (x_in,)).sum())(net_params),
    RuntimeError,
    "must override the setup_context staticmethod",
)


def summed_net(x):
    return functional_call(net, net_params, (x,)).sum()


check_setup_context_error(
    {
        "vjp": lambda: vjp(summed_net, x_in),
        "jacrev": lambda: jacrev(summed_net)(x_in),
        "hessian": lambda: hessian(summed_net)(x_in),
    }
)

# %%
# ``vmap`` and the forward-mode transforms (``jvp``, ``jacfwd``) raise
# nothing, and the hook does nothing there: torch wraps the tensors only
# when one of them requires grad with grad mode on (`torch/utils/hooks.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/utils/hooks.py>`_),
# and inside these transforms none does, even when the module's own
# parameters require grad. ``jacfwd`` returns the unclipped derivative
# :math:`A^\top \delta`, with :math:`A` the first layer's weight; and
# autograd's backward pass through the output of ``vmap(net)``, on two
# inputs, gives that weight the unclipped :math:`\sum_i \delta_i x_i^\top`
# without calling the hook. A tensor hook inside the function, as in the
# previous section, is the route that works in reverse mode.


def net_output(x):
    return functional_call(net, net_params, (x,))


assert all(parameter.requires_grad for parameter in net.parameters())
# net itself, with its own parameters, which require grad
forward_jacobian = jacfwd(net)(x_in)[0]
forward_tangent = jvp(net, (x_in,), (x_in,))[1]  # J x, with x as tangent
batched_outputs = vmap(net_output)(torch.stack((x_in, -x_in)))
first_weight = net[0].weight.detach()
unclipped = first_weight.T @ delta_net
clipped_net = first_weight.T @ delta_net.clamp(-tau_net, tau_net)
print(
    "jacfwd: max |J - A^T delta| =",
    f"{(forward_jacobian - unclipped).abs().max():.1e};",
    f"hook calls after jacfwd and vmap: {len(hook_calls)}",
)
assert len(hook_calls) == 1  # the autograd backward pass above, only
# float64 defaults: tanh and a product with A, in other orders.
torch.testing.assert_close(forward_jacobian, unclipped)
torch.testing.assert_close(forward_tangent, (unclipped @ x_in).reshape(1))
torch.testing.assert_close(
    batched_outputs, torch.stack((net_output(x_in), net_output(-x_in)))
)
assert (unclipped - clipped_net).abs().max() > 1e-3  # far from rounding

two_inputs = torch.stack((x_in, -x_in))
net.zero_grad()
vmap(net)(two_inputs).sum().backward()
h_two = two_inputs @ first_weight.T + net[0].bias.detach()  # row i is h_i
deltas_net = net[2].weight.detach()[0] * (1 - torch.tanh(h_two) ** 2)
unclipped_weight = deltas_net.T @ two_inputs  # sum_i delta_i x_i^T
print(
    "vmap(net), then backward: max |grad - sum_i delta_i x_i^T| =",
    f"{(net[0].weight.grad - unclipped_weight).abs().max():.1e};",
    f"hook calls: {len(hook_calls)}",
)
assert len(hook_calls) == 1
# float64 defaults: tanh and sums of 2 products, in other orders.
torch.testing.assert_close(net[0].weight.grad, unclipped_weight)
clipped_weight = deltas_net.clamp(-tau_net, tau_net).T @ two_inputs
assert (unclipped_weight - clipped_weight).abs().max() > 1e-3  # far from rounding

# %%
# The picture
# -----------
#
# Left: the derivative of :math:`x \odot \operatorname{sg}(x^2)` with the
# square under ``no_grad``, by ``jacrev`` and by ``jacfwd`` (the diagonal of
# each Jacobian, from one VJP and one JVP with :math:`v = \mathbf{1}`),
# and with ``detach``. Right: the quantiser and the straight-through
# estimator have the same values, and VJPs 0 and 1.

grid = torch.linspace(-1.5, 1.5, 301, dtype=torch.float64)
grid_ones = torch.ones_like(grid)
curves = {
    "jacfwd, no_grad": jvp(cube_no_grad, (grid,), (grid_ones,))[1],
    "jacrev, no_grad": vjp(cube_no_grad, grid)[1](grid_ones)[0],
    "jacfwd, detach": jvp(cube_detached, (grid,), (grid_ones,))[1],
}
# float64 defaults: products of the same numbers.
torch.testing.assert_close(curves["jacfwd, no_grad"], 3 * grid**2)
torch.testing.assert_close(curves["jacrev, no_grad"], grid**2)
torch.testing.assert_close(curves["jacfwd, detach"], grid**2)

fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.0), layout="constrained")
left.plot(grid, curves["jacfwd, no_grad"], lw=2, label=r"jacfwd, no_grad: $3x^2$")
left.plot(
    grid, curves["jacrev, no_grad"], lw=4, color="0.75", label=r"jacrev, no_grad: $x^2$"
)
left.plot(grid, curves["jacfwd, detach"], "--", lw=1.5, label=r"detach, both: $x^2$")
left.set_xlabel("x", fontsize=9)
left.set_ylabel("diagonal of J", fontsize=9)
left.set_title(r"$x \cdot x^2$, the square under no_grad or detached", fontsize=10)
left.legend(fontsize=8)

_, vjp_grid = vjp(straight_through, grid)
_, vjp_grid_quantise = vjp(quantise, grid)
right.plot(grid, quantise(grid), lw=4, color="0.75", label="q(x), s(x): value")
right.plot(grid, straight_through(grid), lw=1, color="C0")
right.plot(grid, vjp_grid(grid_ones)[0], "--", color="C1", label="VJP of s, v = 1")
right.plot(
    grid,
    vjp_grid_quantise(grid_ones)[0],
    ":",
    lw=2,
    color="C2",
    label="VJP of q, v = 1",
)
right.set_xlabel("x", fontsize=9)
right.set_title("straight-through estimator", fontsize=10)
right.set_ylim(-1.7, 2.6)  # room for the legend above the steps
right.legend(fontsize=8, loc="upper left")
for ax in (left, right):
    ax.tick_params(labelsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * ``detach`` makes a constant for every kind of derivative. A
#   ``torch.no_grad()`` block inside a function is a constant for reverse
#   mode only (autograd, ``vjp``, ``grad``, ``jacrev``); ``jvp``,
#   ``jacfwd`` and the outer pass of ``hessian`` differentiate through it.
#   A ``no_grad`` around a transform's call is ignored.
# * ``x + (q(x) - x).detach()`` has the value ``q(x)`` (exactly for the
#   quantiser here; in general up to the rounding of the difference and of
#   the sum) and the VJP :math:`v`. Gradient reversal is the same trick,
#   ``z.detach() - lam * (z - z.detach())``, and then works under every
#   transform. A tensor hook returning :math:`-\lambda v` works in reverse
#   mode; an ``autograd.Function`` with ``setup_context`` works under
#   autograd and the reverse-mode transforms, under ``vmap`` with
#   ``generate_vmap_rule`` as well, and forward mode (``jvp``, ``jacfwd``,
#   ``hessian``) needs a ``jvp`` rule too; for :math:`-\lambda \dot z`
#   under ``torch.autograd.forward_ad``, ``forward`` must return a copy,
#   not a view. Under ``hessian`` the hook form gives another matrix than
#   the detach form.
# * A tensor hook replaces the :math:`v` that reaches a tensor, under
#   autograd and the reverse-mode transforms, and sees one sample's
#   :math:`v` under ``vmap``. A module's full backward hook works with
#   autograd; ``grad``, ``vjp`` and ``jacrev`` refuse it, and under
#   ``vmap``, ``jvp`` and ``jacfwd`` it is skipped without an error.
#
# A ``torch.where`` hides a NaN of the branch it did not select from the
# value, not from the gradient:
# :ref:`sphx_glr_auto_examples_in_practice_plot_08_nan_and_inf_gradients.py`.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_12_many_models_at_once.py`.
# Reference: :meth:`torch.Tensor.detach`, :class:`torch.no_grad`,
# :func:`torch.func.jacrev`, :func:`torch.func.jacfwd`,
# :func:`torch.func.jvp`, :func:`torch.func.vjp`, :func:`torch.func.grad`,
# :func:`torch.func.hessian`, :mod:`torch.autograd.forward_ad`,
# :class:`torch.autograd.Function`, :meth:`torch.Tensor.register_hook`,
# :meth:`torch.nn.Module.register_full_backward_hook`,
# `UX limitations <https://docs.pytorch.org/docs/2.13/func.ux_limitations.html>`_.
