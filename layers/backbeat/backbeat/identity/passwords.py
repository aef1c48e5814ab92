"""The password policy, checked before Cognito sees a new password (docs/decisions.md, 41).

Cognito's own policy (template.yaml, `UserPool`) holds the length; it has no list of common
passwords (short of its paid threat protection), so the rest is checked here, and each refusal names
its rule (422, field `password`):
- at least `MIN_LENGTH` characters (the request model and Cognito enforce it too);
- not one of the 1,000 most common passwords (`common_passwords.txt`, compared without case);
- not the email address, nor the part of it before the `@`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from backbeat.errors import InvalidInput

MIN_LENGTH = 8
_COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    lines = _COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_new_password(password: str, email: str) -> None:
    """Raise InvalidInput naming the rule a new password breaks."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password: must be at least {MIN_LENGTH} characters", "password")
    folded = password.strip().lower()
    if folded in common_passwords():
        raise InvalidInput("password: is one of the most common passwords; choose another", "password")
    address = email.strip().lower()
    if folded in (address, address.partition("@")[0]):
        raise InvalidInput("password: must not be the email address", "password")
