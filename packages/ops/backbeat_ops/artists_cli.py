"""Artist accounts and operators from the command line (docs/decisions.md, 35).

    backbeat artists link EMAIL ARTIST_ID      the user may read the artist's analytics and statements
    backbeat artists unlink EMAIL ARTIST_ID    no longer
    backbeat artists accounts ARTIST_ID        the accounts linked to an artist
    backbeat users set-role EMAIL operator|listener
                                               operators read every artist's figures (from their
                                               next login: the role travels in the token)

Each prints one JSON object (`accounts`: one a line); an unknown email or artist is an error that
names it, with a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from backbeat.royalties.artists import ROLES


def register(groups: Any) -> None:
    """Add `artists link|unlink|accounts` to the `backbeat` command's groups."""
    artists = groups.add_parser("artists", help="artist accounts").add_subparsers(dest="command", required=True)
    link = artists.add_parser("link", help="let a user read an artist's analytics and statements")
    link.add_argument("email")
    link.add_argument("artist_id", metavar="ARTIST_ID")
    link.set_defaults(run=_link)
    unlink = artists.add_parser("unlink", help="take a user's access to an artist's figures away")
    unlink.add_argument("email")
    unlink.add_argument("artist_id", metavar="ARTIST_ID")
    unlink.set_defaults(run=_unlink)
    listing = artists.add_parser("accounts", help="the accounts linked to an artist, one JSON object a line")
    listing.add_argument("artist_id", metavar="ARTIST_ID")
    listing.set_defaults(run=_accounts)


def register_user_roles(users: Any) -> None:
    """Add `set-role` to the `users` group (its subparsers)."""
    set_role = users.add_parser("set-role", help="make a user an operator, or a plain listener again")
    set_role.add_argument("email")
    set_role.add_argument("role", choices=ROLES)
    set_role.set_defaults(run=_set_role)


def _bind(stack: str | None) -> dict[str, str]:
    from backbeat.catalog.models import bind_catalog_table
    from backbeat.identity.models import bind_users_table
    from backbeat.royalties.artists import bind_artist_accounts_table
    from backbeat_ops.cli import stack_outputs

    outputs = stack_outputs(stack)
    bind_users_table(outputs["UsersTableName"])
    bind_catalog_table(outputs["CatalogTableName"])
    bind_artist_accounts_table(outputs["ArtistAccountsTableName"])
    return outputs


def _link(args: argparse.Namespace) -> dict[str, Any]:
    from backbeat.royalties.artists import link

    _bind(args.stack)
    return link(args.email, args.artist_id)


def _unlink(args: argparse.Namespace) -> dict[str, Any]:
    from backbeat.royalties.artists import unlink

    _bind(args.stack)
    return unlink(args.email, args.artist_id)


def _accounts(args: argparse.Namespace) -> None:
    from backbeat.royalties.artists import accounts, artist_name

    _bind(args.stack)
    artist_name(args.artist_id)  # an unknown artist is an error, not an empty list
    for account in accounts(args.artist_id):
        print(json.dumps(account))


def _set_role(args: argparse.Namespace) -> dict[str, Any]:
    from backbeat.royalties.artists import set_role

    outputs = _bind(args.stack)
    return set_role(outputs["UserPoolId"], args.email, args.role)
