"""The patch wire format between the server's markdown stream and ``components/markdown_view.js``.

The client holds two HTML strings: *committed* (finished top-level blocks, append-only) and *tail*
(the open blocks at the end). A :class:`Patch` changes them in this order:

1. ``reset``: clear both strings;
2. ``move``: the first ``move`` UTF-16 units of the tail are final as shown; move them to committed;
3. ``commit``: HTML appended to committed;
4. ``splice`` ``(at, delete, insert)``: ``tail = tail[:at] + insert + tail[at + delete:]``;
5. ``final``: the text is complete and what is shown is its exact render.

Offsets are UTF-16 code units because the client is JavaScript. A module of its own because the
JavaScript mirrors exactly this and nothing else: :func:`apply_patch` is the reference client the
tests compare the browser's behaviour with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Patch", "apply_patch", "diff", "u16len"]


def u16len(s: str) -> int:
    """Length in UTF-16 code units (JavaScript string length)."""
    return len(s) if s.isascii() else len(s.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Patch:
    """What changed in the client's HTML; see the module docstring for the order of operations."""

    reset: bool = False
    move: int = 0
    commit: str = ""
    splice: tuple[int, int, str] | None = None
    final: bool = False

    @property
    def empty(self) -> bool:
        """Nothing to send."""
        return not (self.reset or self.move or self.commit or self.splice or self.final)

    def as_dict(self) -> dict[str, Any]:
        """Compact JSON-able form: keys ``r`` reset, ``m`` move, ``c`` commit, ``t`` splice, ``f`` final.

        Keys are left out when they have their default value (this is sent once per flush).
        """
        d: dict[str, Any] = {}
        if self.reset:
            d["r"] = 1
        if self.move:
            d["m"] = self.move
        if self.commit:
            d["c"] = self.commit
        if self.splice is not None:
            d["t"] = list(self.splice)
        if self.final:
            d["f"] = 1
        return d

    def to_json(self) -> str:
        """The patch as compact JSON."""
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))


def _u16_slice(s: str, a: int, b: int | None = None) -> str:
    if s.isascii():
        return s[a:b]
    e = s.encode("utf-16-le")
    return e[2 * a : None if b is None else 2 * b].decode("utf-16-le")


def apply_patch(committed: str, tail: str, patch: Patch | dict[str, Any]) -> tuple[str, str]:
    """Reference client: apply a patch to (committed, tail), exactly as the browser code does."""
    d = patch.as_dict() if isinstance(patch, Patch) else patch
    if d.get("r"):
        committed, tail = "", ""
    if d.get("m"):
        committed += _u16_slice(tail, 0, d["m"])
        tail = _u16_slice(tail, d["m"])
    committed += d.get("c", "")
    if "t" in d:
        at, delete, ins = d["t"]
        tail = _u16_slice(tail, 0, at) + ins + _u16_slice(tail, at + delete)
    return committed, tail


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while hi - lo > 1:  # invariant: a[:lo] == b[:lo] and a[:hi] != b[:hi]
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, limit
    if hi and a[len(a) - hi :] == b[len(b) - hi :]:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid
    return lo


def diff(old: str, new: str) -> tuple[int, int, str] | None:
    """Smallest single splice turning old into new (UTF-16 offsets)."""
    if old == new:
        return None
    p = _common_prefix(old, new)
    s = _common_suffix(old, new, min(len(old), len(new)) - p)
    return u16len(old[:p]), u16len(old[p : len(old) - s]), new[p : len(new) - s]
