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
    ("image_id,imagenet_class,label\ncat01,1000,cat\n", "neither a class index 0-999 nor a WordNet id", 1),
    ("image_id,imagenet_class,label\ncat01,-1,cat\n", "neither a class index 0-999", 1),
    ("image_id,imagenet_class,label\ncat01,tabby,cat\n", "neither a class index 0-999", 1),
    ("image_id,imagenet_class,label\ncat01,281,cat\ndog01,n99999999,dog\n", "'n99999999'.*not the WordNet id", 2),
    ("image_id,imagenet_class,label\ncat01,n0212304,cat\n", "not the WordNet id of an ImageNet-1k class", 1),
    ("image_id,imagenet_class,label\ncat01,n1,cat\n", "not the WordNet id", 1),
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


def test_wordnet_ids_and_indices_name_the_same_classes(tmp_path):
    p = _labels(tmp_path, "image_id,imagenet_class,label\ncat01,n02123045,tabby\ncat02,282,tiger cat\n"
                          "cup01,n07930864,cup\nfish,n01440764,tench\n")
    assert [g.imagenet_class for g in read_game_labels(p)] == [281, 282, 968, 0]


def test_the_wordnet_table_is_in_the_networks_class_order():
    """timm's synsets, named by its own lemmas, against torchvision's category names, class by class."""
    import importlib.util
    from pathlib import Path

    from torchvision.models import ResNet18_Weights

    from reveal.core.gamelabels import imagenet_wnids

    names = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    info = Path(importlib.util.find_spec("timm").origin).parent / "data" / "_info"
    lemmas_file = info / "imagenet_synset_to_lemma.txt"
    lemma = dict(line.split("\t", 1) for line in lemmas_file.read_text().splitlines())
    wnids = imagenet_wnids()
    assert len(set(wnids)) == 1000
    # torchvision tells apart its two duplicated names ("crane bird", "maillot tank suit")
    assert all(names[i].lower().startswith(lemma[w].split(",")[0].strip().lower()) for i, w in enumerate(wnids))


def test_a_wordnet_id_without_timm_says_which_extra_to_install(tmp_path):
    import subprocess
    import sys

    p = _labels(tmp_path, "image_id,imagenet_class,label\ncat01,n02123045,cat\n")
    code = (f"import sys; sys.modules['timm'] = None; from reveal.cli.main import main; "
            f"sys.exit(main(['game', 'build', '--images', {str(tmp_path)!r}, '--labels', {str(p)!r}, '--out', "
            f"{str(tmp_path / 'g')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "needs the models extra (timm is not installed)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "g").exists()


def test_a_missing_file_is_a_named_error(tmp_path):
    with pytest.raises(InputError, match="cannot read game labels") as err:
        read_game_labels(tmp_path / "none.csv")
    assert "none.csv" in str(err.value)
