r"""
Hessian-vector products without the Hessian
===========================================

For a scalar function of :math:`n` variables, the Hessian has :math:`n^2`
entries, but the product :math:`Hv` costs only a few gradient evaluations:
it is the JVP (or VJP) of the gradient. This page computes :math:`Hv` five
ways, checks them against the full Hessian and a hand-derived one, and
measures what each costs as :math:`n` grows.
"""

# %%
# The maths
# ---------
#
# .. math::
#
#    f(x) = \tfrac12 x^\top A x + \sum_{i=1}^{n} \cos x_i, \qquad
#    A = A^\top \in \mathbb{R}^{n \times n},
#
#    \nabla f(x) = A x - \sin x, \qquad
#    H(x) = A - \operatorname{diag}(\cos x) \in \mathbb{R}^{n \times n}.
#
# The gradient :math:`g = \nabla f : \mathbb{R}^n \to \mathbb{R}^n` has
# Jacobian :math:`H`, so
#
# .. math::
#
#    H v = \text{JVP of } g \text{ with } v, \qquad
#    v^\top H = \text{VJP of } g \text{ with } v,
#
# equal here because :math:`H` is symmetric. Each costs one gradient
# evaluation plus one more pass, :math:`O(n^2)` for this :math:`f`, against
# :math:`n` such passes for the full Hessian.

# %%
# Five ways to compute :math:`Hv`
# -------------------------------

import matplotlib.pyplot as plt
import torch
from torch.utils import benchmark

generator = torch.Generator().manual_seed(0)


def make_problem(n):
    B = torch.randn(n, n, generator=generator, dtype=torch.float64) / n**0.5
    A = (B + B.T) / 2
    x = torch.randn(n, generator=generator, dtype=torch.float64)
    v = torch.randn(n, generator=generator, dtype=torch.float64)
    return A, x, v


n = 200
A, x, v = make_problem(n)


def f(x, A=A):
    return 0.5 * x @ A @ x + torch.cos(x).sum()


def hvp_functional(f, x, v):
    return torch.autograd.functional.hvp(f, x, v)[1]


def vhp_functional(f, x, v):
    return torch.autograd.functional.vhp(f, x, v)[1]


def double_backward(f, x, v):
    x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    (hv,) = torch.autograd.grad(g, x, grad_outputs=v)
    return hv


def forward_over_reverse(f, x, v):
    return torch.func.jvp(torch.func.grad(f), (x,), (v,))[1]


def reverse_over_reverse(f, x, v):
    _, vjp_fn = torch.func.vjp(torch.func.grad(f), x)
    return vjp_fn(v)[0]


methods = {
    "functional.hvp": hvp_functional,
    "functional.vhp": vhp_functional,
    "double backward": double_backward,
    "func: jvp of grad": forward_over_reverse,
    "func: vjp of grad": reverse_over_reverse,
}

hessian = torch.autograd.functional.hessian(f, x)
hessian_by_hand = A - torch.diag(torch.cos(x))
torch.testing.assert_close(hessian, hessian_by_hand, rtol=1e-12, atol=1e-12)
print("full Hessian:", tuple(hessian.shape), " equals A - diag(cos x)")

expected = A @ v - torch.cos(x) * v
for name, method in methods.items():
    result = method(f, x, v)
    # float64; Hv sums n = 200 products, so allow rounding of that size.
    torch.testing.assert_close(result, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(result, hessian @ v, rtol=1e-10, atol=1e-12)
    print(f"{name:<20} Hv: {tuple(result.shape)}  max |error| = {(result - expected).abs().max().item():.1e}")

# %%
# ``create_graph``: why double backward needs it
# ----------------------------------------------
#
# Without ``create_graph=True`` the first ``grad`` returns a gradient with no
# graph behind it, and the second call fails. The message:

x_leaf = x.clone().requires_grad_()
(g_no_graph,) = torch.autograd.grad(f(x_leaf), x_leaf)
try:
    torch.autograd.grad(g_no_graph, x_leaf, grad_outputs=v)
except RuntimeError as error:
    message = str(error)
    print("RuntimeError:", message.splitlines()[0])
assert "does not require grad" in message

# %%
# Cost as :math:`n` grows
# -----------------------
#
# Median times (:class:`torch.utils.benchmark.Timer`, after a warm-up) for one
# :math:`Hv` by each method, and for the route through the full Hessian
# (build :math:`H`, then multiply). All start from the same ``f``, ``x``
# and ``v``. Figures from the machine that built this page; the full Hessian
# is timed up to :math:`n = 1000` only, to keep the page within a few seconds.


def through_full_hessian(f, x, v):
    return torch.autograd.functional.hessian(f, x, vectorize=True) @ v


sizes = [10, 100, 1000, 3000]
full_sizes = [10, 100, 1000]
median_ms = {name: [] for name in [*methods, "full Hessian, then H @ v"]}
for size in sizes:
    A_n, x_n, v_n = make_problem(size)

    def f_n(x, A=A_n):
        return 0.5 * x @ A @ x + torch.cos(x).sum()

    timed = dict(methods)
    if size in full_sizes:
        timed["full Hessian, then H @ v"] = through_full_hessian
    for name, method in timed.items():
        method(f_n, x_n, v_n)  # warm-up
        timer = benchmark.Timer(stmt="method(f, x, v)", globals={"method": method, "f": f_n, "x": x_n, "v": v_n})
        median_ms[name].append(timer.blocked_autorange(min_run_time=0.04).median * 1e3)

print(f"n = {sizes[-1]}: median time of one Hv")
for name in methods:
    print(f"  {name:<20} {median_ms[name][-1]:8.3f} ms")
print(f"n = {full_sizes[-1]}: full Hessian then H @ v {median_ms['full Hessian, then H @ v'][-1]:8.2f} ms,"
      f" one Hv by double backward {median_ms['double backward'][sizes.index(full_sizes[-1])]:.3f} ms")

# The claim: building the Hessian costs more than any single Hv route.
at_full = sizes.index(full_sizes[-1])
assert median_ms["full Hessian, then H @ v"][-1] > max(median_ms[name][at_full] for name in methods)

fig, ax = plt.subplots(figsize=(6.6, 4.2), layout="constrained")
for name, values in median_ms.items():
    ax.loglog(sizes[: len(values)], values, "s:" if name.startswith("full") else "o-", label=name)
ax.set_xlabel("$n$")
ax.set_ylabel("median time of one $Hv$ (ms)")
ax.legend(fontsize=8)
ax.set_title("Hessian-vector products against the full Hessian")
plt.show()

# %%
# What to remember
# ----------------
#
# * :math:`Hv` is the JVP (or VJP) of the gradient: a constant number of
#   passes, never :math:`n`.
# * Double backward needs ``create_graph=True`` on the first pass;
#   :mod:`torch.func` composes ``jvp``/``vjp`` with ``grad`` instead.
# * Building the Hessian to multiply it once costs about :math:`n` products.
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_03_complex_inputs.py`.
# Reference: :func:`torch.autograd.functional.hvp`,
# :func:`torch.autograd.functional.vhp`,
# :func:`torch.autograd.functional.hessian`, :func:`torch.func.grad`,
# :func:`torch.func.jvp`.
