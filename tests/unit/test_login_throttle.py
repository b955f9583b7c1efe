"""Failed logins make the next attempt wait, per account and per address, on a clock the test moves."""

from __future__ import annotations

import pytest

from voice_app.auth.throttle import InMemoryFailureStore, LoginThrottle, ThrottlePolicy

FORGET_AFTER = 15 * 60


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> LoginThrottle:
    """Two free failures per account (six per address), then 1 s doubling, capped at 4 s (8 s)."""
    return LoginThrottle(
        InMemoryFailureStore(forget_after_seconds=FORGET_AFTER),
        account_policy=ThrottlePolicy(free_failures=2, base_seconds=1, max_seconds=4),
        address_policy=ThrottlePolicy(free_failures=6, base_seconds=1, max_seconds=8),
        clock=clock,
    )


def fail(throttle: LoginThrottle, account: str = "ada@example.com", address: str = "10.0.0.1") -> float:
    """One attempt with a wrong password: the wait it was told, or 0 when it went ahead and failed."""
    return throttle.start_attempt(account=account, address=address)


def test_an_account_may_fail_freely_a_few_times_then_waits_longer_each_time_up_to_the_cap(
    throttle: LoginThrottle, clock: Clock
) -> None:
    assert fail(throttle) == 0
    assert fail(throttle) == 0
    waits = []
    for _ in range(5):
        waits.append(fail(throttle))
        clock.advance(waits[-1])
        assert fail(throttle) == 0  # the attempt after the wait goes ahead (and fails again)
    assert waits == [1, 2, 4, 4, 4]


def test_the_wait_is_the_time_left_since_the_last_failure(throttle: LoginThrottle, clock: Clock) -> None:
    fail(throttle)
    fail(throttle)
    clock.advance(0.25)
    assert fail(throttle) == pytest.approx(0.75)


def test_the_right_password_waits_too_then_lets_the_owner_in_and_starts_afresh(
    throttle: LoginThrottle, clock: Clock
) -> None:
    fail(throttle)
    fail(throttle)
    assert throttle.start_attempt(account="ada@example.com", address="10.0.0.1") == 1  # even the owner

    clock.advance(1)
    assert throttle.start_attempt(account="ada@example.com", address="10.0.0.1") == 0
    throttle.attempt_succeeded(account="ada@example.com", address="10.0.0.1")

    assert fail(throttle) == 0
    assert fail(throttle) == 0  # the account's count started again


def test_one_address_guessing_at_many_accounts_waits_on_every_account(throttle: LoginThrottle) -> None:
    for number in range(6):
        assert fail(throttle, account=f"guess{number}@example.com", address="10.0.0.2") == 0

    assert fail(throttle, account="victim@example.com", address="10.0.0.2") == 1
    assert fail(throttle, account="victim@example.com", address="10.0.0.3") == 0  # the owner elsewhere


def test_a_burst_of_concurrent_guesses_gets_no_more_tries_than_the_free_ones(throttle: LoginThrottle) -> None:
    """Attempts are counted before the password is checked, so none slips in while hashes run."""
    started = [fail(throttle) for _ in range(10)]  # none has finished when the next starts

    assert started.count(0) == 2


def test_failures_are_forgotten_after_a_quiet_period(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(3):
        clock.advance(fail(throttle))
    clock.advance(FORGET_AFTER + 1)

    assert fail(throttle) == 0
    assert fail(throttle) == 0


def test_a_successful_login_gives_the_address_its_attempt_back_without_forgetting_other_failures(
    throttle: LoginThrottle,
) -> None:
    for number in range(5):
        fail(throttle, account=f"guess{number}@example.com", address="10.0.0.4")
    assert throttle.start_attempt(account="ada@example.com", address="10.0.0.4") == 0
    throttle.attempt_succeeded(account="ada@example.com", address="10.0.0.4")

    assert fail(throttle, account="guess9@example.com", address="10.0.0.4") == 0  # the 6th free one
    assert fail(throttle, account="guess10@example.com", address="10.0.0.4") == 1


@pytest.mark.parametrize(("failures", "wait"), [(0, 0), (1, 0), (2, 1), (3, 2), (4, 4), (5, 4), (50, 4)])
def test_the_policy_doubles_the_wait_after_the_free_failures_up_to_its_cap(
    failures: int, wait: float
) -> None:
    assert ThrottlePolicy(free_failures=2, base_seconds=1, max_seconds=4).wait_after(failures) == wait


def test_the_memory_store_prunes_forgotten_keys_as_it_grows(clock: Clock) -> None:
    store = InMemoryFailureStore(forget_after_seconds=10)
    store.PRUNE_ABOVE = 5
    for number in range(5):
        store.add_failure(f"old{number}", clock())
    clock.advance(11)
    store.add_failure("new", clock())  # the sixth key makes the store prune

    assert [store.get(f"old{number}", clock()) for number in range(5)] == [None] * 5
    assert len(store._records) == 1
