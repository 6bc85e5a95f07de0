"""Early stopping: hold out a share of the rows and keep the iteration they liked best."""

from dataclasses import dataclass

from dasklr.solvers.state import SolverState

#: A held-out loss must fall by this share of the best so far to count as better (early
#: stopping): changes below it are the last digits of a converging fit, not progress.
IMPROVEMENT = 1e-9


@dataclass
class EarlyStopping:
    """Hold out ``fraction`` of the rows (``folds.held_out``), and end the fit once their
    mean log-loss has not improved for ``patience`` iterations, keeping the iteration where
    it was lowest. Meant for the first-order solvers; Newton needs few iterations anyway.

    The held-out loss of a state comes with its evaluation (``Evaluation.held_out_loss``),
    measured in the same pass as the training rows' sums."""

    fraction: float = 0.1
    patience: int = 5
    best: SolverState | None = None
    best_loss: float = float("inf")

    @staticmethod
    def loss_at(state: SolverState) -> float | None:
        """The held-out loss at the state's point (None where no pass measured it)."""
        return None if state.evaluation is None else state.evaluation.held_out_loss

    def observe(self, state: SolverState, loss: float | None) -> bool:
        """Record one iteration; True when the fit should stop."""
        if loss is not None and (
            self.best is None or loss < self.best_loss - IMPROVEMENT * abs(self.best_loss)
        ):
            self.best, self.best_loss = state, loss
        since = state.iteration - (self.best.iteration if self.best is not None else 0)
        return since >= self.patience

    def worse(self, loss: float | None) -> bool:
        """Whether a converged fit's last held-out loss is above the best by more than
        rounding (``IMPROVEMENT``): then the best iteration is kept instead."""
        if self.best is None or loss is None:
            return False
        return loss > self.best_loss + IMPROVEMENT * abs(self.best_loss)

    def message(self, last: int) -> str:
        assert self.best is not None
        how = (
            f"did not improve for {self.patience} iterations after it"
            if last - self.best.iteration >= self.patience
            else f"rose after it, until the fit converged at iteration {last}"
        )
        return (
            f"early stopping: the log-loss of the held-out rows ({self.fraction:g} of them) "
            f"was lowest at iteration {self.best.iteration} ({self.best_loss:.6g}) and {how}; "
            "that iteration is kept"
        )
