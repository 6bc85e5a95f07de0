"""One loop for one solver or a grid of hundreds: every pass answers every running model.

Solvers are ask-and-tell generators (``dasklr.solvers``, ask and tell): each ``Member`` is advanced
until it yields a ``Request`` (or finishes), the requests of all members are answered
together by one call of ``answer`` — one pass over the data — and each member is sent
its own evaluation. The states members yield between requests go to their ``on_state``,
which records them and may stop that member (a callback, early stopping). Members are
always served in the same order, so passes and results do not depend on timing, and
no thread is needed.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dasklr.solvers.protocol import Evaluation, Request
from dasklr.solvers.state import Solver, SolverState

#: Answers the requests of the members still running, given as (member index, request),
#: with one evaluation each, in the same order: one pass over the data.
Answer = Callable[[list[tuple[int, Request]]], list[Evaluation]]


@dataclass
class Member:
    """One model in the loop: its solver, and what to do with each state it reaches
    (``on_state`` returns True to stop it there)."""

    solver: Solver
    on_state: Callable[[SolverState], bool]
    last: SolverState | None = None
    stopped: bool = False


def run_lockstep(members: Sequence[Member], answer: Answer) -> None:
    """Advance every member to its first request, then answer all requests pass by pass
    until every solver has finished or been stopped; ``Member.last`` holds each end."""
    pending = _advanced({i: None for i in range(len(members))}, members)
    while pending:
        order = sorted(pending)
        evaluations = answer([(i, pending[i]) for i in order])
        pending = _advanced(dict(zip(order, evaluations, strict=True)), members)


def _advanced(replies: dict, members: Sequence[Member]) -> dict[int, Request]:
    """Send each member its reply and run it to its next request; finished ones drop out."""
    pending = {}
    for i, reply in replies.items():
        request = _next_request(members[i], reply)
        if request is not None:
            pending[i] = request
    return pending


def _next_request(member: Member, reply: Evaluation | None) -> Request | None:
    while True:
        try:
            item = member.solver.send(reply)
        except StopIteration:
            return None
        if isinstance(item, Request):
            return item
        member.last, reply = item, None
        if member.on_state(item):
            member.stopped = True
            member.solver.close()
            return None
