#!/usr/bin/env python3
"""Turns Tern's Kafka message schemas (kafka/messages/*.schema) into C++ codecs.

    gen.py --out DIR FILE.schema...      writes DIR/<name>.h and DIR/<name>.cc per schema
    gen.py --registry DIR FILE.schema... writes DIR/registry.h and .cc: every API's codec
                                         behind one type-erased entry (tests and fuzzers)
    gen.py --canonical FILE.schema...    prints each API, version and direction in the
                                         canonical form of tests/schema/KafkaSchemaDump.java

Schema format (one API per file; '#' starts a comment):

    api <key> <Name> versions <lo>-<hi> flexible <v>+|none
    request
      <field> <type> [v<lo>+ | v<lo>-<hi> | v<n>] [tag=<n>] [nullable=v<lo>+] [default=<value>]
        <child fields of a struct or struct array, indented two more spaces>
    response
      ...

Types: int8 int16 int32 int64 uint16 uint32 float64 bool uuid string bytes records, a struct
name (capitalised; its children follow, or it reuses a struct defined earlier in the same
message), and []T for arrays. A trailing '?' makes the field nullable in every version it has;
nullable=v<lo>+ makes it nullable from that version only. Fields with tag= are tagged fields
(flexible versions only) and are written only when they differ from their default.
"""

from __future__ import annotations

import argparse
import re
import sys
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


# ---------------------------------------------------------------------------------------------
# C++ code.

def snake_to_file(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def cpp_element_type(f: Field) -> str:
    if f.struct:
        return f.struct.name
    if f.base in PRIMITIVES:
        return PRIMITIVES[f.base][0]
    return {"string": "std::string", "bytes": "std::string", "records": "Records"}[f.base]


def cpp_type(f: Field) -> str:
    t = cpp_element_type(f)
    if f.is_array:
        t = f"std::vector<{t}>"
    if f.nullable_from is not None and f.base != "records":
        t = f"std::optional<{t}>"
    return t


def cpp_default(f: Field) -> str:
    if f.default is None or f.default == "null":
        if not f.is_array and f.base in PRIMITIVES:
            return f" = {PRIMITIVES[f.base][1]}"
        return ""
    if f.is_array and f.default == "[]" and f.nullable_from is not None:
        return f" = {cpp_type(f)}(std::in_place)"
    if f.is_array or f.struct:
        raise SchemaError(f"line {f.line}: arrays take no default but null or [] (when "
                          "nullable); structs take none")
    if f.base in ("string", "bytes"):
        return f" = {cpp_string(f.default)}"
    return f" = {f.default}"


def cpp_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_test(f: Field, expr: str) -> str:
    """C++ condition that is true when the field differs from its default."""
    if f.is_array:
        if f.nullable_from is not None:
            return f"{expr}.has_value()" if f.default in (None, "null") else \
                f"(!{expr}.has_value() || !{expr}->empty())"
        return f"!{expr}.empty()"
    if f.struct:
        if f.nullable_from is not None:
            return f"{expr}.has_value()"
        return f"!({expr} == {f.struct.name}{{}})"
    if f.base == "records":
        return f"!{expr}.is_null()"
    if f.nullable_from is not None:
        if f.default == "null" or f.default is None:
            return f"{expr}.has_value()"
        return f"{expr} != std::optional<std::string>({cpp_string(f.default)})"
    if f.base in ("string", "bytes"):
        return f"{expr} != {cpp_string(f.default or '')}"
    if f.base == "uuid":
        return f"{expr} != Uuid{{}}"
    return f"{expr} != {f.default if f.default is not None else PRIMITIVES[f.base][1]}"


def version_test(f: Field, msg: Message) -> str | None:
    conds = []
    if f.lo > msg.lo:
        conds.append(f"version_ >= {f.lo}")
    if f.hi < msg.hi:
        conds.append(f"version_ <= {f.hi}")
    return " && ".join(conds) if conds else None


class Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "", indent: int = 0) -> None:
        self.lines.append(("  " * indent + text) if text else "")


def encode_value(e: Emitter, f: Field, expr: str, w: str, compact: str, ind: int,
                 nullable_here: str | None, msg: Message) -> None:
    """Writes one field's value. nullable_here: C++ condition (or 'true') for nullability."""
    if f.is_array:
        if f.nullable_from is not None:
            e(f"if (!{expr}.has_value()) {{", ind)
            if nullable_here not in (None, "true"):
                e(f"if ({nullable_here}) {{", ind + 1)
                e(f"{w}.WriteNullArray({compact});", ind + 2)
                e("} else {", ind + 1)
                e(f"{w}.WriteArrayLength(0, {compact});", ind + 2)
                e("}", ind + 1)
            else:
                e(f"{w}.WriteNullArray({compact});", ind + 1)
            e("} else {", ind)
            encode_array(e, f, f"(*{expr})", w, compact, ind + 1)
            e("}", ind)
        else:
            encode_array(e, f, expr, w, compact, ind)
        return
    if f.struct:
        if f.nullable_from is None:
            e(f"{expr}.Encode({w}, version_);", ind)
            return
        # A nullable struct is preceded by a marker byte: -1 for null, 1 for present.
        if nullable_here != "true":
            e(f"if (!({nullable_here})) {{", ind)
            e(f"{expr}.value_or({f.struct.name}{{}}).Encode({w}, version_);", ind + 1)
            e("} else", ind)
        e(f"if (!{expr}.has_value()) {{", ind)
        e(f"{w}.WriteInt8(-1);", ind + 1)
        e("} else {", ind)
        e(f"{w}.WriteInt8(1);", ind + 1)
        e(f"{expr}->Encode({w}, version_);", ind + 1)
        e("}", ind)
        return
    if f.base in PRIMITIVES:
        e(f"{w}.{PRIMITIVES[f.base][3]}({expr});", ind)
        return
    if f.base == "records":
        e(f"{w}.WriteRecords({expr}, {compact});", ind)
        return
    kind = "String" if f.base == "string" else "Bytes"
    if f.nullable_from is None:
        e(f"{w}.Write{kind}({expr}, {compact});", ind)
    elif nullable_here == "true":
        e(f"{w}.WriteNullable{kind}({expr}, {compact});", ind)
    else:
        e(f"if ({nullable_here}) {{", ind)
        e(f"{w}.WriteNullable{kind}({expr}, {compact});", ind + 1)
        e("} else {", ind)
        e(f"{w}.Write{kind}({expr}.value_or(std::string()), {compact});", ind + 1)
        e("}", ind)


def encode_array(e: Emitter, f: Field, expr: str, w: str, compact: str, ind: int) -> None:
    e(f"{w}.WriteArrayLength({expr}.size(), {compact});", ind)
    e(f"for (const auto& element_ : {expr}) {{", ind)
    if f.struct:
        e(f"element_.Encode({w}, version_);", ind + 1)
    elif f.base in PRIMITIVES:
        e(f"{w}.{PRIMITIVES[f.base][3]}(element_);", ind + 1)
    else:
        kind = "String" if f.base == "string" else "Bytes"
        e(f"{w}.Write{kind}(element_, {compact});", ind + 1)
    e("}", ind)


def decode_value(e: Emitter, f: Field, expr: str, r: str, compact: str, ind: int,
                 where: str) -> None:
    fail = f"return {r}.Where({cpp_string(where)});"
    if f.is_array:
        e("{", ind)
        e("std::optional<std::int32_t> count_;", ind + 1)
        e(f"if (!{r}.ReadArrayLength(&count_, {compact})) {fail}", ind + 1)
        if f.nullable_from is not None:
            if f.nullable_from > f.lo:
                e(f"if (!count_.has_value() && version_ < {f.nullable_from}) {{ "
                  f"{r}.Fail(\"null array where not allowed\"); {fail} }}", ind + 1)
            e("if (!count_.has_value()) {", ind + 1)
            e(f"{expr}.reset();", ind + 2)
            e("} else {", ind + 1)
            e(f"{expr}.emplace();", ind + 2)
            decode_array(e, f, f"(*{expr})", r, compact, ind + 2, fail)
            e("}", ind + 1)
        else:
            e(f"if (!count_.has_value()) {{ {r}.Fail(\"null array\"); {fail} }}", ind + 1)
            e(f"{expr}.clear();", ind + 1)
            decode_array(e, f, expr, r, compact, ind + 1, fail)
        e("}", ind)
        return
    if f.struct:
        if f.nullable_from is None:
            e(f"if (!{expr}.Decode({r}, version_)) {fail}", ind)
            return
        e("{", ind)
        e("std::int8_t marker_ = 1;", ind + 1)
        if f.nullable_from > f.lo:
            e(f"if (version >= {f.nullable_from} && !{r}.ReadInt8(&marker_)) {fail}", ind + 1)
        else:
            e(f"if (!{r}.ReadInt8(&marker_)) {fail}", ind + 1)
        e("if (marker_ < 0) {", ind + 1)
        e(f"{expr}.reset();", ind + 2)
        e("} else {", ind + 1)
        # emplace(T{}), not emplace(): clang judges a nested struct with member initialisers
        # not default-constructible while its enclosing struct is being defined (CWG 1397).
        e(f"if (!{expr}.emplace({f.struct.name}{{}}).Decode({r}, version_)) {fail}", ind + 2)
        e("}", ind + 1)
        e("}", ind)
        return
    if f.base in PRIMITIVES:
        e(f"if (!{r}.{PRIMITIVES[f.base][2]}(&{expr})) {fail}", ind)
        return
    if f.base == "records":
        e(f"if (!{r}.ReadRecords(&{expr}, {compact})) {fail}", ind)
        return
    kind = "String" if f.base == "string" else "Bytes"
    if f.nullable_from is None:
        e(f"if (!{r}.Read{kind}(&{expr}, {compact})) {fail}", ind)
    else:
        # Nullable in some versions: a null in a version that does not allow it is malformed.
        e(f"if (!{r}.ReadNullable{kind}(&{expr}, {compact})) {fail}", ind)
        if f.nullable_from > f.lo:
            e(f"if (version_ < {f.nullable_from} && !{expr}.has_value()) {{ "
              f"{r}.Fail(\"null where not allowed\"); {fail} }}", ind)


def decode_array(e: Emitter, f: Field, expr: str, r: str, compact: str, ind: int,
                 fail: str) -> None:
    e(f"{expr}.resize(static_cast<std::size_t>(*count_));", ind)
    e(f"for (auto& element_ : {expr}) {{", ind)
    if f.struct:
        e(f"if (!element_.Decode({r}, version_)) {fail}", ind + 1)
    elif f.base in PRIMITIVES:
        e(f"if (!{r}.{PRIMITIVES[f.base][2]}(&element_)) {fail}", ind + 1)
    else:
        kind = "String" if f.base == "string" else "Bytes"
        e(f"if (!{r}.Read{kind}(&element_, {compact})) {fail}", ind + 1)
    e("}", ind)


def emit_struct_decl(e: Emitter, s: Struct, ind: int, top: Message | None) -> None:
    e(f"struct {s.name} {{", ind)
    if top is not None:
        e(f"static constexpr std::int16_t kApiKey = {top.api_key};", ind + 1)
        e(f"static constexpr std::int16_t kMinVersion = {top.lo};", ind + 1)
        e(f"static constexpr std::int16_t kMaxVersion = {top.hi};", ind + 1)
        e(f"static constexpr std::int16_t kFirstFlexibleVersion = {top.flexible};", ind + 1)
        e("static constexpr bool IsFlexible(std::int16_t version) {", ind + 1)
        e("return version >= kFirstFlexibleVersion;", ind + 2)
        e("}", ind + 1)
        e()
        for nested in top.structs:
            emit_struct_decl(e, nested, ind + 1, None)
            e()
    for f in s.fields:
        e(f"{cpp_type(f)} {f.name}{cpp_default(f)};", ind + 1)
    e("UnknownTags unknown_tags;", ind + 1)
    e()
    e("void Encode(Writer& w, std::int16_t version) const;", ind + 1)
    if top is not None:
        e("// Fails (and leaves the Reader failed) on malformed input or an unknown version.",
          ind + 1)
    e("bool Decode(Reader& r, std::int16_t version);", ind + 1)
    e(f"friend bool operator==(const {s.name}&, const {s.name}&) = default;", ind + 1)
    e("};", ind)


def emit_struct_defs(e: Emitter, s: Struct, qual: str, msg: Message, is_top: bool) -> None:
    flex = f"{msg.name}::IsFlexible(version_)"
    # Encode.
    e(f"void {qual}::Encode(Writer& w_, std::int16_t version_) const {{")
    e(f"const bool flexible_ = {flex};", 1)
    e("(void)flexible_;", 1)
    for f in s.fields:
        if f.tag is not None:
            continue
        cond = version_test(f, msg)
        ind = 1
        if cond:
            e(f"if ({cond}) {{", 1)
            ind = 2
        nullable_here = None
        if f.nullable_from is not None:
            nullable_here = "true" if f.nullable_from <= f.lo else f"version_ >= {f.nullable_from}"
        encode_value(e, f, f.name, "w_", "flexible_", ind, nullable_here, msg)
        if cond:
            e("}", 1)
    e("if (flexible_) {", 1)
    e("TaggedFieldsWriter tags_;", 2)
    for f in sorted((f for f in s.fields if f.tag is not None), key=lambda f: f.tag):
        conds = [default_test(f, f.name)]
        vt = version_test(f, msg)
        if vt:
            conds.insert(0, vt)
        e(f"if ({' && '.join(conds)}) {{", 2)
        e(f"Writer& t_ = tags_.Add({f.tag});", 3)
        nullable_here = None
        if f.nullable_from is not None:
            nullable_here = "true" if f.nullable_from <= f.lo else f"version_ >= {f.nullable_from}"
        encode_value(e, f, f.name, "t_", "true", 3, nullable_here, msg)
        e("}", 2)
    e("tags_.Finish(w_, unknown_tags);", 2)
    e("}", 1)
    e("}")
    e()
    # Decode.
    e(f"bool {qual}::Decode(Reader& r_, std::int16_t version_) {{")
    if is_top:
        e(f"if (version_ < kMinVersion || version_ > kMaxVersion) {{", 1)
        e(f"return r_.Fail(\"{msg.name} version out of range\");", 2)
        e("}", 1)
    e(f"const bool flexible_ = {flex};", 1)
    e("(void)flexible_;", 1)
    for f in s.fields:
        if f.tag is not None:
            continue
        cond = version_test(f, msg)
        ind = 1
        if cond:
            e(f"if ({cond}) {{", 1)
            ind = 2
        decode_value(e, f, f.name, "r_", "flexible_", ind, f"{s.name}.{f.name}")
        if cond:
            e("}", 1)
    e("if (flexible_) {", 1)
    e("std::uint32_t tag_count_ = 0;", 2)
    e(f"if (!r_.ReadUnsignedVarint(&tag_count_)) return r_.Where(\"{s.name} tagged fields\");", 2)
    e("for (std::uint32_t i_ = 0; i_ < tag_count_; ++i_) {", 2)
    e("std::uint32_t tag_ = 0;", 3)
    e("std::uint32_t size_ = 0;", 3)
    e("std::string_view data_;", 3)
    e("if (!r_.ReadUnsignedVarint(&tag_) || !r_.ReadUnsignedVarint(&size_) || "
      f"!r_.ReadRaw(size_, &data_)) return r_.Where(\"{s.name} tagged fields\");", 3)
    first = True
    for f in sorted((f for f in s.fields if f.tag is not None), key=lambda f: f.tag):
        conds = [f"tag_ == {f.tag}"]
        vt = version_test(f, msg)
        if vt:
            conds.append(vt)
        e(f"{'if' if first else '} else if'} ({' && '.join(conds)}) {{", 3)
        first = False
        e("Reader t_(data_);", 4)
        decode_value(e, f, f.name, "t_", "true", 4, f"{s.name}.{f.name}")
        e(f"if (t_.remaining() != 0) return r_.Fail(\"{s.name}.{f.name}: tagged field size\");", 4)
    if first:
        e("unknown_tags.push_back(UnknownTag{tag_, std::string(data_)});", 3)
    else:
        e("} else {", 3)
        e("unknown_tags.push_back(UnknownTag{tag_, std::string(data_)});", 4)
        e("}", 3)
    e("}", 2)
    e("}", 1)
    e("return r_.ok();", 1)
    e("}")
    e()


def generate(api: Api, stem: str) -> tuple[str, str]:
    h = Emitter()
    h(f"// Generated by kafka/gen.py from kafka/messages/{stem}.schema. Do not edit.")
    h(f"// {api.name} (API key {api.key}), versions {api.lo}-{api.hi}"
      + (f", flexible from {api.flexible}." if api.flexible != OPEN else ", never flexible."))
    h("#pragma once")
    h()
    for inc in ("<cstdint>", "<optional>", "<string>", "<vector>"):
        h(f"#include {inc}")
    h()
    h('#include "kafka/wire.h"')
    h()
    h("namespace tern::kafka {")
    h()
    for msg in (api.request, api.response):
        emit_struct_decl(h, msg.root, 0, msg)
        h()
    h("}  // namespace tern::kafka")

    c = Emitter()
    c(f"// Generated by kafka/gen.py from kafka/messages/{stem}.schema. Do not edit.")
    c(f'#include "kafka/messages/{stem}.h"')
    c()
    c("namespace tern::kafka {")
    c()
    for msg in (api.request, api.response):
        for s in msg.structs:
            emit_struct_defs(c, s, f"{msg.name}::{s.name}", msg, False)
        emit_struct_defs(c, msg.root, msg.name, msg, True)
    c("}  // namespace tern::kafka")
    return "\n".join(h.lines) + "\n", "\n".join(c.lines) + "\n"


def generate_registry(apis: list[tuple[Path, Api]]) -> tuple[str, str]:
    h = Emitter()
    h("// Generated by kafka/gen.py from kafka/messages/*.schema. Do not edit.")
    h("// Every message codec behind one entry, for tests and fuzzers that cover all APIs.")
    h("#pragma once")
    h()
    h("#include <cstdint>")
    h("#include <span>")
    h()
    h('#include "kafka/wire.h"')
    h()
    h("namespace tern::kafka {")
    h()
    h("struct MessageCodecInfo {")
    h("std::int16_t api_key;", 1)
    h("const char* name;", 1)
    h("std::int16_t min_version;", 1)
    h("std::int16_t max_version;", 1)
    h("std::int16_t first_flexible_version;", 1)
    h("};")
    h()
    h("std::span<const MessageCodecInfo> AllMessageCodecs();")
    h()
    h("// Decodes a request (or response) body of `api_key` at `version` from `r`, then encodes")
    h("// the decoded message into `w`. False when the API is unknown or the bytes do not decode.")
    h("bool DecodeAndReencode(std::int16_t api_key, bool request, std::int16_t version, Reader& r,")
    h("Writer& w);", 9)
    h()
    h("}  // namespace tern::kafka")
    c = Emitter()
    c("// Generated by kafka/gen.py from kafka/messages/*.schema. Do not edit.")
    c('#include "kafka/messages/registry.h"')
    c()
    c("#include <array>")
    c()
    for path, _ in apis:
        c(f'#include "kafka/messages/{path.stem}.h"')
    c()
    c("namespace tern::kafka {")
    c("namespace {")
    c()
    c("template <typename Message>")
    c("bool RoundTrip(std::int16_t version, Reader& r, Writer& w) {")
    c("Message message;", 1)
    c("if (!message.Decode(r, version)) return false;", 1)
    c("message.Encode(w, version);", 1)
    c("return true;", 1)
    c("}")
    c()
    c("constexpr auto kCodecs = std::to_array<MessageCodecInfo>({")
    for _, api in sorted(apis, key=lambda a: a[1].key):
        c(f'{{{api.key}, "{api.name}", {api.lo}, {api.hi}, {api.flexible}}},', 1)
    c("});")
    c()
    c("}  // namespace")
    c()
    c("std::span<const MessageCodecInfo> AllMessageCodecs() { return kCodecs; }")
    c()
    c("bool DecodeAndReencode(std::int16_t api_key, bool request, std::int16_t version, Reader& r,")
    c("Writer& w) {", 9)
    c("switch (api_key) {", 1)
    for _, api in sorted(apis, key=lambda a: a[1].key):
        c(f"case {api.key}:", 2)
        c(f"return request ? RoundTrip<{api.name}Request>(version, r, w)", 3)
        c(f": RoundTrip<{api.name}Response>(version, r, w);", 7)
    c("default:", 2)
    c('return r.Fail("unknown API key");', 3)
    c("}", 1)
    c("}")
    c()
    c("}  // namespace tern::kafka")
    return "\n".join(h.lines) + "\n", "\n".join(c.lines) + "\n"


def write_if_changed(target: Path, text: str) -> None:
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", type=Path, help="directory for the generated .h and .cc files")
    mode.add_argument("--registry", type=Path, help="directory for registry.h and registry.cc")
    mode.add_argument("--canonical", action="store_true", help="print canonical schemas")
    parser.add_argument("schemas", nargs="+", type=Path)
    args = parser.parse_args()
    try:
        apis = [(p, parse_schema(p)) for p in args.schemas]
    except SchemaError as err:
        print(f"gen.py: {err}", file=sys.stderr)
        return 1
    if args.canonical:
        for _, api in apis:
            print("\n".join(canonical_lines(api)))
        return 0
    if args.registry:
        args.registry.mkdir(parents=True, exist_ok=True)
        header, source = generate_registry(apis)
        write_if_changed(args.registry / "registry.h", header)
        write_if_changed(args.registry / "registry.cc", source)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for path, api in apis:
        header, source = generate(api, path.stem)
        write_if_changed(args.out / (path.stem + ".h"), header)
        write_if_changed(args.out / (path.stem + ".cc"), source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
