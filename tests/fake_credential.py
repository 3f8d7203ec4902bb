"""Credential factories for `AZURE_CREDENTIAL=tests.fake_credential:<name>`.

They stand in for `DefaultAzureCredential`, which tests must never construct: it probes the
link-local metadata endpoint. Both match the async `TokenCredential` protocol the app uses.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

TOKEN = "fake-entra-token"


class FakeCredential:
    """Always hands out a valid-looking bearer token; counts calls so a test can see caching."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, ...]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append(scopes)
        if self.fail:
            raise ClientAuthenticationError(
                "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
                "Attempted credentials:\n\tEnvironmentCredential: EnvironmentCredential authentication "
                "unavailable. Environment variables are not fully configured.\n\tManagedIdentityCredential: "
                "ManagedIdentityCredential authentication unavailable, no response from the IMDS endpoint.\n"
                "To mitigate this issue, please refer to the troubleshooting guidelines here at "
                "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot.")
        return AccessToken(TOKEN, int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FakeCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def ok_credential() -> FakeCredential:
    """A credential whose tokens are `fake-entra-token`, valid for an hour."""
    return FakeCredential()


def failing_credential() -> FakeCredential:
    """A credential that fails like DefaultAzureCredential on a machine with no identity."""
    return FakeCredential(fail=True)
