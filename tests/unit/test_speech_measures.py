"""The tests' two measures of what the agent heard: word accuracy (how well) and words heard (whether)."""

from __future__ import annotations

import pytest

from tests.support.speech import word_accuracy, words_heard

QUESTION = "Wait, stop please. I have a question."


@pytest.mark.parametrize(
    ("heard", "accuracy", "share_heard"),
    [
        ("wait stop please i have a question", 1.0, 1.0),
        ("Wait, stop, please! I have a question?", 1.0, 1.0),
        ("Wait, stop please. I have questions.", 5 / 7, 5 / 7),
        ("Wait, stop please. I can't wait. Stop please! I can't make", 0.0, 4 / 7),
        ("Tell me a story about a robot.", 1 / 7, 1 / 7),
        ("", 0.0, 0.0),
    ],
)
def test_a_repeated_phrase_costs_accuracy_but_not_the_words_heard(
    heard: str, accuracy: float, share_heard: float
) -> None:
    assert word_accuracy(QUESTION, heard) == pytest.approx(accuracy)
    assert words_heard(QUESTION, heard) == pytest.approx(share_heard)


def test_words_heard_count_only_in_the_order_they_were_said() -> None:
    assert words_heard("one two three", "three two one") == pytest.approx(1 / 3)
    assert words_heard("one two three", "one and two and three") == 1.0
