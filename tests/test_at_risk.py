"""Customers at risk: scores, drivers, value alongside, holdout AUC, and no leak from data after as_of."""
from __future__ import annotations

import functools

import pandas as pd
import pytest

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
                               "top_drivers", "p_alive", "clv", "clv_low", "clv_high"]
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
