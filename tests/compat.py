"""Run every tutorial's downloads under other torch releases (`make compat`).

For each release named on the command line (default: DEFAULT_RELEASES below,
the oldest release the downloads support and the newest the maintainers' pip
served when it was set), this creates a
virtual environment of its own under build/compat/, installs that torch with
what the examples import (matplotlib, and IPython for the notebooks), runs
every example alone as its script and as the notebook sphinx-gallery makes of
it (tests/standalone.py, as test_downloads.py does), then deletes the
environment: on Linux, PyPI's torch wheels other than a CPU one are CUDA
builds of several GB.

What passed is written to docs/_ext/torch_releases.json, per example with the
SHA-256 of the source it ran: a tutorial page lists a release only while its
example is still that source (docs/_ext/torch_releases.py). Entries of
releases not run this time are kept, and an example whose current source the
record already holds for a release is not run with it again.

    python tests/compat.py [RELEASE ...]
"""

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from conftest import Standalone
from sitebuild import EXAMPLES, REPO, gallery_notebook

sys.path.insert(0, str(REPO / "docs" / "_ext"))
from torch_releases import RECORD, build_platform, release_key  # noqa: E402 (the page side of the record)

# The oldest torch the downloads support, and the newest the maintainers' pip
# served when this was set (its configuration capped torch at 2.14.1). Why this floor: see
# docs/contributing.md, "torch releases".
DEFAULT_RELEASES = ["2.5.1", "2.14.1"]


def example_key(example: Path) -> str:
    return f"{example.parent.name}/{example.name}"


def recorded(entry: dict, example: Path, release: str) -> bool:
    """ENTRY records how EXAMPLE's current source did with torch RELEASE."""
    same = entry.get("sha256") == hashlib.sha256(example.read_bytes()).hexdigest()
    return same and (
        release in entry.get("passed", []) or release in entry.get("failed", {})
    )


def requirements(release: str) -> list[str]:
    """What a reader installs beside torch RELEASE to run the downloads."""
    major, minor = (int(part) for part in release.split(".")[:2])
    # Wheels of torch before 2.3 were built against NumPy 1 and fail with NumPy 2.
    numpy = ["numpy<2"] if (major, minor) < (2, 3) else []
    return [f"torch=={release}", "matplotlib", "ipython", *numpy]


def environment(release: str) -> Path:
    folder = REPO / "build" / "compat" / f"torch-{release}"
    shutil.rmtree(folder, ignore_errors=True)
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", *requirements(release)], check=True
    )
    return folder


def run_release(release: str, examples: list[Path]) -> dict:
    """{example key: (SHA-256 of the source that ran, {"script": error or None,
    "notebook": error or None})} for EXAMPLES under torch RELEASE."""
    folder = environment(release)
    results = {}
    try:
        server = Standalone(python=folder / "bin" / "python")
        for example in examples:
            outcome = {}
            with tempfile.TemporaryDirectory() as work:
                script = (
                    Path(work) / example.name
                )  # this very source is what runs and what is hashed
                script.write_bytes(example.read_bytes())
                notebook = script.with_suffix(".ipynb")
                notebook.write_text(json.dumps(gallery_notebook(script)))
                for kind, path in (("script", script), ("notebook", notebook)):
                    result = server.run(kind, path, work)
                    failed = result["returncode"] != 0 or (
                        kind == "notebook" and result["figures"] < 1
                    )
                    outcome[kind] = (
                        (result["stderr"].strip() or result["stdout"].strip())[-1500:]
                        if failed
                        else None
                    )
                results[example_key(example)] = (
                    hashlib.sha256(script.read_bytes()).hexdigest(),
                    outcome,
                )
            print(
                f"torch {release}: {example_key(example)}: "
                + ", ".join(
                    f"{k} {'FAILED' if v else 'passed'}" for k, v in outcome.items()
                ),
                flush=True,
            )
        server.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def main(releases: list[str]) -> int:
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {"examples": {}}
    record["platform"] = build_platform()
    failures = 0
    for release in releases:
        # An example whose record already says how this very source did with RELEASE is not run again.
        stale = [
            e
            for e in EXAMPLES
            if not recorded(record["examples"].get(example_key(e), {}), e, release)
        ]
        print(
            f"torch {release}: {len(stale)} of {len(EXAMPLES)} examples to run",
            flush=True,
        )
        if not stale:
            continue
        for key, (sha256, outcome) in run_release(release, stale).items():
            entry = record["examples"].setdefault(key, {})
            if entry.get("sha256") != sha256:
                entry.clear()  # results for another source say nothing about this one
                entry["sha256"] = sha256
            entry.setdefault("passed", [])
            entry.setdefault("failed", {})
            entry["failed"].pop(release, None)
            if release in entry["passed"]:
                entry["passed"].remove(release)
            if any(outcome.values()):
                failures += 1
                entry["failed"][release] = (
                    next(error for error in outcome.values() if error)
                    .strip()
                    .splitlines()[-1]
                )
            else:
                entry["passed"].append(release)
            entry["passed"].sort(key=release_key)
    record["examples"] = dict(sorted(record["examples"].items()))
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{failures} example runs failed; results in {RECORD.relative_to(REPO)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or DEFAULT_RELEASES))
