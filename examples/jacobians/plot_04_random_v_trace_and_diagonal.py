r"""
The trace and diagonal of a Jacobian from random probes
=======================================================

The divergence :math:`\operatorname{tr}(\partial f / \partial x)` of a
vector field appears in score matching and continuous normalising flows, and
computing it exactly costs one VJP per input dimension. With a *random*
:math:`v` (random signs or Gaussian entries), one VJP gives an unbiased
estimate of the trace and of the whole diagonal, and the error of an average
over :math:`k` probes falls as :math:`1/\sqrt{k}`. This page derives the
estimators and their variances, checks both exactly (without sampling) on a
small case, checks the statistics on a larger one, and works out when
:math:`k` random probes beat the :math:`n` VJPs of the exact trace. For the
field below, 39 probes give :math:`\operatorname{tr}(J)` to a 1% RMS error
against 100 VJPs, but only because the identity's known 100 makes up most
of it; for the unknown part :math:`\operatorname{tr}(J - I)` the exact
trace is cheaper at any accuracy that tells its sign.
"""

# %%
# The maths
# ---------
#
# For :math:`f : \mathbb{R}^n \to \mathbb{R}^n` with Jacobian
# :math:`J \in \mathbb{R}^{n \times n}` at :math:`x`, draw a probe
# :math:`v \in \mathbb{R}^n` with independent entries of mean 0 and variance
# 1, so that :math:`\mathbb{E}[v v^\top] = I`. One VJP gives the row vector
# :math:`v^\top J \in \mathbb{R}^{1 \times n}`, and
#
# .. math::
#
#    \mathbb{E}\bigl[(v^\top J)\, v\bigr]
#    = \mathbb{E}\Bigl[\sum_{i,j} v_i J_{ij} v_j\Bigr]
#    = \sum_{i,j} J_{ij}\, \mathbb{E}[v_i v_j] = \operatorname{tr}(J),
#
#    \mathbb{E}\bigl[v_j\, (v^\top J)_j\bigr]
#    = \sum_{i} J_{ij}\, \mathbb{E}[v_i v_j] = J_{jj}.
#
# The first is Hutchinson's trace estimator, the second (elementwise product
# of the probe with its VJP) estimates the diagonal. Both are unbiased; the
# average of :math:`k` independent probes has variance
# :math:`\sigma^2 / k`, so its error is of order :math:`\sigma / \sqrt{k}`.
# Only the symmetric part :math:`S = (J + J^\top)/2` enters the trace
# estimate (:math:`v^\top J v = v^\top S v`), and its variance depends on the
# probe:
#
# * **Rademacher** (:math:`v_i = \pm 1` with probability 1/2):
#   :math:`v_i^2 = 1`, so
#   :math:`v^\top S v = \operatorname{tr}(S) + 2\sum_{i<j} S_{ij} v_i v_j`,
#   a sum of uncorrelated terms of variance :math:`4 S_{ij}^2`:
#
#   .. math::
#
#      \sigma^2_{\text{Rademacher}} = 2 \sum_{i \neq j} S_{ij}^2.
#
# * **Gaussian** (:math:`v \sim \mathcal{N}(0, I)`): write
#   :math:`S = Q \Lambda Q^\top`; :math:`w = Q^\top v` is again standard
#   normal, :math:`v^\top S v = \sum_i \lambda_i w_i^2`, and
#   :math:`\operatorname{Var}(w_i^2) = 2`:
#
#   .. math::
#
#      \sigma^2_{\text{Gauss}} = 2 \sum_i \lambda_i^2 = 2 \lVert S \rVert_F^2
#      = \sigma^2_{\text{Rademacher}} + 2 \sum_i J_{ii}^2.
#
# For the diagonal,
# :math:`v_j (v^\top J)_j = J_{jj} v_j^2 + \sum_{i \neq j} J_{ij} v_i v_j`,
# so entry :math:`j` has variance :math:`\sum_{i \neq j} J_{ij}^2` with
# Rademacher probes and :math:`\sum_{i \neq j} J_{ij}^2 + 2 J_{jj}^2` with
# Gaussian ones. Random signs never pay for the diagonal of :math:`J`: for a
# diagonal :math:`J` one Rademacher probe is exact.
#
# The link with :ref:`sphx_glr_auto_examples_jacobians_plot_01_when_ones_is_not_the_derivative.py`:
# :math:`v = \mathbf{1}` is *one* Rademacher probe. Its "diagonal estimate"
# :math:`\mathbf{1} \odot (\mathbf{1}^\top J)` is the column sums of
# :math:`J`, right only when each column's off-diagonal entries sum to zero
# (for instance when :math:`J` is diagonal). Random signs make those terms
# cancel *on average*, which is what the mean over probes uses.

# %%
# A vector field and its exact divergence
# ---------------------------------------
#
# A residual block :math:`f(x) = x + g(x)` with
# :math:`g(x) = W_2 \tanh(W_1 x + b)`,
# :math:`W_1 \in \mathbb{R}^{h \times n}`, :math:`W_2 \in \mathbb{R}^{n \times h}`,
# so that
#
# .. math::
#
#    J = I + J_g, \qquad
#    J_g = W_2 {\operatorname{diag}\bigl(1 - \tanh^2(W_1 x + b)\bigr)} W_1
#    \in \mathbb{R}^{n \times n}.
#
# A continuous normalising flow integrates a field like :math:`g` itself,
# :math:`dx/dt = g(x)`, and needs its divergence
# :math:`\operatorname{tr}(J_g)`; :math:`f` is one Euler step of that flow
# (step 1). Its divergence :math:`\operatorname{tr}(J) = n + \operatorname{tr}(J_g)`
# contains a part known exactly, the identity's :math:`n`: keep that in mind
# when the probe counts come.
#
# The exact trace and diagonal need all :math:`n` rows of :math:`J`, that is
# :math:`n` VJPs (here with :func:`torch.func.jacrev`); the hand formula is the
# independent reference.

import matplotlib.pyplot as plt
import torch

generator = torch.Generator().manual_seed(0)


def make_field(n, hidden):
    """A residual field x + W2 tanh(W1 x + b), a point x, and J at x by hand."""
    W1 = torch.randn(hidden, n, generator=generator, dtype=torch.float64) / n**0.5
    W2 = torch.randn(n, hidden, generator=generator, dtype=torch.float64) / hidden**0.5
    b = torch.randn(hidden, generator=generator, dtype=torch.float64)
    x = torch.randn(n, generator=generator, dtype=torch.float64)

    def field(x):
        return x + W2 @ torch.tanh(W1 @ x + b)

    slope = 1 - torch.tanh(W1 @ x + b) ** 2
    jacobian = torch.eye(n, dtype=torch.float64) + W2 @ (slope[:, None] * W1)
    return field, x, jacobian


def rademacher(shape):
    signs = 2 * torch.randint(0, 2, shape, generator=generator) - 1
    return signs.to(torch.float64)


def gaussian(shape):
    return torch.randn(shape, generator=generator, dtype=torch.float64)


def estimates(field, x, probes):
    """Per probe v (a row of probes): the trace estimate v^T J v and the diagonal
    estimate v * (v^T J)."""
    _, vjp_fn = torch.func.vjp(field, x)
    (rows,) = torch.func.vmap(vjp_fn)(probes)  # row k is v_k^T J: one VJP per probe
    # sphinx_gallery_break = ("probes * rows", "rows")
    diagonal_estimates = probes * rows
    return diagonal_estimates.sum(dim=1), diagonal_estimates


def variances(J):
    """The variances derived above: (trace, diagonal) for each probe type."""
    S = (J + J.T) / 2
    # sum over i != j of J_ij^2, for each column j
    off_diagonal = (J**2).sum(dim=0) - J.diagonal() ** 2
    return {
        "Rademacher": (2 * ((S**2).sum() - (S.diagonal() ** 2).sum()), off_diagonal),
        "Gaussian": (2 * (S**2).sum(), off_diagonal + 2 * J.diagonal() ** 2),
    }


n, hidden = 100, 64
field, x, J = make_field(n, hidden)
# Both are I + W2 diag(slope) W1 from the same slope, summed over 64 hidden units in
# other orders and kernels: each within 64 eps x 0.48 (the largest sum of |terms|) =
# 7e-15, << 1e-12.
torch.testing.assert_close(torch.func.jacrev(field)(x), J, rtol=1e-12, atol=1e-12)
trace, diagonal = J.trace(), J.diagonal()
sigma = {name: var.sqrt().item() for name, (var, _) in variances(J).items()}
identity = torch.eye(n, dtype=torch.float64)
residual_trace = (J - identity).trace()  # tr(J_g), the part not known in advance
print(f"n = {n}: divergence tr(J) = {trace.item():.4f}")
print(
    f"of which {n} is the identity's: tr(J - I) = tr(J_g) = {residual_trace.item():.4f}"
)
print(
    f"standard deviation of one probe: Rademacher {sigma['Rademacher']:.3f},"
    f" Gaussian {sigma['Gaussian']:.3f}"
)

# %%
# The checks
# ----------
#
# The estimators' means against the trace and diagonal of :math:`J` by hand,
# and their variances against the formulas derived above, without sampling:
# on a small field the probes can be enumerated, and the averages are exact.
#
# Rademacher probes: all :math:`2^n` sign vectors
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
#
# For :math:`n = 10` there are only :math:`2^{10} = 1024` Rademacher probes,
# each equally likely, so the expectation and the variance are *finite
# averages* and can be computed exactly: no sampling, no statistics. The mean
# estimate must be :math:`\operatorname{tr}(J)` and :math:`\operatorname{diag}(J)`,
# and the variances must be the formulas above. The all-ones probe is one of
# them; alone, it gives the column sums.

small_field, small_x, small_J = make_field(10, 8)
every_sign = torch.cartesian_prod(
    *[torch.tensor([-1.0, 1.0], dtype=torch.float64)] * 10
)  # (1024, 10)
small_traces, small_diagonals = estimates(small_field, small_x, every_sign)
# The references by hand: tr(J) and diag(J) of the small field's Jacobian, and the
# variances derived above.
expected = small_J.trace()
expected_diagonal = small_J.diagonal()
expected_variance, expected_diagonal_variance = variances(small_J)["Rademacher"]
mean_minus_trace = (small_traces.mean() - expected).item()
print(f"mean over all 1024 sign vectors - tr(J): {mean_minus_trace:.1e}")
print(
    f"variance over them: {small_traces.var(correction=0).item():.6f}, "
    f"2 sum_(i!=j) S_ij^2 = {expected_variance.item():.6f}"
)

# Rounding only: each estimate is ~30 roundings of terms adding up to < 62 (the sum of
# the entries of I + |W2| diag(slope) |W1|, which the VJP adds up; sum |J_ij| is only <
# 33), so within 4e-13; a mean or variance over 1024 of them adds at most 1024 eps/2 =
# 1.1e-13 times the mean size (at most twice the result): below 5e-13 relative in all,
# under rtol 1e-12.
torch.testing.assert_close(small_traces.mean(), expected, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(
    small_diagonals.mean(dim=0), expected_diagonal, rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(
    small_traces.var(correction=0), expected_variance, rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(
    small_diagonals.var(dim=0, correction=0),
    expected_diagonal_variance,
    rtol=1e-12,
    atol=1e-12,
)
all_ones = (every_sign == 1).all(dim=1)
# Column sums of J over 10 rows and 8 hidden units, in other orders: ~20 roundings of
# terms adding up to < 10 per column, so below 5e-14.
torch.testing.assert_close(
    small_diagonals[all_ones][0], small_J.sum(dim=0), rtol=1e-12, atol=1e-12
)

# %%
# Gaussian probes: a three-point stand-in
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
#
# Gaussian probes cannot be enumerated, but the estimates are quadratic in
# :math:`v`, so their means and variances involve the moments of the
# :math:`v_i` up to order four only: :math:`\mathbb{E}[v_i^2] = 1`,
# :math:`\mathbb{E}[v_i^4] = 3`, odd moments zero. (In general the trace
# variance is :math:`2\lVert S \rVert_F^2 + (\mathbb{E}[v_i^4] - 3)\sum_i S_{ii}^2`:
# signs have :math:`\mathbb{E}[v_i^4] = 1`.) A probe with entries
# :math:`\pm\sqrt{3}` (probability 1/6 each) and 0 (probability 2/3) has the
# same moments as :math:`\mathcal{N}(0, 1)` up to order five, so over its
# :math:`3^{10} = 59\,049` probe vectors, weighted by their probabilities, the
# means and variances must be the Gaussian formulas above, the trace's and
# each diagonal entry's, again without sampling.

three_values = torch.tensor([-(3**0.5), 0.0, 3**0.5], dtype=torch.float64)
three_probabilities = torch.tensor([1 / 6, 2 / 3, 1 / 6], dtype=torch.float64)
# Moments of sqrt(3)^2 = 3 and 9 with weights 1/3: a few roundings of numbers below 3.
torch.testing.assert_close(
    (three_probabilities * three_values**2).sum(),
    torch.tensor(1.0, dtype=torch.float64),
)
torch.testing.assert_close(
    (three_probabilities * three_values**4).sum(),
    torch.tensor(3.0, dtype=torch.float64),
)
every_point = torch.cartesian_prod(*[three_values] * 10)  # (59049, 10)
# each vector's probability
weight = torch.cartesian_prod(*[three_probabilities] * 10).prod(dim=1)
point_traces, point_diagonals = estimates(small_field, small_x, every_point)
point_trace_mean = weight @ point_traces
point_diagonal_mean = weight @ point_diagonals
gaussian_variances = variances(small_J)["Gaussian"]  # the formulas above
expected_gaussian_variance, expected_gaussian_diagonal_variance = gaussian_variances
point_trace_variance = weight @ (point_traces - point_trace_mean) ** 2
print(
    f"three-point probes: trace variance {point_trace_variance.item():.6f},"
    f" 2 |S|_F^2 = {expected_gaussian_variance.item():.6f}"
)
# Each estimate is ~30 roundings of terms adding up to < 3 x 62 (|v_i| <= sqrt 3; 62 as
# above): within 30 x 186 x 1.1e-16 < 7e-13. A weighted sum of 3^10 terms, in any order,
# is within 3^10 x 1.1e-16 = 6.5e-12 times the weighted sum of |terms| (below 12 for the
# traces, 2 for the diagonals; the variances' terms are positive): under 1e-10 relative,
# or 1e-10 absolute for the diagonal means.
torch.testing.assert_close(point_trace_mean, expected, rtol=1e-10, atol=0)
torch.testing.assert_close(
    point_diagonal_mean, expected_diagonal, rtol=1e-10, atol=1e-10
)
torch.testing.assert_close(
    point_trace_variance,
    expected_gaussian_variance,
    rtol=1e-10,
    atol=0,
)
torch.testing.assert_close(
    weight @ (point_diagonals - point_diagonal_mean) ** 2,
    expected_gaussian_diagonal_variance,
    rtol=1e-10,
    atol=0,
)

# %%
# Sampled: many probes on the :math:`n = 100` field
# -------------------------------------------------
#
# :math:`R = 200` independent runs of :math:`k = 256` probes each, for both
# probe types: :math:`51\,200` VJPs per type, batched with
# :func:`torch.func.vmap`. Each run's running mean is the estimate from its
# first :math:`k` probes.

runs, probes_per_run = 200, 256
probe_counts = torch.arange(1, probes_per_run + 1, dtype=torch.float64)
samples, residual_samples = {}, {}
for name, draw in {"Rademacher": rademacher, "Gaussian": gaussian}.items():
    probes = draw((runs * probes_per_run, n))
    traces, diagonals = estimates(field, x, probes)
    samples[name] = (
        traces.reshape(runs, probes_per_run),
        diagonals.reshape(runs, probes_per_run, n),
    )
    # v^T J v - v^T v = v^T (J - I) v estimates tr(J - I), used in the last sections
    residual_samples[name] = (traces - (probes**2).sum(dim=1)).reshape(
        runs, probes_per_run
    )

# %%
# What the statistical checks bound
# ---------------------------------
#
# With the seed fixed every number below is the same on every run, so each
# check passes or fails deterministically; what it *tests* is statistical:
#
# * **Unbiasedness.** The mean of all :math:`N = 51\,200` estimates has
#   standard deviation :math:`\sigma/\sqrt{N}`. The check
#   :math:`|\text{mean} - \operatorname{tr}(J)| < 4\sigma/\sqrt{N}` would fail
#   for an unbiased estimator with probability about :math:`6 \times 10^{-5}`
#   (normal approximation) over seeds, and catches any bias well above the
#   bound (printed). For the diagonal, each of the :math:`n` entries gets the
#   same test with 5 standard deviations.
# * **The variance formula.** The sample variance of the :math:`N` single-probe
#   estimates must be within 5% of :math:`\sigma^2`. Its own relative standard
#   deviation is :math:`\sqrt{(\kappa - 1)/N}`, with :math:`\kappa` the
#   kurtosis of one estimate (measured, printed, and checked to keep this
#   below 1%), so 5% is more than 5 of them.

for name, (traces, diagonals) in samples.items():
    trace_variance, diagonal_variance = variances(J)[name]
    count = traces.numel()
    bias_bound = 4 * (trace_variance / count).sqrt()
    trace_mean = traces.mean()
    kurtosis = ((traces - trace) ** 4).mean() / trace_variance**2
    # relative SD of the sample variance
    spread_of_variance = ((kurtosis - 1) / count).sqrt()
    bias = (trace_mean - trace).item()
    variance_ratio = (traces.var() / trace_variance).item()
    print(
        f"{name:<10} mean of {count} estimates - tr(J) = {bias:+.4f}"
        f" (bound {bias_bound.item():.4f});\n{'':<10} variance / formula ="
        f" {variance_ratio:.3f} (kurtosis {kurtosis.item():.2f},"
        f" relative SD {100 * spread_of_variance.item():.2f}%)"
    )
    assert (trace_mean - trace).abs() < bias_bound, (
        f"{name}: the trace estimate looks biased"
    )
    assert spread_of_variance < 0.01, "too few samples for the 5% variance check"
    # A statistical 5% (see above), not a rounding tolerance: far looser than the
    # defaults.
    torch.testing.assert_close(traces.var(), trace_variance, rtol=0.05, atol=0)

    diagonal_mean = diagonals.mean(dim=(0, 1))
    standardised = (diagonal_mean - diagonal) / (diagonal_variance / count).sqrt()
    assert standardised.abs().max() < 5, f"{name}: the diagonal estimate looks biased"

# %%
# .. _hutchinson-error-against-probes:
#
# Error against the number of probes
# ----------------------------------
#
# The expected squared error of the :math:`k`-probe average is exactly
# :math:`\sigma^2/k` (independent probes), so the root-mean-square error over
# the :math:`R` runs should follow :math:`\sigma/\sqrt{k}`. With
# :math:`R = 200` runs the measured RMS error has a relative standard
# deviation of about :math:`1/\sqrt{2R} = 5\%` (for near-normal errors), and
# the check asks for a ratio to :math:`\sigma/\sqrt{k}` between 0.8 and 1.2 at
# :math:`k = 1, 4, 16, 64, 256`: a slope of :math:`-1/2` on a log-log plot.
# For the diagonal the same holds for
# :math:`\lVert \hat d_k - \operatorname{diag}(J) \rVert`
# with :math:`\sum_j \operatorname{Var}_j` in place of :math:`\sigma^2`.

checked_k = [1, 4, 16, 64, 256]
rms_error = {}
print(f"RMS error / (sigma / sqrt(k)) at k = {checked_k}:")
for name, (traces, diagonals) in samples.items():
    trace_variance, diagonal_variance = variances(J)[name]
    running_traces = traces.cumsum(dim=1) / probe_counts
    running_diagonals = diagonals.cumsum(dim=1) / probe_counts[:, None]
    trace_rms = (running_traces - trace).pow(2).mean(dim=0).sqrt()
    diagonal_rms = (running_diagonals - diagonal).pow(2).sum(dim=2).mean(dim=0).sqrt()
    rms_error[name] = (trace_rms, diagonal_rms)
    trace_ratio = trace_rms / (trace_variance / probe_counts).sqrt()
    diagonal_ratio = diagonal_rms / (diagonal_variance.sum() / probe_counts).sqrt()
    ratios = " ".join(f"{trace_ratio[k - 1].item():.2f}" for k in checked_k)
    print(f"  {name:<10} {ratios}")
    for k in checked_k:
        assert 0.8 < trace_ratio[k - 1] < 1.2, (
            f"{name}, k = {k}: trace error off the 1/sqrt(k) line"
        )
        assert 0.8 < diagonal_ratio[k - 1] < 1.2, (
            f"{name}, k = {k}: diagonal error off the 1/sqrt(k) line"
        )

# %%
# The number of probes for a 1% error on :math:`\operatorname{tr}(J)` follows:
# :math:`k = (\sigma / (0.01\,|\operatorname{tr} J|))^2`. The check reads the
# RMS error at that :math:`k` from the 200 runs (within 20%, as above).

for name, (trace_rms, _) in rms_error.items():
    k_one_percent = round((sigma[name] / (0.01 * trace.abs().item())) ** 2)
    measured = (trace_rms[k_one_percent - 1] / trace.abs()).item()
    print(
        f"{name:<10} probes for 1% relative RMS error on tr(J): {k_one_percent}\n"
        f"{'':<10} (measured at that k: {100 * measured:.2f}%; exact trace: {n} VJPs)"
    )
    assert 0.008 < measured < 0.012, f"{name}: {k_one_percent} probes do not give 1%"

# %%
# .. _hutchinson-estimate-the-unknown-part:
#
# What the identity hides: estimate only the unknown part
# -------------------------------------------------------
#
# The Rademacher count looks cheap (the Gaussian one is already above the
# 100 VJPs of the exact trace), but 100 of the 100.13 is the identity's and was
# known before any probe. The error of the estimate is absolute,
# :math:`\sigma/\sqrt{k}`, and is the same whatever known constant is added
# to the trace; measured against the part that needed estimating,
# :math:`\operatorname{tr}(J - I) = 0.126`, the 39 Rademacher probes are off by
# several times that part:

k_rademacher = round((sigma["Rademacher"] / (0.01 * trace.abs().item())) ** 2)
k_gaussian = round((sigma["Gaussian"] / (0.01 * trace.abs().item())) ** 2)
assert k_rademacher < n < k_gaussian, (k_rademacher, k_gaussian)
# The numbers quoted above (seeded; 100.1264, 0.1264 and 39.01 before rounding, far
# from the rounding boundaries on any machine).
assert f"{trace.item():.2f}" == "100.13" and k_rademacher == 39, (trace, k_rademacher)
assert f"{residual_trace.item():.3f}" == "0.126", residual_trace
rms_rademacher = rms_error["Rademacher"][0][k_rademacher - 1]
print(
    f"{k_rademacher} Rademacher probes: RMS error {rms_rademacher.item():.3f}"
    f" = {(rms_rademacher / residual_trace.abs()).item():.1f} x |tr(J - I)|"
)
assert rms_rademacher > 5 * residual_trace.abs()

# %%
# Subtract what is known *inside* the estimator (a control variate):
# :math:`v^\top (J - I) v = v^\top J v - v^\top v` is unbiased for
# :math:`\operatorname{tr}(J - I)`, since :math:`\mathbb{E}[v^\top v] = n`, and
# uses the same VJPs. Its variance is the formula above with :math:`S - I` in
# place of :math:`S`:
#
# * Rademacher: :math:`v^\top v = n` exactly, so nothing changes; the identity
#   is diagonal and never added variance (:math:`\sigma^2 = 2\sum_{i \neq j} S_{ij}^2`).
# * Gaussian: :math:`\sigma^2` falls from :math:`2\lVert S \rVert_F^2` to
#   :math:`2\lVert S - I \rVert_F^2`; subtracting :math:`n` *after*
#   estimating (:math:`v^\top J v - n`) would keep the larger variance.
#
# The same statistical checks as above, on the sampled :math:`v^\top J v - v^\top v`:

residual_sigma = {}
for name, residual_traces in residual_samples.items():
    residual_variance, _ = variances(J - identity)[name]
    residual_sigma[name] = residual_variance.sqrt().item()
    count = residual_traces.numel()
    kurtosis = ((residual_traces - residual_trace) ** 4).mean() / residual_variance**2
    variance_ratio = (residual_traces.var() / residual_variance).item()
    print(
        f"{name:<10} sigma of v^T J v - v^T v: {residual_sigma[name]:.3f}"
        f" (of v^T J v: {sigma[name]:.3f});\n"
        f"{'':<10} sampled variance / formula = {variance_ratio:.3f}"
    )
    assert (residual_traces.mean() - residual_trace).abs() < 4 * (
        residual_variance / count
    ).sqrt()
    assert ((kurtosis - 1) / count).sqrt() < 0.01, (
        "too few samples for the 5% variance check"
    )
    # A statistical 5% (as above), not a rounding tolerance.
    torch.testing.assert_close(
        residual_traces.var(), residual_variance, rtol=0.05, atol=0
    )

# %%
# The honest count: :math:`k = (\sigma / (0.01\,|\operatorname{tr}(J - I)|))^2`
# probes for a 1% error on :math:`\operatorname{tr}(J - I)`, about
# :math:`2.5 \times 10^7` for either probe type, against :math:`n = 100` VJPs
# for the exact value. Too many to sample here; the check measures the RMS
# error of the 256-probe means over the 200 runs and extrapolates it along the
# :math:`1/\sqrt{k}` line checked above, which must land within the same 20%
# (a factor 0.64 to 1.44 in :math:`k`).

for name, residual_traces in residual_samples.items():
    k_formula = (residual_sigma[name] / (0.01 * residual_trace.abs().item())) ** 2
    rms_at_256 = (residual_traces.mean(dim=1) - residual_trace).pow(2).mean().sqrt()
    k_measured = (
        probes_per_run * (rms_at_256 / (0.01 * residual_trace.abs())) ** 2
    ).item()
    print(
        f"{name:<10} probes for 1% relative RMS error on tr(J - I): {k_formula:.2e}\n"
        f"{'':<10} (from the runs' RMS error at k = 256: {k_measured:.2e};"
        f" exact: {n} VJPs)"
    )
    assert 0.64 < k_measured / k_formula < 1.44, (
        f"{name}: the probe count for tr(J - I) is off"
    )
    # The prose's "about 2.5 x 10^7" (2.448e7 and 2.500e7, seeded): within 4%.
    assert abs(k_formula / 2.5e7 - 1) < 0.04, k_formula

# %%
# When random probes pay
# ----------------------
#
# An RMS error :math:`\delta` takes :math:`k = \sigma^2/\delta^2` probes, the
# exact trace :math:`n` VJPs (batched with :func:`torch.func.vmap` as here).
# Probes cost less only for :math:`\delta > \sigma/\sqrt{n}`. For this field
# that threshold (for Rademacher probes, the smaller :math:`\sigma`) is
# larger than :math:`|\operatorname{tr}(J - I)|` itself
# (checked below): at any accuracy that tells the sign of
# :math:`\operatorname{tr}(J - I) = \operatorname{tr}(J_g)`, the divergence of
# :math:`g`, the exact trace is cheaper. Probes pay when
#
# * :math:`n` is large and an unbiased estimate is all that is needed, as in
#   training: :math:`v` does not depend on the parameters, so the gradient of
#   :math:`v^\top J_g v` is an unbiased estimate of the gradient of
#   :math:`\operatorname{tr}(J_g)`, and its noise joins that of the
#   mini-batch. FFJORD (Grathwohl et al., 2019, `arXiv:1810.01367
#   <https://arxiv.org/abs/1810.01367>`__) uses Hutchinson's estimator this
#   way, with one probe per ODE solve, and sliced score matching (Song et
#   al., 2019, `arXiv:1905.07088 <https://arxiv.org/abs/1905.07088>`__)
#   rests on the same random projections;
# * :math:`\sigma` is small against the accuracy needed: with Rademacher probes
#   only the off-diagonal part of :math:`S` adds variance, so a Jacobian
#   dominated by its diagonal is cheap to estimate, and a diagonal one is
#   exact with one probe (next section).

break_even = residual_sigma["Rademacher"] / n**0.5
print(
    f"break-even RMS error sigma / sqrt(n) = {break_even:.3f};"
    f" |tr(J - I)| = {residual_trace.abs().item():.3f}"
)
assert break_even > residual_trace.abs(), (
    "here probes would pay at some useful accuracy"
)

# %%
# Diagonal Jacobians: one Rademacher probe is exact
# -------------------------------------------------
#
# For an elementwise :math:`f` (:math:`J` diagonal) every off-diagonal term
# is zero, so any single sign vector, :math:`\mathbf{1}` included, returns
# the exact trace and diagonal; a Gaussian probe does not. Checked with one
# random sign vector for :math:`n = 100` and with all 1024 sign vectors of
# the small case above (:math:`n = 10`).

elementwise_x = torch.randn(n, generator=generator, dtype=torch.float64)
one_sign, one_gaussian = rademacher((1, n)), gaussian((1, n))
exact_diagonal = 1 - torch.tanh(elementwise_x) ** 2
sign_trace, sign_diagonal = estimates(torch.tanh, elementwise_x, one_sign)
_, gaussian_diagonal = estimates(torch.tanh, elementwise_x, one_gaussian)
# Multiplying twice by the same sign is exact, and both sides compute 1 - t t from the
# same tanh(x): correctly rounded operations, a few eps apart.
torch.testing.assert_close(sign_diagonal[0], exact_diagonal, rtol=1e-12, atol=1e-12)
# Sums of 100 such positive terms below 1, in any order: within 100 eps relative.
torch.testing.assert_close(sign_trace[0], exact_diagonal.sum(), rtol=1e-12, atol=0)

small_tanh_x = torch.randn(10, generator=generator, dtype=torch.float64)
small_exact = 1 - torch.tanh(small_tanh_x) ** 2
every_trace, every_diagonal = estimates(torch.tanh, small_tanh_x, every_sign)
assert (every_sign[all_ones] == 1).all() and all_ones.sum() == 1  # 1 is among them
# As for n = 100: a few eps per entry, and sums of 10 positive terms within 10 eps.
torch.testing.assert_close(
    every_diagonal, small_exact.expand(1024, 10), rtol=1e-12, atol=1e-12
)
torch.testing.assert_close(
    every_trace, small_exact.sum().expand(1024), rtol=1e-12, atol=0
)
every_error = (every_trace - small_exact.sum()).abs().max().item()
print(f"tanh, all 1024 sign vectors (n = 10): max |trace error| = {every_error:.1e}")
sign_error = (sign_diagonal[0] - exact_diagonal).abs().max().item()
gaussian_error = (gaussian_diagonal[0] - exact_diagonal).abs().max().item()
assert gaussian_error > 0.1
print(
    f"tanh, one Rademacher probe: max |error| = {sign_error:.1e}; "
    f"one Gaussian probe: {gaussian_error:.2f}"
)

# %%
# The picture
# -----------
#
# The :math:`1/\sqrt{k}` line: the RMS errors of the :math:`k`-probe means
# over the 200 runs (coloured) against the predicted :math:`\sigma/\sqrt{k}`
# (dashed), for the trace and for the diagonal, and the part of the trace
# that needed estimating, :math:`|\operatorname{tr}(J - I)|` (dotted).

fig, axes = plt.subplots(1, 2, figsize=(7.2, 4.4), layout="constrained", sharex=True)
ks = probe_counts.numpy()
for name, colour in (("Rademacher", "C0"), ("Gaussian", "C1")):
    trace_variance, diagonal_variance = variances(J)[name]
    trace_rms, diagonal_rms = rms_error[name]
    predicted = r"predicted $\sigma/\sqrt{k}$" if name == "Gaussian" else None
    axes[0].loglog(ks, trace_rms.numpy(), color=colour, lw=2.5, label=f"{name} probes")
    axes[0].loglog(
        ks,
        (trace_variance / probe_counts).sqrt().numpy(),
        "k--",
        lw=0.9,
        label=predicted,
    )
    axes[1].loglog(
        ks, diagonal_rms.numpy(), color=colour, lw=2.5, label=f"{name} probes"
    )
    axes[1].loglog(
        ks,
        (diagonal_variance.sum() / probe_counts).sqrt().numpy(),
        "k--",
        lw=0.9,
        label=predicted,
    )
axes[0].axhline(
    residual_trace.abs().item(), color="0.4", ls=":", label=r"$|\mathrm{tr}(J - I)|$"
)
axes[0].set_title(r"trace: RMS error of the $k$-probe mean", fontsize=10)
axes[1].set_title(
    r"diagonal: RMS of $\Vert \hat d_k - \mathrm{diag}(J) \Vert$", fontsize=10
)
for ax in axes:
    ax.set_xlabel("number of probes $k$ (one VJP each)")
axes[0].set_ylabel(f"error over {runs} runs, n = {n}")
fig.legend(
    *axes[0].get_legend_handles_labels(),
    loc="outside lower center",
    ncols=2,
    fontsize=9,
)
plt.show()

# %%
# What to remember
# ----------------
#
# * With :math:`\mathbb{E}[v v^\top] = I`, one VJP gives unbiased estimates
#   of :math:`\operatorname{tr}(J)` (:math:`v^\top J v`) and of
#   :math:`\operatorname{diag}(J)` (:math:`v \odot v^\top J`); the error of
#   :math:`k` probes falls as :math:`\sigma/\sqrt{k}`: the rate does not
#   depend on :math:`n` (the constant :math:`\sigma` depends on :math:`J`).
# * Rademacher probes have variance :math:`2\sum_{i \neq j} S_{ij}^2`, Gaussian
#   ones :math:`2\lVert S \rVert_F^2`: signs never pay for the diagonal of
#   :math:`J`, and are exact when :math:`J` is diagonal.
# * :math:`v = \mathbf{1}` is a single sign vector: it is exact for diagonal
#   :math:`J` and gives column sums otherwise; random signs average the
#   off-diagonal terms away.
# * The error is absolute: subtract what is known inside the estimator
#   (:math:`v^\top J v - v^\top v` for :math:`\operatorname{tr}(J - I)`) and
#   count probes against the unknown part. :math:`k = \sigma^2/\delta^2`
#   probes beat :math:`n` exact VJPs only for errors above
#   :math:`\sigma/\sqrt{n}`: in training with large :math:`n`, or for nearly
#   diagonal :math:`J`.
#
# Next: :ref:`sphx_glr_auto_examples_jacobians_plot_05_structured_jacobians_by_colouring.py`.
# Reference: :func:`torch.func.vjp`, :func:`torch.func.vmap`,
# :func:`torch.func.jacrev`, :func:`torch.cartesian_prod`,
# :func:`torch.randint`.
