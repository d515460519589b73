"""Fit times of the purchase-model family and Gamma-Gamma on generated data, through the product's own path.

    python benchmarks/model_fits.py                        # 1 M and 10 M orders (generated once, seed 42)
    python benchmarks/model_fits.py --sizes 1m --runs 3

For the default view (trailing 12 months) of each size: the engine-side grouping of the model population
(every customer acquired by the as-of date, whole history, grouped on identical (x, t_x, T)), then each
purchase model fitted on those groups — BG/NBD alone first, as it was fitted before the family existed
(the baseline: a multi-start search on the full data, same input), then BG/NBD, MBG/NBD and Pareto/NBD
together as the product fits them now — and the
Gamma-Gamma spend fit. Reports seconds (median of ``--runs``) and the ratio (all three) / (BG/NBD), which
is measured in the same process so a noisy machine affects both alike. Also times the once-per-data model
choice (three calibration fits and their holdout scoring). Writes ``benchmarks/results/model-fits-*.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import ensure_data, machine_info, write_result  # noqa: E402 (benchmarks/common.py)

from metrics.engine import Engine  # noqa: E402
from metrics.models.bgnbd import BGNBDModel  # noqa: E402
from metrics.models.choice import model_choice  # noqa: E402
from metrics.models.gamma_gamma import GammaGammaModel  # noqa: E402
from metrics.models.inputs import btyd_groups, fit_groups, model_population, spend_inputs  # noqa: E402
from metrics.models.purchase_models import PURCHASE_MODELS  # noqa: E402
from metrics.selection import default_filters  # noqa: E402
from metrics.settings import Settings  # noqa: E402

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}


def _timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def run_size(label: str, orders: int, runs: int, data_root: Path) -> dict[str, object]:
    folder = ensure_data(data_root / f"bench-{label}", orders)
    engine = Engine(Settings(data_dir=str(folder), cache_dir="off"), validate=False)
    population = model_population(engine, default_filters(engine))
    group_s, groups = _timed(lambda: btyd_groups(engine, population))
    spend_s, spend = _timed(lambda: spend_inputs(engine, population))
    out: dict[str, object] = {"orders": orders, "customers": int(groups.customers.sum()), "groups": len(groups),
                              "repeat_buyers": int(groups.customers[groups.frequency > 0].sum()),
                              "group_s": group_s, "spend_inputs_s": spend_s}
    bg, three, per_model = [], [], {key: [] for key in PURCHASE_MODELS}
    for _ in range(runs):
        # the baseline: BG/NBD as the product fitted it before the family (multi-start on the full data)
        seconds, model = _timed(lambda: BGNBDModel().fit(groups.frequency, groups.recency, groups["T"],
                                                         weights=groups.customers, warm_start=False))
        bg.append(seconds)
        total = 0.0
        for key in PURCHASE_MODELS:
            seconds, (model, message) = _timed(lambda key=key: fit_groups(key, groups))
            assert model is not None, message
            per_model[key].append(seconds)
            total += seconds
        three.append(total)
    g = spend.groups
    gg_s = [_timed(lambda: GammaGammaModel().fit(g.frequency, g.monetary_value, weights=g.customers))[0]
            for _ in range(runs)]
    out.update({f"{key}_fit_s": statistics.median(v) for key, v in per_model.items()})
    out.update(bgnbd_alone_s=statistics.median(bg), three_models_s=statistics.median(three),
               ratio_three_to_bgnbd=statistics.median(three) / statistics.median(bg),
               gamma_gamma_fit_s=statistics.median(gg_s), spend_groups=len(g))
    choice_s, choice = _timed(lambda: model_choice(engine))
    out.update(model_choice_s=choice_s, chosen=choice.chosen)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated sizes: 100k, 1m, 10m")
    parser.add_argument("--runs", type=int, default=3, help="fits per model and size (median reported)")
    parser.add_argument("--data-root", default="/tmp" if sys.platform != "win32" else ".",
                        help="where the generated data sets live (bench-<size>/)")
    parser.add_argument("--out", help="JSON output path (default benchmarks/results/model-fits-<time>.json)")
    args = parser.parse_args(argv)
    rows = {}
    for label in args.sizes.split(","):
        rows[label] = run_size(label, SIZES[label], args.runs, Path(args.data_root))
        r = rows[label]
        print(f"{label:>5}: {r['customers']:,} customers in {r['groups']:,} groups (grouping {r['group_s']:.2f} s); "
              f"BG/NBD alone {r['bgnbd_alone_s']:.2f} s; "
              + ", ".join(f"{PURCHASE_MODELS[k].model_name} {r[f'{k}_fit_s']:.2f} s" for k in PURCHASE_MODELS)
              + f"; all three {r['three_models_s']:.2f} s = {r['ratio_three_to_bgnbd']:.2f}x BG/NBD; "
              f"Gamma-Gamma {r['gamma_gamma_fit_s']:.2f} s ({r['spend_groups']:,} groups); "
              f"model choice {r['model_choice_s']:.1f} s -> {r['chosen']}", flush=True)
    path = write_result("model-fits", {"sizes": rows, "machine": machine_info(), "runs": args.runs}, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
