"""Deploy backends: the systems a deploy really runs on (rule 5: ports, not globals).

Public API::

    from workflows.backends import build_backend, BackendPorts, DeployTarget
    backend = build_backend(service.deploy, ports=BackendPorts(...))
    started = backend.start(target)                 # once per deploy
    progress = backend.poll(target, started.state)  # until terminal, from any process
    backend.cancel(target, state)                   # -> bool

See docs/backends.md for what each backend does.
"""

from workflows.backends.base import (
    BackendError,
    BackendPorts,
    DeployBackend,
    DeployTarget,
    Progress,
    Started,
    Status,
    TransientBackendError,
)
from workflows.backends.factory import build_backend

__all__ = [
    "BackendError",
    "BackendPorts",
    "DeployBackend",
    "DeployTarget",
    "Progress",
    "Started",
    "Status",
    "TransientBackendError",
    "build_backend",
]
