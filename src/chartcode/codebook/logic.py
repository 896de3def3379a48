"""Branching logic and calculations: a small expression language spelled the way REDCap spells it.

A field's ``show_if:`` says when it applies (REDCap's Branching Logic), a field's ``calc:`` how its
value is computed from other codes (REDCap's ``calc`` fields). Both are parsed here into a tree
(never ``eval``), checked against the codebook (:func:`check`) and evaluated against one coder's
codes (:func:`evaluate`). :func:`to_redcap` writes a tree back in REDCap's spelling.

Grammar (case-insensitive words; REDCap's spelling, plus ``not``)::

    expr    := or
    or      := and ( "or" and )*
    and     := not ( "and" not )*
    not     := "not" not | compare
    compare := sum ( ("=" | "==" | "<>" | "!=" | "<" | "<=" | ">" | ">=") sum )?
    sum     := product ( ("+" | "-") product )*
    product := unary ( ("*" | "/") unary )*
    unary   := "-" unary | power
    power   := atom ( "^" unary )?
    atom    := NUMBER | STRING | "[" field ( "(" code ")" )? "]" | NAME "(" args ")" | "(" expr ")"

Values follow REDCap: a field that is not coded (or does not apply) reads as blank (``''``);
``[content(2)]`` is ``'1'`` when option 2 of the checkbox ``content`` is ticked, else ``'0'``;
``=`` and ``<>`` compare as numbers when both sides are numbers, else as text; ``<``, ``>``,
``<=``, ``>=`` with a blank side are false; arithmetic with a blank operand, or a division by
zero, gives blank; ``sum``, ``mean``, ``min`` and ``max`` leave blanks out (all blank: blank).

Functions (REDCap's names and arguments): ``if(cond, a, b)``, ``sum(...)``, ``mean(...)``,
``min(...)``, ``max(...)``, ``abs(x)``, ``round(x, d)``, ``rounddown(x, d)``, ``roundup(x, d)``
(``d`` decimals, default 0), ``datediff(d1, d2, unit[, format][, signed])`` with unit ``"d"``,
``"M"`` or ``"y"`` (days, months of 30.44 days, years of 365.2425 days, as REDCap counts them;
``d1`` or ``d2`` may be ``"today"``; the format argument is accepted and ignored, since dates are
stored as YYYY-MM-DD; unsigned by default, as in REDCap). REDCap has more (events, smart
variables, ``:checked``, ``contains``, hours and minutes in ``datediff``...): those are refused
with a message that names them, never dropped.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chartcode.codebook.model import Field


class LogicError(ValueError):
    """An expression that cannot be parsed or does not fit the codebook. ``column`` is the
    1-based character position in the expression, when one can be named."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} (at character {self.column})" if self.column else self.message


# ---- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    value: str | float | int  # str: a quoted literal; int/float: a number as written
    text: str = ""  # the number as written (kept for the way back)


@dataclass(frozen=True)
class Ref:
    name: str
    option: str | None = None  # a checkbox option: [field(code)]
    column: int = 0


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class Bool:
    op: str  # "and" | "or"
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Cmp:
    op: str  # "=", "<>", "<", "<=", ">", ">="
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Arith:
    op: str  # "+", "-", "*", "/", "^"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg:
    operand: Expr


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    column: int = 0


Expr = Lit | Ref | Not | Bool | Cmp | Arith | Neg | Call

FUNCTIONS: dict[str, tuple[int, int | None]] = {  # name: (fewest, most arguments)
    "if": (3, 3),
    "sum": (1, None),
    "mean": (1, None),
    "min": (1, None),
    "max": (1, None),
    "abs": (1, 1),
    "round": (1, 2),
    "rounddown": (1, 2),
    "roundup": (1, 2),
    "datediff": (3, 5),
}
DATEDIFF_UNITS = {"d": 1.0, "M": 30.44, "y": 365.2425}
# REDCap functions chartcode does not evaluate: named in the message, never silently dropped
REDCAP_ONLY = (
    "contains",
    "not_contain",
    "starts_with",
    "ends_with",
    "length",
    "isnumber",
    "isinteger",
    "isblankormissingcode",
    "stdev",
    "median",
    "sqrt",
    "exponential",
    "log",
    "concat",
    "left",
    "right",
    "mid",
    "find",
    "replace_text",
    "upper",
    "lower",
    "trim",
    "year",
    "month",
    "day",
    "datetime",
    "mod",
)

# ---- parsing ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<ref>\[[^\[\]]*\])
  | (?P<op><=|>=|<>|!=|==|&&|\|\||[=<>+\-*/^(),!])
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_REF_RE = re.compile(r"^\[([a-z][a-z0-9_]*)(?:\(([A-Za-z0-9_.-]+)\))?\]$")


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    col: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            what = "an unclosed quote" if ch in "'\"" else "an unclosed [" if ch == "[" else f"character {ch!r}"
            raise LogicError(f"{what} is not part of the expression language", pos + 1)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos + 1))
        pos = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0
        self.text = text

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def word(self, *words: str) -> bool:
        t = self.peek()
        return t.kind == "word" and t.text.lower() in words

    def op(self, *ops: str) -> bool:
        t = self.peek()
        return t.kind == "op" and t.text in ops

    def expect(self, op: str) -> None:
        t = self.next()
        if t.kind != "op" or t.text != op:
            found = "the end" if t.kind == "end" else repr(t.text)
            raise LogicError(f"expected {op!r}, found {found}", t.col)

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            raise LogicError("the expression is empty")
        e = self.or_()
        t = self.peek()
        if t.kind != "end":
            raise LogicError(f"unexpected {t.text!r}", t.col)
        return e

    def or_(self) -> Expr:
        items = [self.and_()]
        while self.word("or") or self.op("||"):
            self.next()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Bool("or", tuple(items))

    def and_(self) -> Expr:
        items = [self.not_()]
        while self.word("and") or self.op("&&"):
            self.next()
            items.append(self.not_())
        return items[0] if len(items) == 1 else Bool("and", tuple(items))

    def not_(self) -> Expr:
        if self.word("not") or self.op("!"):
            self.next()
            return Not(self.not_())
        return self.compare()

    def compare(self) -> Expr:
        left = self.sum_()
        if self.op("=", "==", "<>", "!=", "<", "<=", ">", ">="):
            t = self.next()
            op = {"==": "=", "!=": "<>"}.get(t.text, t.text)
            right = self.sum_()
            if self.op("=", "==", "<>", "!=", "<", "<=", ">", ">="):
                raise LogicError("comparisons do not chain: join them with 'and'", self.peek().col)
            return Cmp(op, left, right)
        return left

    def sum_(self) -> Expr:
        e = self.product()
        while self.op("+", "-"):
            op = self.next().text
            e = Arith(op, e, self.product())
        return e

    def product(self) -> Expr:
        e = self.unary()
        while self.op("*", "/"):
            op = self.next().text
            e = Arith(op, e, self.unary())
        return e

    def unary(self) -> Expr:
        if self.op("-"):
            self.next()
            return Neg(self.unary())
        if self.op("+"):
            self.next()
            return self.unary()
        return self.power()

    def power(self) -> Expr:
        e = self.atom()
        if self.op("^"):
            self.next()
            return Arith("^", e, self.unary())
        return e

    def atom(self) -> Expr:
        t = self.next()
        if t.kind == "num":
            v: float | int = float(t.text) if "." in t.text else int(t.text)
            return Lit(v, t.text)
        if t.kind == "str":
            return Lit(t.text[1:-1])
        if t.kind == "ref":
            return self.ref(t)
        if t.kind == "op" and t.text == "(":
            e = self.or_()
            self.expect(")")
            return e
        if t.kind == "word":
            name = t.text.lower()
            if not self.op("("):
                if name in ("true", "false"):
                    return Lit(1 if name == "true" else 0, name)
                raise LogicError(
                    f"{t.text!r} is not a field, a value or a function: fields are written [name],"
                    " text values in quotes ('1')",
                    t.col,
                )
            if name not in FUNCTIONS:
                known = ", ".join(FUNCTIONS)
                if name in REDCAP_ONLY:
                    raise LogicError(
                        f"REDCap's function {name}() is not supported by chartcode (it has: {known})", t.col
                    )
                raise LogicError(f"unknown function {t.text}() (chartcode has: {known})", t.col)
            self.next()
            args: list[Expr] = []
            if not self.op(")"):
                args.append(self.or_())
                while self.op(","):
                    self.next()
                    args.append(self.or_())
            self.expect(")")
            lo, hi = FUNCTIONS[name]
            if len(args) < lo or (hi is not None and len(args) > hi):
                want = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
                raise LogicError(f"{name}() takes {want} arguments, got {len(args)}", t.col)
            return Call(name, tuple(args), t.col)
        found = "the end of the expression" if t.kind == "end" else repr(t.text)
        raise LogicError(f"expected a field, a value or '(', found {found}", t.col)

    def ref(self, t: _Tok) -> Ref:
        if self.peek().kind == "ref":  # [event][field]
            raise LogicError("REDCap event references ([event][field]) are not supported", t.col)
        m = _REF_RE.match(t.text)
        if m is None:
            inner = t.text[1:-1]
            if ":" in inner:
                raise LogicError(f"REDCap smart variables and modifiers ({t.text}) are not supported", t.col)
            if "-" in inner and "(" not in inner:
                raise LogicError(f"REDCap smart variables ({t.text}) are not supported", t.col)
            raise LogicError(
                f"{t.text} is not a field reference: write [name] or [name(code)] with a lower-case name", t.col
            )
        return Ref(m.group(1), m.group(2), t.col)


MAX_DEPTH = 100  # brackets and operators nested deeper than this are refused, not recursed into


def parse(text: str) -> Expr:
    """Parse an expression; LogicError says what is wrong and at which character."""
    depth = deepest = 0
    for ch in text:  # an upper bound on the parser's recursion (quoted text counted too: harmless)
        depth += ch in "(["
        depth -= ch in ")]"
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise LogicError(f"the expression nests brackets {deepest} deep (at most {MAX_DEPTH})")
    try:
        return _Parser(text).parse()
    except RecursionError:  # a long chain such as "not not not ..." or "- - - ..."
        raise LogicError("the expression is nested too deeply to read") from None


def refs(e: Expr) -> Iterator[Ref]:
    """Every field reference in ``e``, left to right."""
    if isinstance(e, Ref):
        yield e
    elif isinstance(e, (Not, Neg)):
        yield from refs(e.operand)
    elif isinstance(e, Bool):
        for x in e.items:
            yield from refs(x)
    elif isinstance(e, (Cmp, Arith)):
        yield from refs(e.left)
        yield from refs(e.right)
    elif isinstance(e, Call):
        for x in e.args:
            yield from refs(x)


def fields(e: Expr) -> set[str]:
    return {r.name for r in refs(e)}


# ---- writing back ---------------------------------------------------------------------------

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "^": 8, "atom": 9}


def _prec(e: Expr) -> int:
    if isinstance(e, Bool):
        return _PREC[e.op]
    if isinstance(e, Not):
        return _PREC["not"]
    if isinstance(e, Cmp):
        return _PREC["cmp"]
    if isinstance(e, Arith):
        return _PREC[e.op]
    if isinstance(e, Neg):
        return _PREC["neg"]
    return _PREC["atom"]


_NEGATED = {"=": "<>", "<>": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def _push_not(e: Expr) -> Expr:
    """``not e`` without ``not`` (REDCap has no such operator): De Morgan and the negated
    comparison. (With a blank side an ordering comparison and its negation are both false, so
    ``not ([a] < 3)`` and ``[a] >= 3`` differ on a blank ``a``; REDCap dictionaries have no
    ``not``, so their expressions go back unchanged.)"""
    if isinstance(e, Not):
        return e.operand
    if isinstance(e, Bool):
        return Bool("or" if e.op == "and" else "and", tuple(_push_not(x) for x in e.items))
    if isinstance(e, Cmp):
        return Cmp(_NEGATED[e.op], e.left, e.right)
    return Cmp("=", e, Lit(0, "0"))


def to_redcap(e: Expr) -> str:
    """``e`` in REDCap's spelling: ``[a] = '1' and ([b] <> '' or [c(2)] = '1')``."""

    def wrap(x: Expr, least: int) -> str:
        s = to_redcap(x)
        return f"({s})" if _prec(x) < least else s

    if isinstance(e, Lit):
        if isinstance(e.value, str):
            q = '"' if "'" in e.value else "'"
            return f"{q}{e.value}{q}"
        return e.text or (str(int(e.value)) if float(e.value).is_integer() else str(e.value))
    if isinstance(e, Ref):
        return f"[{e.name}({e.option})]" if e.option is not None else f"[{e.name}]"
    if isinstance(e, Not):
        return to_redcap(_push_not(e.operand))
    if isinstance(e, Bool):
        return f" {e.op} ".join(wrap(x, _PREC[e.op] + 1) for x in e.items)
    if isinstance(e, Cmp):
        return f"{wrap(e.left, _PREC['+'])} {e.op} {wrap(e.right, _PREC['+'])}"
    if isinstance(e, Arith):
        p = _PREC[e.op]
        # left-associative: the right side of - and / needs brackets at the same level
        return f"{wrap(e.left, p)} {e.op} {wrap(e.right, p + 1)}"
    if isinstance(e, Neg):
        return f"-{wrap(e.operand, _PREC['neg'])}"
    return f"{e.name}({', '.join(to_redcap(a) for a in e.args)})"


# ---- evaluation -----------------------------------------------------------------------------

Value = str | float | int | None  # None: blank


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    if isinstance(v, (int, float)):
        return float(v) if math.isfinite(v) else None
    s = str(v).strip()
    if not s:
        return None
    try:
        x = float(s)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def truthy(v: Any) -> bool:
    """A condition's result as REDCap reads it: a true comparison, or a non-zero number."""
    if isinstance(v, bool):
        return v
    x = _number(v)
    return x is not None and x != 0


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, bool):
        a = int(a)
    if isinstance(b, bool):
        b = int(b)
    na, nb = _number(a), _number(b)
    if op in ("=", "<>"):
        if na is not None and nb is not None:
            same = na == nb
        else:
            same = ("" if a is None else str(a).strip()) == ("" if b is None else str(b).strip())
        return same if op == "=" else not same
    if _blank(a) or _blank(b):
        return False
    if na is not None and nb is not None:
        x: Any = na
        y: Any = nb
    else:
        x, y = str(a), str(b)
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    return bool(x >= y)


def _date(v: Any, today: dt.date) -> dt.date | None:
    if _blank(v):
        return None
    s = str(v).strip()
    if s.lower() == "today":
        return today
    try:
        return dt.date.fromisoformat(s[:10])
    except ValueError:
        return None


def _round(x: float, d: int, how: str) -> float:
    f = 10.0**d
    if how == "down":
        return math.floor(x * f) / f
    if how == "up":
        return math.ceil(x * f) / f
    return math.floor(x * f + 0.5) / f  # REDCap rounds half away from zero for positives


Lookup = Callable[[Ref], Any]


def evaluate(e: Expr, lookup: Lookup, today: dt.date | None = None) -> Any:
    """The value of ``e``; ``lookup`` gives a field reference's value (None or '' when blank;
    for a checkbox option '1' or '0'). Comparisons give bools, arithmetic floats or None."""
    day = today or dt.date.today()

    def ev(x: Expr) -> Any:
        if isinstance(x, Lit):
            return x.value
        if isinstance(x, Ref):
            return lookup(x)
        if isinstance(x, Not):
            return not truthy(ev(x.operand))
        if isinstance(x, Bool):
            if x.op == "and":
                return all(truthy(ev(i)) for i in x.items)
            return any(truthy(ev(i)) for i in x.items)
        if isinstance(x, Cmp):
            return _compare(x.op, ev(x.left), ev(x.right))
        if isinstance(x, Neg):
            n = _number(ev(x.operand))
            return None if n is None else -n
        if isinstance(x, Arith):
            a, b = _number(ev(x.left)), _number(ev(x.right))
            if a is None or b is None:
                return None
            if x.op == "+":
                return a + b
            if x.op == "-":
                return a - b
            if x.op == "*":
                return a * b
            if x.op == "/":
                return None if b == 0 else a / b
            try:
                r = a**b
            except (OverflowError, ZeroDivisionError):
                return None
            return r if isinstance(r, float) and math.isfinite(r) else None
        return call(x)

    def call(x: Call) -> Any:
        name = x.name
        if name == "if":
            return ev(x.args[1]) if truthy(ev(x.args[0])) else ev(x.args[2])
        if name in ("sum", "mean", "min", "max"):
            nums = [n for n in (_number(ev(a)) for a in x.args) if n is not None]
            if not nums:
                return None
            if name == "sum":
                return math.fsum(nums)
            if name == "mean":
                return math.fsum(nums) / len(nums)
            return min(nums) if name == "min" else max(nums)
        if name == "abs":
            n = _number(ev(x.args[0]))
            return None if n is None else abs(n)
        if name in ("round", "rounddown", "roundup"):
            n = _number(ev(x.args[0]))
            d = _number(ev(x.args[1])) if len(x.args) > 1 else 0.0
            if n is None or d is None:
                return None
            return _round(n, int(d), {"round": "half", "rounddown": "down", "roundup": "up"}[name])
        # datediff(d1, d2, unit[, format][, signed])
        d1, d2 = _date(ev(x.args[0]), day), _date(ev(x.args[1]), day)
        unit = str(ev(x.args[2]))
        signed = False
        for extra in x.args[3:]:
            v = ev(extra)
            if isinstance(v, str) and v.lower() in ("ymd", "mdy", "dmy"):
                continue
            signed = truthy(v) or (isinstance(v, str) and v.lower() == "true")
        if d1 is None or d2 is None or unit not in DATEDIFF_UNITS:
            return None
        days = float((d2 - d1).days)
        r = days / DATEDIFF_UNITS[unit]
        return r if signed else abs(r)

    return ev(e)


# ---- checking against a codebook ------------------------------------------------------------


def _ref_text(r: Ref) -> str:
    return f"[{r.name}({r.option})]" if r.option is not None else f"[{r.name}]"


def check(e: Expr, owner: Field, by_name: Mapping[str, Field], what: str) -> list[str]:
    """Problems of ``e`` as the ``what`` ("show_if" or "calc") of field ``owner``: unknown fields,
    checkbox options, a level the owner cannot see, comparisons of a field with a value it never
    takes, arithmetic on text, division by a literal zero. Cycles are :func:`cycles`' job."""
    out: list[str] = []

    def field_of(r: Ref) -> Field | None:
        f = by_name.get(r.name)
        if f is None:
            out.append(f"{what}: unknown field {_ref_text(r)}")
            return None
        if r.option is not None:
            if not f.kind.multiple:
                out.append(f"{what}: {_ref_text(r)} names an option, but {f.name!r} is not a checkbox field")
                return None
            if r.option not in {str(c) for c in f.codes}:
                out.append(
                    f"{what}: {r.option!r} is not an option of checkbox [{f.name}] (options: {f.describe_choices()})"
                )
                return None
        if owner.level == "record" and f.level == "note":
            out.append(
                f"{what}: a record-level field cannot depend on note-level [{f.name}] (which note's value would it be?)"
            )
        elif (
            owner.level == "note"
            and f.level == "note"
            and owner.note_types
            and f.note_types
            and not set(owner.note_types) & set(f.note_types)
        ):
            out.append(f"{what}: [{f.name}] is never coded on the same note (its note types are not this field's)")
        return f

    def literal_fits(f: Field, r: Ref, lit: Lit) -> None:
        v = lit.value
        s = v if isinstance(v, str) else lit.text or str(v)
        if isinstance(v, str) and s.strip() == "":
            return  # [x] = '' : is it blank
        if r.option is not None:
            if _number(v) not in (0.0, 1.0):
                out.append(f"{what}: checkbox option {_ref_text(r)} is '0' or '1', not {s!r}")
            return
        if f.kind.multiple:
            out.append(f"{what}: checkbox [{f.name}] is compared option by option: [{f.name}(code)] = '1'")
            return
        if f.has_choices:
            if s not in {str(c) for c in f.codes} and not (
                _number(v) is not None and any(_number(c) == _number(v) for c in f.codes)
            ):
                out.append(f"{what}: {s!r} is not a code of [{f.name}] (codes: {f.describe_choices()})")
        elif f.kind.is_number:
            if _number(v) is None:
                out.append(f"{what}: [{f.name}] is a number; {s!r} is not")
        elif f.kind.stat_date and _date(v, dt.date.today()) is None:
            out.append(f"{what}: [{f.name}] is a date; {s!r} is not a date (write 'YYYY-MM-DD')")

    def numeric(x: Expr, where: str) -> None:
        """``x`` is used as a number (arithmetic, sum(), a calc's value)."""
        if isinstance(x, Ref):
            f = field_of(x)
            if f is None or x.option is not None:
                return
            if f.kind.multiple:
                out.append(f"{what}: checkbox [{f.name}] has no number; use its options [{f.name}(code)]")
            elif f.kind.stat_date:
                out.append(f"{what}: date [{f.name}] is not a number (use datediff())")
            elif not f.kind.is_number and not (
                f.has_choices and all(isinstance(c, int) and not isinstance(c, bool) for c in f.codes)
            ):
                out.append(f"{what}: {f.type} field [{f.name}] is not a number ({where})")
            return
        if isinstance(x, Lit) and isinstance(x.value, str) and _number(x.value) is None:
            out.append(f"{what}: {x.value!r} is not a number ({where})")
            return
        walk(x)

    def walk(x: Expr) -> None:
        if isinstance(x, Lit):
            return
        if isinstance(x, Ref):
            f = field_of(x)
            if f is not None and f.kind.multiple and x.option is None:
                out.append(f"{what}: checkbox [{f.name}] is used option by option: [{f.name}(code)]")
            return
        if isinstance(x, Not):
            walk(x.operand)
        elif isinstance(x, Bool):
            for i in x.items:
                walk(i)
        elif isinstance(x, Cmp):
            for side, other in ((x.left, x.right), (x.right, x.left)):
                if isinstance(side, Ref) and isinstance(other, Lit):
                    f = field_of(side)
                    if f is not None:
                        literal_fits(f, side, other)
                elif isinstance(side, Ref):
                    f = field_of(side)
                    if f is not None and f.kind.multiple and side.option is None:
                        out.append(f"{what}: checkbox [{f.name}] is compared option by option: [{f.name}(code)]")
                elif not isinstance(side, Lit):
                    walk(side)
        elif isinstance(x, Neg):
            numeric(x.operand, "'-'")
        elif isinstance(x, Arith):
            if x.op == "/" and isinstance(x.right, Lit) and _number(x.right.value) == 0:
                out.append(f"{what}: division by zero")
            numeric(x.left, f"'{x.op}'")
            numeric(x.right, f"'{x.op}'")
        elif isinstance(x, Call):
            if x.name == "datediff":
                for a in x.args[:2]:
                    if isinstance(a, Ref):
                        f = field_of(a)
                        if f is not None and not f.kind.stat_date:
                            out.append(f"{what}: datediff() takes dates; [{f.name}] is a {f.type} field")
                    elif isinstance(a, Lit):
                        if _date(a.value, dt.date.today()) is None:
                            out.append(f"{what}: datediff() takes dates or 'today', not {a.value!r}")
                    else:
                        out.append(f"{what}: datediff() takes a date field, a date or 'today'")
                unit = x.args[2]
                if not (isinstance(unit, Lit) and isinstance(unit.value, str)):
                    out.append(f'{what}: datediff()\'s unit is "d", "M" or "y" in quotes')
                elif unit.value not in DATEDIFF_UNITS:
                    out.append(
                        f"{what}: datediff() unit {unit.value!r} is not supported"
                        ' (chartcode has "d" days, "M" months, "y" years)'
                    )
            elif x.name == "if":
                walk(x.args[0])
                for a in x.args[1:]:
                    if isinstance(a, Ref):
                        numeric(a, "if()")
                    else:
                        walk(a)
            else:
                for a in x.args:
                    numeric(a, f"{x.name}()")

    if what == "calc":
        if isinstance(e, (Cmp, Bool, Not)):
            walk(e)  # a condition as a calc gives 1 or 0, as in REDCap
        else:
            numeric(e, "a calc's value")
    else:
        if isinstance(e, (Lit, Arith, Neg)) or (isinstance(e, Ref) and e.option is None):
            out.append(f"{what}: a condition compares, e.g. [field] = '1'")
        walk(e)
    # one message per problem, in order
    return list(dict.fromkeys(out))


def cycles(deps: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every cycle of the dependency graph ``field -> fields it depends on``, each as the path
    that closes it (a -> b -> a), found once."""
    graph = {k: list(v) for k, v in deps.items()}
    state: dict[str, int] = {}  # 1 on the path, 2 done
    found: list[list[str]] = []
    path: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        path.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                found.append([*path[path.index(m) :], m])
            elif m not in state and m in graph:
                visit(m)
        path.pop()
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n)
    return found


def order(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Fields in an order where each comes after what it depends on (no cycles: checked first)."""
    done: dict[str, None] = {}

    def visit(n: str) -> None:
        if n in done:
            return
        for m in deps.get(n, ()):
            if m in deps:
                visit(m)
        done[n] = None

    for n in deps:
        visit(n)
    return list(done)
