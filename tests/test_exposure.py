"""Every entry point warns when it listens beyond this machine without CUSTINTEL_AUTH, and only then:
``custintel serve``, ``python app.py`` and gunicorn (through the project's ``gunicorn.conf.py``), each started
for real except ``custintel serve --gunicorn``, whose exec is replaced."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import cli
from service.exposure import WARNED_ENV, exposure_warning, is_loopback, listener_host, warn_if_exposed
from tests.browser.conftest import free_port
from tests.test_fuzz_filters import small_dir  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
WARNING = "without CUSTINTEL_AUTH"


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("LOCALHOST", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("", False), ("::", False), ("192.168.1.5", False), ("example.org", False),
])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback
    assert (exposure_warning([host], None) is None) is loopback
    assert exposure_warning([host], "ann:secret") is None


def test_the_warning_names_only_the_exposed_addresses_and_is_printed_once_marked(monkeypatch):
    monkeypatch.delenv(WARNED_ENV, raising=False)
    stream = io.StringIO()
    assert warn_if_exposed(["127.0.0.1", "0.0.0.0", ""], None, "entry", stream) is True
    assert stream.getvalue() == f"entry: warning: listening on 0.0.0.0, * {WARNING}: anyone who can reach this " \
                                "port can read the data.\n"
    assert os.environ[WARNED_ENV] == "1"
    assert warn_if_exposed(["127.0.0.1"], None, "entry", stream) is False
    assert listener_host(("0.0.0.0", 80)) == "0.0.0.0" and listener_host(("::", 80, 0, 0)) == "::"
    assert listener_host("/run/app.sock") is None


def _serve(monkeypatch, capsys, host: str, auth: str | None) -> tuple[str, dict[str, str]]:
    """``custintel serve --gunicorn`` with the exec replaced: (stderr, the environment gunicorn would get)."""
    execs: list[dict[str, str]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTINTEL_")}
    if auth:
        env["CUSTINTEL_AUTH"] = auth
    monkeypatch.setattr(os, "environ", env)
    monkeypatch.setattr(cli.os, "execvpe", lambda _file, _args, child_env: execs.append(child_env))
    assert cli.main(["serve", "--gunicorn", "--host", host, "--data-dir", str(ROOT / "data")]) == cli.EXIT_OK
    return capsys.readouterr().err, execs[0]


def test_custintel_serve_warns_with_the_shared_message_and_gunicorn_does_not_repeat_it(monkeypatch, capsys):
    err, child_env = _serve(monkeypatch, capsys, "0.0.0.0", None)
    assert f"custintel serve: {exposure_warning(['0.0.0.0'], None)}" in err
    assert child_env[WARNED_ENV] == "1"  # the gunicorn it starts stays quiet
    for host, auth in (("127.0.0.1", None), ("0.0.0.0", "ann:secret")):
        err, child_env = _serve(monkeypatch, capsys, host, auth)
        assert WARNING not in err and WARNED_ENV not in child_env


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUSTINTEL_", "GUNICORN_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _output_until(proc: subprocess.Popen, ready: str, timeout_s: float) -> str:
    """The process's output until a line containing ``ready`` (then it is stopped), or until it exits."""
    deadline, lines = time.monotonic() + timeout_s, []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            lines.append(line)
            if ready in line or time.monotonic() > deadline:
                break
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return "".join(lines)


@pytest.fixture(scope="module")
def tiny_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WSGI app that starts at once: the warning comes from gunicorn's master, before any app is loaded."""
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "tiny_wsgi.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n")
    return folder


def _gunicorn(tiny_app: Path, args: list[str], env: dict[str, str]) -> str:
    """gunicorn started in the project folder, where it reads ``gunicorn.conf.py``."""
    command = [sys.executable, "-m", "gunicorn", "--no-control-socket", "--pythonpath", str(tiny_app),
               "--workers", "1", *args, "tiny_wsgi:app"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    return _output_until(proc, "Booting worker", 60)


@pytest.mark.slow
@pytest.mark.parametrize(("bind", "via_env", "auth", "warns"), [
    ("0.0.0.0", False, None, True), ("0.0.0.0", True, None, True), ("127.0.0.1", False, None, False),
    ("0.0.0.0", False, "ann:secret", False),
])
def test_gunicorn_warns_about_the_address_it_really_bound(tiny_app, bind, via_env, auth, warns):
    address = f"{bind}:{free_port()}"
    env = _clean_env(**({"GUNICORN_CMD_ARGS": f"--bind {address}"} if via_env else {}),
                     **({"CUSTINTEL_AUTH": auth} if auth else {}))
    output = _gunicorn(tiny_app, [] if via_env else ["--bind", address], env)
    assert f"Listening at: http://{address}" in output, output[-2000:]
    assert (f"gunicorn: warning: listening on {bind} {WARNING}" in output) is warns, output[-2000:]


@pytest.fixture(scope="module")
def app_runs(small_dir: Path) -> Iterator[dict[str, str]]:  # noqa: F811
    """``python app.py`` output for: exposed without auth, exposed with auth, loopback (started together)."""
    cases = {"exposed": ("0.0.0.0", None), "with auth": ("0.0.0.0", "ann:secret"), "loopback": ("127.0.0.1", None)}
    procs = {}
    for name, (host, auth) in cases.items():
        env = _clean_env(CUSTINTEL_DATA_DIR=str(small_dir), CUSTINTEL_HOST=host, CUSTINTEL_PORT=str(free_port()),
                         CUSTINTEL_CACHE_DIR="off", **({"CUSTINTEL_AUTH": auth} if auth else {}))
        procs[name] = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
    yield {name: _output_until(proc, "Running on", 180) for name, proc in procs.items()}


@pytest.mark.slow
@pytest.mark.parametrize(("case", "warns"), [("exposed", True), ("with auth", False), ("loopback", False)])
def test_python_app_py_warns_only_when_exposed_without_auth(app_runs, case, warns):
    output = app_runs[case]
    assert "Running on" in output, output[-2000:]
    assert (f"python app.py: warning: listening on 0.0.0.0 {WARNING}" in output) is warns, output[-2000:]
