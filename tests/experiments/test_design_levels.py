"""The trial design, the experiment's setup code and power for a set with its own levels (1, 10, 100)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from reveal.core.errors import InputError
from reveal.core.stimset import read_stimulus_set
from reveal.experiments import design as dsg
from reveal.experiments.builder import code_text
from reveal.experiments.power import PowerDesign, _latin_rows, reveal_power, stated_effect

CONDITIONS = ("1", "10", "100", "full")


@pytest.fixture(scope="module")
def small_set(tmp_path_factory, make_stimulus_set):
    """8 images (4 animal) x 2 sources x (3 levels + full)."""
    return read_stimulus_set(make_stimulus_set(tmp_path_factory.mktemp("lv") / "set", n_images=8,
                                               levels=(1, 10, 100)))


def test_lists_rows_and_keys_of_a_four_condition_set(small_set):
    s = small_set
    dsg.check_design(s)
    assert dsg.n_lists(len(s.sources), s.n_conditions) == 2 * 4 * 2 == 16
    seen = set()
    for L in range(16):
        a = dsg.assignment(L, s.sources, n_conditions=s.n_conditions)
        assert a.list_index == L and a.latin_row == L % 4 and a.group == s.sources[(L // 4) % 2]
        seen.add((a.latin_row, a.group, a.key_animal))
    assert len(seen) == 16  # every (row, group, key mapping) exactly once
    assert dsg.assignment(16 + 5, s.sources, n_conditions=4).list_index == 5  # wraps over 16 lists


def test_each_participant_sees_each_image_once_at_the_latin_square_condition(small_set):
    s = small_set
    images = s.images["image_id"].tolist()
    for L in range(16):
        d = dsg.participant_design(s, L)
        assert d.assignment.list_index == L
        test = d.test.set_index("image_id").loc[images]
        expected = (np.arange(len(images)) + L) % 4
        assert test["level_index"].tolist() == expected.tolist()
        assert np.bincount(test["level_index"], minlength=4).tolist() == [2, 2, 2, 2]
        assert (test["map_source"] == d.assignment.group).all()
        assert (d.training["level_index"] == s.full_index).all()  # training: intact images
    assert not [n for n in dsg.participant_design(s, 0).notes if "conditions" in n]  # 8 over 4: no note


def test_an_odd_number_of_conditions_and_sources_still_balances_keys(tmp_path, make_stimulus_set):
    # levels (1, 10): 3 conditions; one source: 6 lists, each (row, group) must get both key mappings
    s = read_stimulus_set(make_stimulus_set(tmp_path / "set", n_images=6, sources=("clickme",), levels=(1, 10)))
    assert s.n_conditions == 3
    keys = {}
    for L in range(dsg.n_lists(1, 3)):
        a = dsg.assignment(L, s.sources, n_conditions=3)
        keys.setdefault(a.latin_row, []).append(a.key_animal)
    assert {r: sorted(k) for r, k in keys.items()} == {0: ["l", "s"], 1: ["l", "s"], 2: ["l", "s"]}
    # the default rule (12 conditions, even) is unchanged: the second cycle flips the keys
    assert [dsg.key_flip(L, 12, 2) for L in (0, 1, 24, 25)] == [0, 1, 1, 0]


def test_fewer_images_than_conditions_is_a_note_not_a_refusal(tmp_path, make_stimulus_set):
    s = read_stimulus_set(make_stimulus_set(tmp_path / "set", n_images=2, levels=(1, 10, 100)))
    d = dsg.participant_design(s, 0)
    assert d.notes[-1:] == ["2 images < 4 conditions: each participant sees 2 of the conditions (the Latin square "
                       "covers them all over 4 participants)"]


def test_check_design_refuses_an_image_lacking_one_of_the_sets_conditions(tmp_path, make_stimulus_set):
    root = make_stimulus_set(tmp_path / "set", n_images=4, levels=(1, 10, 100))
    lines = (root / "manifest.csv").read_text().splitlines()
    (root / "manifest.csv").write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # img00/clickme at 100 %
    with pytest.raises(InputError, match=r"'img00', map source 'clickme' lacks level_index 2 \(every image needs "
                                         r"all 4 conditions of the set, 1, 10, 100, full, in every source\)"):
        dsg.check_design(read_stimulus_set(root))


def test_setup_code_takes_the_sets_number_of_conditions():
    for lang in ("py", "js"):
        text = code_text("setup", lang, ("clickme", "salicon"), CONDITIONS)
        assert any(line.strip().startswith("rv_n_rows = 4") for line in text.splitlines()), lang
    assert "rv_n_rows = 12" in code_text("setup", "py", ("clickme",), [])  # none given: the default


def test_lab_setup_code_gives_the_designs_lists_for_four_and_three_conditions():
    from psychopy import core, logging
    import os
    import types

    for sources, conditions in ((("clickme", "salicon"), CONDITIONS), (("clickme",), ("1", "10", "full"))):
        compiled = compile(code_text("setup", "py", sources, conditions), "setup_code", "exec")
        n = len(conditions)
        for pid, group in itertools.product([str(i) for i in range(3 * n * len(sources))] + ["P05", "ab"],
                                            ("", sources[-1])):
            ns = {"expInfo": {"participant": pid, "session": "001", "group": group, "frameRate": 60.0},
                  "win": types.SimpleNamespace(), "core": core, "logging": logging, "os": os}
            exec(compiled, ns)
            a = dsg.assignment(pid, sources, group or None, n_conditions=n)
            assert [ns["list_index"], ns["group"], ns["key_animal"]] == [a.list_index, a.group, a.key_animal], pid


def test_power_design_takes_the_sets_levels(small_set):
    s = small_set
    design = PowerDesign(levels=s.conditions, n_images=len(s.images))
    assert design.n_conditions == 4 and design.counts_by_row().shape == (4, 4)
    rows = _latin_rows(list(s.sources), 10, design.n_conditions)
    for group in s.sources:
        for k in (0, 3, 5, 9):
            trials = dsg.participant_design(s, k, group=group).test
            expected = np.bincount(trials["level_index"].astype(int), minlength=4)
            np.testing.assert_array_equal(design.counts_by_row()[rows[group][k]], expected)
    res = reveal_power([stated_effect("clickme", 5.0), stated_effect("salicon", 30.0)], [4, 8], design=design,
                       n_studies=20, n_resamples=99, rng=1)
    assert list(dict.fromkeys(res.table["level"])) == [*CONDITIONS, "any"]
    assert res.settings["levels"] == list(CONDITIONS)
    with pytest.raises(ValueError, match="the design's levels"):
        PowerDesign(levels=("10", "1", "full"))
    with pytest.raises(ValueError, match="must end with 'full'"):
        PowerDesign(levels=("1", "10"))
