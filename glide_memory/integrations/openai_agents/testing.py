"""An offline scripted model for the OpenAI Agents SDK: tests, notebooks and demos, no network, no API key.

::

    from glide_memory.integrations.openai_agents.testing import ScriptedModel, text, tool_call

    model = ScriptedModel([[tool_call("call-1", "clock", {"tz": "UTC"})], [text("It is noon.")]])
    agent = Agent(name="assistant", model=model, tools=[clock])

Each turn the Runner asks the model for is the next list of output items;
``model.inputs`` records the input items each call was given (so a test can
see the history a session fed the model).
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from agents.items import ModelResponse, TResponseInputItem, TResponseOutputItem, TResponseStreamEvent
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
)
from openai.types.responses.response_reasoning_item import Summary

if TYPE_CHECKING:
    from agents.agent_output import AgentOutputSchemaBase
    from agents.handoffs import Handoff
    from agents.model_settings import ModelSettings
    from agents.models.interface import ModelTracing
    from agents.tool import Tool
    from openai.types.responses.response_prompt_param import ResponsePromptParam


def text(content: str, *, item_id: str = "msg-1") -> ResponseOutputMessage:
    """Return an assistant message saying ``content``."""
    part = ResponseOutputText(type="output_text", text=content, annotations=[])
    return ResponseOutputMessage(id=item_id, type="message", role="assistant", status="completed", content=[part])


def tool_call(
    call_id: str, name: str, arguments: dict[str, Any], *, item_id: str | None = None
) -> ResponseFunctionToolCall:
    """Return a call of the function tool ``name``."""
    return ResponseFunctionToolCall(
        type="function_call", id=item_id or f"fc-{call_id}", call_id=call_id, name=name, arguments=json.dumps(arguments)
    )


def reasoning(summary: str, *, item_id: str = "rs-1") -> ResponseReasoningItem:
    """Return a reasoning item with one summary text."""
    return ResponseReasoningItem(type="reasoning", id=item_id, summary=[Summary(type="summary_text", text=summary)])


class ScriptedModel(Model):
    """A model that answers each call with the next scripted turn (a list of output items).

    Args:
        turns: The output items of each call, in order.

    Raises:
        IndexError: (from a call) the script ran out of turns.
    """

    def __init__(self, turns: Iterable[list[TResponseOutputItem]] = ()) -> None:
        self.turns = [list(turn) for turn in turns]
        self.inputs: list[list[TResponseInputItem]] = []

    def add(self, *outputs: TResponseOutputItem) -> None:
        """Append one turn."""
        self.turns.append(list(outputs))

    def _next(self, input: str | list[TResponseInputItem]) -> list[TResponseOutputItem]:
        self.inputs.append([{"role": "user", "content": input}] if isinstance(input, str) else copy.deepcopy(input))
        if not self.turns:
            raise IndexError("the scripted model has no turn left")
        return self.turns.pop(0)

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        """Return the next scripted turn."""
        output = self._next(input)
        return ModelResponse(output=output, usage=Usage(), response_id=f"resp-scripted-{len(self.inputs)}")

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """Stream the next scripted turn as one completed response."""
        output = self._next(input)
        response = Response(
            id=f"resp-scripted-{len(self.inputs)}",
            created_at=0,
            model="scripted",
            object="response",
            output=output,
            tool_choice="auto",
            tools=[],
            parallel_tool_calls=False,
        )
        yield ResponseCompletedEvent(type="response.completed", response=response, sequence_number=0)
