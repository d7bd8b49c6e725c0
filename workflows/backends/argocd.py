"""The ``argocd`` backend: optionally set an image parameter, sync the app, follow it.

Argo CD REST calls (``Authorization: Bearer <token>``):

1. ``GET /api/v1/applications/{app}``: the app must exist (Argo CD answers 403 for an app
   the token may not see, as for a missing one); remembers the last operation's
   ``startedAt`` to tell our sync from an earlier one.
2. With ``image_parameter``: ``PATCH /api/v1/applications/{app}`` with
   ``{"name", "patch": <JSON merge patch as a string>, "patchType": "merge"}`` (the
   ``ApplicationService.Patch`` RPC). For a Helm source the patch sets the Helm parameter
   ``image_parameter`` (``forceString``) to the version; for a Kustomize source it sets the
   image ``image_parameter`` to ``<image_parameter>:<version>`` in ``kustomize.images``.
   Lists are replaced whole by a merge patch, so the patch carries every other
   parameter/image unchanged.
3. ``POST /api/v1/applications/{app}/sync`` with ``{"name": app}``. If auto-sync already
   started applying our patch (``another operation is already in progress``), we follow
   that operation instead.

Poll ``GET /api/v1/applications/{app}``: ``status.operationState.phase`` ``Failed``/
``Error`` fails; ``Succeeded`` with ``status.health.status`` ``Healthy`` succeeds,
``Degraded`` fails, anything else keeps running. Cancel:
``DELETE /api/v1/applications/{app}/operation`` (TerminateOperation).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from workflows.backends import _http
from workflows.backends._images import image_repository, with_version
from workflows.backends.base import (
    BackendError,
    BackendPorts,
    DeployTarget,
    Progress,
    Started,
    Status,
)
from workflows.backends.settings import ArgoCDBackend
from workflows.redact import redact_text, register_secret


class ArgoCDDeployBackend:
    """Syncs one Argo CD application; see the module docstring."""

    name = "argocd"

    def __init__(self, config: ArgoCDBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports
        register_secret(config.token)
        self._server = config.server_url.rstrip("/")
        self._app_url = f"{self._server}/api/v1/applications/{quote(config.app, safe='')}"
        self.logs_url = f"{self._server}/applications/{quote(config.app, safe='')}"

    def _headers(self) -> dict[str, str]:
        return {**_http.bearer(self.config.token.get_secret_value()), "User-Agent": "shipbot"}

    def _get_app(self, client: httpx.Client) -> dict[str, Any]:
        response = client.get(self._app_url, headers=self._headers())
        what = f"Argo CD application {self.config.app!r}"
        if response.status_code in (403, 404):
            raise BackendError(
                f"{what} not found, or the token may not read it (HTTP {response.status_code})"
            )
        _http.check(response, what=what)
        return _http.json_object(response, what=what)

    def start(self, target: DeployTarget) -> Started:
        with self.ports.http() as client:
            app = self._get_app(client)
            previous = _operation(app).get("startedAt")
            if self.config.image_parameter:
                patch = parameter_patch(app, self.config.image_parameter, target.version)
                response = client.patch(
                    self._app_url,
                    json={
                        "name": self.config.app,
                        "patch": json.dumps(patch),
                        "patchType": "merge",
                    },
                    headers=self._headers(),
                )
                _http.check(response, what=f"Argo CD: setting {self.config.image_parameter}")
            response = client.post(
                f"{self._app_url}/sync", json={"name": self.config.app}, headers=self._headers()
            )
        already_running = response.status_code in (400, 409) and (
            "already in progress" in response.text
        )
        if not (already_running and self.config.image_parameter):
            _http.check(response, what=f"Argo CD refused to sync {self.config.app!r}")
        state = {"previous_started_at": previous}
        return Started(state=state, logs_url=self.logs_url)

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        with self.ports.http() as client:
            app = self._get_app(client)
        status = app.get("status") or {}
        operation = _operation(app)
        phase = operation.get("phase")
        health = (status.get("health") or {}).get("status") or "Unknown"
        sync = (status.get("sync") or {}).get("status") or "Unknown"
        started = operation.get("startedAt")
        if not started or started == state.get("previous_started_at"):
            return Progress(
                status=Status.running,
                detail="waiting for Argo CD to start the sync",
                logs_url=self.logs_url,
            )
        detail = f"sync {phase or 'pending'} · health {health} · {sync}"
        message = redact_text(str(operation.get("message") or ""))[:200]
        if phase in ("Failed", "Error"):
            if "terminated" in message.lower():
                return Progress(status=Status.cancelled, detail=message, logs_url=self.logs_url)
            return Progress(
                status=Status.failed,
                detail=f"{detail}: {message}" if message else detail,
                logs_url=self.logs_url,
            )
        if phase == "Succeeded" and health == "Healthy":
            return Progress(status=Status.succeeded, detail=detail, logs_url=self.logs_url)
        if phase == "Succeeded" and health == "Degraded":
            return Progress(status=Status.failed, detail=detail, logs_url=self.logs_url)
        return Progress(status=Status.running, detail=detail, logs_url=self.logs_url)

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        with self.ports.http() as client:
            response = client.delete(f"{self._app_url}/operation", headers=self._headers())
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            return False  # no operation in progress (it finished) or not allowed
        _http.check(response, what=f"Argo CD: terminating the sync of {self.config.app!r}")
        return True


def _operation(app: Mapping[str, Any]) -> dict[str, Any]:
    return (app.get("status") or {}).get("operationState") or {}


def parameter_patch(app: Mapping[str, Any], parameter: str, version: str) -> dict[str, Any]:
    """The merge patch that sets ``parameter`` to ``version`` in the app's source(s)."""
    spec = app.get("spec") or {}
    status = app.get("status") or {}
    if spec.get("source"):
        source = _set_parameter(
            copy.deepcopy(spec["source"]), parameter, version, status.get("sourceType")
        )
        return {"spec": {"source": source}}
    sources = copy.deepcopy(spec.get("sources") or [])
    if not sources:
        raise BackendError("Argo CD application has no source to set the image parameter in")
    types = status.get("sourceTypes") or []
    index = next((i for i, s in enumerate(sources) if _mentions(s, parameter)), None)
    if index is None:
        index = next((i for i, s in enumerate(sources) if s.get("helm") or s.get("kustomize")), 0)
    source_type = types[index] if index < len(types) else None
    sources[index] = _set_parameter(sources[index], parameter, version, source_type)
    return {"spec": {"sources": sources}}


def _mentions(source: Mapping[str, Any], parameter: str) -> bool:
    helm = source.get("helm") or {}
    kustomize = source.get("kustomize") or {}
    return any(p.get("name") == parameter for p in helm.get("parameters") or []) or any(
        _kustomize_image_name(image) == parameter for image in kustomize.get("images") or []
    )


def _kustomize_image_name(image: str) -> str:
    # "name=newName:tag" overrides the image called "name"; "name:tag" sets its tag.
    return image.split("=", 1)[0] if "=" in image else image_repository(image)


def _set_parameter(
    source: dict[str, Any], parameter: str, version: str, source_type: str | None
) -> dict[str, Any]:
    kustomize = source.get("kustomize")
    use_kustomize = source_type == "Kustomize" or (
        source_type is None and kustomize is not None and not source.get("helm")
    )
    if use_kustomize:
        kustomize = dict(kustomize or {})
        images = list(kustomize.get("images") or [])
        replaced = False
        for i, image in enumerate(images):
            if _kustomize_image_name(image) != parameter:
                continue
            if "=" in image:
                name, new_name = image.split("=", 1)
                images[i] = f"{name}={with_version(new_name, version)}"
            else:
                images[i] = with_version(parameter, version)
            replaced = True
        if not replaced:
            images.append(with_version(parameter, version))
        kustomize["images"] = images
        source["kustomize"] = kustomize
        return source
    if source_type not in (None, "Helm"):
        raise BackendError(
            f"Argo CD source type {source_type} has no parameters; "
            "image_parameter works with Helm and Kustomize sources"
        )
    helm = dict(source.get("helm") or {})
    parameters = [dict(p) for p in helm.get("parameters") or []]
    for item in parameters:
        if item.get("name") == parameter:
            item["value"] = version
            item["forceString"] = True
            break
    else:
        parameters.append({"name": parameter, "value": version, "forceString": True})
    helm["parameters"] = parameters
    source["helm"] = helm
    return source
