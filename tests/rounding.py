"""A model of another machine's rounding, for the examples' checks.

On another CPU, BLAS, kernel level or thread count, the operations that are
not correctly rounded give other last bits: reductions (``sum``, ``norm``),
BLAS and LAPACK (``mm``, ``solve``, ``eigh``) and the vectorised
transcendental functions (``exp``, ``tanh``, ``pow``). ``+ - * / sqrt`` of
the same operands in the same order are correctly rounded (IEEE 754) and
agree everywhere.

``OtherRounding(k, seed)`` is a TorchDispatchMode that multiplies every
floating-point result of those operations by ``1 + k·ε·u``, ε the dtype's
machine epsilon and u in [-1, 1) a hash of the result's own bits and SEED.
So the same computation still gives the same answer, as on any one machine,
while a check that holds only for this machine's last bits fails.
Integer-valued results (counts, sums of one-hots) are left alone: they are
exact everywhere.

The mode sits below autograd and torch.func, so it sees the operations of
forward and backward passes alike, after decomposition; an example's own
dispatch modes (op counters) entered inside it see the same operations as
without it.
"""

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

# Operations whose last bits differ between machines, by name (their
# in-place and out= forms share it).
REDUCTIONS = """sum mean prod cumsum cumprod nansum norm linalg_vector_norm linalg_norm var std var_mean
std_mean logsumexp _softmax _log_softmax _softmax_backward_data _log_softmax_backward_data dot vdot
trace _cdist_forward _cdist_backward _euclidean_dist""".split()
LINEAR_ALGEBRA = """mm bmm addmm addmv mv baddbmm addbmm addr _addmm_activation convolution
convolution_backward linalg_solve _linalg_solve_ex linalg_lu_factor_ex linalg_lu_solve linalg_cholesky_ex
cholesky_solve cholesky_inverse _linalg_eigh linalg_eig linalg_qr _linalg_svd triangular_solve
linalg_solve_triangular linalg_inv_ex _linalg_det _linalg_slogdet linalg_householder_product geqrf
ormqr""".split()
TRANSCENDENTAL = """exp exp2 expm1 log log1p log2 log10 tanh sigmoid sin cos tan asin acos atan atan2
sinh cosh asinh acosh atanh erf erfc erfinv lgamma digamma softplus gelu silu elu mish logit
tanh_backward sigmoid_backward softplus_backward gelu_backward silu_backward elu_backward""".split()
# pow with these scalar exponents is computed with correctly rounded
# operations (x*x, sqrt, 1/x) by torch's kernels on every CPU.
EXACT_POWERS = {1, 2, 0.5, -1}

INEXACT = frozenset(REDUCTIONS + LINEAR_ALGEBRA + TRANSCENDENTAL + ["pow"])


def _name(func) -> str:
    """The operation's name without its in-place underscore: exp_ -> exp."""
    name = func.overloadpacket.__name__
    return name[:-1] if name.endswith("_") and not name.startswith("_") else name


def _hash_unit(bits: np.ndarray, seed: int) -> np.ndarray:
    """A value in [-1, 1) per element, from the element's bits (uint64) and SEED."""
    with np.errstate(over="ignore"):  # the products wrap, as intended
        x = bits ^ np.uint64((seed * 0x2545F4914F6CDD1D) % (1 << 64))
        x = x ^ (x >> np.uint64(31))
        x = x * np.uint64(0x9E3779B97F4A7C15)
        x = x ^ (x >> np.uint64(29))
        x = x * np.uint64(0x5851F42D4C957F2D)
        x = x ^ (x >> np.uint64(32))
    return ((x >> np.uint64(11)) & np.uint64((1 << 52) - 1)) / float(1 << 51) - 1.0


def perturb(values: np.ndarray, k: float, seed: int) -> np.ndarray:
    """VALUES (a float NumPy array) with each non-integer element multiplied by 1 + k·ε·u."""
    wide = values.astype(np.float64)
    bits = (
        values.view(np.int64)
        if values.dtype == np.float64
        else values.view(np.int32).astype(np.int64)
    ).astype(np.uint64)
    changed = (
        wide * (1 + k * np.finfo(values.dtype).eps * _hash_unit(bits, seed))
    ).astype(values.dtype)
    exact = (values == np.round(values)) | np.isnan(
        values
    )  # integers, zeros, infinities
    return np.where(exact, values, changed)


class OtherRounding(TorchDispatchMode):
    """Results of inexact operations perturbed by up to K units of ε, by a hash of SEED and their bits."""

    def __init__(self, k: float = 4, seed: int = 1):
        super().__init__()
        self.k, self.seed = k, seed

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        name = _name(func)
        if name not in INEXACT:
            return result
        if (
            name == "pow"
            and len(args) > 1
            and isinstance(args[1], (int, float))
            and args[1] in EXACT_POWERS
        ):
            return result
        if isinstance(result, torch.Tensor):
            return self._apply(func, result)
        if isinstance(result, (tuple, list)):
            return type(result)(
                self._apply(func, r) if isinstance(r, torch.Tensor) else r
                for r in result
            )
        return result

    def _apply(self, func, result: torch.Tensor) -> torch.Tensor:
        """RESULT perturbed in place. The arithmetic runs in NumPy, so torch
        allocates nothing here and a page's own allocation counts (torch.profiler
        with profile_memory=True) are the same with the mode as without it.
        Results in other dtypes than float32/64 and complex64/128 (none on the
        site's pages) are left alone."""
        if result.dtype not in PERTURBED or result.numel() == 0:
            return result
        if (
            result.device.type != "cpu"
            or result.layout != torch.strided
            or result._is_zerotensor()
        ):
            return result
        with torch.no_grad():
            values = np.ascontiguousarray(
                result.resolve_conj().resolve_neg().numpy(force=True)
            )
            real = (
                values.view(values.real.dtype) if values.dtype.kind == "c" else values
            )
            changed = perturb(real, self.k, self.seed).view(values.dtype)
            result.copy_(torch.from_numpy(changed.reshape(result.shape)))
        return result


PERTURBED = {torch.float32, torch.float64, torch.complex64, torch.complex128}
