"""What lakewatch's HTML reports and evidence pictures share: a matplotlib figure as PNG bytes,
and a table as escaped HTML (the threshold's evidence, the demo's, the backtest's and the load
test's reports)."""

from __future__ import annotations

import html
import io
from typing import Any


def png_bytes(fig: Any, dpi: int = 100) -> bytes:
    """``fig`` drawn as PNG, then closed (pyplot keeps every open figure otherwise)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def html_table(header: list[str], rows: list[list[Any]]) -> str:
    """A ``<table>`` of ``rows`` under ``header``, every cell escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
