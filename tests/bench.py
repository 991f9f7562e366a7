"""Benchmark of the build (`make bench`): not a test, a measurement.

On this machine, with the dependencies already installed, in a fresh copy of
the repository: the clean build's wall time, the examples' own run times as
sphinx-gallery recorded them, the overhead between the two, the rebuild with
nothing changed, and the rebuild after editing one example. Prints a table
and writes the figures to build/bench.json.
"""

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from sitebuild import EXAMPLES, REPO, copy_repo, make


def examples_seconds(root: Path) -> dict[str, float]:
    costs = sorted(root.glob("docs/auto_examples/*/*.cost.json"))
    return {f"{p.parent.name}/{p.name.removesuffix('.cost.json')}": json.loads(p.read_text())["time"] for p in costs}


def timed_make(root: Path, what: str) -> float:
    build = make(root)
    if build.returncode != 0:
        sys.exit(f"{what}: make html failed\n{build.log[-3000:]}")
    return build.seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_repo(Path(tmp) / "repo")
        clean = timed_make(root, "clean build")
        per_example = examples_seconds(root)
        noop = timed_make(root, "no-op rebuild")
        edited = root / "examples" / EXAMPLES[0].parent.name / EXAMPLES[0].name
        edited.write_text(edited.read_text() + "\n# An edit.\n")
        one_edit = timed_make(root, "rebuild after one edit")

    examples_total = sum(per_example.values())
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "clean_build_s": round(clean, 2),
        "examples_total_s": round(examples_total, 2),
        "overhead_s": round(clean - examples_total, 2),
        "noop_rebuild_s": round(noop, 2),
        "one_example_edited_rebuild_s": round(one_edit, 2),
        "examples_s": {name: round(t, 2) for name, t in per_example.items()},
    }
    rows = [
        ("clean build (make html)", clean),
        (f"examples' own run times ({len(per_example)})", examples_total),
        ("overhead (clean - examples)", clean - examples_total),
        ("no-op rebuild", noop),
        ("rebuild after editing one example", one_edit),
    ] + [(f"  {name}", t) for name, t in per_example.items()]
    print(f"Build benchmark on {figures['machine']}")
    for label, seconds in rows:
        print(f"{label:<48} {seconds:7.2f} s")
    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=1) + "\n")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
