"""C++ code for the messages of a parsed schema (schema_model.py): a struct per message with
Encode/Decode for every version, and a registry of all codecs for tests and fuzzers."""

from __future__ import annotations

import re
from pathlib import Path

from schema_model import OPEN, PRIMITIVES, Api, Field, Message, SchemaError, Struct
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
