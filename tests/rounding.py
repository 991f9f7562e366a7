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


def _hash_unit(bits: torch.Tensor, seed: int) -> torch.Tensor:
    """A value in [-1, 1) per element, from the element's bits (int64) and SEED."""
    salt = (seed * 0x2545F4914F6CDD1D) % (1 << 64)
    x = bits ^ (salt - (1 << 64) if salt >= 1 << 63 else salt)  # as an int64
    x = x ^ (x >> 31)  # arithmetic shift on negative values: still a deterministic mix
    x = x * -0x61C8864680B583EB  # 0x9E3779B97F4A7C15 as int64 (wraps, as int64 products do)
    x = x ^ (x >> 29)
    x = x * 0x5851F42D4C957F2D
    x = x ^ (x >> 32)
    return ((x >> 11) & ((1 << 52) - 1)).to(torch.float64) / float(1 << 51) - 1.0


def perturb(result: torch.Tensor, k: float, seed: int) -> torch.Tensor:
    """RESULT with each non-integer element multiplied by 1 + k·ε·u."""
    if result.is_complex():
        parts = torch.view_as_real(result)
        return torch.view_as_complex(perturb(parts.contiguous(), k, seed)).view(result.shape)
    if not result.is_floating_point() or result.numel() == 0:
        return result
    if result.dtype in (torch.float64,):
        bits = result.contiguous().view(torch.int64)
    else:
        bits = result.contiguous().to(torch.float32).view(torch.int32).to(torch.int64)
    u = _hash_unit(bits, seed).view(result.shape)
    factor = 1 + k * torch.finfo(result.dtype).eps * u
    changed = (result * factor.to(result.dtype)).to(result.dtype)
    exact = result == result.round()  # integers, zeros, infinities
    return torch.where(exact | result.isnan(), result, changed)


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
        if name == "pow" and len(args) > 1 and isinstance(args[1], (int, float)) and args[1] in EXACT_POWERS:
            return result
        if isinstance(result, torch.Tensor):
            return self._apply(func, result)
        if isinstance(result, (tuple, list)):
            return type(result)(self._apply(func, r) if isinstance(r, torch.Tensor) else r for r in result)
        return result

    def _apply(self, func, result: torch.Tensor) -> torch.Tensor:
        changed = perturb(result, self.k, self.seed)
        if changed is result:
            return result
        if func._schema.is_mutable or result._is_view():
            # An in-place or out= form: its caller holds RESULT itself.
            with torch.no_grad():
                result.copy_(changed)
            return result
        return changed
