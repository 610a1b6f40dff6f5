"""threshold.gate: a threshold is published only when the model separates normal from abnormal."""

from lakewatch.threshold.choose import evaluate
from lakewatch.threshold.gate import gate
from lakewatch.threshold.published import PublishedThreshold


def _eval(shift=0.0):
    import numpy as np

    rng = np.random.default_rng(0)
    return evaluate(
        rng.normal(2 + shift, 1, 2000), {"random_public": rng.normal(-2, 1, 500)}, 0.01, 0.01
    )


def test_gate():
    ev = _eval()
    assert gate(ev, None, "m1", min_auc=0.8, max_shift_iqr=1.0) == []
    assert "below the floor" in gate(ev, None, "m1", min_auc=0.999, max_shift_iqr=1)[0]
    moved = PublishedThreshold(model_id="m1", threshold=ev.chosen.threshold + 5)
    [reason] = gate(ev, moved, "m1", min_auc=0.8, max_shift_iqr=1.0)
    assert "interquartile ranges" in reason and "override=true" in reason
    assert gate(ev, moved, "m1", min_auc=0.8, max_shift_iqr=1.0, override=True) == []
    assert gate(ev, moved, "m2", min_auc=0.8, max_shift_iqr=1.0) == []  # a new model's scale
