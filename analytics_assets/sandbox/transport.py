"""HTTP plumbing for the sandbox: a fast keep-alive server on 127.0.0.1 that delegates answers.

The responder (``SandboxServer``) turns a request into a ``Response``; this module only moves
bytes, quickly: HTTP/1.1 keep-alive with Content-Length, TCP_NODELAY, one write per response, no
per-request logging, and idle connections closed on shutdown. It can also misbehave on request
(``Response.delay``, ``Response.cut`` and ``Response.trickle``), for fault injection.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Literal, Protocol

HOST = "127.0.0.1"


@dataclass
class Response:
    """What the handler writes: status, JSON body, extra headers, and how to misbehave.

    Attributes:
        status: The HTTP status.
        body: The body, sent with its Content-Length.
        headers: Extra headers; one named like a default header (``Content-Type``,
            ``Content-Length``, ``Connection``; any case) replaces it.
        delay: Seconds to wait before writing anything (cut short when the server stops).
        cut: ``reset``: write nothing and abort the connection with a TCP RST; ``truncate``:
            announce the full Content-Length, write half the body, then close;
            ``truncate_close``: no Content-Length but ``Connection: close``, half the body, then
            close (a close-delimited body that reads as complete).
        trickle: Seconds between bytes: write the body one byte at a time, each byte after this
            wait; 0 writes normally. Stops when the server stops or the client hangs up.
        trickle_headers: Trickle the status line and headers too (every byte but the first
            follows a wait); otherwise they go out at once before the trickled body.
    """

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: Literal["reset", "truncate", "truncate_close"] | None = None
    trickle: float = 0.0
    trickle_headers: bool = False


class Responder(Protocol):
    """Answers one request; called from the connection's handler thread."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Response:
        """``target`` is the path and query string; header lookup is case-insensitive."""
        ...


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection for every page
    # Without TCP_NODELAY, Nagle + delayed ACK stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    server: LoopbackServer

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # the responder answers 405

    def _answer(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and int(length):
            self.rfile.read(int(length))  # drain a body so the connection stays usable
        response = self.server.responder.handle(self.command, self.path, self.headers)
        if response.delay:
            self.server.closing.wait(response.delay)
        if response.cut == "reset":
            self._reset()
            return
        body = response.body
        if response.cut in ("truncate", "truncate_close"):
            # "truncate" adds no "Connection: close": a dying upstream does not announce itself.
            body = body[: len(body) // 2]
        head = self._head(response)
        if response.cut:
            self.close_connection = True
        if response.trickle:
            self._trickle(head, body, response.trickle, response.trickle_headers)
        else:
            # One write: headers and body leave in the same segment(s).
            self.wfile.write(head + body)

    def _head(self, response: Response) -> bytes:
        """The status line and headers, blank line included; given headers replace defaults."""
        given = {name.lower(): value for name, value in response.headers.items()}
        head = [f"HTTP/1.1 {response.status} {_PHRASES.get(response.status, '')}"]
        if "content-type" not in given:
            head.append("Content-Type: application/json; charset=utf-8")
        if "content-length" not in given and response.cut != "truncate_close":
            head.append(f"Content-Length: {len(response.body)}")
        head.extend(f"{name}: {value}" for name, value in response.headers.items())
        if given.get("connection", "").lower() == "close" or response.cut == "truncate_close":
            self.close_connection = True
        if self.close_connection and "connection" not in given:
            head.append("Connection: close")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")

    def _trickle(self, head: bytes, body: bytes, interval: float, with_head: bool) -> None:
        """Write byte by byte, ``interval`` apart; give up when stopping or the client is gone."""
        data = head + body if with_head else body
        try:
            if not with_head:
                self.wfile.write(head)
            for i in range(len(data)):
                if (i or not with_head) and self.server.closing.wait(interval):
                    self.close_connection = True
                    return
                self.wfile.write(data[i : i + 1])
        except ConnectionError:  # the client hung up (broken pipe, reset)
            self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a RST instead of a FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The socket really closes (and the RST leaves) once finish() closes rfile, before
        # shutdown_request() could send a FIN; its shutdown() then fails harmlessly.
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: per-request stderr lines would swamp test and benchmark output."""


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 that can close its idle keep-alive connections."""

    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not make stop() wait
    request_queue_size = 128

    def __init__(self, port: int, responder: Responder) -> None:
        self.responder = responder
        self.closing = threading.Event()  # set on stop: wakes handlers sleeping on a Delay
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse-DNS lookup of the host; not needed here.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut open connections so their handler threads see EOF and end."""
        self.closing.set()
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response is normal (timeouts, stop()); anything else is a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)
