"""Give every gallery example the torch state of a fresh interpreter.

sphinx-gallery runs the examples one after another in one process: a global
change one makes (default dtype, RNG, grad mode, threads, device, print
options, torch.compile's caches) would reach every later one. conf.py's
``reset_modules`` (sphinx-gallery's option for this) runs
``reset_torch_state`` before each example and after the last.
"""

import sys

_FRESH = None  # torch's global state as it was before the first example ran


def _snapshot(torch):
    return {
        "dtype": torch.get_default_dtype(),
        "rng": torch.get_rng_state(),
        "threads": torch.get_num_threads(),
    }


def reset_torch_state(gallery_conf, fname, when):
    # torch is imported here, not at module level, so that a rebuild with
    # nothing to execute never pays for importing it.
    import torch

    global _FRESH
    if _FRESH is None:
        _FRESH = _snapshot(torch)
    torch.set_default_dtype(_FRESH["dtype"])
    torch.set_rng_state(_FRESH["rng"])
    torch.set_num_threads(_FRESH["threads"])
    torch.set_grad_enabled(True)
    torch.set_default_device(None)
    # Switching deterministic mode off imports torch._inductor (over a second):
    # done only when an example switched it on.
    deterministic = torch.are_deterministic_algorithms_enabled()
    if deterministic or torch.is_deterministic_algorithms_warn_only_enabled():
        torch.use_deterministic_algorithms(False)
    torch.autograd.set_detect_anomaly(False)
    torch.set_printoptions(profile="default")
    # Only an example that compiled something loaded torch._dynamo.
    if "torch._dynamo" in sys.modules:
        sys.modules["torch._dynamo"].reset()
