import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import numpy as np
import pytest

from reveal.core.seeding import as_generator, derive_seed


def _public_functions_with_rng():
    for pkg_name in ("reveal.core", "reveal.stimuli", "reveal.experiments", "reveal.analysis", "reveal.models",
                     "reveal.cli"):
        pkg = importlib.import_module(pkg_name)
        names = [pkg_name] + [i.name for i in pkgutil.walk_packages(pkg.__path__, prefix=pkg_name + ".")]
        for name in names:
            module = importlib.import_module(name)
            for fname, fn in vars(module).items():
                if (inspect.isfunction(fn) and fn.__module__ == name and not fname.startswith("_")
                        and "rng" in inspect.signature(fn).parameters):
                    yield f"{name}.{fname}", fn


FUNCTIONS = dict(_public_functions_with_rng())


def test_the_api_has_functions_that_draw():
    assert len(FUNCTIONS) >= 10


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_rng_parameter_follows_the_convention(name):
    # rng=None | int | Generator everywhere, as scikit-image does
    assert inspect.signature(FUNCTIONS[name]).parameters["rng"].default is None


def test_as_generator():
    g = np.random.default_rng(3)
    assert as_generator(g) is g
    assert as_generator(5).random() == np.random.default_rng(5).random()
    assert isinstance(as_generator(None), np.random.Generator)
    with pytest.raises(TypeError):
        as_generator(np.random.RandomState(0))


def test_reveal_order_takes_an_int_seed_and_is_reproducible():
    from reveal.stimuli import reveal_order

    m = np.random.default_rng(0).random((12, 12))
    assert np.array_equal(reveal_order(m, 4), reveal_order(m, np.random.default_rng(4)))


#: Computed once (2026-12-05) and pinned: a set rebuilt on another machine, by another
#: Python or in a spawned worker must draw the same stimuli. A seed derived from Python's
#: salted ``hash()`` would pass an equality test inside one process but not these.
PINNED_SEEDS = {
    (0, "chelsea", "clickme"): 7414115620957059520,
    (7, "img01", "salicon", 3): 8079114539676153913,
    (2**40, "é", 0): 7940519932694967074,
    (5, "img", 2**32 - 1): 349598443413248908,  # int keys are taken modulo 2**32 (as numpy's seed words)
}


def test_derived_seeds_are_the_pinned_numbers():
    for args, seed in PINNED_SEEDS.items():
        assert derive_seed(*args) == seed
    assert derive_seed(0, "a") != derive_seed(1, "a")
    assert derive_seed(5, "img", -1) == derive_seed(5, "img", 2**32 - 1)


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_derived_seeds_agree_in_processes_with_other_string_hashing(hash_seed):
    # a spawned interpreter with its own str-hash salt, as a spawned worker or a rebuild gets
    code = ("from reveal.core.seeding import derive_seed; "
            "print(derive_seed(0, 'chelsea', 'clickme'), derive_seed(7, 'img01', 'salicon', 3))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": hash_seed},
                         capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == [PINNED_SEEDS[(0, "chelsea", "clickme")],
                                     PINNED_SEEDS[(7, "img01", "salicon", 3)]]
