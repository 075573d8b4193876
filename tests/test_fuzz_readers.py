"""Any bytes at all, given to a text reader, give a result or an InputError naming the file."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reveal.core.errors import InputError

# Bytes that look partly like the real files, so the fuzzing reaches past the header checks.
HEADERS = [b"", b"image_id,category\n", b"image_path,clicks,user_id\n", b"\xef\xbb\xbf",
           b"participant,session,group,phase,stimulus_id,image_id,category,map_source,level,response,correct,"
           b"rt_s,timed_out\n", b"observer,observer_kind,group,session,block,trial,stimulus_id,image_id,"
           b"category,map_source,level,response,correct,rt_s,timed_out\n", b'{"images": [', b'{"annotations": []',
           # a stimulus set's manifest
           b"stimulus_id,file,image_id,category,map_source,level,level_index,revealed_px,image_frac,feature_budget,"
           b"seed\n",
           # a PsychoJS (Pavlovia) file: BOM, 'undefined', true/false
           b"\xef\xbb\xbfparticipant,session,group,key_animal,key_nonanimal,phase,block,trial,stimulus_id,image_id,"
           b"category,map_source,level,resp_key,response,correct,rt_s,timed_out,frameRate\n",
           # model predictions (reveal predict)
           b"observer,observer_kind,group,session,block,trial,stimulus_id,image_id,category,map_source,level,"
           b"response,correct,rt_s,timed_out,p_animal,top5,stimset\n"]
CELLS = st.sampled_from([b"chelsea", b"animal", b"nonanimal", b"test", b",", b"\n", b'"', b"{\"(1,2)\"}", b"1",
                         b"0", b"undefined", b"1.58", b"full", b"\xff", b"\x00", b"nan", b"-1", b"1e309", b"}",
                         b"full/chelsea.png", b"../x.png", b"/etc/hostname", b"chelsea_fine_L00", b"true",
                         b"false", b"model", b"human", b"fine", b"3", b"11", b"0.5", b"s", b"l"])
PAYLOAD = st.builds(lambda head, parts, tail: head + b"".join(parts) + tail,
                    st.sampled_from(HEADERS), st.lists(CELLS, max_size=40), st.binary(max_size=64))


def _reader(name):
    if name == "categories":
        from reveal.core.categories import read_categories
        return read_categories
    if name == "click csv":
        from reveal.stimuli.loaders import read_click_csv
        return read_click_csv
    if name == "salicon json":
        from reveal.stimuli.loaders import read_salicon_json
        return read_salicon_json
    if name == "trial file":
        from reveal.core.readers import read_trial_file
        return read_trial_file
    if name == "manifest":
        from reveal.core.stimset import read_stimulus_set
        return lambda path: read_stimulus_set(path.parent, check_files=False)
    if name == "maps categories":
        from reveal.analysis.maps.pipeline import read_categories
        return read_categories
    if name == "predictions":
        from reveal.models.inference import read_predictions
        return read_predictions
    raise KeyError(name)


FILE_NAMES = {"salicon json": "f.json", "manifest": "manifest.csv"}


@pytest.mark.parametrize("name", ["categories", "click csv", "salicon json", "trial file", "manifest",
                                  "maps categories", "predictions"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(PAYLOAD, st.binary(max_size=300)))
def test_reader_gives_a_result_or_a_named_error(name, data):
    reader = _reader(name)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / FILE_NAMES.get(name, "f.csv")
        path.write_bytes(data)
        try:
            reader(path)
        except InputError as err:
            assert err.path is not None and Path(err.path).name == path.name


@settings(max_examples=100, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), st.builds(
    lambda parts: b"".join(parts), st.lists(st.sampled_from(
        [b"{", b"}", b'"seed"', b'"parameters"', b'"size"', b":", b",", b"1", b"-1", b"null", b'"x"', b"[", b"]",
         b"1e999", b"\xff"]), max_size=30))))
def test_stimset_json_gives_a_set_or_a_named_error(data):
    """A manifest that is fine, beside a ``stimset.json`` of any bytes."""
    from reveal.core.stimset import read_stimulus_set

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "manifest.csv").write_text(
            "stimulus_id,file,image_id,category,map_source,level,level_index,revealed_px,image_frac,feature_budget,"
            "seed\na_L00,a.png,a,animal,s,1,0,10,0.01,100,7\n")
        (Path(d) / "stimset.json").write_bytes(data)
        try:
            read_stimulus_set(d, check_files=False)
        except InputError as err:
            assert err.path is not None and Path(err.path).name in ("stimset.json", "manifest.csv")
