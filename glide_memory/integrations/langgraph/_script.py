"""The saver's one server-side read: checkpoints with their channel values and pending writes, in one round trip.

Writes go through the store (``put_records``: atomic, TTL refreshed,
companions registered); reads of a checkpoint need the latest pointer, then
the checkpoint, then its channel values and writes, each depending on the
one before, so a read-only Lua script does them in one trip. It declares
every key it touches and builds no key name; it checks the owner itself
(the store's ``for_user`` check, for this read).

KEYS: ``meta:<thread>``, ``langgraph:<thread>``, ``langgraph-writes:<thread>``.

ARGV: owner (``""``: none), mode, then

- ``get``: n, then n pairs ``(ns, id)``; id ``""`` names the namespace's latest;
- ``page``: ns (``"*"``: every namespace), before (an id, ``""``: none),
  cursor (``"<id> <ns>"`` of the last item of the previous page, ``""``:
  none), limit (1 or more), full (``"1"``: with values and writes).

Reply: ``{"missing"}`` (no such session), ``{"forbidden"}`` (another
owner's), or ``{"ok", items, writes, more}``: items ``{ns, id, entry,
{channel values}}`` newest first for ``page``; writes a flat
``{name, value, ...}`` of the items' pending writes (``get`` and full
pages); more ``1`` when a page stopped at its limit. Names and ids are as
stored (percent-encoded), compared byte by byte as Python compares them
(Lua's ``<`` follows the server's locale).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from glide import Script

from glide_memory import PermissionDeniedError, SessionStore
from glide_memory.integrations.langgraph._layout import KIND, WRITES_KIND, as_text

_CODE = r"""
local meta, cps, wr = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', meta) == 0 then return {'missing'} end
if ARGV[1] ~= '' and redis.call('HGET', meta, 'user_id') ~= ARGV[1] then return {'forbidden'} end

local function less(a, b)
  if a == b then return false end
  local i = 1
  while string.byte(a, i) == string.byte(b, i) do i = i + 1 end
  local x, y = string.byte(a, i), string.byte(b, i)
  if x == nil then return true end
  if y == nil then return false end
  return x < y
end

local function scan(key, pattern, keep)
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', key, cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = page[1]
    local flat = page[2]
    for i = 1, #flat, 2 do keep(flat[i], flat[i + 1]) end
  until cursor == '0'
end

local function values_of(entry)
  local names = {}
  local nl = string.find(entry, '\n', 1, true)
  if not nl then return {} end  -- not a checkpoint record: Python reports it
  for word in string.gmatch(string.sub(entry, 1, nl - 1), '%S+') do names[#names + 1] = word end
  if #names == 0 then return {} end
  return redis.call('HMGET', cps, unpack(names))
end

local function writes_of(items)
  local out = {}
  if #items == 0 then return out end
  local wanted, ns = {}, items[1][1]
  for _, item in ipairs(items) do
    wanted[item[1] .. '/' .. item[2] .. '/'] = true
    if item[1] ~= ns then ns = nil end
  end
  local pattern = '*'
  if #items == 1 then pattern = items[1][1] .. '/' .. items[1][2] .. '/*'
  elseif ns then pattern = ns .. '/*' end
  scan(wr, pattern, function(name, value)
    local a = string.find(name, '/', 1, true)
    local b = a and string.find(name, '/', a + 1, true)
    if b and wanted[string.sub(name, 1, b)] then
      out[#out + 1] = name
      out[#out + 1] = value
    end
  end)
  return out
end

local items = {}
if ARGV[2] == 'get' then
  for i = 0, tonumber(ARGV[3]) - 1 do
    local ns, id = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
    if id == '' then id = redis.call('HGET', cps, 'l/' .. ns) end
    if id then
      local entry = redis.call('HGET', cps, 'c/' .. ns .. '/' .. id)
      if entry then items[#items + 1] = {ns, id, entry, values_of(entry)} end
    end
  end
  return {'ok', items, writes_of(items), 0}
end

local ns, before, cursor, limit, full = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7] == '1'
local more = 0
local pattern = 'c/' .. ns .. '/*'
if ns == '*' then pattern = 'c/*' end
-- keep the newest `limit` candidates, newest first: one comparison for most of the others
scan(cps, pattern, function(name, value)
  local rest = string.sub(name, 3)
  local slash = string.find(rest, '/', 1, true)
  local item_ns, id = string.sub(rest, 1, slash - 1), string.sub(rest, slash + 1)
  local key = id .. ' ' .. item_ns
  if (before ~= '' and not less(id, before)) or (cursor ~= '' and not less(key, cursor)) then return end
  if #items == limit then
    more = 1
    if not less(items[limit][5], key) then return end
    items[limit] = nil
  end
  local lo, hi = 1, #items + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if less(key, items[mid][5]) then lo = mid + 1 else hi = mid end
  end
  table.insert(items, lo, {item_ns, id, value, {}, key})
end)
for _, item in ipairs(items) do
  item[5] = nil
  if full then item[4] = values_of(item[3]) end
end
local writes = {}
if full then writes = writes_of(items) end
return {'ok', items, writes, more}
"""

_script: Script | None = None


def _loaded() -> Script:
    global _script
    if _script is None:
        _script = Script(_CODE)  # type: ignore[no-untyped-call]
    return _script


class Item(NamedTuple):
    """One checkpoint as the script returns it, names still percent-encoded."""

    ns: str
    checkpoint_id: str
    entry: bytes
    values: list[bytes | None]


class Reply(NamedTuple):
    """What one read returned: ``found`` is ``False`` when the thread's session does not exist."""

    found: bool
    items: list[Item]
    writes: list[tuple[str, bytes]]
    more: bool


async def read(store: SessionStore, thread_id: str, arguments: Sequence[str], *, owner: str | None) -> Reply:
    """Run the script for ``thread_id`` with ``arguments`` (the mode and its ARGV) and decode its reply.

    Raises:
        PermissionDeniedError: the thread belongs to another user than ``owner``.
    """
    schema = store.schema
    keys: list[str | bytes] = [
        schema.meta(thread_id),
        schema.companion(thread_id, KIND),
        schema.companion(thread_id, WRITES_KIND),
    ]
    args: list[str | bytes] = [owner or "", *arguments]
    script = _loaded()
    reply: Any = await store.call(
        lambda client: client.invoke_script(script, keys=keys, args=args), session_id=thread_id
    )
    status = as_text(reply[0])
    if status == "missing":
        return Reply(False, [], [], False)
    if status == "forbidden":
        raise PermissionDeniedError(
            f"thread {thread_id!r} belongs to another user than {owner!r}", session_id=thread_id, user_id=owner
        )
    items = [Item(as_text(ns), as_text(cid), entry, list(values)) for ns, cid, entry, values, *_ in reply[1]]
    flat = reply[2]
    writes = [(as_text(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]
    return Reply(True, items, writes, bool(reply[3]))


def get_arguments(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Return the ARGV of a ``get``: each ``(ns, id)`` already percent-encoded, id ``""`` for the latest."""
    return ["get", str(len(pairs)), *(value for pair in pairs for value in pair)]


def page_arguments(ns: str | None, *, before: str, cursor: str, limit: int, full: bool) -> list[str]:
    """Return the ARGV of a ``page`` (``ns`` percent-encoded, ``None`` for every namespace)."""
    return ["page", "*" if ns is None else ns, before, cursor, str(limit), "1" if full else "0"]
