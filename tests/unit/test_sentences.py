"""What a screen reader hears of a streaming answer: each finished sentence once, in plain words."""

from __future__ import annotations

from services.sentences import CODE_BLOCK, MAX_SENTENCE, Sentences

ANSWER = (
    "# Plan\n\nFirst, we **read** the [docs](https://example.com/d). Then we test! Does it work? Yes.\n\n"
    "- item one\n- item *two*\n\n```python\nprint('not read aloud.')\n```\n\n> Quoted advice. Done\n\nLast words"
)
SAID = ["Plan", "First, we read the docs.", "Then we test!", "Does it work?", "Yes.", "item one", "item two",
        CODE_BLOCK, "Quoted advice.", "Done", "Last words"]


def _said(text: str, step: int) -> list[str]:
    sentences, out = Sentences(), []
    for i in range(0, len(text), step):
        out += sentences.feed(text[i : i + step])
    return out + sentences.finish()


def test_each_sentence_is_said_once_in_plain_words_however_the_text_arrives() -> None:
    for step in (1, 2, 3, 7, 50, len(ANSWER)):
        assert _said(ANSWER, step) == SAID, step


def test_a_sentence_is_said_when_it_is_complete_not_before() -> None:
    sentences = Sentences()
    assert sentences.feed("The first sentence") == []
    assert sentences.feed(". The sec") == ["The first sentence."]
    assert sentences.feed("ond one.") == []  # its end could still be "...": wait for the space
    assert sentences.feed(" ") == ["The second one."]


def test_text_on_screen_before_the_reader_arrived_is_not_said_again() -> None:
    sentences = Sentences("Already shown. And half of th")
    assert sentences.feed("is one. Next") == ["And half of this one."]
    assert sentences.finish() == ["Next"]


def test_a_long_run_without_end_marks_is_said_in_pieces() -> None:
    words = "word " * 2000
    out = _said(words, 3)
    assert " ".join(out) == words.strip()
    assert len(out) <= len(words) // (MAX_SENTENCE - 10) + 1 and all(len(s) <= MAX_SENTENCE for s in out)
