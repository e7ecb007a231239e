"""The compiled yes/no schema check (grader.schema_validity) says what jsonschema says of every
shipped problem set and of thousands of mutations of them, and refuses a keyword it lacks."""
import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from grader import loader
from grader.schema_validity import compile_validity
from grader.yaml_positions import parse
from tests.conftest import ROOT

SHIPPED = sorted((ROOT / "problem_sets").glob("*.yaml"))
SCHEMA = loader._schema()
VALID = compile_validity(SCHEMA)
JSONSCHEMA = Draft202012Validator(SCHEMA)

# values that sit on the schema's edges: its enums' names, 1 against 1.0 and True, 0, empty things
NAMES = ["tanh", "relu", "squared_error", "softmax_cross_entropy", "upstream", "dL_ds", "dL_dWh", "dh", "trace",
         "cs231n", "coursera", "min-char-rnn", "visible", "hidden", "strict", "lenient", "random", "seed", "scale",
         "T", "vocab", "sizes", "Wx", "x", "y", "w", "v", "h0", "id", "points", "grade", "model", "params", "data",
         "phi", "theta", "loss", "limits", "timeout", "memory_mb", "tolerance", "rtol", "atol", "contract",
         "not a name", "", "a b", "1abc"]
SCALARS = st.one_of(st.sampled_from([0, 1, 1.0, 1.5, -1, 2, 64, 63, 100_000, 100_001, 1_000_001, 0.0, -0.0, True,
                                     False, None, 2**70, 1e300]), st.sampled_from(NAMES),
                    st.integers(-3, 300), st.floats(allow_nan=False), st.text(max_size=4))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)), max_leaves=6)


SHIPPED_DATA = [parse(path.read_text(encoding="utf-8"), str(path)).data for path in SHIPPED]


def paths(value, path=()):
    """Every path into `value`, the root's () first."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, path + (index,))


def at(value, path):
    for part in path:
        value = value[part]
    return value


@pytest.mark.parametrize("data", SHIPPED_DATA, ids=[path.name for path in SHIPPED])
def test_every_shipped_set_is_valid_by_both(data):
    assert VALID(data) and JSONSCHEMA.is_valid(data)


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_a_mutated_set_gets_jsonschemas_verdict(data):
    document = copy.deepcopy(data.draw(st.sampled_from(SHIPPED_DATA)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(list(paths(document))[1:]))
        parent, last = at(document, path[:-1]), path[-1]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[last] = data.draw(VALUES)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(NAMES))] = data.draw(VALUES)
        else:
            parent.append(data.draw(VALUES))
    assert VALID(document) == JSONSCHEMA.is_valid(document)


@pytest.mark.parametrize("schema", [{"uniqueItems": True}, {"properties": {"a": {"format": "date"}}},
                                    {"$ref": "other.json#/a"}],
                         ids=["uniqueItems", "format", "foreign $ref"])
def test_a_keyword_it_lacks_is_refused_when_compiled(schema):
    with pytest.raises(ValueError):
        compile_validity(schema)

