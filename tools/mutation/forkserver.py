"""A pytest fork server for the mutation run: each mutant's tests start in milliseconds, not seconds.

cosmic-ray runs its test command once per mutant, and most of each run was spent importing numpy,
scipy.stats, pandas and hypothesis (5-8 s on 2 cores against 1-3 s of tests). The server imports
those once; for each request it forks, and the child runs ``pytest.main`` in the request's folder
and sends back its exit status and output. Nothing of ``reveal`` is ever imported in the server,
so every child imports the module as cosmic-ray has just mutated it on disk.

    python forkserver.py serve SOCKET          # run.py starts and stops it
    python forkserver.py run SOCKET ARGS...    # the test command: pytest ARGS, exit status of pytest

When the client goes away (cosmic-ray's timeout kills it), the child is killed with it. Written
here because pytest-xdist and pytest-forked fork per test after collecting, and cosmic-ray needs a
new collection (a fresh import of the mutated module) per mutant.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import tempfile

# what every module's tests import and what is slow to import; never anything of reveal
PRELOAD = ("numpy", "numba", "pandas", "scipy.stats", "scipy.ndimage", "scipy.optimize", "PIL.Image", "skimage",
           "hypothesis", "hypothesis.extra.numpy", "pytest", "xdist.plugin")


def _run_child(request: dict, out_path: str) -> None:
    """In the forked child: run pytest as asked, its output to ``out_path``; never returns."""
    import pytest

    code = 3
    try:
        os.setsid()
        os.chdir(request["cwd"])
        fd = os.open(out_path, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        code = int(pytest.main(request["args"]))
    finally:
        os._exit(code)


def _serve_one(conn: socket.socket) -> None:
    request = json.loads(conn.makefile("r").readline())
    with tempfile.NamedTemporaryFile("rb", prefix="mutation-out-") as out:
        pid = os.fork()
        if pid == 0:
            conn.close()
            _run_child(request, out.name)
        while True:
            finished, raw = os.waitpid(pid, os.WNOHANG)
            if finished:
                status = os.waitstatus_to_exitcode(raw)
                break
            ready, _, _ = select.select([conn], [], [], 0.05)
            if ready and not conn.recv(1):  # the client is gone: its timeout struck
                try:
                    os.killpg(pid, signal.SIGKILL)  # the child and whatever it started
                except ProcessLookupError:  # not yet its own group
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
        output = out.read().decode(errors="replace")
    conn.sendall((json.dumps({"status": status, "output": output}) + "\n").encode())


def serve(path: str) -> None:
    import importlib

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS thread pool to fork across
    for name in PRELOAD:
        importlib.import_module(name)
    assert not any(m == "reveal" or m.startswith("reveal.") for m in sys.modules), "reveal imported in the server"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            _serve_one(conn)


def run(path: str, args: list[str]) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        conn.sendall((json.dumps({"cwd": os.getcwd(), "args": args}) + "\n").encode())
        reply = json.loads(conn.makefile("r").readline())
    sys.stdout.write(reply["output"])
    return reply["status"]


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(run(sys.argv[2], sys.argv[3:]))
