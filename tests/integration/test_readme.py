"""The README's quickstart runs as written, pasted into a file, with no server and no URL."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def _quickstart() -> str:
    section = README.read_text().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the Quickstart has one Python block"
    return blocks[0]


async def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    """python quickstart.py starts an embedded server and prints what the README says it prints."""
    script = tmp_path / "quickstart.py"
    script.write_text(_quickstart())
    env = {name: value for name, value in os.environ.items() if name != "VALKEY_URL"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, stderr.decode()
    printed = stdout.decode().strip()
    assert f"It prints `{printed}`" in README.read_text().replace("\n", " ")
    assert "embedded valkey-server" in stderr.decode()  # the WARNING that its data is ephemeral
