"""Start a socketserver on loopback in a daemon thread: shared by the emulator's servers."""

from __future__ import annotations

import socketserver
import threading


def serve_in_background(server: socketserver.BaseServer, *, name: str) -> threading.Thread:
    """Run ``server.serve_forever`` in a started daemon thread. A short poll keeps
    ``server.shutdown()`` quick; the loop is idle otherwise."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return thread
