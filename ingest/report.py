"""The import report: per-file counts of rows read, rejected and repaired by reason, with sample rows,
written as JSON and Markdown next to the data folder and summarised on the terminal."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.fields import REJECT_REASONS, REPAIR_REASONS, SET_ASIDE_REASONS

SAMPLES_PER_REASON = 5


@dataclass
class FileTally:
    """Counts for one input file: rows read, rejected, repaired and set aside by reason, with sample rows.

    Set-aside rows (guest lines, cancellation lines) are not rejected: they do not count toward
    ``bad_share``; ``set_aside_amount`` holds their amounts by reason.
    """

    path: str
    rows_read: int = 0
    rejected: Counter = field(default_factory=Counter)
    repaired: Counter = field(default_factory=Counter)
    set_aside: Counter = field(default_factory=Counter)
    set_aside_amount: Counter = field(default_factory=Counter)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def bad_share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    def reject(self, reason: str, count: int, samples: list[dict[str, Any]] = ()) -> None:
        if count:
            self.rejected[reason] += count
            self._sample(reason, samples)

    def repair(self, reason: str, count: int, samples: list[dict[str, Any]] = ()) -> None:
        if count:
            self.repaired[reason] += count
            self._sample(reason, samples)

    def put_aside(self, reason: str, count: int, amount: float, samples: list[dict[str, Any]] = ()) -> None:
        if count:
            self.set_aside[reason] += count
            self.set_aside_amount[reason] += amount
            self._sample(reason, samples)

    def _sample(self, reason: str, samples) -> None:
        kept = self.samples.setdefault(reason, [])
        for sample in samples:
            if len(kept) >= SAMPLES_PER_REASON:
                break
            kept.append(sample)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "column_mapping": self.mapping,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "bad_share": round(self.bad_share, 6),
            "rejected": {
                k: {"rows": v, "reason": REJECT_REASONS[k], "samples": self.samples.get(k, [])}
                for k, v in sorted(self.rejected.items())
            },
            "repaired": {
                k: {"rows": v, "reason": REPAIR_REASONS[k], "samples": self.samples.get(k, [])}
                for k, v in sorted(self.repaired.items())
            },
            "set_aside": {
                k: {
                    "rows": v,
                    "amount": round(float(self.set_aside_amount[k]), 2),
                    "reason": SET_ASIDE_REASONS[k],
                    "samples": self.samples.get(k, []),
                }
                for k, v in sorted(self.set_aside.items())
            },
        }


@dataclass
class ImportReport:
    """What an import read, rejected, repaired and wrote; ``status`` is imported, refused or failed."""

    output: str
    orders_file: FileTally
    customers_file: FileTally | None = None
    status: str = "running"
    message: str = ""
    max_bad_share: float = 0.05
    tables: dict[str, int] = field(default_factory=dict)
    date_range: tuple[str, str] | None = None
    defaults_used: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cancellations: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    report_paths: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "imported"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "output": self.output,
            "max_bad_share": self.max_bad_share,
            "seconds": round(self.seconds, 3),
            "orders_file": self.orders_file.to_dict(),
            "customers_file": self.customers_file.to_dict() if self.customers_file else None,
            "tables": self.tables,
            "date_range": list(self.date_range) if self.date_range else None,
            "cancellations": self.cancellations,
            "defaults_used": self.defaults_used,
            "notes": self.notes,
        }

    def to_text(self) -> str:
        """A readable Markdown summary (the same facts as the JSON)."""
        lines = [f"# Import report: {self.status}", ""]
        if self.message:
            lines += [self.message, ""]
        lines += [
            f"- output folder: `{self.output}`",
            f"- time: {self.seconds:.1f} s",
            f"- refuse above: {self.max_bad_share:.1%} rejected rows",
        ]
        if self.date_range:
            lines.append(f"- order dates: {self.date_range[0]} to {self.date_range[1]}")
        lines.append(self._tables_line("- "))
        for title, tally in (("Orders file", self.orders_file), ("Customer file", self.customers_file)):
            if tally is None:
                continue
            lines += [
                "",
                f"## {title}: `{tally.path}`",
                "",
                f"{tally.rows_read:,} rows read, {tally.rows_rejected:,} rejected "
                f"({tally.bad_share:.2%}), {sum(tally.repaired.values()):,} repairs.",
                "",
                "Columns used: " + ", ".join(f"{k} ← `{v}`" for k, v in tally.mapping.items()),
                "",
                "Row numbers count data rows (1 = the first row after the header), not counting "
                "malformed rows, which are shown by their text.",
                "",
            ]
            for kind, counts, texts in (
                ("Rejected", tally.rejected, REJECT_REASONS),
                ("Repaired", tally.repaired, REPAIR_REASONS),
                ("Set-aside", tally.set_aside, SET_ASIDE_REASONS),
            ):
                if not counts:
                    continue
                lines += [f"| {kind} rows | reason | examples |", "|---:|---|---|"]
                for key, count in sorted(counts.items(), key=lambda kv: -kv[1]):
                    examples = "; ".join(_sample_text(s) for s in tally.samples.get(key, [])[:3])
                    text = texts[key]
                    if kind == "Set-aside":
                        text += f" (amount {tally.set_aside_amount[key]:,.2f})"
                    lines.append(f"| {count:,} | {text} | {examples.replace('|', '/')} |")
                lines.append("")
        if self.defaults_used:
            lines += ["## Defaults used for columns the files did not have", ""]
            lines += [f"- {d}" for d in self.defaults_used]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        """A few lines for the terminal."""
        o = self.orders_file
        parts = [
            f"Import {self.status}: {o.rows_read:,} rows read, {o.rows_rejected:,} rejected "
            f"({o.bad_share:.2%}; limit {self.max_bad_share:.1%}), {sum(o.repaired.values()):,} repairs."
        ]
        if self.customers_file:
            c = self.customers_file
            parts.append(f"Customer file: {c.rows_read:,} rows, {c.rows_rejected:,} rejected.")
        for key, count in sorted(o.rejected.items(), key=lambda kv: -kv[1]):
            parts.append(f"  rejected {count:,}: {REJECT_REASONS[key]}")
        for key, count in sorted(o.repaired.items(), key=lambda kv: -kv[1]):
            parts.append(f"  repaired {count:,}: {REPAIR_REASONS[key]}")
        for key, count in sorted(o.set_aside.items(), key=lambda kv: -kv[1]):
            parts.append(
                f"  set aside {count:,} (amount {o.set_aside_amount[key]:,.2f}, not bad rows): {SET_ASIDE_REASONS[key]}"
            )
        parts.append(self._tables_line())
        if self.message and not self.ok:
            parts.append(self.message)
        parts.extend(f"Note: {n}" for n in self.notes)
        if self.report_paths:
            parts.append("Report: " + ", ".join(self.report_paths))
        return "\n".join(parts)

    def _tables_line(self, prefix: str = "") -> str:
        """What was written, or that nothing was (a refused or failed import writes no table)."""
        if not self.ok:
            return prefix + f"Nothing written: the data folder {self.output} is unchanged."
        return prefix + "Wrote " + ", ".join(f"{k} {v:,}" for k, v in self.tables.items()) + "."

    def write(self, base: Path) -> list[Path]:
        """Write ``<base>.json`` and ``<base>.md``; returns the paths."""
        base.parent.mkdir(parents=True, exist_ok=True)
        json_path, md_path = base.with_name(base.name + ".json"), base.with_name(base.name + ".md")
        json_path.write_text(json.dumps(self.to_dict(), indent=2, default=str), encoding="utf-8")
        md_path.write_text(self.to_text(), encoding="utf-8")
        self.report_paths = [str(json_path), str(md_path)]
        return [json_path, md_path]


def _sample_text(sample: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sample.items())


def report_base(out_dir: str | Path) -> Path:
    """Where the report of an import into ``out_dir`` goes: ``<parent>/<name>-import-report.{json,md}``."""
    out = Path(out_dir).resolve()
    return out.parent / f"{out.name}-import-report"
