"""Which agent the backend calls silent, and when a dispatch counts as an agent still coming."""

from __future__ import annotations

import time

from livekit import api

from voice_app.rooms.agent_return import RECENT_DISPATCH_SECONDS, agent_on_its_way, silent_agents


def test_an_agent_whose_heartbeat_did_not_move_is_silent() -> None:
    assert silent_agents({"agent-a": "41"}, {"agent-a": "41"}) == {"agent-a"}


def test_an_agent_whose_heartbeat_moved_is_alive() -> None:
    assert silent_agents({"agent-a": "41"}, {"agent-a": "43"}) == set()


def test_an_agent_without_a_heartbeat_is_never_called_silent() -> None:
    """An agent of an older worker, which does not beat: only LiveKit's timeout can tell."""
    assert silent_agents({"agent-a": None}, {"agent-a": None}) == set()


def test_an_agent_seen_only_once_is_not_judged() -> None:
    assert silent_agents({"agent-a": "7"}, {"agent-a": "7", "agent-b": "1"}) == {"agent-a"}
    assert silent_agents({"agent-a": "7"}, {}) == set()  # it left in between


def dispatch(*, age_seconds: float, sent: list[str]) -> api.AgentDispatch:
    """A dispatch created ``age_seconds`` ago whose jobs went to the agents ``sent``."""
    created = int((time.time() - age_seconds) * 1e9)
    jobs = [api.Job(state=api.JobState(participant_identity=identity)) for identity in sent]
    return api.AgentDispatch(state=api.AgentDispatchState(created_at=created, jobs=jobs))


def test_a_young_dispatch_is_an_agent_on_its_way() -> None:
    assert agent_on_its_way([dispatch(age_seconds=2, sent=[])], lost=set(), now=time.time())


def test_the_dispatch_that_sent_the_lost_agent_is_not_a_new_one_coming() -> None:
    """A conversation lost in its first seconds still gets a new agent."""
    young_but_lost = dispatch(age_seconds=2, sent=["agent-lost"])
    assert not agent_on_its_way([young_but_lost], lost={"agent-lost"}, now=time.time())


def test_an_old_dispatch_is_not_an_agent_on_its_way() -> None:
    old = dispatch(age_seconds=RECENT_DISPATCH_SECONDS + 1, sent=[])
    assert not agent_on_its_way([old], lost=set(), now=time.time())
