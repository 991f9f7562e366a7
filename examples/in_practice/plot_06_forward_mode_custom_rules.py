r"""
A custom JVP rule: forward mode and Hessians through your own Function
======================================================================

A :class:`torch.autograd.Function` with only a ``backward`` serves reverse
mode. Forward mode (:func:`torch.func.jvp`, dual numbers,
:func:`torch.func.jacfwd`, and :func:`torch.func.hessian`, which runs forward
mode over reverse mode) needs a second rule, the ``jvp`` staticmethod. This
page writes both rules for a numerically stable log-sum-exp, checks the JVP
rule with :func:`~torch.autograd.gradcheck`, shows a bug that the default
check misses and ``check_forward_ad=True`` catches, what fails without the
rule, and one composition that is silently wrong even with it.
"""

# %%
# The maths
# ---------
#
# .. math::
#
#    f(x) = \log \sum_{i=1}^{n} e^{x_i}
#    = m + \log \sum_{i=1}^{n} e^{x_i - m}, \quad m = \max_i x_i,
#    \qquad f : \mathbb{R}^n \to \mathbb{R}.
#
# The shifted form never overflows. With :math:`s = \operatorname{softmax}(x)
# = e^{x - f(x)}`, the Jacobian is the row :math:`J = s^\top \in
# \mathbb{R}^{1 \times n}`, and the two rules are
#
# .. math::
#
#    \text{JVP: } \dot x \in \mathbb{R}^n \mapsto J \dot x = s^\top \dot x \in \mathbb{R},
#    \qquad
#    \text{VJP: } v \in \mathbb{R} \mapsto v^\top J = v\, s^\top \in \mathbb{R}^{1 \times n}.
#
# The JVP takes an input-shaped tangent and returns an output-shaped one; the
# VJP goes the other way. Differentiating :math:`s` once more gives the
# Hessian used as the reference below:
#
# .. math::
#
#    \nabla^2 f(x) = \operatorname{diag}(s) - s s^\top \in \mathbb{R}^{n \times n}.
#
# Log-sum-exp stands in for any function whose derivatives you supply
# yourself (a kernel written outside torch, a call into another library);
# :func:`torch.logsumexp` serves as the reference for its values.

# %%
# Both rules
# ----------
#
# ``setup_context`` saves what each rule needs: ``ctx.save_for_backward`` for
# ``backward``, ``ctx.save_for_forward`` for ``jvp`` (which reads them from
# ``ctx.saved_tensors`` too). ``generate_vmap_rule = True`` lets
# :mod:`torch.func` batch the function; the section `Batching needs
# generate_vmap_rule`_ below shows why ``jacfwd`` needs that.

import textwrap

import matplotlib.pyplot as plt
import torch
import torch.autograd.forward_ad as fwAD
from torch.autograd.gradcheck import GradcheckError
from torch.func import hessian, jacfwd, jacrev, jvp, vjp, vmap


class LogSumExp(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        m = x.max(dim=-1, keepdim=True).values
        return (m + torch.log(torch.exp(x - m).sum(dim=-1, keepdim=True))).squeeze(-1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x, output)
        ctx.save_for_forward(x, output)

    @staticmethod
    def backward(ctx, grad_output):  # v -> v s
        x, output = ctx.saved_tensors
        return grad_output.unsqueeze(-1) * torch.exp(x - output.unsqueeze(-1))

    @staticmethod
    def jvp(ctx, x_tangent):  # x_dot -> s^T x_dot
        x, output = ctx.saved_tensors
        # sphinx_gallery_break = ("sum", "mean")
        return (torch.exp(x - output.unsqueeze(-1)) * x_tangent).sum(dim=-1)


logsumexp = LogSumExp.apply
n = 6
generator = torch.Generator().manual_seed(0)
x = torch.randn(n, generator=generator, dtype=torch.float64)
x_tangent = torch.randn(n, generator=generator, dtype=torch.float64)
s = torch.softmax(x, dim=0)

value, tangent_out = jvp(logsumexp, (x,), (x_tangent,))
with fwAD.dual_level():  # the same JVP with dual numbers
    dual_out = logsumexp(fwAD.make_dual(x, x_tangent))
    dual_tangent = fwAD.unpack_dual(dual_out).tangent
_, pullback = vjp(logsumexp, x)
(vjp_out,) = pullback(torch.tensor(2.5, dtype=torch.float64))
big = torch.tensor([1000.0, 1000.0], dtype=torch.float64)
print(
    "at x = (1000, 1000):",
    logsumexp(big).item(),
    " naive log(sum(exp)):",
    torch.log(torch.exp(big).sum()).item(),
)
torch.testing.assert_close(
    logsumexp(big), 1000 + torch.log(torch.tensor(2.0, dtype=torch.float64))
)

# %%
# The checks
# ----------
#
# Each rule against the maths section, with :math:`s` from
# :func:`torch.softmax`: the JVP, through :func:`torch.func.jvp` and through
# dual numbers, against :math:`s^\top \dot x`, and the VJP with
# :math:`v = 2.5` against :math:`2.5\, s`; the value against
# :func:`torch.logsumexp`.

expected = s @ x_tangent
expected_vjp = 2.5 * s
print(
    f"f(x) = {value.item():.6f}   JVP: {tangent_out.item():.6f}   "
    f"by hand s^T x_dot: {expected.item():.6f}"
)
vjp_error = (vjp_out - expected_vjp).abs().max().item()
print(f"VJP with v = 2.5: max |vjp - 2.5 s| = {vjp_error:.1e}")
# float64 sums of six terms, exp and log: a dozen operations each within a few
# eps, on values below 3 on both sides: about 1e-14, far under 1e-12.
torch.testing.assert_close(value, torch.logsumexp(x, dim=0), rtol=1e-12, atol=1e-12)
torch.testing.assert_close(tangent_out, expected, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(dual_tangent, expected, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(vjp_out, expected_vjp, rtol=1e-12, atol=1e-12)

# %%
# ``gradcheck`` with ``check_forward_ad=True``
# --------------------------------------------
#
# :func:`torch.autograd.gradcheck` compares the rules with finite
# differences. By default it checks ``backward`` only; with
# ``check_forward_ad=True`` it also checks ``jvp``.

x_check = torch.randn(n, generator=generator, dtype=torch.float64, requires_grad=True)
assert torch.autograd.gradcheck(logsumexp, (x_check,), check_forward_ad=True)
print("gradcheck(check_forward_ad=True): passed")

# %%
# A plausible slip: reuse the forward pass's shift by the maximum in the JVP,
# forgetting that the weights must then be normalised. ``backward`` is still
# right, so the default ``gradcheck`` passes; the forward-mode check fails.


class LogSumExpUnnormalisedJvp(LogSumExp):
    @staticmethod
    def jvp(ctx, x_tangent):
        x, output = ctx.saved_tensors
        m = x.max(dim=-1, keepdim=True).values
        return (torch.exp(x - m) * x_tangent).sum(dim=-1)  # bug: e^(x-m), not e^(x-f)


buggy = LogSumExpUnnormalisedJvp.apply
assert torch.autograd.gradcheck(buggy, (x_check,)), (
    "backward is right, so the default check passes"
)
try:
    torch.autograd.gradcheck(buggy, (x_check,), check_forward_ad=True)
    raise AssertionError("gradcheck missed the wrong jvp")
except GradcheckError as error:
    print("default gradcheck on the buggy rule: passed")
    print("with check_forward_ad=True -> GradcheckError:")
    print(" ", str(error).splitlines()[0])

# %%
# .. _forward-mode-without-jvp:
#
# Without a ``jvp``, forward mode stops
# -------------------------------------
#
# A Function with only ``backward`` still works with reverse-mode transforms
# such as :func:`torch.func.jacrev`. The forward-mode ones raise
# ``NotImplementedError``: ``jvp``, ``jacfwd``, ``hessian`` (whose outer
# transform is forward mode) and dual numbers.


class LogSumExpBackwardOnly(LogSumExp):
    jvp = torch.autograd.Function.jvp  # the base class's: raises


backward_only = LogSumExpBackwardOnly.apply
# exp(x - f) against the softmax kernel: a few eps of values below 1.
torch.testing.assert_close(jacrev(backward_only)(x), s, rtol=1e-12, atol=1e-12)
print("jacrev without a jvp rule: works")


def dual_numbers(f):
    with fwAD.dual_level():
        return fwAD.unpack_dual(f(fwAD.make_dual(x, x_tangent))).tangent


messages = set()
for name, transform in [
    ("jvp", lambda f: jvp(f, (x,), (x_tangent,))),
    ("jacfwd", lambda f: jacfwd(f)(x)),
    ("hessian", lambda f: hessian(f)(x)),
    ("dual numbers", dual_numbers),
]:
    try:
        transform(backward_only)
        raise AssertionError(f"{name} should need the jvp rule")
    except NotImplementedError as error:
        messages.add(str(error))
        print(f"{name:<12} without a jvp rule -> NotImplementedError")
assert len(messages) == 1, messages  # the same message from all four
(message,) = messages
print(textwrap.fill(f"each with the message: {message}", 86, subsequent_indent="  "))

# %%
# .. _custom-function-jvp:
#
# With the rule: ``jacfwd`` and ``hessian``
# ------------------------------------------
#
# ``jacfwd`` pushes the :math:`n` basis vectors through ``jvp``;
# ``hessian`` is ``jacfwd(jacrev(f))`` (the last line of its source in
# `torch/_functorch/eager_transforms.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_functorch/eager_transforms.py>`_;
# the cell checks that they give the same bits), so its outer forward pass
# runs the JVP rule (to get the tangent of :math:`f(x)`, which ``backward``
# reads) and then differentiates the operations of ``backward``; the next
# cell counts the calls. Both agree with the hand formulas, and with
# ``jacrev(jacrev(f))``, which never calls ``jvp``. The buggy rule gives a
# wrong Hessian, although its ``backward`` is right.

expected_hessian = torch.diag(s) - torch.outer(s, s)
forward_over_reverse = hessian(logsumexp)(x)
# Entries below 1, each a few exp, sums of six and products: within ~20 eps
# (4e-15) of the exact values on both sides, far under 1e-12.
torch.testing.assert_close(jacfwd(logsumexp)(x), s, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(
    forward_over_reverse, expected_hessian, rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(
    jacrev(jacrev(logsumexp))(x), expected_hessian, rtol=1e-12, atol=1e-12
)
print(
    f"hessian: {tuple(forward_over_reverse.shape)}, max |error| = "
    f"{(forward_over_reverse - expected_hessian).abs().max().item():.1e}"
)
# hessian is jacfwd(jacrev(f)): exact, the same operations on the same operands.
assert forward_over_reverse.equal(jacfwd(jacrev(logsumexp))(x))
buggy_hessian_error = (hessian(buggy)(x) - expected_hessian).abs().max().item()
print(f"hessian through the buggy jvp: max |error| = {buggy_hessian_error:.2f}")
assert buggy_hessian_error > 0.05

# %%
# A copy of the rule that counts its calls. ``jacfwd`` calls ``jvp`` once
# (``vmap`` batches the :math:`n` basis vectors into one call);
# ``hessian`` calls ``jvp`` once and ``backward`` once, as described above;
# ``jacrev(jacrev(f))`` calls ``backward`` twice (the outer reverse pass
# differentiates :math:`f(x)` too, where ``backward`` reads it) and ``jvp``
# never.


class LogSumExpCounted(LogSumExp):
    calls = {}

    @staticmethod
    def backward(ctx, grad_output):
        LogSumExpCounted.calls["backward"] += 1
        return LogSumExp.backward(ctx, grad_output)

    @staticmethod
    def jvp(ctx, x_tangent):
        LogSumExpCounted.calls["jvp"] += 1
        return LogSumExp.jvp(ctx, x_tangent)


calls = {}
for name, transform in [
    ("jacfwd", jacfwd),
    ("hessian", hessian),
    ("jacrev(jacrev)", lambda f: jacrev(jacrev(f))),
]:
    LogSumExpCounted.calls = {"jvp": 0, "backward": 0}
    transform(LogSumExpCounted.apply)(x)
    calls[name] = LogSumExpCounted.calls
    print(
        f"{name:<15} calls of jvp: {calls[name]['jvp']}, of backward: "
        f"{calls[name]['backward']}"
    )
assert calls == {  # exact: counts
    "jacfwd": {"jvp": 1, "backward": 0},
    "hessian": {"jvp": 1, "backward": 1},
    "jacrev(jacrev)": {"jvp": 0, "backward": 2},
}

# %%
# A composition that is silently wrong: forward over forward
# -----------------------------------------------------------
#
# Nesting forward mode, ``jacfwd(jacfwd(f))``, gives a zero matrix here
# with no error and nothing that warns of it (in torch 2.13, and in 2.5.1),
# while the same nesting over :func:`torch.logsumexp` gives the Hessian. It
# is not a slip in this rule: the cube below, whose ``jvp`` is one line,
# gets 0 for its second derivative the same way, and
# `pytorch/pytorch#197867 <https://github.com/pytorch/pytorch/issues/197867>`_
# reports it for another small Function, noting that reverse over forward is
# right. So do not nest forward mode through a custom Function; use any
# nesting with a reverse-mode transform: forward over reverse
# (``hessian``), reverse over forward (``jacrev(jacfwd(f))``) or reverse over
# reverse, all checked here. (If a later torch fixes it, the assertions on
# the zeros fail and this section should go.)

forward_over_forward = jacfwd(jacfwd(logsumexp))(x)
print(
    f"jacfwd(jacfwd(f)): max |entry| = {forward_over_forward.abs().max().item():.1e},"
    f" hand Hessian's max |entry| = {expected_hessian.abs().max().item():.2f}"
)
# Exact: the zeros are a dropped tangent, not computed.
assert forward_over_forward.abs().max() == 0, (
    "forward-over-forward through the Function"
)
plain_forward_over_forward = jacfwd(jacfwd(lambda x: torch.logsumexp(x, dim=0)))(x)
reverse_over_forward = jacrev(jacfwd(logsumexp))(x)
# As above: within ~20 eps (4e-15) of entries below 1.
torch.testing.assert_close(
    plain_forward_over_forward, expected_hessian, rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(
    reverse_over_forward, expected_hessian, rtol=1e-12, atol=1e-12
)
print("jacfwd(jacfwd(torch.logsumexp)) and jacrev(jacfwd(f)): equal the hand Hessian")


class Cube(torch.autograd.Function):  # x -> x^3, elementwise, with both rules
    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return x**3

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * grad_output

    @staticmethod
    def jvp(ctx, x_tangent):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * x_tangent


two = torch.tensor(2.0, dtype=torch.float64)
cube_second = {
    "jacfwd(jacfwd)": jacfwd(jacfwd(Cube.apply))(two).item(),
    "jacrev(jacfwd)": jacrev(jacfwd(Cube.apply))(two).item(),
    "hessian": hessian(Cube.apply)(two).item(),
}
print("second derivative of x^3 at 2 (exactly 12) through Cube:")
for name, second in cube_second.items():
    print(f"  {name:<15} {second}")
# Exact: 6 * 2 = 12 by correctly rounded products of small integers; 0 is a dropped
# tangent.
assert cube_second == {"jacfwd(jacfwd)": 0.0, "jacrev(jacfwd)": 12.0, "hessian": 12.0}

# %%
# Batching needs ``generate_vmap_rule``
# -------------------------------------
#
# ``jacfwd`` (and so ``hessian``) runs ``jvp`` under :func:`torch.func.vmap`
# over the basis vectors, so a Function without a vmap rule fails there even
# though it has a ``jvp``. With ``generate_vmap_rule = True``, Hessians of a
# whole batch come from one more ``vmap``.


class LogSumExpNoVmapRule(LogSumExp):
    generate_vmap_rule = False


try:
    jacfwd(LogSumExpNoVmapRule.apply)(x)
    raise AssertionError("jacfwd should need a vmap rule")
except RuntimeError as error:
    print("jacfwd without generate_vmap_rule -> RuntimeError:")
    print(" ", str(error).split(".")[0])
    assert "does not have vmap support" in str(error)

batch = torch.randn(100, n, generator=generator, dtype=torch.float64)
batch_hessians = vmap(hessian(logsumexp))(batch)  # (100, n, n)
batch_s = torch.softmax(batch, dim=1)
# As above, row by row: within ~20 eps of entries below 1.
torch.testing.assert_close(
    batch_hessians,
    torch.diag_embed(batch_s) - batch_s[:, :, None] * batch_s[:, None, :],
    rtol=1e-12,
    atol=1e-12,
)
print(
    "vmap(hessian(f)):",
    tuple(batch_hessians.shape),
    "equals diag(s) - s s^T for every row",
)

# %%
# Along a line
# ------------
#
# :math:`g(\tau) = f(x + \tau d)` has :math:`g' = s^\top d` (one JVP through
# the rule) and :math:`g'' = d^\top \nabla^2 f\, d` (from ``hessian``), against
# central differences of :math:`g`, with the zero that forward over forward
# returns.

direction = torch.randn(n, generator=generator, dtype=torch.float64)
taus = torch.linspace(-3, 3, 121, dtype=torch.float64)
points = x + taus[:, None] * direction  # (121, n)
g = logsumexp(points)
g_first = vmap(lambda p: jvp(logsumexp, (p,), (direction,))[1])(points)
g_second = vmap(lambda p: direction @ hessian(logsumexp)(p) @ direction)(points)
g_second_fwd_fwd = vmap(lambda p: direction @ jacfwd(jacfwd(logsumexp))(p) @ direction)(
    points
)
h = 1e-4
g_first_fd = (logsumexp(points + h * direction) - logsumexp(points - h * direction)) / (
    2 * h
)
g_second_fd = (
    logsumexp(points + h * direction) - 2 * g + logsumexp(points - h * direction)
) / h**2
# Step h = 1e-4: truncation errors h^2/6 |g'''| and h^2/12 |g''''| below 1e-8.
# Each g is off by up to ~5e-15 (a few eps of inputs up to 5, exp, the sum, log
# and |g| < 4); g' divides two by 2h (5e-11), g'' four by h^2: up to 2e-6,
# so atol for g'' widened from 1e-6 to 1e-5.
torch.testing.assert_close(g_first, g_first_fd, rtol=0, atol=1e-7)
torch.testing.assert_close(g_second, g_second_fd, rtol=0, atol=1e-5)
first_error = (g_first - g_first_fd).abs().max().item()
second_error = (g_second - g_second_fd).abs().max().item()
print(
    f"max |g' - finite difference| = {first_error:.1e},"
    f"  max |g'' - finite difference| = {second_error:.1e}"
)
assert (g_second_fwd_fwd == 0).all()  # exact: the dropped tangent, as above

# %%
# The picture
# -----------
#
# Along the line: :math:`g`, its first derivative from the ``jvp`` rule,
# and its second derivative three ways: from ``hessian`` (forward over
# reverse), from central differences, and from ``jacfwd(jacfwd(f))``,
# which is 0 everywhere.

fig, ax = plt.subplots(figsize=(6.6, 3.8), layout="constrained")
ax.plot(taus.numpy(), (g - g.min()).numpy(), label=r"$g(\tau) - \min g$")
ax.plot(taus.numpy(), g_first.numpy(), label=r"$g'$: the jvp rule")
ax.plot(
    taus.numpy(),
    g_second.numpy(),
    color="0.75",
    lw=5,
    label=r"$g''$: hessian (forward over reverse)",
)
ax.plot(
    taus[::6].numpy(),
    g_second_fd[::6].numpy(),
    "o",
    ms=3,
    color="C3",
    label=r"$g''$: finite differences",
)
ax.plot(
    taus.numpy(),
    g_second_fwd_fwd.numpy(),
    "--",
    color="k",
    label=r"$g''$: jacfwd(jacfwd), silently 0",
)
ax.set_xlabel(r"$\tau$")
ax.legend(fontsize=8)
plt.show()

# %%
# What to remember
# ----------------
#
# * A ``jvp`` staticmethod (with ``ctx.save_for_forward``) makes a Function
#   work in forward mode: ``jvp``, dual numbers, ``jacfwd`` and ``hessian``.
#   Check it with ``gradcheck(..., check_forward_ad=True)``: the default
#   check does not test it.
# * ``jacfwd`` needs ``generate_vmap_rule = True`` (or a ``vmap`` rule) as
#   well; without a ``jvp``, ``jvp``, ``jacfwd``, ``hessian`` and dual
#   numbers raise ``NotImplementedError``.
# * Forward over forward through a custom Function returned zeros without
#   an error for both Functions here (pytorch/pytorch#197867); use
#   ``hessian`` (forward over reverse) or ``jacrev(jacfwd(f))``, and check
#   it.
#
# The reverse-mode rule of a Function: :ref:`sphx_glr_auto_examples_in_practice_plot_03_custom_vjp_rule.py`.
#
# Next: :ref:`sphx_glr_auto_examples_in_practice_plot_07_implicit_differentiation.py`.
# Reference: :class:`torch.autograd.Function`, :func:`torch.autograd.gradcheck`,
# :func:`torch.func.jvp`, :func:`torch.func.vjp`, :func:`torch.func.jacfwd`,
# :func:`torch.func.jacrev`, :func:`torch.func.hessian`, :func:`torch.func.vmap`,
# :func:`torch.autograd.forward_ad.make_dual`, :func:`torch.autograd.forward_ad.unpack_dual`,
# :class:`torch.autograd.forward_ad.dual_level`, :func:`torch.logsumexp`.
