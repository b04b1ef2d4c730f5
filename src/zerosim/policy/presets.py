"""Policy layer: the shipped containment presets (``presets/*.yaml``) and their resolution.

A scenario names a preset (``policy: dynamic-zero-2022``) and may override any field of it in a
``containment:`` section (nested or dotted keys). Sources of every preset value: docs/policies.md.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

import yaml

from zerosim.policy.config import ContainmentConfig


@cache
def _preset_data(name: str) -> dict:
    text = resources.files("zerosim.policy").joinpath(f"presets/{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def preset_names() -> list[str]:
    """Names of the shipped containment presets."""
    folder = resources.files("zerosim.policy").joinpath("presets")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _set_path(node: Any, keys: list[str], value: Any) -> None:
    """Set a nested field; integer keys index lists (``campaigns.0.pool_size``)."""
    head, rest = keys[0], keys[1:]
    if isinstance(node, list):
        if not head.isdigit() or int(head) >= len(node):
            raise ValueError(f"no list item {head!r}; use an index below {len(node)}")
        if rest:
            _set_path(node[int(head)], rest, value)
        elif isinstance(value, dict) and isinstance(node[int(head)], dict):
            for key, item in value.items():
                _set_path(node[int(head)], str(key).split("."), item)
        else:
            node[int(head)] = value
        return
    if not rest:
        if isinstance(value, dict) and isinstance(node.get(head), (dict, list)):
            for key, item in value.items():  # merge into the existing mapping or list, item by item
                _set_path(node[head], str(key).split("."), item)
        else:
            node[head] = value
        return
    if not isinstance(node.get(head), (dict, list)):
        node[head] = {}
    _set_path(node[head], rest, value)


def _merge(base: dict, override: dict) -> dict:
    """``base`` with ``override`` applied: nested mappings merge, dotted keys set nested fields."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        _set_path(merged, key.split("."), value)
    return merged


def merge_overrides(base: dict, overrides: dict[str, Any] | None) -> dict:
    """``base`` with ``overrides`` applied (nested mappings or dotted keys; integer keys index lists)."""
    return _merge(base, overrides or {})


def resolve_containment(name: str, overrides: dict[str, Any] | None = None) -> ContainmentConfig:
    """The preset ``name`` with ``overrides`` applied, validated (pydantic ValidationError if bad)."""
    data = _merge(_preset_data(name), overrides or {})
    return ContainmentConfig.model_validate(data)
