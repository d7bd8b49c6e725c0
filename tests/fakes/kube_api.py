"""A loopback fake of the Kubernetes API server, on real HTTP (port 0).

It stores objects the way the API server does (``resourceVersion`` bumped on every write,
``metadata.generation`` bumped when ``spec`` changes, the ``status`` subresource written
separately, 404/409/415/422 answered as ``Status`` objects) and serves the paths real
clients use: ``/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/status]]``.
Controllers (``tests.fakes.kube_controllers``) move status along one ``tick()`` at a time,
on an internal clock that each tick advances by ``seconds_per_tick``: tests are
deterministic and never wait on wall-clock time. With ``ticks_per_read`` every GET of a
workload runs that many ticks first, so a client polling the API drives the rollout as far
as its own polling goes (the end-to-end tests use that); ``controllers_down`` stops them.

Every request is recorded, so a test can count the PATCHes a backend sent.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.kube_controllers import Controllers
from tests.fakes.kube_patch import PATCHERS, PatchError

_PATH = re.compile(
    r"/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>status))?"
)
CUSTOM_GROUPS = frozenset({"argoproj.io"})  # CRDs: no strategic merge patch
WORKLOADS = frozenset({"deployments", "statefulsets", "rollouts"})


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class KubeStore:
    """The objects, keyed by (plural, namespace, name); thread-safe through ``lock``."""

    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    _versions: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _uids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def timestamp(self) -> str:
        return self.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or overwrite ``obj`` (tests seed and controllers write through this)."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        meta.setdefault("uid", f"uid-{next(self._uids)}")
        meta.setdefault("generation", 1)
        meta.setdefault("creationTimestamp", self.timestamp())
        meta["resourceVersion"] = str(next(self._versions))
        obj.setdefault("status", {})
        self.objects[(plural, meta["namespace"], meta["name"])] = obj
        return obj

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((plural, namespace, name))

    def list(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        return [
            o for (p, ns, _), o in sorted(self.objects.items()) if p == plural and ns == namespace
        ]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class FakeKubeApi:
    """``FakeKubeApi(token=...).start()``; ``url``; ``store``; ``tick()``; ``calls``."""

    def __init__(
        self, *, token: str | None = None, seconds_per_tick: float = 10, ticks_per_read: int = 0
    ) -> None:
        self.store = KubeStore()
        self.controllers = Controllers(self.store)
        self.token = token
        self.seconds_per_tick = seconds_per_tick
        self.ticks_per_read = ticks_per_read
        self.controllers_down = False  # ticks do nothing: a rollout "in progress" stays put
        self.calls: list[Call] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeKubeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def tick(self, count: int = 1) -> None:
        """Advance the clock and let every controller take one step, ``count`` times."""
        for _ in range(0 if self.controllers_down else count):
            with self.store.lock:
                self.store.now += timedelta(seconds=self.seconds_per_tick)
                self.controllers.step()

    def patches(self, plural: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == "PATCH" and (plural is None or f"/{plural}/" in c.path)
        ]

    def kubeconfig(self, *, context: str = "fake", namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig (as a dict, dump it to YAML) that points at this server."""
        user: dict[str, Any] = {"token": self.token} if self.token else {}
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "shipbot", "user": user}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": "fake", "user": "shipbot", "namespace": namespace},
                }
            ],
        }

    # -- request handling -----------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        content_type = headers.get("content-type", "").split(";")[0].strip()
        try:
            decoded = json.loads(body) if body else None
        except json.JSONDecodeError:
            return 400, _status(400, "BadRequest", "the body is not JSON")
        self.calls.append(Call(method, parts.path, parse_qs(parts.query), content_type, decoded))
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        match = _PATH.fullmatch(parts.path)
        if match is None:
            return 404, _status(404, "NotFound", f"the server could not find {parts.path}")
        route = match.groupdict()
        with self.store.lock:
            if method == "GET" and route["name"] is None:
                selector = parse_qs(parts.query).get("labelSelector", [""])[0]
                items = [
                    copy.deepcopy(o)
                    for o in self.store.list(route["plural"], route["ns"])
                    if _matches(o["metadata"].get("labels") or {}, selector)
                ]
                return 200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
            if route["name"] is None:
                return 405, _status(405, "MethodNotAllowed", f"{method} on a collection")
            if method == "GET" and route["plural"] in WORKLOADS:
                self.tick(self.ticks_per_read)
            obj = self.store.get(route["plural"], route["ns"], route["name"])
            if obj is None:
                what = f"{route['plural']}.{route['group']}"
                return 404, _status(404, "NotFound", f'{what} "{route["name"]}" not found')
            if method == "GET":
                return 200, copy.deepcopy(obj)
            if method == "PATCH":
                return self._patch(route, obj, content_type, decoded)
        return 405, _status(405, "MethodNotAllowed", f"{method} is not served here")

    def _patch(
        self, route: dict[str, Any], obj: dict[str, Any], content_type: str, patch: Any
    ) -> tuple[int, Any]:
        patcher = PATCHERS.get(content_type)
        if patcher is None or (
            route["group"] in CUSTOM_GROUPS and content_type.startswith("application/strategic")
        ):
            return 415, _status(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json",
            )
        if isinstance(patch, dict):
            wanted = (patch.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != obj["metadata"]["resourceVersion"]:
                return 409, _status(
                    409,
                    "Conflict",
                    "the object has been modified; please apply your changes "
                    "to the latest version and try again",
                )
        try:
            patched = patcher(copy.deepcopy(obj), patch)
        except (PatchError, KeyError, IndexError, ValueError, TypeError) as error:
            return 422, _status(422, "Invalid", f"patch failed: {error}")
        if route["sub"] == "status":  # the status subresource writes status only
            patched = {**copy.deepcopy(obj), "status": patched.get("status") or {}}
        else:
            patched["status"] = copy.deepcopy(obj.get("status") or {})
            if patched.get("spec") != obj.get("spec"):
                patched["metadata"]["generation"] = obj["metadata"]["generation"] + 1
        self.store.put(route["plural"], patched)
        return 200, copy.deepcopy(patched)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = fake.handle(self.command, self.path, headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _serve

        return Handler
