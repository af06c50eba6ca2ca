"""The one table of what each scenario action does and how each expectation is checked, keyed by spec class.

An action or expectation is a frozen class in ``topology/`` (its fields and its reader); its row here is one
function, registered where it is written with ``@performs(SendAction)``, ``@checks(DeliveredCheck)`` and, for
the names an action must find on the built network before the run, ``@resolves(...)``. ``ScenarioRunner``
dispatches through ``perform``, ``resolve`` and ``evaluate`` and nothing else. The rows are in
``network_actions``, ``frame_checks``, ``guest_actions``, ``reachability``, ``security_checks`` and
``impair_checks``: importing ``scenario.runner`` imports them all.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from ..core.errors import ScenarioError, VSwitchError
from ..topology.scenario_reader import ExpectAction
from ..topology.spec import Action, ActionSpec, Expectation, Where
from .context import CheckResult, ScenarioContext

A = TypeVar("A", bound=Action)
E = TypeVar("E", bound=Expectation)
Performer = Callable[[ScenarioContext, Any, Where], None]
Resolver = Callable[[ScenarioContext, Any], None]
Check = Callable[[ScenarioContext, Any], "tuple[str, bool, str]"]

#: action class -> what it does at its time: ``(context, action, where it was written)``.
PERFORMERS: dict[type[Action], Performer] = {}
#: action class -> a look-up of the names it uses on the built network, raising ``VSwitchError`` before the run.
RESOLVERS: dict[type[Action], Resolver] = {}
#: expectation class -> its check: ``(context, expectation) -> (description, passed, actual)``.
CHECKS: dict[type[Expectation], Check] = {}


def performs(kind: type[A]) -> Callable[[Callable[[ScenarioContext, A, Where], None]],
                                        Callable[[ScenarioContext, A, Where], None]]:
    """Register the decorated function as what ``kind`` does."""
    def register(performer: Callable[[ScenarioContext, A, Where], None]) -> Callable[[ScenarioContext, A, Where], None]:
        PERFORMERS[kind] = performer
        return performer
    return register


def resolves(*kinds: type[A]) -> Callable[[Callable[[ScenarioContext, A], None]], Callable[[ScenarioContext, A], None]]:
    """Register the decorated function as the before-the-run look-up of the names of ``kinds``."""
    def register(resolver: Callable[[ScenarioContext, A], None]) -> Callable[[ScenarioContext, A], None]:
        for kind in kinds:
            RESOLVERS[kind] = resolver
        return resolver
    return register


def checks(kind: type[E]) -> Callable[[Callable[[ScenarioContext, E], tuple[str, bool, str]]],
                                      Callable[[ScenarioContext, E], tuple[str, bool, str]]]:
    """Register the decorated function as the check of ``kind``."""
    def register(check: Callable[[ScenarioContext, E], tuple[str, bool, str]]
                 ) -> Callable[[ScenarioContext, E], tuple[str, bool, str]]:
        CHECKS[kind] = check
        return check
    return register


def _row(table: dict[type, Any], value: object) -> Any:
    """The row of ``value``'s class, or of the nearest class it derives from (None if there is none)."""
    for cls in type(value).__mro__:
        if cls in table:
            return table[cls]
    return None


def resolve(context: ScenarioContext, step: ActionSpec) -> None:
    """Look up the names ``step`` uses now, so that a bad one fails before the run."""
    resolver = _row(RESOLVERS, step.action)
    if resolver is not None:
        resolver(context, step.action)


def perform(context: ScenarioContext, step: ActionSpec) -> None:
    """Do what ``step`` says, now."""
    performer = _row(PERFORMERS, step.action)
    if performer is None:
        raise ScenarioError(f"unknown action {step.kind!r}")
    performer(context, step.action, step.where)


def evaluate(context: ScenarioContext, check: Expectation, where: Where) -> None:
    """Check ``check`` now and add its result to the run's; a check that cannot be made fails, saying why."""
    check_of = _row(CHECKS, check)
    if check_of is None:
        raise ScenarioError(f"unknown expectation {check.kind!r}")
    try:
        description, passed, actual = check_of(context, check)
    except VSwitchError as exc:
        description, passed, actual = f"{check.kind}", False, f"cannot check: {exc}"
    context.result.checks.append(CheckResult(description, passed, actual, where, context.net.now))


@performs(ExpectAction)
def _expect(context: ScenarioContext, action: ExpectAction, where: Where) -> None:
    evaluate(context, action.check, where)
