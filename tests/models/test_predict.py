import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from reveal.cli.main import main
from reveal.models import Observer, predict, read_predictions
from reveal.core.trialdata import MODEL_COLUMNS
from reveal.core.stimset import read_stimulus_set
from reveal.models.readout import decide, parse_top5
from reveal.core.errors import InputError

# Real PsychoPy sessions, compiles or network runs: minutes, so not in `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

def _manifest(root):
    return read_stimulus_set(root).manifest

TRIAL_COLUMNS = ["observer", "observer_kind", "group", "session", "block", "trial", "stimulus_id", "image_id",
                 "category", "map_source", "level", "response", "correct", "rt_s", "timed_out"]  # conventions.md


def test_cli_writes_one_trial_row_per_stimulus(tiny_set, tmp_path, capsys):
    out = tmp_path / "lite0.csv"
    assert main(["predict", "--stimuli", str(tiny_set), "--out", str(out), "--device", "cpu",
                 "--batch-size", "4", "--no-progress"]) == 0
    assert "12 stimuli" in capsys.readouterr().out
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(raw.columns) == TRIAL_COLUMNS + ["p_animal", "top5", "stimset"] == list(MODEL_COLUMNS)
    manifest = _manifest(tiny_set)
    assert raw["stimulus_id"].tolist() == manifest["stimulus_id"].tolist()  # manifest order, no duplicates
    assert (raw["trial"] == [str(i) for i in range(1, 13)]).all()
    assert (raw["observer"] == "efficientnet_lite0").all() and (raw["observer_kind"] == "model").all()
    assert (raw["group"] == manifest["map_source"]).all()
    for col in ("image_id", "category", "map_source", "level"):
        assert (raw[col] == manifest[col]).all()
    assert (raw[["session", "block", "timed_out"]] == ["1", "1", "0"]).all().all()
    assert (raw["rt_s"] == "").all()
    assert (raw["stimset"] == read_stimulus_set(tiny_set).fingerprint).all()
    df = read_predictions(out)
    assert df["response"].tolist() == decide(df["p_animal"]).tolist()
    assert df["correct"].tolist() == (df["response"] == df["category"]).astype(int).tolist()
    assert all(len(parse_top5(t)) == 5 for t in df["top5"])
    full = df[df["level"] == "full"].set_index("stimulus_id")
    # Intact photos: chelsea is an animal, coffee and rocket are not.
    assert full.loc["chelsea_srcA_full", "p_animal"] > 0.9
    assert full.loc["coffee_srcA_full", "p_animal"] < 0.5 and full.loc["rocket_srcA_full", "p_animal"] < 0.5
    assert parse_top5(full.loc["chelsea_srcA_full", "top5"])[0][0] in range(281, 286)
    # The two sources' `full` rows share one PNG: one classification, the same evidence.
    assert (full.loc["chelsea_srcA_full", "p_animal"] == full.loc["chelsea_srcB_full", "p_animal"])


def test_batching_does_not_change_the_answers(tiny_set, tmp_path):
    one = predict(tiny_set, out=tmp_path / "b1.csv", device="cpu", batch_size=1, num_workers=0, progress=False)
    many = predict(tiny_set, device="cpu", batch_size=12, num_workers=2, progress=False)  # out=None: in memory
    assert one["response"].tolist() == many["response"].tolist()
    np.testing.assert_allclose(one["p_animal"], many["p_animal"], atol=1e-4)


def test_evidence_falls_toward_chance_with_fewer_pixels(sample_predictions):
    _, df = sample_predictions
    assert len(df) == 96 and df["stimulus_id"].is_unique
    evidence = np.where(df["category"] == "animal", df["p_animal"], 1 - df["p_animal"])
    by_level = pd.Series(evidence).groupby(df["level"]).mean()
    assert df.loc[df["level"] == "full", "correct"].mean() == 1.0
    low = by_level[["1", "1.58", "2.51", "3.98"]].mean()
    assert by_level["full"] > 0.85
    assert low < by_level["full"] - 0.1
    assert low < 0.8  # towards chance (0.5) once only a few percent of the features show


def _truncate(path, keep_rows, half_line=True):
    lines = Path(path).read_text().splitlines(keepends=True)
    text = "".join(lines[:1 + keep_rows])
    if half_line:
        text += lines[1 + keep_rows][: len(lines[1 + keep_rows]) // 2]  # a run killed inside a write
    Path(path).write_text(text)


def test_resume_after_a_cut_write_adds_no_duplicates(sample_set, sample_predictions, lite0, tmp_path):
    ref_path, ref = sample_predictions
    out = tmp_path / "resumed.csv"
    shutil.copy(ref_path, out)
    _truncate(out, keep_rows=30)
    df = predict(sample_set, lite0, out, device="cpu", progress=False)
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(raw) == 96 and raw["stimulus_id"].is_unique
    assert raw["stimulus_id"].tolist() == ref["stimulus_id"].tolist()
    assert df["response"].tolist() == ref["response"].tolist()
    np.testing.assert_allclose(df["p_animal"], ref["p_animal"], atol=1e-4)
    # A complete file is left as it is.
    before = out.read_bytes()
    predict(sample_set, lite0, out, device="cpu", progress=False)
    assert out.read_bytes() == before


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))])
def test_resume_after_the_process_is_killed(tiny_set, tmp_path, device):
    out = tmp_path / "killed.csv"
    cmd = [sys.executable, "-m", "reveal.cli.main", "predict", "--stimuli", str(tiny_set), "--out", str(out),
           "--device", device, "--batch-size", "1", "--workers", "0", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_text().count("\n") >= 3:  # header + at least 2 rows
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    partial = pd.read_csv(out, dtype=str, keep_default_na=False, on_bad_lines="skip")
    assert 1 <= len(partial)
    df = predict(tiny_set, out=out, device=device, progress=False)
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(raw) == 12 and raw["stimulus_id"].is_unique
    assert raw["trial"].astype(int).tolist() == list(range(1, 13))
    assert df["stimulus_id"].tolist() == _manifest(tiny_set)["stimulus_id"].tolist()


def test_output_of_another_stimulus_set_is_refused(tiny_set, sample_set, sample_predictions, tmp_path):
    ref_path, _ = sample_predictions
    out = tmp_path / "other.csv"
    shutil.copy(ref_path, out)
    before = out.read_bytes()
    with pytest.raises(InputError, match="another stimulus set") as err:
        predict(tiny_set, out=out, device="cpu", progress=False)
    assert err.value.path == str(out) and err.value.row == 1
    assert out.read_bytes() == before  # untouched
    # Same stimuli, another seed: the manifest differs, so the fingerprint does.
    reseeded = tmp_path / "reseeded"
    shutil.copytree(sample_set, reseeded)
    manifest = reseeded / "manifest.csv"
    text = manifest.read_text().splitlines()
    header = text[0].split(",")
    seed_col = header.index("seed")
    rows = [r.split(",") for r in text[1:]]
    for r in rows:
        r[seed_col] = str(int(r[seed_col]) + 1)
    manifest.write_text("\n".join([text[0]] + [",".join(r) for r in rows]) + "\n")
    code = main(["predict", "--stimuli", str(reseeded), "--out", str(out), "--device", "cpu", "--no-progress"])
    assert code == 2
    assert out.read_bytes() == before


def test_output_of_another_observer_is_refused(sample_set, sample_predictions, tmp_path):
    ref_path, _ = sample_predictions
    out = tmp_path / "mixed.csv"
    shutil.copy(ref_path, out)
    with pytest.raises(InputError, match="observer 'efficientnet_lite0'"):
        predict(sample_set, out=out, device="cpu", name="lite0-retrained", progress=False)


def test_a_file_that_is_not_trial_data_is_refused(tiny_set, tmp_path):
    for text in ("a,b\n1,2\n", "one line, no newline"):
        out = tmp_path / "notes.csv"
        out.write_text(text)
        with pytest.raises(InputError, match="not a model trial-data file") as err:
            predict(tiny_set, out=out, device="cpu", progress=False)
        assert err.value.path == str(out)
        assert out.read_text() == text  # left alone


def test_missing_stimulus_file_is_an_input_error(tiny_set, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_set, broken)
    (broken / "srcB" / "coffee_L00.png").unlink()
    code = main(["predict", "--stimuli", str(broken), "--out", str(tmp_path / "x.csv"), "--device", "cpu"])
    assert code == 2
    err = capsys.readouterr().err
    assert "manifest.csv, row" in err and "srcB/coffee_L00.png" in err
    assert not (tmp_path / "x.csv").exists()


def test_undecodable_stimulus_names_file_and_row(tiny_set, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_set, broken)
    (broken / "srcA" / "rocket_L00.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="rocket_L00.png") as err:
        predict(broken, out=tmp_path / "x.csv", device="cpu", num_workers=1, progress=False)
    rows = _manifest(broken)
    assert rows["file"].iat[err.value.row - 1] == "srcA/rocket_L00.png"


def test_cli_errors_exit_2(tiny_set, tmp_path, capsys):
    out = str(tmp_path / "x.csv")
    assert main(["predict", "--stimuli", str(tiny_set), "--out", out, "--model", "alexnet9"]) == 2
    assert "known models: efficientnet_lite0" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["predict", "--stimuli", str(tiny_set), "--out", out, "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err
    assert main(["predict", "--stimuli", str(tmp_path / "nowhere"), "--out", out]) == 2


class TinyNet(nn.Module):
    """Any nn.Module can take part: here a random 1000-way linear read-out of pooled colour."""

    def __init__(self, n_out=1000):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(3 * 16, n_out)

    def forward(self, x):
        return self.fc(self.pool(x).flatten(1))


def test_any_module_takes_part(tiny_set, tmp_path):
    torch.manual_seed(0)
    obs = Observer.from_module(TinyNet(), "tiny")
    df = predict(tiny_set, obs, tmp_path / "tiny.csv", device="cpu", progress=False)
    assert len(df) == 12 and (df["observer"] == "tiny").all()
    assert df["p_animal"].between(0, 1).all()
    with pytest.raises(InputError, match="1000 ImageNet-1k logits"):
        predict(tiny_set, Observer.from_module(TinyNet(10), "ten"), device="cpu", progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_mixed_precision_agrees_with_cpu(tiny_set, tmp_path):
    ref = predict(tiny_set, out=tmp_path / "cpu.csv", device="cpu", progress=False)
    df = predict(tiny_set, out=tmp_path / "gpu.csv", device="cuda", batch_size=5, num_workers=2, progress=False)
    assert df["stimulus_id"].tolist() == ref["stimulus_id"].tolist()
    np.testing.assert_allclose(df["p_animal"], ref["p_animal"], atol=0.02)
    near = (ref["p_animal"] - 0.5).abs() < 0.02  # fp16 may flip only answers at the threshold
    assert (df["response"] == ref["response"])[~near].all()
