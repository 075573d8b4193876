import numpy as np
from scipy.stats import norm

from reveal.analysis.psychometric import fit_psychometric
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
