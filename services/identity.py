"""The browser's durable identity: a signed owner id, readable for as long as the secret stays the same.

NiceGUI's `session` cookie expires after 14 days and is never re-issued, which orphaned every
conversation of a browser that stayed away that long. This cookie carries only the owner id and
its issue time, is re-issued on every page load, and its signature has no age limit: browsers cap
a cookie's lifetime at 400 days, so an identity lasts 400 days after the *last* visit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

COOKIE_NAME = "streamchat_id"
MAX_AGE_S = 400 * 24 * 3600  # Chromium and Firefox cap Max-Age at 400 days
# Key separation: the same secret also signs NiceGUI's session cookie, whose signature must not pass here.
_CONTEXT = b"streamchat.identity.v1"
UNREADABLE = "identity_unreadable"  # request.state flag: a cookie was sent but its signature did not match
# request.state in AUTH_MODE header|oidc: the owner id this browser had in browser mode (for `app.py claim`)
EARLIER_BROWSER_ID = "earlier_browser_id"


class IdentityCodec:
    """Signs and reads `owner.issued.signature`; reading checks the signature, never the age."""

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def issue(self, owner: str, now: float | None = None) -> str:
        """`now` lets a test make a cookie issued long ago."""
        payload = f"{owner}.{int(time.time() if now is None else now)}"
        return f"{payload}.{self._sign(payload)}"

    def read(self, cookie: str) -> str | None:
        """The owner id, or None when the cookie is malformed or its signature does not match."""
        payload, _, signature = cookie.rpartition(".")
        owner, _, issued = payload.rpartition(".")
        if not owner or not issued.isdigit() or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        return owner
