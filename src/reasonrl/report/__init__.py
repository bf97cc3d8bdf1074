"""HTML report of a run (or two runs overlaid): figures, eval tables, sample traces, aha signals."""
from reasonrl.report.build import write_report

__all__ = ["write_report"]
