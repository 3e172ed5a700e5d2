# SPDX-License-Identifier: MIT
"""pytest glue for the attack suite: import paths, and the summary lines
(one per attack, then "attacks tried N, contained N") at the end of the
run.  Processes are killed by the fixtures and, whatever happens, by
vmlib's exit handler."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import attacklib  # noqa: E402


def pytest_terminal_summary(terminalreporter):
    if not attacklib.RESULTS:
        return
    tr = terminalreporter
    tr.section("attacks")
    for name, contained, text in attacklib.RESULTS:
        tr.write_line(f"{'contained' if contained else 'NOT CONTAINED':13} {name:26} {text}")
    # Per target (host mode; "vvu:" names, a switch VM's port), then in all.
    for target, prefix in (("host mode", None), ("switch VM (vvu)", "vvu:")):
        rs = [r for r in attacklib.RESULTS if (r[0].startswith("vvu:") if prefix else
                                               not r[0].startswith("vvu:"))]
        if rs:
            tr.write_line(f"{target}: attacks tried {len(rs)}, "
                          f"contained {sum(1 for r in rs if r[1])}")
    n = len(attacklib.RESULTS)
    c = sum(1 for r in attacklib.RESULTS if r[1])
    tr.write_line(f"attacks tried {n}, contained {c}")
