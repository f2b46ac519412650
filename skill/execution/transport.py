"""How kling3's httpx clients are built: a verifying TLS context only where https is spoken.

Building httpx's verifying context (certifi's CA bundle parsed into OpenSSL) costs ~16 ms of
CPU, paid once per process; a client whose base is plain http (the emulator on loopback) never
needs it, so :func:`client_tls` gives such a client a bare context for its plain connections
and an https transport that builds the verifying context on its first https request (a
download redirected to a RunComfy host still verifies). The bare context loads no CA, so it
can never complete a TLS handshake: it fails closed if it is ever used.

The verifying context is built once per CA setting and shared by every client and thread (a
client-side context is safe to share).
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx

from skill import settings

__all__ = ["client_tls", "default_tls_context", "uses_tls"]


def default_tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per CA setting and shared."""
    return _tls_context(*settings.ca_bundle())


@functools.lru_cache(maxsize=4)
def _tls_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads the same two variables


@functools.lru_cache(maxsize=1)
def _plain_only() -> ssl.SSLContext:
    """A client context with no CA loaded: required by httpx's plain-http transport, unusable for
    TLS (certificates are required and none can verify)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def uses_tls(url: str) -> bool:
    """Whether a client for ``url`` starts out speaking https (else plain http)."""
    return url.strip().lower().startswith("https:")


class _HttpsOnDemand(httpx.BaseTransport):
    """The https transport of a plain-http client: the verifying context is built when the
    first https request is sent, not when the client is made."""

    def __init__(self) -> None:
        self._inner: httpx.HTTPTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = httpx.HTTPTransport(verify=default_tls_context())
        return self._inner.handle_request(request)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


class _AsyncHttpsOnDemand(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`_HttpsOnDemand`."""

    def __init__(self) -> None:
        self._inner: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = httpx.AsyncHTTPTransport(verify=default_tls_context())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


def client_tls(url: str, *, asynchronous: bool) -> dict[str, Any]:
    """The TLS arguments of an ``httpx.Client`` (or ``AsyncClient``) whose first address is
    ``url``: the shared verifying context for https; for plain http, the bare context and an
    https mount that verifies on demand (that mount does not go through an https proxy of the
    environment: a plain-http base is the loopback emulator or a local gateway)."""
    if uses_tls(url):
        return {"verify": default_tls_context()}
    https: httpx.BaseTransport | httpx.AsyncBaseTransport = (
        _AsyncHttpsOnDemand() if asynchronous else _HttpsOnDemand()
    )
    return {"verify": _plain_only(), "mounts": {"https://": https}}
