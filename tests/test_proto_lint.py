"""The gRPC API's proto files pass buf's STANDARD lint (versioned package, enum zero values
named <ENUM>_UNSPECIFIED, a request and a response message per RPC, ...), and the lint really
catches a definition that breaks those rules."""

from __future__ import annotations

import shutil
import subprocess

from harness import paths

PROTO = paths.ROOT / "proto"


def buf_lint(folder) -> subprocess.CompletedProcess:
    return subprocess.run([str(paths.go_tool("buf")), "lint"], cwd=folder, capture_output=True,
                          text=True, timeout=120)


def test_the_api_passes_buf_standard_lint():
    result = buf_lint(PROTO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lint_refuses_an_enum_without_an_unspecified_zero_value(tmp_path):
    copy = tmp_path / "proto"
    shutil.copytree(PROTO, copy)
    api = copy / "tern" / "replicator" / "v1" / "replicator.proto"
    text = api.read_text()
    assert "FLOW_STATE_UNSPECIFIED = 0;" in text
    api.write_text(text.replace("FLOW_STATE_UNSPECIFIED = 0;", "FLOW_STATE_NONE = 0;"))
    result = buf_lint(copy)
    assert result.returncode != 0
    assert "FLOW_STATE_NONE" in result.stdout + result.stderr
