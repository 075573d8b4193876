"""A set's own reveal levels: ``RevealParams.levels`` and ``reveal stimuli build --levels``."""
from __future__ import annotations

import json

import pytest

from reveal.cli.main import main
from reveal.core.stimset import read_stimulus_set
from reveal.stimuli import RevealParams, build_stimulus_set


def _args(inputs, out, *extra):
    return ["stimuli", "build", "--images", str(inputs["images"]), "--maps", f"a={inputs['maps']['a']}",
            "--maps", f"b={inputs['maps']['b']}", "--categories", str(inputs["categories"]), "--out", str(out),
            "--size", "48", "--no-progress", *extra]


def test_reveal_params_checks_and_normalises_levels():
    assert RevealParams(levels=(1, 10, 100)).levels == (1.0, 10.0, 100.0)
    assert RevealParams(levels=(1, 10, 100)) == RevealParams(levels=(1.0, 10.0, 100.0))
    assert len(RevealParams().levels) == 11
    with pytest.raises(ValueError, match="strictly increasing"):
        RevealParams(levels=(10, 1))
    with pytest.raises(ValueError, match="at least one"):
        RevealParams(levels=())


def test_cli_levels_build_a_set_with_its_own_conditions(inputs, tmp_path):
    out = tmp_path / "set"
    assert main(_args(inputs, out, "--levels", "1,10,100")) == 0
    s = read_stimulus_set(out, check_sizes=True)
    assert s.conditions == ("1", "10", "100", "full") and s.n_conditions == 4
    man = s.manifest
    assert len(man) == 4 * 2 * 4
    for (_, _), sub in man.groupby(["image_id", "map_source"]):
        assert sub["level"].tolist() == ["1", "10", "100", "full"]
        assert sub["level_index"].tolist() == ["0", "1", "2", "3"]
        px = sub["revealed_px"].astype(int).tolist()
        assert px[0] < px[1] < px[2] == int(sub["feature_budget"].iat[0])  # 100 % = the budget
    meta = json.loads((out / "stimset.json").read_text())
    assert meta["levels"] == ["1", "10", "100", "full"]
    assert meta["parameters"]["levels"] == [1.0, 10.0, 100.0]
    assert sorted(p.name for p in (out / "a").iterdir())[:3] == ["astronaut_L00.png", "astronaut_L01.png",
                                                                 "astronaut_L02.png"]
    # the same levels through the Python parameter: the same set (a rebuild, not a different set)
    again = build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], out,
                               RevealParams(size=48, levels=(1, 10, 100)), progress=False)
    assert again.n_stimuli == 32


def test_cli_levels_finer_steps_and_a_single_level(inputs, tmp_path):
    out = tmp_path / "fine"
    assert main(_args(inputs, out, "--levels", "2,2.5,3.2,4,5")) == 0
    assert read_stimulus_set(out).conditions == ("2", "2.5", "3.2", "4", "5", "full")
    out = tmp_path / "one"
    assert main(_args(inputs, out, "--levels", "50")) == 0
    assert read_stimulus_set(out).conditions == ("50", "full")


@pytest.mark.parametrize("value, words", [
    ("10,1", "strictly increasing: 1 follows 10"),
    ("1,10,10", "strictly increasing"),
    ("0,10", r"must lie in \(0, 100\]"),
    ("1,150", r"must lie in \(0, 100\]"),
    ("1,ten,100", "'ten' is not a number"),
    ("", "at least one reveal level|'' is not a number"),
    ("1.001,1.002", "both written '1'"),
])
def test_cli_bad_levels_exit_2_with_a_named_error(inputs, tmp_path, capsys, value, words):
    import re

    out = tmp_path / "set"
    assert main(_args(inputs, out, "--levels", value)) == 2
    err = capsys.readouterr().err
    assert err.startswith("reveal: error: --levels: ") and re.search(words, err), err
    assert not out.exists()  # refused before anything is written
