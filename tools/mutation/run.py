"""Mutation testing of the result-deciding modules with cosmic-ray (issue 31), resumable.

    python tools/mutation/run.py                  # every module of modules.toml
    python tools/mutation/run.py core/seeding.py  # some of them
    python tools/mutation/run.py --report         # counts and surviving mutants so far

cosmic-ray mutates a file in place, runs the tests, and restores it. So that this never touches
the checkout being worked in, the run happens in a git worktree of HEAD under ``.mutation/``
(ignored by git), imported as ``reveal.*`` through a folder of symbolic links on PYTHONPATH (the
editable install maps ``reveal.core`` to the checkout's own ``core/``; a path entry wins over
it). Each module's session is a SQLite file there: an interrupted run goes on where it stopped;
a commit that changes a module starts that module's session afresh. Lines marked ``# pragma: no mutate`` (equivalent
mutants, with the reason on the line) are skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".mutation"
PACKAGES = ("core", "stimuli", "experiments", "analysis", "models", "cli")


def _git(*args, cwd=REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def prepare() -> Path:
    """The worktree, moved to HEAD (restored if a killed run left a mutant applied), and the shim."""
    tree, head = WORK / "tree", _git("rev-parse", "HEAD")
    if not tree.exists():
        WORK.mkdir(exist_ok=True)
        _git("worktree", "add", "--detach", str(tree), head)
    # a run killed while a mutant was applied leaves that file mutated: restore before resuming
    _git("checkout", "--force", "--detach", head, cwd=tree)
    shim = WORK / "shim" / "reveal"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "__init__.py").touch()
    for name in PACKAGES:
        link = shim / name
        if not link.is_symlink():
            link.symlink_to(tree / name, target_is_directory=True)
    return tree


def _config(module: str, spec: dict) -> str:
    tests = " ".join(spec["tests"])
    command = f"{sys.executable} -m pytest -x -q -p no:cacheprovider -p no:warnings {tests}"
    return (f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {float(spec.get("timeout", 300))}\n'
            f'excluded-modules = []\ntest-command = "{command}"\n\n[cosmic-ray.distributor]\nname = "local"\n')


def run_module(tree: Path, module: str, spec: dict, env: dict) -> None:
    sessions = WORK / "sessions"
    sessions.mkdir(exist_ok=True)
    stem = module.replace("/", "__").removesuffix(".py")
    config, db = sessions / f"{stem}.toml", sessions / f"{stem}.sqlite"
    config.write_text(_config(module, spec))
    # a session holds the mutants of one version of the module: a changed module starts afresh
    # (a commit that changes only tests keeps the results so far)
    blob, seen = _git("rev-parse", f"HEAD:{module}"), sessions / f"{stem}.blob"
    if db.exists() and (not seen.exists() or seen.read_text() != blob):
        print(f"{module} changed: its session starts afresh")
        db.unlink()
    seen.write_text(blob)
    if not db.exists():
        subprocess.run(["cosmic-ray", "init", str(config), str(db)], cwd=tree, env=env, check=True)
        subprocess.run(["cr-filter-pragma", str(db)], cwd=tree, env=env, check=True)
    subprocess.run(["cosmic-ray", "exec", str(config), str(db)], cwd=tree, env=env, check=True)


def report(modules) -> list[dict]:
    """Per module: mutants, killed, survived, equivalent (pragma), incompetent, pending, and the survivors."""
    rows = []
    for module in modules:
        db = WORK / "sessions" / f"{module.replace('/', '__').removesuffix('.py')}.sqlite"
        if not db.exists():
            continue
        dump = subprocess.run(["cosmic-ray", "dump", str(db)], capture_output=True, text=True, check=True).stdout
        counts, survivors = Counter(), []
        for line in dump.splitlines():
            item, result = json.loads(line)
            counts["mutants"] += 1
            if result is None:
                counts["pending"] += 1
            elif result["worker_outcome"] == "skipped":
                counts["equivalent"] += 1
            elif result["worker_outcome"] != "normal":
                counts[result["worker_outcome"]] += 1
            elif result["test_outcome"] == "survived":
                counts["survived"] += 1
                m = item["mutations"][0]
                survivors.append(f"{m['module_path']}:{m['start_pos'][0]} {m['operator_name']} #{m['occurrence']}")
            else:
                counts[result["test_outcome"]] += 1
        done = counts["killed"] + counts["survived"]
        keys = ("mutants", "killed", "survived", "equivalent", "incompetent", "pending")
        rows.append({"module": module, **{k: counts[k] for k in keys}, **counts,
                     "score": counts["killed"] / done if done else float("nan"),
                     "survivors": survivors})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help="modules of modules.toml (default: all)")
    ap.add_argument("--report", action="store_true", help="only print the counts so far")
    args = ap.parse_args(argv)
    config = tomllib.loads((Path(__file__).with_name("modules.toml")).read_text())["modules"]
    unknown = [m for m in args.modules if m not in config]
    if unknown:
        ap.error(f"not in tools/mutation/modules.toml: {', '.join(unknown)}")
    modules = args.modules or list(config)
    if not args.report:
        tree = prepare()
        env = dict(os.environ, PYTHONPATH=str(WORK / "shim"), PYTHONDONTWRITEBYTECODE="1")
        for module in modules:
            run_module(tree, module, config[module], env)
    for row in report(modules):
        print(f"{row['module']}: {row['mutants']} mutants, {row['killed']} killed, {row['survived']} survived, "
              f"{row['equivalent']} equivalent, {row['incompetent']} incompetent, {row['pending']} pending; "
              f"score {row['score']:.0%}")
        for s in row["survivors"]:
            print(f"  survived: {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
