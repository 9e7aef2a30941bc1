"""One way to change state (marketplace/states.py): no code outside it assigns a status,
every stateful model declares its transition table, an illegal move raises the one
exception and changes nothing, a legal move writes its audit row."""

from __future__ import annotations

import enum
import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from catalog.models import Solution, SolutionStatus
from marketplace import load_models
from marketplace.audit import AuditEvent
from marketplace.db import Base
from marketplace.errors import Conflict
from marketplace.jsonapi import ApiError, service_call
from marketplace.states import IllegalTransition, Transitions, can, table_of, transition
from tests.catalog.factories import create_solution, operator_actor, publish_solution, vendor_actor

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = re.compile(r"\.status\s*=[^=]")
# The only place a status is assigned.
MECHANISM = "marketplace/states.py"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _source_files() -> list[Path]:
    skipped = {"tests", "node_modules", "__pycache__"}
    return [
        path
        for path in ROOT.rglob("*.py")
        if not any(part.startswith(".") or part in skipped for part in path.relative_to(ROOT).parts)
    ]


def test_no_status_is_assigned_outside_the_transition_helper() -> None:
    found = []
    for path in _source_files():
        name = path.relative_to(ROOT).as_posix()
        if name == MECHANISM:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ASSIGNMENT.search(line.split("#", 1)[0]):
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == [], "change state with marketplace.states.transition:\n" + "\n".join(found)


def _stateful_models() -> list[type[Any]]:
    load_models()
    return sorted(
        (mapper.class_ for mapper in Base.registry.mappers if "status" in mapper.columns),
        key=lambda cls: cls.__name__,
    )


def test_every_model_with_a_status_declares_its_transition_table() -> None:
    models = _stateful_models()
    assert len(models) >= 20
    for model in models:
        table = getattr(model, "transitions", None)
        assert isinstance(table, Transitions), f"{model.__name__} has no transition table"
        # every state has its row, and the table names no state outside the enum
        assert set(table.allowed) == set(table.states), model.__name__


def test_a_table_must_name_every_state() -> None:
    class Light(enum.StrEnum):
        RED = "red"
        GREEN = "green"

    with pytest.raises(ValueError, match="no moves declared"):
        Transitions(Light, {Light.RED: {Light.GREEN}}, subject=None)


@st.composite
def _walks(draw: st.DrawFn) -> tuple[type[Any], enum.Enum, list[enum.Enum]]:
    model = draw(st.sampled_from(_stateful_models()))
    states = list(model.transitions.states)
    start = draw(st.sampled_from(states))
    moves = draw(st.lists(st.sampled_from(states), max_size=12))
    return model, start, moves


@settings(deadline=None)  # the first example loads every model module
@given(_walks())
def test_random_moves_only_pass_through_states_the_table_allows(
    walk: tuple[type[Any], enum.Enum, list[enum.Enum]],
) -> None:
    model, start, moves = walk
    obj = model(status=start)
    table = table_of(obj)
    path = [obj.status]
    for to in moves:
        before = obj.status
        allowed = table.allows(before, to)
        assert can(obj, to) is allowed
        try:
            transition(obj, to, None, now=T0, audit_row=False)
        except IllegalTransition as refused:
            assert not allowed
            assert refused.current == before and refused.to is to
            assert obj.status == before  # refused: nothing changed
            continue
        assert allowed and obj.status == to
        path.append(to)
    for current, following in itertools.pairwise(path):
        assert following in table.allowed[current], (model.__name__, path)


def test_an_illegal_move_raises_the_one_conflict_and_changes_nothing(
    app: Flask, session: Session
) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    session.flush()
    events = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))

    with pytest.raises(IllegalTransition) as refused:
        transition(solution, SolutionStatus.DELISTED, vendor, reason="never published")
    assert isinstance(refused.value, Conflict) and refused.value.status == 409
    assert str(refused.value.message)  # a sentence a page can show
    session.expire_all()
    assert session.get_one(Solution, solution.id).status is SolutionStatus.DRAFT
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events

    # the API answers it in the usual error shape
    with app.test_request_context(), pytest.raises(ApiError) as answered, service_call():
        transition(solution, SolutionStatus.PUBLISHED, vendor)
    assert answered.value.code == 409 and answered.value.error_code == "conflict"


def test_a_legal_move_sets_the_status_and_writes_the_audit_row(session: Session) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    solution = publish_solution(session, vendor, operator)

    transition(solution, SolutionStatus.DELISTED, operator, reason="out of date")

    assert solution.status is SolutionStatus.DELISTED
    event = session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.subject_type == "solution")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one()
    assert (event.action, event.subject_id) == ("solution.delisted", str(solution.id))
    assert (event.actor_user_id, event.actor_org_id) == (
        operator.user.id,
        operator.organization.id,
    )
    assert event.data == {"slug": solution.slug, "reason": "out of date"}


def test_a_move_records_the_time_the_model_keeps_for_it(session: Session) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    revision = solution.working_revision
    assert revision is not None and revision.submitted_at is None
    transition(revision, type(revision.status).SUBMITTED, vendor, now=T0, audit_row=False)
    assert revision.submitted_at == T0
