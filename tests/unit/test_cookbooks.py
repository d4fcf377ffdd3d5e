"""The cookbook notebooks are committed clean and check their own claims."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

COOKBOOKS = sorted((Path(__file__).parents[2] / "cookbooks").glob("*.ipynb"))


def test_there_are_cookbooks() -> None:
    """The cookbooks directory holds the numbered notebooks."""
    assert [path.name[:2] for path in COOKBOOKS] == [f"{n:02d}" for n in range(1, len(COOKBOOKS) + 1)]
    assert len(COOKBOOKS) >= 3


@pytest.mark.parametrize("path", COOKBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    """Every code cell has no outputs and no execution count, so diffs stay readable."""
    book = json.loads(path.read_text())
    code = [cell for cell in book["cells"] if cell["cell_type"] == "code"]
    assert code
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


@pytest.mark.parametrize("path", COOKBOOKS, ids=lambda path: path.name)
def test_notebook_asserts_its_claims(path: Path) -> None:
    """Each notebook checks what it shows with assert statements."""
    book = json.loads(path.read_text())
    source = "".join("".join(cell["source"]) for cell in book["cells"] if cell["cell_type"] == "code")
    assert source.count("assert ") >= 3
