"""Browser safety for every response: a same-origin check on cookie-authenticated writes
(CSRF), security headers on every answer (CSP on our pages), and the one rule for where a
login may send the browser next.

CSRF rule: an unsafe request (POST, PUT, PATCH, DELETE) whose ``Origin`` (or, when a
browser sent none, ``Referer``) names another origin is refused with 403, whatever its
credentials (this covers the login form too: no one can log a victim into the
attacker's account). A request that carries the session cookie and neither header is
refused as well: browsers always send one of them on such requests unless a policy
stripped it, and a script or phone app holding a token sends ``Authorization: Bearer``
instead. Requests with a Bearer token are not checked (a browser never adds one by
itself); neither are requests with no cookie at all (nothing to ride on).

"The service's own origin" is the host and port the browser addressed (the ``Host``
header; a browser cannot forge it across origins) plus any ``GRIDGIS_TRUSTED_ORIGINS``.
The scheme is not compared: behind a TLS-terminating proxy the service sees http while
the page is https."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem

UNSAFE = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Pages FastAPI serves from a CDN with inline scripts: no CSP there (they hold no data).
DOC_PATHS = ("/docs", "/redoc")


def _netloc(url: str) -> str | None:
    """``host:port`` of an absolute http(s) URL, default ports made explicit."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{host}:{port}".lower()


def _host_netloc(host: str, scheme: str) -> str | None:
    return _netloc(f"{scheme}://{host}") if host else None


class CsrfGuard:
    """Refuse cross-origin unsafe requests that a browser could make with our cookie."""

    def __init__(self, app: ASGIApp, cookie: str, trusted: tuple[str, ...] = ()):
        self.app = app
        self.cookie = cookie.encode()
        self.trusted = {n for n in (_netloc(o) for o in trusted) if n}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"].encode() in UNSAFE:
            reason = self._refusal(scope)
            if reason:
                await problem(403, "Forbidden", reason, field="Origin")(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        headers = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name, value.decode("latin-1"))
        if headers.get(b"authorization", "").lower().startswith("bearer "):
            return None
        source = headers.get(b"origin") or headers.get(b"referer")
        if source is None or source == "null":
            if self.cookie + b"=" in headers.get(b"cookie", "").encode("latin-1"):
                return ("a request with the session cookie must come from this service's "
                        "pages (no Origin or Referer header was sent)")
            return None if source is None else "requests from an opaque origin are refused"
        own = _host_netloc(headers.get(b"host", ""), scope.get("scheme", "http"))
        sent = _netloc(source)
        if sent is not None and (sent == own or sent in self.trusted):
            return None
        return f"cross-origin request refused (Origin {source.split('?')[0][:100]!r})"


def content_security_policy(base_tile_url: str | None = None) -> str:
    """Our pages load everything from /static; MapLibre needs blob: workers (it builds
    its worker from a blob URL) and blob:/data: images; an optional raster base map
    (GRIDGIS_BASE_TILE_URL) adds its origin to images and fetches."""
    extra = ""
    if base_tile_url:
        parts = urlsplit(base_tile_url.replace("{", "").replace("}", ""))
        if parts.scheme and parts.netloc:
            extra = f" {parts.scheme}://{parts.netloc}"
    return ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; "
            "child-src blob:; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; font-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    """Headers on every response: no framing, no MIME sniffing, referrer kept on this
    origin only, and the CSP (except on FastAPI's CDN-loaded API docs)."""

    def __init__(self, app: ASGIApp, csp: str):
        self.app = app
        self.fixed = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                      (b"referrer-policy", b"same-origin")]
        self.csp = (b"content-security-policy", csp.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_csp = not scope["path"].startswith(DOC_PATHS)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                add = [h for h in self.fixed + ([self.csp] if with_csp else [])
                       if h[0] not in names]
                message = {**message, "headers": list(message.get("headers", [])) + add}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def safe_next(target: str | None, default: str = "/map") -> str:
    """Where a login may send the browser: a path on this service only. Browsers read a
    backslash as a slash and drop tabs and line breaks, so ``/\\evil.example`` and
    ``/<TAB>/evil.example`` mean ``//evil.example``: anything with those, or not a plain
    absolute path, falls back to ``default``."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return default
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if target.startswith("//") or parts.scheme or parts.netloc:
        return default
    return target
