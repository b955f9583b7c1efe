"""Several users pressing Start at the same moment at an idle worker all get an agent, and the
worker still stops at ``MAX_CONVERSATIONS`` (the capacity tests run this on real processes)."""

from __future__ import annotations

from agent_worker.load import conversation_load, load_with_starting_conversations

THRESHOLD = 0.7


def accepted_at_once(arriving: int, *, max_conversations: int, running: int = 0) -> int:
    """How many simultaneous job requests a worker says yes to, as livekit-agents decides:
    a request is accepted while the load with the already accepted ones is under the threshold."""
    measured = conversation_load(running, max_conversations, THRESHOLD)
    per_conversation = conversation_load(1, max_conversations, THRESHOLD)
    accepted = 0
    for _ in range(arriving):
        if load_with_starting_conversations(measured, accepted, running, per_conversation) < THRESHOLD:
            accepted += 1
    return accepted


def test_three_users_pressing_start_together_at_an_idle_worker_all_get_an_agent() -> None:
    assert accepted_at_once(3, max_conversations=20) == 3


def test_an_idle_worker_takes_no_more_than_its_limit_at_once() -> None:
    assert accepted_at_once(5, max_conversations=2) == 2
    assert accepted_at_once(3, max_conversations=1) == 1


def test_a_busy_worker_counts_starting_conversations_as_running_ones_weigh() -> None:
    assert accepted_at_once(10, max_conversations=6, running=4) == 2
    assert load_with_starting_conversations(0.5, 1, 2, per_conversation=0.01) == 0.75
