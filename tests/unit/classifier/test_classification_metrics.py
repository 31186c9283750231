"""The classification report's figures, checked by hand."""

from __future__ import annotations

import pytest

from classifier.metrics import classification_metrics, format_report

pytestmark = pytest.mark.unit


def test_weighted_f1_weighs_each_class_by_its_support() -> None:
    # negative 0, neutral 1, positive 2: six neutral texts, two positive, two negative
    y_true = [1, 1, 1, 1, 1, 1, 2, 2, 0, 0]
    y_pred = [1, 1, 1, 1, 1, 2, 2, 1, 0, 1]
    m = classification_metrics(y_true, y_pred)
    # neutral: P 5/7, R 5/6 -> F1 10/13; positive: P 1/2, R 1/2 -> 1/2; negative: P 1, R 1/2 -> 2/3
    f1 = {"neutral": 10 / 13, "positive": 1 / 2, "negative": 2 / 3}
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert m["weighted_f1"] == pytest.approx((6 * f1["neutral"] + 2 * 0.5 + 2 * 2 / 3) / 10)
    assert m["weighted_f1"] > m["macro_f1"]  # the big class is the best one here
    assert "weighted-F1     0.695" in format_report(m)
