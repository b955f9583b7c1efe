"""Cut an LLM's streamed reply into pieces a non-streaming voice can start on early.

livekit-agents' default sentence tokenizer releases a sentence only once the next one has begun,
so the first audio waits for the LLM's second sentence. Here the first piece is released at its
first clause (a comma, colon or sentence end after a couple of words, or after a handful of words
when there is no punctuation) and every later piece as soon as its sentence ends.
"""

from __future__ import annotations

import re

from livekit.agents import tokenize, utils

FIRST_PIECE_MIN_WORDS = 2
"""The first piece waits for this many words: a lone "Sure," sounds clipped when spoken apart."""
FIRST_PIECE_MAX_WORDS = 7
"""Without punctuation, the first piece is cut after this many words."""

_CLAUSE_END = re.compile(r"[,;:.!?…—](?=\s)")
_SENTENCE_END = re.compile(r"[.!?…](?=\s)")


def next_piece(buffer: str, *, first: bool) -> tuple[str, str] | None:
    """Split the next speakable piece off ``buffer``: ``(piece, rest)``, or None to wait for more.

    A boundary counts only once the whitespace after it has arrived, so "3." of "3.5" or the "Mr."
    of a name being streamed is not cut early by a token boundary.
    """
    pattern = _CLAUSE_END if first else _SENTENCE_END
    for match in pattern.finditer(buffer):
        piece = buffer[: match.end()]
        if not first or len(piece.split()) >= FIRST_PIECE_MIN_WORDS:
            return piece.strip(), buffer[match.end() :].lstrip()
    if first:
        words = buffer.split()
        # the last word may still be growing: only cut when a word after it has begun
        if len(words) > FIRST_PIECE_MAX_WORDS:
            cut = _end_of_word(buffer, FIRST_PIECE_MAX_WORDS)
            return buffer[:cut].strip(), buffer[cut:].lstrip()
    return None


def _end_of_word(text: str, count: int) -> int:
    """Index just after the ``count``-th whitespace-separated word of ``text``."""
    matches = list(re.finditer(r"\S+", text))
    return matches[count - 1].end()


class SpokenChunkTokenizer(tokenize.SentenceTokenizer):
    """A sentence tokenizer for ``tts.StreamAdapter`` that starts speech on the first clause."""

    def tokenize(self, text: str, *, language: str | None = None) -> list[str]:
        """Split a whole text the way the stream would."""
        pieces: list[str] = []
        rest = text + " "
        while found := next_piece(rest, first=not pieces):
            piece, rest = found
            pieces.append(piece)
        if rest.strip():
            pieces.append(rest.strip())
        return pieces

    def stream(self, *, language: str | None = None) -> SpokenChunkStream:
        """A stream that takes the LLM's text as it comes and yields pieces to speak."""
        return SpokenChunkStream()


class SpokenChunkStream(tokenize.SentenceStream):
    """Pieces of one reply; ``flush`` ends a segment (the next piece is again a "first" one)."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = ""
        self._first = True
        self._segment_id = utils.shortuuid()

    def push_text(self, text: str) -> None:
        """Add streamed text and release every piece that is now complete."""
        self._check_not_closed()
        self._buffer += text
        while found := next_piece(self._buffer, first=self._first):
            piece, self._buffer = found
            self._first = False
            if piece:
                self._event_ch.send_nowait(tokenize.TokenData(segment_id=self._segment_id, token=piece))

    def flush(self) -> None:
        """Release whatever is left as the segment's last piece."""
        self._check_not_closed()
        if self._buffer.strip():
            self._event_ch.send_nowait(
                tokenize.TokenData(segment_id=self._segment_id, token=self._buffer.strip())
            )
        self._buffer = ""
        self._first = True
        self._segment_id = utils.shortuuid()

    def end_input(self) -> None:
        """The reply is complete: release the rest and close."""
        self.flush()
        self._do_close()

    async def aclose(self) -> None:
        """Close without releasing anything more."""
        self._do_close()
