import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the fixture writers next to the tests

from analysis.simulate import simulate_trials  # noqa: E402
from analysis_fixtures import manifest_for  # noqa: E402


@pytest.fixture(scope="session")
def human_trials():
    """24 simulated participants per group (two full Latin-square rotations) with a known ClickMe advantage, as if they were humans."""
    rng = np.random.default_rng(20260301)
    t = simulate_trials({"clickme": 0.55, "salicon": 0.85}, 24, rng=rng, timeout_rate=0.03, kind="human")
    return t


@pytest.fixture()
def stimulus_dir(tmp_path, human_trials):
    folder = tmp_path / "stimset"
    folder.mkdir()
    manifest_for(human_trials).to_csv(folder / "manifest.csv", index=False)
    return folder
