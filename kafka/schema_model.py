"""The schema language of kafka/messages/*.schema: parsing into a model (Api, Message, Struct,
Field) and the canonical form that tests compare with kafka-clients' own schemas. The format is
described in gen.py's docstring."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

OPEN = 0x7FFF
PRIMITIVES = {
    # name: (C++ type, default, Reader method, Writer method, classic name, compact name)
    "int8": ("std::int8_t", "0", "ReadInt8", "WriteInt8", "INT8", "INT8"),
    "int16": ("std::int16_t", "0", "ReadInt16", "WriteInt16", "INT16", "INT16"),
    "int32": ("std::int32_t", "0", "ReadInt32", "WriteInt32", "INT32", "INT32"),
    "int64": ("std::int64_t", "0", "ReadInt64", "WriteInt64", "INT64", "INT64"),
    "uint16": ("std::uint16_t", "0", "ReadUint16", "WriteUint16", "UINT16", "UINT16"),
    "uint32": ("std::uint32_t", "0", "ReadUint32", "WriteUint32", "UINT32", "UINT32"),
    "float64": ("double", "0", "ReadFloat64", "WriteFloat64", "FLOAT64", "FLOAT64"),
    "bool": ("bool", "false", "ReadBool", "WriteBool", "BOOLEAN", "BOOLEAN"),
    "uuid": ("Uuid", "{}", "ReadUuid", "WriteUuid", "UUID", "UUID"),
}
SIZED = {"string", "bytes", "records"}


class SchemaError(Exception):
    pass


@dataclass
class Field:
    name: str
    base: str                 # primitive name, "string"/"bytes"/"records", or struct name
    is_array: bool
    lo: int
    hi: int
    tag: int | None
    nullable_from: int | None  # first version in which the field is nullable, None if never
    default: str | None
    line: int
    struct: "Struct | None" = None

    def present(self, v: int) -> bool:
        return self.lo <= v <= self.hi

    def nullable(self, v: int) -> bool:
        return self.nullable_from is not None and v >= self.nullable_from

    @property
    def is_struct(self) -> bool:
        return self.struct is not None


@dataclass
class Struct:
    name: str
    fields: list[Field] = field(default_factory=list)


@dataclass
class Message:
    api_key: int
    name: str          # e.g. ApiVersionsRequest
    lo: int
    hi: int
    flexible: int      # first flexible version, OPEN if none
    root: Struct
    structs: list[Struct]   # nested structs, children before parents


@dataclass
class Api:
    key: int
    name: str
    lo: int
    hi: int
    flexible: int
    request: Message | None = None
    response: Message | None = None


def parse_versions(text: str, lo: int, hi: int, line: int) -> tuple[int, int]:
    m = re.fullmatch(r"v?(\d+)(\+|-(\d+))?", text)
    if not m:
        raise SchemaError(f"line {line}: bad version range '{text}'")
    first = int(m.group(1))
    if m.group(2) == "+":
        last = hi
    elif m.group(3):
        last = int(m.group(3))
    else:
        last = first
    if first < lo or last > hi or first > last:
        raise SchemaError(f"line {line}: versions {text} outside the message's {lo}-{hi}")
    return first, last


def parse_schema(path: Path) -> Api:
    api: Api | None = None
    section: str | None = None
    stack: list[tuple[int, Struct]] = []
    reused: set[str] = set()
    known: dict[str, Struct] = {}
    messages: dict[str, tuple[Struct, list[Struct]]] = {}
    ordered: list[Struct] = []

    for number, raw in enumerate(path.read_text().splitlines(), 1):
        text = raw.split("#", 1)[0].rstrip()
        if not text.strip():
            continue
        indent = len(text) - len(text.lstrip(" "))
        words = text.split()
        if indent == 0:
            if words[0] == "api":
                m = re.fullmatch(r"api (\d+) (\w+) versions (\d+)-(\d+) flexible (\d+\+|none)",
                                 " ".join(words))
                if not m:
                    raise SchemaError(f"{path}:{number}: bad api line")
                flexible = OPEN if m.group(5) == "none" else int(m.group(5)[:-1])
                api = Api(int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)), flexible)
            elif words[0] in ("request", "response") and len(words) == 1:
                if api is None:
                    raise SchemaError(f"{path}:{number}: '{words[0]}' before 'api'")
                section = words[0]
                root = Struct(api.name + section.capitalize())
                stack = [(0, root)]
                known = {}
                reused = set()
                ordered = []
                messages[section] = (root, ordered)
            else:
                raise SchemaError(f"{path}:{number}: unexpected '{words[0]}'")
            continue
        if section is None or api is None:
            raise SchemaError(f"{path}:{number}: field outside a request or response")
        if indent % 2:
            raise SchemaError(f"{path}:{number}: indent by two spaces")
        depth = indent // 2
        if depth == 0 or depth > len(stack):
            raise SchemaError(f"{path}:{number}: indented too far")
        del stack[depth:]
        parent = stack[-1][1]
        if parent.name in reused:
            raise SchemaError(f"{path}:{number}: struct {parent.name} is defined earlier; "
                              "a reuse takes no fields")
        f = parse_field(words, api, number, path)
        if f.base[0].isupper():
            if f.base in known:
                f.struct = known[f.base]
                reused.add(f.struct.name)
            else:
                f.struct = Struct(f.base)
                known[f.base] = f.struct
                ordered.append(f.struct)
            stack.append((depth + 1, f.struct))
        elif f.base not in PRIMITIVES and f.base not in SIZED:
            raise SchemaError(f"{path}:{number}: unknown type '{f.base}'")
        parent.fields.append(f)

    if api is None:
        raise SchemaError(f"{path}: no api line")
    for section, (root, ordered) in messages.items():
        for s in ordered:
            if not s.fields:
                raise SchemaError(f"{path}: struct {s.name} has no fields")
        # Children before parents so C++ sees each type before its use.
        msg = Message(api.key, root.name, api.lo, api.hi, api.flexible, root,
                      topo_order(root))
        setattr(api, section, msg)
    if api.request is None or api.response is None:
        raise SchemaError(f"{path}: needs both a request and a response")
    return api


def topo_order(root: Struct) -> list[Struct]:
    out: list[Struct] = []

    def visit(s: Struct) -> None:
        for f in s.fields:
            if f.struct is not None and f.struct not in out:
                visit(f.struct)
                out.append(f.struct)

    visit(root)
    return out


def parse_field(words: list[str], api: Api, number: int, path: Path) -> Field:
    if len(words) < 2:
        raise SchemaError(f"{path}:{number}: a field needs a name and a type")
    name, type_text = words[0], words[1]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise SchemaError(f"{path}:{number}: field names are snake_case: '{name}'")
    is_array = type_text.startswith("[]")
    base = type_text[2:] if is_array else type_text
    nullable_all = base.endswith("?")
    base = base.rstrip("?")
    lo, hi = api.lo, api.hi
    tag = None
    nullable_from = None
    default = None
    for word in words[2:]:
        if word.startswith("v") and word[1:2].isdigit():
            lo, hi = parse_versions(word, api.lo, api.hi, number)
        elif word.startswith("tag="):
            tag = int(word[4:])
        elif word.startswith("nullable="):
            nullable_from = parse_versions(word[9:], api.lo, api.hi, number)[0]
        elif word.startswith("default="):
            default = word[8:]
        else:
            raise SchemaError(f"{path}:{number}: unknown attribute '{word}'")
    if nullable_all:
        nullable_from = lo
    if nullable_from is not None and not (is_array or base in SIZED or base[0].isupper()):
        raise SchemaError(f"{path}:{number}: only strings, bytes, records, structs and arrays "
                          "are nullable")
    if tag is not None and lo < api.flexible:
        raise SchemaError(f"{path}:{number}: tagged fields exist only in flexible versions")
    return Field(name, base, is_array, lo, hi, tag, nullable_from, default, number)


# ---------------------------------------------------------------------------------------------
# Canonical form, as tests/schema/KafkaSchemaDump.java prints Kafka's own schemas.

def canonical_type(f: Field, v: int, flexible: bool) -> str:
    if f.is_array:
        element = canonical_struct(f.struct, v, flexible) if f.struct else \
            canonical_scalar(f.base, False, flexible)
        kind = ("COMPACT_" if flexible else "") + ("NULLABLE_" if f.nullable(v) else "") + "ARRAY"
        return f"{kind}({element})"
    if f.struct:
        return canonical_struct(f.struct, v, flexible)
    return canonical_scalar(f.base, f.nullable(v), flexible)


def canonical_scalar(base: str, nullable: bool, flexible: bool) -> str:
    if base in PRIMITIVES:
        return PRIMITIVES[base][5 if flexible else 4]
    name = {"string": "STRING", "bytes": "BYTES", "records": "RECORDS"}[base]
    return ("COMPACT_" if flexible else "") + ("NULLABLE_" if nullable else "") + name


def canonical_struct(s: Struct, v: int, flexible: bool) -> str:
    parts = [f"{f.name}:{canonical_type(f, v, flexible)}"
             for f in s.fields if f.present(v) and f.tag is None]
    if flexible:
        tagged = sorted((f for f in s.fields if f.present(v) and f.tag is not None),
                        key=lambda f: f.tag)
        parts.append("TAGS(" + ",".join(f"{f.tag}={f.name}:{canonical_type(f, v, True)}"
                                        for f in tagged) + ")")
    return "{" + ",".join(parts) + "}"


def canonical_lines(api: Api) -> list[str]:
    out = []
    for v in range(api.lo, api.hi + 1):
        flexible = v >= api.flexible
        out.append(f"{api.key} {v} request {canonical_struct(api.request.root, v, flexible)}")
        out.append(f"{api.key} {v} response {canonical_struct(api.response.root, v, flexible)}")
    return out
