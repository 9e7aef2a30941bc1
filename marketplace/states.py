"""One way to change state: every stateful model declares its transition table beside its
status enum, and :func:`transition` is the only code that assigns a ``status``.

A table says, for each state, which states may follow; a move it does not list raises
:class:`IllegalTransition` (a :class:`~marketplace.errors.Conflict`, so the API answers 409
in the usual error shape and pages show its translated message) before anything changes.
A legal move sets the status, the timestamps the model keeps for the state it enters, and
appends the audit row (``<subject>.<state>`` unless the caller names the action, with the
acting person, or nobody for a worker or the billing run).

Tables whose rows are their own history (outbox jobs, webhook deliveries) declare no audit
subject: their moves are made by workers many times a minute, and an audit row for each
would only serialize the workers on the audit chain's lock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import object_session

from marketplace import audit
from marketplace.db import utcnow
from marketplace.errors import Conflict

if TYPE_CHECKING:
    from marketplace.jsonapi import Actor

S = TypeVar("S", bound=enum.Enum)


def _label(state: enum.Enum) -> str:
    return str(getattr(state, "label", state.value))


class IllegalTransition(Conflict):
    """The one exception for a move the model's table does not allow; nothing was changed."""

    def __init__(self, obj: object, to: enum.Enum) -> None:
        current = getattr(obj, "status", None)
        super().__init__(
            _l(
                "This cannot change from “%(current)s” to “%(to)s”.",
                current=_label(current) if isinstance(current, enum.Enum) else str(current),
                to=_label(to),
            )
        )
        self.obj = obj
        self.current = current
        self.to = to

    def __str__(self) -> str:
        current = getattr(self.current, "value", self.current)
        return f"{self.obj!r}: {current} -> {self.to.value} is not allowed"


@dataclass(frozen=True, eq=False)
class Transitions(Generic[S]):
    """A model's transition table.

    ``moves`` maps every state to the states that may follow it (a state mapped to itself
    may be entered again, e.g. an inquiry answered twice). ``subject`` is the audit
    subject type (None: the moves are not audited, see the module docstring), ``prefix``
    the first word of the default action when it is not the subject. ``stamps``
    names the attributes set to the time of the move when a state is entered, ``touch``
    one set on every move. ``audit_data`` gives the fields every audit row of the model
    carries (the caller's ``data`` is added to them); ``audit_subject`` the subject id
    when it is not the row's own id; ``system_org`` the organization named when no
    person acts.
    """

    states: type[S]
    moves: Mapping[S, Iterable[S]]
    subject: str | None
    # the default action is "<prefix>.<state>"; the prefix is the subject unless named
    prefix: str | None = None
    stamps: Mapping[S, str | tuple[str, ...]] = field(default_factory=dict)
    touch: str | None = None
    audit_data: Callable[[Any], dict[str, Any]] | None = None
    audit_subject: Callable[[Any], object] | None = None
    system_org: Callable[[Any], int | None] | None = None
    allowed: Mapping[S, frozenset[S]] = field(init=False)

    def __post_init__(self) -> None:
        allowed = {state: frozenset(self.moves.get(state, ())) for state in self.states}
        missing = [state for state in self.states if state not in self.moves]
        if missing:
            raise ValueError(f"{self.states.__name__}: no moves declared from {missing}")
        strays = {t for targets in allowed.values() for t in targets} - set(self.states)
        if strays:
            raise ValueError(f"{self.states.__name__}: moves to unknown states {strays}")
        object.__setattr__(self, "allowed", allowed)

    def allows(self, current: S, to: S) -> bool:
        return to in self.allowed.get(current, frozenset())

    def __getitem__(self, state: S) -> frozenset[S]:
        return self.allowed[state]


def table_of(obj: object) -> Transitions[Any]:
    table = getattr(type(obj), "transitions", None)
    if not isinstance(table, Transitions):
        raise TypeError(f"{type(obj).__name__} declares no transition table")
    return table


def can(obj: object, to: enum.Enum) -> bool:
    """Whether the table lets ``obj`` move to ``to`` now (rules beyond the table are the
    model's own ``can_*`` predicates)."""
    return table_of(obj).allows(obj.status, to)  # type: ignore[attr-defined]


def transition(
    obj: Any,
    to: S,
    actor: Actor | None,
    *,
    reason: str | None = None,
    now: datetime | None = None,
    data: Mapping[str, Any] | None = None,
    action: str | None = None,
    audit_row: bool = True,
) -> None:
    """Move ``obj`` to ``to`` through its table, or raise :class:`IllegalTransition` with
    nothing changed. ``actor`` None: a worker or the system. ``reason`` and ``data`` go
    into the audit row; ``action`` replaces the default ``<subject>.<state>``;
    ``audit_row=False`` for a move another audited move of the same action records (a
    solution following its revision into review)."""
    table = table_of(obj)
    if not isinstance(to, table.states):
        raise TypeError(f"{to!r} is not a {table.states.__name__}")
    current = obj.status
    if not table.allows(current, to):
        raise IllegalTransition(obj, to)
    when = now or utcnow()
    obj.status = to
    stamps = table.stamps.get(to, ())
    for name in (stamps,) if isinstance(stamps, str) else stamps:
        setattr(obj, name, when)
    if table.touch:
        setattr(obj, table.touch, when)
    if not audit_row or table.subject is None:
        return
    session = object_session(obj)
    if session is None:
        raise RuntimeError(f"{obj!r} is in no session: its move cannot be audited")
    session.flush()
    entry: dict[str, Any] = dict(table.audit_data(obj)) if table.audit_data else {}
    entry.update(data or {})
    if reason is not None:
        entry["reason"] = reason
    user_id: int | None
    org_id: int | None
    if actor is not None:
        user_id, org_id = actor.user.id, actor.organization.id
    else:
        user_id, org_id = None, table.system_org(obj) if table.system_org else None
    audit.record(
        session,
        action or f"{table.prefix or table.subject}.{to.value}",
        table.subject,
        table.audit_subject(obj) if table.audit_subject else obj.id,
        user_id=user_id,
        org_id=org_id,
        data=entry,
    )
