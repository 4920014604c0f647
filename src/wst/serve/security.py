"""Who may call the server and how much they may send: bearer token, loopback, body limit."""

from __future__ import annotations

import hmac
import ipaddress
import os

from fastapi import Request

from wst.config import ServeConfig
from wst.serve.protocol import ApiError


class ServeError(RuntimeError):
    """The server must not start as configured (e.g. a public address without a token)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5")]
    [True, True, True, False, False]
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def server_token(settings: ServeConfig) -> str | None:
    """The bearer token clients must send (None: no check); ServeError when the host is not
    loopback and no token is set."""
    token = os.environ.get(settings.token_env) or None
    if token is None and not is_loopback(settings.host):
        raise ServeError(
            f"refusing to serve on {settings.host}: an address other than loopback requires a "
            f"bearer token. Set ${settings.token_env} (clients then send 'Authorization: "
            f"Bearer <token>') or bind 127.0.0.1."
        )
    return token


def authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or ApiError(413) as soon as it is known to pass ``limit`` bytes."""
    too_large = ApiError(413, f"the request body is larger than {limit} bytes",
                         code="request_too_large")
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ApiError(400, "invalid Content-Length")
        if int(length) > limit:
            raise too_large
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_large
    return bytes(body)
