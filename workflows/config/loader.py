"""Read a config: YAML -> ``${VAR}`` interpolation -> validation, with errors named by path.

Pydantic's own messages mention union tags, ``[key]`` markers and "Input should be ...";
``translate_errors`` rewrites each into ``<dotted.path>: <message>`` in the file's terms.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from workflows import boundary
from workflows.backends.settings import BACKENDS
from workflows.config.models import ShipbotConfig
from workflows.config.oncall import PROVIDERS as ONCALL_PROVIDERS
from workflows.errors import ConfigError

Problem = tuple[str, str]
ROOT = "<root>"

# `$${` is a literal `${`; `${NAME}` or `${NAME:-default}`; a `${` never closed is an error.
_TOKEN_RE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VARIABLE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class ConfigValidationError(ConfigError):
    """An invalid config: ``problems`` holds ``(dotted.path, message)`` pairs; str() one a line."""

    def __init__(self, problems: list[Problem], *, source: str) -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(f"{path}: {message}" for path, message in problems))


# libyaml's parser when PyYAML was built with it (its wheels are): the 400 services of
# bench/ack_latency.py parse in 23 ms instead of 165, which `shipbot serve` pays at start.
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _UniqueKeyLoader(_SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in first_line:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first given on line {first_line[key] + 1})",
                        key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line
            except TypeError:
                pass  # an unhashable key: SafeLoader reports it below
        return super().construct_mapping(node, deep=deep)


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigValidationError(
            [(where, f"invalid YAML: {exc.problem or exc.context}")], source=source
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigValidationError([(source, f"invalid YAML: {exc}")], source=source) from None


def _dotted(parts: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in parts) or ROOT


def interpolate(data: Any, environ: Mapping[str, str]) -> tuple[Any, list[Problem]]:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string value; ``$${`` stays ``${``.

    ``:-`` takes the default when the variable is unset or empty, as in the shell. Keys are
    left alone. Returns the new data and a problem for each unset variable or bad form.
    """
    problems: list[Problem] = []

    def substitute(text: str, path: tuple[Any, ...]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(0)
            if token == "$${":
                return "${"
            body = match.group(1)
            variable = _VARIABLE_RE.fullmatch(body) if body is not None else None
            if variable is None:
                problems.append(
                    (
                        _dotted(path),
                        f"invalid interpolation {token!r}: "
                        "expected ${NAME} or ${NAME:-default} (write $${ for a literal ${)",
                    )
                )
                return token
            name, default = variable.groups()
            value = environ.get(name)
            if value is None or (value == "" and default is not None):
                if default is None:
                    problems.append((_dotted(path), f"environment variable {name} is not set"))
                    return token
                return default
            return value

        return _TOKEN_RE.sub(replace, text)

    def walk(node: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(node, str):
            return substitute(node, path)
        if isinstance(node, dict):
            return {key: walk(value, (*path, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, (*path, index)) for index, value in enumerate(node)]
        return node

    return walk(data, ()), problems


def _yaml_type(value: Any) -> str:
    for kind, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a mapping"),
    ):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type a key's value must have."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose keys live at ``loc`` (as pydantic spells it), if there is one."""
    current: Any = ShipbotConfig
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        elif get_origin(current) in (Union, types.UnionType):
            current = _union_tags(loc).get(str(part))  # a discriminated union's member
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _union_tags(loc: tuple[Any, ...]) -> dict[str, Any]:
    """The members of the discriminated union at ``loc`` by tag: deploy backends, or
    on-call schedule providers."""
    if loc[:1] == ("oncall",):
        return dict(ONCALL_PROVIDERS)
    return dict(BACKENDS)


def _union_key(loc: tuple[Any, ...]) -> str:
    return "provider" if loc[:1] == ("oncall",) else "backend"


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop what pydantic adds to a location but the file does not have: the union tag."""
    parts = list(loc)
    if len(parts) > 3 and parts[0] == "services" and parts[2] == "deploy" and parts[3] in BACKENDS:
        del parts[3]
    if len(parts) > 3 and parts[:2] == ["oncall", "schedules"] and parts[3] in ONCALL_PROVIDERS:
        del parts[3]
    return tuple(part for part in parts if part != "[key]")


def _message(error: ErrorDetails) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    key = _union_key(tuple(error["loc"]))
    tags = ", ".join(sorted(_union_tags(tuple(error["loc"]))))
    if kind == "union_tag_invalid":
        return f"unknown {key} {ctx.get('tag')!r} (expected one of: {tags})"
    if kind == "union_tag_not_found":
        return f"missing (expected one of: {tags})"
    if kind == "missing":
        return "required but missing"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {value!r}"
    if kind in (
        "string_type",
        "int_type",
        "int_parsing",
        "bool_type",
        "bool_parsing",
        "float_type",
        "float_parsing",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "int_from_float",
    ):
        wanted = {
            "string": "a string",
            "int": "an integer",
            "bool": "true or false",
            "float": "a number",
            "list": "a list",
            "dict": "a mapping",
            "model": "a mapping",
        }[kind.split("_")[0]]
        return f"expected {wanted}, got {_yaml_type(value)}"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]


def translate_errors(exc: ValidationError) -> list[Problem]:
    """Pydantic's errors as ``(dotted.path, message)`` pairs in the file's own terms."""
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "references":
            problems.extend(error["ctx"]["problems"])
            continue
        path = _clean_loc(loc)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, _union_key(loc))
        if error["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            known = sorted(model.model_fields) if model else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(known)}"
            )
            message = f"unknown key ({hint})" if known else "unknown key"
        elif "[key]" in loc:
            message = f"invalid key {error.get('input')!r}: {_message(error)}"
        else:
            message = _message(error)
        problem = (_dotted(path), message)
        if problem not in problems:
            problems.append(problem)
    return problems


def parse_config(
    text: str,
    *,
    environ: Mapping[str, str] | None = None,
    source: str = "<string>",
    config_dir: Path | None = None,
) -> ShipbotConfig:
    """Validate YAML ``text`` (after ``${VAR}`` interpolation from ``environ``, default
    ``os.environ``). Relative paths in it are relative to ``config_dir`` when given (the
    file's folder). Raises ``ConfigValidationError`` (a ``ConfigError``) naming each bad path."""
    data = _read_yaml(text, source)
    if data is None:
        data = {}  # an empty file is a config with every default
    data, problems = interpolate(data, os.environ if environ is None else environ)
    if problems:
        raise ConfigValidationError(problems, source=source)
    try:
        # The input boundary: config strings end up in messages, channel names and rows.
        data = boundary.clean_tree(data)
    except boundary.InputRejected as refused:
        raise ConfigValidationError([(source, refused.message)], source=source) from None
    try:
        return ShipbotConfig.model_validate(data, context={"config_dir": config_dir})
    except ValidationError as exc:
        raise ConfigValidationError(translate_errors(exc), source=source) from None


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> ShipbotConfig:
    """Read and validate the config file at ``path``; see ``parse_config``."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigValidationError(
            [(source, "config file not found (set SHIPBOT_CONFIG or pass the path)")],
            source=source,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigValidationError([(source, f"cannot read: {reason}")], source=source) from None
    return parse_config(
        text, environ=environ, source=source, config_dir=Path(path).resolve().parent
    )
