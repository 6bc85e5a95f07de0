"""Statistics of a fitted model: covariances (model-based, HC0, cluster-robust), the
summary table and likelihoods, singular information and quasi-separation diagnostics,
and metrics summarised from their sums.
"""
