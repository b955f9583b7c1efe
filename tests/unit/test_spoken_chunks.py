"""The agent starts speaking on the first clause of its reply, then speaks sentence by sentence."""

from __future__ import annotations

import pytest

from agent_worker.providers.spoken_chunks import SpokenChunkStream, SpokenChunkTokenizer, next_piece


def pieces_of(stream_text: list[str]) -> list[str]:
    """Feed text as an LLM streams it (token by token) and collect what would be spoken, in order."""
    stream = SpokenChunkStream()
    for token in stream_text:
        stream.push_text(token)
    stream.end_input()
    spoken = []
    while True:
        try:
            spoken.append(stream._event_ch.recv_nowait().token)
        except Exception:
            return spoken


async def test_the_first_clause_is_released_before_the_sentence_ends() -> None:
    stream = SpokenChunkStream()
    for token in ["Sure", " thing", ",", " I", " can"]:
        stream.push_text(token)
    assert stream._event_ch.recv_nowait().token == "Sure thing,"


async def test_a_lone_first_word_waits_for_a_second_one() -> None:
    assert next_piece("Sure, ", first=True) is None
    assert next_piece("Sure, I can. Yes", first=True) == ("Sure, I can.", "Yes")


async def test_later_pieces_are_whole_sentences_released_as_soon_as_they_end() -> None:
    tokens = [
        "Hello",
        " there",
        ",",
        " friend",
        ".",
        " The",
        " weather",
        " is",
        " nice",
        ",",
        " sunny",
        ".",
        " Bye",
    ]
    assert pieces_of(tokens) == ["Hello there,", "friend.", "The weather is nice, sunny.", "Bye"]


async def test_without_punctuation_the_first_piece_is_cut_after_a_handful_of_words() -> None:
    tokens = [f" word{i}" for i in range(12)]
    spoken = pieces_of(tokens)
    assert spoken[0] == " ".join(f"word{i}" for i in range(7))
    assert " ".join(spoken) == " ".join(f"word{i}" for i in range(12))


@pytest.mark.parametrize("text", ["It costs 3.50 dollars today.", "Version 2.1 is out."])
async def test_a_decimal_point_inside_a_number_is_not_a_boundary(text: str) -> None:
    streamed = [text[i : i + 2] for i in range(0, len(text), 2)]
    assert " ".join(pieces_of(streamed)) == text
    assert all(not piece.endswith(("3.", "2.")) for piece in pieces_of(streamed))


async def test_nothing_is_lost_or_reordered() -> None:
    text = "First, a clause. Then a sentence! And a question? Finally the end"
    streamed = [text[i : i + 3] for i in range(0, len(text), 3)]
    assert " ".join(pieces_of(streamed)) == text
    assert SpokenChunkTokenizer().tokenize(text) == pieces_of(streamed)


async def test_flush_starts_a_new_segment_whose_first_piece_is_again_a_clause() -> None:
    stream = SpokenChunkStream()
    stream.push_text("One sentence here. Another")
    stream.flush()
    stream.push_text("Next segment, starts")
    first, second, third = (stream._event_ch.recv_nowait() for _ in range(3))
    assert [first.token, second.token, third.token] == ["One sentence here.", "Another", "Next segment,"]
    assert first.segment_id == second.segment_id != third.segment_id
