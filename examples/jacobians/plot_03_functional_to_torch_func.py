r"""
The same VJP, six spellings: torch.autograd and torch.func
==========================================================

:func:`torch.autograd.functional.vjp` is one of several ways to compute
:math:`v^\top J` in PyTorch. This page computes one product with six of
them and asserts they agree, counts what differs when several products are
needed (whether the forward pass runs again for each one), times it, shows
one trap (gradients that accumulate), and ends with a table of equivalent
calls.
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

import matplotlib.pyplot as plt
import torch
from torch.utils import benchmark

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

results["func.grad of <v, f(x)>"] = torch.func.grad(lambda x: (v * f(x)).sum())(x)

(results["func.vmap of vjp_fn"],) = torch.func.vmap(vjp_fn)(v.unsqueeze(0))
results["func.vmap of vjp_fn"] = results["func.vmap of vjp_fn"].squeeze(0)

reference = results["autograd.functional.vjp"]
for name, result in results.items():
    # The same backward formulas, but the APIs may sum each entry's three products of v (|v| < 3.9)
    # and partials (< 3) in other orders and kernels: terms adding up to < 12, ~1e-14 << 1e-12.
    torch.testing.assert_close(result, reference, rtol=1e-12, atol=1e-12)
    print(f"{name:<30} {tuple(result.shape)}  max |diff| = {(result - reference).abs().max().item():.1e}")

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
    # Forward or reverse, each entry is the same few products of entries below 3, plus exact
    # zeros: a few eps (2.2e-16) apart.
    torch.testing.assert_close(jac, full["functional.jacobian"], rtol=1e-12, atol=1e-12)
    print(f"{name:<20} {tuple(jac.shape)}")

# %%
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
# ``vmap(vjp_fn)`` runs them as one batched backward pass.

basis = torch.zeros(3, N, 3, dtype=torch.float64)
for k in range(3):
    basis[k, :, k] = 1.0
backward_calls = 0


class CountBackward(torch.autograd.Function):
    """The identity; counts the backward passes that reach its input."""

    generate_vmap_rule = True  # so that vmap(vjp_fn) can run through it

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
    return [torch.autograd.functional.vjp(f_counted, x, v=basis[k])[1] for k in range(3)]


def with_func_vjp():
    _, vjp_fn = torch.func.vjp(f_counted, x)
    return [vjp_fn(basis[k])[0] for k in range(3)]


def with_vmapped_vjp_fn():
    _, vjp_fn = torch.func.vjp(f_counted, x)
    return torch.func.vmap(vjp_fn)(basis)[0]


def with_retained_graph():
    x_leaf = x.clone().requires_grad_()
    out = f_counted(x_leaf)
    return [torch.autograd.grad(out, x_leaf, grad_outputs=basis[k], retain_graph=True)[0] for k in range(3)]


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

print("forward passes for 3 VJPs: " + ", ".join(f"{name} {fwd}" for name, (fwd, _) in passes.items()))
print("backward passes for 3 VJPs: " + ", ".join(f"{name} {bwd}" for name, (_, bwd) in passes.items()))
expected_passes = {  # (forward, backward)
    "functional.vjp": (3, 3),
    "func.vjp": (1, 3),
    "autograd.grad(retain_graph=True)": (1, 3),
    "vmap(vjp_fn)": (1, 1),
}
assert passes == expected_passes, passes
for name in rows:
    # One-hot v: each entry is the same few products of entries below 3, plus exact zeros; looped
    # and batched kernels differ by a few eps (2.2e-16) at most.
    torch.testing.assert_close(rows[name], rows["functional.vjp"], rtol=1e-12, atol=1e-12)

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
    print("RuntimeError:", str(error).split(".")[0])

# %%
# The trap: ``backward`` accumulates
# ----------------------------------
#
# ``Tensor.backward`` adds into ``x.grad`` rather than overwriting it. Call
# it twice and the "VJP" doubles, silently. The functional forms return a
# fresh tensor each time.

x_leaf = x.clone().requires_grad_()
for _ in range(2):
    f(x_leaf).backward(gradient=v)
# g + g = 2g exactly, with g from the same backward graph as functional.vjp's: at most a few
# roundings of terms adding up to < 12 apart, ~1e-14.
torch.testing.assert_close(x_leaf.grad, 2 * reference, rtol=1e-12, atol=1e-12)
print("after two backward calls, x.grad / (v^T J) =", (x_leaf.grad / reference).mean().item())
x_leaf.grad = None  # reset before the next product

# %%
# Cost of three VJPs, three ways
# ------------------------------
#
# Median times for the three one-hot VJPs at :math:`N = 10^5`, each starting
# from ``x`` (so each includes its forward passes), measured with
# :class:`torch.utils.benchmark.Timer` after a warm-up on the machine that
# built this page (one size only, to keep the page within a few seconds).
# The times are shown, not asserted: the counts above are the check.

x_big = 2 * torch.rand(100_000, 2, generator=generator, dtype=torch.float64) - 1
basis_big = torch.zeros(3, 100_000, 3, dtype=torch.float64)
for k in range(3):
    basis_big[k, :, k] = 1.0


def three_functional_vjps(x):
    return [torch.autograd.functional.vjp(f, x, v=basis_big[k])[1] for k in range(3)]


def func_vjp_reused(x):
    _, vjp_fn = torch.func.vjp(f, x)
    return [vjp_fn(basis_big[k])[0] for k in range(3)]


def func_vjp_vmapped(x):
    _, vjp_fn = torch.func.vjp(f, x)
    return torch.func.vmap(vjp_fn)(basis_big)[0]


def grad_retained(x):
    x = x.detach().requires_grad_()
    out = f(x)
    return [torch.autograd.grad(out, x, grad_outputs=basis_big[k], retain_graph=True)[0] for k in range(3)]


ways = {
    "functional.vjp x3": three_functional_vjps,
    "func.vjp once, vjp_fn x3": func_vjp_reused,
    "func.vjp once, vmap(vjp_fn)": func_vjp_vmapped,
    "f once, grad x3 (retain_graph)": grad_retained,
}
median_ms = {}
for name, way in ways.items():
    way(x_big)  # warm-up
    timer = benchmark.Timer(stmt="way(x)", globals={"way": way, "x": x_big})
    median_ms[name] = timer.blocked_autorange(min_run_time=0.1).median * 1e3
    torch.testing.assert_close(torch.stack(list(way(x_big))), torch.stack(three_functional_vjps(x_big)))

baseline = median_ms["functional.vjp x3"]
for name, ms in median_ms.items():
    ratio = baseline / ms
    speed = "(the baseline)" if name == "functional.vjp x3" else (
        f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
    )
    print(f"{name:<31} {ms:7.2f} ms  {speed}")

fig, ax = plt.subplots(figsize=(6.4, 3.0), layout="constrained")
ax.barh(list(median_ms), list(median_ms.values()), color=["0.6", "C0", "C1", "C2"])
ax.invert_yaxis()
ax.set_xlabel("median time for 3 VJPs at N = 100,000 (ms)")
ax.set_title("three one-hot VJPs, N = 100,000")
plt.show()

# %%
# Reusing the graph saves two of the three forward passes and none of the
# three backward passes (``vmap(vjp_fn)`` also runs the three backward
# passes as one batched pass). What that saves in time depends on what a
# forward pass costs next to a backward pass, and on each API's own overhead
# per call: the ratios above show what it came to for this ``f`` on the
# machine that built this page. The pass counts are the same on every
# machine.

# %%
# Equivalent calls
# ----------------
#
# .. list-table::
#    :header-rows: 1
#
#    * - to compute
#      - ``torch.autograd``
#      - ``torch.func``
#    * - :math:`v^\top J` (one :math:`v`)
#      - ``functional.vjp(f, x, v)[1]``, ``grad(f(x), x, v)``,
#        ``f(x).backward(gradient=v)`` then ``x.grad``
#      - ``vjp(f, x)[1](v)[0]``, ``grad(lambda x: (v * f(x)).sum())(x)``
#    * - :math:`v^\top J` for many :math:`v`
#      - ``grad(f(x), x, V, is_grads_batched=True)``; or ``y = f(x)`` once,
#        then ``grad(y, x, v, retain_graph=True)`` for each :math:`v`
#      - ``vmap(vjp(f, x)[1])(V)``
#    * - full :math:`J`
#      - ``functional.jacobian(f, x)``
#      - ``jacrev(f)(x)``, ``jacfwd(f)(x)``
#    * - per-sample :math:`J_n`
#      - ``functional.jacobian(lambda x: f(x).sum(0), x, vectorize=True)``
#        (block-diagonal :math:`J` only)
#      - ``vmap(jacrev(f_one_point))(x)``
#
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
