"""Chinese text analysis and matching configuration: jieba with the domain dictionary, synonyms, weights, names.

The files in `registry/data/` are meant to be edited by the people who run the registry: `synonyms.txt` (one
group of brokers' words per line), `userdict.txt` (jieba's format: word, frequency, part of speech),
`matching.json` (weights and BM25 parameters) and `names.json` (GB/T 4754 and GB/T 2260 names for reasons).
Everything they contain is part of the index version, so a recorded shortlist names exactly what produced it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jieba

from domain.matching import MatchConfig, MatchWeights
from domain.registry import Achievement, RegisteredDemand

DATA_DIR = Path(__file__).resolve().parent / "data"
# A query longer than this is cut: the first words say what is wanted, and BM25 cost grows with the query.
MAX_QUERY_CHARS = 2000

# Words too common in registry texts to tell two records apart.
_STOPWORDS_TEXT = (
    "的 了 和 与 及 或 等 在 对 为 以 将 由 从 把 被 其 中 上 下 后 前 是 有 一种 一个 进行 通过 用于 采用 基于 "
    "实现 具有 可以 能够 提供 相关 以及 并 且 而 该 本 及其 关于 方面 我们 企业 需要 希望 技术 方法 研究 开发 应用 最 高 新 大 好"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split(" "))
_WORD_RE = re.compile(r"[\w\u4e00-\u9fff]")


def read_synonyms(path: Path) -> tuple[tuple[str, ...], ...]:
    """Synonym groups from a text file: one group per line, words split by spaces or '/', '#' starts a comment."""
    groups: list[tuple[str, ...]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        words = tuple(dict.fromkeys(w.strip().lower() for w in re.split(r"[\s/／]+", line) if w.strip()))
        if len(words) >= 2:
            groups.append(words)
    return tuple(groups)


@dataclass(frozen=True)
class Analyzer:
    """Segments Chinese text into the words the index and the queries use."""

    data_dir: Path = DATA_DIR

    @cached_property
    def _files(self) -> dict[str, bytes]:
        return {
            name: (self.data_dir / name).read_bytes() for name in ("userdict.txt", "synonyms.txt", "matching.json", "names.json")
        }

    @cached_property
    def config(self) -> MatchConfig:
        settings: dict[str, Any] = json.loads(self._files["matching.json"])
        names: dict[str, dict[str, str]] = json.loads(self._files["names.json"])
        return MatchConfig(
            weights=MatchWeights(**settings.get("weights", {})),
            synonyms=read_synonyms(self.data_dir / "synonyms.txt"),
            synonym_weight=settings.get("synonym_weight", 0.8),
            bm25_k1=settings.get("bm25_k1", 1.2),
            bm25_b=settings.get("bm25_b", 0.75),
            industry_names=names.get("industries", {}),
            region_names=names.get("regions", {}),
        )

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever the dictionary, the stop words or jieba's version change (the config is hashed on its own)."""
        digest = hashlib.sha256(self._files["userdict.txt"])
        digest.update(_STOPWORDS_TEXT.encode())
        return f"jieba-{jieba.__version__}-{digest.hexdigest()[:12]}"

    @cached_property
    def _tokenizer(self) -> jieba.Tokenizer:
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.load_userdict(str(self.data_dir / "userdict.txt"))
        # Every synonym must come out of the segmenter as one word, or expansion could never find it.
        for group in self.config.synonyms:
            for word in group:
                tokenizer.add_word(word, freq=10)
        return tokenizer

    def tokens(self, text: str) -> list[str]:
        """Words for BM25: full width folded, lower case, search-mode segmentation, no punctuation or stop words."""
        normalized = unicodedata.normalize("NFKC", text).lower()
        with _JIEBA_LOCK:
            words = self._tokenizer.lcut_for_search(normalized)
        return [w for w in (w.strip() for w in words) if w and w not in _STOPWORDS and _WORD_RE.search(w)]

    def query_tokens(self, text: str) -> list[str]:
        """Tokens of a query; refuses an empty one and cuts an overlong one to `MAX_QUERY_CHARS`."""
        if not text.strip():
            raise ValueError("查询内容为空；请输入要查找的技术或问题，如“超声主轴”")
        return self.tokens(text[:MAX_QUERY_CHARS])

    def achievement_tokens(self, achievement: Achievement) -> list[str]:
        """Title and keywords count twice: they are what the owner chose to say the achievement is about."""
        title = self.tokens(achievement.title)
        keywords = self.tokens(" ".join(achievement.keywords))
        # Segmented part by part (jieba cuts at spaces anyway), so the repeated parts are segmented once.
        return title + title + keywords + keywords + self.tokens(achievement.abstract)

    def demand_tokens(self, demand: RegisteredDemand) -> list[str]:
        title = self.tokens(demand.title)
        keywords = self.tokens(" ".join(demand.keywords))
        indicators = " ".join(f"{i.name} {i.target}" for i in demand.indicators)
        return title + title + keywords + keywords + self.tokens(f"{demand.problem} {indicators}")


# jieba's lazy initialisation is not thread-safe.
_JIEBA_LOCK = threading.Lock()
_DEFAULT: Analyzer | None = None


def default_analyzer() -> Analyzer:
    """The analyzer on the packaged data files, shared by the process (jieba's dictionary takes ~1 s to load)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Analyzer()
    return _DEFAULT
