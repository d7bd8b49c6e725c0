"""The three patch types the Kubernetes API server accepts, as it applies them.

Only what shipbot's clients send is covered, but faithfully: a strategic merge patch
merges lists of named objects (``containers``, ``env``) by ``name``, a JSON merge patch
(RFC 7386) replaces lists whole and deletes keys set to null, and a JSON patch (RFC 6902)
runs ``add``/``replace``/``remove``/``test`` operations.
"""

from __future__ import annotations

import copy
from typing import Any

MERGE_BY_NAME = frozenset({"containers", "initContainers", "env", "ports", "volumes"})


class PatchError(ValueError):
    """The patch cannot apply (the server answers 422)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, key: str = "") -> Any:
    """Like a merge patch, but lists of named objects merge item by item."""
    if isinstance(patch, list) and key in MERGE_BY_NAME and isinstance(target, list):
        merged = [copy.deepcopy(item) for item in target]
        for item in patch:
            if not isinstance(item, dict) or "name" not in item:
                raise PatchError(f"{key}: every item needs a name")
            for index, existing in enumerate(merged):
                if existing.get("name") == item["name"]:
                    merged[index] = strategic_merge_patch(existing, item)
                    break
            else:
                merged.append(copy.deepcopy(item))
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = strategic_merge_patch(result.get(name), value, name)
    return result


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(f"bad JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: Any, parts: list[str]) -> Any:
    node = document
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError):
            raise PatchError(f"path not found: /{'/'.join(parts)}") from None
    return node


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 (add, replace, remove, test)."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        op, parts = operation.get("op"), _pointer(operation.get("path", ""))
        parent, last = _parent(result, parts), parts[-1]
        if op == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != operation.get("value"):
                raise PatchError(f"test failed at {operation['path']}")
        elif op in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op == "add":
                    parent.insert(index, copy.deepcopy(operation["value"]))
                else:
                    parent[index] = copy.deepcopy(operation["value"])
            else:
                if op == "replace" and last not in parent:
                    raise PatchError(f"replace: no {operation['path']}")
                parent[last] = copy.deepcopy(operation["value"])
        elif op == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            elif parent.pop(last, None) is None:
                raise PatchError(f"remove: no {operation['path']}")
        else:
            raise PatchError(f"unsupported op {op!r}")
    return result


PATCHERS = {
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": strategic_merge_patch,
    "application/json-patch+json": json_patch,
}
