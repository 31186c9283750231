"""Loading our YAML configuration files with line numbers for every mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigFileError

LINE_KEY = "__line__"


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records the (1-based) line where each mapping starts."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE_KEY] = node.start_mark.line + 1
        return mapping


def load_yaml(path: Path) -> Any:
    """Parse ``path``; a missing file or a syntax error names the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigFileError(f"{path}: cannot read: {e}") from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}{line}: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigFileError(f"{path}: {e}") from None


def where(path: Path, node: Any) -> str:
    """``file line N`` for a mapping loaded by ``load_yaml``."""
    if isinstance(node, dict) and LINE_KEY in node:
        return f"{path} line {node[LINE_KEY]}"
    return str(path)
