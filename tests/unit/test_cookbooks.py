"""The cookbook notebooks are committed clean, check their claims with real asserts, and use the public API.

``make cookbooks`` executes them (nbmake), which is what proves the
asserts hold; these checks keep them honest between runs.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

COOKBOOKS = sorted((Path(__file__).parents[2] / "cookbooks").glob("*.ipynb"))


def _code(path: Path) -> list[str]:
    book = json.loads(path.read_text())
    return ["".join(cell["source"]) for cell in book["cells"] if cell["cell_type"] == "code"]


def _tree(path: Path) -> ast.Module:
    # IPython magics and shell lines are not Python: blank them out, keeping the line count
    lines = [line if not line.lstrip().startswith(("%", "!")) else "" for line in "\n\n".join(_code(path)).splitlines()]
    return ast.parse("\n".join(lines), filename=path.name)


def test_there_are_cookbooks() -> None:
    """The cookbooks directory holds the numbered notebooks, with no gap."""
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
    """Each notebook has assert statements (parsed, not counted in text) whose conditions are not constants."""
    asserts = [node for node in ast.walk(_tree(path)) if isinstance(node, ast.Assert)]
    assert len(asserts) >= 3, f"{path.name} checks fewer than three claims"
    constant = [node.lineno for node in asserts if isinstance(node.test, ast.Constant)]
    assert not constant, f"{path.name} asserts a constant at lines {constant}"


@pytest.mark.parametrize("path", COOKBOOKS, ids=lambda path: path.name)
def test_notebook_uses_the_public_api(path: Path) -> None:
    """No notebook imports a private module of glide_memory."""
    imported = [
        name
        for node in ast.walk(_tree(path))
        for name in (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) else []
        )
    ]  # fmt: skip
    private = [name for name in imported if re.match(r"glide_memory(\.\w+)*\._", name)]
    assert not private, f"{path.name} imports {private}"
