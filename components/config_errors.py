"""Turn config problems into messages a platform engineer can act on.

Each message names the stack file, the full config key (``scone:backup.interval``) and
what is allowed; an unknown key gets a "did you mean". The program raises
``SpecError`` before any resource is registered, so nothing touches a cluster.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError


class SpecError(Exception):
    """The stack configuration is invalid; ``str()`` is the whole message for the user."""

    def __init__(self, stack_file: str, problems: list[str]) -> None:
        self.stack_file = stack_file
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid configuration in {stack_file}:\n{lines}")


def _allowed_keys(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at ``path`` (used for did-you-mean)."""
    current: type[BaseModel] | None = model
    for part in path:
        if current is None:
            return []
        field = next(
            (f for n, f in current.model_fields.items() if (f.alias or n) == part),
            None,
        )
        if field is None:
            return []
        current = nested_model(field.annotation)
    if current is None:
        return []
    return [field.alias or name for name, field in current.model_fields.items()]


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field annotation holds (directly or inside Optional), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def did_you_mean(key: str, allowed: list[str]) -> str:
    """A suffix suggesting the closest allowed key, or the list of allowed keys."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; allowed keys here: {', '.join(sorted(allowed))}"


def _key(namespace: str, loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if not isinstance(part, int)]
    return f"{namespace}:{'.'.join(parts)}" if parts else f"{namespace}:<root>"


_TYPE_WORDS = {
    "string_type": "a string (quote it in YAML)",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "dict_type": "a map of key: value",
    "model_type": "a map of settings",
}


def explain(error: ValidationError, model: type[BaseModel], namespace: str, values: dict[str, Any]) -> list[str]:
    """One readable line per validation error."""
    problems: list[str] = []
    for item in error.errors():
        loc = tuple(item["loc"])
        kind = item["type"]
        key = _key(namespace, loc)
        if kind == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            problems.append(f"{key}: unknown key{did_you_mean(str(loc[-1]), allowed)}")
        elif kind == "missing":
            problems.append(f"{key}: required; set it with `pulumi config set {key.split(':', 1)[1]} <value>`")
        elif kind == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            problems.append(f"{key}: got {item.get('input')!r}; allowed: {expected}")
        elif kind in _TYPE_WORDS:
            problems.append(f"{key}: must be {_TYPE_WORDS[kind]}, got {item.get('input')!r}")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(_pinpoint(model, namespace, loc, message))
    return problems


def _pinpoint(model: type[BaseModel], namespace: str, loc: tuple[Any, ...], message: str) -> str:
    """Name the exact key: a model-level check whose message starts with one of the model's
    fields ("interval must be ...") is reported at that field (``scone:backup.interval``), and a
    message that repeats its own key is not prefixed twice."""
    path = [str(part) for part in loc if not isinstance(part, int)]
    dotted = ".".join(path)
    if dotted and message.startswith(dotted + " "):
        message = message[len(dotted) + 1 :]
    else:
        first, _, rest = message.partition(" ")
        if first in _allowed_keys(model, tuple(path)) and rest:
            path.append(first)
            message = rest
    return f"{namespace}:{'.'.join(path) or '<root>'}: {message}"
