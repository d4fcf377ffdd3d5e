"""The function library: every ``.lua`` file here joined into one Valkey library.

Each ``<name>.lua`` defines ``local function <name>(keys, args)`` with a
header naming its KEYS, ARGV and reply; ``prelude.lua`` holds what they
share. The library's name carries the package version and a hash of its
code (``glide_memory_0_3_0_<hash>``), so two releases can share a server
during a rolling deploy; loading it removes the libraries of older releases
(and of other builds of this one), so they do not pile up.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from glide_memory._transport import Library
from glide_memory._version import __version__

# name -> flags; writes run under maxmemory's refusal (no allow-oom) so a
# write refused for memory writes nothing, except delete, which frees memory.
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "create": (),
    "index_add": (),
    "append": (),
    "touch": (),
    "update": (),
    "clear": (),
    "record": (),
    "replace": (),
    "summarize": (),
    "pop": (),
    "rewrite": (),
    "remove": (),
    "archive": (),
    "import_list": (),
    "vec_put": (),
    "recall_setup": (),
    "delete": ("allow-oom",),
    "barrier": ("allow-oom",),  # its net effect is nothing, and it follows writes allowed before it
    "find": ("no-writes",),
    "context": ("no-writes",),
    "read": ("no-writes",),
}

PREFIX = "glide_memory_"
"""What every version of the library's name starts with."""


def _source(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


def version_of(library: str) -> tuple[int, ...] | None:
    """Return the package version a library name carries, or ``None`` for a name of another form."""
    if not library.startswith(PREFIX):
        return None
    parts = library[len(PREFIX) :].split("_")
    if len(parts) < 2 or not all(part.isdigit() for part in parts[:-1]):
        return None  # the names of 0.2 carried only the hash
    return tuple(int(part) for part in parts[:-1])


def _build() -> Library:
    body = "\n".join([_source("prelude"), *(_source(name) for name in FUNCTIONS)])
    digest = hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()[:10]
    numbers = "_".join(part for part in __version__.split(".") if part.isdigit())
    names = {name: f"gm_{digest}_{name}" for name in FUNCTIONS}
    registrations = []
    for name, flags in FUNCTIONS.items():
        callback = "index_add_fn" if name == "index_add" else name
        flag_list = ", ".join(f"'{flag}'" for flag in flags)
        registrations.append(
            f"redis.register_function{{function_name='{names[name]}', callback={callback}, flags={{{flag_list}}}}}"
        )
    library = f"{PREFIX}{numbers}_{digest}"
    code = f"#!lua name={library}\n{body}\n" + "\n".join(registrations) + "\n"
    return Library(name=library, code=code, functions=names, barrier="barrier", replaces=_older)


def _older(installed: str, ours: str) -> bool:
    """Whether ``installed`` is a library that loading ``ours`` should remove: an older release's, or another build."""
    if installed == ours or not installed.startswith(PREFIX):
        return False
    theirs, mine = version_of(installed), version_of(ours)
    return theirs is None or (mine is not None and theirs <= mine)


LIBRARY = _build()
"""The library: its name, full source and each operation's function name."""
