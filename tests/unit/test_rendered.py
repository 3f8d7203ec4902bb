"""The rendered-HTML cache on a real SQLite file and a real PostgreSQL database: render once, invalidate,
owner scoping."""

from __future__ import annotations

from pathlib import Path

import pytest

import services.rendered as rendered
from services.markdown import render_markdown
from services.models import Message, RenderedAnswer, Status
from services.rendered import RenderedHtml, renderer_version
from services.store import Store


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text actually rendered (the real renderer still runs)."""
    seen: list[str] = []

    def counting(text: str) -> str:
        seen.append(text)
        return render_markdown(text)

    monkeypatch.setattr(rendered, "render_markdown", counting)
    return seen


async def thread(store: Store, owner: str, answers: list[str], status: str = Status.DONE) -> list[Message]:
    conv = await store.create_conversation(owner)
    out: list[Message] = []
    for i, text in enumerate(answers):
        q = await store.add_message(Message(conversation_id=conv.id, owner=owner, role="user", content=f"q{i}"))
        out.append(q)
        out.append(
            await store.add_message(
                Message(
                    conversation_id=conv.id, owner=owner, role="assistant", content=text, reply_to=q.id, status=status
                )
            )
        )
    return out


async def test_an_answer_is_rendered_once_then_read_from_the_database(db_url: str, renders: list[str]) -> None:
    url = db_url
    messages = await thread(Store(url), "alice", ["# One\n\n**bold**", "- a\n- b"])
    first = await RenderedHtml(Store(url)).html_for("alice", messages)
    assert renders == ["# One\n\n**bold**", "- a\n- b"]  # user messages are never rendered as markdown
    assert first == {messages[1].id: render_markdown("# One\n\n**bold**"), messages[3].id: render_markdown("- a\n- b")}
    again = await RenderedHtml(Store(url)).html_for("alice", messages)  # a new process: same file
    assert again == first and len(renders) == 2


async def test_a_new_renderer_version_or_a_changed_text_renders_again(db_url: str, renders: list[str]) -> None:
    store = Store(db_url)
    messages = await thread(store, "o", ["*old*"])
    await RenderedHtml(store, version="v1").html_for("o", messages)
    await RenderedHtml(store, version="v1").html_for("o", messages)
    assert len(renders) == 1
    await RenderedHtml(store, version="v2").html_for("o", messages)
    assert len(renders) == 2
    messages[1].content = "*retried*"  # a retry rewrites the text of the same message
    html = await RenderedHtml(store, version="v2").html_for("o", messages)
    assert html[messages[1].id] == "<p><em>retried</em></p>\n" and len(renders) == 3


async def test_streaming_answers_are_not_cached(db_url: str, renders: list[str]) -> None:
    store = Store(db_url)
    messages = await thread(store, "o", ["so far"], status=Status.STREAMING)
    assert await RenderedHtml(store).html_for("o", messages) == {}
    assert renders == []


async def test_cache_rows_are_scoped_to_their_owner(db_url: str) -> None:
    store = Store(db_url)
    alice = await thread(store, "alice", ["alice's secret"])
    answer_id = alice[1].id
    assert answer_id is not None
    await RenderedHtml(store).html_for("alice", alice)
    assert await store.get_rendered("bob", [answer_id]) == {}
    # bob cannot plant HTML for alice's answer, neither as himself nor under her name
    for owner in ("bob", "alice"):
        bad = RenderedAnswer(message_id=answer_id, owner=owner, renderer="x", digest="x", html="planted")
        await store.save_rendered("bob", [bad])
    row = (await store.get_rendered("alice", [answer_id]))[answer_id]
    assert "secret" in row.html and row.renderer == rendered.RENDERER_VERSION


def test_renderer_version_follows_every_module_of_the_markdown_package(tmp_path: Path) -> None:
    sources = rendered.markdown_sources()
    assert {p.name for p in sources} >= {"__init__.py", "css.py", "patch.py", "render.py", "stream.py"}
    copies = [tmp_path / p.name for p in sources]
    for src, copy in zip(sources, copies, strict=True):
        copy.write_bytes(src.read_bytes())
    assert renderer_version(copies) == rendered.RENDERER_VERSION  # the default hashes exactly these
    for copy in copies:
        original = copy.read_bytes()
        copy.write_bytes(original + b"# changed\n")
        assert renderer_version(copies) != rendered.RENDERER_VERSION, copy.name
        copy.write_bytes(original)


def test_large_renders_are_split_into_bounded_batches() -> None:
    messages = [Message(conversation_id="c", owner="o", role="assistant", content="x" * 10_000) for _ in range(7)]
    batches = list(rendered._batches(messages))
    assert [len(b) for b in batches] == [2, 2, 2, 1]
    assert all(sum(len(m.content) for m in b) <= rendered.BATCH_CHARS for b in batches)
