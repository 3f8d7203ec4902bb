"""Start-up work that used to stall the event loop in the first answer is done before serving."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter: this test process has long imported the SDK and must not freeze its heap.
CHECK = """
import gc, sys
from services.runtime import build_context, warm_up
from services.settings import Settings
ctx = build_context(Settings(_env_file=None, openai_base_url="http://127.0.0.1:9/v1", openai_api_key="k",
                             openai_model="m", streamchat_data_dir=sys.argv[1]))
before = "openai.resources.chat.completions" in sys.modules
warm_up(ctx)
print(before, "openai.resources.chat.completions" in sys.modules, gc.get_freeze_count() > 0)
"""


def test_warm_up_imports_the_sdk_chat_resources_and_freezes_the_start_up_heap(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "True"]
