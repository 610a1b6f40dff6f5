"""lakewatch.pages: the reports' shared PNG and HTML table."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lakewatch.pages import html_table, png_bytes


def test_a_figure_becomes_png_bytes_and_is_closed():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    before = len(plt.get_fignums())
    png = png_bytes(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(plt.get_fignums()) == before - 1


def test_every_cell_is_escaped():
    table = html_table(["kind", "<b>"], [["scan", "<script>"], [1, 2.5]])
    assert table == (
        "<table><tr><th>kind</th><th>&lt;b&gt;</th></tr>"
        "<tr><td>scan</td><td>&lt;script&gt;</td></tr><tr><td>1</td><td>2.5</td></tr></table>"
    )
