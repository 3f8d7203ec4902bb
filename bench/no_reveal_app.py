"""streamchat exactly as ``app.py`` runs it, but with MarkdownView's client-side reveal switched off.

The benchmark uses it to measure what the progressive reveal does to smoothness and latency; the
app has no setting for it, so this wrapper changes the constructor default before the pages exist.

    python bench/no_reveal_app.py --host 127.0.0.1 --port 8082 --no-browser
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Patch ``MarkdownView(reveal=False)`` and hand over to ``app.main``."""
    sys.path.insert(0, str(ROOT))
    data_dir = Path(os.environ.get("STREAMCHAT_DATA_DIR", "data"))
    # app.main sets this before importing nicegui (which reads it at import); we import it first.
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str((data_dir / "nicegui").resolve()))
    from components import markdown_view

    original = markdown_view.MarkdownView.__init__

    def init(self: markdown_view.MarkdownView, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **{**kwargs, "reveal": False})  # whatever else the constructor takes passes through

    markdown_view.MarkdownView.__init__ = init  # type: ignore[method-assign]
    import app

    app.main(sys.argv[1:])


if __name__ == "__main__":
    main()
