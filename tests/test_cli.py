"""The ``custintel`` command line: help, exit codes, errors on stderr, and each subcommand end to end."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from metrics.export import EXPORTS, FORMULA_PREFIXES
from service import cli
from service.cli import EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, main
from tests.factory import write_dataset

PROJECT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ("generate", "import", "validate", "export", "serve")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    """No CUSTINTEL_* settings from outside, and none leaking out (``serve`` exports them)."""
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if not k.startswith("CUSTINTEL_")})


# ----- help and usage --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert f"custintel {command}" in text and "--data-dir" in text


def test_usage_errors_exit_2_on_stderr(capsys):
    for argv in ([], ["nope"], ["import"], ["serve", "--port", "70000"], ["import", "x.csv", "--max-bad-share", "2"],
                 ["export", "kpis", "--start", "yesterday"], ["generate", "--orders", "many"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == EXIT_USAGE, argv
        captured = capsys.readouterr()
        assert "error" in captured.err and captured.out == "", argv


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "service.cli", "--help"], capture_output=True, text=True,
                            cwd=PROJECT, timeout=60)
    assert result.returncode == 0 and "import" in result.stdout


# ----- generate and validate ------------------------------------------------------------------------------


def test_generate_then_validate(tmp_path, capsys):
    data = tmp_path / "data"
    code, out, _ = run(capsys, "generate", "--data-dir", str(data), "--orders", "400", "--start", "2023-01-01",
                       "--end", "2023-12-31", "--no-progress")
    assert code == EXIT_OK and "fact_orders" in out and "400" in out
    code, out, err = run(capsys, "validate", "--data-dir", str(data))
    assert code == EXIT_OK and out.startswith("OK ") and "fact_orders 400" in out and err == ""


def test_validate_reports_missing_and_invalid_data(tmp_path, capsys):
    code, out, err = run(capsys, "validate", "--data-dir", str(tmp_path / "nothing"))
    assert code == EXIT_FAILURE and out == "" and "not found" in err
    broken = write_dataset(tmp_path / "broken", customers=[{"customer_id": 1, "spending_score": 500}],
                           orders=[{"customer_id": 1, "date": "2024-01-01", "net_revenue": 10}])
    code, out, err = run(capsys, "validate", "--data-dir", str(broken))
    assert code == EXIT_FAILURE and "INVALID" in err and "dim_customer.spending_score" in err


def test_generate_rejects_bad_ranges(tmp_path, capsys):
    code, _, err = run(capsys, "generate", "--data-dir", str(tmp_path / "d"), "--orders", "10",
                       "--start", "2024-01-01", "--end", "2023-01-01", "--no-progress")
    assert code == EXIT_USAGE and "before" in err


# ----- import ------------------------------------------------------------------------------------------------

ORDERS = "Invoice;Kunde;Datum;Summe\nA1;K1;05.03.2024;1.234,50\nA2;K2;06.03.2024;12,5\nA3;K2;07.03.2024;7\n"


def test_import_with_flags(tmp_path, capsys):
    (tmp_path / "sales.csv").write_text(ORDERS)
    data = tmp_path / "data"
    code, out, err = run(capsys, "import", str(tmp_path / "sales.csv"), "--data-dir", str(data),
                         "--map", "customer_id=Kunde", "--map", "order_date=Datum", "--map", "amount=Summe",
                         "--dayfirst", "--decimal", ",", "--today", "2025-01-01", "--no-progress")
    assert code == EXIT_OK, err
    assert "Import imported: 3 rows read, 0 rejected" in out
    orders = pd.read_parquet(data / "fact_orders").sort_values("order_ts")
    assert orders.net_revenue.tolist() == [1234.5, 12.5, 7.0]
    assert (tmp_path / "data-import-report.json").is_file() and (tmp_path / "data-import-report.md").is_file()
    code, out, _ = run(capsys, "validate", "--data-dir", str(data))
    assert code == EXIT_OK


def test_import_with_a_mapping_file_and_flag_overrides(tmp_path, capsys):
    (tmp_path / "sales.csv").write_text(ORDERS)
    (tmp_path / "map.toml").write_text(
        '[orders]\ncustomer_id = "Kunde"\norder_date = "Datum"\namount = "Summe"\n'
        '[options]\ndayfirst = true\ndecimal = ","\nmax_bad_share = 0.0\n')
    code, _, err = run(capsys, "import", str(tmp_path / "sales.csv"), "--data-dir", str(tmp_path / "data"),
                       "--mapping", str(tmp_path / "map.toml"), "--today", "2025-01-01", "--no-progress")
    assert code == EXIT_OK, err
    # The flag wins over the file: month-first dates turn "13.03.2024"-style rows unreadable ... none here, but
    # 05.03.2024 read month-first is 3 May: the dates change.
    code, _, err = run(capsys, "import", str(tmp_path / "sales.csv"), "--data-dir", str(tmp_path / "data2"),
                       "--mapping", str(tmp_path / "map.toml"), "--decimal", ".", "--today", "2025-01-01",
                       "--no-progress")
    assert code == EXIT_REFUSED and "refused" in err  # "1.234,50" is not a number with a decimal point
    (tmp_path / "bad.json").write_text(json.dumps({"options": {"colour": "blue"}}))
    code, _, err = run(capsys, "import", str(tmp_path / "sales.csv"), "--mapping", str(tmp_path / "bad.json"),
                       "--data-dir", str(tmp_path / "data3"))
    assert code == EXIT_USAGE and "colour" in err


def test_import_refusal_exit_code_and_previous_data(tmp_path, capsys):
    good = "customer_id,order_date,amount\n" + "".join(f"c{i},2024-01-{i + 1:02d},{i + 1}\n" for i in range(10))
    (tmp_path / "good.csv").write_text(good)
    data = tmp_path / "data"
    assert run(capsys, "import", str(tmp_path / "good.csv"), "--data-dir", str(data), "--no-progress",
               "--today", "2025-01-01")[0] == EXIT_OK
    before = pd.read_parquet(data / "fact_orders")
    (tmp_path / "bad.csv").write_text(good + "c99,someday,5\nc98,2024-01-01,minus five\n")
    code, out, err = run(capsys, "import", str(tmp_path / "bad.csv"), "--data-dir", str(data), "--no-progress",
                         "--today", "2025-01-01", "--max-bad-share", "10%")
    assert code == EXIT_REFUSED and out == ""
    assert "rejected 1: unparseable order date" in err and "refused" in err and "16.67%" in err
    pd.testing.assert_frame_equal(pd.read_parquet(data / "fact_orders"), before)
    code, _, _ = run(capsys, "import", str(tmp_path / "bad.csv"), "--data-dir", str(data), "--no-progress",
                     "--today", "2025-01-01", "--max-bad-share", "0.2")
    assert code == EXIT_OK and len(pd.read_parquet(data / "fact_orders")) == 10


def test_import_errors(tmp_path, capsys):
    code, _, err = run(capsys, "import", str(tmp_path / "missing.csv"), "--data-dir", str(tmp_path / "d"))
    assert code == EXIT_FAILURE and "not found" in err
    (tmp_path / "x.csv").write_text("who,when\na,2024-01-01\n")
    code, _, err = run(capsys, "import", str(tmp_path / "x.csv"), "--data-dir", str(tmp_path / "d"))
    assert code == EXIT_FAILURE and "lacks required column" in err and "--map" in err
    code, _, err = run(capsys, "import", str(tmp_path / "x.csv"), "--data-dir", str(tmp_path / "d"), "--map", "amount")
    assert code == EXIT_USAGE and "FIELD=COLUMN" in err
    code, _, err = run(capsys, "import", str(tmp_path / "x.csv"), "--customer-map", "name=Name")
    assert code == EXIT_USAGE and "--customers" in err


# ----- export ------------------------------------------------------------------------------------------------

HOSTILE_COUNTRIES = ['=HYPERLINK("http://example.com","x")', "+1+1", "-2-2", "@SUM(A1)", "\tTabbed", "\rCarriage",
                     "Germany"]


@pytest.fixture()
def hostile_data(tmp_path) -> Path:
    """Countries that a spreadsheet would run as formulas; December sells more than January (negative deltas)."""
    customers = [{"customer_id": i + 1, "country": country} for i, country in enumerate(HOSTILE_COUNTRIES)]
    orders = []
    for cid in range(1, len(HOSTILE_COUNTRIES) + 1):
        orders += [{"customer_id": cid, "date": "2023-12-10", "net_revenue": 100.0},
                   {"customer_id": cid, "date": "2024-01-10", "net_revenue": 10.0 * cid}]
    return write_dataset(tmp_path / "hostile", customers=customers, orders=orders)


def test_export_list_names_every_available_table(capsys):
    code, out, _ = run(capsys, "export", "--list")
    assert code == EXIT_OK
    listed = {line.split()[0] for line in out.splitlines()}
    assert {"kpi_summary", "frequency_bands", "segment_summary", "segment_country_matrix"} <= listed
    assert listed == {name for name, spec in EXPORTS.items() if spec.available()}


def test_every_available_export_runs_on_generated_data(generated_dir, tmp_path, capsys):
    for name, spec in EXPORTS.items():
        if not spec.available():
            continue
        out = tmp_path / f"{name}.parquet"
        code, _, err = run(capsys, "export", name, "--data-dir", str(generated_dir), "--start", "2024-01-01",
                           "--end", "2024-06-30", "-o", str(out))
        assert code == EXIT_OK, (name, err)
        assert out.is_file(), name


def test_every_available_export_runs_on_imported_data(tmp_path, capsys):
    """Imported data has hashed ids, 'Unknown' dimensions and no engagement: every table still exports."""
    rows = "".join(f"C-{i % 40:03d},2024-{1 + i % 12:02d}-{1 + i % 28:02d},{10 + i % 7}.50\n" for i in range(300))
    (tmp_path / "shop.csv").write_text("customer_id,order_date,amount\n" + rows)
    data = tmp_path / "data"
    assert run(capsys, "import", str(tmp_path / "shop.csv"), "--data-dir", str(data), "--no-progress",
               "--today", "2025-01-01")[0] == EXIT_OK
    for name, spec in EXPORTS.items():
        if not spec.available():
            continue
        # the holdout check needs data after the end of its range
        dates = ("--start", "2024-01-01", "--end", "2024-06-30") if name == "holdout_check" else ()
        code, _, err = run(capsys, "export", name, "--data-dir", str(data), *dates,
                           "-o", str(tmp_path / f"{name}.parquet"))
        assert code == EXIT_OK, (name, err)


def test_model_warnings_go_to_stderr_and_the_export_still_succeeds(tmp_path, capsys):
    customers = [{"customer_id": i} for i in range(1, 6)]
    orders = [{"customer_id": i, "date": f"2024-0{i}-10", "net_revenue": 10.0 * i} for i in range(1, 6)]
    data = write_dataset(tmp_path / "data", customers, orders)  # five one-time buyers: nothing to fit
    code, out, err = run(capsys, "export", "churn_bands", "--data-dir", str(data))
    assert code == EXIT_OK and out.startswith("band,")
    assert "warning:" in err and "not fitted" in err and "repeat purchase" in err
    code, out, err = run(capsys, "export", "churn_bands", "--data-dir", str(data), "--model", "pareto_nbd")
    assert code == EXIT_OK and "Pareto/NBD churn model not fitted" in err
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "export", "churn_bands", "--data-dir", str(data), "--model", "weibull")
    assert exit_info.value.code == EXIT_USAGE


def test_export_model_choice_follows_the_flag_and_the_link(generated_dir, capsys):
    base = ("export", "churn_by_segment", "--data-dir", str(generated_dir), "--start", "2024-01-01",
            "--end", "2024-06-30")
    _, by_flag, _ = run(capsys, *base, "--model", "pareto_nbd")
    _, by_link, _ = run(capsys, *base, "--query", "model=pareto_nbd")
    _, other, _ = run(capsys, *base, "--model", "bgnbd")
    assert by_flag == by_link and by_flag != other


def test_export_filters_and_formats(generated_dir, generated_engine, tmp_path, capsys):
    from metrics.filters import Filters
    from metrics.segments.tables import segment_summary

    out = tmp_path / "segments.csv"
    code, _, err = run(capsys, "export", "segment_summary", "--data-dir", str(generated_dir), "--scheme", "loyalty",
                       "--start", "2024-01-01", "--end", "2024-12-31", "--prime", "Prime", "--country", "Germany",
                       "-o", str(out))
    assert code == EXIT_OK, err
    assert "2024-01-01_2024-12-31_Prime_Germany" in err
    expected = segment_summary(generated_engine, Filters("2024-01-01", "2024-12-31", "Prime", ("Germany",)), "loyalty")
    got = pd.read_csv(out)
    assert got.segment.tolist() == expected.segment.tolist()
    assert got.customers.tolist() == expected.customers.tolist()
    assert got.revenue.to_numpy() == pytest.approx(expected.revenue.to_numpy())

    code, out_text, _ = run(capsys, "export", "frequency_bands", "--data-dir", str(generated_dir),
                            "--query", "start=2024-01-01&end=2024-03-31&prime=Non-Prime")
    assert code == EXIT_OK and out_text.startswith(",".join(pd.read_csv(io.StringIO(out_text)).columns))
    code, _, err = run(capsys, "export", "kpis", "--data-dir", str(generated_dir),
                       "--query", "start=1999-01-01&country=Atlantis", "-o", str(tmp_path / "k.parquet"))
    assert code == EXIT_OK and "Ignored unknown countries: Atlantis" in err and "limited" in err
    assert len(pd.read_parquet(tmp_path / "k.parquet")) == 1


def test_export_errors(generated_dir, tmp_path, capsys):
    d = ["--data-dir", str(generated_dir)]
    cases = [
        (["export"], "name a table"),
        (["export", "nope", *d], "unknown table"),
        (["export", "kpis", "--country", "Atlantis", *d], "unknown country"),
        (["export", "kpis", "--scheme", "loyalty", *d], "does not take --scheme"),
        (["export", "kpis", "--segment", "loyalty", *d], "SCHEME=LABEL"),
        (["export", "kpis", "--segment", "loyalty=Kings", *d], "invalid filter"),
        (["export", "kpis", "--start", "2024-05-01", "--end", "2024-01-01", *d], "after end date"),
        (["export", "segment_summary", "--scheme", "zodiac", *d], "segment_summary"),
        (["export", "kpis", "-o", str(tmp_path / "k.xlsx"), *d], "unsupported export format"),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, *argv)
        assert code == EXIT_USAGE, (argv, err)
        assert message in err and out == "", (argv, err)
    code, _, err = run(capsys, "export", "kpis", "--data-dir", str(tmp_path / "none"))
    assert code == EXIT_FAILURE and "not found" in err


def test_exported_csv_cannot_run_formulas(hostile_data, tmp_path, capsys):
    out = tmp_path / "matrix.csv"
    code, _, err = run(capsys, "export", "segment_country_matrix", "--data-dir", str(hostile_data),
                       "--start", "2024-01-01", "--end", "2024-01-31", "-o", str(out))
    assert code == EXIT_OK, err
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    countries = {row["country"] for row in rows}
    assert len(countries) == len(HOSTILE_COUNTRIES)
    for country in countries:
        assert not country.startswith(FORMULA_PREFIXES), repr(country)
    assert "'=HYPERLINK(\"http://example.com\",\"x\")" in countries and "'\tTabbed" in countries
    assert "'\rCarriage" in countries and "'-2-2" in countries and "Germany" in countries
    for row in rows:  # numbers are left alone
        float(row["revenue"])

    code, text, _ = run(capsys, "export", "kpi_summary", "--data-dir", str(hostile_data),
                        "--start", "2024-01-01", "--end", "2024-01-31")
    summary = pd.read_csv(io.StringIO(text)).set_index("key")
    assert summary.loc["revenue", "delta"] == pytest.approx(280 - 700)  # a negative number stays a number
    assert pd.api.types.is_float_dtype(summary["delta"])
    assert "'-" not in text

    parquet = tmp_path / "matrix.parquet"
    run(capsys, "export", "segment_country_matrix", "--data-dir", str(hostile_data), "--start", "2024-01-01",
        "--end", "2024-01-31", "-o", str(parquet))
    assert set(pd.read_parquet(parquet).country) == set(HOSTILE_COUNTRIES)  # Parquet keeps typed raw values


# ----- serve -------------------------------------------------------------------------------------------------


def test_serve_with_gunicorn_builds_a_safe_command(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli.os, "execvpe", lambda file, args, env: calls.append((file, args, env)))
    code, _, err = run(capsys, "serve", "--gunicorn", "--workers", "3", "--threads", "2", "--port", "8123",
                       "--data-dir", str(tmp_path))
    assert code == EXIT_OK and len(calls) == 1
    _, args, env = calls[0]
    assert args[:3] == [sys.executable, "-m", "gunicorn"]
    assert args[args.index("--bind") + 1] == "127.0.0.1:8123"
    assert args[args.index("--workers") + 1] == "3" and args[args.index("--threads") + 1] == "2"
    assert "--no-control-socket" in args and args[-1] == "app:server" and "--preload" not in args
    assert env["CUSTINTEL_DATA_DIR"] == str(tmp_path) and "warning" not in err


def test_serve_warm_starts_a_background_low_priority_warm_up(tmp_path, monkeypatch, capsys):
    started = []
    monkeypatch.setattr(cli.os, "execvpe", lambda *a: None)
    monkeypatch.setattr(cli.subprocess, "Popen", lambda command, **kw: started.append((command, kw)))
    code, _, err = run(capsys, "serve", "--gunicorn", "--warm", "--data-dir", str(tmp_path))
    assert code == EXIT_OK and len(started) == 1
    command, kw = started[0]
    assert command[1:4] == ["-m", "service.cli", "warm"] and command[command.index("--data-dir") + 1] == str(tmp_path)
    assert command[command.index("--nice") + 1] == "10" and "--quiet" in command and kw["start_new_session"]
    assert "in the background" in err


def test_serve_warns_when_exposed_without_auth(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli.os, "execvpe", lambda *a: None)
    _, _, err = run(capsys, "serve", "--gunicorn", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert "without CUSTINTEL_AUTH" in err
    monkeypatch.setenv("CUSTINTEL_AUTH", "ann:secret")
    _, _, err = run(capsys, "serve", "--gunicorn", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert "warning" not in err
    monkeypatch.setenv("CUSTINTEL_AUTH", "no-colon")
    code, _, err = run(capsys, "serve", "--gunicorn", "--data-dir", str(tmp_path))
    assert code == EXIT_USAGE and "user:password" in err


# ----- basic auth and headers (service.security) ---------------------------------------------------------


def test_install_security():
    from flask import Flask

    from metrics.settings import Settings
    from service.security import basic_auth_header, install_security

    server = Flask("t")
    server.add_url_rule("/", "home", lambda: "home")
    server.add_url_rule("/health", "health", lambda: "ok")
    server.add_url_rule("/echo", "echo", lambda: "posted", methods=["POST"])
    install_security(server, Settings(auth="ann:p:w"))
    install_security(server, Settings(auth="ann:p:w"))  # idempotent
    client = server.test_client()
    denied = client.get("/")
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/", headers=basic_auth_header("ann:p:w")).status_code == 200
    for wrong in ("ann:p", "bob:p:w", "ann:", ":p:w"):
        assert client.get("/", headers=basic_auth_header(wrong)).status_code == 401, wrong
    assert client.get("/", headers={"Authorization": "Bearer abc"}).status_code == 401
    assert client.get("/", headers={"Authorization": "Basic !!!notbase64"}).status_code == 401
    health = client.get("/health")
    assert health.status_code == 200 and health.headers["X-Content-Type-Options"] == "nosniff"
    big = client.post("/echo", data=b"x" * 2_000_000, headers=basic_auth_header("ann:p:w"))
    assert big.status_code == 413

    open_server = Flask("open")
    open_server.add_url_rule("/", "home", lambda: "home")
    install_security(open_server, Settings())
    response = open_server.test_client().get("/")
    assert response.status_code == 200 and response.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize("table", ["segment_summary", "segment_country_matrix", "churn_by_segment", "clv_by_segment"])
def test_export_with_a_focus_lists_only_that_label_with_the_scope_count(generated_dir, generated_engine, tmp_path,
                                                                        capsys, table):
    from metrics.filters import Filters
    from metrics.segments.tables import segment_summary

    out = tmp_path / f"{table}.csv"
    code, _, err = run(capsys, "export", table, "--data-dir", str(generated_dir), "--scheme", "loyalty",
                       "--segment", "loyalty=Top Tier", "--start", "2024-01-01", "--end", "2024-12-31", "-o", str(out))
    assert code == EXIT_OK, err
    expected = segment_summary(generated_engine, Filters("2024-01-01", "2024-12-31"), "loyalty").set_index("segment")
    got = pd.read_csv(out)
    assert set(got.segment) == {"Top Tier"}
    assert got.customers.sum() == expected.customers["Top Tier"]


# ----- issue 15: export periods, fit warnings and corrupt data ------------------------------------------------


def test_export_start_defaults_to_the_12_months_ending_at_end(generated_dir, generated_engine, capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "12 months ending at --end" in " ".join(capsys.readouterr().out.split())
    first, _ = generated_engine.date_bounds()
    base = ("export", "kpis", "--data-dir", str(generated_dir))
    code, out, err = run(capsys, *base, "--end", "2023-06-30")
    assert code == EXIT_OK and "--start not given: 2022-07-01" in err
    _, out_explicit, _ = run(capsys, *base, "--start", "2022-07-01", "--end", "2023-06-30")
    assert out == out_explicit
    early = first + timedelta(days=40)  # less than a year of data before --end: clamped to the first order
    code, out, err = run(capsys, *base, "--end", str(early))
    assert code == EXIT_OK and f"--start not given: {first}" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    _, explicit, _ = run(capsys, *base, "--start", str(first), "--end", str(early))
    assert rows == list(csv.DictReader(io.StringIO(explicit)))


def test_export_of_kpis_prints_the_models_fit_warning(tmp_path, capsys):
    customers = [{"customer_id": i} for i in range(1, 6)]
    orders = [{"customer_id": i, "date": f"2024-0{i}-10", "net_revenue": 10.0 * i} for i in range(1, 6)]
    data = write_dataset(tmp_path / "data", customers, orders)  # five one-time buyers: no model
    for table in ("kpis", "kpi_summary", "measures"):  # the at-risk rate comes from the churn model
        code, out, err = run(capsys, "export", table, "--data-dir", str(data))
        assert code == EXIT_OK and out and "warning:" in err and "not fitted" in err, table
    code, _, err = run(capsys, "export", "period_sales", "--data-dir", str(data))
    assert code == EXIT_OK and "warning" not in err  # no model figure, no model warning


def test_validate_and_export_name_a_truncated_parquet_part_in_one_line(generated_dir, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(generated_dir, data)
    part = sorted((data / "fact_orders").glob("*.parquet"))[0]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    code, out, err = run(capsys, "validate", "--data-dir", str(data))
    assert code == EXIT_FAILURE and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "fact_orders" in err and str(part) in err
    code, out, err = run(capsys, "export", "kpis", "--data-dir", str(data))
    assert code == EXIT_FAILURE and out == "" and len(err.strip().splitlines()) == 1 and str(part) in err
