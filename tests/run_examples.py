"""Run every example as a reader runs its download: ``python plot_*.py``,
alone, in an empty folder, with matplotlib's non-interactive backend.

For machines where tests/standalone.py cannot fork (Windows) or where only
torch and matplotlib are installed: the CI workflow's job on other operating
systems runs it. Prints one line per example; exits 1 if any failed.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = sorted(
    (Path(__file__).resolve().parent.parent / "examples").glob("*/plot_*.py")
)


def main() -> int:
    failed = []
    for example in EXAMPLES:
        with tempfile.TemporaryDirectory() as work:
            result = subprocess.run(
                [sys.executable, str(example)],
                cwd=work,
                capture_output=True,
                text=True,
                env=dict(os.environ, MPLBACKEND="Agg"),
            )
        name = f"{example.parent.name}/{example.name}"
        print(f"{'passed' if result.returncode == 0 else 'FAILED'} {name}", flush=True)
        if result.returncode != 0:
            failed.append(name)
            print(result.stderr[-3000:], flush=True)
    print(f"{len(EXAMPLES) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
