"""LlamaIndex chat stores, side by side: GlideChatStore / GlideDBChatStore against LlamaIndex's own.

Per-operation latency of what LlamaIndex's memories call on every turn:
``add_message``, ``get_messages`` of a 100-message chat, and the undo
``delete_last_message`` (BaseChatStore) or a Memory flush's
``archive_oldest_messages(1)`` (AsyncDBChatStore). Contenders:

- ``GlideChatStore`` / ``GlideDBChatStore``: this adapter, on a store of the
  benchmark's event loop;
- ``SimpleChatStore``: LlamaIndex's in-process reference (a dict: no network,
  the floor of what a chat store costs; its async methods are LlamaIndex's
  ``asyncio.to_thread`` wrappers);
- ``RedisChatStore`` (llama-index-storage-chat-store-redis, redis-py) on the
  same Valkey server: what a user would pick for a shared, durable store;
- ``SQLAlchemyChatStore`` on in-memory SQLite (aiosqlite): Memory's default.

BaseChatStore contenders are timed through both APIs: the async one an async
app (an agent's ``memory.aput``) calls, and the sync one, called from a worker
thread as LlamaIndex's sync code does. Each round calls every contender once,
in a random order, after warm-up rounds that are not recorded; times are
``perf_counter_ns`` around one call::

    python -m benchmarks.frameworks.llama_index [--url valkey://...] [--samples 500]
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from typing import Any

from llama_index.core.llms import ChatMessage
from llama_index.core.storage.chat_store import SimpleChatStore
from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore
from llama_index.storage.chat_store.redis import RedisChatStore
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.frameworks import _common
from benchmarks.frameworks._common import measure, measure_sync
from glide_memory import KeySchema, SessionStore, parse_url
from glide_memory.integrations.llama_index import GlideChatStore, GlideDBChatStore

HISTORY = 100


def _message(n: int) -> ChatMessage:
    role = "user" if n % 2 == 0 else "assistant"
    return ChatMessage(role=role, content=f"Turn {n}: what changed in the deployment last night? The cache TTL.")


async def run(url: str, *, samples: int) -> list[dict[str, Any]]:
    """Measure every contender on the server at ``url``; return one row per operation and contender."""
    target = parse_url(url)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench-li-{run_id}"
    store = await SessionStore.connect(url, schema=KeySchema(namespace=f"{prefix}:"))
    redis_url = f"redis://{target.host}:{target.port}/0"
    sync_redis, async_redis = Redis.from_url(redis_url), AsyncRedis.from_url(redis_url)
    redis = RedisChatStore(redis_url=redis_url, redis_client=sync_redis, aredis_client=async_redis)
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    sql = SQLAlchemyChatStore(table_name=f"bench_{run_id}", async_engine=engine)
    chat_stores: dict[str, Any] = {
        "GlideChatStore": GlideChatStore(store=store),
        "SimpleChatStore": SimpleChatStore(),
        "RedisChatStore": redis,
    }
    db_stores: dict[str, Any] = {"GlideDBChatStore": GlideDBChatStore(store=store), "SQLAlchemyChatStore": sql}
    counter = iter(range(10**9))
    results: dict[str, dict[str, list[int]]] = {}
    used: dict[str, set[str]] = {name: set() for name in (*chat_stores, *db_stores)}

    def key(purpose: str, name: str) -> str:
        made = f"{prefix}-{purpose}-{name}"
        used[name].add(made)
        return made

    def bound(stores: dict[str, Any], purpose: str, call: Callable[[Any, str], Any]) -> dict[str, Any]:
        def one(chat_store: Any, k: str) -> Any:
            return lambda: call(chat_store, k)

        return {name: one(chat_store, key(purpose, name)) for name, chat_store in stores.items()}

    try:
        history = [_message(n) for n in range(HISTORY)]
        for name, chat_store in chat_stores.items():
            await chat_store.aset_messages(key("read", name), history)
        for name, chat_store in db_stores.items():
            await chat_store.set_messages(key("dbread", name), history)

        results["async_add_message"] = await measure(
            bound(chat_stores, "add", lambda s, k: s.async_add_message(k, _message(next(counter)))), samples
        )
        results[f"aget_messages ({HISTORY})"] = await measure(
            bound(chat_stores, "read", lambda s, k: s.aget_messages(k)), samples
        )
        results["adelete_last_message"] = await measure(
            bound(chat_stores, "pop", lambda s, k: s.adelete_last_message(k)),
            samples,
            setup=bound(chat_stores, "pop", lambda s, k: s.async_add_message(k, _message(0))),
        )

        def sync_rounds() -> dict[str, dict[str, list[int]]]:
            adds = bound(chat_stores, "sadd", lambda s, k: s.add_message(k, _message(next(counter))))
            reads = bound(chat_stores, "read", lambda s, k: s.get_messages(k))
            pops = bound(chat_stores, "spop", lambda s, k: s.delete_last_message(k))
            refill = bound(chat_stores, "spop", lambda s, k: s.add_message(k, _message(0)))
            return {
                "add_message (sync)": measure_sync(adds, samples),
                f"get_messages ({HISTORY}) (sync)": measure_sync(reads, samples),
                "delete_last_message (sync)": measure_sync(pops, samples, setup=refill),
            }

        results.update(await asyncio.to_thread(sync_rounds))

        results["DB add_message"] = await measure(
            bound(db_stores, "dbadd", lambda s, k: s.add_message(k, _message(next(counter)))), samples
        )
        results[f"DB get_messages ({HISTORY})"] = await measure(
            bound(db_stores, "dbread", lambda s, k: s.get_messages(k)), samples
        )
        results["DB archive_oldest_messages(1)"] = await measure(
            bound(db_stores, "dbarchive", lambda s, k: s.archive_oldest_messages(k, 1)),
            samples,
            setup=bound(db_stores, "dbarchive", lambda s, k: s.add_message(k, _message(0))),
        )
    finally:
        for session in used["GlideChatStore"] | used["GlideDBChatStore"]:
            await store.delete_session(session)
        await store.call(lambda client: client.delete([store.schema.extension("llama_index", "keys")]))
        if used["RedisChatStore"]:
            await async_redis.delete(*used["RedisChatStore"])
        await async_redis.aclose()
        sync_redis.close()
        await engine.dispose()
        await store.close()
    return _common.rows(results)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a table (an embedded server without ``--url``)."""
    packages = ("llama-index-core", "llama-index-storage-chat-store-redis", "valkey-glide", "redis", "aiosqlite")
    return _common.main(
        run, argv, module="benchmarks.frameworks.llama_index", description=__doc__, packages=packages, samples=500
    )


if __name__ == "__main__":
    sys.exit(main())
