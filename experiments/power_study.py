"""``reveal power`` as one call: the effect from its sources, the design, the simulation, the files.

:func:`power_study` checks the settings, gathers the groups' effects (pilot data, model
predictions, stated curves), simulates the studies (:func:`reveal.experiments.power.reveal_power`)
and writes the table, figure and report (:mod:`reveal.experiments.power_report`). The
command line only parses its options into this call and prints the result.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..analysis.exclusions import ExclusionSettings
from ..core.errors import InputError
from ..core.seeding import as_generator
from ..core.stimset import read_stimulus_set
from .power import PowerDesign, PowerResult, n_grid, reveal_power
from .power_effects import effects_from_models, effects_from_pilot, parse_group_spec
from .power_report import effects_table, open_power_output, write_power_outputs

__all__ = ["PowerStudy", "power_study"]


@dataclass
class PowerStudy:
    """What :func:`power_study` simulated and wrote."""

    result: PowerResult
    effects: list  # the GroupEffect of every group compared
    paths: dict  # 'power', 'figure', 'report', ... -> written file


def _checked_groups(effects, compare):
    names = [e.name for e in effects]
    if len(set(names)) != len(names):
        raise InputError(f"two groups share a name: {', '.join(sorted(n for n in set(names) if names.count(n) > 1))}")
    if compare:
        wanted = [w.strip() for w in compare.split(",")]
        unknown = [w for w in wanted if w not in names]
        if len(wanted) != 2 or unknown:
            raise InputError(f"--compare takes two of the groups ({', '.join(names)}), not {compare!r}")
        effects = [e for e in effects if e.name in wanted]
    if len(effects) < 2:
        raise InputError(f"power needs two groups to compare; the effect gives {', '.join(names) or 'none'}")
    return effects


def power_study(out, *, pilot=(), models=(), groups=(), compare=None, stimuli=None, images=None,
                n="20:120:20", model_spread=0.1, model_timeouts=0.0, timeouts_as_errors=False, studies=1000,
                resamples=1000, alpha=0.05, target=0.8, rng=None, overwrite=False, progress=True,
                command="") -> PowerStudy:
    """Simulation-based power of a reveal study, written into ``out``.

    Parameters
    ----------
    out : path-like
        Output folder (owned: an earlier ``reveal power`` there is replaced with ``overwrite``).
    pilot : sequence of path-like
        Pilot data files or folders: per-group curves, spread and timeouts fitted from them.
    models : sequence of path-like
        ``reveal predict`` files: each (model, map source) curve stands in for a group.
    groups : sequence of str
        Stated groups, ``NAME:threshold=T[,width=W,lapse=L,spread=S,timeouts=R]``.
    compare : str, optional
        ``"A,B"``: only this pair of groups.
    stimuli : path-like, optional
        Stimulus set: images per participant and its own levels (the Latin square's conditions; and
        the manifest pilot data may need). Without it, the default 11 levels and ``full``.
    images : int, optional
        Images per participant without ``stimuli`` (default 80).
    n : str
        Participants per group to try, ``START:STOP:STEP`` or ``N1,N2,...``.
    model_spread, model_timeouts : float
        Participants' spread (log10 units) and timeout rate around a model's curve.
    timeouts_as_errors : bool
        As ``reveal analyze --timeouts-as-errors``.
    studies, resamples : int
        Simulated studies per N; randomization resamples per simulated study.
    alpha, target : float
        Test level; power wanted.
    rng : None, int or numpy.random.Generator
    command : str
        The command line, recorded in the report.

    Returns
    -------
    PowerStudy

    Raises
    ------
    InputError
        For settings out of range, no effect, fewer than two groups or an unknown ``compare`` pair.
    """
    try:
        n_values = n_grid(n)
        stated = [parse_group_spec(g) for g in groups]
    except ValueError as err:
        raise InputError(str(err)) from None
    for name, value, low in (("--studies", studies, 10), ("--resamples", resamples, 19)):
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")
    if not 0 < alpha < 1 or not 0 < target < 1:
        raise InputError("--alpha and --target must lie between 0 and 1")
    if not (pilot or models or stated):
        raise InputError("give the effect: --pilot DATA, --models CSV and/or --group SPEC")
    folder = open_power_output(out, overwrite=overwrite)  # before the work: a wrong --out fails fast
    rng = as_generator(rng)
    exclusions = ExclusionSettings(timeouts_as_errors=timeouts_as_errors)
    if stimuli:
        stimset = read_stimulus_set(stimuli)
        if images:
            raise InputError("give --stimuli or --images, not both")
        design = PowerDesign(levels=tuple(stimset.conditions), n_images=len(stimset.images))
    else:
        design = PowerDesign(n_images=images or 80)
    effects = []
    if pilot:
        effects += effects_from_pilot(pilot, stimuli, exclusions=exclusions, rng=rng)
    if models:
        effects += effects_from_models(models, stimuli, spread_log10=model_spread, timeout_rate=model_timeouts)
    effects = _checked_groups(effects + stated, compare)
    result = reveal_power(effects, n_values, design=design, n_studies=studies, n_resamples=resamples,
                          alpha=alpha, target=target, exclusions=exclusions, rng=rng, progress=progress)
    paths = write_power_outputs(result, effects_table(effects, list(design.levels)), folder, command=command)
    return PowerStudy(result, effects, paths)
