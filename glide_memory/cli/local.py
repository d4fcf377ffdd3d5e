"""The commands that run a server on this machine: ``server`` and ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from typing import Any

from glide_memory import EmbeddedCluster, EmbeddedServer, SessionStore
from glide_memory.cli._commands import _add, _non_negative, _positive
from glide_memory.cli._output import CommandError, _emit

DEMO_TURNS = [
    ("system", "You answer questions about Valkey.", 8),
    ("user", "How fast is HINCRBY?", 12),
    ("assistant", "About 0.1 ms on a local server.", 9),
    ("user", "Und auf Deutsch? 🙂", 6),
]


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM."""
    # a shell starts `glide-memory server &` with SIGINT ignored: take it back, so `kill -INT` stops it too
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def _announce(url: str, args: argparse.Namespace) -> None:
    if args.json:
        _emit({"url": url})
    else:
        print(f"valkey-server running: export VALKEY_URL={url}  (Ctrl-C stops it)", flush=True)


def server(args: argparse.Namespace) -> int:
    """Run an embedded server (or a 3-primary cluster) in the foreground until Ctrl-C."""
    if args.cluster:
        if args.port is not None:
            raise CommandError("--port cannot be combined with --cluster (its nodes take free ports)")
        with EmbeddedCluster(primaries=args.primaries, replicas=args.replicas, persistent=False) as cluster:
            _announce(cluster.url, args)
            _wait_for_interrupt()
        return 0
    with EmbeddedServer(port=args.port) as embedded:
        _announce(embedded.url, args)
        _wait_for_interrupt()
    return 0


async def _demo(url: str | None) -> int:
    """Run a short session end to end and print what was stored."""
    async with await SessionStore.connect(url, ttl=3600, max_messages=20) as store:
        embedded = store.embedded_server
        print(f"connected to {'an embedded valkey-server at ' + embedded.url if embedded else url or '$VALKEY_URL'}")
        info = await store.create_session(user_id="user_42", model="claude-3-haiku", title="Valkey questions")
        sid = info.session_id
        print(f"created session {sid} (ttl {info.ttl} s)")
        for role, text, tokens in DEMO_TURNS:
            await store.add_message(sid, role, text, tokens_used=tokens)
        tool_use = {"type": "tool_use", "id": "call_1", "name": "latency", "input": {"command": "HINCRBY"}}
        await store.add_message(sid, "assistant", [tool_use], 5)
        await store.add_message(sid, "tool", "0.09 ms", 3, tool_call_id="call_1")

        print("\nmessages (get_messages):")
        for message in await store.get_messages(sid, last=50):
            content = json.dumps(message.content, ensure_ascii=False)
            print(f"  {message.role.value:>9}  {message.tokens:>3} tokens  {content}")
        window = await store.history(sid).window(max_tokens=10)
        print(f"\nnewest messages within 10 tokens: {[m.content for m in window]}")
        summary = await store.get_session_info(sid)
        print(
            f"\nsession info: {summary.message_count} messages, {summary.token_count} tokens, "
            f"{summary.messages_stored} stored, expires in {summary.expires_in_seconds:.0f} s"
        )
        mine = await store.list_user_sessions("user_42")
        print(f"user_42 has {len(mine)} session(s): {[s.session_id for s in mine]}")

        client = store.client
        chat, meta = store.schema.session_keys(sid)
        index = store.schema.user_sessions("user_42")
        print("\nraw keys on the server:")
        print(f"  {meta} (HASH, TTL {await client.ttl(meta)} s)")
        for field, value in sorted((await client.hgetall(meta)).items()):
            print(f"    {field.decode()} = {value.decode()}")
        first = (await client.lindex(chat, 0) or b"").decode()
        print(f"  {chat} (LIST, TTL {await client.ttl(chat)} s), first entry: {first}")
        print(f"  {index} (SET): {sorted(m.decode() for m in await client.smembers(index))}")

        await store.delete_session(sid)
        print(f"\ndeleted session; it exists: {await store.exists(sid)}")
    return 0


def demo(args: argparse.Namespace) -> int:
    """Run the demo on --url, $VALKEY_URL, or else an embedded server."""
    return asyncio.run(_demo(args.url))


def _add_local_commands(commands: Any) -> None:
    serving = _add(
        commands,
        "server",
        server,
        "run an embedded valkey-server until Ctrl-C",
        "Prints its URL; with --cluster runs a cluster of --primaries primaries with --replicas replicas "
        "each instead. Its data goes when it stops.",
        'one JSON object: {"url": URL}.',
    )
    serving.add_argument("--port", type=int, help="port to listen on (default: a free one)")
    serving.add_argument("--cluster", action="store_true", help="run a Valkey Cluster on loopback")
    serving.add_argument("--primaries", type=_positive, default=3, help="with --cluster: primaries (default 3)")
    serving.add_argument("--replicas", type=_non_negative, default=0, help="with --cluster: replicas each (default 0)")
    _add(
        commands,
        "demo",
        demo,
        "run a short session end to end",
        "Uses --url or $VALKEY_URL, or else starts an embedded server for the demo. --json has no effect.",
    )
