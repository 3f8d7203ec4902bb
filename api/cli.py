"""`app.py api-key create|list|revoke`: the operator's way to hand out API keys.

The key's owner is the NAME given with --user, exactly: that is the id the API scopes every request
made with the key to (conversations created through the API or the /v1 gateway belong to NAME).
The plain key is printed once, as the last line of stdout, so scripts can take it with `tail -n1`.
"""

from __future__ import annotations

import argparse
import os
import sys

from services.api_keys import ApiKeys, KeyInfo
from services.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py api-key", description="manage streamchat API keys")
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a key and print it (shown only this once)")
    create.add_argument("--user", required=True, help="owner of the key; its requests act as this user")
    create.add_argument("--name", default="", help="a label to recognise the key by")
    listing = sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--user", help="only this owner's keys")
    revoke = sub.add_parser("revoke", help="revoke a key by its id (see list)")
    revoke.add_argument("id", type=int)
    return parser


def _row(k: KeyInfo) -> str:
    used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never"
    state = "revoked" if k.revoked else "active"
    return f"{k.id}\t{k.owner}\t{k.name or '-'}\t{k.prefix}…\t{state}\tcreated {k.created_at:%Y-%m-%d}\tused {used}"


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    os.umask(0o077)  # a new database file is the operator's alone, as when the app creates it
    settings = Settings()
    settings.streamchat_data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys = ApiKeys.open(settings)
    if args.action == "create":
        try:
            key, info = keys.create(args.user, args.name)
        except ValueError as exc:
            print(f"streamchat: {exc}", file=sys.stderr)
            return 2
        print(f"API key {info.id} for {info.owner!r} (shown only now; send it as 'Authorization: Bearer <key>'):")
        print(key)
        return 0
    if args.action == "list":
        for k in keys.list(args.user):
            print(_row(k))
        return 0
    if not keys.revoke(args.id):
        print(f"streamchat: no key with id {args.id}", file=sys.stderr)
        return 1
    print(f"revoked key {args.id}")
    return 0
