"""Tools the agent can call, written in Python: one module per tool, all listed in ``TOOLS``.

To add a tool, write one function in a new module here and append it to ``TOOLS``::

    from livekit.agents import RunContext, ToolError

    from agent_worker.tools.base import ToolContext, tool

    @tool(running="Checking the weather…")
    async def weather_in(context: RunContext[ToolContext], city: str) -> str:
        # docstring: "The weather in a city today. Use it when the user asks about the weather."
        # followed by an Args: section describing `city`
        ...

``tool`` is livekit-agents' ``function_tool`` plus the words the talk page shows while the tool
runs. The LLM reads the docstring and the ``Args:`` section, so write them for it. Return a short
sentence (it is read by the model, and shown on the page and in the history); raise ``ToolError``
with a sentence the model can pass on when the tool cannot answer. ``context.userdata`` is the
conversation's :class:`~agent_worker.tools.base.ToolContext` (the user, their time zone, the
database). Never log tool arguments or results: they are the user's words.
"""

from __future__ import annotations

from agent_worker.tools.base import DeclaredTool, ToolContext, running_text
from agent_worker.tools.clock import current_date_and_time
from agent_worker.tools.recall import recall_past_conversations

TOOLS: list[DeclaredTool] = [current_date_and_time, recall_past_conversations]
"""Every tool the agent is given, in the order the LLM sees them."""


def offered_tools(llm_provider: str, *, local_llm_tools: bool) -> list[DeclaredTool]:
    """The tools given to the LLM: all of them, except to the offline one unless asked.

    The offline model (SmolLM2-135M) rarely calls a tool right, and the tools' descriptions (about
    230 tokens) would take a fifth of its 1,024-token context; ``LOCAL_LLM_TOOLS`` offers them anyway, for a
    bigger model behind the local inference service.
    """
    if llm_provider == "local" and not local_llm_tools:
        return []
    return list(TOOLS)


__all__ = ["TOOLS", "DeclaredTool", "ToolContext", "offered_tools", "running_text"]
