"""Solvers: ask-and-tell generators that yield a ``protocol.Request`` and are sent the
``Evaluation`` back; they never touch Dask and never block. Newton (proximal Newton for
L1), L-BFGS (OWL-QN), gradient descent, their line searches, and the registry
(``registry.SOLVERS``, ``choose_solver``, ``solve``).
"""
