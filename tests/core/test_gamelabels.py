"""The game's labels file: read as written, refused with the file and row named."""
import pytest

from reveal.core.errors import InputError
from reveal.core.gamelabels import read_game_labels


def _labels(tmp_path, text, encoding="utf-8"):
    p = tmp_path / "labels.csv"
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


def test_rows_are_read_in_order_with_extra_columns_ignored(tmp_path):
    p = _labels(tmp_path, "\ufeffimage_id,label,imagenet_class,notes\ncat01, tabby  cat ,281,x\ncup01,cup,968,\n")
    got = [(g.image_id, g.imagenet_class, g.label) for g in read_game_labels(p)]
    assert got == [("cat01", 281, "tabby cat"), ("cup01", 968, "cup")]


@pytest.mark.parametrize("text, match, row", [
    ("image_id,imagenet_class\ncat01,281\n", "missing column.*label", None),
    ("image_id,imagenet_class,label\ncat01,281,cat\ncat01,282,cat\n", "'cat01' listed twice.*rows 1 and 2", 2),
    ("image_id,imagenet_class,label\ncat01,1000,cat\n", "not a class index 0-999", 1),
    ("image_id,imagenet_class,label\ncat01,-1,cat\n", "not a class index 0-999", 1),
    ("image_id,imagenet_class,label\ncat01,tabby,cat\n", "not a class index 0-999", 1),
    ("image_id,imagenet_class,label\ncat01,n02123045,cat\n", "WordNet id", 1),
    ("image_id,imagenet_class,label\ncat01,281,  \n", "no label", 1),
    ("image_id,imagenet_class,label\n,281,cat\n", "empty image_id", 1),
    ("image_id,imagenet_class,label\ncat01,281," + "x" * 41 + "\n", "41 characters long, over 40", 1),
    ("image_id,imagenet_class,label\n", "no rows", None),
    (b"image_id,imagenet_class,label\ncat\xff,281,cat\n", "not UTF-8", None),
])
def test_bad_labels_are_refused_naming_file_and_row(tmp_path, text, match, row):
    p = _labels(tmp_path, text)
    with pytest.raises(InputError, match=match) as err:
        read_game_labels(p)
    assert err.value.path == str(p) and err.value.row == row


def test_a_missing_file_is_a_named_error(tmp_path):
    with pytest.raises(InputError, match="cannot read game labels") as err:
        read_game_labels(tmp_path / "none.csv")
    assert "none.csv" in str(err.value)
