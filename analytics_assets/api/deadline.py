"""An overall deadline per request: connect, headers and the whole body.

requests' ``timeout`` bounds each socket read, not the response: a server that trickles one
byte every few seconds keeps a request alive for ever. requests and urllib3 have no overall
deadline, so this module adds one from the outside, through their public extension points:

- ``DeadlineAdapter`` (a requests ``HTTPAdapter``) makes urllib3 use connection classes that
  report themselves, when a request starts on them, to the thread's active ``Deadline``;
- one watchdog thread shuts down the socket of any request past its deadline, which ends the
  blocked read at once; ``Deadline.expired`` then tells the caller why the read broke.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_SLEEP_S = 60.0
"""The watchdog wakes at least this often (and never asks for a wait the OS cannot do)."""


@dataclass
class Deadline:
    """One request's deadline and the connection it runs on."""

    at: float  # time.monotonic() when the request must be complete
    connection: HTTPConnection | None = None
    expired: bool = False
    thread: int = field(default_factory=threading.get_ident)

    @property
    def passed(self) -> bool:
        """Whether the deadline has passed (whether or not the watchdog has acted on it yet)."""
        return self.expired or time.monotonic() >= self.at


class Watchdog:
    """Aborts requests past their deadline: one thread for all of them, asleep when idle."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: dict[int, Deadline] = {}
        self._thread: threading.Thread | None = None

    @contextmanager
    def bound(self, seconds: float) -> Iterator[Deadline]:
        """The calling thread's request must complete within ``seconds``.

        Nested in another bound of the same thread (requests follows a redirect by sending
        again from inside the first send), the outer deadline stands: redirects do not extend it.
        """
        thread = threading.get_ident()
        outer = self._active.get(thread)
        if outer is not None:
            yield outer
            return
        deadline = Deadline(time.monotonic() + seconds, thread=thread)
        with self._cond:
            self._active[thread] = deadline
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._watch, name="api-deadline-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        try:
            yield deadline
        finally:
            with self._cond:
                self._active.pop(thread, None)

    def current(self) -> Deadline | None:
        """The calling thread's deadline, if a request of it is under one."""
        return self._active.get(threading.get_ident())

    def attach(self, connection: HTTPConnection) -> None:
        """Called by a connection as a request starts on it, in the requesting thread."""
        deadline = self._active.get(threading.get_ident())
        if deadline is not None:
            deadline.connection = connection

    def _watch(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                for deadline in list(self._active.values()):
                    if deadline.at <= now and not deadline.expired:
                        deadline.expired = True
                        _abort(deadline.connection)
                pending = [d.at for d in self._active.values() if not d.expired]
                wait = min(pending) - now if pending else MAX_SLEEP_S
                self._cond.wait(timeout=min(max(0.0, wait), MAX_SLEEP_S))


def _abort(connection: HTTPConnection | None) -> None:
    """Shut the connection's socket down: a read blocked on it returns at once."""
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


WATCHDOG = Watchdog()
"""The process's watchdog; requests register per thread, so one serves every session."""


class DeadlineHTTPConnection(HTTPConnection):
    """urllib3's connection, reporting itself to the watchdog as each request starts."""

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        WATCHDOG.attach(self)
        super().request(*args, **kwargs)


class DeadlineHTTPSConnection(HTTPSConnection):
    """urllib3's TLS connection, reporting itself to the watchdog as each request starts."""

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        WATCHDOG.attach(self)
        super().request(*args, **kwargs)


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


POOL_CLASSES = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """A requests adapter whose connections the watchdog can abort (no retries of its own)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_retries=0, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager
