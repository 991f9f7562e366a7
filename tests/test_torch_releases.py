"""Each tutorial page names the torch releases its code was checked with
(docs/_ext/torch_releases.py, from the record `make compat` writes): only
releases that ran the example's current source, and always the build's own.
The rebuild scenario in test_rebuilds.py checks that an edited example's page
then names only the build's release."""

import hashlib
import json
import sys

from conftest import EXAMPLES, REPO, soup, tutorial_page

sys.path.insert(0, str(REPO / "docs" / "_ext"))
import torch_releases  # noqa: E402

OWN = torch_releases.build_release()
HERE = torch_releases.build_platform()


def entry_for(source: bytes, passed: list[str]) -> dict:
    return {
        "sha256": hashlib.sha256(source).hexdigest(),
        "passed": passed,
        "failed": {"2.0.1": "ImportError: ..."},
    }


def test_a_record_of_this_source_adds_its_releases_in_order():
    releases, where = torch_releases.checked_with(
        b"print(1)\n", entry_for(b"print(1)\n", ["2.14.1", "2.1.2"]), HERE
    )
    assert releases == sorted({"2.1.2", "2.14.1", OWN}, key=torch_releases.release_key)
    assert where == HERE
    assert "2.0.1" not in releases, "a release the example failed with is not named"


def test_a_record_of_another_source_counts_for_nothing():
    releases, where = torch_releases.checked_with(
        b"print(2)\n", entry_for(b"print(1)\n", ["2.1.2", "2.14.1"]), HERE
    )
    assert (releases, where) == ([OWN], None)
    assert torch_releases.checked_with(b"print(2)\n", None, HERE) == ([OWN], None)


def test_the_sentence_names_the_releases_and_the_platforms():
    assert (
        torch_releases.sentence(["2.13.0"], None)
        == f"Checked with torch 2.13.0 on {HERE}."
    )
    assert (
        torch_releases.sentence(["2.1.2", "2.13.0", "2.14.1"], HERE)
        == f"Checked with torch 2.1.2, 2.13.0 and 2.14.1 on {HERE}."
    )
    other = "Darwin arm64"
    assert (
        torch_releases.sentence(["2.1.2", "2.13.0"], other)
        == f"Checked with torch 2.1.2 and 2.13.0 on {other} and {HERE}."
    )


def test_the_record_names_a_sha256_and_the_releases_of_each_example_it_holds():
    record = json.loads(torch_releases.RECORD.read_text())
    assert record["platform"]
    for key, entry in record["examples"].items():
        assert (REPO / "examples" / key).suffix == ".py", key
        assert len(entry["sha256"]) == 64 and set(entry["passed"]).isdisjoint(
            entry["failed"]
        ), key


def test_every_tutorial_names_its_releases_next_to_its_downloads(site):
    record = json.loads(
        (site.root / torch_releases.RECORD.relative_to(REPO)).read_text()
    )  # the one the site was built with
    for example in EXAMPLES:
        page = soup(tutorial_page(site.html, example), "div")
        (line,) = page.select("div.sphx-glr-footer p.torch-releases")
        entry = record["examples"].get(f"{example.parent.name}/{example.name}")
        source = (
            site.root / "examples" / example.parent.name / example.name
        ).read_bytes()
        releases, where = torch_releases.checked_with(source, entry, record["platform"])
        assert line.get_text() == torch_releases.sentence(releases, where), example.name
        assert OWN in releases
