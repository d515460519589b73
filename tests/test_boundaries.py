"""The analytics package has no import cycle, not even one hidden by an import inside a function.

(``lint-imports`` checks which packages may import which; this checks the modules of ``metrics/`` among
themselves: if a imports b, nothing b imports leads back to a.)
"""

from __future__ import annotations

import grimp


def test_metrics_modules_import_each_other_without_cycles():
    graph = grimp.build_graph("metrics")
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if not imported.startswith("metrics"):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append(" -> ".join((importer, *back)))
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)
