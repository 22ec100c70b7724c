"""Discounted CLV by segment (slm_lib.clv.predictive.clv_by_segment): sums by hand, interval vs bootstrap."""
from __future__ import annotations

import numpy as np
import pytest
from test_gammagamma import models, rfm  # noqa: F401 (CDNOW fixtures)

from slm_lib.clv.bgnbd import BetaGeoModel
from slm_lib.clv.gammagamma import GammaGammaModel
from slm_lib.clv.predictive import clv_by_segment, predictive_clv
from slm_lib.errors import DataValidationError


@pytest.fixture(scope="module")
def segments(rfm):   # noqa: F811
    return np.random.default_rng(0).choice(["north", "south", "west"], len(rfm), p=[0.6, 0.3, 0.1])


def test_segment_sums_and_means_are_those_of_predictive_clv(models, rfm, segments):   # noqa: F811
    bg, gg = models
    cols = rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"]
    per = predictive_clv(bg, gg, *cols)
    out = clv_by_segment(bg, gg, *cols, segments).set_index("segment")
    by_hand = per.groupby(segments)["clv"].agg(["sum", "size"])
    assert out.index.tolist() == ["north", "south", "west", "all"]
    np.testing.assert_allclose(out.loc[by_hand.index, "total_clv"], by_hand["sum"], rtol=1e-12)
    assert out.loc[by_hand.index, "n"].tolist() == by_hand["size"].tolist() and out.loc["all", "n"] == 2357
    assert out.loc["all", "total_clv"] == pytest.approx(per["clv"].sum(), rel=1e-12)
    np.testing.assert_allclose(out["mean_clv"] * out["n"], out["total_clv"])
    assert ((out["total_low"] < out["total_clv"]) & (out["total_clv"] < out["total_high"])).all()
    assert not out["small_n"].any()
    # a total is far tighter than the customers' intervals added up (they share the parameters)
    assert out.loc["all", "total_high"] - out.loc["all", "total_low"] < (per["ci_high"] - per["ci_low"]).sum()


def test_segment_interval_agrees_with_a_parametric_bootstrap_of_the_totals(models, rfm, segments):   # noqa: F811
    """600 parameter draws (both models), totals recomputed: bounds agree within 4% of the total."""
    bg, gg = models
    cols = rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"]
    out = clv_by_segment(bg, gg, *cols, segments)
    sims = []
    for b, g in zip(bg.result_.draw(600, 1), gg.result_.draw(600, 2)):
        clv = predictive_clv(BetaGeoModel.from_params(dict(zip(bg.param_names, b))),
                             GammaGammaModel.from_params(dict(zip(gg.param_names, g))), *cols, interval=False)["clv"]
        sums = clv.groupby(segments).sum()
        sims.append([*sums.to_numpy(), clv.sum()])
    lo, hi = np.quantile(np.array(sims), [0.025, 0.975], axis=0)
    for ours, theirs in ((out["total_low"], lo), (out["total_high"], hi)):
        assert np.all(np.abs(ours.to_numpy() - theirs) / out["total_clv"].to_numpy() < 0.04)


def test_small_segments_are_flagged_and_bad_segments_rejected(models):   # noqa: F811
    bg, gg = models
    out = clv_by_segment(bg, gg, [0, 2], [0.0, 30.0], [39.0, 39.0], [0.0, 30.0], ["a", None])
    assert out["segment"].tolist() == ["a", "all"] and out["n"].tolist() == [1, 1] and out["small_n"].all()
    with pytest.raises(DataValidationError, match="one value per customer"):
        clv_by_segment(bg, gg, [0, 2], [0.0, 30.0], [39.0, 39.0], [0.0, 30.0], ["a"])
