"""`app.py api-key create|list|revoke`, `app.py claim` and `app.py usage`: the operator's commands.

A key's owner is the user --user names. In browser mode that is the NAME exactly: the id the API scopes
every request made with the key to (conversations created through the API or the /v1 gateway belong
to NAME). In header/oidc mode NAME is the user's email, and the key belongs to that user's row (made
if the user has not signed in yet), so the API sees the same conversations as the user's pages.
The plain key is printed once, as the last line of stdout, so scripts can take it with `tail -n1`.

`claim --from-browser-id ID --to EMAIL` moves what a browser owned in browser mode (its id is shown in
the page's Account dialog) to a user, when a deployment switches to team sign-in.

`usage [--days N] [--user NAME]` prints the tokens each user's answers used per UTC day.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta

from services.api_keys import ApiKeys, KeyInfo
from services.settings import Settings
from services.usage import emails, table, usage_by_day
from services.users import Users


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


def _open() -> tuple[Settings, ApiKeys]:
    os.umask(0o077)  # a new database file is the operator's alone, as when the app creates it
    settings = Settings()
    settings.streamchat_data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return settings, ApiKeys.open(settings)


def _owner(settings: Settings, users: Users, name: str) -> str:
    """Browser mode: the name itself. Team modes: the id of the user with that email (made if new)."""
    if not settings.team_mode:
        return name
    return (users.find(name) or users.sign_in(name)).id


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    settings, keys = _open()
    users = Users(keys.engine)
    if args.action == "create":
        try:
            key, info = keys.create(_owner(settings, users, args.user), args.name)
        except ValueError as exc:
            print(f"streamchat: {exc}", file=sys.stderr)
            return 2
        print(f"API key {info.id} for {args.user!r} (shown only now; send it as 'Authorization: Bearer <key>'):")
        print(key)
        return 0
    if args.action == "list":
        for k in keys.list(_owner(settings, users, args.user) if args.user else None):
            print(_row(k))
        return 0
    if not keys.revoke(args.id):
        print(f"streamchat: no key with id {args.id}", file=sys.stderr)
        return 1
    print(f"revoked key {args.id}")
    return 0


def run_claim(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="app.py claim", description="give a browser's conversations and API keys (browser mode) to a user"
    )
    parser.add_argument("--from-browser-id", required=True, help="the id the Account dialog showed in browser mode")
    parser.add_argument("--to", required=True, metavar="EMAIL", help="the user's email (made if not signed in yet)")
    args = parser.parse_args(argv)
    _, keys = _open()
    try:
        moved = Users(keys.engine).claim(args.from_browser_id, args.to)
    except ValueError as exc:
        print(f"streamchat: {exc}", file=sys.stderr)
        return 2
    print(", ".join(f"{n} {table}" for table, n in moved.items()) + f" moved to {args.to}")
    return 0 if any(moved.values()) else 1


def run_usage(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="app.py usage", description="tokens used per user per day (UTC)")
    parser.add_argument("--days", type=int, default=7, help="this many days back, today included (default 7)")
    parser.add_argument("--user", help="only this user (browser mode: the owner id; team modes: the email)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    settings, keys = _open()
    owner = None
    if args.user:
        found = Users(keys.engine).find(args.user) if settings.team_mode else None
        if settings.team_mode and found is None:
            print(f"streamchat: no user with the email {args.user!r}", file=sys.stderr)
            return 1
        owner = found.id if found is not None else args.user
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = usage_by_day(keys.engine, today - timedelta(days=args.days - 1), owner)
    print(table(rows, emails(keys.engine)))
    return 0
