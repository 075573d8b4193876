"""`reveal game build` refuses bad input with exit code 2, a named file, and nothing written."""
import pytest

from reveal.cli.main import main


@pytest.fixture
def photos(tmp_path):
    from PIL import Image
    from skimage import data

    (tmp_path / "photos").mkdir()
    Image.fromarray(data.chelsea()).save(tmp_path / "photos" / "cat01.png")
    return tmp_path / "photos"


@pytest.mark.parametrize("labels, extra, message", [
    ("image_id,imagenet_class,label\ncat01,282,cat\ndog01,207,dog\n", [], "no file in"),
    ("image_id,imagenet_class,label\ncat01,1200,cat\n", [], "row 1: imagenet_class '1200'"),
    ("image_id,label\ncat01,cat\n", [], "missing column(s) imagenet_class"),
    ("image_id,imagenet_class,label\ncat01,282,cat\n", ["--player-bubble", "0"], "bubble diameters"),
    ("image_id,imagenet_class,label\ncat01,282,cat\n", ["--per-player", "2"], "--per-player must be 1 to the 1"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, photos, capsys, labels, extra, message):
    path = tmp_path / "labels.csv"
    path.write_text(labels)
    out = tmp_path / "game"
    assert main(["game", "build", "--images", str(photos), "--labels", str(path), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()
