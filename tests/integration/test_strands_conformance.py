"""Strands' own RepositorySessionManager tests, from the strands-agents sdist, run against GlideSessionRepository.

The sdist of the installed strands-agents version is downloaded from PyPI
(once; it is kept in the virtualenv) and its test module runs unmodified in
a subprocess, with its in-memory ``MockedSessionRepository`` replaced by a
shim that is a :class:`GlideSessionRepository` on the test server, each in
a namespace of its own. Nothing of Strands' code is kept in this repository.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tarfile
import textwrap
import xml.etree.ElementTree as ElementTree
from importlib.metadata import version
from pathlib import Path

MODULE = "tests/strands/session/test_repository_session_manager.py"
ALLOWED_FAILURES = {"test_sync_agent_retries_on_failure"}  # it patches the mocked class itself

SHIM = '''
"""Stands in for Strands' in-memory test repository: a GlideSessionRepository on a real server."""

import os
import uuid

from glide_memory import KeySchema
from glide_memory.integrations.strands import GlideSessionRepository


class MockedSessionRepository(GlideSessionRepository):
    def __init__(self):
        schema = KeySchema(namespace=f"conformance-{uuid.uuid4().hex[:12]}:")
        super().__init__(url=os.environ["VALKEY_URL"], schema=schema, ttl=600)
'''


def strands_sdist() -> Path:
    """Return the sdist of the installed strands-agents, downloading it into the virtualenv once."""
    release = version("strands-agents")
    cache = Path(sys.prefix) / "strands-sdist"
    found = sorted(cache.glob(f"strands_agents-{release}.tar.gz"))
    if not found:
        cache.mkdir(exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"strands-agents=={release}", "--dest", str(cache)],
            check=True, timeout=300,
        )  # fmt: skip
        found = sorted(cache.glob(f"strands_agents-{release}.tar.gz"))
    assert found, f"pip did not download the strands-agents {release} sdist"
    return found[0]


def prepare(workdir: Path) -> None:
    """Unpack the test module and its package files, and put the shim where its mock was."""
    with tarfile.open(strands_sdist()) as sdist:
        root = sdist.getnames()[0].split("/")[0]
        for name in (MODULE, "tests/__init__.py", "tests/strands/__init__.py", "tests/strands/session/__init__.py"):
            member = sdist.extractfile(f"{root}/{name}")
            assert member is not None, name
            target = workdir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.read())
    (workdir / "tests/fixtures").mkdir()
    (workdir / "tests/fixtures/__init__.py").write_text("")
    (workdir / "tests/fixtures/mock_session_repository.py").write_text(textwrap.dedent(SHIM))
    (workdir / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")


async def test_strands_repository_manager_suite_passes(valkey_url: str, tmp_path: Path) -> None:
    """At least 50 of the 51 tests of Strands' RepositorySessionManager module pass on GlideSessionRepository."""
    await asyncio.to_thread(prepare, tmp_path)
    report = tmp_path / "report.xml"
    env = {**os.environ, "VALKEY_URL": valkey_url, "PYTHONPATH": str(tmp_path)}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", MODULE],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert report.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    cases = ElementTree.parse(report).getroot().iter("testcase")
    failed = {
        case.get("name", "") for case in cases if case.find("failure") is not None or case.find("error") is not None
    }
    total = sum(1 for _ in ElementTree.parse(report).getroot().iter("testcase"))
    assert total == 51, result.stdout[-2000:]
    assert failed <= ALLOWED_FAILURES, f"failed: {sorted(failed)}\n{result.stdout[-6000:]}"
    passed = total - len(failed)
    print(f"Strands RepositorySessionManager suite: {passed} of {total} pass ({sorted(failed) or 'none'} fail)")
