"""The participant -> list rule: Python (design), the lab script's code and the PsychoJS code agree.

The JavaScript is the setup code the builder generates (``code_text("setup", "js", ...)``,
the same text the compiled ``<name>.js`` holds), run by a real ``node`` for 10,000 ids.
"""
from __future__ import annotations

import json
import random
import shutil
import string
import subprocess

import pytest

from reveal.experiments import design as dsg
from reveal.experiments.builder import code_text

#: A 24-hex-digit panel id whose list PsychoJS got wrong with ``parseInt`` (fixtures/pavlovia).
PANEL_ID = "5f8d0d55b54764421b715e07"
FIXTURE_SOURCES = ("fine_grained", "spectral_residual")
LEVELS = ["1", "1.58", "2.51", "3.98", "6.31", "10", "15.8", "25.1", "39.8", "63.1", "100", "full"]


def _unicode_char(rng: random.Random) -> str:
    while True:
        cp = rng.choice([rng.randint(0xA0, 0x2FFF), rng.randint(0x3000, 0xD7FF),
                         rng.randint(0x1F300, 0x1FAFF), rng.randint(0x0660, 0x0669)])
        if not 0xD800 <= cp <= 0xDFFF:  # no lone surrogates (not valid in JSON / UTF-8)
            return chr(cp)


def participant_ids(n: int = 10_000, seed: int = 11) -> list:
    """``n`` ids of five kinds (in turn), plus fixed edge cases at the start."""
    rng = random.Random(seed)
    ids = [PANEL_ID, "", "0", "7", "000", "999999", "18446744073709551617" * 2, "chrome01",
           "chrome14", "ab", "é", "😀", "٣٤", "x²", "  12  ", "-5", "3.0"]
    letters = string.ascii_letters
    while len(ids) < n:
        kind = len(ids) % 5
        if kind == 0:  # plain numbers, short to far beyond 2**53
            ids.append(str(rng.randrange(10 ** rng.randint(1, 40))))
        elif kind == 1:  # 24-hex panel ids
            ids.append("".join(rng.choice("0123456789abcdef") for _ in range(24)))
        elif kind == 2:  # e-mail-like
            name = "".join(rng.choice(letters + "._") for _ in range(rng.randint(1, 12)))
            ids.append(f"{name}{rng.randrange(10 ** rng.randint(0, 20)) if rng.random() < 0.7 else ''}"
                       f"@{''.join(rng.choice(letters) for _ in range(5))}.org")
        elif kind == 3:  # no digits
            ids.append("".join(rng.choice(letters + " -_") for _ in range(rng.randint(1, 30))))
        else:  # unicode, with and without ASCII digits
            chars = [_unicode_char(rng) for _ in range(rng.randint(1, 12))]
            if rng.random() < 0.5:
                chars += list(str(rng.randrange(10 ** 18)))
                rng.shuffle(chars)
            ids.append("".join(chars))
    return ids[:n]


def _python(pid: str, sources, group: str) -> list:
    a = dsg.assignment(pid, sources, group or None)
    return [a.list_index, a.group, a.key_animal, a.key_nonanimal]


_HARNESS = """\
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const run = new Function('expInfo', SETUP +
  '\\nreturn [list_index, group, key_animal, key_nonanimal];');
// the id as typed into the dialog; the group, the experimenter's, from the study link's URL
const out = cases.map(([pid, group]) => {
  globalThis.window = {location: {search: group ? '?group=' + encodeURIComponent(group) : ''}};
  return run({participant: pid, session: '001', frameRate: 60});
});
process.stdout.write(JSON.stringify(out));
"""


def run_js_setup(setup_js: str, cases) -> list:
    """Run the generated JavaScript setup code with node once for all ``(id, group)`` cases."""
    script = f"const SETUP = {json.dumps(setup_js)};\n" + _HARNESS
    r = subprocess.run(["node", "-e", script], input=json.dumps(cases), capture_output=True,
                       text=True, encoding="utf-8", check=False)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is needed")


def test_python_rule_examples():
    # the fixture's id (README of fixtures/pavlovia): list 19, spectral_residual
    a = dsg.assignment(PANEL_ID, FIXTURE_SOURCES)
    assert (a.list_index, a.group) == (19, "spectral_residual")
    assert dsg.list_index(PANEL_ID, FIXTURE_SOURCES) == int("58055547644217150" + "7") % 48
    # ids whose digits fit: the same list as the integer index, as before
    for i in (0, 5, 47, 48, 53, 999999, 10 ** 30 + 7):
        assert dsg.list_index(str(i), FIXTURE_SOURCES) == dsg.list_index(i, FIXTURE_SOURCES) == i % 48
    assert dsg.list_index("chrome14", FIXTURE_SOURCES) == 14
    # no ASCII digits: sum of code points; non-ASCII digits are not digits
    for pid in ("ab", "é😀", "٣٤", ""):
        assert dsg.list_index(pid, FIXTURE_SOURCES) == sum(map(ord, pid)) % 48
    assert dsg.list_index("x²3", FIXTURE_SOURCES) == 3
    forced = dsg.assignment(PANEL_ID, FIXTURE_SOURCES, group="fine_grained")
    assert (forced.list_index, forced.group) == (7, "fine_grained")


def test_lab_setup_code_applies_the_python_rule():
    """The lab script's setup code (rendered, run by Python) gives design.assignment's answer."""
    from psychopy import core, logging
    import os
    import types

    setup = code_text("setup", "py", FIXTURE_SOURCES, LEVELS)
    compiled = compile(setup, "setup_code", "exec")
    for pid in participant_ids(300, seed=3):
        for group in ("", "fine_grained"):
            ns = {"expInfo": {"participant": pid, "session": "001", "group": group,
                              "frameRate": 60.0},
                  "win": types.SimpleNamespace(), "core": core, "logging": logging, "os": os}
            exec(compiled, ns)
            got = [ns["list_index"], ns["group"], ns["key_animal"], ns["key_nonanimal"]]
            assert got == _python(pid, FIXTURE_SOURCES, group), pid
            assert ns["training_file"] == f"conditions/list{ns['list_index']}_training.csv"


@needs_node
@pytest.mark.parametrize("sources", [FIXTURE_SOURCES, ("clickme", "gradcam", "salicon")])
def test_javascript_setup_agrees_with_python_for_10000_ids(sources):
    ids = participant_ids(10_000)
    rng = random.Random(5)
    # every id with the group from its id, one in ten also with a forced group
    cases = [[pid, ""] for pid in ids]
    cases += [[pid, rng.choice(sources)] for pid in ids[::10]]
    js = run_js_setup(code_text("setup", "js", sources, LEVELS), cases)
    py = [_python(pid, sources, group) for pid, group in cases]
    assert len(js) == len(cases) == 11_000
    bad = [(c, j, p) for c, j, p in zip(cases, js, py) if j != p]
    assert not bad, (len(bad), bad[:5])
    if sources == FIXTURE_SOURCES:
        assert js[0] == [19, "spectral_residual", "l", "s"] and cases[0] == [PANEL_ID, ""]


@needs_node
def test_compiled_javascript_holds_the_generated_setup_code(built):
    """What node ran above is what the compiled PsychoJS script holds (same lines, in order)."""
    text = built["js"].read_text(encoding="utf-8-sig")
    lines = [ln.strip() for ln in text.splitlines()]
    # (the per-list download table differs: it is the built set's, see test_online_js)
    per_set = ("rv_files =", "rv_list_files =", "rv_n_blocks =")
    setup = [ln.strip() for ln in code_text("setup", "js", ("clickme", "salicon"), LEVELS).splitlines()
             if ln.strip()]
    start = lines.index(setup[0])
    compiled = [ln for ln in lines[start:start + 3 * len(setup)] if ln][:len(setup)]
    assert [ln for ln in compiled if not ln.startswith(per_set)] == \
        [ln for ln in setup if not ln.startswith(per_set)]


def test_compiled_javascript_writes_comma_separated_data(built):
    text = built["js"].read_text(encoding="utf-8-sig")
    assert "psychoJS.experiment.field_separator = ',';" in text
    assert "field_separator = '\\t'" not in text
    py = built["py"].read_text(encoding="utf-8-sig")
    assert "thisExp.saveAsWideText(filename + '.csv', delim='comma')" in py


_URL_HARNESS = """\
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const run = new Function('expInfo', SETUP + '\\nreturn [expInfo.participant, list_index, group, rv_url_data];');
const out = cases.map(([search, typed]) => {
  globalThis.window = {location: {search: search}};
  try {
    return run({participant: typed, session: '001', frameRate: 60});
  } catch (err) {
    return ['error', err.message];
  }
});
process.stdout.write(JSON.stringify(out));
"""


@needs_node
def test_study_link_parameters_choose_the_id_the_group_and_are_kept():
    setup = code_text("setup", "js", FIXTURE_SOURCES, LEVELS)
    cases = [
        ("?PARTICIPANT=3", "123456"),                          # any case: the link's id, not the dialog's
        ("?participant=jane%2B1%40lab.org", "1"),              # %-escapes decoded
        ("?participant=jane+1@lab.org", "1"),                  # a '+' stays a '+' (as Python sees the id)
        (f"?PROLIFIC_PID={PANEL_ID}&STUDY_ID=s1&SESSION_ID=x9", "42"),  # Prolific's link
        ("?participant=7&prolific_pid=99", "1"),               # an explicit participant wins
        ("?group=SPECTRAL_RESIDUAL&participant=5", "1"),       # the experimenter's group, any case
        ("?group=B", "5"),                                     # a group the experiment does not have
        ("", "  12  "),                                        # no link parameters: the dialog's id
    ]
    script = f"const SETUP = {json.dumps(setup)};\n" + _URL_HARNESS
    r = subprocess.run(["node", "-e", script], input=json.dumps(cases), capture_output=True, text=True,
                       encoding="utf-8", check=False)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    for (search, typed), out in zip(cases, got):
        if out[0] == "error":
            assert search == "?group=B"
            assert 'asks for group "B"' in out[1] and "fine_grained, spectral_residual" in out[1]
            continue
        pid, list_index, group, params = out
        expected_group = "spectral_residual" if "group=" in search else None
        a = dsg.assignment(pid, FIXTURE_SOURCES, expected_group)
        assert (list_index, group) == (a.list_index, a.group), search
    pids = [out[0] for out in got]
    assert pids[:5] == ["3", "jane+1@lab.org", "jane+1@lab.org", PANEL_ID, "7"]
    assert pids[7] == "  12  "
    assert got[3][3] == {"PROLIFIC_PID": PANEL_ID, "STUDY_ID": "s1", "SESSION_ID": "x9"}
    assert got[0][3] == {"PROLIFIC_PID": "", "STUDY_ID": "", "SESSION_ID": ""}


@needs_node
@pytest.mark.parametrize("sources, levels", [
    (("clickme", "salicon"), ["1", "10", "100", "full"]),  # 4 conditions (a set built with --levels 1,10,100)
    (("clickme",), ["1", "10", "full"]),  # 3 conditions, one source: an odd cycle of lists
    (("clickme", "gradcam", "salicon"), ["2", "2.5", "3.2", "4", "full"]),  # 5 conditions, 3 sources
])
def test_javascript_setup_agrees_with_python_for_a_sets_own_levels(sources, levels):
    ids = participant_ids(2_000, seed=8)
    cases = [[pid, ""] for pid in ids] + [[pid, sources[-1]] for pid in ids[::10]]
    js = run_js_setup(code_text("setup", "js", sources, levels), cases)
    py = []
    for pid, group in cases:
        a = dsg.assignment(pid, sources, group or None, n_conditions=len(levels))
        py.append([a.list_index, a.group, a.key_animal, a.key_nonanimal])
    bad = [(c, j, p) for c, j, p in zip(cases, js, py) if j != p]
    assert not bad, (len(bad), bad[:5])
    assert max(j[0] for j in js) == 2 * len(levels) * len(sources) - 1  # every list is reached
