"""The ``glide-memory`` command line: a demo and a local server."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence

from glide_memory.embedded import EmbeddedServer
from glide_memory.store import SessionStore

DEMO_TURNS = [
    ("system", "You answer questions about Valkey.", 8),
    ("user", "How fast is HINCRBY?", 12),
    ("assistant", "About 0.1 ms on a local server.", 9),
    ("user", "Und auf Deutsch? 🙂", 6),
]


async def demo(url: str | None = None) -> int:
    """Run a short session end to end and print what was stored."""
    async with await SessionStore.connect(url, ttl=3600, max_messages=20) as store:
        server = store.embedded_server
        print(f"connected to {'an embedded valkey-server at ' + server.url if server else url or '$VALKEY_URL'}")
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


def serve(port: int | None) -> int:
    """Run an embedded server in the foreground until interrupted."""
    with EmbeddedServer(port=port) as server:
        print(f"valkey-server running: export VALKEY_URL={server.url}  (Ctrl-C stops it)", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="glide-memory", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_demo = commands.add_parser("demo", help="run a short session end to end")
    run_demo.add_argument("--url", help="a valkey:// URL (default: $VALKEY_URL, else an embedded server)")
    run_server = commands.add_parser("server", help="run an embedded valkey-server in the foreground")
    run_server.add_argument("--port", type=int, help="port to listen on (default: a free one)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return asyncio.run(demo(args.url))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    return serve(args.port)


if __name__ == "__main__":
    sys.exit(main())
