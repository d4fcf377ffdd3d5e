"""Moving sessions written by glide-memory 0.1 into today's layout, once, when first read.

0.1 kept the Strands Session record in the meta HASH's ``strands_session``
field, agents in ``strands:agents:{<id>}`` (with a ``<agent>`` + NUL +
``created_at`` field each), multi-agent states in ``strands:multi:{<id>}`` and each agent's
messages in ``strands:messages:{<id>}:<agent>``. :func:`migrate` copies all
of it into records and threads through the store's public API (every write
idempotent, so an interrupted migration simply runs again), then removes the
old keys and field in one transaction. Nothing is lost: the messages keep
their Strands ids, times and content byte for byte.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import orjson
from glide import Batch, ClusterBatch, GlideClient, GlideClusterClient

from glide_memory.integrations.strands import _codec
from glide_memory.integrations.strands._codec import KIND, thread_of_agent

if TYPE_CHECKING:
    from glide_memory import SessionStore

LEGACY_FIELD = "strands_session"
_MARK = "strands_migration_count"  # message_count before migrating, so a rerun restores the same value
_CREATED = "\0created_at"


async def _lrange_all(key: str, client: GlideClient | GlideClusterClient) -> list[bytes]:
    return await client.lrange(key, 0, -1)


async def migrate(store: SessionStore, session_id: str) -> bool:
    """Migrate a 0.1 session if there is one under ``session_id``; return whether it did."""
    meta = store.schema.meta(session_id)
    if "{" in session_id or "}" in session_id:
        return False  # 0.1 could not store such ids for Strands
    record, counted, mark = await store.call(
        lambda client: client.hmget(meta, [LEGACY_FIELD, "message_count", _MARK]), session_id=session_id
    )
    if record is None:
        return False
    ns = store.schema.namespace
    agents_key, multi_key = f"{ns}strands:agents:{{{session_id}}}", f"{ns}strands:multi:{{{session_id}}}"
    if mark is None:
        mark = counted or b"0"
        await store.call(lambda client: client.hsetnx(meta, _MARK, mark.decode()), session_id=session_id)
    agents, multi = await store.pipeline(lambda batch: batch.hgetall(agents_key).hgetall(multi_key))
    await store.put_record(session_id, KIND, "session", record)
    lists: list[str] = []
    for field, value in agents.items():
        name = field.decode()
        if name.endswith(_CREATED):
            await store.put_record(session_id, KIND, f"agent-created:{name[: -len(_CREATED)]}", value)
            continue
        data = orjson.loads(value)
        created = agents.get(field + _CREATED.encode())
        if created is not None:
            data["created_at"] = created.decode()
        await store.put_record(session_id, KIND, f"agent:{name}", orjson.dumps(data))
        key = f"{ns}strands:messages:{{{session_id}}}:{name}"
        lists.append(key)
        entries: list[bytes] = await store.call(partial(_lrange_all, key), session_id=session_id)
        messages = [
            _codec.to_stored(_codec.from_stored(raw, key=key, position=n, session_id=session_id), name)
            for n, raw in enumerate(entries)
        ]
        if messages:
            await store.add_messages(session_id, messages, thread=thread_of_agent(name))
    for field, value in multi.items():
        await store.put_record(session_id, KIND, f"multi:{field.decode()}", value)

    def finish(batch: Batch | ClusterBatch) -> None:
        # the counters already counted these messages in 0.1: put them back, then drop the old layout
        batch.hset(meta, {"message_count": mark.decode()}).hdel(meta, [LEGACY_FIELD, _MARK])
        batch.delete([agents_key, multi_key, *lists])

    await store.pipeline(finish, atomic=True, session_id=session_id)
    return True
