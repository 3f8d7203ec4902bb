"""Calling a method of an element in the browser without NiceGUI's machinery for awaiting it.

`Element.run_method` makes a uuid, an `AwaitableResponse` and a background task on every call so the
call *could* be awaited, and its code begins with `return`, which the browser's first `eval` rejects
with a SyntaxError before it runs the code again wrapped in an async function. A streaming answer
calls one method per flush and page, never awaited: that machinery was about a quarter of the time a
flush spent in the page (py-spy), ~5 % of a page's server CPU at 30 tokens/s (bench/LOAD.md
"Session 8"). Here the call goes straight into the client's outbox, in the order of the calls.
"""

from __future__ import annotations

from typing import Any

import orjson
from nicegui import ui


def call_method(element: ui.element, name: str, *args: Any) -> None:
    """`element.run_method(name, *args)`, fire and forget; nothing is sent for a deleted element or tab."""
    if element.is_deleted:
        return
    client = element.client
    if client.is_deleted:
        return
    code = f"runMethod({element.id},{orjson.dumps(name).decode()},{orjson.dumps(args).decode()})"
    client.outbox.enqueue_message("run_javascript", {"code": code}, client.id)
