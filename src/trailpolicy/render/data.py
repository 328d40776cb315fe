"""JSON and YAML output with sorted keys, so that the same input always gives the same bytes."""

from __future__ import annotations

import orjson
import yaml


def to_json(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def to_yaml(value: object) -> str:
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True)


def dump(value: object, fmt: str) -> str:
    if fmt == "yaml":
        return to_yaml(value)
    return to_json(value)
