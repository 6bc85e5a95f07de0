"""The fit: the objective assembled from a pass's sums (``objective``), the driver of one
fit, the grid of many fits in the same passes, the loop that runs one solver or hundreds
(``lockstep``), early stopping, checkpoints, callbacks, and the statistics a fit leaves.
"""
