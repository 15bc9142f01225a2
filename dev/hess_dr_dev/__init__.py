"""hess_dr_dev: development only.

Synthetic DL3 files and archives (:mod:`.synthetic`, :mod:`.archive`),
private DaCHS instances for the demo, the tests and the benchmarks
(:mod:`.instance`) and the demo's choice of configuration
(:mod:`.democonfig`).  It lives in the checkout (``dev/``), beside the
product package ``hess_dr``, and is never imported by DaCHS or by
``hess_dr``.
"""
