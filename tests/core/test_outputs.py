import json
import subprocess
import sys

import pytest

from reveal.core.errors import InputError
from reveal.core.outputs import RECORD, OutputFolder, atomic_write


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_foreign_folder_is_refused_and_left_as_it_was(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "data").mkdir()
    before = _tree(tmp_path)
    with pytest.raises(InputError, match="notes.txt") as err:
        OutputFolder(tmp_path, "reveal analyze", overwrite=True)
    assert err.value.path == str(tmp_path)
    assert _tree(tmp_path) == before


def test_rerun_needs_overwrite_and_overwrite_removes_only_its_own_files(tmp_path):
    out = OutputFolder(tmp_path / "out", "reveal analyze")
    out.write("trials.csv", "a\n")
    out.write("figs/accuracy.png", b"\x89PNG")
    out.close()
    (tmp_path / "out" / "my_notes.md").write_text("keep me")   # the user's, added later
    with pytest.raises(InputError, match="--overwrite"):
        OutputFolder(tmp_path / "out", "reveal analyze")
    with pytest.raises(InputError, match="reveal analyze"):
        OutputFolder(tmp_path / "out", "reveal stimuli build", overwrite=True)
    again = OutputFolder(tmp_path / "out", "reveal analyze", overwrite=True)
    assert not (tmp_path / "out" / "trials.csv").exists()
    assert not (tmp_path / "out" / "figs").exists()
    assert (tmp_path / "out" / "my_notes.md").read_text() == "keep me"
    again.write("trials.csv", "b\n")
    again.close()
    assert json.loads((tmp_path / "out" / RECORD).read_text())["files"] == ["trials.csv"]


def test_tampered_record_never_deletes_outside(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    (out / RECORD).write_text(json.dumps({"command": "reveal analyze", "files": ["../secret.txt"]}))
    OutputFolder(out, "reveal analyze", overwrite=True)
    assert secret.read_text() == "x"


def test_output_that_is_a_file_and_names_outside_are_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        OutputFolder(tmp_path / "f", "reveal analyze")
    out = OutputFolder(tmp_path / "o", "reveal analyze")
    with pytest.raises(ValueError):
        out.path("../escape.csv")


def test_resume_keeps_the_earlier_files(tmp_path):
    out = OutputFolder(tmp_path, "reveal stimuli build")
    out.write("a.png", b"1")
    again = OutputFolder(tmp_path, "reveal stimuli build", resume=True)
    assert again.files == {"a.png"} and (tmp_path / "a.png").read_bytes() == b"1"


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    atomic_write(tmp_path / "x.csv", "1,2\n")
    atomic_write(tmp_path / "x.csv", b"3,4\n")
    assert _tree(tmp_path) == {"x.csv": b"3,4\n"}
    atomic_write(tmp_path / "y.png", b"png", sync=False)  # the build's PNGs: same writer, no fsync
    assert _tree(tmp_path) == {"x.csv": b"3,4\n", "y.png": b"png"}


def test_a_write_that_fails_half_way_leaves_the_old_file_whole(tmp_path):
    # The disk fills up half-way through the new file (a file-size limit of 64 KiB in a child
    # process, so the write itself fails after 64 KiB are on disk): the old file is still there,
    # byte for byte, and no temporary file is left. Writing the target in place would leave a
    # truncated file instead.
    target = tmp_path / "trials.csv"
    target.write_bytes(b"old,complete\n" * 10)
    code = (
        "import resource, signal, sys\n"
        "from reveal.core.outputs import atomic_write\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG as an OSError instead of a signal\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
        "try:\n"
        "    atomic_write(sys.argv[1], b'new,row\\n' * 100_000)\n"
        "except OSError as err:\n"
        "    sys.exit(f'failed: {err.strerror}')\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith("failed:"), r.stderr
    assert _tree(tmp_path) == {"trials.csv": b"old,complete\n" * 10}


def test_text_that_cannot_be_encoded_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "new \udcff")  # a lone surrogate, e.g. from a mis-decoded file name
    assert _tree(tmp_path) == {"report.html": b"old"}


def test_resume_removes_only_the_temporary_files_a_killed_run_left(tmp_path):
    out = OutputFolder(tmp_path, "reveal stimuli build")
    out.declare(["full/a.png", "b.csv"])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.png").write_bytes(b"1")
    # what atomic_write leaves when the process is killed between write and rename
    (tmp_path / "full" / ".a.png.4242.part").write_bytes(b"half")
    (tmp_path / ".b.csv.17.part").write_bytes(b"half")
    # not ours: another name, no pid, not hidden
    for name in ("full/.c.png.1.part", "full/.a.png.part", "full/a.png.4242.part"):
        (tmp_path / name).write_bytes(b"keep")
    OutputFolder(tmp_path, "reveal stimuli build", resume=True)
    assert _tree(tmp_path) == {"full/a.png": b"1", "full/.c.png.1.part": b"keep", "full/.a.png.part": b"keep",
                               "full/a.png.4242.part": b"keep", RECORD: (tmp_path / RECORD).read_bytes()}


@pytest.mark.parametrize("n, listed", [(5, "f0.txt, f1.txt, f2.txt, f3.txt, f4.txt)"),
                                       (7, "f0.txt, f1.txt, f2.txt, f3.txt, f4.txt and 2 more)")])
def test_a_refused_folder_names_five_of_its_files_and_counts_the_rest(tmp_path, n, listed):
    for i in range(n):
        (tmp_path / f"f{i}.txt").write_text("mine")
    with pytest.raises(InputError) as err:
        OutputFolder(tmp_path, "reveal analyze")
    assert f"({listed}" in str(err.value)


def test_overwrite_removes_its_emptied_subfolders_but_never_the_folder_or_a_users_file(tmp_path):
    out = OutputFolder(tmp_path / "run" / "out", "reveal analyze")
    out.write("figs/a/accuracy.png", b"\x89PNG")
    out.write("tables/t.csv", "x\n")
    out.close()
    (tmp_path / "run" / "out" / "tables" / "mine.csv").write_text("keep")  # the user's, in a recorded folder
    OutputFolder(tmp_path / "run" / "out", "reveal analyze", overwrite=True)
    root = tmp_path / "run" / "out"
    assert not (root / "figs").exists()  # emptied: removed, to its top
    assert (root / "tables" / "mine.csv").read_text() == "keep"  # not empty: kept
    assert root.is_dir() and (tmp_path / "run").is_dir()  # the folder and what holds it stay
    assert not (root / "tables" / "t.csv").exists()


def test_overwrite_of_a_run_whose_files_all_go_keeps_the_empty_folder(tmp_path):
    out = OutputFolder(tmp_path / "out", "reveal analyze")
    out.write("figs/accuracy.png", b"\x89PNG")
    out.close()
    OutputFolder(tmp_path / "out", "reveal analyze", overwrite=True)
    assert (tmp_path / "out").is_dir() and sorted(p.name for p in (tmp_path / "out").iterdir()) == [RECORD]


def test_the_flags_are_keyword_only(tmp_path):
    # OutputFolder(root, "cmd", True) would not say whether it overwrites or resumes
    with pytest.raises(TypeError):
        OutputFolder(tmp_path / "out", "reveal analyze", True)


def test_a_folder_that_cannot_be_made_is_a_named_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot create the output folder") as err:
        OutputFolder(tmp_path / "file" / "out", "reveal analyze")
    assert err.value.path == str(tmp_path / "file" / "out")


@pytest.mark.parametrize("record", [
    "{not json", '{"files": []}', '{"command": "reveal analyze", "files": 5}',
    '{"command": "reveal analyze", "files": [], "meta": [1]}', "[" * 100000 + "]" * 100000,
], ids=["not json", "no command", "files not a list", "meta not a mapping", "nested too deeply"])
def test_an_unreadable_record_is_a_named_error_and_nothing_is_deleted(tmp_path, record):
    (tmp_path / RECORD).write_text(record)
    (tmp_path / "trials.csv").write_text("a\n")
    before = _tree(tmp_path)
    with pytest.raises(InputError, match="record of this folder is unreadable") as err:
        OutputFolder(tmp_path, "reveal analyze", overwrite=True)
    assert err.value.path == str(tmp_path / RECORD)
    assert _tree(tmp_path) == before


def test_a_record_naming_outside_files_first_still_removes_the_folders_own(tmp_path):
    (tmp_path / "secret.txt").write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    (out / "trials.csv").write_text("a\n")
    (out / RECORD).write_text(json.dumps({"command": "reveal analyze", "files": ["../secret.txt", "trials.csv"]}))
    OutputFolder(out, "reveal analyze", overwrite=True)
    assert (tmp_path / "secret.txt").read_text() == "x" and not (out / "trials.csv").exists()


def test_resume_cleans_every_folder_even_after_a_missing_one(tmp_path):
    out = OutputFolder(tmp_path, "reveal stimuli build")
    out.declare(["a/x.png", "b/y.png"])  # a/ was never made (or was removed): it comes first
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".y.png.99.part").write_bytes(b"half")
    OutputFolder(tmp_path, "reveal stimuli build", resume=True)
    assert not (tmp_path / "b" / ".y.png.99.part").exists()


def test_abandon_removes_the_folder_it_made_but_never_one_the_user_made(tmp_path):
    made = OutputFolder(tmp_path / "new", "reveal analyze")
    made.abandon()
    assert not (tmp_path / "new").exists()
    (tmp_path / "users").mkdir()
    OutputFolder(tmp_path / "users", "reveal analyze").abandon()
    assert (tmp_path / "users").is_dir()
    declared = OutputFolder(tmp_path / "declared", "reveal analyze")
    declared.declare(["trials.csv"])
    declared.abandon()  # it recorded what it was about to write: the record stays with the folder
    assert (tmp_path / "declared" / RECORD).is_file()


def test_previous_record_reads_what_an_earlier_run_left_and_nothing_elsewhere(tmp_path):
    out = OutputFolder(tmp_path / "set", "reveal stimuli build")
    out.declare(["a.png"], meta={"seed": 3})
    assert OutputFolder.previous_record(tmp_path / "set") == {"command": "reveal stimuli build",
                                                              "files": ["a.png"], "meta": {"seed": 3}}
    assert OutputFolder.previous_record(tmp_path / "missing") is None
    (tmp_path / "file").write_text("x")
    assert OutputFolder.previous_record(tmp_path / "file") is None
