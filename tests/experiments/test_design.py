"""Trial design: counts, Latin-square balance, key counterbalancing, determinism, bad input."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from reveal.experiments import design as dsg
from reveal.core.errors import InputError
from reveal.core.stimset import read_stimulus_set


def _load(root, allow_unbalanced=False):
    """Read a set and check it can run the design, as ``experiment build`` does."""
    s = read_stimulus_set(root)
    dsg.check_design(s, allow_unbalanced=allow_unbalanced)
    return s


@pytest.fixture(scope="module")
def stimset(stimset_dir):
    return _load(stimset_dir)


@pytest.fixture(scope="module")
def paper_set(make_stimulus_set, tmp_path_factory):
    """The paper's size: 80 images (40 animal, 40 non-animal), one source."""
    root = make_stimulus_set(tmp_path_factory.mktemp("paper") / "set", n_images=80,
                             sources=("clickme",), size=4)
    return _load(root)


def test_paper_design_has_5_blocks_of_16_balanced(paper_set):
    d = dsg.participant_design(paper_set, 5)
    test = d.test
    assert len(test) == 80
    assert test["block"].value_counts().sort_index().tolist() == [16] * 5
    assert test["trial"].tolist() == list(range(1, 81))
    assert sorted(test["image_id"]) == sorted(paper_set.images["image_id"])  # each image once
    assert (test["category"].value_counts() == 40).all()
    # 80 images over 12 conditions: every condition 6 or 7 times, both categories at each
    per_level = test["level_index"].value_counts()
    assert set(per_level.index) == set(range(12)) and set(per_level) <= {6, 7}
    per_cat_level = test.groupby(["level_index", "category"]).size()
    assert len(per_cat_level) == 24 and per_cat_level.min() >= 3
    # fixation jitter within 1100-1600 ms
    assert test["fixation_s"].between(1.1, 1.6).all()
    assert d.notes == ["80 images is not a multiple of 12: conditions are shown 6 or 7 times"]


def test_latin_square_balance_over_12_participants(stimset):
    """Within one group, 12 consecutive participants show every image at every condition once."""
    for group_start in (0, 12):
        seen = {}
        for p in range(group_start, group_start + 12):
            d = dsg.participant_design(stimset, p)
            assert d.assignment.group == stimset.sources[group_start // 12]
            for row in d.test.itertuples():
                seen.setdefault(row.image_id, []).append(row.level_index)
                # the condition follows (j + i) mod 12
                j = stimset.images.index[stimset.images["image_id"] == row.image_id][0]
                assert row.level_index == (j + p) % 12
        assert all(sorted(v) == list(range(12)) for v in seen.values())


def test_rows_match_manifest(stimset):
    d = dsg.participant_design(stimset, 3)
    man = stimset.manifest.set_index("stimulus_id")
    for row in pd.concat([d.training, d.test]).itertuples():
        m = man.loc[row.stimulus_id]
        assert (m.image_id, m.category, m.map_source) == (row.image_id, row.category, row.map_source)
        assert int(m.level_index) == row.level_index
        assert row.image_file == "stimuli/" + m.file
        assert row.map_source == d.assignment.group
        key = d.assignment.key_animal if row.category == "animal" else d.assignment.key_nonanimal
        assert row.correct_key == key


def test_key_mapping_counterbalanced(stimset):
    n = dsg.n_lists(len(stimset.sources))
    assert n == 48
    combos = set()
    for p in range(n):
        a = dsg.assignment(p, stimset.sources)
        assert {a.key_animal, a.key_nonanimal} == {"s", "l"}
        combos.add((a.latin_row, a.group, a.key_animal))
    assert len(combos) == n  # every row x group x key mapping exactly once
    for start in (0, 12, 24, 36):  # each group's 12 participants: 6 and 6
        keys = [dsg.assignment(p, stimset.sources).key_animal for p in range(start, start + 12)]
        assert keys.count("s") == 6


def test_deterministic_and_participants_differ(stimset):
    a = dsg.participant_design(stimset, 7)
    b = dsg.participant_design(stimset, 7)
    pd.testing.assert_frame_equal(a.test, b.test)
    pd.testing.assert_frame_equal(a.training, b.training)
    c = dsg.participant_design(stimset, 8)
    assert a.test["image_id"].tolist() != c.test["image_id"].tolist()


def test_participant_wraps_and_group_override(stimset, caplog):
    with caplog.at_level("INFO", logger="reveal.experiments.design"):
        a = dsg.assignment(48 + 5, stimset.sources)
    assert a.list_index == 5 and "wraps" in caplog.text
    forced = dsg.assignment(5, stimset.sources, group="salicon")
    assert forced.group == "salicon" and forced.latin_row == 5
    assert forced.key_animal == dsg.assignment(5, stimset.sources).key_animal
    with pytest.raises(InputError, match="not a map source"):
        dsg.assignment(1, stimset.sources, group="nope")
    with pytest.raises(InputError, match="negative"):
        dsg.assignment(-1, stimset.sources)


@pytest.mark.parametrize("n_trials,n_blocks,sizes", [(80, 5, [16] * 5), (24, 5, [5, 5, 5, 5, 4]),
                                                     (4, 5, [1, 1, 1, 1]), (1, 5, [1])])
def test_split_blocks(n_trials, n_blocks, sizes):
    b = dsg.split_blocks(n_trials, n_blocks)
    assert np.bincount(b)[1:].tolist() == sizes
    assert (np.diff(b) >= 0).all()


def test_small_set_fewer_blocks_said_clearly(make_stimulus_set, tmp_path):
    s = _load(make_stimulus_set(tmp_path / "s", n_images=4, size=4))
    d = dsg.participant_design(s, 0)
    assert d.test["block"].tolist() == [1, 2, 3, 4]
    assert any("4 test trials < 5 blocks" in n for n in d.notes)
    assert (d.training["level_index"] == 11).all() and len(d.training) == 8
    assert (d.training["category"].value_counts() == 4).all()


def test_frames():
    assert dsg.frames(0.4, 60) == 24
    assert dsg.frames(0.55, 60) == 33
    assert dsg.frames(0.4, 144) == 58
    assert dsg.frames([0.4, 0.55], 120).tolist() == [48, 66]


def test_write_conditions_reads_back_in_psychopy(stimset, tmp_path):
    from psychopy import data

    d = dsg.participant_design(stimset, 2)
    files = dsg.write_conditions(d, tmp_path / "conditions")
    blocks = data.importConditions(str(files["blocks"]))
    assert [b["block"] for b in blocks] == [1, 2, 3, 4, 5]
    rows = []
    for b in blocks:
        rows += data.importConditions(str(tmp_path / b["trials_file"]))
    assert [r["stimulus_id"] for r in rows] == d.test["stimulus_id"].tolist()
    assert list(rows[0]) == list(dsg.CONDITION_COLUMNS)


# ----------------------------------------------------------------------------- bad input

def _edit_manifest(root, fn):
    path = root / "manifest.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    fn(df).to_csv(path, index=False)


@pytest.fixture
def set_copy(stimset_dir, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(stimset_dir, dst)
    return dst


def test_missing_level_is_refused(set_copy):
    _edit_manifest(set_copy, lambda df: df[~((df.image_id == "img03") & (df.level_index == "4"))])
    with pytest.raises(InputError, match="img03.*lacks level_index 4") as e:
        _load(set_copy)
    assert e.value.path.endswith("manifest.csv")


def test_missing_category_and_unbalanced(make_stimulus_set, tmp_path):
    only_animals = make_stimulus_set(tmp_path / "a", n_images=2, n_animal=2, size=4)
    with pytest.raises(InputError, match="no nonanimal images"):
        _load(only_animals)
    unbalanced = make_stimulus_set(tmp_path / "u", n_images=3, n_animal=2, size=4)
    with pytest.raises(InputError, match="unbalanced categories: 2 animal vs 1"):
        _load(unbalanced)
    assert len(_load(unbalanced, allow_unbalanced=True).images) == 3


def test_missing_png_and_bad_category_name_the_row(set_copy):
    (set_copy / "png" / "img00_clickme_03.png").unlink()
    with pytest.raises(InputError, match="missing PNG") as e:
        _load(set_copy)
    assert e.value.row == 4
    _edit_manifest(set_copy, lambda df: df.assign(category=df.category.where(df.index != 1, "cat")))
    with pytest.raises(InputError, match="category 'cat'") as e:
        _load(set_copy)
    assert e.value.row == 2


def test_missing_column(set_copy):
    _edit_manifest(set_copy, lambda df: df.drop(columns=["level_index"]))
    with pytest.raises(InputError, match="missing column.*level_index"):
        _load(set_copy)


def test_number_like_ids_refused_for_psychopy(make_stimulus_set, tmp_path):
    root = make_stimulus_set(tmp_path / "n", n_images=2, size=4)
    _edit_manifest(root, lambda df: df.assign(image_id=df.image_id.str.replace("img", "")))
    s = _load(root)
    with pytest.raises(InputError, match="looks like a number"):
        dsg.write_conditions(dsg.participant_design(s, 0), tmp_path / "c")


def test_the_papers_timing_is_in_both_generated_scripts_without_node():
    # the deadline, image and fixation durations the JavaScript shares with Python, checked in
    # Python alone, so a machine without node still catches a wrong constant
    from reveal.core.levels import LEVEL_LABELS
    from reveal.experiments.builder import code_text

    assert (dsg.STIMULUS_S, dsg.DEADLINE_S, dsg.FIXATION_RANGE_S) == (0.4, 0.55, (1.1, 1.6))
    for lang, end in (("py", ""), ("js", ";")):
        setup = code_text("setup", lang, ("clickme", "salicon"), LEVEL_LABELS)
        assert f"rv_stimulus_s = 0.4{end}" in setup and f"rv_deadline_s = 0.55{end}" in setup
        assert "round(0.4 * refresh_hz)" in setup and "round(0.55 * refresh_hz)" in setup
        # answers are judged against the deadline, late ones kept apart
        end_code = code_text("trial_end", lang)
        assert "<= rv_deadline_s" in end_code and "> rv_deadline_s" in end_code


# ------------------------------------------------------------ edges found by the mutation run (issue 31)

def test_a_wrapped_participant_is_logged_with_the_list_it_gets(stimset, caplog):
    n = dsg.n_lists(len(stimset.sources), stimset.n_conditions)
    with caplog.at_level("INFO", logger="reveal.experiments.design"):
        dsg.assignment(2 * n + 7, stimset.sources)
    assert f"participant {2 * n + 7} wraps to list 7 ({n} lists" in caplog.text


@pytest.mark.parametrize("n_trials, animals, nonanimals", [(7, 4, 3), (1, 1, 0), (8, 4, 4)])
def test_an_odd_number_of_training_trials_has_one_animal_more(stimset, n_trials, animals, nonanimals):
    a = dsg.assignment(0, stimset.sources)
    training = dsg.training_trials(stimset, a, 0, n_trials=n_trials)
    counts = training["category"].value_counts()
    assert (counts.get("animal", 0), counts.get("nonanimal", 0)) == (animals, nonanimals)


def test_no_training_trials_and_eight_by_default(stimset):
    a = dsg.assignment(0, stimset.sources)
    assert len(dsg.training_trials(stimset, a, 0, n_trials=0)) == 0
    assert len(dsg.training_trials(stimset, a, 0)) == 8


def test_a_set_that_fills_the_blocks_and_conditions_exactly_has_no_notes(make_stimulus_set, tmp_path):
    s = _load(make_stimulus_set(tmp_path / "s", n_images=12, sources=("clickme",), size=4))
    assert dsg.participant_design(s, 0, n_blocks=12).notes == []  # 12 images: 12 blocks, 12 conditions
    assert dsg.participant_design(s, 0, n_blocks=4).notes == []


def test_assignments_and_designs_are_frozen(stimset):
    import dataclasses

    d = dsg.participant_design(stimset, 0)
    for record, name in ((d.assignment, "group"), (d, "notes")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, None)


def test_conditions_files_go_into_a_new_nested_folder(stimset, tmp_path):
    d = dsg.participant_design(stimset, 3)
    files = dsg.write_conditions(d, tmp_path / "new" / "nested" / "conditions")
    assert [int(p.stem.rsplit("block", 1)[1]) for p in files["block_files"]] == [1, 2, 3, 4, 5]
    assert all(p.is_file() for p in files["block_files"] + [files["training"], files["blocks"]])


def test_unbalanced_sets_are_refused_by_default(make_stimulus_set, tmp_path):
    s = read_stimulus_set(make_stimulus_set(tmp_path / "u", n_images=3, n_animal=2, size=4))
    with pytest.raises(InputError, match="unbalanced"):
        dsg.check_design(s)


def test_the_papers_five_blocks_by_default_and_one_block_on_request():
    assert np.bincount(dsg.split_blocks(80))[1:].tolist() == [16] * 5
    assert dsg.split_blocks(10, 1).tolist() == [1] * 10


def test_fixation_durations_span_the_papers_range_in_whole_milliseconds():
    d = dsg.fixation_durations(2000, rng=0)
    assert 1.1 <= d.min() < 1.11 and 1.59 < d.max() <= 1.6  # uniform over [1.1, 1.6] s (DESIGN.md)
    ms = d * 1000
    assert np.allclose(ms, np.round(ms), atol=1e-6) and not np.allclose(ms / 10, np.round(ms / 10), atol=1e-6)


def test_frames_are_whole_and_at_least_one():
    assert dsg.frames(0.001, 60) == 1 and dsg.frames(0, 60) == 1
    assert isinstance(dsg.frames(0.4, 60), int)


def test_a_number_like_id_is_named_as_the_first_in_the_file(make_stimulus_set, tmp_path):
    root = make_stimulus_set(tmp_path / "n", n_images=24, size=4)
    _edit_manifest(root, lambda df: df.assign(image_id=df.image_id.str.replace("img", "")))
    d = dsg.participant_design(_load(root), 0)
    first = d.training["image_id"].iat[0]
    assert d.training["image_id"].is_unique  # 8 of 24 images: the first differs from every other
    with pytest.raises(InputError, match=rf"image_id '{first}' looks like a number.*e\.g\. 'img{first}'"):
        dsg.write_conditions(d, tmp_path / "c")


def test_without_training_the_test_trials_are_the_lists_first_draws(stimset):
    # no training trials draw nothing: the test order is the list's seed's first draws, as it
    # was before training trials could be turned off
    from reveal.core.seeding import derive_rng

    d = dsg.participant_design(stimset, 4, n_training=0)
    rng = derive_rng(stimset.seed, "experiment", d.assignment.list_index)
    assert len(d.training) == 0
    assert d.test.equals(dsg.block_trials(stimset, d.assignment, rng, 5))


def test_the_first_participant_past_the_lists_wraps_to_the_first_list(stimset, caplog):
    n = dsg.n_lists(len(stimset.sources), stimset.n_conditions)
    with caplog.at_level("INFO", logger="reveal.experiments.design"):
        dsg.assignment(n - 1, stimset.sources)
        assert "wraps" not in caplog.text
        assert dsg.assignment(n, stimset.sources).list_index == 0
    assert f"participant {n} wraps to list 0" in caplog.text


def test_no_blocks_asked_for_is_one_block_and_no_trials_none():
    assert dsg.split_blocks(5, 0).tolist() == [1] * 5
    assert dsg.split_blocks(0).tolist() == []


def test_block_trials_come_in_five_blocks_by_default(stimset):
    a = dsg.assignment(0, stimset.sources)
    assert sorted(dsg.block_trials(stimset, a, 0)["block"].unique()) == [1, 2, 3, 4, 5]


def test_participant_0s_lists_are_pinned(stimset):
    # the order a list's seed gives (each category's training images one permutation, then the test
    # trials): a change here changes every study's running order, which must be deliberate
    d = dsg.participant_design(stimset, 0)
    assert d.training["stimulus_id"].tolist()[:4] == ["img05_clickme_full", "img22_clickme_full",
                                                       "img02_clickme_full", "img13_clickme_full"]
    assert d.test["stimulus_id"].tolist()[:4] == ["img21_clickme_63.1", "img03_clickme_3.98",
                                                   "img19_clickme_25.1", "img10_clickme_100"]
