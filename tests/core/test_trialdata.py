"""The model trial-data file through its owner: what ``reveal predict`` resumes from."""
from __future__ import annotations

import pytest

from reveal.core.trialdata import MODEL_COLUMNS, model_header, read_model_rows, typed_model_rows
from reveal.core.errors import InputError

ROW = "net,model,clickme,1,1,3,s3,img1,animal,clickme,1.00,animal,1,,0,0.912345,281:tabby:0.5,abcd\n"


def test_round_trip_types_the_numbers(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(model_header() + ROW, encoding="utf-8")
    rows = read_model_rows(path)
    assert list(rows.columns) == list(MODEL_COLUMNS) and rows.iloc[0]["level"] == "1.00"
    typed = typed_model_rows(rows, path)
    assert typed["trial"].tolist() == [3] and typed["p_animal"].tolist() == [pytest.approx(0.912345)]


@pytest.mark.parametrize("text, message, row", [
    ("observer,kind\n" + ROW, "header differs", 0),
    (model_header() + ROW.replace(",abcd", ""), "17 fields", 1),
    (model_header() + ROW + "\n", "0 fields", 2),
])
def test_malformed_files_name_file_and_row(tmp_path, text, message, row):
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        read_model_rows(path)
    assert err.value.path == str(path) and err.value.row == row


def test_not_utf8_and_not_a_number(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(model_header().encode() + ROW.replace("img1", "imgé").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_model_rows(path)
    path.write_text(model_header() + ROW + ROW.replace(",3,s3", ",x,s4"), encoding="utf-8")
    with pytest.raises(InputError, match="'trial' must be an integer, got 'x'") as err:
        typed_model_rows(read_model_rows(path), path)
    assert err.value.row == 2
