"""The shared result cache never runs code from a file it did not write, and recovers from disk faults.

A planted pickle would run code when loaded. It must never be loaded: not from a folder owned by another
user, not from a folder others can write, and not from our own folder unless it carries our signature.
The checks run as the current user and, when the tests run as root, again as an unprivileged user.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from metrics import shared_cache
from metrics.cache import ResultCache
from metrics.shared_cache import SharedStore, Stored

ROOT = Path(__file__).resolve().parent.parent
KEY = ("metrics.example", ("state",))
NOBODY = 65534


class Planted:
    """Unpickling this writes a marker file: proof that a planted file ran code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("code ran",))


def plant(folder: Path, marker: Path) -> Path:
    """A pickle at the file name the store would read for KEY."""
    path = folder / f"{SharedStore.key_name(KEY)}.pkl"
    path.write_bytes(pickle.dumps(Planted(str(marker))))
    return path


def test_an_unsigned_file_in_our_own_folder_is_deleted_unread(tmp_path):
    store = SharedStore(tmp_path / "cache", "gen", max_bytes=10**7)
    marker = tmp_path / "marker"
    planted = plant(store.folder, marker)
    cache = ResultCache(store=store)
    assert cache.get_or_compute(KEY, lambda: {"computed": True}) == {"computed": True}
    assert not marker.exists() and store.rejected == 1
    assert store.get(KEY) == (True, {"computed": True}) and planted.exists()  # our own signed result now


def test_a_signed_file_from_another_cache_or_another_key_is_refused(tmp_path):
    ours = SharedStore(tmp_path / "ours", "gen", max_bytes=10**7)
    theirs = SharedStore(tmp_path / "theirs", "gen", max_bytes=10**7)
    theirs.put(KEY, [1, 2, 3])
    shutil.copy(theirs._path(KEY), ours._path(KEY))  # signed, but with another secret
    assert ours.get(KEY) == (False, None)
    ours.put(("other", ()), [4])
    shutil.copy(ours._path(("other", ())), ours._path(KEY))  # our secret, but another key's file
    assert ours.get(KEY) == (False, None)


@pytest.mark.parametrize("problem", ["world-writable", "group-writable", "symlink"])
def test_a_folder_others_can_write_is_refused_with_a_warning(tmp_path, caplog, problem):
    root = tmp_path / "cache"
    if problem == "symlink":
        (tmp_path / "elsewhere").mkdir()
        root.symlink_to(tmp_path / "elsewhere")
    else:
        root.mkdir()
        os.chmod(root, 0o777 if problem == "world-writable" else 0o770)
    (root / "gen").mkdir(exist_ok=True)
    marker = tmp_path / "marker"
    plant(root / "gen", marker)
    with caplog.at_level(logging.WARNING, logger="custintel.cache"):
        assert SharedStore.open(root, "gen", max_bytes=10**7) is None
    assert "shared result cache off" in caplog.text and str(root) in caplog.text
    assert not marker.exists()


def test_a_folder_owned_by_another_user_is_refused(tmp_path, caplog):
    if os.geteuid() != 0:
        pytest.skip("changing a folder's owner needs root (the unprivileged case runs in the next test)")
    root = tmp_path / "cache"
    (root / "gen").mkdir(parents=True, mode=0o755)
    os.chmod(root, 0o755)
    marker = tmp_path / "marker"
    plant(root / "gen", marker)
    os.chown(root, NOBODY, NOBODY)  # a folder another user created first, however strict its mode
    with caplog.at_level(logging.WARNING, logger="custintel.cache"):
        assert SharedStore.open(root, "gen", max_bytes=10**7) is None
    assert f"belongs to user id {NOBODY}" in caplog.text and not marker.exists()


@pytest.fixture()
def shared_tmp():
    """A temporary folder another user can enter (the test's own temporary folder is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="custintel-safety-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_unprivileged_server_refuses_foreign_folders_too(shared_tmp):
    """Root plants files; a server running as an ordinary user must not load any of them."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user")
    tmp_path = shared_tmp
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, NOBODY, NOBODY)
    foreign = tmp_path / "foreign"  # root's folder, readable by all
    (foreign / "gen").mkdir(parents=True)
    os.chmod(foreign, 0o755)
    os.chmod(foreign / "gen", 0o755)
    open_world = tmp_path / "open"  # writable by everyone
    (open_world / "gen").mkdir(parents=True)
    os.chmod(open_world, 0o777)
    marker = work / "marker"
    for folder in (foreign, open_world):
        plant(folder / "gen", marker)
        os.chmod(folder / "gen" / f"{SharedStore.key_name(KEY)}.pkl", 0o644)
    script = textwrap.dedent(f"""
        import json, os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from metrics.shared_cache import SharedStore  # imported first: the interpreter may be root's alone
        os.setgid({NOBODY}); os.setuid({NOBODY})
        results = {{}}
        for folder in ({str(foreign)!r}, {str(open_world)!r}):
            results[folder] = SharedStore.open(folder, "gen", max_bytes=10**7) is None
        own = SharedStore({str(work / "own")!r}, "gen", max_bytes=10**7)
        path = own._path({KEY!r})
        with open({str(foreign / "gen" / SharedStore.key_name(KEY))!r} + ".pkl", "rb") as planted:
            path.write_bytes(planted.read())
        results["own"] = own.get({KEY!r})[0]
        print(json.dumps(results))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=work,
                          env={**os.environ, "HOME": str(work)})
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results == {str(foreign): True, str(open_world): True, "own": False}
    assert not marker.exists()


def test_the_default_folder_is_in_the_users_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert shared_cache.default_cache_dir() == str(tmp_path / ".cache" / "custintel")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert shared_cache.default_cache_dir() == str(tmp_path / "xdg" / "custintel")


def test_a_full_disk_leaves_no_temporary_file_and_sharing_resumes(tmp_path, monkeypatch):
    store = SharedStore(tmp_path / "cache", "gen", max_bytes=10**7)
    cache = ResultCache(store=store)
    real_replace = os.replace

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert cache.get_or_compute(KEY, lambda: [1]) == [1]  # the page still gets its answer
    assert not list(store.folder.glob(".tmp-*")) and store.failed_writes == 1
    assert "metrics.example" not in cache._memory_only  # a disk fault does not turn sharing off for good
    assert store.put(("later", ()), [2]) is Stored.FAILED  # paused for a while rather than hammering the disk

    monkeypatch.setattr(os, "replace", real_replace)
    monkeypatch.setattr(store, "_paused_until", 0.0)  # the pause has passed
    assert store.put(("later", ()), [2]) is Stored.STORED and store.get(("later", ())) == (True, [2])


def test_a_deleted_folder_is_created_again(tmp_path):
    store = SharedStore(tmp_path / "cache", "gen", max_bytes=10**7)
    shutil.rmtree(tmp_path / "cache")
    assert store.get(KEY) == (False, None)
    assert store.put(KEY, {"a": 1}) is Stored.STORED
    assert store.get(KEY) == (True, {"a": 1})
    assert (os.stat(store.root).st_mode & 0o777) == 0o700


def test_lock_files_go_with_their_computation_and_leftovers_are_pruned(tmp_path):
    store = SharedStore(tmp_path / "cache", "gen", max_bytes=10**7)
    cache = ResultCache(store=store)
    for i in range(5):
        cache.get_or_compute(("metric", (i,)), lambda i=i: [i])
    assert not list(store.folder.glob("*.lock"))
    old = time.time() - shared_cache.STALE_S - 10
    for name in (".tmp-killed", "dead.lock"):
        (store.folder / name).write_bytes(b"x")
        os.utime(store.folder / name, (old, old))
    (store.folder / "busy.lock").write_bytes(b"")  # fresh: may belong to a computation under way
    store.prune()
    assert sorted(p.name for p in store.folder.iterdir() if not p.name.endswith(".pkl")) == ["busy.lock"]
    assert json.dumps(cache.stats())  # counters stay plain numbers
