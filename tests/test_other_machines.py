"""Every example passes on other machines, not only on this one.

A reader's CPU, BLAS and thread count give other last bits to reductions,
BLAS/LAPACK and transcendental functions: a check that holds only for this
machine's rounding fails there. Each example runs alone as a script (as in
test_downloads.py) in each of these settings and must pass:

- each ATen kernel level below this CPU's own (``ATEN_CPU_CAPABILITY``; the
  site's build runs at the CPU's own level);
- MKL's conditional-numerical-reproducibility branches (``MKL_CBWR``), where
  torch uses MKL (x86-64);
- one thread;
- the results of inexact operations perturbed by a few units of eps
  (tests/rounding.py), with k = 4 and 8, each with two hashes.

Timers measure one block in these runs (the pages show times and never
assert them); nothing else differs from a reader's run.
"""

import json
import platform
from pathlib import Path

import pytest
from conftest import EXAMPLES, Standalone


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {
        flag
        for line in text.splitlines()
        if line.startswith("flags")
        for flag in line.split(":", 1)[1].split()
    }


def aten_levels_below_this_cpu() -> list[str]:
    """The ATEN_CPU_CAPABILITY levels this CPU runs, but the highest (torch's own choice)."""
    flags = cpu_flags()
    levels = ["default"]
    if "avx2" in flags:
        levels.append("avx2")
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        levels.append("avx512")
    return levels[:-1] or ["default"]


X86 = platform.machine().lower() in ("x86_64", "amd64")
SETTINGS = {
    **{
        f"aten-{level}": {"env": {"ATEN_CPU_CAPABILITY": level}}
        for level in aten_levels_below_this_cpu()
    },
    **(
        {
            f"mkl-{branch}": {"env": {"MKL_CBWR": branch}}
            for branch in ("COMPATIBLE", "AVX2")
        }
        if X86
        else {}
    ),
    "one-thread": {"env": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}},
    **{
        f"rounding-k{k}-hash{seed}": {"rounding": [k, seed]}
        for k in (4, 8)
        for seed in (1, 2)
    },
}
# Dynamo compiles nothing while a Python dispatch mode is active (it runs the
# frame eagerly), so a page whose point is torch.compile, or that runs
# torch.cond under vmap (which then returns a tuple), cannot run under the
# rounding model; it still runs in every kernel and thread setting.
COMPILES = ("torch.compile(", "torch.cond(")
# The mode runs each operation a second time below itself, and torch.profiler
# records that inner call as an event of its own: a page that asserts exact
# counts of an operator's events (under_the_hood/plot_02: aten::mm per layer)
# counts each twice under the model. It still runs in every kernel and thread
# setting. (Allocations are not affected: the model perturbs in place, in NumPy.)
COUNTS_OPERATOR_EVENTS = {"under_the_hood/plot_02_memory_what_reverse_mode_keeps"}

_SERVERS: dict[str, Standalone] = {}


def server(setting: str) -> Standalone:
    """One standalone server per setting and test process, started on first use."""
    if setting not in _SERVERS:
        _SERVERS[setting] = Standalone(SETTINGS[setting].get("env"))
    return _SERVERS[setting]


@pytest.fixture(scope="module", autouse=True)
def close_servers():
    yield
    for started in _SERVERS.values():
        started.close()
    _SERVERS.clear()


# One pytest-xdist worker runs all the tests of a setting: one server each.
SETTING = pytest.mark.parametrize(
    "setting",
    [pytest.param(s, marks=pytest.mark.xdist_group(f"machine-{s}")) for s in SETTINGS],
)


@SETTING
def test_the_setting_takes_effect(setting):
    """The kernel level and thread count asked for are what torch runs with."""
    about = server(setting).run("about")
    assert about["returncode"] == 0, about["stderr"]
    state = json.loads(about["stdout"])
    level = SETTINGS[setting].get("env", {}).get("ATEN_CPU_CAPABILITY")
    if level:
        assert state["capability"].lower() == level, (setting, state)
    if setting == "one-thread":
        assert state["threads"] == 1, state


@SETTING
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_passes_on_another_machine(example, setting, tmp_path):
    rounding = SETTINGS[setting].get("rounding")
    if rounding and any(
        call in example.read_text(encoding="utf-8") for call in COMPILES
    ):
        pytest.skip(
            "compiles with torch.compile, which compiles nothing under a Python dispatch mode"
        )
    if rounding and f"{example.parent.name}/{example.stem}" in COUNTS_OPERATOR_EVENTS:
        pytest.skip("counts operator events, which the model's mode records twice")
    result = server(setting).run(
        "script", example, tmp_path, rounding=rounding, quick_timers=True
    )
    assert result["returncode"] == 0, (
        f"{example.name} fails with {setting}:\n" + result["stderr"][-3000:]
    )


def test_the_rounding_model_perturbs_only_inexact_results_and_always_alike():
    import torch
    from rounding import OtherRounding

    x = torch.linspace(0.1, 3, 1000, dtype=torch.float64)
    plain_exp, plain_product = x.exp(), x * x
    with OtherRounding(k=8, seed=1):
        first, second, product = x.exp(), x.exp(), x * x
        count = torch.ones(1000, dtype=torch.float64).sum()
    assert first.equal(second), "the same computation gives the same answer"
    assert not first.equal(plain_exp) and product.equal(plain_product), (
        "exp is perturbed, x * x is not"
    )
    # Up to k eps relative, plus the rounding of the product y (1 + k eps u): half an ulp.
    assert (
        (first - plain_exp).abs()
        <= (8 + 1) * torch.finfo(torch.float64).eps * plain_exp.abs()
    ).all()
    assert count.item() == 1000, "an integer-valued sum is exact everywhere"


def test_the_rounding_model_allocates_nothing_the_profiler_counts():
    """Pages count the bytes their computation allocates; under the model they
    must count the same bytes (the model perturbs in place, in NumPy), and
    float32 and complex results are perturbed too."""
    import torch
    from rounding import OtherRounding

    def allocated(run):
        with torch.profiler.profile(profile_memory=True) as profile:
            run()
        return sum(max(e.self_cpu_memory_usage, 0) for e in profile.events())

    x = torch.linspace(0.1, 3, 1000, dtype=torch.float64)
    plain = allocated(
        lambda: (
            x.exp() @ x.tanh(),
            torch.linalg.solve(torch.eye(3, dtype=x.dtype) * 2, x[:3]),
        )
    )
    with OtherRounding(k=8, seed=1):
        assert (
            allocated(
                lambda: (
                    x.exp() @ x.tanh(),
                    torch.linalg.solve(torch.eye(3, dtype=x.dtype) * 2, x[:3]),
                )
            )
            == plain
        )
        single, complex_ = x.float().exp(), (x * 1j).exp()
    assert not single.equal(x.float().exp()) and not complex_.equal((x * 1j).exp())
