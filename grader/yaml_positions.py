"""Plain-data YAML that remembers where each value came from.

`parse(text, file)` composes one YAML document with PyYAML's SafeLoader (a tag is only
ever compared with the core tags, never acted on) and builds dicts, lists, str, int,
float, bool and None from it, recording the 1-based line and column of every value and
mapping key by field path. A path is a tuple of mapping keys and 0-based list indices, as
jsonschema's `error.absolute_path`; `format_path` writes it as `problems[2].model.phi`.

What a plain data file never needs is a ProblemSetError: tags beyond the core types,
duplicate keys, more than MAX_NODES nodes once aliases are expanded ("billion laughs"),
nesting deeper than MAX_DEPTH, more than one document. Merge keys (`<<: *anchor`) work.

`parse(..., fast=True)` composes with libyaml (PyYAML's C parser) a text that
`composes_fast`: where PyYAML has libyaml, one of at most FAST_CHARACTERS, which cannot
compose into many more than MAX_NODES nodes (libyaml cannot be stopped midway). libyaml
words its errors, and may place its marks, otherwise than PyYAML's pure-Python composer: a
caller parses fast only what it expects to be valid, and parses again without `fast` to
report what is wrong (grader.loader does).
"""
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from grader.errors import ProblemSetError

MAX_NODES = 200_000
MAX_DEPTH = 64
FAST_CHARACTERS = MAX_NODES

Path = tuple[object, ...]      # keys (any YAML scalar) and list indices
Position = tuple[int, int]      # 1-based line, column

_CORE = "tag:yaml.org,2002:"
_MERGE_TAG = _CORE + "merge"
_ALLOWED_TAGS = {
    ScalarNode: {_CORE + name for name in ("str", "int", "float", "bool", "null")},
    SequenceNode: {_CORE + "seq"},
    MappingNode: {_CORE + "map"},
}


class _TooManyNodes(Exception):
    """More than MAX_NODES nodes, composed or once aliases are expanded."""


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader whose plain scalars resolve to core types only (`2024-01-01`, `=` stay strings),
    and which stops composing after MAX_NODES nodes, long before a 5 MB file is parsed."""
    composed = 0

    def compose_node(self, parent, index):
        self.composed += 1
        if self.composed > MAX_NODES:
            raise _TooManyNodes
        return super().compose_node(parent, index)


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in _ALLOWED_TAGS[ScalarNode] | {_MERGE_TAG}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

if yaml.__with_libyaml__:
    from yaml._yaml import CParser
    from yaml.resolver import Resolver

    class _FastPlainLoader(CParser, Resolver):
        """libyaml's composer with _PlainLoader's resolvers (see `parse`)."""
        yaml_implicit_resolvers = _PlainLoader.yaml_implicit_resolvers

        def __init__(self, stream: str):
            CParser.__init__(self, stream)
            Resolver.__init__(self)


def format_path(path: Path) -> str:
    """("problems", 2, "model", "phi") → "problems[2].model.phi"; () → "<root>"."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.removeprefix(".") or "<root>"


def position_in(text: str, offset: int) -> Position:
    """Line and column of the character at `offset` in `text`."""
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


@dataclass(frozen=True)
class Document:
    """Parsed data, and where each of its values and mapping keys is in `file`."""
    file: str
    data: Any                       # plain data (mappings, lists, scalars); the loader reads it once validated
    value_positions: dict[Path, Position]
    key_positions: dict[Path, Position]     # by the path of the key's value

    def error_at(self, message: str, path: Path) -> ProblemSetError:
        """An error about the value at `path`."""
        return ProblemSetError(message, self.file, *self.value_positions[path], format_path(path))

    def error_at_key(self, message: str, path: Path, key) -> ProblemSetError:
        """An error about the mapping at `path`, positioned at its key `key`."""
        return ProblemSetError(message, self.file, *self.key_positions[path + (key,)], format_path(path))


def composes_fast(text: str) -> bool:
    """Whether `parse` may compose `text` with libyaml (see the module docstring)."""
    return yaml.__with_libyaml__ and len(text) <= FAST_CHARACTERS


def parse(text: str, file: str, fast: bool = False) -> Document:
    """The single YAML document in `text`, read from `file` (named in errors); `fast`: composed
    by libyaml, for a text that `composes_fast` (see the module docstring)."""
    assert not fast or composes_fast(text)
    try:
        loader = _FastPlainLoader(text) if fast else _PlainLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        if root is None:
            raise ProblemSetError("the file holds no YAML document", file)
        if _expanded_size(root, {}) > MAX_NODES:
            raise _TooManyNodes
        builder = _Builder(file)
        return Document(file, builder.value(root, ()), builder.value_positions, builder.key_positions)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = ", ".join(part for part in (error.context, error.problem) if part)
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ProblemSetError(f"invalid YAML: {message}", file, line, column) from None
    except yaml.reader.ReaderError as error:
        raise ProblemSetError(f"invalid YAML: character #x{error.character:04x} is not allowed",
                              file, *position_in(text, error.position)) from None
    except RecursionError:
        raise ProblemSetError(f"the document is nested too deeply (more than {MAX_DEPTH} levels)", file) from None
    except _TooManyNodes:
        raise ProblemSetError(f"the document has more than {MAX_NODES:,} nodes, counting each alias as a "
                              "copy of its anchor (too large, or an alias bomb)", file) from None


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """Nodes in `node` (keys included) once aliases are expanded, counting a `<<` merge as
    its sources, which bounds the merged size; memoized by node identity, so linear time.
    A node that contains itself through an alias has infinite size."""
    if id(node) not in sizes:
        if isinstance(node, ScalarNode):
            sizes[id(node)] = 1
        else:
            sizes[id(node)] = MAX_NODES + 1     # if reached again through an alias: a cycle
            children = node.value if isinstance(node, SequenceNode) else [n for pair in node.value for n in pair]
            sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]


def _position(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


class _Builder:
    """Builds plain data from a composed node graph of at most MAX_NODES expanded nodes."""

    def __init__(self, file: str):
        self.file = file
        self.value_positions: dict[Path, Position] = {}
        self.key_positions: dict[Path, Position] = {}
        self.scalars = SafeConstructor()

    def error(self, message: str, node: Node, path: Path) -> ProblemSetError:
        return ProblemSetError(message, self.file, *_position(node), format_path(path))

    def value(self, node: Node, path: Path):
        if len(path) > MAX_DEPTH:
            raise ProblemSetError(f"nested more than {MAX_DEPTH} levels deep (aliases expanded)",
                                  self.file, *_position(node))
        self._check_tag(node, path)
        self.value_positions[path] = _position(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, SequenceNode):
            return [self.value(item, path + (index,)) for index, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)     # the only other kind of node
        mapping = {}
        for key, key_node, value_node in self._pairs(node, path):
            self.key_positions[path + (key,)] = _position(key_node)
            mapping[key] = self.value(value_node, path + (key,))
        return mapping

    def _check_tag(self, node: Node, path: Path):
        if node.tag not in _ALLOWED_TAGS[type(node)]:
            raise self.error(f"tag {_short_tag(node.tag)} is not allowed: only plain data "
                             "(mappings, lists, strings, numbers, booleans, null)", node, path)

    def _scalar(self, node: ScalarNode, path: Path):
        try:
            return self.scalars.construct_object(node)
        except (ValueError, KeyError):      # `!!int abc`, `!!bool abc`, an int of over 4300 digits
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            raise self.error(f"cannot read {shown!r} as {_short_tag(node.tag)}", node, path) from None

    def _pairs(self, mapping: MappingNode, path: Path) -> list[tuple[object, Node, Node]]:
        """(key, key node, value node) in the order a dict takes them, so that later ones win:
        merged pairs (later `<<` sources first), then the mapping's own keys."""
        merged: list[tuple[object, Node, Node]] = []
        own: dict[object, tuple[object, Node, Node]] = {}
        for key_node, value_node in mapping.value:
            if key_node.tag == _MERGE_TAG:
                self._check_tag(value_node, path)
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in reversed(sources):
                    if not isinstance(source, MappingNode):
                        raise self.error("<< merges a mapping or a list of mappings", source, path)
                    self._check_tag(source, path)
                    merged.extend(self._pairs(source, path))
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.error("a mapping key must be a scalar, not a list or mapping", key_node, path)
            self._check_tag(key_node, path)
            key = self._scalar(key_node, path)
            if key in own:
                line, column = _position(own[key][1])
                raise self.error(f"duplicate key {key!r} (first at line {line}, column {column})",
                                 key_node, path + (key,))
            own[key] = (key, key_node, value_node)
        return merged + list(own.values())
