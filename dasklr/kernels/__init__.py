"""Chunk kernels: pure NumPy, no Dask. Each takes one chunk's (X, y, w) and returns raw
sums that merge by addition — the loss, gradient and Hessian (``logistic``), the first
pass's summary, metrics, the sandwich's pieces, a penalty grid's per-model sums, and the
stable formulas they share (``numerics``).
"""
