"""The ``Idempotency-Key`` header of retryable writes, read once for every such route.

The dependency turns the header into a :class:`gis.services.idempotency.Once`: the key,
a fingerprint of the request (method, path and body: JSON canonicalised, form fields
sorted, uploaded files by content hash), the route's success status and the scope of an
anonymous caller (a keyed hash of the client address: no address is stored). The use
case claims the key inside its own unit of work (:func:`gis.services.idempotency.write_once`);
when it answers from the store, the response gets the stored status and
``Idempotent-Replayed: true``."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from starlette.datastructures import UploadFile

from gis.services.idempotency import Once

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as the IETF draft's examples


def client_scope(request: Request) -> str:
    """An anonymous caller's scope: a keyed hash of its address (rate limits use it too)."""
    host = request.client.host if request.client else "unknown"
    secret = request.app.state.settings.secret_key.encode()
    return "addr:" + hmac.new(secret, host.encode(), hashlib.sha256).hexdigest()[:32]


async def _body_digest(request: Request) -> str:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    digest = hashlib.sha256()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()  # FastAPI parsed it already: the cached form
        for name, value in sorted(form.multi_items(), key=lambda kv: kv[0]):
            if isinstance(value, UploadFile):
                content = await value.read()
                await value.seek(0)
                value = "file:" + hashlib.sha256(content).hexdigest()
            digest.update(json.dumps([name, value]).encode())
        return digest.hexdigest()
    body = await request.body()
    try:  # the same JSON document whatever its spacing or key order
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        pass
    digest.update(body)
    return digest.hexdigest()


async def idempotency_key(
        request: Request, response: Response,
        key: Annotated[str | None, Header(
            alias=HEADER, pattern=KEY_PATTERN,
            description="Send the same key when retrying this write: the first answer is "
                        "returned and nothing new is written (same key with another request: "
                        "422). Keys are kept 7 days per account (or client address).")] = None,
) -> Once | None:
    if key is None:
        return None
    route = request.scope.get("route")
    fingerprint = hashlib.sha256(
        f"{request.method} {request.url.path} {await _body_digest(request)}".encode()).hexdigest()

    def replayed(status: int) -> None:
        response.status_code = status
        response.headers["Idempotent-Replayed"] = "true"

    return Once(key=key, fingerprint=fingerprint,
                status=getattr(route, "status_code", None) or 200,
                anonymous_scope=client_scope(request), on_replay=replayed)


IdempotencyDep = Annotated[Once | None, Depends(idempotency_key)]
