"""Links to PyTorch's reference: docs/_ext/torch.inv, the inventory the build
links torch names with, holds only names that PyTorch's documentation for the
pinned release documents, at the addresses docs/_ext/torch_documented.json
records (and says where it read them), and is what docs/_ext/torch_inventory.py
writes now. No site build and no torch: these run in about a second."""

import re
import zlib

import torch_inventory
from sphinx.util.inventory import InventoryFile


def committed_entries():
    """(name, type, address) of each entry, read as intersphinx reads the file."""
    inventory = InventoryFile.loads(torch_inventory.INVENTORY.read_bytes(), uri="")
    return [
        (name, objtype, item.uri)
        for objtype, items in inventory.data.items()
        for name, item in items.items()
    ]


def test_every_entry_is_a_documented_name_at_its_recorded_address():
    documented = torch_inventory.record()["documented"]
    entries = committed_entries()
    assert entries, "the inventory is empty"
    for name, objtype, address in entries:
        assert name in documented, f"{name}: not in {torch_inventory.RECORD.name}"
        assert (objtype, address) == (
            documented[name]["type"],
            documented[name]["address"],
        ), name


def test_every_recorded_address_says_where_it_was_read():
    record = torch_inventory.record()
    for name, entry in record["documented"].items():
        commit = record["sources"].get(entry["source"], "")
        assert len(commit) == 40 and int(commit, 16) >= 0, (
            f"{name}: {entry['source']} has no commit"
        )


def test_no_entry_is_a_private_name():
    private = [
        name for name, _, _ in committed_entries() if torch_inventory.is_private(name)
    ]
    assert not private, f"private names get no link: {private}"


def test_committed_inventory_is_what_torch_inventory_writes_now(tmp_path):
    def text(path):
        data = path.read_bytes()
        start = data.index(b"zlib.\n") + 6
        return data[:start].decode() + zlib.decompress(data[start:]).decode()

    torch_inventory.write(tmp_path / "torch.inv")
    assert text(torch_inventory.INVENTORY) == text(tmp_path / "torch.inv"), (
        "run `make inventory`"
    )


# A torch name in a cross-reference role of the prose: reST (:func:`torch.x`,
# :meth:`~torch.x.y`) in the examples, MyST ({func}`torch.x`) in docs/.
ROLE = re.compile(
    r"(?::|\{)(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc)(?::|\})`~?(torch[\w.]*)`"
)


def test_every_torch_name_in_a_role_is_in_the_inventory():
    """A role whose name the inventory lacks fails the build (nitpicky), at the
    end of a long run; this says so in a second, naming the name and the file."""
    names = {name for name, _, _ in committed_entries()}
    repo = torch_inventory.INVENTORY.parents[2]
    sources = [*repo.glob("examples/*/*.py"), *repo.glob("docs/**/*.md")]
    missing = sorted(
        f"{path.relative_to(repo)}: {name}"
        for path in sources
        if "auto_examples" not in path.parts
        for name in ROLE.findall(path.read_text(encoding="utf-8"))
        if name not in names
    )
    assert not missing, "not in docs/_ext/torch.inv (make inventory):\n" + "\n".join(
        missing
    )
