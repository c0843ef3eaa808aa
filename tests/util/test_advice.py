"""The data-aware defaults and the warnings that replace silent failure (lstmkit.util.advice)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.errors import DataError, LstmkitWarning
from lstmkit.util import advice as adv


def test_explicit_setting_wins_and_is_not_echoed():
    lines: list[str] = []
    a = adv.Advice(echo=lines.append)
    assert a.choose("batch_size", 64, 8, "small set") == 64
    assert lines == []
    assert a.choices[0].given
    assert a.choose("epochs", None, 40, "enough steps") == 40
    assert lines == ["epochs=40: enough steps"]
    assert a.get("epochs") == 40
    assert a.to_json()["choices"][1] == {"name": "epochs", "value": 40, "reason": "enough steps"}


def test_percentile_length_covers_most_texts_and_rounds_to_8():
    lengths = list(range(1, 101))
    value, reason = adv.percentile_length(lengths, q=95)
    assert value == 96 and "95th percentile" in reason and "longest 100" in reason
    assert adv.percentile_length([3, 4, 5])[0] == 8
    assert adv.percentile_length(lengths, high=50)[0] == 50


@pytest.mark.parametrize("n, expected", [(60, 4), (500, 16), (10_000, 32), (1, 4)])
def test_batch_size_gives_small_sets_enough_steps(n, expected):
    assert adv.batch_size_for(n)[0] == expected


def test_epochs_reach_the_minimum_number_of_steps():
    epochs, _ = adv.epochs_for(40, 4)      # 10 steps per epoch -> 30 epochs for 300 steps
    assert epochs == 30
    assert adv.epochs_for(100_000, 32)[0] == 10
    assert adv.epochs_for(2, 4, high=50)[0] == 50


def test_stratified_split_keeps_every_class_on_both_sides():
    y = ["a"] * 20 + ["b"] * 3 + ["c"] * 2
    train, valid = adv.stratified_split(y, 0.1, seed=1, min_per_class=2)
    ya = np.asarray(y)
    assert set(ya[valid]) == {"a", "b", "c"} and set(ya[train]) == {"a", "b", "c"}
    assert (ya[valid] == "b").sum() == 2 and (ya[valid] == "c").sum() == 1
    assert sorted(np.concatenate([train, valid]).tolist()) == list(range(len(y)))
    again = adv.stratified_split(y, 0.1, seed=1, min_per_class=2)
    assert np.array_equal(again[1], valid)


def test_one_sample_per_class_is_one_clear_line():
    with pytest.raises(DataError, match=r"class 'b' has 1 sample\(s\); need at least 2 per class.*--valid"):
        adv.require_per_class(["a", "a", "b"], 2, "train.csv", "--valid FILE")


def test_warnings_are_lstmkit_warnings_and_recorded():
    a = adv.Advice(echo=None)
    with pytest.warns(LstmkitWarning, match="too few to choose the epoch"):
        assert not adv.check_validation_size(a, 4, n_classes=4)
    with pytest.warns(LstmkitWarning, match="at or near chance"):
        assert not adv.check_not_chance(a, 0.52, ["x"] * 50 + ["y"] * 50, "validation")
    assert adv.check_not_chance(a, 0.9, ["x"] * 50 + ["y"] * 50, "validation")
    with pytest.warns(LstmkitWarning, match="18 gradient steps"):
        adv.check_gradient_steps(a, 18)
    with pytest.warns(LstmkitWarning, match="column 1 has an empty name"):
        adv.check_column_names(a, ["", "y", "y"], "data.csv")
    with pytest.warns(LstmkitWarning, match="never negative"):
        adv.check_non_negative_bounds(a, np.array([0.0, 3.0]), np.array([-1.0, 2.0]), "count")
    assert len(a.warnings) == 6
