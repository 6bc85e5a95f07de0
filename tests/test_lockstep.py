"""The loop that runs one solver or many (``dasklr.fit.lockstep``): plain generators stand
in for solvers, a counting function for the passes."""

import threading

import numpy as np

import dasklr
from dasklr.fit.lockstep import Member, run_lockstep
from dasklr.solvers.protocol import Evaluation, Request
from dasklr.solvers.state import SolverState


def _toy(name: str, steps: int, log: list):
    """A solver that asks ``steps`` times, then yields a state after each answer."""
    x = np.zeros(1)
    for k in range(steps):
        answer = yield Request(x + k)
        log.append((name, float(answer.loss)))
        yield SolverState(k, x + k, answer.loss, np.zeros(1), 1.0, k == steps - 1)


def test_every_pass_answers_every_running_member_in_order():
    log: list = []
    passes: list = []

    def answer(requests):
        passes.append([i for i, _ in requests])
        return [Evaluation(float(r.params[0]) + 10 * i, np.zeros(1)) for i, r in requests]

    members = [
        Member(_toy(f"m{i}", steps, log), lambda s: False) for i, steps in enumerate((3, 1, 2))
    ]
    run_lockstep(members, answer)
    # one pass per round, serving the members still running, always in the same order
    assert passes == [[0, 1, 2], [0, 2], [0]]
    assert [m.last.iteration for m in members] == [2, 0, 1]
    assert log[:3] == [("m0", 0.0), ("m1", 10.0), ("m2", 20.0)]


def test_a_member_stopped_by_its_callback_asks_no_more():
    passes = []

    def answer(requests):
        passes.append(len(requests))
        return [Evaluation(0.0, np.zeros(1)) for _ in requests]

    stopper = Member(_toy("a", 5, []), lambda state: state.iteration == 1)
    runner = Member(_toy("b", 4, []), lambda state: False)
    run_lockstep([stopper, runner], answer)
    assert stopper.stopped and stopper.last.iteration == 1
    assert passes == [2, 2, 1, 1]


def test_a_grid_runs_without_threads(client):
    """The grid's models advance in the driver's own thread: no thread appears during a
    fit of 3 alphas × (1 + 3 folds) models."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 3))
    y = (X[:, 0] + rng.logistic(size=1500) > 0).astype(float)
    seen: set = set()
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.update(t.name for t in threading.enumerate())
            stop.wait(0.005)

    before = {t.name for t in threading.enumerate()}
    watcher = threading.Thread(target=watch, name="watcher")
    watcher.start()
    try:
        dasklr.LogisticRegressionCV(alphas=[1e-1, 1e-2, 1e-3], cv=3, client=client).fit(X, y)
    finally:
        stop.set()
        watcher.join()
    assert not [name for name in seen - before - {"watcher"} if "dasklr" in name]
