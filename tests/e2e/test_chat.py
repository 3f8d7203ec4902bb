"""Issue #2 end to end: the real app, real Chromium, real HTTP to the fake upstream."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.fake_upstream import FakeUpstream, Reply, tokenize

MARKDOWN_ANSWER = (
    "## Plan\n\nHere is **bold** and `code`.\n\n- first\n- second\n\n"
    "```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def last_answer(page: Page):
    return page.locator('[data-role="assistant"]').last


CHAT_URL = re.compile(r"/c/[0-9a-f]{32}$")


def chat_url(page: Page) -> str:
    """The address of the chat the page shows. NiceGUI sends a batch's element updates before the
    scripts queued with them, so an answer fast enough to end inside the send's batch shows as done
    a moment before the address bar changes: wait for the address."""
    expect(page).to_have_url(CHAT_URL)
    return page.url


def settled(answer: Locator) -> Locator:
    """An ended answer once all of it is on screen: the last patch is revealed over a few frames after
    the status says so (its hidden rest waits in `.md-rv` spans)."""
    expect(answer.locator(".md-view[data-final]")).to_have_count(1)
    expect(answer.locator(".md-rv")).to_have_count(0)
    return answer


def final_words(answer: Locator) -> list[str]:
    """The words of an ended answer, all of them on screen."""
    return settled(answer).locator(".md-view").inner_text().split()


def test_streamed_markdown_answer(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text=MARKDOWN_ANSWER, interval=0.03))
    app = app_server()
    page.goto(app.url)
    expect(page.get_by_role("button", name="Send")).to_be_disabled()  # nothing typed yet
    send(page, "Make a plan")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "streaming")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_hidden()
    expect(answer).to_contain_text("Plan")  # text shows up while still streaming
    assert answer.get_attribute("data-status") == "streaming"
    expect(answer).to_have_attribute("data-status", "done", timeout=15_000)
    expect(answer.locator("h2")).to_have_text("Plan")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(answer.locator("li")).to_have_count(2)
    expect(answer.locator("pre code")).to_contain_text("print('hi')")
    expect(answer.locator("table td").first).to_have_text("1")
    expect(page.locator('[data-role="user"]')).to_have_text("Make a plan")
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_shift_enter_adds_a_line_and_enter_sends_both(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server()
    page.goto(app.url)
    box = page.get_by_role("textbox", name="Message")
    box.fill("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    expect(page.locator('[data-role="user"]')).to_have_count(0)
    box.press("Enter")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    assert fake_upstream.requests[0].messages[-1]["content"] == "line one\nline two"
    expect(box).to_have_value("")


def test_stream_switch_off_sends_one_request_and_is_remembered(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(Reply(text="The whole answer at once.", headers_delay=2.0))
    app = app_server()
    page.goto(app.url)
    switch = page.get_by_role("switch", name="Stream responses")
    expect(switch).to_be_checked()
    switch.click()
    expect(switch).not_to_be_checked()
    send(page, "no streaming please")
    answer = last_answer(page)
    expect(answer).to_contain_text("Thinking")  # typing indicator until the whole answer arrives
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer).to_contain_text("The whole answer at once.")
    assert fake_upstream.requests[0].stream is False
    page.reload()
    expect(page.get_by_role("switch", name="Stream responses")).not_to_be_checked()


def test_follow_up_reaches_upstream_with_history(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text="Paris."), Reply(text="About two million people."))
    app = app_server()
    page.goto(app.url)
    send(page, "Capital of France?")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    send(page, "How many live there?")
    expect(page.locator('[data-role="assistant"][data-status="done"]')).to_have_count(2)
    messages = fake_upstream.requests[1].messages
    assert messages[0]["role"] == "system"
    assert messages[1:] == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "How many live there?"},
    ]


def test_conversations_survive_an_app_restart(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text="Remember me."))
    app = app_server()
    page.goto(app.url)
    send(page, "Persist this")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    url = chat_url(page)
    page.goto("about:blank")  # closed tab, opened again later; an open tab would reload itself and race the goto
    app.restart()
    page.goto(url)
    expect(page.locator('[data-role="user"]')).to_have_text("Persist this")
    expect(last_answer(page)).to_contain_text("Remember me.")
    page.goto(app.url)
    link = page.get_by_role("link", name="Persist this")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(url)
    expect(last_answer(page)).to_contain_text("Remember me.")


def test_sidebar_lists_newest_first_and_new_chat_starts_fresh(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    send(page, "First topic")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    page.get_by_role("button", name="New chat").click()
    expect(page.locator('[data-role="user"]')).to_have_count(0)
    send(page, "Second topic")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    items = page.locator(".conv-list a")
    expect(items).to_have_count(2)
    expect(items.first).to_have_text("Second topic")
    page.get_by_role("textbox", name="Search conversations").fill("first")
    expect(items.first).to_have_text("First topic")  # the title match leads the search results
    expect(page.locator(".conv-list")).not_to_contain_text("Second topic")


def test_wrong_key_shows_a_plain_error_and_the_app_stays_usable(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(Reply.fail(401), Reply(text="Now it works."))
    app = app_server()
    page.goto(app.url)
    send(page, "Will this fail?")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "error")
    expect(answer).to_contain_text("OPENAI_API_KEY")
    expect(answer).not_to_contain_text("Traceback")
    expect(page.locator('[data-role="user"]')).to_have_text("Will this fail?")
    send(page, "Try again")
    expect(last_answer(page)).to_contain_text("Now it works.")


@pytest.mark.parametrize(
    ("api_version", "key", "credential", "path", "header", "value"),
    [
        ("2024-10-21", "az-key", None, "/openai/deployments/fake-deploy/chat/completions", "api-key", "az-key"),
        (None, "az-key", None, "/openai/v1/chat/completions", "api-key", "az-key"),
        (
            None,
            None,
            "tests.fake_credential:ok_credential",
            "/openai/v1/chat/completions",
            "authorization",
            "Bearer fake-entra-token",
        ),
        (
            "2024-10-21",
            None,
            "tests.fake_credential:ok_credential",
            "/openai/deployments/fake-deploy/chat/completions",
            "authorization",
            "Bearer fake-entra-token",
        ),
    ],
    ids=["classic-key", "v1-key", "v1-entra", "classic-entra"],
)
def test_azure_paths_and_auth(
    app_server, fake_upstream: FakeUpstream, page: Page, api_version, key, credential, path, header, value
) -> None:
    app = app_server(fake_upstream.azure_env(api_version=api_version, api_key=key, credential=credential))
    page.goto(app.url)
    expect(page.get_by_test_id("model-label")).to_contain_text("Azure OpenAI · fake-deploy")
    send(page, "Hello Azure")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    rec = fake_upstream.requests[0]
    assert rec.path == path
    assert rec.headers[header] == value
    if api_version:
        assert rec.query["api-version"] == api_version
    assert key not in page.content() if key else True  # the key never reaches the page


def test_entra_without_a_token_says_how_to_sign_in(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    env = fake_upstream.azure_env(api_key=None, credential="tests.fake_credential:failing_credential")
    app = app_server(env)
    page.goto(app.url)
    send(page, "Hello?")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "error")
    expect(answer).to_contain_text("az login")
    expect(answer).to_contain_text("AZURE_OPENAI_API_KEY")
    expect(page.get_by_role("textbox", name="Message")).to_be_editable()
    assert fake_upstream.requests == []


@pytest.mark.long
def test_embedded_model_answers_for_real(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    env = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None, "OPENAI_MODEL": None, "LOCAL_MODEL_MAX_TOKENS": "40"}
    app = app_server(env, ready_timeout=120)
    page.goto(app.url)
    expect(page.get_by_test_id("model-label")).to_contain_text("SmolLM2-135M-Instruct")
    page.get_by_test_id("model-label").click()  # how to switch to Azure OpenAI
    expect(page.get_by_role("dialog")).to_contain_text("AZURE_OPENAI_ENDPOINT")
    page.get_by_role("button", name="Close").click()
    send(page, "Say hello in one short sentence.")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done", timeout=60_000)
    assert len(answer.inner_text().strip()) > 0
    assert fake_upstream.requests == []


AT_BOTTOM = "() => innerHeight + scrollY >= document.body.scrollHeight - 100"

# The scroll position once a wheel's smooth scrolling has ended: five frames without a change (at
# most 300 frames). Read earlier, mid-animation, it is not where the reader ends up.
SETTLED_SCROLL = """() => new Promise((done) => {
  let y = scrollY, still = 0, frames = 0;
  const look = () => {
    still = scrollY === y ? still + 1 : 0;
    y = scrollY;
    if (still >= 5 || ++frames > 300) done(scrollY);
    else requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})"""


def test_page_follows_a_streaming_answer_until_the_reader_scrolls_up(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    lines = "\n\n".join(f"Line {i} of a long answer." for i in range(150))
    fake_upstream.enqueue(Reply(text=lines, interval=0.012))
    app = app_server()
    page.goto(app.url)
    send(page, "Write a lot")
    answer = last_answer(page)
    expect(answer).to_contain_text("Line 30 of")  # taller than the window by now
    page.wait_for_function(AT_BOTTOM)  # followed it
    assert page.evaluate("scrollY") > 0

    page.mouse.move(640, 400)
    page.mouse.wheel(0, -600)  # the reader scrolls up to read
    page.wait_for_function("() => innerHeight + scrollY < document.body.scrollHeight - 400")
    where = page.evaluate(SETTLED_SCROLL)
    shown = len(re.findall(r"Line \d+ of", answer.inner_text()))
    expect(answer).to_contain_text(f"Line {shown + 10} of")  # more text arrived meanwhile ...
    assert abs(page.evaluate("scrollY") - where) < 5  # ... and the page stayed where the reader is

    page.mouse.wheel(0, 100_000)  # back to the bottom: following resumes
    page.wait_for_function(AT_BOTTOM)
    shown = len(re.findall(r"Line \d+ of", answer.inner_text()))
    expect(answer).to_have_attribute("data-status", "done")
    assert shown < 150  # it was still streaming when the reader came back ...
    page.wait_for_function(AT_BOTTOM)  # ... and the page followed it to the end


def test_an_unsent_draft_survives_a_reload_per_conversation(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(Reply(text="First answer."), Reply(text="Second answer."))
    app = app_server()
    page.goto(app.url)
    box = page.get_by_role("textbox", name="Message")
    box.fill("A new chat, typed and not sent")
    page.reload()
    expect(box).to_have_value("A new chat, typed and not sent")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()  # the server has the text too

    box.press("Enter")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(box).to_have_value("")
    address = chat_url(page)
    box.fill("A follow-up I am still writing")
    page.goto(app.url)  # another (new) chat: its own, empty draft
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")
    page.goto(address)
    expect(box).to_have_value("A follow-up I am still writing")

    box.press("Enter")
    expect(last_answer(page)).to_contain_text("Second answer.")
    page.reload()
    expect(box).to_have_value("")  # sent: the draft is gone
    expect(page.locator('[data-role="user"]').last).to_have_text("A follow-up I am still writing")


def test_a_selection_in_the_streaming_paragraph_survives_new_text(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    words = " ".join(f"word{i}" for i in range(160))
    fake_upstream.enqueue(Reply(text=words, interval=0.03))
    app = app_server()
    page.goto(app.url)
    send(page, "One long paragraph")
    paragraph = last_answer(page).locator(".md-view p").last
    expect(paragraph).to_contain_text("word20")
    box = paragraph.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 1, box["y"] + 8)  # drag over the start of the first line
    page.mouse.down()
    page.mouse.move(box["x"] + 150, box["y"] + 8, steps=5)
    page.mouse.up()
    selected = page.evaluate("getSelection().toString()")
    assert selected.startswith("word0 word1"), selected
    expect(paragraph).to_contain_text("word60")  # many patches later, still streaming ...
    assert last_answer(page).get_attribute("data-status") == "streaming"
    assert page.evaluate("getSelection().toString()") == selected  # ... and the selection is intact


def test_code_is_coloured_while_its_block_still_streams(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    """#10: a code block is highlighted line by line as it streams, not only once its fence closes."""
    code = "Here:\n\n```python\ndef greet(name):\n    return name\n"
    fake_upstream.enqueue(Reply(text=code + "```\n\nDone.", stall_after=len(tokenize(code))))
    app = app_server()
    page.goto(app.url)
    send(page, "Some code please")
    answer = last_answer(page)
    expect(answer.locator(".md-code code")).to_contain_text("return name")
    expect(answer).to_have_attribute("data-status", "streaming")  # the fence is still open
    expect(answer.locator(".md-code code span.k", has_text="def")).to_be_visible()
    expect(answer.locator(".md-code code span.k", has_text="return")).to_be_visible()


def test_each_answer_shows_its_model_speed_and_usage(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    """#10: under a finished answer, the model, time to first token, tokens/s and token usage; the
    details in a tooltip; the same after a reload (read back from the database)."""
    fake_upstream.enqueue(Reply(text="One two three four five six seven eight.", first_token_delay=0.3,
                                interval=0.02))
    app = app_server()
    page.goto(app.url)
    send(page, "Count")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    meta = answer.get_by_test_id("answer-meta")
    line = re.compile(r"fake-model · first token 0\.[3-9]\d s · \d+ tokens/s · [\d,]+ tokens")
    expect(meta).to_have_text(line)
    meta.hover()
    expect(page.get_by_role("tooltip")).to_contain_text(re.compile(r"Prompt \d+ tokens, answer \d+ tokens\."))
    expect(page.get_by_role("tooltip")).to_contain_text("Finish reason: stop.")
    page.reload()
    expect(last_answer(page).get_by_test_id("answer-meta")).to_have_text(line)
