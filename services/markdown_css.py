"""Stylesheet for rendered markdown (served once per page)."""

from __future__ import annotations

from functools import cache


@cache
def markdown_css() -> str:
    """CSS placeholder."""
    return ""
