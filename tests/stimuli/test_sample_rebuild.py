import pytest

from reveal.cli.main import main


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_two_sample_builds_are_the_same_bytes(tmp_path):
    # the sample's inputs are written to a temporary folder each time: nothing may record it
    for name in ("a", "b"):
        assert main(["stimuli", "build", "--sample", "--no-progress", "--out", str(tmp_path / name)]) == 0
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys() and "stimset.json" in a
    assert [k for k in a if a[k] != b[k]] == []
