r"""
When v = 1 does not give the derivative
=======================================

:math:`v = \mathbf{1}` turns a VJP into "the derivative at every point" for
functions whose Jacobian is diagonal (or block-diagonal across a batch, with
one output per sample). For a softmax, a cumulative sum, a normalisation,
several outputs per sample or a batch statistic, the same call returns
something else, without any error: here is what it returns, why, and how to
get the derivative you wanted.
"""

# %%
# The maths
# ---------
#
# For :math:`f : \mathbb{R}^N \to \mathbb{R}^N` with Jacobian
# :math:`J \in \mathbb{R}^{N \times N}`,
#
# .. math::
#
#    (\mathbf{1}^\top J)_j = \sum_{i=1}^{N} J_{ij}
#    = \frac{\partial}{\partial x_j} \sum_{i=1}^{N} f_i(x),
#
# the **column sums** of :math:`J`: the gradient of the sum of the outputs.
# Entry :math:`j` equals the diagonal entry :math:`J_{jj}` (what "the
# derivative at each point" means) exactly when the off-diagonal entries of
# column :math:`j` add up to zero:
#
# .. math::
#
#    (\mathbf{1}^\top J)_j = J_{jj} \iff \sum_{i \neq j} J_{ij} = 0.
#
# The structure of :math:`J` decides whether that holds at every :math:`x`:
#
# * **diagonal** (elementwise :math:`f_i = g(x_i)`):
#   :math:`J = \operatorname{diag}(g'(x))`,
#   every off-diagonal entry is zero, so :math:`\mathbf{1}^\top J = g'(x)`;
# * **block-diagonal** (a batch of independent samples): the column sums stay
#   inside each sample's block, so one VJP gives, for each sample, the
#   gradient of the sum of that sample's outputs: its gradient when it has
#   one output;
# * **dense** (outputs that mix inputs): the column sums add up
#   contributions of all outputs, and equal the diagonal only if the
#   off-diagonal entries happen to cancel (an example is below).
#
# Three examples with off-diagonal entries (softmax's and the
# normalisation's :math:`J` are dense, cumsum's lower-triangular), each with a
# column sum worth knowing:
#
# .. math::
#
#    \begin{aligned}
#    \text{softmax:}\quad & J = \operatorname{diag}(s) - s s^\top,
#      && \mathbf{1}^\top J = s^\top - (\mathbf{1}^\top s)\, s^\top = 0; \\
#    \text{cumsum:}\quad & J_{ij} = [\,j \le i\,],
#      && (\mathbf{1}^\top J)_j = N - j + 1; \\
#    \text{normalisation:}\quad & y = \frac{x - \bar{x}}{\sigma(x)},
#      && \textstyle\sum_i y_i = 0 \text{ for every } x,
#      \text{ so } \mathbf{1}^\top J = 0.
#    \end{aligned}
#
# Softmax and this normalisation give zero because their outputs sum to a
# constant (1 and 0) at every :math:`x`: :math:`\mathbf{1}^\top J` is the
# gradient of that constant. A plot of "the derivative" from
# :math:`v = \mathbf{1}` would be a flat line, and nothing would warn you.
# Normalisations whose outputs do not sum to a constant give other column
# sums: for scaling by the norm and a layer norm with a weight per entry,
# every entry at this :math:`x` is neither zero nor the diagonal entry; for
# min-max scaling, only the entries of the minimum and the maximum are wrong
# (checked below). At special points the column sums can still vanish, as for
# :math:`x / \lVert x \rVert` at :math:`x \propto \mathbf{1}`, where
# :math:`\sum_i y_i` is at its maximum or minimum.

# %%
# Four functions, their full Jacobians, and :math:`v = \mathbf{1}`
# --------------------------------------------------------------------
#
# On :math:`N = 8` points the full Jacobian is small enough to compute with
# :func:`torch.autograd.functional.jacobian` and compare.

import matplotlib.pyplot as plt
import torch
from torch.autograd.functional import jacobian, vjp

N = 8
generator = torch.Generator().manual_seed(0)
x = torch.randn(N, generator=generator, dtype=torch.float64)

functions = {
    "tanh (diagonal)": torch.tanh,
    "softmax (dense)": lambda x: torch.softmax(x, dim=0),
    "cumsum (triangular)": lambda x: torch.cumsum(x, dim=0),
    "normalisation (dense)": lambda x: (x - x.mean()) / x.std(),
}

ones_vjp, full_jacobian = {}, {}
for name, f in functions.items():
    full_jacobian[name] = jacobian(f, x)  # (N, N)
    _, ones_vjp[name] = vjp(f, x, v=torch.ones(N, dtype=torch.float64))
    diagonal = full_jacobian[name].diagonal()
    gap = (ones_vjp[name] - diagonal).abs().max().item()
    print(f"{name:<22} max |1^T J - diag(J)| = {gap:.2e}")

# %%
# The checks
# ----------
#
# In every case the VJP with :math:`v = \mathbf{1}` is the column sum of the
# Jacobian; only for the diagonal one is it the derivative. The predicted
# column sums hold to rounding, and exactly for cumsum, whose column sums are
# integers. (float64 throughout: agreement to rounding, so tolerances of
# 1e-12; the zeros are sums of terms of size 1, so 1e-14.)

# The column sums worked out by hand in the maths above.
expected = {
    # sphinx_gallery_break = (" 2", " 3")
    "tanh (diagonal)": 1 - torch.tanh(x) ** 2,
    "softmax (dense)": torch.zeros(N, dtype=torch.float64),
    "cumsum (triangular)": torch.arange(N, 0, -1, dtype=torch.float64),
    "normalisation (dense)": torch.zeros(N, dtype=torch.float64),
}
for name in functions:
    gap = (ones_vjp[name] - expected[name]).abs().max().item()
    print(f"{name:<22} max |1^T J - expected| = {gap:.1e}")

for name in functions:
    # Column sums of 8 entries at most 1 in magnitude, each from ~20 float64 operations
    # on terms below 2: within 8 x 20 x 2.2e-16 x 2 = 7e-14 on any machine, << 1e-12.
    torch.testing.assert_close(
        ones_vjp[name], full_jacobian[name].sum(dim=0), rtol=1e-12, atol=1e-12
    )

# The same tanh(x) on both sides, then 1 - t t: correctly rounded operations, a few eps
# apart.
torch.testing.assert_close(
    ones_vjp["tanh (diagonal)"], expected["tanh (diagonal)"], rtol=1e-12, atol=1e-12
)
# s_i (1 - sum s): softmax's own sum and the backward's sum, of 8 terms adding up to 1,
# round ~8 times each, so |1 - sum s| < 16 x 1.1e-16 = 2e-15 and the zeros are below
# 2e-15 < 1e-14.
torch.testing.assert_close(
    ones_vjp["softmax (dense)"], expected["softmax (dense)"], rtol=0, atol=1e-14
)
# Sums of ones: integers, exact in float64 on any machine.
torch.testing.assert_close(
    ones_vjp["cumsum (triangular)"], expected["cumsum (triangular)"], rtol=0, atol=0
)
# 1/sigma minus the mean of 8 copies of it (< 1e-15), plus the rounding of
# sum(x - mean)/sigma^2 (< 1e-14, |x| < 2.2) times |x - mean| / (7 sigma) < 0.23: the
# zeros are below 3.3e-15 < 1e-14.
torch.testing.assert_close(
    ones_vjp["normalisation (dense)"],
    expected["normalisation (dense)"],
    rtol=0,
    atol=1e-14,
)

s = torch.softmax(x, dim=0)
expected_softmax_jacobian = torch.diag(s) - torch.outer(s, s)
# Both sides are s_i s_j or s_i (1 - s_i) from the same s (the sum in softmax's backward
# has one non-zero term, so it is exact): a couple of roundings each, a few eps of
# entries below 1/4.
torch.testing.assert_close(
    full_jacobian["softmax (dense)"], expected_softmax_jacobian, rtol=1e-12, atol=1e-12
)
print("softmax  1^T J:", ones_vjp["softmax (dense)"])
print("cumsum   1^T J:", ones_vjp["cumsum (triangular)"])

# %%
# .. _ones-normalisations:
#
# Normalisations whose outputs do not sum to a constant
# -----------------------------------------------------
#
# The zero comes from the constant sum, not from normalising: scaling by the
# norm, min-max scaling and a layer norm with a weight per entry (here
# ``scale``) all normalise, but their outputs' sum changes with :math:`x`,
# and no entry of their :math:`\mathbf{1}^\top J` is zero. For scaling by the
# norm and the layer norm, no entry is the diagonal entry either. Min-max
# scaling :math:`(x_j - \min x) / (\max x - \min x)` is different: column
# :math:`j` holds the single entry :math:`J_{jj} = 1/(\max x - \min x)`,
# except the columns of the minimum and the maximum, which move the
# :math:`N - 2` other outputs. So :math:`v = \mathbf{1}` is right at
# :math:`N - 2` of the :math:`N` points and wrong at those two.

scale, shift = (
    torch.linspace(0.5, 2.0, N, dtype=torch.float64),
    torch.zeros(N, dtype=torch.float64),
)
other_normalisations = {
    "x / |x|": lambda x: x / x.norm(),
    "min-max": lambda x: (x - x.min()) / (x.max() - x.min()),
    "layer_norm with weight": lambda x: torch.nn.functional.layer_norm(
        x, (N,), weight=scale, bias=shift
    ),
}
gaps, jacobians = {}, {}
for name, f in other_normalisations.items():
    _, column_sums = vjp(f, x, v=torch.ones(N, dtype=torch.float64))
    jacobians[name] = jacobian(f, x)
    gaps[name] = column_sums - jacobians[name].diagonal()
    print(
        f"{name:<22} min |1^T J| = {column_sums.abs().min().item():.2f}, "
        f"min |1^T J - diag(J)| = {gaps[name].abs().min().item():.3f}"
    )
    assert column_sums.abs().min() > 0.05, f"{name}: 1^T J should have no zero entry"
for name in ("x / |x|", "layer_norm with weight"):
    assert gaps[name].abs().min() > 1e-3, f"{name}: no entry should be diag(J)"

ends = [x.argmin().item(), x.argmax().item()]
others = [j for j in range(N) if j not in ends]
wrong = gaps["min-max"].nonzero().flatten().tolist()
print(f"min-max: 1^T J differs from diag(J) at entries {wrong}; argmin, argmax: {ends}")
J_min_max = jacobians["min-max"]
# Column j (not an end) is reached only by output j's own term: its zeros are exact.
assert ((J_min_max[:, others] != 0).sum(dim=0) == 1).all()
assert (J_min_max.diagonal()[others] != 0).all()
assert (J_min_max[others][:, ends].abs() > 0.01).all(), "the ends move the others"
# Elsewhere 1^T J and J_jj are both 1 / (max - min), from the same correctly rounded
# division, plus exact zeros from min's and max's backward: equal on any machine.
assert sorted(wrong) == sorted(ends), wrong
assert gaps["min-max"][wrong].abs().min() > 0.1, "wrong by more than rounding"

# At x proportional to 1, sum_i x_i / |x| is at its maximum or minimum (Cauchy-Schwarz):
# its gradient, the column sums of x / |x|'s Jacobian, is zero there (checked at x = 1
# and x = -1).
all_ones = torch.ones(N, dtype=torch.float64)
_, at_ones = vjp(other_normalisations["x / |x|"], all_ones, v=all_ones)
_, at_minus_ones = vjp(other_normalisations["x / |x|"], -all_ones, v=all_ones)
print(f"x / |x| at x = 1: max |1^T J| = {at_ones.abs().max().item():.1e}")
print(f"x / |x| at x = -1: max |1^T J| = {at_minus_ones.abs().max().item():.1e}")
# 1/|x| - x_j (sum_i x_i) / |x|^3 at x = +-1: two terms of 1/sqrt(8) = 0.35, each from a
# few operations and sums of 8 terms of at most 8 (within ~20 eps relative on any
# machine), so the zeros are below 20 x 2.2e-16 x 0.35 x 2 = 3e-15 < 1e-14.
torch.testing.assert_close(
    at_ones, torch.zeros(N, dtype=torch.float64), rtol=0, atol=1e-14
)
torch.testing.assert_close(
    at_minus_ones, torch.zeros(N, dtype=torch.float64), rtol=0, atol=1e-14
)

# %%
# A dense Jacobian whose columns cancel
# -------------------------------------
#
# The condition is about the numbers in :math:`J`, not its structure: the
# dense linear map :math:`f(x) = Ax` below has :math:`J = A`, and in every
# column of :math:`A` the off-diagonal entries cancel. So
# :math:`\mathbf{1}^\top J` is its diagonal, although no entry is zero.

A = torch.tensor(
    [[1.0, 1.0, -1.0], [1.0, 2.0, 1.0], [-1.0, -1.0, 3.0]], dtype=torch.float64
)
_, ones_vjp_linear = vjp(
    lambda z: A @ z,
    torch.zeros(3, dtype=torch.float64),
    v=torch.ones(3, dtype=torch.float64),
)
print("dense A:  1^T J   =", ones_vjp_linear)
print("          diag(J) =", A.diagonal())
# A's entries are non-zero literals: an exact count.
assert torch.count_nonzero(A) == A.numel(), "A is dense"
# Small integers, exact in float64.
torch.testing.assert_close(ones_vjp_linear, A.diagonal(), rtol=0, atol=0)

# %%
# .. _diagonal-of-a-dense-jacobian:
#
# Getting the diagonal of a dense Jacobian
# ----------------------------------------
#
# A :math:`v` whose VJP is the diagonal would solve
#
# .. math::
#
#    J^\top v = \operatorname{diag}(J),
#
# a linear system whose matrix is :math:`J^\top` (the same as :math:`J` only
# when :math:`J` is symmetric, as softmax's :math:`\operatorname{diag}(s) - s s^\top`
# is). For softmax it has no solution:
# :math:`J \mathbf{1} = s - s\,(\mathbf{1}^\top s) = 0`, so every
# VJP :math:`v^\top J` sums to zero, while the diagonal
# :math:`s_i (1 - s_i)` sums to :math:`1 - \sum_i s_i^2 > 0`.

softmax = functions["softmax (dense)"]
_, softmax_vjp = vjp(
    softmax, x, v=torch.randn(N, generator=generator, dtype=torch.float64)
)
print(
    f"softmax: a VJP sums to {softmax_vjp.sum().item():.1e}; diag(J) sums to "
    f"{(s * (1 - s)).sum().item():.3f}"
)
# Zero up to rounding: that of c = sum v s (< 1e-15, |v| < 1.2), |1 - sum s| < 2e-15
# (above) times |c| < 0.5, and 8 terms adding up to 0.45: below 3e-15 on any
# machine, < 1e-14.
torch.testing.assert_close(
    softmax_vjp.sum(), torch.zeros((), dtype=torch.float64), rtol=0, atol=1e-14
)
assert (s * (1 - s)).sum() > 0.1, (
    "the diagonal of softmax's Jacobian does not sum to zero"
)

# %%
# For an invertible :math:`J`, such as that of :math:`\tanh(Wx)` with a
# random :math:`W`, there is exactly one solution,
# :math:`v = J^{-\top} \operatorname{diag}(J)`. But computing it took
# :math:`J` (all :math:`N` rows), after which the diagonal was already at
# hand, and it only works at the point where :math:`J` was computed: the same
# :math:`v` at another point gives something else. So there is no :math:`v`
# you can choose without knowing :math:`J`.

W = torch.randn(N, N, generator=generator, dtype=torch.float64) / N**0.5


def mix(z):
    return torch.tanh(W @ z)


J_mix = jacobian(mix, x)
v_for_diagonal = torch.linalg.solve(J_mix.T, J_mix.diagonal())
_, vjp_mix = vjp(mix, x, v=v_for_diagonal)
condition_number = torch.linalg.cond(J_mix).item()
print(
    f"tanh(Wx): cond(J) = {condition_number:.0f}, "
    f"max |v^T J - diag(J)| = {(vjp_mix - J_mix.diagonal()).abs().max().item():.1e}"
)
# The "about 900" below: seeded, and far from 850 and 950 on any machine's rounding.
assert round(condition_number, -2) == 900, condition_number
# A residual, not the error in v (which grows with cond(J), about 900): LU leaves
# J^T v - diag(J) within 3n eps |L||U||v| = 24 x 2.2e-16 x 2.2 = 1.2e-14 (n = 8), and
# the VJP recomputes J^T v within 8 eps |J^T||v| = 8 x 2.2e-16 x 0.92: an absolute
# bound below 2e-14, so rtol = 0 and atol = 1e-12 (50 times the bound).
torch.testing.assert_close(vjp_mix, J_mix.diagonal(), rtol=0, atol=1e-12)

elsewhere = x + 0.5
_, vjp_elsewhere = vjp(mix, elsewhere, v=v_for_diagonal)
gap_elsewhere = (vjp_elsewhere - jacobian(mix, elsewhere).diagonal()).abs().max().item()
print(f"the same v at x + 0.5: max |v^T J - diag(J)| = {gap_elsewhere:.2f}")
assert gap_elsewhere > 0.01, (
    "v was computed from J at x; at another point it should miss"
)

# %%
# What works instead: compute the rows (one VJP each, here all at once with
# :func:`torch.func.vmap`) and take the diagonal; for softmax it is
# :math:`s_i (1 - s_i)`. That costs :math:`N` VJPs. There are cheaper
# routes when an estimate will do or when :math:`J` is sparse:
# :ref:`random probes <sphx_glr_auto_examples_jacobians_plot_04_random_v_trace_and_diagonal.py>`
# give an unbiased estimate of the diagonal from :math:`k` VJPs, with an
# error falling as :math:`1/\sqrt{k}`, and
# :ref:`colouring <sphx_glr_auto_examples_jacobians_plot_05_structured_jacobians_by_colouring.py>`
# recovers a banded :math:`J` exactly from a few products (3 for a
# tridiagonal one).

_, vjp_fn = torch.func.vjp(softmax, x)
(rows,) = torch.func.vmap(vjp_fn)(torch.eye(N, dtype=torch.float64))  # row i = e_i^T J
softmax_diagonal = rows.diagonal()
print("diag(J) of softmax:")
print(softmax_diagonal)
# s_i (1 - s_i) from the same s on both sides (the sum in softmax's backward has one
# non-zero term, so it is exact): a couple of roundings each, a few eps.
torch.testing.assert_close(softmax_diagonal, s * (1 - s), rtol=1e-12, atol=1e-12)

# %%
# Batches: block-diagonal until something mixes the samples
# ---------------------------------------------------------
#
# Per-sample outputs :math:`y_n = \lVert x_n \rVert^2` for a batch
# :math:`x \in \mathbb{R}^{B \times 3}` have a block-diagonal Jacobian with
# one output per sample, and :math:`v = \mathbf{1}` gives each sample's
# gradient with respect to its own input, :math:`2 x_n`. Put a
# batch normalisation in front (each feature standardised over the batch,
# :math:`\hat x_n = (x_n - \bar x) / \sigma` with ``torch.std``'s
# :math:`\sigma`, which divides by :math:`B - 1`; :class:`torch.nn.BatchNorm1d`
# in training divides by :math:`B` and adds a small ``eps`` to the variance,
# checked below), then a per-sample output
# :math:`y_n = w^\top \tanh(\hat x_n)`,
# and every output depends on every sample. Block :math:`m` of
# :math:`\mathbf{1}^\top J` is now
# :math:`\sum_n \partial y_n / \partial x_m`: sample :math:`m`'s own
# gradient plus what :math:`x_m` does to every other sample's output through
# the batch mean and standard deviation.

B = 5
batch = torch.randn(B, 3, generator=generator, dtype=torch.float64)


def per_sample(batch):
    return (batch**2).sum(dim=1)


weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)


def standardised(batch):
    return (batch - batch.mean(dim=0)) / batch.std(dim=0)  # mean and std over the batch


def batch_normalised(batch):
    return torch.tanh(standardised(batch)) @ weights  # y_n = w^T tanh(x_hat_n)


# BatchNorm1d in training (no affine part) against the variance that divides by B, plus
# its eps.
batch_norm = torch.nn.BatchNorm1d(3, affine=False, dtype=torch.float64)
by_batch_norm = batch_norm(batch)
divided_by_B = (batch - batch.mean(dim=0)) / (
    batch.var(dim=0, correction=0) + batch_norm.eps
).sqrt()
print(
    "BatchNorm1d: max |difference| from dividing by B = "
    f"{(by_batch_norm - divided_by_B).abs().max().item():.1e},"
    f" by B - 1 = {(by_batch_norm - standardised(batch)).abs().max().item():.2f}"
)
torch.testing.assert_close(by_batch_norm, divided_by_B)
assert (by_batch_norm - standardised(batch)).abs().max() > 0.01, (
    "BatchNorm1d does not divide by B - 1"
)

ones = torch.ones(B, dtype=torch.float64)
_, independent = vjp(per_sample, batch, v=ones)
# The backward multiplies by 1 and by 2 only: exactly 2 x on any machine.
torch.testing.assert_close(independent, 2 * batch, rtol=0, atol=0)

_, coupled = vjp(batch_normalised, batch, v=ones)
full = jacobian(batch_normalised, batch)  # (B, B, 3)
true_per_sample = torch.stack([full[n, n] for n in range(B)])  # d y_n / d x_n
print(
    "independent samples: max |1^T J - 2 x_n| = "
    f"{(independent - 2 * batch).abs().max().item():.1e}"
)
print(
    "batch-normalised: max |1^T J - per-sample gradient| = "
    f"{(coupled - true_per_sample).abs().max().item():.2f},"
    f" max |1^T J| = {coupled.abs().max().item():.2f}"
)
# Both add the same partial derivatives over the 5 samples, in other orders; each is
# ~20 operations on terms below |w| / sigma = 2 / 0.47 = 4.3: within
# 20 x 1.1e-16 x 4.3 x 5 = 5e-14.
torch.testing.assert_close(coupled, full.sum(dim=0), rtol=1e-12, atol=1e-12)
assert (coupled - true_per_sample).abs().max() > 0.1, (
    "the coupling should change the result"
)
assert coupled.abs().max() > 0.1, "a sum over the batch, not the zero of a constant sum"

# %%
# Had the output been :math:`y_n = \lVert \hat x_n \rVert^2`, the sum
# :math:`\sum_n y_n = 3(B - 1)` would be the same for every batch (each
# standardised feature has :math:`\sum_n \hat x_{nf}^2 = B - 1`), and
# :math:`\mathbf{1}^\top J` would be zero: the constant-sum case above, not a
# sum over the batch.

_, constant_sum = vjp(
    lambda batch: (standardised(batch) ** 2).sum(dim=1), batch, v=ones
)
print(f"y_n = |x_hat_n|^2: max |1^T J| = {constant_sum.abs().max().item():.1e}")
torch.testing.assert_close(constant_sum, torch.zeros(B, 3, dtype=torch.float64))

# %%
# Block-diagonal is not enough when a sample has several outputs: each
# block then has several rows, and :math:`v = \mathbf{1}` adds them. With
# the two outputs :math:`(\lVert x_n \rVert^2,\ w^\top x_n)` per sample, block
# :math:`n` of :math:`\mathbf{1}^\top J` is :math:`2 x_n + w`, the gradient
# of their sum and of neither output.


def two_per_sample(batch):
    return torch.stack(((batch**2).sum(dim=1), batch @ weights), dim=1)  # (B, 2)


_, two_outputs = vjp(two_per_sample, batch, v=torch.ones(B, 2, dtype=torch.float64))
print(
    "two outputs per sample: max |1^T J - (2 x_n + w)| = "
    f"{(two_outputs - (2 * batch + weights)).abs().max().item():.1e}"
)
# 2 x_n (products by 1 and 2) plus w (products by 1), one addition: a few eps relative
# on any machine, inside rtol = 1e-12; the gradient of one output alone is off by
# |w| >= 0.5 or by 2 |x_n|.
torch.testing.assert_close(two_outputs, 2 * batch + weights, rtol=1e-12, atol=1e-12)

# %%
# In evaluation mode, :class:`torch.nn.BatchNorm1d` normalises with its
# running mean and variance, numbers fixed before the call, so the samples
# no longer mix: the off-diagonal blocks of :math:`J` are zero, and
# :math:`v = \mathbf{1}` gives each sample's own gradient again.

batch_norm.eval()


def batch_normalised_in_eval_mode(batch):
    return torch.tanh(batch_norm(batch)) @ weights


_, in_eval_mode = vjp(batch_normalised_in_eval_mode, batch, v=ones)
full_in_eval_mode = jacobian(batch_normalised_in_eval_mode, batch)  # (B, B, 3)
own_blocks = torch.stack([full_in_eval_mode[n, n] for n in range(B)])
other_blocks = full_in_eval_mode[~torch.eye(B, dtype=torch.bool)]
print(
    "BatchNorm1d in eval mode: max |off-diagonal block| = "
    f"{other_blocks.abs().max().item():.1e},\n"
    "  max |1^T J - per-sample gradient| = "
    f"{(in_eval_mode - own_blocks).abs().max().item():.1e}",
)
# Exact: the off-diagonal blocks are zero cotangents carried back through products,
# zeros on any machine.
assert (other_blocks == 0).all()
torch.testing.assert_close(in_eval_mode, own_blocks)

# %%
# The picture
# -----------
#
# Full Jacobians of an elementwise map (diagonal), of a softmax applied to
# each row of a :math:`3 \times 3` batch (block-diagonal) and of one softmax
# over 9 entries (dense). :math:`v = \mathbf{1}` sums each column: only on the
# left does that pick out one entry.

x9 = torch.randn(9, generator=generator, dtype=torch.float64)
panels = {
    "diagonal: tanh": jacobian(torch.tanh, x9),
    "block-diagonal: softmax per row": jacobian(
        lambda z: torch.softmax(z.reshape(3, 3), dim=1).flatten(), x9
    ),
    "dense: softmax of all": jacobian(lambda z: torch.softmax(z, dim=0), x9),
}
fig, axes = plt.subplots(1, 3, figsize=(9, 3.4), layout="constrained")
for ax, (title, matrix) in zip(axes, panels.items()):
    limit = matrix.abs().max().item()
    image = ax.imshow(matrix.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("input $j$")
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].set_ylabel("output $i$")
plt.show()

# %%
# What to remember
# ----------------
#
# * :math:`v = \mathbf{1}` always computes the column sums of :math:`J`, the
#   gradient of :math:`\sum_i f_i`. Entry :math:`j` is the derivative
#   :math:`J_{jj}` exactly when column :math:`j`'s off-diagonal entries sum
#   to zero; a diagonal Jacobian (or a batch's block-diagonal one, with one
#   output per sample) guarantees it.
# * Softmax and normalisations whose outputs sum to a constant give zero;
#   other normalisations give other column sums (scaling by the norm or a
#   weighted layer norm: neither zero nor the diagonal; min-max scaling: the
#   diagonal except at the minimum and the maximum); several outputs per
#   sample give the gradient of their sum; batch statistics (batch
#   normalisation in training mode, not in eval mode) add to each sample's
#   gradient the derivatives of the other samples' outputs. No error is
#   raised.
# * A :math:`v` that returns the diagonal of a dense Jacobian would have to
#   be computed from :math:`J`; take one VJP per row instead (batched with
#   :func:`torch.func.vmap`); for fewer products, estimate the diagonal with
#   :ref:`random probes <sphx_glr_auto_examples_jacobians_plot_04_random_v_trace_and_diagonal.py>`
#   or recover a sparse :math:`J` by
#   :ref:`colouring <sphx_glr_auto_examples_jacobians_plot_05_structured_jacobians_by_colouring.py>`.
#
# Next: :ref:`sphx_glr_auto_examples_jacobians_plot_02_batched_jacobian_methods.py`.
# Reference: :func:`torch.autograd.functional.vjp`,
# :func:`torch.autograd.functional.jacobian`, :func:`torch.func.vjp`,
# :func:`torch.func.vmap`, :func:`torch.linalg.solve`.
