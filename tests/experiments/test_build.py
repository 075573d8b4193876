"""Build: the .psyexp loads back, compiles, and the scripts are valid Python / JavaScript."""
from __future__ import annotations

import json
import py_compile
import re
import shutil
import subprocess

import pytest

from reveal.core.trialdata import EXPERIMENT_COLUMNS
from reveal.experiments.builder import compile_experiment

# One build (the session's `built` fixture, ~10 s) is in the everyday loop, `pytest -m "not slow"`:
# it is what every lab and online session runs. Recompiling and the sample's own build are slow.


def test_folder_layout(built):
    folder = built["folder"]
    for key in ("psyexp", "py", "js", "legacy_js", "html"):
        assert built[key].is_file() and built[key].parent == folder
    assert built["js"].name == "rapidcat.js"
    assert built["legacy_js"].name == "rapidcat-legacy-browsers.js"
    info = json.loads((folder / "design.json").read_text())
    assert info["n_lists"] == 48 and info["sources"] == ["clickme", "salicon"]
    assert info["data_columns"] == list(EXPERIMENT_COLUMNS)
    assert len(list((folder / "conditions").glob("list*_blocks.csv"))) == 48
    assert (folder / "stimuli" / "manifest.csv").is_file()


@pytest.mark.slow
def test_psyexp_loads_back_and_recompiles(built, tmp_path):
    from psychopy import experiment

    exp = experiment.Experiment()
    exp.loadFromXML(str(built["psyexp"]))
    assert exp.name == "rapidcat"
    assert set(exp.routines) >= {"instructions", "rapid_trial", "feedback", "block_feedback",
                                 "goodbye"}
    loops = [e.loop.name for e in exp.flow if e.getType() == "LoopInitiator"]
    assert loops == ["training", "blocks", "trials"]
    code = exp.routines["rapid_trial"].getComponentFromName("trial_code")
    assert code.params["Code Type"].val == "Both"
    assert "addData" in code.params["End Routine"].val
    assert "psychoJS.experiment.addData" in code.params["End JS Routine"].val
    # compile again from the saved file, into another folder: same script body
    copy = tmp_path / "again"
    shutil.copytree(built["folder"], copy, ignore=shutil.ignore_patterns("*.py", "*.js", "index.html"))
    out = compile_experiment(copy / "rapidcat.psyexp")
    assert out["py"].is_file() and out["js"].is_file() and out["legacy_js"].is_file()


def test_python_script_compiles(built):
    py_compile.compile(str(built["py"]), doraise=True)
    text = built["py"].read_text(encoding="utf-8-sig")
    for col in EXPERIMENT_COLUMNS:
        if col in ("participant", "session", "group"):
            continue  # written from expInfo on every row (see builder)
        assert f"thisExp.addData('{col}'" in text


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed for node --check")
def test_javascript_parses(built, tmp_path):
    mjs = tmp_path / "rapidcat.mjs"
    shutil.copy(built["js"], mjs)
    for path in (mjs, built["legacy_js"]):
        r = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    text = built["js"].read_text(encoding="utf-8-sig")
    for col in EXPERIMENT_COLUMNS:
        assert f"psychoJS.experiment.addData('{col}'" in text


def _resources(js_text):
    return re.findall(r"\{'name': '([^']*)', 'path': '([^']*)'\}", js_text)


def test_js_loads_nothing_at_start_and_nothing_remote_but_lib(built):
    # what each participant downloads: test_online_js; at start-up only the placeholder
    text = built["js"].read_text(encoding="utf-8-sig")
    paths = {p for _, p in _resources(text)}
    assert paths == {"https://pavlovia.org/assets/default/default.png"}
    # code is imported only from ./lib (served by Pavlovia)
    imports = re.findall(r"^import .* from '([^']*)';", text, flags=re.M)
    assert imports and all(i.startswith("./lib/psychojs-") for i in imports)
    assert re.findall(r"src=\"(\./[^\"]+)\"", built["html"].read_text()) == [
        "./rapidcat.js", f"./lib/{imports[0].split('/lib/')[1].replace('.js', '.iife.js')}",
        "./rapidcat-legacy-browsers.js"]


SHARED = ("list_index", "group", "key_animal", "key_nonanimal", "refresh_hz", "stim_frames_target",
          "deadline_frames", "fb_frames", "rv_block_n", "rv_block_correct", "training_file",
          "blocks_file", "trial_rows", "block_rows", "training_rows", "rv_levels", "fixation_frames",
          "stim_frames", "correct", "timed_out", "response", "resp_key", "rt_s", "fb_msg", "fb_color",
          "block_msg", "instr_text", "level")


def test_js_shared_variables_declared_at_module_level(built):
    """Variables set in one routine and read in another must not be local to a function."""
    for path in (built["js"], built["legacy_js"]):
        text = path.read_text(encoding="utf-8-sig")
        top = set(re.findall(r"^var (\w+);", text, flags=re.M))
        missing = [n for n in SHARED if n not in top]
        assert not missing, (path.name, missing)
        for name in SHARED:
            assert not re.search(rf"^[ \t]+(let|var|const) {name}\b", text, flags=re.M), (path.name, name)


@pytest.mark.slow
def test_cli_build_on_bundled_sample(tmp_path, capsys):
    """`reveal stimuli build --sample` then `reveal experiment build` (the issue's done-when)."""
    from reveal.cli.main import main

    assert main(["stimuli", "build", "--sample", "--out", str(tmp_path / "sample")]) == 0
    assert main(["experiment", "build", "--stimuli", str(tmp_path / "sample"),
                 "--out", str(tmp_path / "exp"), "--name", "sample_rapidcat"]) == 0
    out = capsys.readouterr().out
    assert "4 test trials < 5 blocks: running 4 block(s) of one trial" in out
    py = tmp_path / "exp" / "sample_rapidcat.py"
    py_compile.compile(str(py), doraise=True)
    assert (tmp_path / "exp" / "sample_rapidcat.js").is_file()
    blocks = (tmp_path / "exp" / "conditions" / "list0_blocks.csv").read_text().splitlines()
    assert len(blocks) == 1 + 4


def test_cli_build_bad_input_exit_2(tmp_path, capsys):
    from reveal.cli.main import main

    (tmp_path / "empty").mkdir()
    assert main(["experiment", "build", "--stimuli", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "no manifest.csv" in capsys.readouterr().err


def test_online_files_load_the_tested_psychojs_release(built):
    from reveal.experiments.builder import DEFAULT_PSYCHOJS_VERSION

    html = built["html"].read_text(encoding="utf-8")
    js = built["js"].read_text(encoding="utf-8-sig")
    assert set(re.findall(r"lib/psychojs-([^\"']+?)\.(?:iife\.js|css|js)", html + js)) == {DEFAULT_PSYCHOJS_VERSION}
    assert json.loads((built["folder"] / "design.json").read_text())["psychojs_version"] == DEFAULT_PSYCHOJS_VERSION
    # the lab script runs the installed PsychoPy: no useVersion switch (it would fetch another from GitHub)
    assert "useVersion" not in built["py"].read_text(encoding="utf-8-sig")


def test_psychojs_version_renames_the_library_the_page_loads(built, tmp_path):
    from reveal.experiments.builder import set_psychojs_version

    paths = {}
    for key in ("html", "js"):
        paths[key] = tmp_path / built[key].name
        shutil.copy(built[key], paths[key])
    set_psychojs_version(paths, "2025.1.1")
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count("./lib/psychojs-2025.1.1.css") == 1 and html.count("./lib/psychojs-2025.1.1.iife.js") == 1
    assert "from './lib/psychojs-2025.1.1.js';" in paths["js"].read_text(encoding="utf-8-sig")
    # a compiler that names the library otherwise is an error, not a silently wrong export
    shutil.copy(built["js"], paths["js"])
    paths["html"].write_text("<html><script src='./lib/psychojs.js'></script></html>")
    with pytest.raises(RuntimeError, match="index.html does not load lib/psychojs-<version>"):
        set_psychojs_version(paths, "2025.1.1")


@pytest.mark.parametrize("bad", ["2024.2", "latest", "v2024.2.0", "2024.2.0; rm", ""])
def test_cli_build_refuses_a_psychojs_version_that_is_not_a_release(tmp_path, capsys, bad):
    from reveal.cli.main import main

    assert main(["experiment", "build", "--stimuli", str(tmp_path / "none"), "--out", str(tmp_path / "x"),
                 "--psychojs-version", bad]) == 2
    assert "--psychojs-version takes a PsychoJS release such as 2024.2.0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
