"""Mutation testing of the result-deciding modules with cosmic-ray (issue 31), resumable.

    python tools/mutation/run.py                  # every module of modules.toml
    python tools/mutation/run.py core/seeding.py  # some of them
    python tools/mutation/run.py --report         # counts and surviving mutants so far (kept in results.json)
    python tools/mutation/run.py --retest-survivors core/outputs.py  # after adding tests
    python tools/mutation/run.py --lane 1 analysis/curves.py  # beside a run of other modules, in its own worktree

cosmic-ray mutates a file in place, runs the tests, and restores it. So that this never touches
the checkout being worked in, the run happens in a git worktree of HEAD under ``.mutation/``
(ignored by git), imported as ``reveal.*`` through a folder of symbolic links on PYTHONPATH (the
editable install maps ``reveal.core`` to the checkout's own ``core/``; a path entry wins over
it). Each module's session is a SQLite file there: an interrupted run goes on where it stopped;
a commit that changes a module starts that module's session afresh. Lines marked ``# pragma: no mutate`` (equivalent
mutants, with the reason on the line) are skipped.

The operators are the faults a study's code plausibly has (see ``keeps``): every wrong constant,
negated condition, dropped sign, swapped boolean, skipped loop or step, and, for each arithmetic or
comparison operator, its near misses (``+``/``-``, ``*``/``/``, ``//``/``/``, ``<``/``<=``, ``<``/``>``,
``==``/``!=``, ``is``/``is not``, ...). cosmic-ray's full cross product (``-`` to ``<<``, ``>>``,
``^``, ``|``, ...) triples the count; a test that notices ``-`` → ``+`` notices those too, and the
rest are type errors, so they are left out (mutmut makes the same choice).
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".mutation"
PACKAGES = ("core", "stimuli", "experiments", "analysis", "models", "cli")
BIN = Path(sys.executable).parent  # cosmic-ray's commands, from this interpreter's environment

# near misses of each operator: (from, to) pairs of cosmic-ray's operator names
NEAR_BINARY = {("Add", "Sub"), ("Sub", "Add"), ("Mul", "Div"), ("Div", "Mul"), ("FloorDiv", "Div"),
               ("Div", "FloorDiv"), ("Mod", "FloorDiv"), ("Pow", "Mul"), ("BitAnd", "BitOr"),
               ("BitOr", "BitAnd"), ("BitXor", "BitOr"), ("LShift", "RShift"), ("RShift", "LShift"),
               ("MatMult", "Mul")}
NEAR_COMPARISON = {("Lt", "LtE"), ("LtE", "Lt"), ("Gt", "GtE"), ("GtE", "Gt"), ("Lt", "Gt"), ("Gt", "Lt"),
                   ("LtE", "GtE"), ("GtE", "LtE"), ("Eq", "NotEq"), ("NotEq", "Eq"), ("Is", "IsNot"),
                   ("IsNot", "Is"), ("In", "NotIn"), ("NotIn", "In")}


def keeps(operator: str) -> bool:
    """Whether a cosmic-ray operator (``core/ReplaceBinaryOperator_Sub_Add``) is one this run uses."""
    name = operator.split("/")[-1]
    if match := re.fullmatch(r"ReplaceBinaryOperator_(\w+?)_(\w+)", name):
        return match.groups() in NEAR_BINARY
    if match := re.fullmatch(r"ReplaceComparisonOperator_(\w+?)_(\w+)", name):
        return match.groups() in NEAR_COMPARISON
    if name.startswith("ReplaceUnaryOperator_"):
        return name.startswith("ReplaceUnaryOperator_Delete_")  # dropping the sign or the `not`
    return True


def _delete_jobs(con: sqlite3.Connection, jobs: list) -> None:
    """Remove mutants from a session: their results, specs and work items."""
    for table in ("work_results", "mutation_specs", "work_items"):
        con.executemany(f"DELETE FROM {table} WHERE job_id = ?", [(j,) for j in jobs])


def _drop_far_operators(db: Path) -> int:
    """Remove the mutants of operators :func:`keeps` leaves out from a session (not yet run or run)."""
    with sqlite3.connect(db) as con:
        far = [job for job, op in con.execute("SELECT job_id, operator_name FROM mutation_specs") if not keeps(op)]
        _delete_jobs(con, far)
    return len(far)


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every annotation, as (row, col), in a module with postponed annotations."""
    tree = ast.parse(source)
    if not any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
               and any(alias.name == "annotations" for alias in node.names) for node in tree.body):
        return []  # evaluated at import: a mutant there fails at import, so it is run
    notes = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            notes += [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs,
                                             args.vararg, args.kwarg) if a is not None and a.annotation]
            notes += [node.returns] if node.returns else []
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
    return [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in notes]


def _in_spans(start, end, spans) -> bool:
    return any(lo <= tuple(start) and tuple(end) <= hi for lo, hi in spans)


def _drop_annotation_mutants(db: Path, source: str) -> int:
    """Remove the mutants inside annotations (``int | None`` → ``int & None``): with
    ``from __future__ import annotations`` they are text that nothing runs, so no test can tell."""
    spans = _annotation_spans(source)
    with sqlite3.connect(db) as con:
        inside = [job for job, *pos in con.execute(
                      "SELECT job_id, start_pos_row, start_pos_col, end_pos_row, end_pos_col FROM mutation_specs")
                  if _in_spans(pos[:2], pos[2:], spans)]
        _delete_jobs(con, inside)
    return len(inside)


def retest_survivors(db: Path) -> int:
    """Make a session's survivors pending again (after tests were added); returns how many."""
    with sqlite3.connect(db) as con:
        return con.execute("DELETE FROM work_results WHERE upper(test_outcome) = 'SURVIVED'").rowcount


def _git(*args, cwd=REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _lane(name: str, lane: int) -> Path:
    """``.mutation/<name>`` of lane 0, ``.mutation/<name>-<lane>`` of the others: a lane's own worktree."""
    return WORK / (f"{name}-{lane}" if lane else name)


def prepare(lane: int = 0) -> Path:
    """The lane's worktree, moved to HEAD (restored if a killed run left a mutant applied), and its shim."""
    tree, head = _lane("tree", lane), _git("rev-parse", "HEAD")
    if not tree.exists():
        WORK.mkdir(exist_ok=True)
        _git("worktree", "add", "--detach", str(tree), head)
    # a run killed while a mutant was applied leaves that file mutated: restore before resuming
    _git("checkout", "--force", "--detach", head, cwd=tree)
    shim = _lane("shim", lane) / "reveal"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").touch()
    for name in PACKAGES:
        link = shim / name
        if not link.is_symlink():
            link.symlink_to(tree / name, target_is_directory=True)
    return tree


FORKSERVER = Path(__file__).with_name("forkserver.py")


def _config(module: str, spec: dict, lane: int = 0) -> str:
    # the module's own examples too, as the fast loop runs them (tests/test_doctests.py)
    dotted = "reveal." + module.removesuffix(".py").replace("/", ".")
    tests = " ".join([*spec["tests"], f"--doctest-modules --pyargs {dotted}",
                      *([f"-k 'not ({spec['deselect']})'"] if "deselect" in spec else [])])
    # pytest through the fork server: the heavy imports are made once, not once per mutant
    socket = _lane("forkserver", lane).with_suffix(".sock")
    command = f"{sys.executable} {FORKSERVER} run {socket} -x -q -p no:cacheprovider -p no:warnings {tests}"
    return (f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {float(spec.get("timeout", 300))}\n'
            f'excluded-modules = []\ntest-command = "{command}"\n\n[cosmic-ray.distributor]\nname = "local"\n')


def _same_code(blob_a: str, blob_b: str) -> bool:
    """Whether two versions of a module differ in comments only, every statement on the same line.

    Then each mutant of one is the same mutant of the other, and a session goes on: adding a
    ``# pragma: no mutate`` with its reason does not cost a module's whole pass again.
    """
    def tree(blob):
        return ast.dump(ast.parse(_git("cat-file", "blob", blob)), include_attributes=True)
    return tree(blob_a) == tree(blob_b)


def _session(module: str) -> Path:
    return WORK / "sessions" / f"{module.replace('/', '__').removesuffix('.py')}.sqlite"


def _start_forkserver(tree: Path, env: dict, lane: int) -> subprocess.Popen:
    """The lane's fork server (forkserver.py), started in its worktree with the run's environment."""
    socket = _lane("forkserver", lane).with_suffix(".sock")
    socket.unlink(missing_ok=True)  # left by a run that was killed
    server = subprocess.Popen([sys.executable, str(FORKSERVER), "serve", str(socket)], cwd=tree, env=env,
                              stdout=subprocess.PIPE, text=True)
    if server.stdout.readline().strip() != "ready":
        raise SystemExit(f"the fork server did not start (exit {server.wait()})")
    return server


def run_module(tree: Path, module: str, spec: dict, env: dict, lane: int = 0) -> None:
    db = _session(module)
    db.parent.mkdir(parents=True, exist_ok=True)
    config, seen = db.with_suffix(".toml"), db.with_suffix(".blob")
    config.write_text(_config(module, spec, lane))
    # a session holds the mutants of one version of the module: a changed module starts afresh
    # (a commit that changes only tests keeps the results so far). The first pass's counts are
    # kept: handling its survivors is what changes the module, and they are the "before".
    blob = _git("rev-parse", f"HEAD:{module}")
    old = seen.read_text().strip() if seen.exists() else None
    if db.exists() and old != blob:
        if old and _same_code(old, blob):
            print(f"{module}: only comments changed (pragmas added): its session goes on")
        else:
            print(f"{module} changed: its session starts afresh")
            db.unlink()
    seen.write_text(blob)
    if not db.exists():
        # the tests must pass on the unmutated module, or every mutant would count as killed
        if subprocess.run([str(BIN / "cosmic-ray"), "baseline", str(config)], cwd=tree, env=env).returncode:
            raise SystemExit(f"{module}: its tests fail on the unmutated module (cosmic-ray baseline)")
        subprocess.run([str(BIN / "cosmic-ray"), "init", str(config), str(db)], cwd=tree, env=env, check=True)
    # marks the mutants of `# pragma: no mutate` lines equivalent, also in a session that goes on
    subprocess.run([str(BIN / "cr-filter-pragma"), str(db)], cwd=tree, env=env, check=True)
    _drop_far_operators(db)
    _drop_annotation_mutants(db, (tree / module).read_text())
    subprocess.run([str(BIN / "cosmic-ray"), "exec", str(config), str(db)], cwd=tree, env=env, check=True)


def report(modules) -> list[dict]:
    """Per module: mutants, killed, survived, equivalent (pragma), incompetent, pending, and the survivors."""
    rows = []
    for module in modules:
        db = _session(module)
        if not db.exists():
            continue
        _drop_far_operators(db)  # sessions begun before the operator set was narrowed
        # sessions begun before annotations were left out: counted without them (not deleted
        # here, where a run may be using the session)
        seen = db.with_suffix(".blob")
        spans = _annotation_spans(_git("cat-file", "blob", seen.read_text().strip())) if seen.exists() else []
        dump = subprocess.run([str(BIN / "cosmic-ray"), "dump", str(db)], capture_output=True, text=True,
                              check=True).stdout
        counts, survivors = Counter(), []
        for line in dump.splitlines():
            item, result = json.loads(line)
            m = item["mutations"][0]
            if _in_spans(m["start_pos"], m["end_pos"], spans):
                continue
            counts["mutants"] += 1
            if result is None:
                counts["pending"] += 1
            elif result["worker_outcome"] == "skipped":
                counts["equivalent"] += 1
            elif result["worker_outcome"] != "normal":
                counts[result["worker_outcome"]] += 1
            elif result["test_outcome"] == "survived":
                counts["survived"] += 1
                survivors.append(f"{m['module_path']}:{m['start_pos'][0]} {m['operator_name']} #{m['occurrence']}")
            else:
                counts[result["test_outcome"]] += 1
        done = counts["killed"] + counts["survived"]
        keys = ("mutants", "killed", "survived", "equivalent", "incompetent", "pending")
        row = {"module": module, **{k: counts[k] for k in keys}, **counts,
               "score": counts["killed"] / done if done else float("nan"), "survivors": survivors}
        # the first complete pass, before any survivor was handled: the "before" of the closing table
        first = db.with_suffix(".first.json")
        if not first.exists() and row["pending"] == 0:
            first.write_text(json.dumps({k: row[k] for k in keys}))
        row["first"] = json.loads(first.read_text()) if first.exists() else None
        rows.append(row)
    return rows


def record_results(rows) -> None:
    """Keep each module's counts in ``tools/mutation/results.json`` (committed).

    The sessions under ``.mutation/`` are ignored by git and lost with the machine; this file keeps
    what they found: per module, the first complete pass (the "before") and the latest counts,
    the module version (git blob) they are of, and the surviving mutants.
    """
    if not rows:
        return
    path = Path(__file__).with_name("results.json")
    kept = json.loads(path.read_text()) if path.exists() else {}
    for row in rows:
        module = row["module"]
        old = kept.get(module, {})
        seen = _session(module).with_suffix(".blob")  # the version the session mutated (HEAD may be newer)
        kept[module] = {
            "blob": seen.read_text().strip() if seen.exists() else _git("rev-parse", f"HEAD:{module}"),
            "first": row["first"] or old.get("first"),
            "latest": {k: row[k] for k in ("mutants", "killed", "survived", "equivalent", "incompetent", "pending")},
            "survivors": row["survivors"],
        }
    path.write_text(json.dumps(dict(sorted(kept.items())), indent=1) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help="modules of modules.toml (default: all)")
    ap.add_argument("--report", action="store_true", help="only print the counts so far")
    ap.add_argument("--retest-survivors", action="store_true",
                    help="run the surviving mutants again (after tests were added), then the rest")
    ap.add_argument("--lane", type=int, default=0,
                    help="run in worktree N, so that two runs on different modules can go side by side")
    args = ap.parse_args(argv)
    config = tomllib.loads((Path(__file__).with_name("modules.toml")).read_text())["modules"]
    unknown = [m for m in args.modules if m not in config]
    if unknown:
        ap.error(f"not in tools/mutation/modules.toml: {', '.join(unknown)}")
    modules = args.modules or list(config)
    if not args.report:
        tree = prepare(args.lane)
        env = dict(os.environ, PYTHONPATH=str(_lane("shim", args.lane)), PYTHONDONTWRITEBYTECODE="1")
        server = _start_forkserver(tree, env, args.lane)
        try:
            for module in modules:
                if args.retest_survivors and _session(module).exists():
                    report([module])  # keeps the first pass's counts before they change
                    print(f"{module}: {retest_survivors(_session(module))} survivors to run again")
                run_module(tree, module, config[module], env, args.lane)
        finally:
            server.kill()
            _lane("forkserver", args.lane).with_suffix(".sock").unlink(missing_ok=True)
    rows = report(modules)
    record_results(rows)
    for row in rows:
        print(f"{row['module']}: {row['mutants']} mutants, {row['killed']} killed, {row['survived']} survived, "
              f"{row['equivalent']} equivalent, {row['incompetent']} incompetent, {row['pending']} pending; "
              f"score {row['score']:.0%}")
        if row["first"] and row["first"] != {k: row[k] for k in row["first"]}:
            f = row["first"]
            print(f"  first pass: {f['killed']} killed, {f['survived']} survived, {f['equivalent']} equivalent")
        for s in row["survivors"]:
            print(f"  survived: {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
