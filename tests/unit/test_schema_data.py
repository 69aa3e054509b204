"""``schema_data.generate``: every document is checked by an independent validator (the
``jsonschema`` library, with its format checker), and by pydantic where the schema came from a model.
"""

from __future__ import annotations

import datetime
import enum
import json
import random
import re
import time
import uuid
from typing import Annotated, Any, Literal, Optional, Union
from urllib.parse import urlsplit

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from fakellm.errors import ScenarioError
from fakellm.schema_data import MAX_ITEMS, MAX_LENGTH, MAX_NODES, RECURSION_DEPTH, SchemaError, generate
from tests.fuzz.strategies import budget

SEEDS = range(40)


def check(schema: Any, document: Any) -> None:
    """``document`` is valid against ``schema`` by jsonschema, formats included."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(document)
    if isinstance(schema, dict):
        _check_formats(schema, document)


def _check_formats(schema: dict[str, Any], document: Any) -> None:
    # jsonschema checks date-time, time, uri and hostname only with optional packages: checked here.
    fmt = schema.get("format")
    if isinstance(document, str) and fmt == "date-time":
        assert datetime.datetime.fromisoformat(document).tzinfo is not None
    if isinstance(document, str) and fmt == "time":  # RFC 3339 full-time: the offset is required
        assert re.fullmatch(r"\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", document), document
    if isinstance(document, str) and fmt == "uri":
        parts = urlsplit(document)
        assert parts.scheme and parts.netloc, document
    if isinstance(document, str) and fmt == "hostname":
        assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", document), document
    for name, sub in schema.get("properties", {}).items():
        if isinstance(document, dict) and name in document and isinstance(sub, dict):
            _check_formats(sub, document[name])


def documents(schema: Any, seeds: range = SEEDS) -> list[Any]:
    out = []
    for seed in seeds:
        document = generate(schema, random.Random(seed))
        check(schema, document)
        assert json.loads(json.dumps(document)) == document
        out.append(document)
    return out


# --------------------------------------------------------------------------------------------------
# Hand-written schemas: each keyword the module docstring promises

CORPUS: dict[str, Any] = {
    "true": True,
    "empty": {},
    "null": {"type": "null"},
    "boolean": {"type": "boolean"},
    "type list": {"type": ["string", "null"]},
    "string bounds": {"type": "string", "minLength": 5, "maxLength": 8},
    "string long": {"type": "string", "minLength": 300},
    "string exact": {"type": "string", "minLength": 0, "maxLength": 0},
    "enum mixed": {"enum": ["a", 1, None, [1, 2], {"k": True}]},
    "enum filtered by type": {"type": "string", "enum": ["a", 1, "b", None]},
    "const object": {"const": {"a": [1, 2, {"b": None}]}},
    "integer": {"type": "integer", "minimum": -5, "maximum": 5},
    "integer exclusive": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
    "integer float bounds": {"type": "integer", "minimum": 1.5, "maximum": 2.5},
    "integer multipleOf": {"type": "integer", "minimum": 10, "maximum": 100, "multipleOf": 7},
    "integer one bound": {"type": "integer", "minimum": 1_000_000},
    "number": {"type": "number", "minimum": -1.5, "maximum": 1.5},
    "number exclusive": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
    "number multipleOf": {"type": "number", "minimum": 0, "maximum": 10, "multipleOf": 0.25},
    "number draft4 exclusive": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "exclusiveMinimum": True,
        "exclusiveMaximum": True,
    },
    "formats": {
        "type": "object",
        "properties": {
            f: {"type": "string", "format": f}
            for f in ("date-time", "date", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname")
        },
        "required": ["date-time", "date", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"],
    },
    "unknown format is an annotation": {"type": "string", "format": "color-hex"},
    "patterns": {
        "type": "object",
        "properties": {
            "zip": {"type": "string", "pattern": r"^\d{5}(-\d{4})?$"},
            "code": {"type": "string", "pattern": r"^[A-Z]{2}-[0-9a-f]{4,}$"},
            "alt": {"type": "string", "pattern": r"^(foo|bar|baz)+\.(com|org)$"},
            "classes": {"type": "string", "pattern": r"^\w+\s\S+\W[^a-z0-9]\D$"},
            "backref": {"type": "string", "pattern": r"^(ab|cd)-\1$"},
            "dot": {"type": "string", "pattern": r"^a.?b.*c+?$"},
            "unanchored": {"type": "string", "pattern": "needle"},
            "escaped": {"type": "string", "pattern": r"^\$\d+\.\d{2}$"},
            "bounded": {"type": "string", "pattern": r"^[a-z]+$", "minLength": 2, "maxLength": 3},
        },
        "required": ["zip", "code", "alt", "classes", "backref", "dot", "unanchored", "escaped", "bounded"],
    },
    "object closed": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    },
    "object extra schema": {
        "type": "object",
        "additionalProperties": {"type": "integer"},
        "minProperties": 2,
    },
    "object required undeclared": {"type": "object", "required": ["x", "y"]},
    "object bounds": {
        "type": "object",
        "properties": {k: {"type": "boolean"} for k in "abcdef"},
        "minProperties": 3,
        "maxProperties": 4,
    },
    "array": {"type": "array", "items": {"type": "integer"}},
    "array bounds": {"type": "array", "items": {"type": "string"}, "minItems": 4, "maxItems": 6},
    "array empty": {"type": "array", "maxItems": 0},
    "array unique": {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": 3},
        "minItems": 4,
        "uniqueItems": True,
    },
    "prefixItems": {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "integer"}, {"const": "end"}],
        "items": False,
        "minItems": 3,
    },
    "draft7 tuple": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "array",
        "items": [{"type": "string"}, {"type": "boolean"}],
        "additionalItems": False,
    },
    "anyOf": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}, {"type": "null"}]},
    "anyOf with siblings": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
        "additionalProperties": False,
    },
    "oneOf overlapping": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
    "oneOf objects": {
        "oneOf": [
            {
                "type": "object",
                "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}},
                "required": ["kind"],
            },
            {
                "type": "object",
                "properties": {"kind": {"const": "dog"}, "bark": {"type": "boolean"}},
                "required": ["kind"],
            },
        ]
    },
    "allOf": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}, "required": ["a"]},
            {"properties": {"a": {"maximum": 3}, "b": {"type": "string"}}, "required": ["b"]},
            {"description": "annotations are ignored"},
        ]
    },
    "allOf numbers": {"allOf": [{"type": "number", "minimum": 2}, {"type": "integer", "maximum": 4}]},
    "ref with definitions": {
        "definitions": {"pos": {"type": "integer", "minimum": 1}},
        "type": "array",
        "items": {"$ref": "#/definitions/pos"},
    },
    "ref with siblings": {
        "$defs": {"s": {"type": "string"}},
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/s", "maxLength": 2, "description": "short"}},
        "required": ["x"],
    },
    "recursive linked list": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "v": {"type": "integer"},
                    "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]},
                },
                "required": ["v", "next"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    },
    "recursive tree through root": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "kids": {"type": "array", "items": {"$ref": "#"}}},
        "required": ["name", "kids"],
    },
    "mutual recursion": {
        "$defs": {
            "a": {"type": "object", "properties": {"b": {"$ref": "#/$defs/b"}}, "required": ["b"]},
            "b": {"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}},
        },
        "$ref": "#/$defs/a",
    },
}


@pytest.mark.parametrize("schema", CORPUS.values(), ids=CORPUS.keys())
def test_every_document_is_valid(schema: Any) -> None:
    documents(schema)


def test_documents_vary_with_the_seed_and_repeat_with_it() -> None:
    schema = CORPUS["patterns"]
    first = [generate(schema, random.Random(seed)) for seed in range(10)]
    again = [generate(schema, random.Random(seed)) for seed in range(10)]
    assert first == again
    assert len({json.dumps(d) for d in first}) == 10


def test_the_rng_is_the_only_source_of_randomness() -> None:
    # The shared Faker is used by content.py too: a draw elsewhere between two documents changes nothing.
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "city": {"type": "string"}}}
    first = generate(schema, random.Random(7))
    random.seed(99)
    from fakellm.content import FakerText

    FakerText().text({}, random.Random(1))
    assert generate(schema, random.Random(7)) == first


def test_property_names_pick_faker_providers() -> None:
    schema = {
        "type": "object",
        "properties": {k: {"type": "string"} for k in ("email", "user_email", "name", "city", "zip_code")},
        "required": ["email", "user_email", "name", "city", "zip_code"],
    }
    for document in documents(schema, range(10)):
        assert "@" in document["email"] and "@" in document["user_email"]
        assert " " in document["name"]
        assert re.fullmatch(r"\d{5}", document["zip_code"])


def test_oneof_is_checked_against_the_other_branches() -> None:
    # An integer also matches {"type": "number"}: the generator must pick a non-integral number.
    for document in documents(CORPUS["oneOf overlapping"]):
        assert isinstance(document, float) and not document.is_integer()


def test_recursion_ends() -> None:
    def depth(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + max((depth(v) for v in value.values()), default=0)
        if isinstance(value, list):
            return 1 + max((depth(v) for v in value), default=0)
        return 0

    for name in ("recursive linked list", "recursive tree through root", "mutual recursion"):
        assert max(depth(d) for d in documents(CORPUS[name])) <= 20, name


def test_an_optional_self_reference_ends_past_the_recursion_depth() -> None:
    # Optional["Node"]: the $ref inside an anyOf branch counts, so the chain is cut, not left to chance.
    def length(node: Any) -> int:
        return 1 + length(node["next"]) if node else 0

    lengths = {length(generate(CORPUS["recursive linked list"], random.Random(seed))) for seed in range(300)}
    assert max(lengths) == RECURSION_DEPTH + 1
    assert min(lengths) == 1


def test_a_free_form_object_gets_a_few_entries() -> None:
    # json_object mode has no schema beyond {"type": "object"}: an empty {} every time says little.
    sizes = {len(d) for d in documents({"type": "object"})}
    assert sizes == {1, 2, 3}
    assert all(
        1 <= len(d) <= 3 for d in documents({"type": "object", "additionalProperties": {"type": "integer"}})
    )


def test_optional_parts_appear_for_some_seeds() -> None:
    schema = CORPUS["object closed"]
    seen = {tuple(sorted(d)) for d in documents(schema)}
    assert seen == {("a",), ("a", "b")}


# --------------------------------------------------------------------------------------------------
# Schemas pydantic v2 writes, and OpenAI's strict form of them


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    city: str
    zip: Annotated[str, Field(pattern=r"^\d{5}$")]
    country: str = "US"


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: Annotated[int, Field(ge=0, le=9)]


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class User(BaseModel):
    name: str
    email: str
    age: Annotated[int, Field(ge=18, lt=120)]
    score: Annotated[float, Field(gt=0, le=1)]
    nickname: Optional[str] = None  # noqa: UP045 (pydantic writes Optional and X | None alike: both shown)
    middle: str | None = None
    role: Literal["admin", "user"]
    color: Color
    priority: Priority
    tags: Annotated[
        list[Annotated[str, Field(min_length=2, max_length=10)]], Field(min_length=1, max_length=3)
    ]
    scores: dict[str, float]
    address: Address
    previous: list[Address] = []
    pet: Annotated[Union[Cat, Dog], Field(discriminator="kind")]  # noqa: UP007
    created: datetime.datetime
    birthday: datetime.date
    id: uuid.UUID
    pair: tuple[int, str]
    unique: set[int] = set()
    anything: Any = None


class TreeNode(BaseModel):
    value: int
    children: list[TreeNode] = []
    parent: Optional[TreeNode] = None  # noqa: UP045


class Employee(BaseModel):
    name: str
    manager: Optional[Manager] = None  # noqa: UP045


class Manager(BaseModel):
    name: str
    reports: list[Employee]


Employee.model_rebuild()
MODELS: list[type[BaseModel]] = [Address, User, TreeNode, Employee, Manager]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_pydantic_schemas(model: type[BaseModel]) -> None:
    for document in documents(model.model_json_schema()):
        model.model_validate(document)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_openai_strict_schemas(model: type[BaseModel]) -> None:
    pydantic_helpers = pytest.importorskip("openai.lib._pydantic")
    schema = pydantic_helpers.to_strict_json_schema(model)
    for document in documents(schema):
        model.model_validate(document)


def test_pydantic_json_mode_round_trip() -> None:
    # What chat.completions.parse() does with the content: model_validate_json on the text.
    for seed in SEEDS:
        text = json.dumps(generate(User.model_json_schema(), random.Random(seed)))
        assert User.model_validate_json(text).age >= 18


# --------------------------------------------------------------------------------------------------
# Bad schemas: a clear error naming the place, never a crash or a hang

BAD: list[tuple[Any, str]] = [
    ("not a schema", r"^\(root\): a schema must be an object or a boolean, not str$"),
    (
        {
            "type": "object",
            "properties": {
                "address": {"properties": {"zip": {"type": "string", "minLength": 5, "maxLength": 3}}}
            },
        },
        r"^properties\.address\.properties\.zip: minLength 5 > maxLength 3$",
    ),
    ({"type": "strnig"}, r"^\(root\): unknown type 'strnig'$"),
    ({"type": "integer", "minimum": 5, "maximum": 3}, r"^\(root\): minimum 5 > maximum 3$"),
    (
        {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1},
        r"exclusiveMinimum 1 >= exclusiveMaximum 1",
    ),
    ({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2}, r"no integer between 1 and 2"),
    ({"type": "integer", "minimum": 1, "maximum": 6, "multipleOf": 7}, r"no multiple of 7 between 1 and 6"),
    ({"type": "array", "minItems": 3, "maxItems": 2}, r"^\(root\): minItems 3 > maxItems 2$"),
    (
        {"type": "array", "items": {"type": "boolean"}, "minItems": 3, "uniqueItems": True},
        r"uniqueItems: cannot make 3 distinct",
    ),
    (
        {"items": {"type": "string", "pattern": "(?<=a)b"}},
        r"^items: pattern '\(\?<=a\)b': a look-ahead or look-behind is not supported$",
    ),
    ({"type": "string", "pattern": "[^\\s\\S]"}, r"has a character class no character matches"),
    ({"type": "string", "pattern": "a^b"}, r"cannot generate a string matching pattern 'a\^b'"),
    (
        {"type": "string", "pattern": "^[a-z]{5}$", "maxLength": 3},
        r"cannot generate a string matching pattern",
    ),
    ({"type": "string", "pattern": "("}, r"pattern '\(' does not compile"),
    ({"type": "string", "format": "uuid", "maxLength": 10}, r"format 'uuid' cannot meet"),
    ({"not": {"type": "string"}}, r"^\(root\): unsupported keyword 'not'$"),
    ({"$ref": "https://example.com/schema"}, r"only local \$ref"),
    ({"$ref": "#/$defs/missing"}, r"\$ref '#/\$defs/missing' points at nothing"),
    ({"$ref": "#"}, r"\$ref cycle"),
    ({"$ref": "#/prefixItems/\u00b2", "prefixItems": [{"type": "string"}]}, "/\u00b2' points at nothing"),
    ({"enum": []}, r"enum must be a non-empty list"),
    ({"type": "string", "enum": [1, 2]}, r"no enum value satisfies"),
    ({"type": "string", "const": 3}, r"const 3 does not satisfy"),
    ({"properties": {"a": False}, "required": ["a"]}, r"^properties\.a: the schema false accepts no value$"),
    (
        {"oneOf": [{"type": "integer"}, {"type": "integer", "minimum": -(10**9)}]},
        r"oneOf: no document matches exactly one branch",
    ),
    (
        {"allOf": [{"type": "string"}, {"type": "integer"}]},
        r"allOf: types 'string' and 'integer' have nothing in common",
    ),
    (
        {"type": "object", "required": ["a"], "additionalProperties": False},
        r"'a' is required but additionalProperties is false",
    ),
    (
        {"type": "object", "properties": {"self": {"$ref": "#"}}, "required": ["self"]},
        r"nests deeper than 64 \(a recursion with no way out\?\)",
    ),
    (
        {"type": "string", "minLength": MAX_LENGTH + 1},
        rf"minLength {MAX_LENGTH + 1} is above the limit of {MAX_LENGTH}",
    ),
    (
        {"type": "array", "minItems": MAX_ITEMS + 1},
        rf"minItems {MAX_ITEMS + 1} is above the limit of {MAX_ITEMS}",
    ),
    (
        {"type": "array", "minItems": 200, "items": {"type": "array", "minItems": 200}},
        rf"^items\.items: the document would hold more than {MAX_NODES} values$",
    ),
    (
        {"type": "string", "pattern": "((a{1000}){1000}){1000}"},
        rf"makes strings above {MAX_LENGTH} characters",
    ),
]


@pytest.mark.parametrize(("schema", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_schemas_are_refused_with_their_path(schema: Any, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(SchemaError, match=message) as caught:
        generate(schema, random.Random(0))
    assert time.monotonic() - started < 5
    assert isinstance(caught.value, ScenarioError) and isinstance(caught.value, ValueError)


def test_a_bad_part_is_reported_whatever_the_seed_visits() -> None:
    # "b" is optional: generation may never reach it, the up-front check always does.
    schema = {
        "type": "object",
        "properties": {"a": {}, "b": {"type": "string", "minLength": 2, "maxLength": 1}},
    }
    for seed in range(10):
        with pytest.raises(SchemaError, match=r"^properties\.b: minLength 2 > maxLength 1$"):
            generate(schema, random.Random(seed))


def test_too_deep_a_schema() -> None:
    schema: dict[str, Any] = {"type": "null"}
    for _ in range(100):
        schema = {"type": "array", "items": schema}
    with pytest.raises(SchemaError, match="the schema nests deeper than 64"):
        generate(schema, random.Random(0))


# --------------------------------------------------------------------------------------------------
# Random schemas from the supported keywords: valid and deterministic


PATTERNS = [
    r"^\d{3}-\d{4}$",
    r"^[a-z]+$",
    r"^(foo|bar)\d*$",
    r"[A-F0-9]{8}",
    r"^\w+@\w+\.com$",
    r"^x?y{2,}z$",
]
FORMATS = ["date-time", "date", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=5))


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    choice = draw(st.sampled_from(["length", "pattern", "format", "plain"]))
    if choice == "length":
        low = draw(st.integers(0, 20))
        schema["minLength"] = low
        if draw(st.booleans()):
            schema["maxLength"] = low + draw(st.integers(0, 20))
    elif choice == "pattern":
        schema["pattern"] = draw(st.sampled_from(PATTERNS))
    elif choice == "format":
        schema["format"] = draw(st.sampled_from(FORMATS))
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "number"]))
    schema: dict[str, Any] = {"type": kind}
    low = draw(st.integers(-1000, 1000) if kind == "integer" else st.floats(-1e6, 1e6))
    width = draw(st.integers(2, 1000) if kind == "integer" else st.floats(0.5, 1e6))
    if draw(st.booleans()):
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = low + width
    if draw(st.booleans()):
        schema["multipleOf"] = draw(
            st.sampled_from([1, 2, 5]) if kind == "integer" else st.sampled_from([0.5, 0.25, 1])
        )
        if "minimum" in schema or "exclusiveMinimum" in schema:
            # Room for a multiple: a range narrower than the step (0.25 to 0.75, multipleOf 1)
            # holds none, and generate() rightly refuses it.
            schema.pop("exclusiveMaximum", None)
            schema["maximum"] = low + max(width, 20)
    return schema


leaves = st.one_of(
    strings(),
    numbers(),
    st.sampled_from([{"type": "boolean"}, {"type": "null"}, {}, True, {"type": ["string", "null"]}]),
    st.lists(json_scalars, min_size=1, max_size=4).map(lambda values: {"enum": values}),
    json_scalars.map(lambda value: {"const": value}),
    st.just({"$ref": "#/$defs/item"}),
)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    @st.composite
    def objects(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(
            st.dictionaries(
                st.sampled_from(["name", "email", "city", "a", "b", "c", "d"]), children, max_size=4
            )
        )
        schema: dict[str, Any] = {"type": "object", "properties": props}
        schema["required"] = draw(st.lists(st.sampled_from(sorted(props)), unique=True)) if props else []
        schema["additionalProperties"] = draw(st.one_of(st.booleans(), children))
        return schema

    @st.composite
    def arrays(draw: st.DrawFn) -> dict[str, Any]:
        low = draw(st.integers(0, 4))
        schema: dict[str, Any] = {"type": "array", "items": draw(children), "minItems": low}
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 3))
        if draw(st.booleans()):
            schema["prefixItems"] = draw(st.lists(children, min_size=1, max_size=3))
        return schema

    @st.composite
    def one_of_types(draw: st.DrawFn) -> dict[str, Any]:
        # branches of different types, so that a document can match exactly one
        kinds = draw(
            st.lists(
                st.sampled_from(["boolean", "null", "string", "array"]), min_size=1, max_size=3, unique=True
            )
        )
        return {"oneOf": [{"type": k} for k in kinds]}

    return st.one_of(
        objects(),
        arrays(),
        st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
        one_of_types(),
        children.map(lambda child: {"allOf": [child, {"description": "x"}]}),
    )


schemas = st.recursive(leaves, containers, max_leaves=12)
roots = st.builds(
    lambda item, root: {"$defs": {"item": item}, "anyOf": [root]},
    st.one_of(strings(), numbers()),
    schemas,
)


@budget(1.0)
@given(schema=roots, seed=st.integers(0, 2**32))
def test_random_schemas_give_valid_repeatable_documents(schema: dict[str, Any], seed: int) -> None:
    document = generate(schema, random.Random(seed))
    check(schema, document)
    assert generate(schema, random.Random(seed)) == document


# Anything shaped like a schema, keywords with values of any type: a SchemaError or a valid document.
_KEYWORDS = [
    "type", "enum", "const", "allOf", "anyOf", "oneOf", "$ref", "properties", "required",
    "additionalProperties", "minProperties", "maxProperties", "items", "prefixItems", "minItems",
    "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "$defs", "not", "a",
]  # fmt: skip
_ATOMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**400), 10**400),
    st.floats(),
    st.text(max_size=6),
    st.sampled_from(
        ["string", "integer", "object", "array", "null", "#", "#/$defs/a", "^a+$", "(", "a{5000}"]
    ),
)
schema_shaped = st.recursive(
    _ATOMS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(_KEYWORDS), children, max_size=4)
    ),
    max_leaves=15,
)


@budget(1.0)
@given(schema=schema_shaped, seed=st.integers(0, 100))
def test_any_schema_shaped_input_is_served_or_refused(schema: Any, seed: int) -> None:
    try:
        document = generate(schema, random.Random(seed))
    except SchemaError:
        return
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return  # not a schema by the metaschema (draft 7's list items, say): served, nothing to check
    cls(schema).validate(document)
