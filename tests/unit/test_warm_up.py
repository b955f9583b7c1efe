"""A starting conversation does not share its two cores with the warm-up of its replacement
(the limits tests watch a real worker's processes do this)."""

from __future__ import annotations

from agent_worker.warm_up import WarmUpHold

HOLD = 3.0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_taken_warm_process_is_replaced_only_after_the_hold() -> None:
    clock = Clock()
    hold = WarmUpHold(HOLD, clock=clock)
    hold.conversation_starting(idle_after=1)
    assert hold.target(2) == 1
    clock.now += HOLD - 0.1
    assert hold.target(2) == 1
    clock.now += 0.2
    assert hold.target(2) == 2


def test_taking_the_last_warm_process_replaces_it_at_once() -> None:
    hold = WarmUpHold(HOLD, clock=Clock())
    hold.conversation_starting(idle_after=0)
    assert not hold.holding
    assert hold.target(2) == 2


def test_a_second_start_during_the_hold_keeps_the_lower_target_and_extends_the_hold() -> None:
    clock = Clock()
    hold = WarmUpHold(HOLD, clock=clock)
    hold.conversation_starting(idle_after=2)
    clock.now += 2.0
    hold.conversation_starting(idle_after=1)
    clock.now += 2.0
    assert hold.target(3) == 1
    clock.now += HOLD
    assert hold.target(3) == 3


def test_a_second_start_that_takes_the_last_warm_process_ends_the_hold() -> None:
    hold = WarmUpHold(HOLD, clock=Clock())
    hold.conversation_starting(idle_after=1)
    hold.conversation_starting(idle_after=0)
    assert hold.target(2) == 2


def test_the_hold_never_raises_what_livekit_agents_asks_for() -> None:
    hold = WarmUpHold(HOLD, clock=Clock())
    hold.conversation_starting(idle_after=3)
    assert hold.target(1) == 1  # a busy worker's lower target stands


def test_a_delay_of_zero_holds_nothing() -> None:
    hold = WarmUpHold(0.0, clock=Clock())
    hold.conversation_starting(idle_after=1)
    assert hold.target(2) == 2
