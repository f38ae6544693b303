"""Reports: sections, the statistics and tables they are made of, and the one writer.

* :mod:`~regae.reports.section` — ``Section``: markdown + figures + the numbers behind them;
* :mod:`~regae.reports.stats` — intervals and paired tests (every comparison carries its uncertainty);
* :mod:`~regae.reports.tables` — number formatting, markdown tables, JSON-safe values;
* :mod:`~regae.reports.writer` — ``write_report``: index.md + metrics.json (+ index.html);
* :mod:`~regae.reports.html` — the self-contained HTML page.
"""
