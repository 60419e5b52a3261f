"""`server.py users mint --userid alice [--days 30]`: hand out sharedsecret logins from a shell."""
from __future__ import annotations

import argparse
import sys

from ..config import ConfigError, load
from .sharedsecret import mint


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="server.py users", description="user account tools")
    sub = parser.add_subparsers(dest="command", required=True)
    minting = sub.add_parser("mint", help="print a sharedsecret login (useridcombo and secret)")
    minting.add_argument("--userid", required=True, help="the user id to log in as")
    minting.add_argument("--days", type=int, default=372, help="validity in days (default 372)")
    minting.add_argument("-c", "--config", default="config.yaml", help="config file (default ./config.yaml)")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    secret = cfg.users.get("sharedsecret_secret", "")
    if not secret:
        print("config error: users.sharedsecret_secret: not set, nothing to sign logins with", file=sys.stderr)
        return 2
    if ":" in args.userid or not args.userid or args.days <= 0:
        print("error: --userid must be non-empty without ':' and --days positive", file=sys.stderr)
        return 2
    combo, signature, expiry = mint(secret.encode(), args.userid, args.days * 86400)
    print(f"useridcombo: {combo}")
    print(f"secret: {signature}")
    print(f"expires: {expiry}")
    return 0
