"""Prompt building: the system prompt and the newest message always survive trimming."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.context import build_prompt, estimate_tokens, history_to, visible_history
from services.models import Message, Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def msg(
    i: int, role: str, text: str, reply_to: int | None = None, status: str = Status.DONE, parent: int | None = None
) -> Message:
    """Message `i`, created at second `i` (ids and times agree, as in the database)."""
    return Message(
        id=i,
        conversation_id="c",
        owner="o",
        role=role,
        content=text,
        reply_to=reply_to,
        status=status,
        parent_id=parent,
        created_at=T0 + timedelta(seconds=i),
    )


def texts(messages: list[Message]) -> list[str]:
    return [m.content for m in messages]


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
    history = [
        msg(1, "user", "q"),
        msg(2, "assistant", "v1", 1),
        msg(3, "assistant", "v2", 1),
        msg(4, "user", "next", parent=1),
    ]
    assert texts(visible_history(history)) == ["q", "v2", "next"]


# A tree: q1 → a1 → q2 → a2 → q3 → a3; q2 edited into q2b (→ a2b, then regenerated a2c → q3b → a3b);
# q3b edited into q3c (→ a3c): an edit inside a branch.
TREE = [
    msg(1, "user", "q1"),
    msg(2, "assistant", "a1", 1),
    msg(3, "user", "q2", parent=1),
    msg(4, "assistant", "a2", 3),
    msg(5, "user", "q3", parent=3),
    msg(6, "assistant", "a3", 5),
    msg(7, "user", "q2b", parent=1),
    msg(8, "assistant", "a2b", 7),
    msg(9, "assistant", "a2c", 7),
    msg(10, "user", "q3b", parent=7),
    msg(11, "assistant", "a3b", 10),
    msg(12, "user", "q3c", parent=7),
    msg(13, "assistant", "a3c", 12),
]


def test_the_newest_branch_is_shown_with_its_whole_continuation() -> None:
    assert texts(visible_history(TREE)) == ["q1", "a1", "q2b", "a2c", "q3c", "a3c"]


def test_choosing_an_old_version_of_a_question_shows_its_own_continuation() -> None:
    assert texts(visible_history(TREE, {3})) == ["q1", "a1", "q2", "a2", "q3", "a3"]
    assert texts(visible_history(TREE, {10, 8})) == ["q1", "a1", "q2b", "a2b", "q3b", "a3b"]


def test_a_stored_pick_outranks_a_newer_version_and_a_newer_version_outranks_the_pick() -> None:
    tree = [m.model_copy() for m in TREE]
    tree[2].picked_at = T0 + timedelta(seconds=100)  # the reader switched back to q2
    assert texts(visible_history(tree)) == ["q1", "a1", "q2", "a2", "q3", "a3"]
    tree.append(msg(200, "user", "q2d", parent=1))  # an edit after that switch is shown
    assert texts(visible_history(tree)) == ["q1", "a1", "q2d"]


def test_an_answer_is_prompted_with_its_own_branch_even_when_another_is_shown() -> None:
    assert texts(history_to(TREE, 10)) == ["q1", "a1", "q2b", "a2c", "q3b"]
    assert texts(history_to(TREE, 5)) == ["q1", "a1", "q2", "a2", "q3"]
    assert texts(history_to(TREE, 1)) == ["q1"]


def test_empty_failed_answers_are_left_out() -> None:
    history = [msg(1, "user", "q"), msg(2, "assistant", "", 1, Status.ERROR), msg(3, "user", "again")]
    assert [p["content"] for p in build_prompt("S", history, 1000)] == ["S", "q", "again"]
