"""Issue #3 end to end: stop, reload, many tabs, crashes, upstream faults, retry and regenerate."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import AppServer
from tests.e2e.test_chat import chat_url, final_words, last_answer, send
from tests.fake_upstream import FakeUpstream, Reply

WORDS = " ".join(f"word{i}" for i in range(240))


def slow(rate: float = 40, text: str = WORDS, **kw: object) -> Reply:
    return Reply(text=text, interval=1 / rate, **kw)


# Stamps, in the page, the moment the user's click or key press happens (epoch seconds), so the
# 200 ms budget is measured from the user's action, not from when Playwright began to act.
STAMP_ACTION = """([selector, type]) => {
  window.__actionAt = null;
  document.querySelector(selector).addEventListener(type, () => {
    window.__actionAt ??= (performance.timeOrigin + performance.now()) / 1000;
  }, {capture: true});
}"""


def seconds_from_action_to_close(page: Page, disconnected_at: float) -> float:
    """The fake stamps with time.monotonic(); the page with the wall clock: convert one to the other."""
    closed_wall = time.time() - (time.monotonic() - disconnected_at)
    return closed_wall - page.evaluate("window.__actionAt")


def stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/api/stats", timeout=5) as r:
        return json.loads(r.read())


@pytest.mark.postgres_too
def test_stop_closes_upstream_within_200ms_and_keeps_partial_text(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(slow())
    app = app_server()
    page.goto(app.url)
    send(page, "Count slowly")
    answer = last_answer(page)
    expect(answer).to_contain_text("word5")
    page.evaluate(STAMP_ACTION, ["[aria-label=Stop]", "click"])
    page.get_by_role("button", name="Stop").click()
    rec = fake_upstream.wait_for_end(1)
    assert rec.disconnected_at is not None and not rec.done_sent
    took = seconds_from_action_to_close(page, rec.disconnected_at)
    assert 0 <= took < 0.2, f"closed {took:.3f} s after the click"
    expect(answer).to_have_attribute("data-status", "stopped")
    expect(answer).to_contain_text("word5")
    expect(answer).not_to_contain_text("word239")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(answer.get_by_role("button", name="Retry")).to_be_visible()
    send(page, "Next question")  # the composer is usable at once
    expect(page.locator('[data-role="assistant"]')).to_have_count(2)


def test_escape_stops_before_the_first_token(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    release = threading.Event()
    fake_upstream.enqueue(Reply(text="never shown", hold=release))
    app = app_server()
    page.goto(app.url)
    send(page, "Think hard")
    answer = last_answer(page)
    expect(answer).to_contain_text("Thinking")
    fake_upstream.wait_for_request(1)
    page.evaluate(STAMP_ACTION, ["textarea", "keydown"])
    page.get_by_role("textbox", name="Message").press("Escape")
    rec = fake_upstream.wait_for_end(1)
    release.set()
    assert rec.disconnected_at is not None and rec.chunks_sent == 0
    took = seconds_from_action_to_close(page, rec.disconnected_at)
    assert 0 <= took < 0.2, f"closed {took:.3f} s after Esc"
    expect(answer).to_have_attribute("data-status", "stopped")
    expect(answer).not_to_contain_text("never shown")


def test_waiting_shows_elapsed_seconds_then_streams(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text="Finally here.", first_token_delay=3.5))
    app = app_server()
    page.goto(app.url)
    send(page, "Slow start")
    answer = last_answer(page)
    expect(answer.get_by_role("status")).to_contain_text("Thinking… 2 s", timeout=5000)
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer).to_contain_text("Finally here.")


def test_rate_limit_countdown_then_answer(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply.rate_limited(retry_after=2), Reply(text="After the wait."))
    app = app_server()
    page.goto(app.url)
    send(page, "Busy?")
    answer = last_answer(page)
    expect(answer.get_by_role("status")).to_contain_text("Rate limited — retrying in")
    expect(answer).to_contain_text("After the wait.")
    expect(answer).to_have_attribute("data-status", "done")


@pytest.mark.postgres_too
def test_reload_mid_stream_continues_without_loss_or_doubling(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(slow(rate=30))
    app = app_server()
    page.goto(app.url)
    send(page, "Stream a lot")
    expect(last_answer(page)).to_contain_text("word20")
    page.reload()
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "streaming")
    expect(answer).to_have_attribute("data-status", "done", timeout=20_000)
    words = final_words(answer)
    assert words[:240] == WORDS.split()
    assert words.count("word100") == 1


def test_two_tabs_stream_the_same_answer_and_a_closed_tab_does_not_stop_it(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(slow(rate=30))
    app = app_server()
    page.goto(app.url)
    send(page, "Share this")
    expect(last_answer(page)).to_contain_text("word10")
    second = page.context.new_page()
    second.goto(chat_url(page))
    expect(last_answer(second)).to_have_attribute("data-status", "streaming")
    expect(last_answer(second)).to_contain_text("word30")
    page.close()  # the first tab goes away; the answer must go on
    expect(last_answer(second)).to_have_attribute("data-status", "done", timeout=20_000)
    assert final_words(last_answer(second))[:240] == WORDS.split()
    second.close()
    assert fake_upstream.wait_for_end(1).done_sent


def a_chat_open_in_two_tabs(app_server, fake_upstream: FakeUpstream, page: Page) -> tuple[AppServer, Page]:
    """A conversation with one finished answer, shown in `page` and in a second tab it returns."""
    fake_upstream.enqueue(Reply(text="First answer."))
    app = app_server()
    page.goto(app.url)
    send(page, "Start here")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    second = page.context.new_page()
    second.goto(chat_url(page))
    expect(last_answer(second)).to_contain_text("First answer.")
    return app, second


def test_an_open_second_tab_follows_an_answer_started_in_the_first_and_can_stop_it(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app, same_chat = a_chat_open_in_two_tabs(app_server, fake_upstream, page)
    new_chat = page.context.new_page()
    new_chat.goto(app.url)

    fake_upstream.enqueue(slow(rate=30))
    send(page, "Follow me live")  # typed in the first tab only; the others are not reloaded
    expect(same_chat.locator('[data-role="user"]').last).to_have_text("Follow me live")
    expect(last_answer(same_chat)).to_have_attribute("data-status", "streaming")
    expect(last_answer(same_chat)).to_contain_text("word10")
    expect(new_chat.locator(".conv-list a")).to_have_count(1)  # a follow-up, not a new chat
    expect(new_chat.locator('[data-role="user"]')).to_have_count(0)  # the blank tab stays blank

    same_chat.get_by_role("button", name="Stop").click()  # stopped from the tab that did not start it
    for tab in (same_chat, page):
        expect(last_answer(tab)).to_have_attribute("data-status", "stopped")
        expect(tab.get_by_role("button", name="Send")).to_be_visible()
    assert fake_upstream.wait_for_end(2).disconnected_at is not None
    assert final_words(last_answer(same_chat))[:20] == final_words(last_answer(page))[:20]

    fake_upstream.enqueue(Reply(text="Second chat."))
    send(new_chat, "Another topic")
    expect(page.get_by_role("link", name="Another topic")).to_be_visible()  # the other tabs' sidebars
    expect(same_chat.get_by_role("link", name="Another topic")).to_be_visible()
    expect(last_answer(page)).to_have_attribute("data-status", "stopped")  # they stay where they were
    expect(page.locator('[data-role="user"]').last).to_have_text("Follow me live")


def test_answer_completes_with_every_tab_closed(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(slow(rate=80))
    app = app_server()
    page.goto(app.url)
    send(page, "Finish without me")
    expect(last_answer(page)).to_contain_text("word3")
    url = chat_url(page)
    page.goto("about:blank")
    rec = fake_upstream.wait_for_end(1, timeout=20)
    assert rec.done_sent and rec.disconnected_at is None
    page.goto(url)
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    assert final_words(answer)[:240] == WORDS.split()


@pytest.mark.postgres_too
def test_kill_9_leaves_an_interrupted_answer_with_retry(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(slow(rate=20))
    app = app_server()
    page.goto(app.url)
    send(page, "Survive a crash")
    expect(last_answer(page)).to_contain_text("word40", timeout=15_000)  # > 1 checkpoint interval in
    app.kill9()
    app.start()
    # The open tab reconnects and reloads itself once the server is back (a goto here would race that reload).
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "interrupted", timeout=30_000)
    expect(page.locator('[data-role="user"]')).to_have_text("Survive a crash")
    words = answer.inner_text().split()
    assert "word10" in words and "word239" not in words
    fake_upstream.enqueue(Reply(text="Recovered answer."))
    answer.get_by_role("button", name="Retry").click()
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(last_answer(page)).to_contain_text("Recovered answer.")


FAULTS = [
    (Reply.fail(401), "error", "OPENAI_API_KEY"),
    (Reply.fail(403), "error", "OPENAI_API_KEY"),
    (Reply.fail(404), "error", "'fake-model' was not found"),
    (Reply.rate_limited(retry_after=0.2), "error", "rate limited"),
    (Reply.content_filter("hate", "violence"), "filtered", "hate, violence"),
    (Reply(text="alpha beta gamma delta", filter_after=2), "filtered", "stopped by the content filter"),
    (Reply.fail(500), "error", "internal error (500)"),
    (Reply.fail(503), "error", "internal error (503)"),
    (Reply(text="alpha beta gamma delta", drop_after=2), "error", "dropped"),
    (Reply(text="alpha beta gamma delta", stall_after=2, stall_max=10), "error", "stopped sending for 1 s"),
    (Reply(text="alpha beta gamma delta", malformed_after=2), "error", "could not be read"),
]


def test_every_upstream_fault_has_a_plain_message_and_retry(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server({"IDLE_TIMEOUT_S": "1", "MAX_RETRIES": "0"})
    page.goto(app.url)
    for i, (reply, status, needle) in enumerate(FAULTS, start=1):
        fake_upstream.enqueue(reply)
        send(page, f"fault {i}")
        answer = page.locator('[data-role="assistant"]').nth(i - 1)
        expect(answer).to_have_attribute("data-status", status)
        expect(answer).to_contain_text(needle)
        expect(answer.get_by_role("button", name="Retry")).to_be_visible()
        if reply.drop_after or reply.filter_after or reply.stall_after or reply.malformed_after:
            expect(answer).to_contain_text("alpha")  # what was shown is kept
        assert "Traceback" not in page.content()
    fake_upstream.enqueue(Reply(text="Retried fine."))
    page.locator('[data-role="assistant"]').first.get_by_role("button", name="Retry").click()
    expect(page.locator('[data-role="assistant"]').first).to_contain_text("Retried fine.")


def test_unreachable_server_is_reported(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "MAX_RETRIES": "0"})
    page.goto(app.url)
    send(page, "Anyone there?")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "error")
    expect(answer).to_contain_text("Could not reach the model server")


def test_regenerate_keeps_earlier_versions_reachable(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text="First version."), Reply(text="Second version."))
    app = app_server()
    page.goto(app.url)
    send(page, "Tell me something")
    expect(last_answer(page)).to_contain_text("First version.")
    last_answer(page).get_by_role("button", name="Regenerate").click()
    expect(last_answer(page)).to_contain_text("Second version.")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(last_answer(page).get_by_test_id("version")).to_have_text("2/2")
    last_answer(page).get_by_role("button", name="Previous version").click()
    expect(last_answer(page)).to_contain_text("First version.")
    expect(last_answer(page).get_by_test_id("version")).to_have_text("1/2")
    page.reload()
    expect(last_answer(page)).to_contain_text("First version.")  # the reader's choice is kept
    expect(last_answer(page).get_by_test_id("version")).to_have_text("1/2")
    assert len(fake_upstream.requests) == 2
    assert fake_upstream.requests[1].messages[-1] == {"role": "user", "content": "Tell me something"}


@pytest.mark.long
def test_no_leaks_after_100_reload_and_stop_cycles(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server()
    baseline = stats(app.url)  # includes the harness's readiness probe, a page that never connected
    page.goto(app.url)
    fake_upstream.default = slow(rate=50, stall_after=30, stall_max=60)  # streams until stopped
    for cycle in range(100):
        if cycle % 10 == 0:
            send(page, f"cycle {cycle}")
            expect(last_answer(page)).to_contain_text("word1")
        page.reload()
        expect(page.get_by_role("textbox", name="Message")).to_be_visible()
        if cycle % 10 == 9:
            expect(last_answer(page)).to_have_attribute("data-status", "streaming")
            page.get_by_role("button", name="Stop").click()
            expect(last_answer(page)).to_have_attribute("data-status", "stopped")
    page.goto("about:blank")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = stats(app.url)
        settled = now["clients"] <= baseline["clients"] and now["tasks"] <= baseline["tasks"] + 5
        if now["generations"] == 0 and now["subscribers"] == 0 and now["watchers"] == 0 and settled:
            break
        time.sleep(0.2)  # polling a condition with a deadline, not a fixed wait
    assert now["generations"] == 0 and now["subscribers"] == 0 and now["watchers"] == 0, now
    assert now["clients"] <= baseline["clients"], (baseline, now)
    assert now["tasks"] <= baseline["tasks"] + 5, (baseline, now)


def test_lost_websocket_catches_up_without_loss_or_doubling(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(slow(rate=40))
    app = app_server()
    page.goto(app.url)
    send(page, "Keep going while I am offline")
    expect(last_answer(page)).to_contain_text("word10")
    page.context.set_offline(True)
    fake_upstream.wait_until(lambda: fake_upstream.requests[0].chunks_sent > 150, timeout=20)  # ~4 s offline
    assert "word140" not in last_answer(page).inner_text()  # the socket really was cut
    page.context.set_offline(False)
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done", timeout=30_000)
    words = final_words(answer)
    assert words[:240] == WORDS.split()
    assert words.count("word150") == 1


def test_two_tabs_pressing_enter_together_start_one_answer(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    _app, other = a_chat_open_in_two_tabs(app_server, fake_upstream, page)
    fake_upstream.default = slow(rate=30, stall_after=30, stall_max=60)  # streams until stopped
    boxes = [tab.get_by_role("textbox", name="Message") for tab in (page, other)]
    boxes[0].fill("from the first tab")
    boxes[1].fill("from the second tab")
    for box in boxes:  # back to back, without waiting for the first to show anything
        box.press("Enter")
    asked = fake_upstream.wait_for_request(2).messages[-1]["content"]
    refused = other if asked == "from the first tab" else page
    # Refused with a notice if its Enter landed mid-start, or ignored if its tab already follows the
    # other answer (Stop showing); either way its text stays in the box. The notice: test_generation.
    expect(refused.get_by_role("textbox", name="Message")).not_to_have_value("")
    expect(last_answer(page)).to_contain_text("word10")
    assert len(fake_upstream.requests) == 2  # the first answer and exactly one of the two
    refused.get_by_role("button", name="Stop").click()  # it follows the answer that did start
    for tab in (page, other):
        expect(last_answer(tab)).to_have_attribute("data-status", "stopped")
        expect(tab.get_by_role("button", name="Send")).to_be_visible()
    assert fake_upstream.wait_for_end(2).disconnected_at is not None
    assert len(fake_upstream.requests) == 2
    expect(page.locator('[data-role="assistant"]')).to_have_count(2)
    other.close()
