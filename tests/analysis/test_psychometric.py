import numpy as np
import pytest
from scipy.stats import norm

from reveal.analysis.psychometric import fit_data, fit_psychometric
from reveal.analysis.synthetic import accuracy_model


def test_threshold_and_ceiling_recovered_from_known_function():
    rng = np.random.default_rng(42)
    x = np.logspace(0, 2, 11)
    levels = [f"{v:.3g}" for v in x]
    true_log10, spread, lapse = 0.7, 0.25, 0.02
    p = accuracy_model(levels, true_log10, spread, lapse)
    n = np.full(x.size, 120)
    fit = fit_psychometric(x, rng.binomial(n, p), n, rng=rng)
    # True 75 %-correct point of p(x) = 0.5 + (0.5 - lapse) Φ((log10 x - t)/s).
    true_75 = 10 ** (true_log10 + spread * norm.ppf(0.25 / (0.5 - lapse)))
    assert fit.threshold_low < true_75 < fit.threshold_high
    assert abs(np.log10(fit.threshold_pct) - np.log10(true_75)) < 0.1
    # Ceiling: 95 % of the way to the asymptote.
    true_ceiling = 10 ** (true_log10 + spread * norm.ppf(0.95))
    assert fit.ceiling_low < true_ceiling < fit.ceiling_high
    assert fit.threshold_pct < fit.ceiling_pct
    # The fitted curve passes near the data-generating one.
    assert np.max(np.abs(fit.curve(x) - p)) < 0.06


# the docstring example's data: 24 trials at each of six levels, from chance to ceiling
X, K, N = [1, 2.5, 6.3, 15.8, 39.8, 100], [11, 13, 17, 22, 24, 24], [24] * 6


@pytest.fixture(scope="module")
def fit():
    return fit_psychometric(X, K, N, rng=0, n_samples=500)


def test_the_intervals_are_the_central_credible_mass_of_the_posterior_samples(fit):
    """By definition: the 2.5th and 97.5th percentiles of the samples (in log10 %), same seed, same samples."""
    samples = fit.result.posterior_samples(500, random_state=np.random.default_rng(0))
    sig = fit.result.configuration.make_sigmoid()
    t, w, g, lapse = (samples[k] for k in ("threshold", "width", "gamma", "lambda"))
    with np.errstate(all="ignore"):
        thresholds = sig.inverse((0.75 - g) / (1 - lapse - g), t, w)
    ceilings = sig.inverse(0.95, t, w, 0.0, 0.0)
    for draws, (low, high) in ((thresholds, (fit.threshold_low, fit.threshold_high)),
                               (ceilings, (fit.ceiling_low, fit.ceiling_high))):
        expected = 10 ** np.percentile(draws[np.isfinite(draws)], [2.5, 97.5])
        assert (low, high) == pytest.approx(tuple(expected), rel=1e-9)
    est = fit.result.parameter_estimate_MAP
    assert fit.ceiling_pct == pytest.approx(10 ** sig.inverse(0.95, est["threshold"], est["width"], 0.0, 0.0))
    assert fit.n_trials == 144 and fit.lapse == est["lambda"]


def test_the_fits_repr_leaves_out_the_psignifit_result(fit):
    assert "result" not in repr(fit) and "threshold_pct" in repr(fit)


def test_the_fit_options_are_keyword_only():
    with pytest.raises(TypeError):
        fit_psychometric(X, K, N, 0)


def test_levels_without_trials_are_dropped_and_one_trial_is_a_level():
    data = fit_data([1, 10, 100, 1000, 3], [0, 5, 9, 1, 0], [1, 10, 10, 1, 0])
    assert data.tolist() == [[0, 0, 1], [1, 5, 10], [2, 9, 10], [3, 1, 1]]
    fit_data([1, 10, 100], [0, 5, 9], [1, 10, 10])  # three levels are enough
    with pytest.raises(ValueError, match="at least 3 levels with trials"):
        fit_data([1, 10, 100], [0, 5, 9], [0, 10, 10])
