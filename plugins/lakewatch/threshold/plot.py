"""The picture beside each threshold record: score distributions and the ROC curve."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from lakewatch.metrics import roc_curve
from lakewatch.pages import png_bytes
from lakewatch.threshold.choose import Evaluation
from lakewatch.threshold.rcf import RcfEvaluation

_COLORS = {"random_public": "tab:red", "unused_subnet": "tab:orange", "shuffled": "tab:purple"}


def explain_png(
    normal: np.ndarray, abnormal: dict[str, np.ndarray], ev: Evaluation, title: str
) -> bytes:
    """The PNG: score distributions with the threshold on the left, ROC curves with the
    chosen operating point on the right."""
    fig, (dist, roc) = plt.subplots(1, 2, figsize=(13, 4.8))
    _plot_distributions(dist, normal, abnormal, ev)
    _plot_roc(roc, normal, abnormal, ev)
    fig.suptitle(title)
    fig.tight_layout()
    return png_bytes(fig)


def _plot_distributions(
    dist: Axes, normal: np.ndarray, abnormal: dict[str, np.ndarray], ev: Evaluation
) -> None:
    """Histograms of the normal and each abnormal set's scores, clipped to the middle 99.6%
    so a few extreme scores do not squash the rest, and the chosen threshold."""
    every = np.concatenate([normal, *abnormal.values()])
    lo, hi = np.quantile(every, [0.002, 0.998])
    bins: Any = np.linspace(lo, hi, 70)  # an array: matplotlib's stubs say a sequence
    dist.hist(
        np.clip(normal, lo, hi),
        bins,
        density=True,
        alpha=0.45,
        color="tab:blue",
        label=f"normal (n={normal.size:,})",
    )
    for kind, scores in abnormal.items():
        dist.hist(
            np.clip(scores, lo, hi),
            bins,
            density=True,
            histtype="step",
            linewidth=2,
            color=_COLORS.get(kind),
            label=f"{kind} (recall {ev.chosen.recall_by_kind.get(kind, 0):.1%})",
        )
    dist.axvline(
        ev.chosen.threshold,
        color="black",
        linestyle="--",
        label=f"threshold {ev.chosen.threshold:.3f} (FPR {ev.chosen.fpr:.3%}, 95% CI "
        f"{ev.chosen.fpr_low:.3%}-{ev.chosen.fpr_high:.3%})",
    )
    dist.set(
        title="Score distributions",
        xlabel="score (detector log-odds or dot_product; higher = expected)",
        ylabel="density",
    )
    dist.legend(fontsize=8)


def _plot_roc(
    roc: Axes, normal: np.ndarray, abnormal: dict[str, np.ndarray], ev: Evaluation
) -> None:
    """Each abnormal kind's ROC curve on a log FPR axis (the target is a small rate), with
    the chosen operating point and its FPR interval."""
    for kind, scores in abnormal.items():
        fpr, tpr, _ = roc_curve(-scores, -normal)
        roc.plot(
            np.maximum(fpr, 1e-5),
            tpr,
            color=_COLORS.get(kind),
            label=f"{kind} (AUC {ev.auc_by_kind[kind]:.3f})",
        )
    roc.axvspan(
        max(ev.chosen.fpr_low, 1e-5),
        max(ev.chosen.fpr_high, 1e-5),
        color="grey",
        alpha=0.25,
        label=f"FPR 95% interval (n={ev.sizes['normal']:,} normal pairs)",
    )
    roc.scatter(
        [max(ev.chosen.fpr, 1e-5)],
        [ev.chosen.recall],
        color="black",
        zorder=5,
        label=f"chosen: FPR {ev.chosen.fpr:.3%}, recall {ev.chosen.recall:.1%}",
    )
    roc.set(
        xscale="log",
        xlim=(1e-5, 1),
        ylim=(0, 1.02),
        title=f"ROC (AUC {ev.auc:.3f})",
        xlabel="false-positive rate on normal pairs (log)",
        ylabel="recall of abnormal pairs",
    )
    roc.grid(alpha=0.3)
    roc.legend(fontsize=8, loc="lower right")


def rcf_png(
    setting: np.ndarray,
    measuring: np.ndarray,
    ev: RcfEvaluation,
    title: str,
    abnormal: np.ndarray | None = None,
) -> bytes:
    """The RCF threshold's picture: the held-out normal hours' scores (both halves, a log
    count axis: the tail is what matters), any abnormal hours', and each rule's threshold
    with its false-positive rate on the measuring half; the published one solid."""
    fig, ax = plt.subplots(figsize=(10, 4.8))
    every = np.concatenate([setting, measuring, *([] if abnormal is None else [abnormal])])
    bins: Any = np.linspace(float(every.min()), float(every.max()), 80)
    ax.hist(setting, bins, alpha=0.45, color="tab:blue", label=f"setting half (n={setting.size:,})")
    ax.hist(
        measuring,
        bins,
        histtype="step",
        linewidth=2,
        color="tab:green",
        label=f"measuring half (n={measuring.size:,})",
    )
    if abnormal is not None and abnormal.size:
        ax.hist(
            abnormal,
            bins,
            histtype="step",
            linewidth=2,
            color="tab:red",
            label=f"abnormal hours (n={abnormal.size:,})",
        )
    for rule, result in ev.rules.items():
        ax.axvline(
            result.threshold,
            color="black",
            linestyle="-" if rule == ev.rule else ":",
            label=f"{rule}{' (published)' if rule == ev.rule else ''}: {result.threshold:.3f}, "
            f"held-out FPR {result.heldout_fpr:.3%} (95% {result.fpr_low:.3%}-"
            f"{result.fpr_high:.3%}; target {ev.target_fpr:.3%})",
        )
    ax.set(
        yscale="log",
        title=title,
        xlabel="RCF score (higher = more anomalous)",
        ylabel="instance-hours (log)",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png_bytes(fig)
