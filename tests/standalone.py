"""Run downloaded tutorials alone, as a reader does, without paying for
`import torch` on every run.

Started once per test process (``python standalone.py``), this server imports
torch, matplotlib, IPython and what the examples load lazily (``PRELOAD``),
and runs nothing else. For each request it forks a child, so every run starts
from the state of a new interpreter that has just imported them: no example
can depend on another having run first.

A request is one JSON line on standard input,
``{"kind": "script" | "notebook", "path": ..., "cwd": ...}``, and its answer
one JSON line on standard output,
``{"returncode": ..., "stdout": ..., "stderr": ..., "figures": ...}``.
Two optional keys model another machine (tests/test_other_machines.py):
``"rounding": [k, seed]`` runs the example under ``rounding.OtherRounding(k,
seed)``, and ``"quick_timers": true`` makes ``torch.utils.benchmark.Timer``
measure one block (the pages show times and never assert them). The kind
``"about"`` answers with the torch settings in force: CPU capability, threads.

- A script runs as ``python script.py`` runs it: as ``__main__``, in CWD.
- A notebook's code cells run in order in IPython (the shell inside Jupyter's
  Python kernel) with the inline figure backend that the kernel selects, so
  the figures a notebook shows are image outputs; ``figures`` counts them.
  What the cells print is ``stdout``. A cell that raises stops the run.

A run that takes more than 10 minutes is killed (SIGALRM).
"""

import importlib
import json
import os
import runpy
import signal
import sys
import tempfile
import traceback
import warnings

# What the examples import, directly or through torch's lazy imports
# (torch.func and friends load torch._dynamo, which loads sympy; the
# min-cut partitioner loads networkx). Imported once here, they cost a run
# nothing; a reader's run imports the same modules, only later.
PRELOAD = [
    "torch",
    "torch._dynamo",
    "torch._functorch.partitioners",
    "torch._decomp.decompositions_for_jvp",
    "torch.func",
    "torch.utils.checkpoint",
    "torch.utils.flop_counter",
    "networkx",
    "matplotlib.pyplot",
    "IPython",
]
with warnings.catch_warnings():
    warnings.simplefilter(
        "ignore"
    )  # torch 2.13's own deprecation of torch.jit.script, met while loading
    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # an older torch (make compat): the example that needs it fails as it would for a reader

from rounding import OtherRounding  # noqa: E402 (beside this file; needs torch, loaded above)

TIME_LIMIT = 600  # seconds


def run_script(path: str) -> int:
    sys.argv = [path]
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 (reported as Python reports it)
        traceback.print_exc()
        return 1
    return 0


def run_notebook(path: str) -> tuple[int, int]:
    """Run the notebook's code cells; return (exit code, image outputs shown)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    class Shell(InteractiveShell):
        def enable_gui(self, gui=None):
            pass  # inline figures need no GUI event loop (as in Jupyter's Python kernel)

    notebook = json.loads(open(path, encoding="utf-8").read())
    shell = Shell.instance(colors="nocolor")  # tracebacks as plain text
    shell.enable_matplotlib("inline")  # what Jupyter's Python kernel starts with
    figures = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        with capture_output() as captured:
            result = shell.run_cell("".join(cell["source"]), store_history=True)
        sys.stdout.write(captured.stdout)
        sys.stderr.write(captured.stderr)
        figures += sum("image/png" in output.data for output in captured.outputs)
        if not result.success:
            return 1, figures
    return 0, figures


def quicken_timers() -> None:
    """Timer.blocked_autorange measures one block, whatever min_run_time it is given."""
    from torch.utils.benchmark import Timer

    measure = Timer.blocked_autorange
    Timer.blocked_autorange = lambda self, callback=None, min_run_time=0.2: measure(
        self, callback, min_run_time=0
    )


def about() -> None:
    import torch

    print(
        json.dumps(
            {
                "capability": torch.backends.cpu.get_cpu_capability(),
                "threads": torch.get_num_threads(),
            }
        )
    )


def child(request: dict, out: int, err: int, count: int) -> None:
    """In the forked child: run REQUEST, its output in the open files OUT and
    ERR, and a notebook's number of figures in COUNT."""
    signal.alarm(TIME_LIMIT)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    if request["kind"] == "about":
        about()
        sys.stdout.flush()
        os._exit(0)
    os.chdir(request["cwd"])
    sys.path[0] = os.path.dirname(
        os.path.abspath(request["path"])
    )  # as `python script.py` sets it
    if request.get("quick_timers"):
        quicken_timers()
    if request.get("rounding"):
        OtherRounding(
            *request["rounding"]
        ).__enter__()  # for the rest of this child's life
    if request["kind"] == "script":
        code = run_script(request["path"])
    else:
        code, figures = run_notebook(request["path"])
        os.write(count, str(figures).encode())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        files = [
            tempfile.TemporaryFile("w+") for _ in range(3)
        ]  # stdout, stderr, figures
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            child(request, *(file.fileno() for file in files))
        _, status = os.waitpid(pid, 0)
        for file in files:
            file.seek(0)
        out, err, figures = (file.read() for file in files)
        for file in files:
            file.close()
        answer = {
            "returncode": os.waitstatus_to_exitcode(status),
            "stdout": out,
            "stderr": err,
            "figures": int(figures or 0),
        }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
