"""An offline Strands model that replays prepared replies: try agents with no API key or network.

Used by the test suite and the cookbooks; needs ``glide-memory[strands]``::

    from strands import Agent
    from glide_memory.integrations.strands.testing import ScriptedModel, text

    agent = Agent(model=ScriptedModel([text("Hello!")]))
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from glide_memory.errors import MissingDependencyError

try:
    from strands.models.model import Model
    from strands.types.content import ContentBlock, Messages
    from strands.types.streaming import StreamEvent
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError(
        "glide_memory.integrations.strands.testing needs Strands Agents: pip install 'glide-memory[strands]'"
    ) from exc


class ScriptedModel(Model):
    """Streams each prepared reply in turn through Strands' model interface.

    Args:
        replies: Assistant content, one list of blocks per model call
            (``{"text": ...}`` or ``{"toolUse": {...}}`` blocks).
    """

    def __init__(self, replies: list[list[ContentBlock]]) -> None:
        self.replies = list(replies)
        self.seen: list[Messages] = []
        self.config: dict[str, Any] = {"model_id": "scripted"}

    def update_config(self, **model_config: Any) -> None:
        """Merge settings into the config."""
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        """Return the config."""
        return self.config

    def structured_output(
        self, output_model: Any, prompt: Messages, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Structured output is not scripted."""
        raise NotImplementedError

    async def stream(
        self, messages: Messages, tool_specs: Any = None, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncIterable[StreamEvent]:
        """Yield the next prepared reply as stream events."""
        self.seen.append([dict(m) for m in messages])  # type: ignore[misc]
        if not self.replies:
            raise AssertionError("the scripted model ran out of replies")
        blocks = self.replies.pop(0)
        yield {"messageStart": {"role": "assistant"}}
        for block in blocks:
            if "toolUse" in block:
                use = block["toolUse"]
                yield {
                    "contentBlockStart": {"start": {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}}
                }
                yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(use["input"])}}}}
            else:
                yield {"contentBlockStart": {"start": {}}}
                yield {"contentBlockDelta": {"delta": {"text": block["text"]}}}
            yield {"contentBlockStop": {}}
        if any("toolUse" in b for b in blocks):
            yield {"messageStop": {"stopReason": "tool_use"}}
        else:
            yield {"messageStop": {"stopReason": "end_turn"}}
        yield {
            "metadata": {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}, "metrics": {"latencyMs": 1}}
        }


def text(value: str) -> list[ContentBlock]:
    """Return a reply of one text block."""
    return [{"text": value}]


def tool_use(tool_use_id: str, name: str, arguments: dict[str, Any]) -> list[ContentBlock]:
    """Return a reply that calls one tool."""
    return [{"toolUse": {"toolUseId": tool_use_id, "name": name, "input": arguments}}]
