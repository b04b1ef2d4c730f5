"""IO layer: YAML for untrusted input -- bounded in size and in alias expansion, dates checked later.

Layer ``io`` -- imports only PyYAML and ``zerosim.errors``.

:func:`load_yaml` is PyYAML's safe loader with four changes:

* the text may hold at most :data:`MAX_YAML_BYTES` (a scenario file is a few kB);
* the composed document may expand to at most :data:`MAX_YAML_NODES` nodes once every alias is
  followed (a "billion laughs" document is refused before it is built), and may not contain itself;
* a date that does not exist (``2022-02-30``) stays a string, so that validation names its field;
* ``1e-300`` and ``2E5`` are numbers (YAML 1.2), not strings.

Every failure is a one-line :class:`~zerosim.errors.ScenarioError` naming the origin.
:func:`dump_yaml` writes with the same rules (a string that would read back as a number is quoted).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from zerosim.errors import ScenarioError

MAX_YAML_BYTES = 1_000_000
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64
_FLOAT_1_2 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader with YAML 1.2 exponent floats and lenient (string) impossible dates."""

    def construct_yaml_timestamp(self, node):  # noqa: D102 - see the class
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)  # "2022-02-30": left to the field's validation


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789"))


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes the strings :class:`_Loader` would read as numbers."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789"))


def _check_size(root: yaml.Node | None, origin: str) -> None:
    """Refuse a node graph that expands (aliases followed) beyond the limits, or contains itself."""
    if root is None:
        return
    expanded: dict[int, int] = {}
    # iterative post-order walk with memo (aliases share node objects): linear in the distinct nodes
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            children = _children(node)
            total = 1 + sum(expanded[id(child)] for child in children)
            expanded[key] = total
            if total > MAX_YAML_NODES:
                raise ScenarioError(f"{origin}: the YAML expands to more than {MAX_YAML_NODES:,} values (aliases "
                                    "followed); write the scenario out without alias bombs")
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise ScenarioError(f"{origin}: a YAML alias refers to a node that contains it; remove the recursive alias")
        if depth > MAX_YAML_DEPTH:
            raise ScenarioError(f"{origin}: the YAML is nested more than {MAX_YAML_DEPTH} levels deep; flatten it")
        on_path.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) not in expanded:
                stack.append((child, depth + 1, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str, origin: str) -> Any:
    """The YAML document in ``text`` as Python data, within the limits above.

    Raises
    ------
    ScenarioError
        One line naming ``origin``: too large, malformed, an alias bomb or a recursive alias.
    """
    if len(text) > MAX_YAML_BYTES:
        raise ScenarioError(f"{origin}: {len(text):,} characters of YAML, more than {MAX_YAML_BYTES:,}; "
                            "a scenario file is a few kB, check the file")
    loader = None
    try:
        loader = _Loader(text)  # its reader refuses control characters already
        root = loader.get_single_node()
        _check_size(root, origin)
        return loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(getattr(error, "problem", None) or "malformed YAML")[:120]
        raise ScenarioError(f"{origin}:{where}: {problem}; fix the YAML syntax there") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        raise ScenarioError(f"{origin}: cannot read the YAML ({error.__class__.__name__}: {str(error)[:80]}); "
                            "fix the value there") from None
    finally:
        if loader is not None:
            loader.dispose()


def dump_yaml(data: Any) -> str:
    """``data`` as block YAML that :func:`load_yaml` reads back to the same values."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
