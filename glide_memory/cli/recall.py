"""The commands of semantic recall: ``embed`` (catch up vectors) and ``recall`` (search a user's past)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

from glide import Logger, LogLevel

from glide_memory import SessionStore, WordLlamaEmbedder
from glide_memory.cli._commands import Handler, _add, _positive
from glide_memory.cli._output import CommandError, _content_text, _emit, _plural, _table
from glide_memory.cli.operators import _scan
from glide_memory.keys import KeySchema

_BAR_WIDTH = 30


def _on_recall_store(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Like the other commands' store, with the default embedder (WordLlama, offline)."""

    async def connected(args: argparse.Namespace) -> int:
        if not args.url:
            raise CommandError("no server to talk to: pass --url valkey://HOST:PORT or set VALKEY_URL")
        schema = KeySchema(namespace=args.namespace) if args.namespace else None
        embedder = await asyncio.to_thread(WordLlamaEmbedder)
        Logger.set_logger_config(LogLevel.OFF)
        async with await SessionStore.connect(args.url, schema=schema, embedder=embedder) as store:
            return await handler(store, args)

    def run(args: argparse.Namespace) -> int:
        return asyncio.run(connected(args))

    run.__doc__ = handler.__doc__
    return run


async def _sessions(store: SessionStore, args: argparse.Namespace) -> AsyncIterator[list[str]]:
    """Yield pages of the session ids to embed: the user's (from the index) or every one (a SCAN)."""
    if args.user:
        after = None
        while True:
            page = await store.list_user_sessions(args.user, limit=200, after=after)
            yield [info.session_id for info in page]
            if page.next_after is None:
                return
            after = page.next_after
    async for keys in _scan(store, store.schema.meta_scan_pattern()):
        yield [sid for key in keys if (sid := store.schema.session_id_from_meta(key.decode("utf-8", "replace")))]


async def embed(store: SessionStore, args: argparse.Namespace) -> int:
    """Give a vector to every message worth recalling that has none, session by session."""
    sessions = embedded = 0
    shown = sys.stderr.isatty()
    try:
        async for page in _sessions(store, args):
            for session_id in page:
                embedded += await store.embed_session(session_id)
                sessions += 1
                if shown:
                    filled = min(sessions, _BAR_WIDTH)
                    print(
                        f"\rembedding [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {_plural(sessions, 'session')}, "
                        f"{_plural(embedded, 'message')} embedded",
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        if shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
    if args.json:
        _emit({"sessions": sessions, "embedded": embedded})
    else:
        print(f"embedded {_plural(embedded, 'message')} in {_plural(sessions, 'session')}")
    return 0


async def recall(store: SessionStore, args: argparse.Namespace) -> int:
    """Print a user's past messages closest in meaning to the query."""
    hits = await store.for_user(args.user).recall(args.query, k=args.k, session_id=args.session)
    if args.json:
        for hit in hits:
            _emit(
                {"score": round(hit.score, 6), "session_id": hit.session_id, "thread": hit.thread,
                 "role": hit.message.role.value, "id": hit.message.id, "content": hit.message.content}
            )  # fmt: skip
        return 0
    rows = [
        [f"{hit.score:.3f}", hit.session_id, hit.message.role.value, " ".join(_content_text(hit.message).split())[:80]]
        for hit in hits
    ]
    _table(["SCORE", "SESSION", "ROLE", "MESSAGE"], rows, numeric=[0])
    if hits.pending:
        print(f"({_plural(hits.pending, 'message')} still wait for a vector: run glide-memory embed)")
    return 0


def _add_recall_commands(commands: Any) -> None:
    embedding = _add(
        commands,
        "embed",
        _on_recall_store(embed),
        "give vectors to the messages that have none",
        "For messages stored before recall was on, or while the embedder failed: embeds them with "
        "WordLlama (pip install 'glide-memory[recall]'), session by session, with a progress bar on a "
        "terminal. --all finds every session with a SCAN: maintenance, not for a request path.",
        'one JSON object: {"sessions": N, "embedded": M}.',
    )
    which = embedding.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", help="the sessions of this user")
    which.add_argument("--all", action="store_true", help="every session")
    searching = _add(
        commands,
        "recall",
        _on_recall_store(recall),
        "print a user's past messages closest in meaning to a query",
        "Searches the user's sessions (or one) with WordLlama: exactly on plain Valkey, through the "
        "search module's index where there is one.",
        "one JSON object a line: score, session_id, thread, role, id, content.",
    )
    searching.add_argument("user", metavar="USER", help="whose sessions to search")
    searching.add_argument("query", metavar="QUERY", help="what to look for")
    searching.add_argument("-k", type=_positive, default=5, help="how many messages at most (default 5)")
    searching.add_argument("--session", help="search this session only")
