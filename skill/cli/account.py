"""``kling3 login`` and ``kling3 logout``: the RunComfy token, shared with the official CLI's file.

The browser (device-code) flow needs httpx, which is imported only when that flow runs;
``--with-token`` reads the token from stdin so agents and CI never need a browser.
"""

from __future__ import annotations

import argparse
import sys

from skill.cli.flags import SubParsers, add_json
from skill.cli.render import emit_json, say
from skill.errors import UsageError

__all__ = ["add_login_parser", "add_logout_parser", "cmd_login", "cmd_logout", "register"]


def register(sub: SubParsers) -> None:
    """Add ``login`` and ``logout``, in the order ``kling3 --help`` lists them."""
    add_login_parser(sub)
    add_logout_parser(sub)


def add_login_parser(sub: SubParsers) -> None:
    """``login [--with-token]``."""
    p = sub.add_parser("login", help="sign in to RunComfy (shares the official CLI's token file)")
    p.add_argument("--with-token", action="store_true", help="read an API token from stdin instead of the browser flow")
    add_json(p)
    p.set_defaults(handler=cmd_login)


def cmd_login(args: argparse.Namespace) -> int:
    """Save a token: from stdin with --with-token, else by the browser device-code flow."""
    from skill import settings
    from skill.execution import auth

    if args.with_token:
        token = sys.stdin.readline().strip()
        if not token:
            raise UsageError("kling3 login --with-token: no token on stdin")
        path = auth.save_token(token)
    else:
        import httpx

        def on_code(user_code: str, verify_url: str) -> None:
            if args.json:
                emit_json({"event": "login_code", "user_code": user_code, "verify_url": verify_url}, sys.stderr)
            else:
                say(f"Open {verify_url} and enter the code {user_code}")

        with httpx.Client(timeout=30) as client:
            token = auth.device_login(settings.web_base(), client=client, on_code=on_code)
        path = auth.save_token(token)
    if args.json:
        emit_json({"logged_in": True, "token_file": str(path)})
    else:
        say(f"signed in; token saved to {path} (mode 0600)")
    return 0


def add_logout_parser(sub: SubParsers) -> None:
    """``logout``."""
    p = sub.add_parser("logout", help="delete the saved token")
    add_json(p)
    p.set_defaults(handler=cmd_logout)


def cmd_logout(args: argparse.Namespace) -> int:
    """Delete the saved token; having none is not an error."""
    from skill.execution import auth

    removed = auth.delete_token()
    if args.json:
        emit_json({"logged_out": removed})
    else:
        say("token removed" if removed else "no token file to remove")
    return 0
