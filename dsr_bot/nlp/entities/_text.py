"""Helpers the finders share: letter classes, keyword tries and position checks."""

from __future__ import annotations

import re
from collections.abc import Iterable

UPPER = "A-ZÀ-ÖØ-Þ"  # upper-case letters, Latin-1 included
LOWER = "a-zß-öø-ÿ"
QUOTES = "\"'\u2018\u2019\u201c\u201d\u201e\u00ab\u00bb"


_Node = dict[str, "_Node"]
_SPECIAL = {" ": r"\s+", ":": r"\s*:"}


def trie(phrases: Iterable[str]) -> str:
    """A pattern matching any of the literal phrases, longest first, written as a trie.

    A space in a phrase matches any run of whitespace, a colon may have whitespace before it. As a
    trie the alternatives at each point start with different characters, so the engine rejects a
    position after one comparison per branch instead of one per phrase.
    """
    tree: _Node = {}
    for phrase in phrases:
        node = tree
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}
    return _emit(tree)


def _emit(node: _Node) -> str:
    alts = [_SPECIAL.get(c, re.escape(c)) + _emit(sub) for c, sub in sorted(node.items()) if c]
    if not alts:
        return ""
    if len(alts) == 1 and "" not in node:
        return alts[0]
    return "(?:" + "|".join(alts) + ")" + ("?" if "" in node else "")


def word_start(low: str, start: int) -> bool:
    return start == 0 or not low[start - 1].isalnum()


def line_start(low: str, start: int) -> bool:
    return low[low.rfind("\n", 0, start) + 1 : start].strip(" \t") == ""
