r"""
A banded Jacobian from three JVPs: column colouring
===================================================

A full Jacobian costs one JVP per input (or one VJP per output), but most of
those products are spent on zeros when the Jacobian is sparse. If two columns
never have a non-zero in the same row, one JVP can compute both at once.
This page groups the columns of a banded Jacobian (a 1-D stencil, the
Jacobian Newton's method needs for a discretised differential equation) into
3 such groups, recovers all :math:`n` columns from 3 JVPs, and shows that
the one-hot :math:`v` of the basics pages, for a batch of Jacobians, is the
same idea.
"""

# %%
# The maths
# ---------
#
# For :math:`f : \mathbb{R}^n \to \mathbb{R}^m` with Jacobian
# :math:`J \in \mathbb{R}^{m \times n}`, a JVP with a seed
# :math:`s \in \mathbb{R}^n` returns :math:`J s = \sum_j s_j J_{:,j}`. Give
# each column :math:`j` a colour :math:`c(j) \in \{0, \dots, C-1\}` and take
# the seed of colour :math:`c` to be :math:`s^{(c)}_j = [\,c(j) = c\,]`: then
#
# .. math::
#
#    B = J S \in \mathbb{R}^{m \times C}, \qquad
#    B_{ic} = \sum_{j : c(j) = c} J_{ij}.
#
# If no row has non-zeros in two columns of the same colour (the columns of
# a colour are *structurally orthogonal*), each sum has at most one non-zero
# term, and every entry is read back from :math:`B`:
#
# .. math::
#
#    J_{ij} = B_{i,\,c(j)} \quad \text{for every non-zero } (i, j).
#
# :math:`C` JVPs replace :math:`n`. For a stencil
# :math:`f_i = g(x_{i-1}, x_i, x_{i+1})`, :math:`J` is tridiagonal, column
# :math:`j` has non-zeros in rows :math:`j-1, j, j+1`, and :math:`c(j) = j \bmod 3`
# is a valid colouring: :math:`C = 3` for every :math:`n \ge 3`. A row with
# :math:`w` non-zeros needs :math:`w` different colours, and every row but
# the first and the last has 3, so 3 is also the fewest possible (checked
# below). The same holds for rows with VJPs: colour the rows so that
# no column has two non-zeros of the same colour, and
# :math:`S_r^\top J \in \mathbb{R}^{C \times n}` holds every entry.
#
# The colouring needs the sparsity *pattern* (where the zeros are), known
# here from the stencil; computing it from a dense Jacobian would defeat the
# purpose.

# %%
# A stencil residual and its Jacobian by hand
# -------------------------------------------
#
# A steady Burgers-type equation :math:`u'' - u u' + \sin u = 0` on
# :math:`n` interior grid points of :math:`[0, 1]` (spacing
# :math:`h = 1/(n+1)`, :math:`u = 0` at both ends), discretised with central
# differences:
#
# .. math::
#
#    f_i(u) = \frac{u_{i-1} - 2u_i + u_{i+1}}{h^2}
#    - u_i \frac{u_{i+1} - u_{i-1}}{2h} + \sin u_i,
#
#    \frac{\partial f_i}{\partial u_{i-1}} = \frac{1}{h^2} + \frac{u_i}{2h}, \quad
#    \frac{\partial f_i}{\partial u_i} = -\frac{2}{h^2}
#    - \frac{u_{i+1} - u_{i-1}}{2h} + \cos u_i, \quad
#    \frac{\partial f_i}{\partial u_{i+1}} = \frac{1}{h^2} - \frac{u_i}{2h}.

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.utils import benchmark


def make_residual(n):
    h = 1 / (n + 1)

    def residual(u):
        zero = u.new_zeros(1)
        padded = torch.cat((zero, u, zero))  # the boundary values u_0 = u_{n+1} = 0
        left, centre, right = padded[:-2], padded[1:-1], padded[2:]
        return (
            (left - 2 * centre + right) / h**2
            - centre * (right - left) / (2 * h)
            + torch.sin(centre)
        )

    def jacobian_by_hand(u):
        padded = torch.cat((u.new_zeros(1), u, u.new_zeros(1)))
        left, centre, right = padded[:-2], padded[1:-1], padded[2:]
        below = 1 / h**2 + centre[1:] / (2 * h)  # d f_i / d u_{i-1}, i = 1..n-1
        main = -2 / h**2 - (right - left) / (2 * h) + torch.cos(centre)
        above = 1 / h**2 - centre[:-1] / (2 * h)  # d f_i / d u_{i+1}, i = 0..n-2
        return torch.diag(main) + torch.diag(below, -1) + torch.diag(above, 1)

    return residual, jacobian_by_hand


def band_pattern(n, half_width):
    """Where a banded n x n Jacobian can be non-zero: |i - j| <= half_width."""
    index = torch.arange(n)
    return (index[:, None] - index[None, :]).abs() <= half_width


def greedy_column_colouring(pattern):
    """Colour the columns in order, each with the smallest colour not used by a
    column that shares a row with it (a greedy distance-2 colouring)."""
    rows_of_column = [[] for _ in range(pattern.shape[1])]
    columns_of_row = [[] for _ in range(pattern.shape[0])]
    for i, j in pattern.nonzero().tolist():
        rows_of_column[j].append(i)
        columns_of_row[i].append(j)
    colours = [-1] * pattern.shape[1]
    for j, rows in enumerate(rows_of_column):
        taken = {colours[k] for i in rows for k in columns_of_row[i]}
        colours[j] = min(c for c in range(len(taken) + 1) if c not in taken)
    return torch.tensor(colours)


def is_valid_colouring(pattern, colours):
    """No row has two non-zeros in columns of the same colour."""
    # (m, C) counts
    per_row_and_colour = pattern.to(torch.int64) @ F.one_hot(colours).to(torch.int64)
    return bool((per_row_and_colour <= 1).all())


generator = torch.Generator().manual_seed(0)
n_small = 12
residual, jacobian_by_hand = make_residual(n_small)
u = torch.randn(n_small, generator=generator, dtype=torch.float64)
pattern = band_pattern(n_small, 1)
colours = greedy_column_colouring(pattern)
print("colours of the 12 columns:", colours.tolist())
# Integer colours: exact.
assert torch.equal(colours, torch.arange(n_small) % 3)
assert is_valid_colouring(pattern, colours)
# The lower bound: every row but the first and the last has 3 non-zeros, so 3 colours.
assert (pattern.sum(dim=1)[1:-1] == 3).all() and int(colours.max()) + 1 == 3

# %%
# Three JVPs, then unpack
# -----------------------
#
# One seed per colour, the three JVPs batched with :func:`torch.func.vmap`
# over :func:`torch.func.jvp`. Each entry of the compressed matrix goes back
# to its place in :math:`J`.


def compressed_by_jvps(f, x, colours):
    """B^T: row c is J s^(c), one JVP per colour."""
    # (C, n): seed c has ones on the columns of colour c
    seeds = F.one_hot(colours).T.to(x.dtype)

    def jvp_with(seed):
        return torch.func.jvp(f, (x,), (seed,))[1]

    return torch.func.vmap(jvp_with)(seeds)


def unpack_columns(compressed, pattern, colours):
    rows, cols = pattern.nonzero(as_tuple=True)
    # sphinx_gallery_break = ("cols], row", "rows], col")
    values = compressed[colours[cols], rows]  # J_ij = B_{i, c(j)}
    return torch.sparse_coo_tensor(
        torch.stack((rows, cols)), values, pattern.shape, check_invariants=True
    )


compressed = compressed_by_jvps(residual, u, colours)
recovered = unpack_columns(compressed, pattern, colours)
print(
    "compressed matrix B:",
    tuple(compressed.T.shape),
    " recovered J:",
    tuple(recovered.shape),
    f"with {recovered._nnz()} stored entries",
)

# %%
# The checks
# ----------
#
# The recovered :math:`J` against the hand formula, and against the dense
# :func:`torch.func.jacfwd` (12 JVPs, one per column).

expected = jacobian_by_hand(u)
dense = torch.func.jacfwd(residual)(u)
hand_error = (recovered.to_dense() - expected).abs().max().item()
recovery_error = (recovered.to_dense() - dense).abs().max().item()
print(f"max |recovered - J by hand| = {hand_error:.1e}")
print(f"max |recovered - jacfwd| = {recovery_error:.1e}")
# The hand formula rounds the same terms as the JVPs in another order: a few eps
# (2.2e-16) of entries below 360, ~3e-13 << 1e-9.
torch.testing.assert_close(recovered.to_dense(), expected, rtol=1e-12, atol=1e-9)
# In row i the colour seed and jacfwd's one-hot seed both put a single 1 among u_{i-1},
# u_i, u_{i+1}: the same operations on the same numbers, plus exact zeros.
torch.testing.assert_close(recovered.to_dense(), dense, rtol=1e-12, atol=1e-12)
assert recovered._nnz() == 3 * n_small - 2  # the tridiagonal entries only

# %%
# A colouring that is not valid
# -----------------------------
#
# With two colours (:math:`j \bmod 2`), columns :math:`j-1` and :math:`j+1`
# share a colour and both have a non-zero in row :math:`j`: their entries
# add up in :math:`B` and cannot be separated. Nothing raises an error; the
# result is wrong.

two_colours = torch.arange(n_small) % 2
assert not is_valid_colouring(pattern, two_colours)
wrong = unpack_columns(
    compressed_by_jvps(residual, u, two_colours), pattern, two_colours
).to_dense()
print(f"with 2 colours: max |recovered - J| = {(wrong - dense).abs().max().item():.1f}")
assert (wrong - dense).abs().max() > 1

# %%
# Rows instead: three VJPs
# ------------------------
#
# Colour the rows (the columns of :math:`J^\top`) and use VJPs. For a
# tridiagonal pattern the answer is again 3 colours.

row_colours = greedy_column_colouring(pattern.T)
row_seeds = F.one_hot(row_colours).T.to(torch.float64)  # (C, n)
_, vjp_fn = torch.func.vjp(residual, u)
(compressed_rows,) = torch.func.vmap(vjp_fn)(row_seeds)  # row c is s_r^(c)T J
rows, cols = pattern.nonzero(as_tuple=True)
from_rows = torch.zeros(n_small, n_small, dtype=torch.float64)
# J_ij = (S_r^T J)_{c(i), j}
from_rows[rows, cols] = compressed_rows[row_colours[rows], cols]
# Each entry is one partial derivative plus exact zeros, summed in another order than
# jacfwd's: a few roundings of terms below 340, in entries between 150 and 360: a few
# eps relative.
torch.testing.assert_close(from_rows, dense, rtol=1e-12, atol=1e-12)
print("row colours:", row_colours.tolist(), "-> 3 VJPs recover J")

# %%
# The band width bounds the colour count, whatever :math:`n`
# ----------------------------------------------------------
#
# The greedy colouring of a full band of half-width :math:`b` (every entry
# with :math:`|i - j| \le b` a possible non-zero) uses
# :math:`\min(n, 2b + 1)` colours, the lower bound: the widest row holds
# :math:`\min(n, 2b + 1)` non-zeros. So :math:`2b + 1` for every
# :math:`n \ge 2b + 1` (3 for tridiagonal, 5 for pentadiagonal, checked for
# :math:`n = 50` and :math:`n = 1000` alike); a smaller matrix has a row
# holding all :math:`n` columns and needs :math:`n` (checked for
# :math:`n = 4`, below :math:`2b + 1` for :math:`b = 2, 3`). A band with
# zeros inside it can need fewer: the main diagonal and the third
# superdiagonal alone have half-width 3, and their rows hold 2 non-zeros
# at most, so 2 colours can do (checked after the loop).

for half_width in (1, 2, 3):
    counts = {}
    for size in (4, 50, 1000):
        pattern_here = band_pattern(size, half_width)
        counts[size] = int(greedy_column_colouring(pattern_here).max()) + 1
        widest_row = int(pattern_here.sum(dim=1).max())
        assert counts[size] == widest_row == min(size, 2 * half_width + 1), (
            half_width,
            size,
            counts[size],
        )
    print(
        f"band half-width {half_width}: {counts[50]} colours for n = 50 and"
        f" n = 1000, {counts[4]} for n = 4"
    )

offset = torch.arange(50)[None, :] - torch.arange(50)[:, None]  # j - i
two_diagonals = (offset == 0) | (offset == 3)  # J_ii and J_i,i+3 only
sparse_band_colours = greedy_column_colouring(two_diagonals)
print(
    "main diagonal and third superdiagonal, n = 50:"
    f" {int(sparse_band_colours.max()) + 1} colours"
)
# Integer colours: exact.
assert is_valid_colouring(two_diagonals, sparse_band_colours)
assert int(sparse_band_colours.max()) + 1 == 2

# %%
# The basics' one-hot :math:`v` is a colouring
# --------------------------------------------
#
# The basics' batch of :math:`N` maps :math:`\mathbb{R}^2 \to \mathbb{R}^3`
# (:ref:`sphx_glr_auto_examples_basics_plot_04_batched_jacobian.py`) has,
# flattened, a block-diagonal :math:`J \in \mathbb{R}^{3N \times 2N}`. Greedy
# colouring of its pattern gives 2 column colours (the input component
# :math:`j` of each point) and 3 row colours (the output component :math:`i`):
# the seeds are exactly the one-hot :math:`v` of that page, and its three
# VJPs are a row colouring. Two JVPs would do as well.


def batch_function(x):
    a, b = x[:, 0], x[:, 1]
    return torch.stack((a * b, torch.sin(a + b**2), a**2 - 3 * b), dim=1)  # (N, 3)


N = 1000
points = 2 * torch.rand(N, 2, generator=generator, dtype=torch.float64) - 1
block_pattern = torch.block_diag(*[torch.ones(3, 2, dtype=torch.bool)] * N)  # (3N, 2N)
block_columns = greedy_column_colouring(block_pattern)
block_rows = greedy_column_colouring(block_pattern.T)
# Integer colours: exact.
assert torch.equal(block_columns, torch.arange(2 * N) % 2) and torch.equal(
    block_rows, torch.arange(3 * N) % 3
)
print(
    f"block-diagonal ({3 * N} x {2 * N}):"
    f" {int(block_columns.max()) + 1} column colours,"
    f" {int(block_rows.max()) + 1} row colours"
)


def flat_batch_function(flat_x):
    return batch_function(flat_x.reshape(N, 2)).flatten()


# (2, 3N)
columns = compressed_by_jvps(flat_batch_function, points.flatten(), block_columns)
# (N, 3, 2): column j of every J_n from JVP j
per_point = columns.reshape(2, N, 3).permute(1, 2, 0)
a, b = points[:, 0], points[:, 1]
cosine = torch.cos(a + b**2)
expected_blocks = torch.stack(  # J_n by hand, (N, 3, 2)
    (
        torch.stack((b, a), 1),
        torch.stack((cosine, 2 * b * cosine), 1),
        torch.stack((2 * a, torch.full_like(a, -3.0)), 1),
    ),
    1,
)
# The same few products of entries at most 3 in magnitude (b, a, 2a, -3, 1 or 2b times
# the same cosine), in another order, plus exact zeros: a few eps (2.2e-16).
torch.testing.assert_close(per_point, expected_blocks, rtol=1e-12, atol=1e-12)
print("2 JVPs give all", N, "Jacobians of shape (3, 2)")

# %%
# .. _colouring-cost:
#
# Cost: colours against columns
# -----------------------------
#
# At :math:`n = 500`, the dense :func:`torch.func.jacfwd` pushes :math:`n`
# seeds through the stencil (one per column of its result), the coloured
# version 3 (one per row of its result :math:`B^\top`, counted below).
# Under :func:`torch.func.vmap`, :math:`u` carries no batch dimension, so the
# operations on the value :math:`f(u)` (and on what does not depend on the
# seed, such as :math:`\cos u` for the derivative of :math:`\sin u`) have
# no batched input and need to run only once, whatever the number of seeds;
# the seeds and the tangents carry the batch, so their operations run on
# :math:`k` times the data. The work for :math:`k` seeds would then be a
# fixed part :math:`e_0`, about one evaluation of :math:`f`, plus
# :math:`e_1` per seed, and the dense-to-coloured ratio
# :math:`(e_0 + e_1 n)/(e_0 + 3 e_1)` below :math:`n/3` because both pay
# :math:`e_0`. That is what the site's tests (``tests/test_torch_claims.py``)
# find when they count the elements every operation writes: for
# :math:`k = 2, 3` and :math:`n` seeds, a fixed part between one and two
# evaluations of :math:`f` plus a part per seed, and a ratio below
# :math:`n/3`; and that :func:`torch.func.jacfwd`, which runs its own code
# for the same :math:`n` seeds, writes over 50 times as many as the coloured
# version. This page shows the time. The dense result holds
# :math:`n^2` entries; the coloured one, :math:`B`, holds :math:`3n`, or,
# unpacked into the COO tensor, :math:`3n - 2` values plus their
# :math:`2(3n - 2)` int64 indices (checked below).

n_large = 500
residual_large, jacobian_by_hand_large = make_residual(n_large)
u_large = torch.randn(n_large, generator=generator, dtype=torch.float64)
pattern_large = band_pattern(n_large, 1)
colours_large = greedy_column_colouring(pattern_large)

compressed_large = compressed_by_jvps(residual_large, u_large, colours_large)
dense_large = torch.func.jacfwd(residual_large)(u_large)
recovered_large = unpack_columns(
    compressed_large, pattern_large, colours_large
).to_dense()
# In row i the colour seed and jacfwd's one-hot seed put the same single 1 in the
# stencil: the same operations on the same numbers, plus exact zeros; the hand formula
# is a few eps (2.2e-16) of entries below 5.1e5 away, ~5e-10 << 1e-6.
torch.testing.assert_close(recovered_large, dense_large, rtol=1e-12, atol=1e-12)
torch.testing.assert_close(
    recovered_large, jacobian_by_hand_large(u_large), rtol=1e-12, atol=1e-6
)

n_colours = compressed_large.shape[0]  # one row per seed compressed_by_jvps pushed
print(f"n = {n_large}: {n_colours} JVPs instead of {n_large}")
assert n_colours == 3 and n_colours < n_large
coo_large = unpack_columns(compressed_large, pattern_large, colours_large).coalesce()
print(
    f"result entries: jacfwd {dense_large.numel():,}, B {compressed_large.numel():,},"
    f" COO {coo_large._nnz():,} values + {coo_large.indices().numel():,}"
    f" {coo_large.indices().dtype} indices"
)
assert dense_large.numel() == n_large**2 and compressed_large.numel() == 3 * n_large
assert coo_large._nnz() == 3 * n_large - 2
assert coo_large.indices().shape == (2, 3 * n_large - 2)
assert coo_large.indices().dtype == torch.int64


def median_ms(fn):
    fn()  # warm-up
    return (
        benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=1)
        .blocked_autorange(min_run_time=0.1)
        .median
        * 1e3
    )


coloured_ms = median_ms(
    lambda: compressed_by_jvps(residual_large, u_large, colours_large)
)
dense_ms = median_ms(lambda: torch.func.jacfwd(residual_large)(u_large))
speed = dense_ms / coloured_ms
print(
    f"median time: coloured {coloured_ms:.2f} ms, jacfwd {dense_ms:.2f} ms -> coloured "
    + (f"{speed:.1f}x faster" if speed >= 1 else f"{1 / speed:.1f}x slower")
)

# %%
# These times come from the machine that built this page (median of several
# runs after a warm-up, both starting from the same ``u``, in one thread:
# ``num_threads=1``, ``Timer``'s default, passed to say so); they are shown,
# not asserted.
#
# The picture
# -----------
#
# The colouring. Left: the pattern of :math:`J` for :math:`n = 12`, each non-zero in its
# column's colour. Right: the compressed :math:`B = JS`, three columns, each
# entry labelled with the column of :math:`J` it came from.

palette = torch.tensor([[0.27, 0.51, 0.71], [0.87, 0.49, 0.20], [0.35, 0.66, 0.35]])
pattern_image = torch.ones(n_small, n_small, 3)
pattern_image[rows, cols] = palette[colours[cols]]
compressed_image = torch.ones(n_small, 3, 3)
source_column = torch.full((n_small, 3), -1)
source_column[rows, colours[cols]] = cols
compressed_image[source_column >= 0] = palette[
    torch.arange(3).expand(n_small, 3)[source_column >= 0]
]

fig, axes = plt.subplots(
    1, 2, figsize=(7.2, 5.2), layout="constrained", width_ratios=(n_small, 3)
)
axes[0].imshow(pattern_image.numpy())
axes[0].set_title(f"pattern of J ({n_small} x {n_small}), colour c(j)", fontsize=10)
axes[0].set_xlabel("column j")
axes[0].set_ylabel("row i")
axes[1].imshow(compressed_image.numpy())
for i in range(n_small):
    for c in range(3):
        if source_column[i, c] >= 0:
            label = f"j={int(source_column[i, c])}"
            axes[1].text(c, i, label, ha="center", va="center", fontsize=8.5)
axes[1].set_title("B = J S", fontsize=10)
axes[1].set_xlabel("colour c (one JVP)")
axes[1].set_xticks(range(3))
for ax, width in zip(axes, (n_small, 3)):
    ax.set_yticks(range(0, n_small, 2))
    ax.set_xticks([k - 0.5 for k in range(width + 1)], minor=True)
    ax.set_yticks([k - 0.5 for k in range(n_small + 1)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
axes[0].set_xticks(range(0, n_small, 2))
plt.show()

# %%
# What to remember
# ----------------
#
# * Columns that never share a row can share a JVP: with a valid colouring,
#   :math:`C` JVPs (or :math:`C` VJPs for a row colouring) give every
#   non-zero of :math:`J`. A :math:`J` whose band of half-width :math:`b`
#   is full needs :math:`2b + 1` for every :math:`n \ge 2b + 1` (a smaller
#   one needs :math:`n`); zeros inside the band can make it fewer.
# * The colouring must come from the known pattern; an invalid one adds
#   entries together without any error.
# * The one-hot :math:`v` for a batch of small Jacobians is a colouring of a
#   block-diagonal :math:`J`.
#
# Next: :ref:`sphx_glr_auto_examples_jacobians_plot_06_pytrees_and_auxiliary_outputs.py`.
# Reference: :func:`torch.func.jvp`, :func:`torch.func.vjp`,
# :func:`torch.func.vmap`, :func:`torch.func.jacfwd`,
# :func:`torch.nn.functional.one_hot`, :func:`torch.cat`,
# :func:`torch.sparse_coo_tensor`, :func:`torch.block_diag`,
# :class:`torch.utils.benchmark.Timer`.
