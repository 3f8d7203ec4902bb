"""The API keys dialog through NiceGUI's simulated User, with the real key service and SQLite."""

from __future__ import annotations

from pathlib import Path

from nicegui.testing import User

from components.chat_page import register_pages
from services.runtime import build_context
from services.settings import Settings
from tests.fake_upstream import FakeUpstream


async def test_a_user_creates_a_key_shown_once_and_revokes_it(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    settings = Settings(
        _env_file=None,
        openai_base_url=f"{fake_upstream.url}/v1",
        openai_api_key="k",
        openai_model="fake-model",
        streamchat_data_dir=tmp_path,
    )
    ctx = build_context(settings)
    register_pages(ctx)
    await user.open("/")
    user.find(marker="api-keys").click()
    await user.should_see("No keys yet.")
    user.find(marker="key-name").type("deploy script")
    user.find("Create key").click()
    await user.should_see("it is not shown again")
    key = user.find(marker="new-key").elements.pop().value
    owner = ctx.api_keys.verify(key)
    assert owner is not None and key.startswith("sc-")
    assert [k.name for k in ctx.api_keys.list(owner)] == ["deploy script"]
    await user.should_see("deploy script")
    user.find("Revoke").click()
    await user.should_see("Revoked")
    assert ctx.api_keys.verify(key) is None
    assert ctx.api_keys.list(owner)[0].revoked
