"""Which runs to show: ``--where`` expressions, ``--status``, ``--since``, ``--sort``.

``--where`` is a small language parsed here, never ``eval``-ed::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | KEY OP VALUE
    OP     := = == != < <= > >=
    VALUE  := number | 'text' | "text" | word   (true, false and null are what they say)

A key is a field (``status``, ``objective``, ``duration_s``, ``epochs``, ``date``), a metric
(``test.accuracy``; ``test/accuracy`` too) or a config key (``model.name``). A run without the
key fails the comparison (``!=`` included), so ``val.mse<1`` skips classifiers.
"""

from __future__ import annotations

import difflib
import re
import time
from typing import Any, Callable, Iterable, Optional, Sequence

from bmrun.errors import BmrunError
from bmrun.objective import objective_direction
from bmrun.tracking.index import Run


class QueryError(BmrunError):
    title = "bmrun-runs"


_TOKEN = re.compile(r"""\s*(?:(?P<op><=|>=|==|!=|=|<|>)|(?P<paren>[()])|(?P<str>'[^']*'|"[^"]*")|(?P<word>[^\s()<>=!'"]+))""")
_WORDS = {"true": True, "false": False, "null": None, "none": None}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
Predicate = Callable[[Run], bool]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise QueryError(f"--where: cannot read {text[position:].strip()!r} (at character {position + 1})")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _value(kind: str, text: str) -> Any:
    if kind == "str":
        return text[1:-1]
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _compare(key: str, op: str, wanted: Any) -> Predicate:
    def check(run: Run) -> bool:
        if not run.has(key):
            return False
        value = run.get(key)
        if isinstance(value, bool) or isinstance(wanted, bool) or value is None or wanted is None:
            return _OPS[op](value, wanted) if op in ("=", "==", "!=") else False
        if isinstance(value, (int, float)) and isinstance(wanted, (int, float)):
            return _OPS[op](value, wanted)
        return _OPS[op](str(value), str(wanted))  # model.name=cnn, or a number typed as text
    return check


class _Parser:
    def __init__(self, text: str, known: Callable[[str], bool], keys: Sequence[str]):
        self.text, self.tokens, self.at = text, _tokens(text), 0
        self.known, self.keys = known, keys

    def peek(self) -> Optional[tuple[str, str]]:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError(f"--where {self.text!r}: ends too early; write e.g. \"model.name=cnn and test.accuracy>0.9\"")
        self.at += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() in words:
            self.at += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.expr()
        if self.peek() is not None:
            raise QueryError(f"--where {self.text!r}: unexpected {self.peek()[1]!r}; join conditions with and/or")
        return predicate

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self.word("or"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda run: any(part(run) for part in parts))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.word("and"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda run: all(part(run) for part in parts))

    def factor(self) -> Predicate:
        if self.word("not"):
            inner = self.factor()
            return lambda run: not inner(run)
        kind, text = self.take()
        if kind == "paren" and text == "(":
            inner = self.expr()
            if self.take() != ("paren", ")"):
                raise QueryError(f"--where {self.text!r}: a '(' is not closed")
            return inner
        if kind != "word":
            raise QueryError(f"--where {self.text!r}: expected a key such as model.name, found {text!r}")
        key = text
        if not self.known(key):
            close = difflib.get_close_matches(key, self.keys, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise QueryError(f"--where: no run has the key {key!r}{hint}")
        op_kind, op = self.take()
        if op_kind != "op":
            raise QueryError(f"--where {self.text!r}: expected =, !=, <, <=, > or >= after {key}, found {op!r}")
        value_kind, value = self.take()
        if value_kind not in ("word", "str"):
            raise QueryError(f"--where {self.text!r}: expected a value after {key}{op}, found {value!r}")
        return _compare(key, op, _value(value_kind, value))


def known_keys(runs: Iterable[Run]) -> list[str]:
    """Every key some run has: fields, metrics, config keys."""
    keys: set[str] = set()
    for run in runs:
        keys.update(run.metrics)
        keys.update(run.delta)
    if runs:
        keys.update(next(iter(runs)).base)
    return sorted(keys) + ["status", "date", "duration_s", "epochs", "objective", "run"]


def where(text: str, runs: Sequence[Run]) -> Predicate:
    """The predicate of a ``--where`` expression; unknown keys are refused naming the closest."""
    keys = known_keys(runs)
    names = set(keys)
    return _Parser(text, lambda key: key in names or key.replace("/", ".") in names, keys).parse()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def since(text: str, now: Optional[float] = None) -> float:
    """``--since 2d`` -> the epoch time two days ago (units s, m, h, d, w)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise QueryError(f"--since {text!r}: write a number and a unit, e.g. 30m, 12h, 2d or 1w")
    return (time.time() if now is None else now) - float(match.group(1)) * _UNITS[match.group(2)]


def sort_runs(runs: Sequence[Run], key: Optional[str], reverse: bool = False) -> list[Run]:
    """Best first for metrics (by their direction), newest first for ``date``; runs without
    the key last."""
    if not key:
        return sorted(runs, key=lambda run: run.date or 0.0, reverse=True)
    if key == "objective":
        directions = {run.objective_key for run in runs if run.objective_key}
        descending = len(directions) == 1 and objective_direction(directions.pop().replace(".", "/")) == "max"
    elif key == "date":
        descending = True
    else:
        descending = objective_direction(key.replace(".", "/")) == "max"
    descending ^= reverse
    present, missing = [], []
    for run in runs:  # NaN (a diverged run) is not equal to itself: it goes last, with the absent
        value = run.get(key)
        (present if isinstance(value, (int, float, str)) and value == value else missing).append(run)
    if all(isinstance(run.get(key), (int, float)) for run in present):
        present.sort(key=lambda run: run.get(key), reverse=descending)
    else:
        present.sort(key=lambda run: str(run.get(key)), reverse=descending)
    return present + missing
