"""Reads the JUnit XML reports of ctest and pytest and prints one summary.

Usage: test_summary.py LAYER=REPORT.xml ...
Prints a line per layer, then "total: N passed, N failed" (", N skipped" when any were).
Exits 1 when a test failed, a report is missing, or no test ran at all.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(report: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) in one JUnit report; errors count as failures."""
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    passed = failed = skipped = 0
    for suite in suites:
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def main(args: list[str]) -> int:
    total = [0, 0, 0]
    broken = False
    for arg in args:
        layer, _, path = arg.partition("=")
        report = Path(path)
        if not report.is_file():
            print(f"{layer}: no report at {report}: that layer did not run to the end")
            broken = True
            continue
        passed, failed, skipped = count(report)
        print(f"{layer}: {passed} passed, {failed} failed, {skipped} skipped")
        for i, n in enumerate((passed, failed, skipped)):
            total[i] += n
    line = f"total: {total[0]} passed, {total[1]} failed"
    if total[2]:
        line += f", {total[2]} skipped"
    print(line)
    if total[0] + total[1] == 0:
        print("no test ran")
        return 1
    return 1 if broken or total[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
