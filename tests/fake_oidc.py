"""A small OpenID Connect provider on 127.0.0.1 for tests: discovery, JWKS, /authorize, /token.

Real HTTP (stdlib server in a thread) so the app's authlib client does its real discovery, code
exchange with PKCE and id_token verification. /authorize signs in `user` at once (no login form)
and redirects back with a code; /token checks the client secret and the PKCE verifier and returns
an id_token signed with an RSA key from the JWKS. `tamper` overrides claims of the next id_tokens
(a wrong `aud`, `iss`, an expired `exp`, another `nonce`) to test that the app refuses them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "streamchat-test"
CLIENT_SECRET = "fake-oidc-client-secret"


class FakeOidc:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.user: dict[str, Any] = {"sub": "alice-subject", "email": "alice@example.com", "name": "Alice Doe"}
        self.tamper: dict[str, Any] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.tokens_issued = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}/tenant/v2.0"  # Entra ID's shape
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-oidc", daemon=True)

    def start(self) -> FakeOidc:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def env(self) -> dict[str, str | None]:
        return {"AUTH_MODE": "oidc", "OIDC_ISSUER": self.issuer, "OIDC_CLIENT_ID": CLIENT_ID,
                "OIDC_CLIENT_SECRET": CLIENT_SECRET}

    # ---- the provider's endpoints ----
    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    def authorize(self, query: dict[str, str]) -> str:
        """Where /authorize redirects to: back to the app with a code, or with an error."""
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            error = {"error": "unauthorized_client", "state": query.get("state", "")}
            return f"{query['redirect_uri']}?{urlencode(error)}"
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def token(self, form: dict[str, str], basic: str | None) -> tuple[int, dict[str, Any]]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if basic:
            client_id, _, secret = base64.b64decode(basic).decode().partition(":")
        asked = self.codes.pop(form.get("code", ""), None)
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET) or asked is None:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != asked.get("code_challenge") or form.get("redirect_uri") != asked["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE or redirect_uri mismatch"}
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 3600, "nonce": asked.get("nonce"),
                  **self.user, **self.tamper}
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        self.tokens_issued += 1
        return 200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 3600,
                     "id_token": id_token}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                path = url.path.removeprefix(urlsplit(provider.issuer).path)
                if path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif path == "/jwks":
                    self._json(200, {"keys": [provider.key.as_dict(private=False)]})
                elif path == "/authorize":
                    self.send_response(302)
                    self.send_header("Location", provider.authorize({k: v[0] for k, v in parse_qs(url.query).items()}))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                auth = self.headers.get("Authorization", "")
                basic = auth.removeprefix("Basic ") if auth.startswith("Basic ") else None
                if urlsplit(self.path).path.endswith("/token"):
                    self._json(*provider.token(form, basic))
                else:
                    self._json(404, {"error": "not_found"})

        return Handler
