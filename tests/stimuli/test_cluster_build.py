"""``reveal stimuli build --scheduler``: the same stimulus set, built on a dask cluster.

The slow test starts a real scheduler and one worker (subprocesses of this interpreter, on
127.0.0.1) and checks that the set they build is byte for byte the one built here. The fast tests
check the errors that need no cluster: an address with nothing listening, ``--scheduler`` with
``--workers``, and ``$DASK_SCHEDULER_ADDRESS``.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from reveal.cli.main import main
from reveal.core import executors
from reveal.core.executors import SCHEDULER_ENV, scheduler_address

distributed = pytest.importorskip("distributed")

START_TIMEOUT = 60  # seconds for the scheduler and its worker to come up


def _dead_address():
    """A local port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def cluster(tmp_path):
    """A dask scheduler and one single-threaded worker: yields the scheduler's address."""
    logs = tmp_path / "cluster-logs"
    worker_home = tmp_path / "worker-cwd"  # the worker runs elsewhere: relative paths would go astray
    logs.mkdir()
    worker_home.mkdir()
    scheduler_file = tmp_path / "scheduler.json"
    procs = []
    try:
        with open(logs / "scheduler.log", "wb") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                 "--scheduler-file", str(scheduler_file), "--no-dashboard"],
                stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path))
        address, deadline = None, time.monotonic() + START_TIMEOUT
        while address is None:
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                if procs[0].poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the dask scheduler did not start:\n" + (logs / "scheduler.log").read_text())
                time.sleep(0.2)
        with open(logs / "worker.log", "wb") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
                 "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                 "--local-directory", str(tmp_path / "worker-space")],
                stdout=log, stderr=subprocess.STDOUT, cwd=worker_home))
        with distributed.Client(address, timeout="20s", set_as_default=False) as client:
            try:
                client.wait_for_workers(1, timeout=START_TIMEOUT)
            except (TimeoutError, OSError):
                pytest.fail("the dask worker did not join:\n" + (logs / "worker.log").read_text())
        yield address
    finally:
        for proc in reversed(procs):  # the worker first
            _stop(proc)


@pytest.mark.slow
def test_a_cluster_build_is_the_local_build_byte_for_byte(cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # a relative --out: the worker, in another folder, must get absolute paths
    t0 = time.monotonic()
    assert main(["stimuli", "build", "--sample", "--out", "A", "--seed", "1", "--no-progress"]) == 0
    t1 = time.monotonic()
    assert main(["stimuli", "build", "--sample", "--out", "B", "--seed", "1", "--no-progress",
                 "--scheduler", cluster]) == 0
    t2 = time.monotonic()
    print(f"local build {t1 - t0:.1f} s, cluster build {t2 - t1:.1f} s", file=sys.__stderr__)
    assert "written to B" in capsys.readouterr().out
    local, remote = _files(tmp_path / "A"), _files(tmp_path / "B")
    assert sum(name.endswith(".png") for name in local) > 50
    assert {"manifest.csv", "stimset.json", ".reveal-outputs.json"} <= set(local)
    assert sorted(remote) == sorted(local)
    assert [name for name in local if remote[name] != local[name]] == []
    # nothing landed in the worker's folder, and the sample's inputs (written next to --out) are gone
    assert not any((tmp_path / "worker-cwd").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("reveal-sample-")) == []


def test_scheduler_and_local_workers_together_is_an_error(tmp_path, capsys):
    out = tmp_path / "B"
    code = main(["stimuli", "build", "--sample", "--out", str(out), "--scheduler", "tcp://127.0.0.1:8786",
                 "--workers", "2", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--scheduler" in err and "--workers 2" in err and "one or the other" in err
    assert not out.exists()


@pytest.mark.slow  # waits out the 10 s connect timeout: the full suite, not the everyday loop
def test_no_scheduler_at_the_address_is_a_clean_error(tmp_path, capsys):
    address, out = _dead_address(), tmp_path / "B"
    t0 = time.monotonic()
    code = main(["stimuli", "build", "--sample", "--out", str(out), "--scheduler", address, "--no-progress"])
    elapsed = time.monotonic() - t0
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("reveal: error: no dask scheduler answered at " + address)
    assert "Traceback" not in err
    assert elapsed < 20
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the sample's temporary inputs are removed too


def test_the_scheduler_address_comes_from_the_environment(tmp_path, capsys, monkeypatch):
    address = _dead_address()
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "1s")
    monkeypatch.setenv(SCHEDULER_ENV, address)
    assert main(["stimuli", "build", "--sample", "--out", str(tmp_path / "B"), "--no-progress"]) == 2
    assert f"no dask scheduler answered at {address} within 1s" in capsys.readouterr().err
    assert not (tmp_path / "B").exists()


def test_the_option_and_local_workers_beat_the_environment():
    env = {SCHEDULER_ENV: "tcp://env:8786"}
    assert scheduler_address(None, 1, environ=env) == "tcp://env:8786"
    assert scheduler_address("tcp://option:8786", 1, environ=env) == "tcp://option:8786"
    assert scheduler_address(None, 4, environ=env) is None  # --workers 4 asks for local processes
    assert scheduler_address(None, 1, environ={SCHEDULER_ENV: ""}) is None
    assert scheduler_address(None, 1, environ={}) is None


def test_a_malformed_address_is_a_clean_error(tmp_path, capsys):
    code = main(["stimuli", "build", "--sample", "--out", str(tmp_path / "B"), "--scheduler", "127.0.0.1",
                 "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'127.0.0.1' is not a dask scheduler address" in err and "tcp://host:port" in err
