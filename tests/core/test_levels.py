"""A set's own levels: the checks of a level list, and the set reader taking the set's levels."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from reveal.core.errors import InputError
from reveal.core.levels import (FULL_INDEX, LEVEL_LABELS, N_CONDITIONS, check_level_labels, check_levels,
                                 normalize_level, parse_levels)
from reveal.core.stimset import read_stimulus_set


def test_check_levels_accepts_increasing_percentages():
    assert check_levels((1, 10, 100)) == (1.0, 10.0, 100.0)
    assert check_levels([50]) == (50.0,)
    assert parse_levels(" 1, 3.16 ,10,100") == (1.0, 3.16, 10.0, 100.0)
    assert len(check_levels(tuple(float(v) for v in LEVEL_LABELS[:-1]))) == 11


@pytest.mark.parametrize("levels, words", [
    ((), "at least one reveal level"),
    ((0, 10), r"must lie in \(0, 100\]"),
    ((1, 101), r"must lie in \(0, 100\]"),
    ((-1,), r"must lie in \(0, 100\]"),
    ((1, float("nan")), r"must lie in \(0, 100\]"),
    ((10, 1), "strictly increasing: 1 follows 10"),
    ((1, 10, 10), "strictly increasing: 10 follows 10"),
    ((1.001, 1.002), "both written '1'"),
    ((1, 50, 50.01), r"levels 50.0 and 50.01 are both written '50'"),  # the last kept, not the first
    (("1", "10"), "must be numbers"),
    ((True,), "must be numbers"),
    ("1,10", "sequence of numbers"),
    (5, "sequence of numbers"),  # not a sequence at all
])
def test_check_levels_refuses_with_a_named_error(levels, words):
    with pytest.raises(ValueError, match=words):
        check_levels(levels)


@pytest.mark.parametrize("text, words", [
    ("1,x,100", "'x' is not a number"),
    ("", "'' is not a number"),
    ("1,,10", "'' is not a number"),
    ("100,10", "strictly increasing"),
])
def test_parse_levels_refuses_with_a_named_error(text, words):
    with pytest.raises(ValueError, match=words):
        parse_levels(text)


@pytest.mark.parametrize("labels, words", [
    (["1", "10", "100"], "must end with 'full'"),
    (["full"], "at least one reveal level"),
    (["1", "full", "full"], "must end with 'full'"),
    (["10", "1", "full"], "strictly increasing"),
    (["1.580", "full"], "'1.580', not a level as written"),
    (["abc", "full"], "'abc', not a level as written"),
    (["200", "full"], r"\(0, 100\]"),
    ("1,10,full", "must be a list"),
    ([1, 10, "full"], "must be a list"),
])
def test_check_level_labels(labels, words):
    with pytest.raises(ValueError, match=words):
        check_level_labels(labels)
    assert check_level_labels(["1", "10", "100", "full"]) == ("1", "10", "100", "full")


def test_a_set_with_levels_1_10_100_reads_with_its_own_conditions(make_stimulus_set, tmp_path):
    root = make_stimulus_set(tmp_path / "set", n_images=8, levels=(1, 10, 100))
    s = read_stimulus_set(root, check_sizes=True)
    assert s.conditions == ("1", "10", "100", "full") == s.levels
    assert (s.n_conditions, s.full_index) == (4, 3)
    assert len(s.manifest) == 8 * 2 * 4
    assert set(s.manifest.loc[s.manifest["level"] == "full", "level_index"]) == {"3"}


def test_the_default_set_keeps_the_default_conditions(make_stimulus_set, tmp_path):
    s = read_stimulus_set(make_stimulus_set(tmp_path / "set", n_images=2))
    assert s.conditions == LEVEL_LABELS and (s.n_conditions, s.full_index) == (N_CONDITIONS, FULL_INDEX)
    # a set without a `levels` entry in stimset.json (or without stimset.json) has the default ones
    meta = json.loads((tmp_path / "set" / "stimset.json").read_text())
    del meta["levels"]
    (tmp_path / "set" / "stimset.json").write_text(json.dumps(meta))
    assert read_stimulus_set(tmp_path / "set").conditions == LEVEL_LABELS
    (tmp_path / "set" / "stimset.json").unlink()
    assert read_stimulus_set(tmp_path / "set").n_conditions == 12


def _set_cell(root, row, column, value):
    """Rewrite one cell of data row ``row`` (1-based) of the manifest, as a hand edit would."""
    table = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    table.loc[row - 1, column] = value
    table.to_csv(root / "manifest.csv", index=False)


@pytest.mark.parametrize("row, column, value, words", [
    # rows of image img00, source clickme: 1 (level 1), 2 (10), 3 (100), 4 (full)
    (4, "level_index", "11", r"level_index '11' is not an integer 0..3 \(the set has 3 reveal level\(s\) and 'full'\)"),
    (2, "level_index", "3", "level_index 3 is the intact image, but level is '10'"),
    (4, "level_index", "2", r"level 'full' has level_index 2 \(must be 3\)"),
    (2, "level", "15.8", "level_index 1 is level '10' in stimset.json's levels, '15.8' here"),
])
def test_the_reader_checks_rows_against_the_sets_levels(make_stimulus_set, tmp_path, row, column, value, words):
    root = make_stimulus_set(tmp_path / "set", n_images=4, levels=(1, 10, 100))
    _set_cell(root, row, column, value)
    with pytest.raises(InputError, match=words) as err:
        read_stimulus_set(root)
    assert err.value.row == row and err.value.path == str(root / "manifest.csv")


@pytest.mark.parametrize("levels, words", [
    (["1", "10", "100"], "must end with 'full'"),
    (["1", "100", "10", "full"], "strictly increasing"),
    ({"1": 1}, "must be a list"),
])
def test_bad_levels_in_stimset_json_name_the_file(make_stimulus_set, tmp_path, levels, words):
    root = make_stimulus_set(tmp_path / "set", n_images=2, levels=(1, 10, 100))
    meta = json.loads((root / "stimset.json").read_text())
    meta["levels"] = levels
    (root / "stimset.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=words) as err:
        read_stimulus_set(root)
    assert err.value.path == str(root / "stimset.json")


def test_a_set_whose_manifest_has_more_levels_than_stimset_json_says(make_stimulus_set, tmp_path):
    # the default 12-condition manifest with a stimset.json that lists 3 levels
    root = make_stimulus_set(tmp_path / "set", n_images=2)
    meta = json.loads((root / "stimset.json").read_text())
    meta["levels"] = ["1", "10", "100", "full"]
    (root / "stimset.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"level_index '4' is not an integer 0..3 \(the set has 3") as err:
        read_stimulus_set(root)
    assert err.value.row == 5


@pytest.mark.parametrize("value", [0, "0", 0.0, -1, "-0.5", float("inf"), "nan"])
def test_a_level_of_nothing_or_less_is_refused(value):
    with pytest.raises(ValueError, match="positive number or 'full'"):
        normalize_level(value)


@pytest.mark.parametrize("labels, words", [
    ([str(v) for v in range(1, 300)] + [300], "must be a list"),  # not all text
    ([str(v) for v in range(1, 300)], "must end with 'full'"),
])
def test_a_huge_levels_list_is_named_in_200_characters(labels, words):
    # a stimset.json with hundreds of labels must not flood the error message
    with pytest.raises(ValueError, match=words) as info:
        check_level_labels(labels)
    assert len(str(info.value)) == 200
