"""Backtest: the detection loop over a copy of any Security Lake, scored against known
incidents (``lakewatch backtest``)."""
