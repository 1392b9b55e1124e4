#!/usr/bin/env bash
# Validates the Prometheus alert rules and the Grafana dashboards under helm/:
#   1. `promtool check rules` on every rule file in alerts/ (not the *.test.yaml files);
#   2. `promtool test rules` on every alerts/*.test.yaml (unit tests of the alerts);
#   3. every dashboards/*.json parses, every panel (rows' nested panels too) has a title, every
#      non-row panel and target uses the ${datasource} variable, every Grafana variable an
#      expression uses is defined, and every PromQL expression (targets[].expr and
#      label_values(...) selectors of query variables) passes `promtool check rules` once
#      wrapped as a recording rule, with Grafana's variables replaced by concrete values.
# Needs promtool (Debian package `prometheus`, installed by scripts/setup.sh) and python3.
# PROMTOOL=/path/to/promtool overrides the one on PATH. Exits non-zero on the first failure.
set -euo pipefail

HELM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROMTOOL="${PROMTOOL:-promtool}"

if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
  echo "validate.sh: error: promtool not found (apt-get install prometheus, or run scripts/setup.sh)" >&2
  exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
rule_files=()
test_files=()
for f in "$HELM_DIR"/alerts/*.yaml "$HELM_DIR"/alerts/*.yml; do
  case "$f" in
    *.test.yaml | *.test.yml) test_files+=("$f") ;;
    *) rule_files+=("$f") ;;
  esac
done
dashboards=("$HELM_DIR"/dashboards/*.json)
shopt -u nullglob

if ((${#rule_files[@]} == 0 || ${#test_files[@]} == 0 || ${#dashboards[@]} == 0)); then
  echo "validate.sh: error: expected rule files, rule tests and dashboards under $HELM_DIR" >&2
  exit 1
fi

echo "== promtool check rules"
"$PROMTOOL" check rules "${rule_files[@]}"

echo "== promtool test rules"
# Rule tests name their rule files relative to themselves.
for t in "${test_files[@]}"; do
  (cd "$(dirname "$t")" && "$PROMTOOL" test rules "$(basename "$t")")
done

echo "== dashboards"
structure_ok=1
python3 - "$work/dashboard-exprs.rules.yaml" "${dashboards[@]}" <<'PYTHON' || structure_ok=0
"""Checks the dashboards' structure and writes each PromQL expression as a recording rule."""
import json
import re
import sys
from pathlib import Path

out_path, paths = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]

# Grafana's built-in variables, replaced by values of the right kind.
BUILTINS = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__auto": "1m",
    "__interval_ms": "60000", "__range_s": "3600", "__range_ms": "3600000",
}
# Dashboard variables, replaced by a plausible value (any label value would do).
EXAMPLES = {"job": "tern-replicator", "instance": "127.0.0.1:9464", "topic": "orders"}
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", re.S)
QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)

errors: list[str] = []
rules: list[tuple[str, str, str]] = []  # (record name, expression, where)


def substitute(expr: str, defined: set[str], where: str) -> str:
    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTINS:
            return BUILTINS[name]
        if name not in defined:
            errors.append(f"{where}: uses ${name}, which the dashboard does not define")
            return "undefined"
        return EXAMPLES.get(name, "value")
    return VARIABLE.sub(one, expr)


def uses_datasource_variable(ds: object) -> bool:
    if isinstance(ds, str):
        return ds in ("${datasource}", "$datasource")
    return isinstance(ds, dict) and ds.get("uid") in ("${datasource}", "$datasource")


def walk(panels: list, trail: str):
    for panel in panels:
        yield panel, trail
        if panel.get("type") == "row":
            yield from walk(panel.get("panels", []), f"{trail}row {panel.get('title')!r} > ")


panel_count = 0
for path in paths:
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        errors.append(f"{path.name}: not valid JSON: {e}")
        continue
    for key in ("title", "uid", "schemaVersion", "panels", "templating"):
        if key not in dashboard:
            errors.append(f"{path.name}: no {key!r}")
    variables = dashboard.get("templating", {}).get("list", [])
    defined = {v.get("name") for v in variables}
    if not any(v.get("name") == "datasource" and v.get("type") == "datasource"
               and v.get("query") == "prometheus" for v in variables):
        errors.append(f"{path.name}: no 'datasource' variable of type datasource (prometheus)")
    stem = re.sub(r"[^A-Za-z0-9_]", "_", path.stem)
    for v in variables:
        if v.get("type") != "query":
            continue
        where = f"{path.name}: variable ${v.get('name')}"
        if not uses_datasource_variable(v.get("datasource")):
            errors.append(f"{where}: datasource is not ${{datasource}}")
        query = v.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        inner = LABEL_VALUES.match(query) or QUERY_RESULT.match(query)
        if inner:
            rules.append((f"dashboard:{stem}:var_{v.get('name')}",
                          substitute(inner.group(1), defined - {v.get("name")}, where), where))
        elif not re.match(r"^\s*label_values\(\s*\w+\s*\)\s*$", query):
            errors.append(f"{where}: query {query!r} is not label_values(...) or query_result(...)")
    ids = set()
    for panel, trail in walk(dashboard.get("panels", []), ""):
        panel_count += 1
        title = panel.get("title")
        where = f"{path.name}: {trail}panel {title!r} (id {panel.get('id')})"
        if not isinstance(title, str) or not title.strip():
            errors.append(f"{where}: no title")
        if panel.get("id") in ids:
            errors.append(f"{where}: duplicate panel id")
        ids.add(panel.get("id"))
        if "gridPos" not in panel:
            errors.append(f"{where}: no gridPos")
        if panel.get("type") == "row":
            continue
        if not uses_datasource_variable(panel.get("datasource")):
            errors.append(f"{where}: datasource is not ${{datasource}}: {panel.get('datasource')!r}")
        targets = panel.get("targets") or []
        if not targets:
            errors.append(f"{where}: no targets")
        for target in targets:
            ref = target.get("refId", "?")
            twhere = f"{where} target {ref}"
            if "datasource" in target and not uses_datasource_variable(target["datasource"]):
                errors.append(f"{twhere}: datasource is not ${{datasource}}")
            expr = target.get("expr", "")
            if not expr.strip():
                errors.append(f"{twhere}: no expr")
                continue
            rules.append((f"dashboard:{stem}:panel_{panel.get('id')}_{ref}",
                          substitute(expr, defined, twhere), twhere))

# One recording rule per expression; promtool parses each and names the failing one.
with out_path.open("w") as f:
    f.write("groups:\n  - name: dashboard-expressions\n    rules:\n")
    for record, expr, where in rules:
        f.write(f"      # {where}\n")
        f.write(f"      - record: {record}\n        expr: {json.dumps(expr)}\n")
for e in errors:
    print(f"validate.sh: error: {e}", file=sys.stderr)
print(f"{len(paths)} dashboards, {panel_count} panels, {len(rules)} expressions")
sys.exit(1 if errors else 0)
PYTHON

echo "== promtool check rules (dashboard expressions)"
# Run even after a structural error, so one run reports every problem.
if ! "$PROMTOOL" check rules "$work/dashboard-exprs.rules.yaml"; then
  echo "validate.sh: error: a dashboard expression does not parse (rule names are" \
    "dashboard:<file>:panel_<panel id>_<refId> or dashboard:<file>:var_<variable>)" >&2
  exit 1
fi
if ((structure_ok == 0)); then
  echo "validate.sh: error: the dashboards have the problems listed above" >&2
  exit 1
fi

echo "validate.sh: all good"
