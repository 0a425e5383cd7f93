#!/usr/bin/python3
"""The layering of docs/ARCHITECTURE.md is the real one: every `#include "X/..."` in src/ and jobs/
names a component its includer may depend on, per the dependency table between the
`<!-- layering -->` markers of docs/ARCHITECTURE.md. Third-party headers in quotes (ceres/) and
the generated config.h are not components."""
import os
import re
import sys
import unittest

DOC = "docs/ARCHITECTURE.md"
NOT_COMPONENTS = {"config.h", "ceres", "generated"}


def allowed_edges():
    text = open(DOC).read()
    table = text.split("<!-- layering -->")[1]
    allowed = {}
    for line in table.splitlines():
        m = re.match(r"\|\s*`([a-z_]+)`\s*\|\s*([^|]*)\|", line)
        if not m:
            continue
        deps = re.findall(r"`([a-z_]+)`", m.group(2))
        allowed[m.group(1)] = set(deps)
    return allowed


def real_edges():
    edges = []
    for root in ("src", "jobs"):
        for dirpath, _, files in os.walk(root):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                component = "jobs" if root == "jobs" else path.split(os.sep)[1]
                with open(path, errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = re.match(r'\s*#\s*include\s+"([^"/]+)(/[^"]*)?"', line)
                        if not m or m.group(2) is None and m.group(1) in NOT_COMPONENTS:
                            continue
                        target = m.group(1)
                        if target in NOT_COMPONENTS or target == component:
                            continue
                        edges.append((component, target, f"{path}:{number}"))
    return edges


class IncludeGraphTest(unittest.TestCase):
    def test_every_include_is_an_allowed_edge(self):
        allowed = allowed_edges()
        self.assertGreaterEqual(len(allowed), 10, "the dependency table was not found")
        edges = real_edges()
        self.assertGreater(len(edges), 50)
        bad = [f"{where}: {a} -> {b}" for a, b, where in edges if b not in allowed.get(a, set())]
        self.assertEqual(bad, [], "includes that docs/ARCHITECTURE.md's table does not allow")

    def test_the_table_has_no_edge_that_is_not_used(self):
        # The table states the real graph, not a looser one.
        used = {(a, b) for a, b, _ in real_edges()}
        unused = [f"{a} -> {b}" for a, deps in allowed_edges().items() for b in deps
                  if (a, b) not in used]
        self.assertEqual(unused, [], "edges in docs/ARCHITECTURE.md that no include uses")

    def test_config_depends_on_core_only_and_vlm_not_on_config(self):
        edges = {(a, b) for a, b, _ in real_edges()}
        self.assertEqual({b for a, b in edges if a == "config"}, {"core"})
        self.assertNotIn(("vlm", "config"), edges)

    def test_a_forbidden_edge_is_caught(self):
        # The checker itself: an include from core to driver would be reported.
        allowed = allowed_edges()
        self.assertNotIn("driver", allowed["core"])


if __name__ == "__main__":
    unittest.main()
