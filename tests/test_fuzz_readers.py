"""Any bytes at all, given to a text reader, give a result or an InputError naming the file."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reveal.stimuli.errors import InputError

# Bytes that look partly like the real files, so the fuzzing reaches past the header checks.
HEADERS = [b"", b"image_id,category\n", b"image_path,clicks,user_id\n", b"\xef\xbb\xbf",
           b"participant,session,group,phase,stimulus_id,image_id,category,map_source,level,response,correct,"
           b"rt_s,timed_out\n", b"observer,observer_kind,group,session,block,trial,stimulus_id,image_id,"
           b"category,map_source,level,response,correct,rt_s,timed_out\n", b'{"images": [', b'{"annotations": []']
CELLS = st.sampled_from([b"chelsea", b"animal", b"nonanimal", b"test", b",", b"\n", b'"', b"{\"(1,2)\"}", b"1",
                         b"0", b"undefined", b"1.58", b"full", b"\xff", b"\x00", b"nan", b"-1", b"1e309", b"}"])
PAYLOAD = st.builds(lambda head, parts, tail: head + b"".join(parts) + tail,
                    st.sampled_from(HEADERS), st.lists(CELLS, max_size=40), st.binary(max_size=64))


def _reader(name):
    if name == "categories":
        from reveal.stimuli.categories import read_categories
        return read_categories
    if name == "click csv":
        from reveal.stimuli.loaders import read_click_csv
        return read_click_csv
    if name == "salicon json":
        from reveal.stimuli.loaders import read_salicon_json
        return read_salicon_json
    if name == "trial file":
        from reveal.analysis.readers import read_trial_file
        return read_trial_file
    raise KeyError(name)


@pytest.mark.parametrize("name", ["categories", "click csv", "salicon json", "trial file"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(PAYLOAD, st.binary(max_size=300)))
def test_reader_gives_a_result_or_a_named_error(name, data):
    reader = _reader(name)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("f.json" if name == "salicon json" else "f.csv")
        path.write_bytes(data)
        try:
            reader(path)
        except InputError as err:
            assert err.path is not None and Path(err.path).name == path.name
