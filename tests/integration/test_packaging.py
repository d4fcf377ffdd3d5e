"""What ships: the wheel and sdist carry the license, the server functions, the types marker and the version."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import glide_memory

ROOT = Path(__file__).resolve().parents[2]


async def test_wheel_and_sdist_contents(tmp_path: Path) -> None:
    """python -m build gives artifacts with LICENSE, every .lua file, py.typed and the package's version."""
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    version = glide_memory.__version__
    wheel = zipfile.ZipFile(tmp_path / f"glide_memory-{version}-py3-none-any.whl")
    names = wheel.namelist()
    assert f"glide_memory-{version}.dist-info/licenses/LICENSE" in names
    assert "glide_memory/py.typed" in names and "glide_memory/_embedded/_watchdog.py" in names
    lua = {Path(n).name for n in names if n.endswith(".lua")}
    assert lua == {path.name for path in (ROOT / "glide_memory" / "_server").glob("*.lua")} and len(lua) > 10
    metadata = wheel.read(f"glide_memory-{version}.dist-info/METADATA").decode()
    assert f"Version: {version}" in metadata and "License-Expression: Apache-2.0" in metadata
    assert "Project-URL: Repository" in metadata
    with tarfile.open(tmp_path / f"glide_memory-{version}.tar.gz") as sdist:
        members = {Path(n).relative_to(f"glide_memory-{version}").as_posix() for n in sdist.getnames()}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"} <= members
    assert "Apache License" in (ROOT / "LICENSE").read_text()
