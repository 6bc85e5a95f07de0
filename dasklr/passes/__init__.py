"""The pass: a kernel on every chunk, the partials added in a fixed tree
(``reduction``), over chunks kept decoded between passes (``cache``) and sized for the
workers (``sizing``). ``runner.passes_over`` is the one way a pass is run, with retries,
the worker watchdog, progress and one BLAS thread per task.
"""
