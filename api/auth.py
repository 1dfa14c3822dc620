"""Authentication (Bearer API tokens, or the session cookie set by /auth/login) and
authorisation (roles; scope to an admin area, enforced by the queries)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from api.deps import EngineDep, SettingsDep
from api.login_throttle import LoginThrottle
from gis.errors import Forbidden, GridgisError
from gis.services import accounts
from gis.services.accounts import Principal

COOKIE = "gridgis_session"


class Unauthorized(GridgisError):
    """No or bad credentials (401)."""


def request_token(authorization: str, session_cookie: str | None) -> str | None:
    """The caller's token: a Bearer header wins over the session cookie. (The warm-tile
    path in api/tiles/warm.py reads credentials with this too: same rules.)"""
    token = None
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    return token or session_cookie or None


# Roles whose tokens serve one protocol only and are refused everywhere else: an Open311
# client (``integration``) creates and reads service requests at /open311/v2, nothing more.
PROTOCOL_ONLY = frozenset({"integration"})


def _general(principal: Principal) -> Principal:
    if principal.role in PROTOCOL_ONLY:
        raise Forbidden(f"an account of role '{principal.role}' may only use /open311/v2")
    return principal


# Request scope key: (token, Principal) of a token a route checked earlier in this same
# request (the tile routes check it together with the change counters, one query).
VERIFIED = "gridgis.verified"


def current_principal(request: Request, engine: EngineDep) -> Principal:
    token = request_token(request.headers.get("authorization", ""), request.cookies.get(COOKIE))
    if not token:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>' "
                           "or log in at /login")
    verified = request.scope.get(VERIFIED)
    if verified is not None and verified[0] == token:
        return _general(verified[1])
    principal = accounts.authenticate(engine, token)
    if principal is None:
        raise Unauthorized("invalid, expired or revoked credentials")
    return _general(principal)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def page_principal(request: Request, path: str):
    """For HTML pages: the caller, or a redirect to the login page that comes back here."""
    from fastapi.responses import RedirectResponse

    try:
        return current_principal(request, request.app.state.engine)
    except Unauthorized:
        return RedirectResponse(f"/login?next={path}", status_code=303)


def require(*roles: str):
    """Dependency: the caller must have one of ``roles`` (admin always passes)."""

    def check(principal: CurrentUser) -> Principal:
        if principal.role != "admin" and principal.role not in roles:
            raise Forbidden(f"role '{principal.role}' may not do this "
                            f"(needs {' or '.join(roles)})")
        return principal

    return check


router = APIRouter(prefix="/auth", tags=["auth"])


def _throttle(request: Request) -> LoginThrottle:
    state = request.app.state
    if getattr(state, "login_throttle", None) is None:
        s = state.settings
        state.login_throttle = LoginThrottle(s.login_free_attempts,
                                             s.login_address_free_attempts, s.login_max_delay_s)
    return state.login_throttle


class TooManyAttempts(GridgisError):
    """Login backoff in force (429 with Retry-After)."""

    def __init__(self, seconds: int):
        super().__init__(f"too many failed logins: try again in {seconds} s")
        self.retry_after = seconds


@router.post("/login", summary="Log in with a password; sets a session cookie",
             responses={429: {"description": "too many failed logins (see Retry-After)"}})
def do_login(request: Request, response: Response, engine: EngineDep,
             settings: SettingsDep, username: Annotated[str, Form()],
             password: Annotated[str, Form()]) -> dict:
    throttle, address = _throttle(request), request.client.host if request.client else None
    wait = throttle.retry_after(username, address)
    if wait:
        raise TooManyAttempts(wait)
    token = accounts.login(engine, username, password, hours=settings.session_hours)
    if token is None:
        throttle.failed(username, address)
        raise Unauthorized("wrong user name or password")
    throttle.succeeded(username)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax",
                        max_age=int(settings.session_hours * 3600),
                        secure=settings.secure_cookies)
    return {"token": token, "token_type": "bearer",
            "expires_in": int(settings.session_hours * 3600)}


@router.post("/logout", summary="Log out: revoke this session's token and clear the cookie")
def do_logout(request: Request, response: Response, engine: EngineDep,
              settings: SettingsDep, principal: CurrentUser) -> dict:
    token = request_token(request.headers.get("authorization", ""), request.cookies.get(COOKIE))
    accounts.logout(engine, token)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax",
                           secure=settings.secure_cookies)
    return {"logged_out": principal.username}


@router.get("/me", summary="Who am I")
def me(principal: CurrentUser) -> dict:
    return {"username": principal.username, "role": principal.role,
            "scope": principal.scope_code, "department": principal.department_code}
