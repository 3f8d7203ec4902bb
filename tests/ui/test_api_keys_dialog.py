"""The API keys dialog through NiceGUI's simulated User, with the real key service and SQLite."""

from __future__ import annotations

from pathlib import Path

from nicegui.testing import User

from tests.fake_upstream import FakeUpstream
from tests.ui.test_page import setup


async def test_a_user_creates_a_key_shown_once_and_revokes_it(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    ctx = setup(fake_upstream, tmp_path)
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
