"""Markdown tables of scale-benchmark results (the tables of docs/scale.md), one per JSON file.

    python benchmarks/scale_report.py benchmarks/results/scale-100k.json benchmarks/results/scale-1m.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PAGES = {"/": "Executive", "/engagement": "Engagement", "/risk": "Risk", "/loyalty": "Loyalty",
         "/segmentation": "Segmentation"}


def _s(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.0f} ms"


def table(result: dict[str, Any]) -> str:
    """One size: a row per measure, a column per state."""
    states = result["states"]
    names = list(states)
    summary = result["summary"]
    load = result.get("machine", {}).get("load_average_at_end")
    lines = [f"### {result['orders']:,} orders" + (f" (load average at the end: {', '.join(f'{x:.2f}' for x in load)})"
                                                 if load else ""), "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row("Executive aggregates, product", [_s(states[n]["product_exec_s"]) for n in names])
    row("… hand-written DuckDB SQL (`sql_baseline_s`)", [_s(states[n]["sql_baseline_s"]) for n in names])
    row("… plain pandas (`pandas_s`)", [_s(states[n]["pandas_s"]) for n in names])
    row("**product ÷ SQL** (`exec_over_sql`)", [f"**{summary[n]['exec_over_sql']:.2f}**" for n in names])
    row("**pandas ÷ product** (`pandas_over_product`)", [f"**{summary[n]['pandas_over_product']:.2f}**" for n in names])
    for path, title in PAGES.items():
        row(f"{title}, cold", [_s(states[n]["cold_s"][path]) for n in names])
    row("all pages in sequence, cold", [_s(states[n]["all_pages_cold_s"]) for n in names])
    row("**all pages ÷ SQL** (`six_pages_over_sql`)", [f"**{summary[n]['six_pages_over_sql']:.2f}**" for n in names])
    row("**heaviest page ÷ Executive** (`heaviest_over_exec`)",
        [f"**{summary[n]['heaviest_over_exec']:.2f}**" for n in names])
    row("**slowest warm revisit** (`warm_max_s`)", [f"**{_s(summary[n]['warm_max_s'])}**" for n in names])
    if all("once_per_data_s" in states[n] for n in names):
        row("once per data: model choice (+ customer months)", [_s(states[n]["once_per_data_s"]) for n in names])
    lines.append("")
    if summary.get("peak_rss_mb_20") is not None:
        lines.append(f"Peak RSS after 20 heavy states: **{summary['peak_rss_mb_20']:,.0f} MB**; after 40: "
                     f"**{summary.get('peak_rss_mb_40') or float('nan'):,.0f} MB**.")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    for name in argv:
        print(table(json.loads(Path(name).read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
