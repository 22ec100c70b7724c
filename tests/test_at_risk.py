"""Customers at risk: scores, drivers, value alongside, holdout AUC, and no leak from data after as_of."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest

import slm_lib as slm
import slm_lib.synth as synth
from slm_lib.errors import InsufficientDataError
from slm_lib.models import at_risk

AS_OF = "2025-12-01"


@functools.lru_cache(maxsize=1)
def generated() -> object:
    return synth.generate(customers=3000, months=14, seed=4)


@functools.lru_cache(maxsize=1)
def result():
    return at_risk(generated(), AS_OF, top=50, train_periods=9)


def test_table_columns_ranks_and_intervals():
    r = result()
    t = r.table
    assert list(t.columns) == ["rank", "customer_id", "segment", "churn_probability", "ci_low", "ci_high",
                               "top_drivers", "outside_training", "p_alive", "clv", "clv_low", "clv_high"]
    assert len(t) == 50 and t["rank"].tolist() == list(range(1, 51))
    assert t["churn_probability"].is_monotonic_decreasing
    assert ((t["ci_low"] <= t["churn_probability"]) & (t["churn_probability"] <= t["ci_high"])).all()
    assert r.n_active == r.n_unscored + len(r.drivers["customer_id"].unique())
    assert r.auc["ci_low"] > 0.5      # planted effects: better than chance on the holdout window


def test_top_drivers_are_the_largest_positive_contributions():
    r = result()
    first = r.table.iloc[0]
    mine = r.drivers[(r.drivers["customer_id"] == first["customer_id"]) & (r.drivers["contribution"] > 0)]
    best = mine.sort_values("contribution", ascending=False)["label"].head(3).tolist()
    assert [part.split(" (odds")[0] for part in first["top_drivers"].split("; ")] == best
    assert not r.drivers["label"].str.contains(r"\[").any()   # labels, not design names


def test_no_leak_from_data_after_as_of():
    ds = generated()
    cut = at_risk(ds.until(AS_OF), AS_OF, top=50, train_periods=9, holdout=False)
    full = at_risk(ds, AS_OF, top=50, train_periods=9, holdout=False)
    pd.testing.assert_frame_equal(cut.table, full.table)


def test_sentences_name_ids_only():
    r = result()
    text = " ".join(r.sentences())
    assert r.table["customer_id"].iloc[0] in text and "AUC" in text
    assert "@" not in text


def test_too_few_active_instants_is_a_clear_error():
    ds = generated()
    first = ds.customers["signup_at"].min()
    as_of = (first + pd.DateOffset(months=1)).normalize()   # customers active at the scored instant only
    with pytest.raises(InsufficientDataError, match=r"customers active at 1 of the 13 instants .* 3 are needed"):
        at_risk(ds, as_of, top=5)


def test_outside_training_names_the_drivers_beyond_the_fitted_range():
    from slm_lib.models.at_risk import _outside_training
    from slm_lib.models.churn import churn_model
    rng = np.random.default_rng(1)
    frt = rng.uniform(1, 50, 400)
    share = rng.uniform(0, 0.6, 400)
    train = pd.DataFrame({"median_frt_h": frt, "sla_breach_share": share,
                          "churned": rng.random(400) < 0.1 + 0.4 * share})
    model = churn_model(train, ["median_frt_h", "sla_breach_share"], units={"median_frt_h": 10})
    new = pd.DataFrame({"median_frt_h": [20.0, 500.0, 0.5], "sla_breach_share": [0.3, 0.3, 0.9]}, index=[7, 8, 9])
    got = _outside_training(model, new)
    frt_range, share_range = (f"(fitted {train[c].min():.3g} to {train[c].max():.3g})"
                              for c in ("median_frt_h", "sla_breach_share"))
    assert got.index.tolist() == [7, 8, 9]
    assert got.tolist() == ["", f"median first response 500 {frt_range}",
                            f"median first response 0.5 {frt_range}; SLA breach share 0.9 {share_range}"]


def test_flagged_customers_are_said_in_the_sentences():
    r = result()
    flagged = dataclasses.replace(r, table=r.table.assign(outside_training=["x"] + [""] * (len(r.table) - 1)))
    n = int((r.table["outside_training"] != "").sum())
    assert any("outside the range" in s for s in r.sentences()) == (n > 0)
    assert any(s.startswith("1 of them have a driver value outside the range") for s in flagged.sentences())


def test_engine_at_risk_equals_pandas_on_the_samples():
    from slm_lib.engines import open_dataset
    from slm_lib.engines.dataset import CORE_TABLES
    lazy, ds = open_dataset("data_samples", tables=CORE_TABLES), slm.load_data("data_samples", tables=CORE_TABLES)
    expected = at_risk(ds, "2026-10-01", top=40, train_periods=5)
    got = at_risk(lazy, "2026-10-01", top=40, train_periods=5)
    pd.testing.assert_frame_equal(got.table, expected.table, rtol=1e-9, atol=1e-9)
    pd.testing.assert_frame_equal(got.drivers, expected.drivers, rtol=1e-9, atol=1e-9)
    pd.testing.assert_frame_equal(got.holdout.metrics, expected.holdout.metrics, rtol=1e-9, atol=1e-9)
    assert (got.n_active, got.n_unscored, got.sentences()) == (expected.n_active, expected.n_unscored,
                                                                expected.sentences())
    assert len(expected.table) == 40 and expected.n_active > 1000
