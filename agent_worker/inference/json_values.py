"""Checks on decoded JSON that also tell the type checker what they found.

``json.loads`` gives ``Any``, and ``isinstance(value, dict)`` then knows nothing of the keys and
values. A JSON object's keys are strings and its values are more unchecked JSON (``Any``): these
guards say so, where a bare ``isinstance`` would leave the contents unknown.
"""

from __future__ import annotations

from typing import Any, TypeGuard

JsonObject = dict[str, Any]


def is_json_object(value: object) -> TypeGuard[JsonObject]:
    """True when ``value`` is a decoded JSON object."""
    return isinstance(value, dict)


def is_json_array(value: object) -> TypeGuard[list[Any]]:
    """True when ``value`` is a decoded JSON array."""
    return isinstance(value, list)
