"""services/steering.py rules and the store's part: defaults are copied into a new conversation once."""

from __future__ import annotations

import pytest

from services.models import ChatDefaults
from services.steering import Steering, SteeringError, checked, request_overrides, summary
from services.store import Store

MODELS = ["m-default", "m-large"]


def test_checked_blanks_become_defaults_and_values_out_of_range_are_named() -> None:
    assert checked(Steering(system_prompt="  \n", model=""), models=MODELS, answer_cap=0) == Steering()
    kept = Steering("Be brief.", 0.0, 4096, "m-large")
    assert checked(kept, models=MODELS, answer_cap=0) == kept
    for bad, words in [
        (Steering(temperature=2.01), "between 0 and 2"),
        (Steering(temperature=-0.1), "between 0 and 2"),
        (Steering(max_tokens=0), "at least 1 token"),
        (Steering(max_tokens=501), "at most 500 tokens"),
        (Steering(model="m-other"), "Unknown model 'm-other'"),
        (Steering(system_prompt="x" * 8001), "the limit is 8,000"),
    ]:
        with pytest.raises(SteeringError, match=words):
            checked(bad, models=MODELS, answer_cap=500)


def test_request_overrides_and_summary_say_only_what_differs() -> None:
    assert request_overrides(Steering(system_prompt="p"), "max_tokens") == {}  # the prompt goes in the messages
    full = Steering("p", 0.3, 99, "m-large")
    assert request_overrides(full, "max_completion_tokens") == {
        "model": "m-large", "temperature": 0.3, "max_completion_tokens": 99}
    assert summary(Steering()) == []
    assert summary(full) == ["Custom system prompt", "Temperature 0.3", "Answers up to 99 tokens", "m-large"]


async def test_new_conversations_copy_the_owners_defaults_once(db_url: str) -> None:
    store = Store(db_url)
    before = await store.create_conversation("alice")
    await store.save_defaults(ChatDefaults(owner="alice", system_prompt="Be brief.", temperature=1.5))
    made = await store.create_conversation("alice")
    turn = await store.start_turn("alice", None, "hi", title="hi", model="m-default", create=True)
    assert turn is not None
    assert (made.system_prompt, made.temperature) == ("Be brief.", 1.5)
    assert Steering.of(turn[0]) == Steering("Be brief.", 1.5)
    assert Steering.of(await store.get_conversation("alice", before.id)) == Steering()  # made before: unchanged
    assert Steering.of(await store.create_conversation("bob")) == Steering()  # another owner's defaults
    assert Steering.of(await store.create_conversation("alice", with_defaults=False)) == Steering()  # the gateway

    await store.save_defaults(ChatDefaults(owner="alice", temperature=0.1))  # later changes: new chats only
    assert Steering.of(await store.get_conversation("alice", made.id)) == Steering("Be brief.", 1.5)
    assert (await store.get_defaults("alice")).temperature == 0.1
