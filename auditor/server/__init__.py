"""``auditor serve``: scan on an interval and on watch events, and serve the newest result.

One scanner thread produces immutable snapshots (``state.Snapshot``); HTTP threads only read the
current one, so a scan in progress never blocks a scrape. Modules: ``settings`` (flags), ``trigger``
(interval and debounced events), ``watch`` (raw watch streams), ``scanner`` (scan → snapshot),
``http`` (endpoints), ``app`` (wiring, signals, shutdown).
"""
