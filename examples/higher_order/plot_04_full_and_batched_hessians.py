r"""
Full Hessians, for one input and for a batch
============================================

:func:`torch.func.hessian`, ``jacfwd(jacrev(f))``, ``jacrev(jacrev(f))``
and :func:`torch.autograd.functional.hessian` all return the matrix of
second derivatives. This page checks each against a Hessian derived by hand,
computes one Hessian per sample of a batch with :func:`torch.func.vmap`,
counts what the four ways of nesting forward and reverse mode cost in
arithmetic (a full Hessian is :math:`n` Hessian-vector products), measures
the peak memory of the two with an inner reverse mode, says which nesting
to use and when, and shows what symmetry does and does not prove.
"""

# %%
# The maths
# ---------
#
# The test function is the log-sum-exp of a layer applied to
# :math:`\tanh x`, for :math:`x \in \mathbb{R}^n` and
# :math:`W \in \mathbb{R}^{m \times n}`:
#
# .. math::
#
#    f(x) = \log \sum_{k=1}^{m} e^{z_k}, \quad z = W t, \quad t = \tanh x.
#
# With :math:`p = \operatorname{softmax}(z)`, :math:`s = 1 - t^2` and
# :math:`q = W^\top p`, the chain rule gives the gradient and, once more,
# the Hessian :math:`H \in \mathbb{R}^{n \times n}`:
#
# .. math::
#
#    \nabla f(x) = s \odot q, \qquad
#    H = {\operatorname{diag}(-2\, t \odot s \odot q)}
#    + \operatorname{diag}(s)\, W^\top {\bigl(\operatorname{diag}(p) - p p^\top\bigr)}
#    W \operatorname{diag}(s),
#
# using :math:`\mathrm{d}s = -2t \odot s \odot \mathrm{d}x` and
# :math:`\mathrm{d}p = (\operatorname{diag}(p) - p p^\top)\, \mathrm{d}z`;
# the first term is also :math:`\operatorname{diag}(-2\, t \odot \nabla f(x))`.
# :math:`H` is the Jacobian of the gradient map
# :math:`\nabla f : \mathbb{R}^n \to \mathbb{R}^n`, so "a Hessian" is two
# Jacobians nested: an *inner* one (the gradient, a :math:`1 \times n` row)
# and an *outer* one (an :math:`n \times n` square). Each can be taken in
# forward mode (``jacfwd``: one JVP per input) or reverse mode (``jacrev``:
# one VJP per output):
#
# * inner: reverse needs **one** VJP for the whole gradient, forward needs
#   :math:`n` JVPs;
# * outer: the Jacobian is square, so both modes need :math:`n` products.
#
# For a batch :math:`X \in \mathbb{R}^{B \times n}` of independent samples
# the wanted result is :math:`B` Hessians, :math:`(B, n, n)`, not the
# Hessian of :math:`\sum_b f(X_b)`, which is :math:`(B, n, B, n)` and zero
# outside the :math:`B` diagonal blocks.

# %%
# Five ways to the same Hessian
# -----------------------------

import inspect
import json
import math
import os
import tempfile

import matplotlib.pyplot as plt
import torch
from torch.func import grad, hessian, jacfwd, jacrev, jvp, vjp, vmap
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

generator = torch.Generator().manual_seed(0)


def make_problem(n, m=32):
    W = torch.randn(m, n, generator=generator, dtype=torch.float64) / n**0.5

    def f(x):
        return torch.logsumexp(W @ torch.tanh(x), dim=0)

    def hessian_by_hand(x):
        t = torch.tanh(x)
        s = 1 - t**2
        p = torch.softmax(W @ t, dim=0)
        q = W.T @ p
        curvature = W.T @ (torch.diag(p) - torch.outer(p, p)) @ W
        # sphinx_gallery_break = ("2 * ", "")
        return torch.diag(-2 * t * s * q) + s[:, None] * curvature * s[None, :]

    return f, hessian_by_hand


n, m = 16, 32
f, hessian_by_hand = make_problem(n, m)
x = torch.randn(n, generator=generator, dtype=torch.float64)
expected = hessian_by_hand(x)

hessians = {
    "func.hessian": hessian(f)(x),
    "jacfwd(jacrev(f))": jacfwd(jacrev(f))(x),
    "jacrev(jacrev(f))": jacrev(jacrev(f))(x),
    "functional.hessian": torch.autograd.functional.hessian(f, x),
    "functional.hessian, forward outer": torch.autograd.functional.hessian(
        f, x, vectorize=True, outer_jacobian_strategy="forward-mode"
    ),
}
for name, result in hessians.items():
    print(f"{name:<34} {tuple(result.shape)}")

# %%
# The checks
# ----------
#
# Each Hessian against the hand-derived one, ``expected``.

for name, result in hessians.items():
    error = (result - expected).abs().max().item()
    print(f"{name:<34} max |H - expected| = {error:.1e}")
    # Each entry takes about 2m + n = 80 roundings (m = 32) of terms whose sizes add
    # to at most 0.21: error below ~100 eps 0.21 = 5e-15 (eps = 2.2e-16), far under
    # atol 1e-13.
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-13)

# %%
# Which nesting is which
# ----------------------
#
# :func:`torch.func.hessian` is defined as ``jacfwd(jacrev(f))``:
# forward-over-reverse. The ATen operations each one runs, as
# :class:`torch.profiler.profile` records them (its events named
# ``aten::``), are the same sequence.
# :func:`torch.autograd.functional.hessian` instead defaults to
# reverse-over-reverse, with a Python loop over the :math:`n` rows unless
# ``vectorize=True`` (which batches them into matrix-matrix products).


def aten_operations(run):
    with torch.profiler.profile() as profiled:
        run()
    return [
        event.name for event in profiled.events() if event.name.startswith("aten::")
    ]


by_hessian = aten_operations(lambda: hessian(f)(x))
by_nesting = aten_operations(lambda: jacfwd(jacrev(f))(x))
assert by_hessian == by_nesting
print(
    f"func.hessian and jacfwd(jacrev(f)): the same {len(by_hessian)} ATen operations,"
    " in the same order"
)

defaults = inspect.signature(torch.autograd.functional.hessian).parameters
assert defaults["outer_jacobian_strategy"].default == "reverse-mode"
assert defaults["vectorize"].default is False
print("functional.hessian defaults:")
print("  outer_jacobian_strategy='reverse-mode', vectorize=False")

# %%
# The loop shows in the matrix-vector products with :math:`W`, which
# ``FlopCounterMode`` counts when its ``custom_mapping`` argument gives their
# FLOPs (:math:`2mn` for an :math:`m \times n` matrix; by default it counts
# matrix-matrix products, convolutions and attention kernels, not
# matrix-vector products): 2 for the gradient, then 2 in each of the
# :math:`n` backward passes, one per row of :math:`H`.


def mv_flops(matrix_shape, vector_shape, *args, **kwargs):
    return 2 * matrix_shape[0] * matrix_shape[1]


def flop_counter():
    """A FlopCounterMode that counts matrix-vector products too."""
    return FlopCounterMode(display=False, custom_mapping={torch.ops.aten.mv: mv_flops})


matrix_vector = {}
for vectorize in (False, True):
    with flop_counter() as counter:
        torch.autograd.functional.hessian(f, x, vectorize=vectorize)
    mv_count = counter.get_flop_counts()["Global"].get(torch.ops.aten.mv, 0)
    matrix_vector[vectorize] = mv_count / (2 * m * n)
print(
    f"matrix-vector products: {matrix_vector[False]:.0f} (loop over rows),"
    f" {matrix_vector[True]:.0f} (vectorize=True)"
)
# Exact: integer FLOP counts fixed by the shapes, FLOPs / 2mn an exact quotient.
assert matrix_vector[False] == 2 + 2 * n and matrix_vector[True] == 2

# %%
# Symmetry: necessary, not sufficient
# -----------------------------------
#
# For a twice continuously differentiable :math:`f`, :math:`H = H^\top`.
# Each method's result is symmetric up to rounding. But a symmetric matrix
# is not necessarily the Hessian: dropping the
# :math:`\operatorname{diag}(-2\, t \odot \nabla f(x))` term leaves a
# symmetric, wrong answer. Symmetry is a cheap sanity check; the comparison
# with an independent Hessian is the test.

for name, result in hessians.items():
    asymmetry = (result - result.T).abs().max()
    # Each entry is within ~100 eps 0.21 = 5e-15 (as above) of the exact, symmetric H:
    # |H - H^T| <= 1e-14, under 1e-12 max |H| = 7.5e-14.
    assert asymmetry <= 1e-12 * result.abs().max(), f"{name}: not symmetric"
    print(f"{name:<34} max |H - H^T| = {asymmetry.item():.1e}")

gradient = torch.func.grad(f)(x)  # s * q, so the dropped term is diag(-2 t * gradient)
symmetric_but_wrong = expected - torch.diag(-2 * torch.tanh(x) * gradient)
wrong_asymmetry = (symmetric_but_wrong - symmetric_but_wrong.T).abs().max()
# Entries (i, j) and (j, i) are the same sums in another order: they differ by under
# ~100 eps 0.21 = 5e-15, below 1e-12 times the largest entry (7.5e-14).
assert wrong_asymmetry <= 1e-12 * symmetric_but_wrong.abs().max()
relative_error = (symmetric_but_wrong - expected).abs().max() / expected.abs().max()
print(
    f"without the diagonal term: symmetric, and off by"
    f" {100 * relative_error.item():.0f}% of the largest entry of H"
)
assert relative_error > 0.1

# %%
# What each nesting costs
# -----------------------
#
# A full Hessian is :math:`n` Hessian-vector products, one per column
# :math:`He_j`; how to compute one product without the matrix is the subject
# of :ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`.
# The deterministic measure here is the arithmetic in matrix products, in
# units of one product with :math:`W` (:math:`2mn` FLOPs): the FLOPs
# ``FlopCounterMode`` counts, matrix-vector products included as above.
# :math:`W` is :math:`f`'s only matrix, so every product is one with
# :math:`W`, or with its tangent: forward mode carries a zero tangent for
# :math:`W` although it is a constant, and multiplies it out (as on the
# Hessian-vector product page). Those products are counted apart, from the
# profiler's events: torch hands the zero tangent to ``mm``, ``mv`` and
# ``bmm``, which have no kernel for a ``ZeroTensor``, as one stored zero
# expanded to a matrix, so the profiler records an ``aten::zeros`` and an
# ``aten::expand`` inside the product's event, whose operand shapes
# (``record_shapes=True``) give its FLOPs. Counted, at every :math:`n`
# below:
#
# * one :math:`Hv` by reverse-over-reverse (``vjp`` of ``grad``): 4
#   products, 2 for the forward pass and the gradient (what ``grad(f)``
#   alone runs) and 2 for the direction; by forward-over-reverse (``jvp``
#   of ``grad``): the same 4, and 2 with the zero tangent;
# * ``jacrev(jacrev(f))`` and ``jacfwd(jacrev(f))``: :math:`2 + 2n`, that is
#   :math:`n` products :math:`Hv` sharing one forward pass and gradient, 2
#   per direction; ``jacfwd(jacrev(f))`` adds the same 2 with the zero
#   tangent as one :math:`Hv`: once per point, not once per direction;
# * ``jacrev(jacfwd(f))`` and ``jacfwd(jacfwd(f))``: :math:`(n + 1)^2`, an
#   inner forward mode pushing :math:`n` tangents through :math:`W` for
#   each of the :math:`n` outer directions, :math:`(n + 1)/2` times the
#   inner-reverse count; and with the zero tangent a count that grows with
#   :math:`n` (:math:`n + 1` and :math:`2n + 3` in the table below).

sizes = [4, 8, 16, 32, 64]
nestings = {
    "jacfwd(jacrev(f))": lambda f: jacfwd(jacrev(f)),
    "jacrev(jacrev(f))": lambda f: jacrev(jacrev(f)),
    "jacrev(jacfwd(f))": lambda f: jacrev(jacfwd(f)),
    "jacfwd(jacfwd(f))": lambda f: jacfwd(jacfwd(f)),
}
gradient_and_hv = {
    "grad(f) alone": lambda f, x, v: grad(f)(x),
    "one Hv: vjp of grad": lambda f, x, v: vjp(grad(f), x)[1](v)[0],
    "one Hv: jvp of grad": lambda f, x, v: jvp(grad(f), (x,), (v,))[1],
}


def with_zero_tangent(event):
    """A matrix product whose operand is a zero tangent: a stored zero expanded."""
    inside = {child.name for child in event.cpu_children}
    matrix_product = event.name in ("aten::mm", "aten::mv", "aten::bmm")
    return matrix_product and {"aten::zeros", "aten::expand"} <= inside


def count_products(run, n, m=32):
    """run()'s result, and its products with W and with W's zero tangent, in units
    of 2mn FLOPs."""
    with flop_counter() as counter, torch.profiler.profile(record_shapes=True) as prof:
        result = run()
    zero_tangent_flops = 0
    for event in filter(with_zero_tangent, prof.events()):
        left, right = event.input_shapes[:2]
        zero_tangent_flops += 2 * math.prod(left) * (right[-1] if len(right) > 1 else 1)
    with_W = counter.get_total_flops() - zero_tangent_flops
    unit = 2 * m * n
    return result, (with_W / unit, zero_tangent_flops / unit)


counts = {name: [] for name in [*gradient_and_hv, *nestings]}
for size in sizes:
    f_n, hessian_by_hand_n = make_problem(size)
    x_n = torch.randn(size, generator=generator, dtype=torch.float64)
    v_n = torch.ones(size, dtype=torch.float64)  # any direction: counts follow shapes
    for name, method in gradient_and_hv.items():
        result, count = count_products(lambda: method(f_n, x_n, v_n), size)
        counts[name].append(count)
        if name.startswith("one Hv"):
            # assert_close's float64 defaults
            torch.testing.assert_close(result, hessian_by_hand_n(x_n) @ v_n)
    for name, nest in nestings.items():
        result, count = count_products(lambda: nest(f_n)(x_n), size)
        counts[name].append(count)
        # As at n = 16: at most 2m + n = 128 roundings of terms whose sizes add to at
        # most 0.46 per entry: error below ~150 eps 0.46 = 1.5e-14, under atol 1e-13.
        torch.testing.assert_close(
            result, hessian_by_hand_n(x_n), rtol=1e-12, atol=1e-13
        )

print("products with W (+ with its zero tangent)")
print(f"{'':<22}" + "".join(f"{f'n = {size}':>12}" for size in sizes))
for name, values in counts.items():
    cells = (f"{w:.0f}" + (f" (+{z:.0f})" if z else "") for w, z in values)
    print(f"{name:<22}" + "".join(f"{cell:>12}" for cell in cells))
products = {  # name: products with W at size n, from the maths above
    "grad(f) alone": lambda n: 2,
    "one Hv: vjp of grad": lambda n: 4,
    "one Hv: jvp of grad": lambda n: 4,
    "jacfwd(jacrev(f))": lambda n: 2 + 2 * n,
    "jacrev(jacrev(f))": lambda n: 2 + 2 * n,
    "jacrev(jacfwd(f))": lambda n: (n + 1) ** 2,
    "jacfwd(jacfwd(f))": lambda n: (n + 1) ** 2,
}
expected_counts = {name: [count(n) for n in sizes] for name, count in products.items()}
with_W = {name: [w for w, _ in values] for name, values in counts.items()}
zero = {name: [z for _, z in values] for name, values in counts.items()}
# Exact: FLOP counts are integers fixed by the shapes, and FLOPs / 2mn an exact
# quotient.
assert with_W == expected_counts, with_W
# So a Hessian is n products Hv sharing one gradient.
for i, size in enumerate(sizes):
    gradient = with_W["grad(f) alone"][i]
    per_direction = with_W["one Hv: vjp of grad"][i] - gradient
    assert with_W["jacrev(jacrev(f))"][i] == gradient + size * per_direction
# How many products with the zero tangent forward mode runs is torch's choice, not the
# maths': compared, not pinned. None without forward mode; for an inner reverse mode
# the same as one Hv at every n (once per point); for an inner forward one, growing
# with n.
for name in ("grad(f) alone", "one Hv: vjp of grad", "jacrev(jacrev(f))"):
    assert not any(zero[name]), (name, zero[name])
assert all(zero["one Hv: jvp of grad"]), zero
assert zero["jacfwd(jacrev(f))"] == zero["one Hv: jvp of grad"], zero
for name in ("jacrev(jacfwd(f))", "jacfwd(jacfwd(f))"):
    assert all(a < b for a, b in zip(zero[name], zero[name][1:])), (name, zero[name])

# %%
# Which outer mode?
# -----------------
#
# The inner mode is settled by the count: reverse mode gets the whole
# gradient from one VJP, and an inner forward mode gives the same Hessian
# with :math:`(n + 1)/2` times the products with :math:`W`. For the outer
# mode the count is a tie per direction, two products with :math:`W` either
# way. What forward-over-reverse adds is fixed per point, the two products
# with :math:`W`'s zero tangent, and memory: torch writes that zero tangent
# out as an :math:`m \times n` matrix for each product with it, and it
# carries tangents beside the inner computation's values. The peak of
# tensor memory, measured at the end of this page, is higher than
# reverse-over-reverse's in every case measured there: for one :math:`Hv`
# by less than one written-out zero tangent, for one Hessian at
# :math:`n = 64` by more than its two together. By these measures
# ``jacrev(jacrev(f))`` is never the worse choice here.
# :func:`torch.func.hessian` uses forward-over-reverse all the same: its
# docstring calls it "a good default for good performance", and names
# ``jacrev(jacrev(func))`` as the alternative with "better operator
# coverage" (`torch/_functorch/eager_transforms.py
# <https://github.com/pytorch/pytorch/blob/v2.13.0/torch/_functorch/eager_transforms.py>`__;
# the next cell reads both in the docstring).
# JAX's `Autodiff Cookbook
# <https://docs.jax.dev/en/latest/notebooks/autodiff_cookbook.html>`__
# defines its own ``hessian`` as ``jacfwd(jacrev(f))`` and calls
# forward-over-reverse "typically the most efficient", the outer Jacobian
# being square, "which is where forward-mode wins out"; for one
# Hessian-vector product it says that forward-over-reverse can "save some
# memory" over reverse-over-reverse. That is said of JAX: in torch, for this
# function, the memory peak measured at the end of this page goes the other
# way, one :math:`Hv` included (by less than one written-out zero tangent
# of :math:`W` there). What is left is time, which depends on the function,
# the machine and the implementation. Below are two timings (medians after a
# warm-up, with :class:`torch.utils.benchmark.Timer`, in one thread, from
# the machine that built this page), for one Hessian at :math:`n = 64` and
# for a batch of 64 Hessians at :math:`n = 16`: one measurement each, which
# could come out the other way on another run or another machine, and
# decides nothing. Neither outer mode is asserted to win.
#
# :ref:`The page on one product <sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py>`
# gives the same advice for one :math:`Hv`, and the counts above show why
# the two agree: the two zero-tangent products are a third of
# forward-over-reverse's six for one :math:`Hv`, and the same two beside
# :math:`2 + 2n` for a full Hessian, so that difference matters for one
# product and fades over :math:`n`; the higher memory peak holds in every
# case measured below, one :math:`Hv` included (there, by less than one
# written-out zero tangent).


# torch.func.hessian's docstring, which the text above quotes
hessian_doc = " ".join(hessian.__doc__.split())
assert "is a good default for good performance" in hessian_doc, hessian_doc
assert "``jacrev(jacrev(func))``, which has better operator coverage" in hessian_doc


def median_ms(fn, *args):
    fn(*args)  # warm-up
    timer = benchmark.Timer(
        stmt="fn(*args)", globals={"fn": fn, "args": args}, num_threads=1
    )  # one thread, Timer's default, passed to say so
    return timer.blocked_autorange(min_run_time=0.1).median * 1e3


def forward_over_reverse_is(times):
    """How much faster or slower forward-over-reverse ran than reverse-over-reverse."""
    ratio = times["jacrev(jacrev(f))"] / times["jacfwd(jacrev(f))"]
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


f_64, _ = make_problem(64)
x_64 = torch.randn(64, generator=generator, dtype=torch.float64)
times = {
    name: median_ms(nestings[name](f_64), x_64)
    for name in ("jacfwd(jacrev(f))", "jacrev(jacrev(f))")
}
print(
    f"n = 64: jacfwd(jacrev) {times['jacfwd(jacrev(f))']:.2f} ms,"
    f" jacrev(jacrev) {times['jacrev(jacrev(f))']:.2f} ms"
)
print(f"  -> forward-over-reverse {forward_over_reverse_is(times)}")

# %%
# .. _batch-of-hessians:
#
# A batch of Hessians with ``vmap``
# ---------------------------------
#
# ``vmap(hessian(f))`` maps over the first dimension of a batch
# :math:`X \in \mathbb{R}^{B \times n}`: :math:`B` Hessians, each checked
# against the hand formula. The tempting alternative, the Hessian of the
# summed batch, computes a :math:`(B, n, B, n)` tensor whose off-diagonal
# blocks are zero (the samples do not interact): each of its :math:`Bn`
# directions runs its two products with :math:`W` over the whole batch.
# Counted as above, :math:`B(2 + 2n)` products with :math:`W` against
# :math:`2B + 2B^2 n`, :math:`(1 + Bn)/(n + 1)` times as many, nearly
# :math:`B` (both add :math:`2B` with the zero tangent, two per point).

B = 64
X = torch.randn(B, n, generator=generator, dtype=torch.float64)
per_sample, per_sample_count = count_products(lambda: vmap(hessian(f))(X), n)
# As above, with terms whose sizes add to at most 0.36 here: error below 1e-14,
# under atol 1e-13.
torch.testing.assert_close(per_sample, vmap(hessian_by_hand)(X), rtol=1e-12, atol=1e-13)
print(f"vmap(hessian(f))(X): {tuple(per_sample.shape)}")


def f_of_the_sum(X):
    return vmap(f)(X).sum()


of_the_sum, summed_count = count_products(lambda: hessian(f_of_the_sum)(X), n)
# of_the_sum is (B, n, B, n); its diagonal blocks, (B, n, n), are d2 f / dX_b dX_b
blocks = of_the_sum.diagonal(dim1=0, dim2=2).permute(2, 0, 1)
# Both within 1e-14 of the exact Hessians (as above), so within 2e-14 of each other:
# under atol 1e-13.
torch.testing.assert_close(blocks, per_sample, rtol=1e-12, atol=1e-13)
off_diagonal = of_the_sum.clone()
off_diagonal[torch.arange(B), :, torch.arange(B), :] = 0
# Exact: these entries are products with exact zeros (no inf or NaN here) and sums
# of such zeros.
assert off_diagonal.abs().max() == 0, "samples should not interact"
product_ratio = summed_count[0] / per_sample_count[0]
print(
    f"Hessian of the sum: {tuple(of_the_sum.shape)}, {of_the_sum.numel():,} entries"
    f" against {per_sample.numel():,};"
)
print(f"  {product_ratio:.1f}x the products with W")
# Exact: integer FLOP counts over 2mn.
zero_per_point = zero["jacfwd(jacrev(f))"][sizes.index(n)]
assert per_sample_count == (B * (2 + 2 * n), B * zero_per_point)
assert summed_count == (2 * B + 2 * B**2 * n, B * zero_per_point)

batch_times = {
    name: median_ms(vmap(nestings[name](f)), X)
    for name in ("jacfwd(jacrev(f))", "jacrev(jacrev(f))")
}
print(
    f"batch of {B} at n = {n}:"
    f" vmap(jacfwd(jacrev)) {batch_times['jacfwd(jacrev(f))']:.2f} ms,"
    f" vmap(jacrev(jacrev)) {batch_times['jacrev(jacrev(f))']:.2f} ms"
)
print(f"  -> forward-over-reverse {forward_over_reverse_is(batch_times)}")

# %%
# And memory?
# -----------
#
# :class:`torch.profiler.profile` with ``profile_memory=True`` records every
# allocation and release of tensor memory by torch's CPU allocator while it
# profiles, with a running total of the bytes allocated since profiling
# began (memory allocated before is not in it); its trace
# (``export_chrome_trace``) lists them as ``[memory]`` events. The largest
# total, less the total before the first event, is the peak of memory
# allocated inside the block, scratch space included where kernels take it
# from torch's allocator (buffers a library such as a BLAS keeps for itself
# are not seen): the same on two runs in a row here (checked). The
# allocations of exactly :math:`8mn` bytes, an :math:`m \times n` matrix in
# float64, are counted too. (What reverse mode keeps is the subject of
# :ref:`sphx_glr_auto_examples_under_the_hood_plot_02_memory_what_reverse_mode_keeps.py`.)
# Forward-over-reverse against reverse-over-reverse, for one :math:`Hv`
# (``jvp`` or ``vjp`` of ``grad``), one Hessian, and the batch of Hessians
# above:


def peak_kib(run, matrix_bytes):
    """The peak of the memory run() allocates, in KiB, and how many allocations
    of matrix_bytes it makes."""
    with torch.profiler.profile(profile_memory=True) as profiled:
        run()
    with tempfile.TemporaryDirectory() as folder:
        trace = os.path.join(folder, "trace.json")
        profiled.export_chrome_trace(trace)
        with open(trace) as file:
            events = json.load(file)["traceEvents"]
    memory = [event["args"] for event in events if event["name"] == "[memory]"]
    before = memory[0]["Total Allocated"] - memory[0]["Bytes"]
    peak = (max(event["Total Allocated"] for event in memory) - before) / 1024
    return peak, sum(event["Bytes"] == matrix_bytes for event in memory)


v = torch.randn(n, generator=generator, dtype=torch.float64)
cases = {  # name: (forward-over-reverse, reverse-over-reverse)
    f"one Hv, n = {n}": (
        lambda: jvp(grad(f), (x,), (v,)),
        lambda: vjp(grad(f), x)[1](v),
    ),
    f"one Hessian, n = {n}": (
        lambda: jacfwd(jacrev(f))(x),
        lambda: jacrev(jacrev(f))(x),
    ),
    "one Hessian, n = 64": (
        lambda: jacfwd(jacrev(f_64))(x_64),
        lambda: jacrev(jacrev(f_64))(x_64),
    ),
    f"{B} Hessians, n = {n}": (
        lambda: vmap(jacfwd(jacrev(f)))(X),
        lambda: vmap(jacrev(jacrev(f)))(X),
    ),
}
print(f"{'peak KiB':<24}{'fwd over rev':>13}{'rev over rev':>13}{'ratio':>7}")
peaks, matrices = {}, {}
for name, runs in cases.items():
    size = 64 if "n = 64" in name else n
    measured = [peak_kib(run, 8 * m * size) for run in runs]
    # a second run of each allocates the same: byte counts are integers
    assert [peak_kib(run, 8 * m * size) for run in runs] == measured, name
    peaks[name] = tuple(peak for peak, _ in measured)
    matrices[name] = tuple(count for _, count in measured)
    forward, reverse = peaks[name]
    print(f"{name:<24}{forward:>13.1f}{reverse:>13.1f}{forward / reverse:>7.2f}")
# Byte counts, exact. Which tensors the operations allocate, and what scratch space
# their kernels take, depends on the torch release and can depend on the machine: only
# the order is asserted.
higher = all(forward > reverse for forward, reverse in peaks.values())
assert higher, "forward-over-reverse should peak higher here"
one_hv = f"one Hv, n = {n}"
print(
    f"{one_hv}: allocations of 8mn = {8 * m * n} bytes, {matrices[one_hv][0]}"
    f" (fwd over rev), {matrices[one_hv][1]} (rev over rev)"
)
# For one Hv, reverse-over-reverse makes no m x n matrix; forward-over-reverse makes
# one per product with W's zero tangent (2, counted above), and its peak exceeds
# reverse-over-reverse's by less than one of them. For one Hessian at n = 64, by
# more than two of them.
assert matrices[one_hv] == (zero["one Hv: jvp of grad"][sizes.index(n)], 0), matrices
excess_kib = {name: forward - reverse for name, (forward, reverse) in peaks.items()}
assert excess_kib[one_hv] < 8 * m * n / 1024, excess_kib
assert excess_kib["one Hessian, n = 64"] > 2 * 8 * m * 64 / 1024, excess_kib

# %%
# For this function, forward-over-reverse peaks higher in every case, one
# :math:`Hv` included. For one :math:`Hv` the difference is less than one
# :math:`m \times n` matrix, and forward-over-reverse allocates one such
# matrix for each of its two products with :math:`W`'s zero tangent,
# reverse-over-reverse none: one written-out zero is more than the whole
# difference. For one Hessian at :math:`n = 64` the difference is more than
# two such matrices, the zero tangent written out for both products
# together: more than the written-out zero adds to it, such as the tangents
# carried beside the inner computation's values. By how much
# (the ratio column) depends on which tensors the installed torch allocates
# and keeps, and differs between releases: the page asserts only these
# comparisons. Measure memory for your own function, as above.
#
# The picture
# -----------
#
# Left: :math:`H` at one point (:math:`n = 16`), symmetric about its
# diagonal. Right: the counted FLOPs of matrix products (with :math:`W` and
# with its zero tangent) against :math:`n`, at fixed :math:`m = 32`; the
# two inner-reverse nestings overlap and grow as :math:`n^2`, the two
# inner-forward ones as :math:`n^3` (products with :math:`W`:
# :math:`2mn(2 + 2n)` against :math:`2mn(n + 1)^2` FLOPs).

fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6), layout="constrained")
limit = expected.abs().max().item()
image = axes[0].imshow(expected.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
fig.colorbar(image, ax=axes[0], shrink=0.8)
axes[0].set_title(f"H at one point (n = {n})", fontsize=10)
axes[0].set_xticks(range(0, n, 4))
axes[0].set_yticks(range(0, n, 4))
axes[0].set_xlabel("$j$")
axes[0].set_ylabel("$i$")
styles = {
    "jacfwd(jacrev(f))": "o-",
    "jacrev(jacrev(f))": "x--",
    "jacrev(jacfwd(f))": "s-",
    "jacfwd(jacfwd(f))": "+--",
}
for name in nestings:
    flops = [2 * 32 * size * sum(count) for size, count in zip(sizes, counts[name])]
    axes[1].loglog(sizes, flops, styles[name], label=name)
axes[1].set_xticks(sizes, labels=[str(size) for size in sizes])
axes[1].tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
axes[1].set_xlabel("$n$ (at $m = 32$)")
axes[1].set_ylabel("matrix-product FLOPs (counted)")
axes[1].set_title("inner reverse: $n^2$; inner forward: $n^3$", fontsize=10)
axes[1].legend(fontsize=9)
plt.show()

# %%
# What to remember
# ----------------
#
# * A full Hessian is :math:`n` Hessian-vector products sharing one
#   gradient: :math:`2 + 2n` products with :math:`W`, against 4 for one
#   :math:`Hv`. The inner transform should be reverse mode: a forward
#   inner one gives the same Hessian with :math:`(n + 1)/2` times as many,
#   :math:`2mn(n + 1)^2` FLOPs against :math:`2mn(2 + 2n)`, growing as
#   :math:`n^3` rather than :math:`n^2` at fixed :math:`m` (32 here).
# * The outer mode ties per direction. Forward-over-reverse
#   (:func:`torch.func.hessian`) adds two zero-tangent products per point
#   and, here, a higher memory peak, so ``jacrev(jacrev(f))`` is never
#   worse by these measures; ``hessian``'s default, "good performance" in
#   its docstring, is for a timing on your own function to confirm. One
#   :math:`Hv` gets the same advice
#   (:ref:`sphx_glr_auto_examples_higher_order_plot_02_hessian_vector_products.py`).
# * ``vmap(hessian(f))`` gives one Hessian per sample; the Hessian of a
#   summed batch is :math:`B` times larger and mostly zeros.
# * Symmetry is necessary, not sufficient: compare with an independent
#   Hessian (by hand, or finite differences of the gradient).
#
# Next: :ref:`sphx_glr_auto_examples_higher_order_plot_05_laplacian_for_physics_informed_models.py`.
# Reference: :func:`torch.func.hessian`, :func:`torch.func.jacfwd`,
# :func:`torch.func.jacrev`, :func:`torch.func.vmap`, :func:`torch.func.grad`,
# :func:`torch.autograd.functional.hessian`,
# ``torch.utils.flop_counter.FlopCounterMode``,
# :class:`torch.utils.benchmark.Timer`, :class:`torch.profiler.profile`.
