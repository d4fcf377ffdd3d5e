"""Run a server as a child and stop it when the process that asked for it dies.

Started by :mod:`glide_memory._embedded._server` as ``python -S _watchdog.py <dir> --
<server argv>`` with its stdin on a pipe whose only writer is the parent.
The pipe reads end-of-file when the parent closes it or dies, SIGKILL
included (finalizers and atexit do not run then); the watchdog then stops
the server and removes ``<dir>`` (unless it is empty). If the server dies
first, the watchdog exits and keeps the directory, so a persistent server
can be restarted on its data.

Standard library only, and run without ``site``: it must start fast and
must not import glide.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        deadline = time.monotonic() + 5
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if server.poll() is None:
            server.kill()
            server.wait()


def main(argv: list[str]) -> int:
    """Start ``argv`` after ``--`` and watch stdin; see the module docstring."""
    directory, separator, command = argv[0], argv[1], argv[2:]
    if separator != "--" or not command:
        print("usage: _watchdog.py <dir or ''> -- <command...>", file=sys.stderr)
        return 2
    # a terminal's Ctrl-C belongs to the parent, which decides when the server stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = subprocess.Popen(  # noqa: S603 - the command line the embedded module built
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def on_sigterm(*_: object) -> None:
        _stop(server)
        os._exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    print(server.pid, flush=True)
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 0.2)
        if readable and not os.read(sys.stdin.fileno(), 4096):
            _stop(server)  # the parent closed the pipe or died
            if directory:
                shutil.rmtree(directory, ignore_errors=True)
            return 0
        if server.poll() is not None:
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
