"""Operators' edits of the search thesaurus and pain points, and the vocabulary each search
uses.

The packaged data (catalog/data/thesaurus.txt, pain_points.tsv; rules in
catalog/search/vocabulary.py) is the base. An operator edits it in the console: an edit
whose key is a packaged entry's replaces that entry (or, disabled, removes it); any other
edit adds an entry. Edits are rows of ``search_vocabulary_edits``; each one also raises the
single ``search_vocabulary_state.version``. Every process keeps the merged vocabulary with
the version it was read at and, once per request, compares that with the database's: an
edit reaches every host's next search, with no index rebuild (the index holds the words
as listings say them; the thesaurus applies to queries).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog import taxonomy
from catalog.search.vocabulary import (
    PainPoint,
    SynonymSet,
    Vocabulary,
    merged,
    packaged,
    packaged_pain_points,
    packaged_sets,
    term_key,
)
from marketplace import audit
from marketplace.db import READ_ONLY, Base, enum_type, rows_changed, utcnow
from marketplace.enums import LabeledEnum
from marketplace.errors import DomainError

log = logging.getLogger(__name__)
MAX_LINE = 1000
MAX_PHRASE = 40


class VocabularyKind(LabeledEnum):
    SYNONYMS = "synonyms", _l("Synonyms")
    PAIN_POINT = "pain_point", _l("Pain point")


class VocabularyEdit(Base):
    """An operator's version of one thesaurus entry: a synonym set or a pain point."""

    __tablename__ = "search_vocabulary_edits"
    __table_args__ = (
        sa.UniqueConstraint("kind", "key"),
        sa.CheckConstraint(
            "(kind = 'pain_point') = (scenario IS NOT NULL)", name="scenario_iff_pain_point"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[VocabularyKind] = mapped_column(enum_type(VocabularyKind, "vocabulary_kind"))
    # The entry it is: a packaged entry's key (its first word, or its phrase) to replace
    # that entry, or the entry's own first word or phrase when it was added.
    key: Mapped[str] = mapped_column(sa.String(100))
    # A synonym set as a line of thesaurus.txt ("质检, 质量检测 | 验布"); a pain point's phrase.
    text: Mapped[str] = mapped_column(sa.String(MAX_LINE))
    scenario: Mapped[str | None] = mapped_column(sa.String(40))  # pain points only
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        state = "" if self.enabled else " disabled"
        return f"<VocabularyEdit {self.kind.value} {self.key!r}{state}>"


class VocabularyState(Base):
    """One row: raised by every edit, so each process knows when to read the edits again."""

    __tablename__ = "search_vocabulary_state"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    def __repr__(self) -> str:
        return f"<VocabularyState version {self.version}>"


# --- what the console lists -----------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One entry as the console shows it: packaged, edited or added, enabled or not."""

    kind: VocabularyKind
    key: str
    text: str  # the set's line, or the phrase
    scenario: str | None
    enabled: bool
    packaged: bool
    edited: bool


def entries(session: Session) -> list[Entry]:
    """Every entry, packaged ones first in file order, with operators' edits applied."""
    edits = {(e.kind, e.key): e for e in session.scalars(sa.select(VocabularyEdit))}
    listed: list[Entry] = []

    def entry(kind: VocabularyKind, key: str, text: str, scenario: str | None) -> Entry:
        edit = edits.pop((kind, key), None)
        if edit is None:
            return Entry(kind, key, text, scenario, True, packaged=True, edited=False)
        return Entry(kind, key, edit.text, edit.scenario, edit.enabled, True, edited=True)

    for synonym_set in packaged_sets():
        listed.append(entry(VocabularyKind.SYNONYMS, synonym_set.key, synonym_set.as_line(), None))
    for point in packaged_pain_points():
        listed.append(entry(VocabularyKind.PAIN_POINT, point.key, point.phrase, point.scenario))
    for edit in sorted(edits.values(), key=lambda e: e.id):
        listed.append(
            Entry(edit.kind, edit.key, edit.text, edit.scenario, edit.enabled, False, True)
        )
    return listed


def find_entry(session: Session, kind: VocabularyKind, key: str) -> Entry | None:
    return next((e for e in entries(session) if e.kind is kind and e.key == key), None)


# --- the rules of an edit ---------------------------------------------------------------


def _parsed_set(text: str) -> SynonymSet:
    if len(text) > MAX_LINE:
        raise DomainError(_l("At most %(n)d characters.", n=MAX_LINE), field="text")
    try:
        return SynonymSet.parse(text)
    except ValueError:
        raise DomainError(
            _l("Write at least two different words, separated by commas; related words after a |."),
            field="text",
        ) from None


def _parsed_point(text: str, scenario: str | None) -> PainPoint:
    phrase = " ".join(text.split())
    if not phrase or not term_key(phrase):
        raise DomainError(_l("Write the problem as a buyer would type it."), field="text")
    if len(phrase) > MAX_PHRASE:
        raise DomainError(_l("At most %(n)d characters.", n=MAX_PHRASE), field="text")
    if not scenario or taxonomy.scenario(scenario) is None:
        raise DomainError(_l("Choose the scenario that solves this problem."), field="scenario")
    return PainPoint(phrase, scenario)


def save_entry(
    session: Session,
    *,
    actor_id: int,
    kind: VocabularyKind,
    key: str | None,
    text: str,
    scenario: str | None = None,
    enabled: bool = True,
) -> VocabularyEdit:
    """Add an entry (``key`` None) or change the entry ``key``; raises DomainError naming
    the field at fault. Takes effect at every host's next search."""
    if kind is VocabularyKind.SYNONYMS:
        new_key = _parsed_set(text).key
        text = _parsed_set(text).as_line()
        scenario = None
    else:
        point = _parsed_point(text, scenario)
        new_key, text, scenario = point.key, point.phrase, point.scenario
    current = find_entry(session, kind, key) if key is not None else None
    if key is not None and current is None:
        raise DomainError(_l("This entry does not exist any more."), code="not_found")
    if current is None and find_entry(session, kind, new_key) is not None:
        raise DomainError(
            _l("“%(key)s” already has an entry; edit that one.", key=new_key), field="text"
        )
    entry_key = key if key is not None else new_key
    edit = session.scalar(
        sa.select(VocabularyEdit).where(
            VocabularyEdit.kind == kind, VocabularyEdit.key == entry_key
        )
    )
    before = (
        {"text": current.text, "scenario": current.scenario, "enabled": current.enabled}
        if current is not None
        else None
    )
    if edit is None:
        edit = VocabularyEdit(kind=kind, key=entry_key, updated_by_id=actor_id)
        session.add(edit)
    edit.text, edit.scenario, edit.enabled = text, scenario, enabled
    edit.updated_by_id, edit.updated_at = actor_id, utcnow()
    session.flush()
    _bump(session)
    audit.record(
        session,
        "search_vocabulary.saved",
        "search_vocabulary",
        f"{kind.value}:{entry_key}",
        user_id=actor_id,
        data={
            "before": before,
            "after": {"text": text, "scenario": scenario, "enabled": enabled},
        },
    )
    return edit


def set_enabled(
    session: Session, *, actor_id: int, kind: VocabularyKind, key: str, enabled: bool
) -> VocabularyEdit:
    """Disable an entry (searches stop using it) or enable it again."""
    current = find_entry(session, kind, key)
    if current is None:
        raise DomainError(_l("This entry does not exist any more."), code="not_found")
    return save_entry(
        session,
        actor_id=actor_id,
        kind=kind,
        key=key,
        text=current.text,
        scenario=current.scenario,
        enabled=enabled,
    )


def _bump(session: Session) -> None:
    raised = rows_changed(
        session,
        sa.update(VocabularyState)
        .where(VocabularyState.id == 1)
        .values(version=VocabularyState.version + 1),
    )
    if not raised:
        session.add(VocabularyState(id=1, version=1))
    session.flush()


def version_expression() -> sa.ColumnElement[int]:
    """The vocabulary's version (0 before the first edit), as one expression."""
    return sa.func.coalesce(
        sa.select(VocabularyState.version).where(VocabularyState.id == 1).scalar_subquery(), 0
    )


def version(session: Session) -> int:
    return int(session.scalar(sa.select(version_expression())) or 0)


def load(session: Session, at_version: int) -> Vocabulary:
    """The packaged vocabulary with the operators' edits."""
    packaged_synonyms = {s.key for s in packaged_sets()}
    packaged_points = {p.key for p in packaged_pain_points()}
    synonym_overrides: dict[str, SynonymSet | None] = {}
    pain_overrides: dict[str, PainPoint | None] = {}
    added_sets: list[SynonymSet] = []
    added_points: list[PainPoint] = []
    for edit in session.scalars(sa.select(VocabularyEdit).order_by(VocabularyEdit.id)):
        try:
            if edit.kind is VocabularyKind.SYNONYMS:
                value: SynonymSet | PainPoint = SynonymSet.parse(edit.text)
            else:
                value = PainPoint(edit.text, edit.scenario or "")
        except ValueError:
            log.warning("search vocabulary edit %r does not parse; left out", edit)
            continue
        if edit.kind is VocabularyKind.SYNONYMS:
            assert isinstance(value, SynonymSet)
            if edit.key in packaged_synonyms:
                synonym_overrides[edit.key] = value if edit.enabled else None
            elif edit.enabled:
                added_sets.append(value)
        else:
            assert isinstance(value, PainPoint)
            if edit.key in packaged_points:
                pain_overrides[edit.key] = value if edit.enabled else None
            elif edit.enabled:
                added_points.append(value)
    return merged(synonym_overrides, added_sets, pain_overrides, added_points, version=at_version)


class VocabularyCache:
    """The merged vocabulary of one process, read again when the database's version moved."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self.sessions = sessions
        self._lock = threading.Lock()
        self._vocabulary: Vocabulary | None = None
        self._version: int | None = None

    def __repr__(self) -> str:
        return f"<VocabularyCache at version {self._version}>"

    def current(self, *, known_version: int | None = None) -> Vocabulary:
        """The vocabulary at the database's version (the packaged one if the database
        cannot be read: search keeps working without the operators' edits).
        ``known_version``, when the caller has just read it, saves reading it again."""
        if known_version is not None and known_version == self._version:
            vocabulary = self._vocabulary
            if vocabulary is not None:
                return vocabulary
        try:
            with self.sessions() as session:
                # A plain read (on SQLite a WAL snapshot, not BEGIN IMMEDIATE): a search
                # inside a request that holds the write lock must not wait on itself.
                session.connection(execution_options=READ_ONLY)
                at = version(session)
                if at == self._version and self._vocabulary is not None:
                    return self._vocabulary
                loaded = load(session, at) if at else packaged()
        except SQLAlchemyError as exc:
            log.warning("search vocabulary edits not read (%s); using the packaged one", exc)
            return self._vocabulary or packaged()
        with self._lock:
            self._vocabulary, self._version = loaded, at
        return loaded
