"""Whether an instance is valid against a JSON Schema (draft 2020-12), compiled once into
nested Python checks, for the keywords the grader's problem-set schema uses, without
importing jsonschema: a valid problem set, the one graded again and again, never needs it,
and grader.loader asks jsonschema for the errors of an invalid one. So this only answers
yes or no, as jsonschema's `is_valid` would (tests/test_schema_validity.py compares them),
with its semantics: a keyword about one type passes other types by, `integer` takes 1.0,
a boolean is no number, and `enum` and `const` tell True from 1.

A schema with any other keyword is a ValueError when compiled, so a change to the schema
cannot slip past the check unnoticed.
"""
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Check = Callable[[Any], bool]

ANNOTATIONS = frozenset({"$schema", "title", "description", "$defs"})


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "number": _is_number,
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool) or isinstance(x, float) and x.is_integer(),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def equal(one, two) -> bool:
    """JSON equality as jsonschema has it: 1 == 1.0, but True ≠ 1 and False ≠ 0, also within
    lists and mappings."""
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return one.keys() == two.keys() and all(equal(one[key], two[key]) for key in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return one is two
    return one == two


def compile_validity(schema: dict) -> Check:
    """is_valid(instance) for `schema`, whose $ref point into its own $defs."""
    defs: dict[str, Check] = {}

    def reference(target: str) -> Check:
        name = target.removeprefix("#/$defs/")
        if name == target or name not in schema.get("$defs", {}):
            raise ValueError(f"$ref {target!r} is not into the schema's own $defs")
        return lambda x: defs[name](x)      # looked up when checking: a definition may refer to itself

    def compiled(node) -> Check:
        if node is True or node == {}:
            return lambda x: True
        if node is False:
            return lambda x: False
        checks = [_keyword(key, value, node, compiled, reference) for key, value in node.items()
                  if key not in ANNOTATIONS and key not in ("then", "else")]
        return lambda x: all(check(x) for check in checks)

    for name, definition in schema.get("$defs", {}).items():
        defs[name] = compiled(definition)
    return compiled(schema)


def _keyword(key: str, value, node: dict, compiled: Callable[[Any], Check], reference: Callable[[str], Check]) -> Check:
    """The check of one keyword of `node` (`if` with its `then` and `else`)."""
    if key == "$ref":
        return reference(value)
    if key == "type":
        kinds = [TYPES[name] for name in ([value] if isinstance(value, str) else value)]
        return lambda x: any(kind(x) for kind in kinds)
    if key == "enum":
        return lambda x: any(equal(x, allowed) for allowed in value)
    if key == "const":
        return lambda x: equal(x, value)
    if key in ("minimum", "maximum", "exclusiveMinimum"):
        within = {"minimum": lambda x: x >= value, "maximum": lambda x: x <= value,
                  "exclusiveMinimum": lambda x: x > value}[key]
        return lambda x: not _is_number(x) or within(x)
    if key == "minLength":
        return lambda x: not isinstance(x, str) or len(x) >= value
    if key == "pattern":
        regex = re.compile(value)
        return lambda x: not isinstance(x, str) or regex.search(x) is not None
    if key in ("minItems", "minProperties"):
        kind = list if key == "minItems" else dict
        return lambda x: not isinstance(x, kind) or len(x) >= value
    if key == "required":
        return lambda x: not isinstance(x, dict) or all(name in x for name in value)
    if key == "properties":
        properties = {name: compiled(sub) for name, sub in value.items()}
        return lambda x: not isinstance(x, dict) or all(check(x[name]) for name, check in properties.items()
                                                          if name in x)
    if key == "additionalProperties":
        extra, known = compiled(value), node.get("properties", {})
        if "patternProperties" in node:
            raise ValueError("patternProperties is not supported")
        return lambda x: not isinstance(x, dict) or all(extra(x[name]) for name in x if name not in known)
    if key == "propertyNames":
        names = compiled(value)
        return lambda x: not isinstance(x, dict) or all(names(name) for name in x)
    if key == "items":
        item = compiled(value)
        return lambda x: not isinstance(x, list) or all(map(item, x))
    if key == "anyOf":
        options = [compiled(sub) for sub in value]
        return lambda x: any(option(x) for option in options)
    if key == "if":
        condition, then, otherwise = compiled(value), compiled(node.get("then", True)), compiled(node.get("else", True))
        return lambda x: then(x) if condition(x) else otherwise(x)
    raise ValueError(f"the keyword {key!r} is not supported")
