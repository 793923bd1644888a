"""HTTP GET for feeds and the pages they link to: bounded in time and size, polite, one line on failure.

Redirects are followed (urllib's own handler, at most 10 in a row); every request names newsrag in
its User-Agent; a request gives up after ``timeout`` seconds in all (not per read, so a server that
sends a byte a second cannot hold it forever) and reads at most ``max_bytes``. A feed is asked for
with the validators of its last read (``If-None-Match``, ``If-Modified-Since``), so a feed that has
not changed answers 304 with no body.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message

from ingest.normalize import decode_bytes

DEFAULT_TIMEOUT_S = 20.0
USER_AGENT = "newsrag/0.1 (news feed reader; reads each feed at most once a round)"
_READ_SIZE = 64 * 1024


def _opener() -> urllib.request.OpenerDirector:
    """urllib's opener with http and https only: a redirect to ``ftp:`` or ``file:`` is an error."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPRedirectHandler(), urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPErrorProcessor(), urllib.request.UnknownHandler()):
        opener.add_handler(handler)
    return opener


class FetchError(ValueError):
    """A request that did not give a page: ``str(err)`` is a short reason for people."""


@dataclass(frozen=True)
class FetchOptions:
    """How requests are made.

    Args:
        timeout: seconds a request may take in all (connect, headers and body).
        max_bytes: larger bodies are refused.
        user_agent: the ``User-Agent`` header.
    """

    timeout: float = DEFAULT_TIMEOUT_S
    max_bytes: int = 20 * 1024 * 1024
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Fetched:
    """One response: status 200 (with body) or 304 (not modified, empty body)."""

    url: str  # the address after redirects
    status: int
    body: bytes = b""
    headers: Message = field(default_factory=Message)

    @property
    def not_modified(self) -> bool:
        """True for a 304: the resource is as it was at the last read."""
        return self.status == 304

    def text(self) -> str:
        """The body as text: the charset the server names, else the one the bytes show.

        Raises:
            FetchError: the body is not text in any encoding that can be recognised.
        """
        charset = self.headers.get_content_charset()
        if charset:
            try:
                return self.body.decode(charset)
            except (LookupError, UnicodeDecodeError):
                pass
        try:
            return decode_bytes(self.body)[0]
        except ValueError as err:
            raise FetchError(str(err)) from None


def _read_body(response: http.client.HTTPResponse, deadline: float, options: FetchOptions) -> bytes:
    """The body, read in pieces until it ends, the deadline passes or it grows past the limit."""
    parts: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(f"timed out after {options.timeout:g} s")
        part = response.read1(_READ_SIZE) if hasattr(response, "read1") else response.read(_READ_SIZE)
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > options.max_bytes:
            raise FetchError(f"larger than the limit of {options.max_bytes / 1024 / 1024:.1f} MB")
        parts.append(part)


def _reason(err: BaseException, options: FetchOptions) -> str:
    """A short phrase for a failed request."""
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        err = err.reason if isinstance(err.reason, BaseException) else OSError(str(err.reason))
    if isinstance(err, (TimeoutError, socket.timeout)):
        return f"timed out after {options.timeout:g} s"
    if isinstance(err, socket.gaierror):
        return f"unknown host ({err.strerror or err})"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, http.client.HTTPException):
        return f"bad HTTP response ({type(err).__name__})"
    if isinstance(err, OSError):
        return f"cannot connect ({err.strerror or err})"
    return f"cannot fetch ({type(err).__name__})"


def fetch(url: str, options: FetchOptions, *, etag: str | None = None, modified: str | None = None,
          accept: str = "*/*") -> Fetched:
    """GET ``url``, following redirects.

    Args:
        url: an http(s) address.
        options: timeout, size limit and User-Agent.
        etag: the ``ETag`` of the last read, sent as ``If-None-Match``.
        modified: the ``Last-Modified`` of the last read, sent as ``If-Modified-Since``.
        accept: the ``Accept`` header.

    Returns:
        The response (status 200 with its body, or 304).

    Raises:
        FetchError: not an http(s) address, an HTTP error status, a timeout, a refused or failed
            connection, or a body over the limit.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError("not an http or https address")
    headers = {"User-Agent": options.user_agent, "Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    request = urllib.request.Request(url, headers=headers)
    deadline = time.monotonic() + options.timeout
    try:
        with _opener().open(request, timeout=options.timeout) as response:
            body = _read_body(response, deadline, options)
            return Fetched(url=response.geturl(), status=response.status, body=body, headers=response.headers)
    except urllib.error.HTTPError as err:
        if err.code == 304:
            return Fetched(url=err.geturl() or url, status=304, headers=err.headers)
        raise FetchError(f"HTTP {err.code} {err.reason}".rstrip()) from None
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as err:  # URLError is an OSError
        raise FetchError(_reason(err, options)) from None
