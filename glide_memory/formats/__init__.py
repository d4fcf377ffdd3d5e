"""Exact converters between stored messages and LLM providers' message formats.

Pure functions, no I/O. Each ``to_X(from_X(x)) == x`` for the provider's
conversation ``x``, and each ``to_X`` also takes messages that came from any
other format, or were written directly with ``add_message(role, content,
tool_calls=..., tool_call_id=...)``, and writes input the provider accepts.
Bad input raises :class:`~glide_memory.errors.InvalidContentError`. Inputs
are never modified and outputs share nothing with them.

The stored (neutral) form, which the store keeps as JSON:

| field | holds |
|---|---|
| ``role`` | system, user, assistant, tool |
| ``content`` | a string, or Anthropic-shaped blocks (below) |
| ``tool_calls`` | Chat Completions calls ``{"id", "type": "function", "function": {"name", "arguments"}}`` |
| ``tool_call_id``, ``name`` | as in Chat Completions |
| ``metadata[<format>]`` | the format's patch: what its input had that the rest does not hold |

Blocks: ``{"type": "text", "text"}``, ``{"type": "image", "source": {"type":
"base64", "media_type", "data"} | {"type": "url", "url"}}``, ``{"type":
"tool_use", "id", "name", "input"}``, ``{"type": "tool_result", "tool_use_id",
"content": str | [blocks], "is_error"?}``.

A patch holds the original value of each field that would not come back by
itself (``{"role": "developer"}``, ``{"refusal": null}``, ``{"id": "fc_1"}``),
so nothing is lost; converters for other formats ignore it. Blocks (and
Responses tool calls) keep their own patch under the same format key, e.g.
``{"type": "image", "source": ..., "openai_chat": {"image_url": {"detail":
"high"}}}``. The keys ``openai_chat``, ``openai_responses``, ``anthropic`` and
``converse`` of ``metadata`` are therefore reserved. Each module's docstring
tables its mapping:

| format | module | functions |
|---|---|---|
| OpenAI Chat Completions | :mod:`.openai_chat` | :func:`from_openai_chat`, :func:`to_openai_chat` |
| OpenAI Responses ``input`` | :mod:`.openai_responses` | :func:`from_openai_responses`, :func:`to_openai_responses` |
| Anthropic Messages | :mod:`.anthropic` | :func:`from_anthropic`, :func:`to_anthropic` |
| Amazon Bedrock Converse (Strands Agents) | :mod:`.converse` | :func:`from_converse`, :func:`to_converse` |

The other formats' ``to_X`` also read messages stored in Converse's shape
(``{"toolUse": ...}`` blocks, which Strands sessions keep), so a Strands
session converts to any format.
"""

from glide_memory.formats.anthropic import AnthropicRequest, AnthropicSystem, from_anthropic, to_anthropic
from glide_memory.formats.converse import ConverseSystem, from_converse, to_converse
from glide_memory.formats.openai_chat import from_openai_chat, to_openai_chat
from glide_memory.formats.openai_responses import from_openai_responses, to_openai_responses

__all__ = [
    "AnthropicRequest",
    "AnthropicSystem",
    "ConverseSystem",
    "from_anthropic",
    "from_converse",
    "from_openai_chat",
    "from_openai_responses",
    "to_anthropic",
    "to_converse",
    "to_openai_chat",
    "to_openai_responses",
]
