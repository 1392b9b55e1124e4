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
import sys
from pathlib import Path

from schema_cpp import generate, generate_registry
from schema_model import SchemaError, canonical_lines, parse_schema


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
