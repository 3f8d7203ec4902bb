"""Prompt building: the system prompt and the newest message always survive trimming."""

from __future__ import annotations

from services.context import build_prompt, estimate_tokens, visible_history
from services.models import Message, Status


def msg(i: int, role: str, text: str, reply_to: int | None = None, status: str = Status.DONE) -> Message:
    return Message(id=i, conversation_id="c", owner="o", role=role, content=text, reply_to=reply_to, status=status)


def test_everything_fits_in_a_large_budget() -> None:
    history = [msg(1, "user", "hi"), msg(2, "assistant", "hello", 1), msg(3, "user", "and?")]
    prompt = build_prompt("SYS", history, budget=10_000)
    assert prompt == [
        {"role": "system", "content": "SYS"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and?"},
    ]


def test_oldest_turns_are_dropped_first_and_system_and_newest_kept() -> None:
    history = [msg(i, "user" if i % 2 else "assistant", f"turn {i} " + "x" * 400, i - 1 or None) for i in range(1, 12)]
    budget = estimate_tokens("SYS") + 3 * estimate_tokens(history[-1].content)
    prompt = build_prompt("SYS", history, budget)
    assert prompt[0] == {"role": "system", "content": "SYS"}
    assert prompt[-1]["content"] == history[-1].content
    assert len(prompt) < len(history) + 1
    assert prompt[1]["role"] == "user"  # never starts the history with an orphan answer
    contents = [p["content"] for p in prompt[1:]]
    assert contents == [m.content for m in history if m.content in contents]  # order kept, newest contiguous


def test_newest_message_is_kept_even_when_alone_over_budget() -> None:
    huge = "y" * 100_000
    prompt = build_prompt("SYS", [msg(1, "user", "old"), msg(2, "user", huge)], budget=50)
    assert prompt == [{"role": "system", "content": "SYS"}, {"role": "user", "content": huge}]


def test_only_the_newest_version_of_a_regenerated_answer_is_sent() -> None:
    history = [msg(1, "user", "q"), msg(2, "assistant", "v1", 1), msg(3, "assistant", "v2", 1), msg(4, "user", "next")]
    assert [m.content for m in visible_history(history)] == ["q", "v2", "next"]


def test_empty_failed_answers_are_left_out() -> None:
    history = [msg(1, "user", "q"), msg(2, "assistant", "", 1, Status.ERROR), msg(3, "user", "again")]
    assert [p["content"] for p in build_prompt("S", history, 1000)] == ["S", "q", "again"]
