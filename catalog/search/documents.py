"""What the index holds for each solution: the Whoosh schema and a document's fields.

Chinese text is cut by jieba here and stored as space-separated words (the schema holds
only Whoosh's own analyzers, so an index stays readable whatever becomes of this code);
English goes through Whoosh's stemming analyzer; pinyin is generated from the Chinese.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from catalog.search import taxonomy
from catalog.search.analysis import (
    ascii_words,
    chinese_index_tokens,
    english_analyzer,
    pinyin_tokens,
)
from catalog.search.model import SolutionDoc

# What the analysis of a document gives; an index built with another version is rebuilt
# (catalog/indexing.py). 2: traditional characters folded to simplified.
ANALYSIS_VERSION = "2"

# Field -> query-time boost. The name is a field of its own; the rest of the text shares a
# "body" field in which the summary is written twice, so name > summary > description
# while a query word is looked up in two posting lists, not five (and indexing writes one
# posting for a word that summary and description share).
CHINESE_FIELDS = {"name": 4.0, "body": 1.0}
ENGLISH_FIELDS = {"name_en": 4.0, "body_en": 1.0}
PINYIN_FIELDS = {"pinyin_name": 3.0, "pinyin_text": 1.0}
SCORED_FIELDS = (*CHINESE_FIELDS, *ENGLISH_FIELDS, *PINYIN_FIELDS)


def schema() -> Schema:
    words = SpaceSeparatedTokenizer()  # Chinese and pinyin arrive already tokenized
    return Schema(
        id=ID(unique=True),
        meta=STORED,  # the whole SolutionDoc, for results and for catching up a rebuild
        **{name: TEXT(analyzer=words, phrase=False) for name in (*CHINESE_FIELDS, *PINYIN_FIELDS)},
        **{name: TEXT(analyzer=english_analyzer, phrase=False) for name in ENGLISH_FIELDS},
        # Unstemmed English words, for corrections. Scorable only because Whoosh 2.7 stats a
        # file for every posting of a field without a length column while committing.
        spell=KEYWORD(scorable=True),
    )


@lru_cache(maxsize=512)
def _tag_tokens(name_zh: str) -> tuple[str, str]:
    """Chinese and pinyin tokens of a scenario or industry name (few, and often repeated)."""
    return " ".join(chinese_index_tokens(name_zh)), " ".join(pinyin_tokens(name_zh, pairs=False))


def document_fields(doc: SolutionDoc) -> dict[str, Any]:
    scenarios = taxonomy.scenarios()
    industries = taxonomy.industries()
    tags = [scenarios[c] for c in doc.scenarios if c in scenarios]
    tags += [industries[c] for c in doc.industries if c in industries]
    tag_tokens = [_tag_tokens(tag.name_zh) for tag in tags]
    taxonomy_en = " ".join(tag.name_en for tag in tags)
    # pinyin of the scenarios only: industry names would make "zj" match every 制造业
    scenario_pinyin = [
        pinyin for (_zh, pinyin), tag in zip(tag_tokens, tags, strict=True) if tag.code in scenarios
    ]
    english_words = ascii_words(f"{doc.name_en} {doc.summary_en} {taxonomy_en}")
    summary = " ".join(chinese_index_tokens(doc.summary))
    body = [
        summary,
        summary,
        *(zh for zh, _pinyin in tag_tokens),
        " ".join(chinese_index_tokens(doc.vendor_name)),
        " ".join(chinese_index_tokens(doc.description)),
    ]
    return {
        "id": str(doc.id),
        "meta": doc.to_dict(),
        "name": " ".join(chinese_index_tokens(doc.name)),
        "body": " ".join(body),
        "name_en": doc.name_en,
        "body_en": f"{doc.summary_en} {doc.summary_en} {taxonomy_en}",
        "pinyin_name": " ".join(pinyin_tokens(doc.name)),
        "pinyin_text": " ".join([*pinyin_tokens(doc.summary, pairs=False), *scenario_pinyin]),
        "spell": " ".join(sorted({w for w in english_words if len(w) > 2 and w.isalpha()})),
    }
