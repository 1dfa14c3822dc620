"""Accounts and API tokens. Passwords are hashed with scrypt, tokens are random and
stored as SHA-256 digests (a leaked table does not leak usable tokens)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gis.errors import Conflict, InputError, NotFound
from gis.store.models import AdminUnit, ApiToken, Department, User
from gis.vocabulary import ROLES  # one list: the table's check constraint uses it too


@dataclass(frozen=True)
class Principal:
    """Who is calling: role and the admin area they may see (None: everywhere); a
    department account also its department (it sees only the incidents routed or summoned
    to that department within its area)."""

    user_id: int
    username: str
    role: str
    scope_code: str | None
    department_code: str | None = None

    @property
    def scope_prefix(self) -> str:
        """Codes inside the scope start with this: 6 digits for a county, 9 for a township,
        12 for a community (grid codes extend community codes)."""
        return scope_prefix(self.scope_code)

    @property
    def view(self) -> str | None:
        """What decides the rows this caller sees (cache keys of answers): the scope, and
        for a grid worker also who they are (they see their own patrol tracks only)."""
        if self.role == "grid_worker":
            return f"{self.scope_code}/{self.username}"
        return self.scope_code


def scope_prefix(code: str | None) -> str:
    if not code:
        return ""
    if code.endswith("000000"):
        return code[:6]
    if code.endswith("000"):
        return code[:9]
    return code


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(got.hex(), digest)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(session: Session, username: str, role: str, *, scope_code: str | None = None,
             password: str | None = None, department_code: str | None = None) -> User:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (one of {', '.join(ROLES)})", field="role")
    scope_code = _department_scope(session, role, department_code, scope_code)
    if scope_code and session.get(AdminUnit, scope_code) is None:
        raise InputError(f"no admin unit with code {scope_code}", field="scope")
    if not scope_code and role != "admin":
        raise InputError("every account except admin needs a scope (an admin unit code)",
                         field="scope")
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username!r} exists")
    user = User(username=username, role=role, scope_code=scope_code,
                password_hash=hash_password(password) if password else None,
                department_code=department_code if role == "department" else None)
    session.add(user)
    session.flush()
    return user


def _department_scope(session: Session, role: str, department_code: str | None,
                      scope_code: str | None) -> str | None:
    """A department account belongs to one department and sees within its area (the scope
    defaults to the department's area and may narrow it, never widen it)."""
    if role != "department":
        if department_code:
            raise InputError("only a department account names a department",
                             field="department")
        return scope_code
    if not department_code:
        raise InputError("a department account needs --department CODE", field="department")
    dept = session.get(Department, department_code)
    if dept is None:
        raise InputError(f"no department {department_code!r}", field="department")
    area = scope_prefix(dept.area_code)
    if scope_code and not scope_code.startswith(area):
        raise InputError(f"scope {scope_code} is outside the department's area "
                         f"{dept.area_code}", field="scope")
    return scope_code or dept.area_code


def issue_token(session: Session, user: User, *, name: str = "api",
                days: float | None = 90) -> str:
    token = "gg_" + secrets.token_urlsafe(32)
    expires = datetime.now(timezone.utc) + timedelta(days=days) if days else None
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), name=name,
                         expires_at=expires))
    session.flush()
    return token


def principal_for_token(session: Session, token: str) -> Principal | None:
    now = datetime.now(timezone.utc)
    row = session.execute(
        select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None),
               User.active.is_(True))).first()
    if row is None:
        return None
    user, tok = row
    if tok.expires_at is not None and tok.expires_at <= now:
        return None
    return Principal(user.id, user.username, user.role, user.scope_code, user.department_code)


_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    """A real scrypt hash of a random password, made once: checked against when the user
    is unknown (or has no password) so that every failed login costs the same scrypt run
    and answer time does not tell which user names exist."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def login(session: Session, username: str, password: str, *, hours: float = 12) -> str | None:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    stored = user.password_hash if user is not None and user.password_hash else None
    ok = check_password(password, stored or _dummy_hash())
    if user is None or stored is None or not ok:
        return None
    return issue_token(session, user, name="session", days=hours / 24)


def revoke_token(session: Session, token: str) -> bool:
    """Revoke one token (logout); True if it was live."""
    result = session.execute(update(ApiToken).where(ApiToken.token_hash == token_digest(token),
                                                    ApiToken.revoked_at.is_(None))
                             .values(revoked_at=datetime.now(timezone.utc)))
    return bool(result.rowcount)


def revoke(session: Session, username: str) -> int:
    """Deactivate the account and revoke all its tokens; returns tokens revoked."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    user.active = False
    result = session.execute(update(ApiToken).where(ApiToken.user_id == user.id,
                                                    ApiToken.revoked_at.is_(None))
                             .values(revoked_at=datetime.now(timezone.utc)))
    return result.rowcount or 0


def list_users(session: Session) -> list[dict]:
    users = session.scalars(select(User).order_by(User.username)).all()
    return [{"username": u.username, "role": u.role, "scope": u.scope_code, "active": u.active,
             "department": u.department_code} for u in users]
