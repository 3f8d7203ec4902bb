"""What pages get from ChatService: the thread with the answer-version rule and cached HTML, answers
followed by callback with ChatService's own events, and news of answers started elsewhere.
Real services against the fake upstream over HTTP and a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from services import events
from services.chat import ChatService, NotFound
from services.models import Status
from tests.fake_upstream import FakeUpstream, Reply
from tests.unit.test_generation import finish, make_chat, openai_settings


async def two_versions(fake: FakeUpstream, tmp_path: Path) -> tuple[ChatService, str, int, int, int]:
    """A question answered twice (the second a regeneration): conversation, question, first, second."""
    fake.enqueue(Reply(text="first *version*"))
    fake.enqueue(Reply(text="second *version*"))
    chat = make_chat(tmp_path, openai_settings(fake))
    sent = await chat.send("me", None, "question")
    first = sent.assistant_message.id
    await finish(chat, "me", first)
    second = (await chat.regenerate("me", first)).assistant_message.id
    await finish(chat, "me", second)
    return chat, sent.conversation.id, sent.user_message.id, first, second


async def test_thread_shows_the_chosen_version_else_the_newest_with_its_html(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat, conv, question, first, second = await two_versions(fake_upstream, tmp_path)
    [newest] = (await chat.thread("me", conv)).turns
    assert newest.question.id == question
    assert [v.id for v in newest.versions] == [first, second]
    assert newest.answer.id == second and "<em>version</em>" in newest.html and "second" in newest.html
    [chosen] = (await chat.thread("me", conv, chosen={question: first})).turns
    assert chosen.answer.id == first and "first" in chosen.html


async def test_thread_of_an_unknown_or_foreign_conversation_is_not_found(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat, conv, *_ = await two_versions(fake_upstream, tmp_path)
    with pytest.raises(NotFound):
        await chat.thread("someone else", conv)
    empty = await chat.new_conversation("me")
    assert (await chat.thread("me", empty.id)).turns == []


async def test_a_followed_answer_arrives_whole_then_done_and_news_of_its_start(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply(text="one two three four five six", interval=0.02))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    news: list[events.Started] = []
    unwatch = chat.watch_started("me", news.append)
    sent = await chat.send("me", None, "count")
    unwatch()
    answer = sent.assistant_message.id
    assert [(s.message_id, s.conversation_id) for s in news] == [(answer, sent.conversation.id)]
    assert chat.running("me", sent.conversation.id) == news
    got: list[events.PageEvent] = []
    following = chat.follow("me", answer, got.append)
    assert following is not None and following.started == news[0] and following.done is None
    row = await finish(chat, "me", answer)
    deltas = [e for e in got if isinstance(e, events.Delta)]
    assert following.snapshot.text + "".join(d.text for d in deltas) == row.content
    assert deltas[-1].offset == len(row.content)
    [done] = [e for e in got if isinstance(e, events.Done)]
    assert done.status == Status.DONE and got.index(done) > got.index(deltas[-1])
    assert events.Saved(True) in got[got.index(done) :]
    following.unsubscribe()
    assert chat.follow("me", answer, got.append) is None  # ended and saved: the thread has it
    assert chat.stats()["watchers"] == 0


async def test_a_retry_is_a_new_run_of_the_same_answer(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.enqueue(Reply(text="partial", interval=0.5))
    fake_upstream.enqueue(Reply(text="whole"))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q")
    answer = sent.assistant_message.id
    first = chat.follow("me", answer, lambda _e: None)
    chat.stop("me", answer)
    await finish(chat, "me", answer)
    retried = await chat.retry("me", answer)
    second = chat.follow("me", retried.assistant_message.id, lambda _e: None)
    assert first is not None and second is not None
    assert second.started.message_id == first.started.message_id and second.started.run != first.started.run
    await finish(chat, "me", answer)
