"""Fixtures of the search adapter tests: the corpus indexed in a real Whoosh index on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.search import SearchIndex
from tests.catalog.search_corpus import CORPUS


@pytest.fixture(scope="module")
def catalog_index(tmp_path_factory: pytest.TempPathFactory):
    """The corpus, indexed once per test module for its read-only tests."""
    index = SearchIndex(tmp_path_factory.mktemp("search") / "index")
    assert index.rebuild(CORPUS) == len(CORPUS)
    yield index
    index.close()


@pytest.fixture
def index(tmp_path: Path):
    """A fresh index of the corpus that a test may change."""
    index = SearchIndex(tmp_path / "index", writer_timeout=0.5)
    index.rebuild(CORPUS)
    yield index
    index.close()
