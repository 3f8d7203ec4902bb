"""Conversation settings in a real browser: what the dialog saves is what the model server receives,
for that conversation only; defaults from Settings start new chats; deployments switch on Azure."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_chat import chat_url, send
from tests.fake_upstream import FakeUpstream


def done_answers(page: Page, n: int) -> None:
    expect(page.locator('[data-role="assistant"][data-status="done"]')).to_have_count(n)


def test_conversation_settings_reach_the_model_for_that_conversation_only(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.models = ["fake-model", "fake-large"]
    app = app_server()
    page.goto(app.url)
    page.get_by_role("button", name="Conversation settings").click()
    dialog = page.get_by_role("dialog", name="Conversation settings")
    dialog.get_by_role("textbox", name="System prompt").fill("Answer like a pirate.")
    dialog.get_by_role("spinbutton", name="Temperature").fill("0.2")
    dialog.get_by_role("spinbutton", name="Maximum answer length").fill("150")
    dialog.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="fake-large", exact=True).click()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "steering-dialog.png")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    line = page.get_by_test_id("conversation-steering")
    expect(line).to_have_text(
        re.compile("Custom system prompt · Temperature 0.2 · Answers up to 150 tokens · fake-large")
    )
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))  # saving started the conversation

    send(page, "Ahoy?")
    done_answers(page, 1)
    body = fake_upstream.wait_for_end(1).body or {}
    assert body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("fake-large", 0.2, 150)
    expect(page.locator('[data-role="assistant"]').last).to_contain_text("fake-large")  # the answer's model
    expect(page.get_by_test_id("conversation-title")).to_have_text("Ahoy?")  # named by its first message
    page.screenshot(path=ARTIFACTS / "steering-conversation.png")

    # On a phone, reloaded there: narrowing a page that has just loaded can beat NiceGUI's echo of the
    # drawer's opening to the browser, and Quasar then leaves it open (a race no hand is quick enough for).
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(line).to_contain_text("Custom system prompt")
    expect(page.get_by_role("button", name="New chat")).not_to_be_in_viewport()  # the drawer is closed
    page.get_by_role("button", name="Dark mode").click()
    line.click()  # the line opens the same dialog, with what is stored and what it used
    dialog = page.get_by_role("dialog", name="Conversation settings")
    expect(dialog.get_by_role("textbox", name="System prompt")).to_have_value("Answer like a pirate.")
    expect(dialog.get_by_test_id("conversation-usage")).to_have_text(re.compile(r"^1 answer · \d+ prompt tokens"))
    page.screenshot(path=ARTIFACTS / "steering-dialog-phone-dark.png")
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Dark mode").click()
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="New chat").click()
    expect(line).to_be_hidden()
    send(page, "And here?")
    done_answers(page, 1)
    body = fake_upstream.wait_for_end(2).body or {}
    assert body["messages"][0]["content"] != "Answer like a pirate."
    assert body["model"] == "fake-model" and "temperature" not in body and "max_tokens" not in body


def test_defaults_from_settings_start_new_chats_and_leave_old_ones(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    send(page, "before the defaults")
    done_answers(page, 1)
    older = chat_url(page)

    page.get_by_role("button", name="Settings", exact=True).click()
    settings = page.get_by_role("dialog", name="Settings", exact=True)
    settings.get_by_role("textbox", name="System prompt").fill("Be brief.")
    settings.get_by_role("spinbutton", name="Temperature").fill("1.5")
    settings.get_by_role("button", name="Save defaults").click()
    expect(settings.get_by_text("Saved. New chats start with these.")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "steering-defaults.png")
    page.keyboard.press("Escape")

    page.get_by_role("button", name="New chat").click()
    expect(page.get_by_text("What can I help with?")).to_be_visible()  # the new chat's page, not the old one
    send(page, "after the defaults")
    done_answers(page, 1)
    body = fake_upstream.wait_for_end(2).body or {}
    assert body["messages"][0] == {"role": "system", "content": "Be brief."} and body["temperature"] == 1.5
    line = page.get_by_test_id("conversation-steering")
    expect(line).to_have_text(re.compile("Custom system prompt · Temperature 1.5"))

    page.goto(older)  # made before: still answered with the app's defaults
    send(page, "still the old way?")
    done_answers(page, 2)
    body = fake_upstream.wait_for_end(3).body or {}
    assert body["messages"][0]["content"] != "Be brief." and "temperature" not in body


@pytest.mark.slow
def test_azure_deployments_switch_per_conversation(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    env = fake_upstream.azure_env()
    app = app_server({**env, "AZURE_OPENAI_DEPLOYMENT": "", "AZURE_OPENAI_DEPLOYMENTS": "dep-small, dep-large"})
    page.goto(app.url)
    send(page, "on the default")
    done_answers(page, 1)
    assert fake_upstream.wait_for_end(1).path == "/openai/deployments/dep-small/chat/completions"

    page.get_by_role("button", name="Conversation settings").click()
    dialog = page.get_by_role("dialog", name="Conversation settings")
    dialog.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="dep-large", exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("conversation-steering")).to_have_text(re.compile("dep-large"))
    send(page, "on the large one")
    done_answers(page, 2)
    assert fake_upstream.wait_for_end(2).path == "/openai/deployments/dep-large/chat/completions"
