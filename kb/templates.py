"""Fill placeholders in fix steps: ``{capture}``, ``{env.DIST}``, ``{compat.NAME}``.

A fix written as ``numpy{compat.numpy_for_tf}`` becomes ``numpy<2`` for a TF 2.15 user and
``numpy>=1.26.0,<2.2`` for another, so the advice fits the installed versions. When a placeholder
can't be resolved (the environment is unknown) :class:`Unresolved` is raised and the engine moves
on to the rule's next fix alternative.
"""
from __future__ import annotations

from tfhelp.kb.model import PLACEHOLDER_RE


class Unresolved(Exception):
    pass


def resolve_name(name: str, captures: dict, env) -> str:
    if name.startswith("env."):
        key = name[4:]
        if env is not None:
            if key == "python" and env.python:
                return env.python
            if key == "platform" and env.platform:
                return env.platform
            v = env.version(key)
            if v:
                return v
        raise Unresolved(name)
    if name.startswith("compat."):
        if env is None:
            raise Unresolved(name)
        try:
            from tfhelp.kb import compat

            value = compat.resolve_placeholder(name[7:], env)
        except (ImportError, AttributeError, LookupError, ValueError, TypeError):
            value = None
        if value is None:
            raise Unresolved(name)
        return str(value)
    value = captures.get(name)
    if value is None:
        raise Unresolved(name)
    return str(value)


def fill(value, captures: dict, env, capture_names: set):
    """Resolve placeholders in a string / list / dict. Braces that aren't placeholders stay."""
    if isinstance(value, str):
        def sub(m):
            name = m.group(1)
            if "." not in name and name not in capture_names:
                return m.group(0)  # e.g. a Python set literal in a code_change
            return resolve_name(name, captures, env)

        return PLACEHOLDER_RE.sub(sub, value)
    if isinstance(value, list):
        return [fill(v, captures, env, capture_names) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, captures, env, capture_names) for k, v in value.items()}
    return value
