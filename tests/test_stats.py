"""Tests of slm_lib.stats: intervals and tests against hand computations and scipy/statsmodels."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from slm_lib import stats


def test_wilson_matches_statsmodels_and_broadcasts():
    x, n = np.array([0, 3, 8, 10]), np.array([10, 10, 10, 10])
    lo, hi = stats.wilson_interval(x, n)
    ref_lo, ref_hi = proportion_confint(x, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)


def test_wilson_empty_is_nan():
    lo, hi = stats.wilson_interval(0, 0)
    assert np.isnan(lo) and np.isnan(hi)


def test_mean_t_interval_matches_scipy():
    lo, hi = stats.mean_t_interval(2.0, 1.5, 12)
    ref = sst.t.interval(0.95, 11, loc=2.0, scale=1.5 / math.sqrt(12))
    assert (float(lo), float(hi)) == pytest.approx(ref)
    lo1, hi1 = stats.mean_t_interval(2.0, np.nan, 1)
    assert np.isnan(lo1) and np.isnan(hi1)


def test_nps_se_hand_computed():
    # pP = .5, pD = .2: 100 * sqrt((0.7 - 0.09) / 100) = 10 * sqrt(0.61)
    assert float(stats.nps_se(50, 20, 100)) == pytest.approx(10 * math.sqrt(0.61))


def test_nps_interval_adjusted_wald_hand_computed():
    # Rocks (2016): 3/4 promoter, 3/2 passive, 3/4 detractor added: 50.75 P and 20.75 D of 103,
    # centre 100 * 30 / 103 = 29.13, se = 100 * sqrt((pP + pD - (pP - pD)^2) / 103) = 7.69
    lo, hi = stats.nps_interval(50, 20, 100)
    pp, pd_ = 50.75 / 103, 20.75 / 103
    se = 100 * math.sqrt((pp + pd_ - (pp - pd_) ** 2) / 103)
    z = sst.norm.ppf(0.975)
    assert se == pytest.approx(7.6915, abs=1e-4)
    assert float(lo) == pytest.approx(3000 / 103 - z * se) and float(hi) == pytest.approx(3000 / 103 + z * se)


def test_nps_interval_all_promoters_is_not_certain():
    # 10 promoters of 10: the plain interval was [100, 100]. Adjusted: 10.75 P, 0.75 D of 13,
    # centre 76.92, se = 100 * sqrt((11.5/13 - (10/13)^2) / 13) = 15.01 -> 47.50 to 106.3, clipped to 100
    lo, hi = stats.nps_interval(10, 0, 10)
    se = 100 * math.sqrt((11.5 / 13 - (10 / 13) ** 2) / 13)
    assert float(lo) == pytest.approx(1000 / 13 - sst.norm.ppf(0.975) * se)
    assert float(lo) == pytest.approx(47.50, abs=0.01)
    assert float(hi) == 100.0
    lo, hi = stats.nps_interval(0, 0, 0)
    assert np.isnan(lo) and np.isnan(hi)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 400), st.data())
def test_nps_interval_contains_estimate_within_bounds(n, data):
    promoters = data.draw(st.integers(0, n))
    detractors = data.draw(st.integers(0, n - promoters))
    lo, hi = stats.nps_interval(promoters, detractors, n)
    assert -100.0 <= float(lo) <= 100.0 * (promoters - detractors) / n <= float(hi) <= 100.0


def test_skewness_corrected_t_interval_hand_computed():
    # Hall (1992), n = 30, mean 2, sd 1, skewness 1: a = 1/(3 sqrt 30) = 0.060858, b = a/2,
    # t(29) = 2.045230; g^-1(x) = ((1 + 3a(x - b))^(1/3) - 1)/a gives 1.80834 and -2.41253,
    # so the interval is 2 - 0.182574 * (1.80834, -2.41253) = (1.66982, 2.44047); plain t: 2 -+ 0.37341
    lo, hi = stats.mean_t_interval(2.0, 1.0, 30, skewness=1.0)
    assert (float(lo), float(hi)) == pytest.approx((1.66982, 2.44047), abs=2e-5)
    lo, hi = stats.mean_t_interval(2.0, 1.0, 30, skewness=-1.0)  # mirrored: 2 - 0.44047, 2 + 0.33018
    assert (float(lo), float(hi)) == pytest.approx((1.55953, 2.33018), abs=2e-5)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=2, max_size=300))
def test_skewness_corrected_interval_contains_mean_and_is_t_when_symmetric(scores):
    x = np.array(scores, dtype=float)
    mean, lo, hi, sd = stats.mean_from_values(x)
    assert float(lo) <= float(mean) <= float(hi)
    mirrored = stats.mean_from_values(8.0 - x)  # mirror the scale: the interval mirrors
    assert float(mirrored[1]) == pytest.approx(8.0 - float(hi))
    assert float(mirrored[2]) == pytest.approx(8.0 - float(lo))
    both = stats.mean_from_values(np.concatenate([x, 8.0 - x]))  # symmetric sample: plain t
    t_lo, t_hi = stats.mean_t_interval(both[0], both[3], 2 * len(x))
    assert (float(both[1]), float(both[2])) == pytest.approx((float(t_lo), float(t_hi)))


def test_two_sample_z_hand_and_zero_se():
    z, p = stats.two_sample_z(10.0, 5.0)
    assert float(z) == 2.0 and float(p) == pytest.approx(2 * sst.norm.sf(2.0))
    z0, p0 = stats.two_sample_z(0.0, 0.0)
    assert float(z0) == 0.0 and float(p0) == 1.0


def test_two_proportion_z_matches_statsmodels():
    z, p = stats.two_proportion_z(40, 100, 55, 120)
    ref_z, ref_p = proportions_ztest([55, 40], [120, 100])
    assert float(z) == pytest.approx(ref_z) and float(p) == pytest.approx(ref_p)


def test_welch_matches_scipy():
    r = stats.welch_t(3.0, 1.0, 20, 2.5, 1.2, 25)
    ref = sst.ttest_ind_from_stats(2.5, 1.2, 25, 3.0, 1.0, 20, equal_var=False)
    assert float(r["statistic"]) == pytest.approx(ref.statistic)
    assert float(r["p_value"]) == pytest.approx(ref.pvalue)
    assert float(r["ci_low"]) < -0.5 < float(r["ci_high"])


def test_poisson_interval_known_values():
    lo, hi = stats.poisson_interval(np.array([0, 10]))
    assert lo[0] == 0.0 and hi[0] == pytest.approx(3.6889, abs=1e-4)
    assert lo[1] == pytest.approx(4.7954, abs=1e-4) and hi[1] == pytest.approx(18.3904, abs=1e-4)


def test_quantile_ci_ranks_median_table():
    # n = 100: the classical 95% interval for the median is [x(40), x(61)] (1-based)
    lo, hi = stats.quantile_ci_ranks(np.array([100, 0]), 0.5)
    assert lo.tolist() == [39, -1] and hi.tolist() == [60, -1]


def test_quantile_ci_ranks_coverage_at_least_nominal():
    n, q = np.array([20, 50, 200]), 0.9
    lo, hi = stats.quantile_ci_ranks(n, q)
    # P(x_(l+1) <= xi <= x_(u+1)) = P(l+1 <= B <= u) with B ~ Bin(n, q)
    coverage = sst.binom.cdf(hi, n, q) - sst.binom.cdf(lo, n, q)
    assert (coverage[1:] >= 0.95).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0, 1e4, allow_nan=False)), min_size=1, max_size=80))
def test_grouped_quantiles_match_numpy(pairs):
    g = np.array([p[0] for p in pairs])
    x = np.array([p[1] for p in pairs])
    res = stats.grouped_quantiles(x, g, 5, (0.5, 0.9))
    for q in (0.5, 0.9):
        value, lo, hi = res[q]
        for k in range(5):
            xs = x[g == k]
            if xs.size == 0:
                assert np.isnan(value[k])
            else:
                assert value[k] == pytest.approx(np.quantile(xs, q), rel=1e-12, abs=1e-9)
                assert lo[k] <= value[k] <= hi[k]
                assert xs.min() <= lo[k] and hi[k] <= xs.max()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500), st.data())
def test_wilson_contains_estimate(n, data):
    x = data.draw(st.integers(0, n))
    lo, hi = stats.wilson_interval(x, n)
    assert 0.0 <= float(lo) <= x / n <= float(hi) <= 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 2**62)), min_size=1, max_size=60),
       st.booleans())
def test_grouped_quantiles_integer_path_matches_float_path(pairs, small):
    g = np.array([p[0] for p in pairs])
    x = np.array([p[1] % 10**6 if small else p[1] for p in pairs], dtype=np.int64)  # large: no packed key
    as_int = stats.grouped_quantiles(x, g, 301, (0.5, 0.9), scale=0.5)
    as_float = stats.grouped_quantiles(x.astype(np.float64) * 0.5, g, 301, (0.5, 0.9))
    for q in (0.5, 0.9):
        for a, b in zip(as_int[q], as_float[q]):
            np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)


def _reference_order_statistics(x, g, positions):
    order = np.lexsort((x, g))
    return x[order][positions].astype(np.float64)


@settings(max_examples=150, deadline=None)
@given(st.data(), st.integers(1, 40), st.sampled_from(["int", "wide_int", "float", "ties"]))
def test_order_statistics_selection_equals_full_sort(data, n_groups, kind):
    n = data.draw(st.integers(1, 400))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    g = rng.integers(0, n_groups, n)
    if kind == "int":
        x = rng.integers(0, 10**15, n)
    elif kind == "wide_int":  # a span wider than int64 can hold
        x = rng.integers(-2**62, 2**62, n) * 2
    elif kind == "float":  # negative, zero, subnormal and huge values
        x = rng.choice([-1e300, -3.5, -1e-310, 0.0, 1e-310, 2.25, 7.0, 1e300], n) * rng.random(n)
    else:
        x = rng.integers(0, 3, n) * 2**40
    positions = np.sort(rng.integers(0, n, data.draw(st.integers(1, 6))))
    expected = _reference_order_statistics(x, g, positions)
    for force in (True, False):  # selection passes, and the packed (or two-key) sort of small inputs
        np.testing.assert_array_equal(stats._order_statistics(x, g, n_groups, positions, force_select=force),
                                      expected)


def test_order_statistics_two_far_values_fall_back_to_sort():
    x = np.repeat(np.array([0, 2**60], dtype=np.int64), 5000)  # every pass keeps both buckets
    g = np.zeros(x.size, dtype=np.int64)
    got = stats._order_statistics(x, g, 1, np.array([0, 4999, 5000, 9999]), force_select=True)
    assert got.tolist() == [0.0, 0.0, float(2**60), float(2**60)]


def test_grouped_quantiles_large_input_matches_numpy():
    rng = np.random.default_rng(3)
    g = rng.integers(0, 7, 300_000)
    x = (rng.lognormal(2.0, 2.5, g.size) * 3.6e12).astype(np.int64)  # heavy tail: several passes
    res = stats.grouped_quantiles(x, g, 8, (0.5, 0.9), scale=1 / 3.6e12)
    for k in range(7):
        for q in (0.5, 0.9):
            assert res[q][0][k] == pytest.approx(np.quantile(x[g == k] / 3.6e12, q), rel=1e-12)
    assert np.isnan(res[0.5][0][7])


def test_grouped_quantiles_many_small_groups_and_no_quantiles():
    rng = np.random.default_rng(4)
    g = rng.integers(0, 3000, 200_000)  # ~67 rows per group: one sort, not selection passes
    x = rng.lognormal(0, 3, g.size)
    res = stats.grouped_quantiles(x, g, 3000, (0.5,))
    for k in (0, 1234, 2999):
        assert res[0.5][0][k] == pytest.approx(np.quantile(x[g == k], 0.5), rel=1e-12)
    assert stats.grouped_quantiles(x, g, 3000, ()) == {}


def test_order_statistics_pile_of_zeros_resolved_without_sorting_it(monkeypatch):
    rng = np.random.default_rng(8)
    g = rng.integers(0, 5, 400_000)
    x = np.where(rng.random(g.size) < 0.6, 0.0, rng.exponential(6.0, g.size))  # 60% zero business hours
    sorted_sizes = []
    real_sort = stats._sorted_by_group
    monkeypatch.setattr(stats, "_sorted_by_group", lambda v, gg, n: sorted_sizes.append(len(v)) or real_sort(v, gg, n))
    positions = np.sort(rng.integers(0, g.size, 40))
    got = stats._order_statistics(x, g, 5, positions)
    np.testing.assert_array_equal(got, _reference_order_statistics(x, g, positions))
    assert sorted_sizes == [] or sorted_sizes[0] < 10_000  # the zeros are one exact bucket, never sorted


def test_holm_adjusted_hand_computed_with_untested_and_empty():
    # sorted 0.01, 0.02, 0.04 with 3 tests: 0.03, max(0.03, 0.04) = 0.04, max(0.04, 0.04) = 0.04
    np.testing.assert_allclose(stats.holm_adjusted([0.04, np.nan, 0.01, 0.02]), [0.04, np.nan, 0.03, 0.04])
    assert stats.holm_adjusted([]).size == 0 and stats.holm_adjusted([0.9, 0.8]).tolist() == [1.0, 1.0]
