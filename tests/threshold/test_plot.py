"""threshold.plot: the evidence picture beside each threshold record is a PNG of the score
distributions and ROC curves, and draws for any kinds and extreme scores it is given."""

import io

import numpy as np
from PIL import Image

from lakewatch.threshold.choose import evaluate
from lakewatch.threshold.plot import explain_png


def _png(normal, abnormal):
    ev = evaluate(normal, abnormal, 0.01, 0.01)
    return Image.open(io.BytesIO(explain_png(normal, abnormal, ev, "model ipi-1, 2026-11-05")))


def test_a_wide_png_for_every_kind():
    rng = np.random.default_rng(0)
    normal = rng.normal(2, 1, 3000)
    abnormal = {
        "random_public": rng.normal(-2, 1, 400),
        "shuffled": rng.normal(0, 1, 400),
        "analyst_true_positive": np.array([-4.0, -3.5]),  # a kind with no colour of its own
    }
    image = _png(normal, abnormal)
    assert image.format == "PNG" and image.size[0] > 2 * image.size[1] > 800
    pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # something was drawn on both panels
    half = pixels.shape[1] // 2
    assert (pixels[:, :half] < 128).sum() and (pixels[:, half:] < 128).sum()


def test_outliers_and_ties_do_not_break_the_picture():
    normal = np.concatenate([np.full(500, 1.0), [1e6]])
    abnormal = {"random_public": np.concatenate([np.full(100, -1.0), [-1e6]])}
    assert _png(normal, abnormal).format == "PNG"
