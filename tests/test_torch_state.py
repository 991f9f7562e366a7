"""The reset that runs before every gallery example restores torch's global
state, so no example sees what an earlier one changed."""

import sys

import torch
from conftest import REPO

sys.path.insert(0, str(REPO / "docs" / "_ext"))
import torch_state  # noqa: E402


def state():
    """Every global setting the reset is there to restore (and the RNG, checked below)."""
    return {
        "dtype": torch.get_default_dtype(),
        "threads": torch.get_num_threads(),
        "grad": torch.is_grad_enabled(),
        "device": torch.empty(0).device,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "anomaly": torch.is_anomaly_enabled(),
    }


def test_reset_restores_the_state_of_a_fresh_interpreter():
    torch_state.reset_torch_state({}, "first.py", "before")
    fresh_random = torch.rand(3)
    fresh = state()

    # What a careless example could leave behind.
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(1234)
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)
    torch.set_printoptions(precision=1)
    torch.set_default_device("meta")
    torch.use_deterministic_algorithms(True)
    torch.autograd.set_detect_anomaly(True)
    try:
        assert state() != fresh
        torch_state.reset_torch_state({}, "second.py", "before")
        assert state() == fresh
        assert torch.equal(torch.rand(3), fresh_random), "the random stream starts over"
        assert str(torch.tensor([1.23456])) == "tensor([1.2346])"
    finally:
        torch_state.reset_torch_state({}, "last.py", "after")
