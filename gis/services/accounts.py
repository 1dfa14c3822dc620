"""Accounts: who is calling (token check), logging in, and managing users and API tokens.
Passwords and token digests are :mod:`gis.store.users`."""

from __future__ import annotations

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import users as repo
from gis.store.users import ROLES, Principal, scope_prefix, token_digest

__all__ = ["ROLES", "Principal", "add_user", "authenticate", "list_users", "login", "logout",
           "revoke", "scope_prefix", "token_digest", "warm_check", "warm_check_async"]


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The principal of a valid, unexpired, unrevoked token of an active user, else None."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.principal_for_token(session, token)


def login(engine: Engine, username: str, password: str, *, hours: float = 12) -> str | None:
    """A new session token for a right password (committed before it is handed out), else
    None."""
    with unit_of_work(engine) as session:
        return repo.login(session, username, password, hours=hours)


def logout(engine: Engine, token: str) -> bool:
    """Revoke one session's token (True if it was live)."""
    with unit_of_work(engine) as session:
        return repo.revoke_token(session, token)


def add_user(engine: Engine, username: str, role: str, *, scope_code: str | None = None,
             password: str | None = None, days: float | None = 90,
             department_code: str | None = None) -> dict:
    """Create an account and its first API token (shown once). A ``department`` account
    names its department (its scope defaults to the department's area)."""
    with unit_of_work(engine) as session:
        user = repo.add_user(session, username, role, scope_code=scope_code,
                             password=password, department_code=department_code)
        token = repo.issue_token(session, user, days=days)
        scope = user.scope_code
    out = {"username": username, "role": role, "scope": scope, "token": token}
    return {**out, "department": department_code} if department_code else out


def list_users(engine: Engine) -> list[dict]:
    with unit_of_work(engine, read_only=True) as session:
        return repo.list_users(session)


def revoke(engine: Engine, username: str) -> int:
    """Deactivate the account and revoke all its tokens; returns tokens revoked."""
    with unit_of_work(engine) as session:
        return repo.revoke(session, username)


def warm_check(engine: Engine, token: str) -> tuple[Principal, dict] | None:
    """For the warm tile path: the caller of ``token`` and every table's change counter, in
    one query on the engine's dedicated autocommit connection (no unit of work: nothing is
    written, and a failure only sends the request down the normal path). None: unknown
    caller or any failure."""
    from gis.store.warm_check import checker_for

    return checker_for(engine).check(token_digest(token))


async def warm_check_async(engine: Engine, token: str) -> tuple[Principal, dict] | None:
    """:func:`warm_check` awaited on the event loop (the tile path, issue 19)."""
    from gis.store.warm_check import check_async

    return await check_async(engine, token_digest(token))
