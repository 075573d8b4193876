"""What a user sees when something goes wrong: one line and an exit code, never a traceback."""
import pytest

from reveal.cli.main import main


def test_output_that_is_a_file_is_a_named_error(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["stimuli", "build", "--sample", "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reveal: error: ") and str(tmp_path / "f") in err and "Traceback" not in err


def test_an_internal_error_is_one_line_and_a_saved_traceback(tmp_path, capsys, monkeypatch):
    # fault injection: the analyze handler fails the way a bug of ours would
    import reveal.cli.analyze as analysis_cli

    def broken(args):
        raise ZeroDivisionError("division by zero in a helper")

    monkeypatch.setattr(analysis_cli, "run_analyze", broken)
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "internal error: ZeroDivisionError" in err and "--debug" in err
    saved = err.split("full traceback in ")[1].split(";")[0]
    text = open(saved, encoding="utf-8").read()
    assert "Traceback" in text and "broken" in text
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "analyze", str(tmp_path), "--out", str(tmp_path / "o")])


def test_run_with_a_relative_experiment_path_finds_its_script(tmp_path, monkeypatch):
    from reveal.experiments.run import find_script

    exp = tmp_path / "rapidcat"
    exp.mkdir()
    (exp / "rapidcat.psyexp").write_text("<PsychoPy2experiment/>")
    (exp / "rapidcat.py").write_text("")
    monkeypatch.chdir(tmp_path)
    script = find_script("rapidcat/")
    assert script.is_absolute() and script == (exp / "rapidcat.py").resolve()


def test_no_display_is_one_line(tmp_path, capsys, monkeypatch):
    exp = tmp_path / "rapidcat"
    exp.mkdir()
    monkeypatch.setenv("DISPLAY", ":987")  # no X server there
    rc = main(["experiment", "run", "--experiment", str(exp), "--participant", "1"])
    err = capsys.readouterr().err
    assert rc in (2, 3) and "Traceback" not in err and err.startswith("reveal: error:")
