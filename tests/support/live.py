"""Serve the Flask app on 127.0.0.1:<free port> in a background thread, for browser tests.

The server shares the database with the test through real commits, so it must be used with
the `committed` fixture (tables emptied afterwards), never with the savepoint `db`: rows
inside an uncommitted savepoint are invisible to the server's own connections.
"""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import make_server

from tests.support.smtp import free_port


def _buffered(app: Flask):
    """The app, with each response body read and closed before Werkzeug starts writing it.

    When a browser drops a connection mid-response (it navigates away while a stylesheet is in
    flight), Werkzeug's dev server skips closing the response iterable, and a static file's
    handle leaks: a ResourceWarning, which `filterwarnings = error` turns into a failure.
    """

    def wsgi(environ, start_response):
        iterable = app(environ, start_response)
        try:
            return [b"".join(iterable)]
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    return wsgi


class LiveServer:
    """`start()` it, read `url`, `stop()` it. Threaded, so the page and its assets load at once."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int | None = None):
        self.app = app
        self.host = host
        self.port = port or free_port()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveServer:
        self._server = make_server(self.host, self.port, _buffered(self.app), threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="live-server", daemon=True
        )
        self._thread.start()
        # make_server binds and listens before returning: a browser that connects now is
        # queued until serve_forever picks it up, so there is no start-up race to wait out.
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
