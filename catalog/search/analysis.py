"""Text analysis shared by indexing, querying and highlighting.

Chinese is cut by jieba; the tokens are written into Whoosh fields as space-separated
words, so the index schema holds only Whoosh's own analyzers and stays readable whatever
becomes of this module. English goes through Whoosh's stemming analyzer; pinyin is
generated here with pypinyin.

Index and query text go through the same :func:`normalize`: traditional characters to
simplified (OpenCC's t2s tables, from the ``opencc-python-reimplemented`` package),
full-width to half-width (NFKC) and lower case, so 質量檢測 and ＭＥＳ find 质量检测 and mes.
Changing what it does changes every indexed word: bump ``ANALYSIS_VERSION`` in
catalog/search/documents.py so existing indexes are rebuilt.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import jieba
import opencc
from whoosh.analysis import StemmingAnalyzer


def _words(text: str) -> list[str]:
    return text.split()


# Domain words jieba's general dictionary would split or mis-cut; kept whole so that a
# query and a document cut them the same way. Shorter words inside them still match,
# because every longer word is also indexed as its two-character pieces.
DOMAIN_WORDS = tuple(
    _words(
        """
    质检 视觉质检 智能质检 缺陷检测 瑕疵检测 质量追溯 预测性维护 设备点检 能耗 能耗管理 碳排放 碳足迹 排产 智能排产 排程 报工 算力 算力租用 智算
    智能体 大模型 工业大模型 上云 上云券 算力券 工业互联网 数字孪生 边缘计算 边缘网关 进销存 良品率 稼动率 工单 先用后付 效果付费 私有化部署 低代码
    数据采集 设备联网 能源管理
    """
    )
)

STOP_WORDS = frozenset(
    _words(
        """
    的 了 和 与 及 或 是 在 为 对 于 等 把 被 也 就 都 而 并 其 之 以 个 这 那 有 中 上 下
    """
    )
)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORDLIKE = re.compile(r"\w")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_QUERY_PART = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")

_jieba_lock = threading.Lock()
_jieba: jieba.Tokenizer | None = None

english_analyzer = StemmingAnalyzer()


_t2s_lock = threading.Lock()
_t2s: tuple[opencc.OpenCC, frozenset[str]] | None = None
# Off only for the benchmark's "before" column (bench/search.py); an index must be built
# and queried with the same setting.
fold_traditional = True


def _converter() -> tuple[opencc.OpenCC, frozenset[str]]:
    """OpenCC's t2s converter, and every character it may change (most text has none, and
    skipping the conversion then saves its cost: about 3 µs a character)."""
    global _t2s
    if _t2s is None:
        with _t2s_lock:
            if _t2s is None:
                converter = opencc.OpenCC("t2s")
                changed: set[str] = set()
                folder = Path(opencc.__file__).parent / "dictionary"
                for name in ("TSCharacters.txt", "TSPhrases.txt"):
                    for line in (folder / name).read_text(encoding="utf-8").splitlines():
                        source, _tab, targets = line.partition("\t")
                        target = targets.split(" ")[0]
                        if len(target) != len(source):
                            changed.update(source)
                        else:
                            changed.update(a for a, b in zip(source, target, strict=True) if a != b)
                _t2s = converter, frozenset(changed)
    return _t2s


def to_simplified(text: str) -> str:
    """Traditional characters to simplified ones (質量檢測 -> 质量检测)."""
    if not fold_traditional:
        return text
    converter, changed = _converter()
    if changed.isdisjoint(text):
        return text
    return converter.convert(text)


def normalize(text: str) -> str:
    """Traditional to simplified, full-width to half-width, lower case, single spaces."""
    return " ".join(to_simplified(unicodedata.normalize("NFKC", text)).lower().split())


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def segmenter() -> jieba.Tokenizer:
    """A private jieba tokenizer with the domain words, initialized once, quietly."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                # jieba logs "Building prefix dict..." at DEBUG on its own stderr handler.
                logging.getLogger("jieba").setLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                for word in DOMAIN_WORDS:
                    tokenizer.add_word(word)
                _jieba = tokenizer
    return _jieba


def warm() -> None:
    """Load jieba's dictionary and the traditional-to-simplified tables now (about 0.6 s),
    so that a new server process does not spend it in its first search (gunicorn.conf.py
    calls this after a worker starts)."""
    segmenter()
    _converter()


def chinese_index_tokens(text: str) -> list[str]:
    """Tokens for a Chinese field: jieba's search mode (words and the dictionary words
    inside them) plus every other two-character piece of a longer CJK word, so that 质检
    finds 质检员 however jieba cuts it."""
    tokens: list[str] = []
    emitted: set[tuple[str, int]] = set()
    for word, start, _end in segmenter().tokenize(normalize(text), mode="search"):
        if word in STOP_WORDS or not _WORDLIKE.search(word):
            continue
        tokens.append(word)
        emitted.add((word, start))
        if len(word) > 2 and _CJK_RUN.fullmatch(word):
            for offset, piece in enumerate(bigrams(word)):
                if (piece, start + offset) not in emitted:
                    tokens.append(piece)
                    emitted.add((piece, start + offset))
    return tokens


def query_parts(text: str) -> list[tuple[str, str]]:
    """(kind, token) pairs in query order: kind "zh" for jieba words of Chinese runs,
    "ascii" for Latin words and numbers. Punctuation and stop words drop out."""
    parts: list[tuple[str, str]] = []
    for match in _QUERY_PART.finditer(normalize(text)):
        run = match.group()
        if not is_cjk(run):
            parts.append(("ascii", run))
            continue
        for word in segmenter().cut(run):
            if word not in STOP_WORDS:
                parts.append(("zh", word))
    return parts


def bigrams(word: str) -> list[str]:
    """The two-character pieces of a word (the word itself when that short)."""
    return [word[i : i + 2] for i in range(len(word) - 1)] if len(word) > 2 else [word]


def english_stems(text: str) -> list[str]:
    return [token.text for token in english_analyzer(text)]


def ascii_words(text: str) -> list[str]:
    return _ASCII_WORD.findall(normalize(text))


@lru_cache(maxsize=50_000)
def word_pinyin(word: str) -> tuple[str, ...]:
    """The syllables of a Chinese word, toneless, ü as v (pypinyin's phrase dictionary
    picks the reading of polyphonic characters)."""
    # Imported on first use: pypinyin loads its dictionaries on import (about 0.3 s), a
    # cost every process that imports the catalog would pay otherwise.
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))


def pinyin_forms(syllables: tuple[str, ...]) -> tuple[str, str]:
    """(joined syllables, initials): ("zhijian", "zj") for 质检."""
    return "".join(syllables), "".join(s[0] for s in syllables)


def chinese_words(text: str) -> Iterator[tuple[str, int, int]]:
    """(word, start, end) of jieba's default cut, CJK words only."""
    for word, start, end in segmenter().tokenize(text):
        if _CJK_RUN.fullmatch(word):
            yield word, start, end


def pinyin_units(
    text: str, *, pairs: bool = True
) -> Iterator[tuple[int, int, tuple[str, ...], bool]]:
    """(start, end, syllables, is_word) for each Chinese word (is_word True), each
    dictionary word inside a longer one (维护 in 预测性维护, as jieba's search mode finds
    them) and, with ``pairs``, each pair of neighbouring words."""
    frequencies = segmenter().FREQ
    previous: tuple[int, tuple[str, ...]] | None = None
    for word, start, end in chinese_words(text):
        syllables = word_pinyin(word)
        if word in STOP_WORDS or len(syllables) != len(word):  # 的, or a rare character
            previous = None
            continue
        yield start, end, syllables, True
        for size in (2, 3) if len(word) > 2 else ():
            for offset in range(len(word) - size + 1):
                if frequencies.get(word[offset : offset + size]) and size < len(word):
                    piece = syllables[offset : offset + size]
                    yield start + offset, start + offset + size, piece, False
        if pairs and previous is not None and previous[0] + len(previous[1]) == start:
            yield previous[0], end, previous[1] + syllables, False
        previous = (start, syllables)


def pinyin_tokens(text: str, *, pairs: bool = True) -> list[str]:
    """Pinyin tokens for Chinese text: every syllable, and the joined syllables and the
    initials of every unit of two or more syllables ("zhijian" and "zj" for 质检). Pairs
    of neighbouring words ("zhinengzhijian") only with ``pairs``: each token is a Whoosh
    posting, which costs indexing time, so long text goes without them."""
    tokens: list[str] = []
    for _start, _end, syllables, is_word in pinyin_units(normalize(text), pairs=pairs):
        if is_word:
            tokens.extend(syllables)
        if len(syllables) > 1:
            tokens.extend(pinyin_forms(syllables))
    return tokens
