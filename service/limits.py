"""Limits checked on a request body before it is parsed.

Python's JSON parser recurses once per nesting level, so a body of a few kB made of ``[[[[…`` raises
``RecursionError`` (a 500) inside the parser. :func:`json_depth` measures the nesting without parsing, in
linear time, so such a body is refused before anything recurses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import accumulate

#: Deepest JSON nesting accepted. The app's own callback requests nest about 8 levels (body, inputs, a
#: wildcard's list, an item, its value, a stored table state, its parameters); Python's parser fails near 1,000.
MAX_JSON_DEPTH = 64

# A JSON string, escapes included (unrolled so that it runs in linear time on long strings).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(data: bytes) -> int:
    """The deepest bracket nesting of a JSON text, brackets inside strings not counted.

    Invalid JSON gets a number too (an unclosed string's brackets count): it is refused by the parser then.
    """
    return max(_depths(data), default=0)


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests deeper than ``limit`` (stops at the first bracket too deep)."""
    return any(depth > limit for depth in _depths(data))


def _depths(data: bytes) -> Iterator[int]:
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", data))
    return accumulate(_STEP[b] for b in brackets)


__all__ = ["MAX_JSON_DEPTH", "json_depth", "json_too_deep"]
