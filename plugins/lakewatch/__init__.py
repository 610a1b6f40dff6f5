"""lakewatch: anomalous network behaviour in Amazon Security Lake with IP Insights."""

__version__ = "0.1.0"
