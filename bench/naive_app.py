"""The naive pattern from NiceGUI's chat examples, as the benchmark's baseline.

On Enter: ``AsyncOpenAI(...).chat.completions.create(stream=True)`` and, for every chunk,
``ui.markdown.set_content(full_text)`` — NiceGUI re-renders the whole text with markdown2 and sends
the whole HTML to the browser on every token. Same page markers as streamchat (textbox "Message",
``[data-role=assistant]`` with ``data-status``), same upstream (``OPENAI_BASE_URL``), same
``ui.run`` settings (reload=False, show=False).

    python bench/naive_app.py --host 127.0.0.1 --port 8081
"""

from __future__ import annotations

import argparse
import os

from nicegui import ui
from openai import AsyncOpenAI


def main() -> None:
    """Serve the naive chat page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    client = AsyncOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ.get("OPENAI_API_KEY", "x"))
    model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")

    @ui.page("/")
    def index() -> None:
        thread = ui.column().classes("w-full max-w-3xl mx-auto")

        async def send() -> None:
            question = (box.value or "").strip()
            if not question:
                return
            box.value = ""
            with thread:
                ui.label(question).props("data-role=user data-status=done")
                answer = ui.element("div").props("data-role=assistant data-status=streaming")
                with answer:
                    md = ui.markdown()
            stream = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": question}], stream=True)
            text = ""
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
                    md.set_content(text)
            answer.props("data-status=done")

        with ui.footer().classes("bg-transparent"):
            box = ui.input(placeholder="message").props("aria-label=Message outlined").classes("w-full")
            box.on("keydown.enter", send)

    ui.run(host=args.host, port=args.port, reload=False, show=False, title="naive", show_welcome_message=False)


if __name__ == "__main__":
    main()
