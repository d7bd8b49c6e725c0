"""Deploy backends: the systems a deploy really runs on (rule 5: ports, not globals).

Public API::

    from workflows.backends import build_backend, BackendPorts, DeployTarget
    backend = build_backend(service.deploy, ports=BackendPorts(...))
    started = backend.start(target)                 # once per deploy
    progress = backend.poll(target, started.state)  # until terminal, from any process
    backend.cancel(target, state)                   # -> bool

See docs/backends.md for what each backend does; ``settings`` holds every backend's
config model (the config schema loads it without loading any backend).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# The config package first: it loads ``settings`` (this package's schema) while it
# initialises, so a backend imported before any config must not start ``settings`` itself
# halfway through the config package.
import workflows.config  # noqa: F401

if TYPE_CHECKING:
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

# Loaded on first use, not on import: the config schema imports ``settings`` from this
# package and must not pay for (or depend on) every backend's client library.
_HOMES = {
    "BackendError": "workflows.backends.base",
    "BackendPorts": "workflows.backends.base",
    "DeployBackend": "workflows.backends.base",
    "DeployTarget": "workflows.backends.base",
    "Progress": "workflows.backends.base",
    "Started": "workflows.backends.base",
    "Status": "workflows.backends.base",
    "TransientBackendError": "workflows.backends.base",
    "build_backend": "workflows.backends.factory",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
