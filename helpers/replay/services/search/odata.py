"""The OData subset Azure AI Search accepts in ``$filter``, ``$orderby`` and ``$select``.

``$filter``: ``eq ne gt ge lt le``, ``and or not``, parentheses, ``search.in(field, 'a,b')``
(optional third argument: the delimiters), ``collection/any(x: ...)`` and ``/all(...)``,
``collection/any()``, bare boolean fields, and string, number, boolean, ``null`` and
date-time literals. A filter is parsed once, checked against the index (the field exists,
is filterable, the operand types agree) and then evaluated per document.

Errors are Azure's 400s: ``Invalid expression: Syntax error at position N in '...'`` and the
others in :mod:`.errors`, always ending with ``Parameter name: $filter``.

Limits (:mod:`.limits`), checked while parsing, so that no filter costs more than its text:
tokens are read one at a time, parentheses, ``not`` and lambdas may nest 100 deep and the
expression tree 800 deep (a chain of ``or`` terms is as deep as it is long), and a filter has
at most 1,000 clauses; beyond, Azure's "Recursion depth exceeded allowed limit." or a clause
count 400. Lambda bodies follow Azure's rules for collections of primitive types (Microsoft
Learn, "Troubleshooting OData collection filters in Azure AI Search"): they refer only to
their range variable (no field of the document, no outer variable, so no nested lambda), and
over ``Collection(Edm.String)`` an ``any`` tests equality (``eq``, ``search.in``, joined by
``or``) and an ``all`` inequality (``ne``, ``not``, joined by ``and``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import errors, limits
from .budget import UNLIMITED, Deadline
from .store import DOUBLE_MAX, GEOGRAPHY_POINT, NUMERIC_TYPES, STRING, Field, Index, parse_datetime

FILTER = "$filter"
DATETIME = "Edm.DateTimeOffset"
COMPARISONS = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:[./][A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<punct>[(),:])
    | (?P<unterminated>'.*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


# -- the expression tree ----------------------------------------------------------------------

Document = dict[str, Any]
Scope = dict[str, Any]
"""Lambda variables in scope (``t`` in ``tags/any(t: t eq 'x')``) and their values."""


class Node:
    depth: int = 1
    """Depth of the node in the OData parser's binary expression tree."""

    def evaluate(self, document: Document, scope: Scope) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Literal(Node):
    value: Any
    edm: str | None  # None for null

    def evaluate(self, document: Document, scope: Scope) -> Any:
        return self.value


@dataclass(frozen=True)
class FieldRef(Node):
    name: str
    edm: str
    is_collection: bool
    variable: bool = False

    def evaluate(self, document: Document, scope: Scope) -> Any:
        value = scope[self.name] if self.variable else document.get(self.name)
        if self.edm == DATETIME and isinstance(value, str):
            return parse_datetime(value)  # compare instants, not strings
        return value


@dataclass(frozen=True)
class Comparison(Node):
    op: str
    left: Node
    right: Node

    @property
    def depth(self) -> int:  # type: ignore[override]
        return 2

    def evaluate(self, document: Document, scope: Scope) -> bool:
        return compare(
            self.op, self.left.evaluate(document, scope), self.right.evaluate(document, scope)
        )


@dataclass(frozen=True)
class Logical(Node):
    """``a or b or c``: one node for the whole chain (evaluated without recursion), as deep as
    the OData parser's left-leaning tree of binary operators would be."""

    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    depth: int = 1

    def evaluate(self, document: Document, scope: Scope) -> bool:
        if self.op == "and":
            return all(bool(o.evaluate(document, scope)) for o in self.operands)
        return any(bool(o.evaluate(document, scope)) for o in self.operands)


@dataclass(frozen=True)
class Not(Node):
    operand: Node

    @property
    def depth(self) -> int:  # type: ignore[override]
        return self.operand.depth + 1

    def evaluate(self, document: Document, scope: Scope) -> bool:
        return not self.operand.evaluate(document, scope)


@dataclass(frozen=True)
class SearchIn(Node):
    target: FieldRef
    values: frozenset[str]

    def evaluate(self, document: Document, scope: Scope) -> bool:
        return self.target.evaluate(document, scope) in self.values


@dataclass(frozen=True)
class Lambda(Node):
    quantifier: str  # "any" | "all"
    collection: FieldRef
    variable: str | None
    body: Node | None

    @property
    def depth(self) -> int:  # type: ignore[override]
        return (self.body.depth if self.body is not None else 0) + 1

    def evaluate(self, document: Document, scope: Scope) -> bool:
        items = self.collection.evaluate(document, scope) or []
        body = self.body
        if body is None:  # tags/any(): the collection is not empty
            return bool(items)
        variable = str(self.variable)
        deadline: Deadline = scope.get(DEADLINE, UNLIMITED)
        outcomes = (
            bool(body.evaluate(document, {**scope, variable: item}))
            for item in deadline.every(items, stride=1024)
        )
        return any(outcomes) if self.quantifier == "any" else all(outcomes)


def chain_depth(operands: list[Node]) -> int:
    """Depth of ``a op b op c ...`` as the left-leaning binary tree ``((a op b) op c) ...``:
    the first operand sits under n - 1 operators, operand i (from 1) under n - i."""
    count = len(operands)
    return max(
        [operands[0].depth + count - 1]
        + [operand.depth + count - i for i, operand in enumerate(operands[1:], start=1)]
    )


def compare(op: str, left: Any, right: Any) -> bool:
    """OData comparison: ``null`` equals only ``null``; ordering against ``null`` is false."""
    if op == "eq":
        return _same(left, right)
    if op == "ne":
        return not _same(left, right)
    if left is None or right is None:
        return False
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)


def _same(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


# -- parsing ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, index: Index) -> None:
        self.text = text
        self.index = index
        self.tokens = _tokenize(text)
        self.lookahead: Token | None = next(self.tokens, None)
        self.variables: dict[str, FieldRef] = {}
        self.lambda_variable: str | None = None
        """The range variable of the lambda being parsed (its body may refer to nothing else)."""
        self.nesting = 0
        self.clauses = 0

    # token helpers
    def peek(self) -> Token | None:
        return self.lookahead

    def next(self) -> Token:
        token = self.lookahead
        if token is None:
            raise self.error(len(self.text))
        self.lookahead = next(self.tokens, None)
        return token

    def error(self, position: int) -> errors.AzureError:
        return errors.syntax_error(position, self.text)

    def accept_word(self, *words: str) -> Token | None:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text in words:
            return self.next()
        return None

    def expect_punct(self, char: str) -> Token:
        token = self.next()
        if token.kind != "punct" or token.text != char:
            raise self.error(token.position)
        return token

    def enter(self) -> None:
        """One level deeper in parentheses, ``not`` or a lambda."""
        self.nesting += 1
        if self.nesting > limits.MAX_FILTER_NESTING:
            raise errors.too_deep()

    def clause(self) -> None:
        """One more clause (a comparison, ``search.in``, a boolean field, ``any()``)."""
        self.clauses += 1
        if self.clauses > limits.MAX_FILTER_CLAUSES:
            raise errors.invalid_expression(
                f"The filter has more than {limits.MAX_FILTER_CLAUSES} clauses, more than the "
                "service runs. Use search.in(field, 'a,b,c') instead of long chains of 'eq' "
                "comparisons: it counts as one clause.",
                FILTER,
            )

    # grammar
    def parse(self) -> Node:
        if self.peek() is None:
            raise self.error(0)
        node = self.parse_or()
        token = self.peek()
        if token is not None:
            raise self.error(token.position)
        self.require_boolean(node, 0)
        return node

    def parse_chain(self, op: str) -> Node:
        parse_operand = self.parse_and if op == "or" else self.parse_not
        operands = [parse_operand()]
        while self.accept_word(op):
            if len(operands) >= limits.MAX_FILTER_TREE_DEPTH:
                raise errors.too_deep()
            operands.append(parse_operand())
        if len(operands) == 1:
            return operands[0]
        checked = [self.require_boolean(o) for o in operands]
        depth = chain_depth(checked)
        if depth > limits.MAX_FILTER_TREE_DEPTH:
            raise errors.too_deep()
        return Logical(op, tuple(checked), depth)

    def parse_or(self) -> Node:
        return self.parse_chain("or")

    def parse_and(self) -> Node:
        return self.parse_chain("and")

    def parse_not(self) -> Node:
        if self.accept_word("not"):
            self.enter()
            node = Not(self.require_boolean(self.parse_not()))
            self.nesting -= 1
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_primary()
        token = self.peek()
        if token is not None and token.kind == "name" and token.text in COMPARISONS:
            self.next()
            right = self.parse_primary()
            self.clause()
            return self.bind_comparison(token.text, left, right)
        return left

    def parse_primary(self) -> Node:
        token = self.next()
        if token.kind == "punct" and token.text == "(":
            self.enter()
            node = self.parse_or()
            self.expect_punct(")")
            self.nesting -= 1
            return node
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"), STRING)
        if token.kind == "number":
            return self.number(token)
        if token.kind == "datetime":
            value = parse_datetime(token.text)
            if value is None:
                raise self.error(token.position)
            return Literal(value, DATETIME)
        if token.kind != "name":
            raise self.error(token.position)
        word = token.text
        if word in ("true", "false"):
            return Literal(word == "true", "Edm.Boolean")
        if word == "null":
            return Literal(None, None)
        if word in COMPARISONS or word in ("and", "or", "not"):
            raise self.error(token.position)
        following = self.peek()
        if following is not None and following.kind == "punct" and following.text == "(":
            return self.parse_call(token)
        return self.field(word, token.position)

    def number(self, token: Token) -> Literal:
        """An integer (Edm.Int32 or Edm.Int64) or a double; a value no double holds is a 400,
        whatever its length (Python would refuse to convert an integer of 4,300+ digits)."""
        text = token.text
        digits = text.lstrip("-")
        if digits.isdigit() and len(digits) <= 19:
            value = int(text)
            if -(2**31) <= value < 2**31:
                return Literal(value, "Edm.Int32")
            if -(2**63) <= value < 2**63:
                return Literal(value, "Edm.Int64")
        number = float(text)  # never raises for this token's syntax: inf when out of range
        if not math.isfinite(number) or abs(number) > DOUBLE_MAX:
            raise errors.invalid_expression(
                f"The number at position {token.position} in the filter is out of the range of "
                "Edm.Double.",
                FILTER,
            )
        return Literal(number, "Edm.Double")

    def parse_call(self, name: Token) -> Node:
        word = name.text
        if word == "search.in":
            return self.parse_search_in()
        head, _, quantifier = word.rpartition("/")
        if quantifier in ("any", "all") and head:
            return self.parse_lambda(head, quantifier, name.position)
        if word.startswith("search.") or word.startswith("geo."):
            raise errors.not_simulated(
                f"The filter function '{word}'",
                "The simulator's $filter supports eq, ne, gt, ge, lt, le, and, or, not, "
                "search.in and any/all.",
            )
        raise errors.invalid_expression(
            f"Unknown function '{word}' at position {name.position} in '{self.text}'.", FILTER
        )

    def parse_search_in(self) -> Node:
        self.expect_punct("(")
        target_token = self.next()
        if target_token.kind != "name":
            raise self.error(target_token.position)
        target = self.field(target_token.text, target_token.position)
        if target.is_collection or target.edm != STRING:
            raise errors.invalid_expression(
                f"search.in can only be used with a string field or a lambda variable of type "
                f"Edm.String; '{target.name}' is {target.edm}.",
                FILTER,
            )
        self.expect_punct(",")
        values_token = self.next()
        if values_token.kind != "string":
            raise self.error(values_token.position)
        delimiters = " ,"
        token = self.next()
        if token.kind == "punct" and token.text == ",":
            delimiter_token = self.next()
            if delimiter_token.kind != "string":
                raise self.error(delimiter_token.position)
            delimiters = delimiter_token.text[1:-1].replace("''", "'")
            token = self.next()
        if token.kind != "punct" or token.text != ")":
            raise self.error(token.position)
        raw = values_token.text[1:-1].replace("''", "'")
        pattern = "[" + re.escape(delimiters) + "]" if delimiters else None
        values = re.split(pattern, raw) if pattern else [raw]
        self.clause()  # "a function call counts as a single clause" (Learn)
        return SearchIn(target, frozenset(v for v in values if v))

    def parse_lambda(self, collection_name: str, quantifier: str, position: int) -> Node:
        collection = self.field(collection_name, position)
        if not collection.is_collection:
            raise errors.invalid_expression(
                f"The '{quantifier}' operator can only be used on a collection; "
                f"'{collection_name}' is {collection.edm}.",
                FILTER,
            )
        self.expect_punct("(")
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == ")":
            self.next()
            if quantifier == "all":
                raise self.error(token.position)
            self.clause()
            return Lambda(quantifier, collection, None, None)
        variable = self.next()
        if variable.kind != "name" or "/" in variable.text or "." in variable.text:
            raise self.error(variable.position)
        if variable.text in self.index.fields:
            raise errors.invalid_expression(
                f"The range variable '{variable.text}' has the name of a field of the index; "
                "choose another name.",
                FILTER,
            )
        self.expect_punct(":")
        self.enter()
        self.variables[variable.text] = FieldRef(
            variable.text, collection.edm, is_collection=False, variable=True
        )
        self.lambda_variable = variable.text
        try:
            body = self.require_boolean(self.parse_or())
        finally:
            self.variables.pop(variable.text, None)
            self.lambda_variable = None
        self.expect_punct(")")
        self.nesting -= 1
        if collection.edm == STRING:
            _check_string_lambda(quantifier, body)
        return Lambda(quantifier, collection, variable.text, body)

    # binding to the index
    def field(self, name: str, position: int) -> FieldRef:
        if name in self.variables:
            return self.variables[name]
        spec: Field | None = self.index.fields.get(name)
        if spec is None:
            raise errors.no_such_property(name, FILTER)
        if self.lambda_variable is not None:
            raise errors.invalid_expression(
                f"Invalid lambda expression. The field '{name}' is not bound to the range "
                f"variable '{self.lambda_variable}'. Only bound field references are supported "
                "inside lambda expressions ('any' or 'all'); move the condition on "
                f"'{name}' outside the lambda expression.",
                FILTER,
            )
        if not spec.filterable:
            raise errors.invalid_expression(
                f"'{name}' is not a filterable field. Only filterable fields can be used in "
                "filter expressions.",
                FILTER,
            )
        return FieldRef(name, spec.element, is_collection=spec.is_collection)

    def bind_comparison(self, op: str, left: Node, right: Node) -> Node:
        fields = [n for n in (left, right) if isinstance(n, FieldRef)]
        literals = [n for n in (left, right) if isinstance(n, Literal)]
        if len(fields) != 1 or len(literals) != 1:
            raise errors.invalid_expression(
                "Comparisons must compare a field or range variable with a constant value, "
                f"e.g. rating ge 4 (in '{self.text}').",
                FILTER,
            )
        field_ref, literal = fields[0], literals[0]
        if field_ref.is_collection:
            raise errors.invalid_expression(
                f"The collection field '{field_ref.name}' cannot be compared directly; use "
                f"{field_ref.name}/any(x: x {op} ...).",
                FILTER,
            )
        if field_ref.edm == GEOGRAPHY_POINT:
            raise errors.invalid_expression(
                f"The field '{field_ref.name}' of type Edm.GeographyPoint can only be used in "
                "geo.distance and geo.intersects.",
                FILTER,
            )
        if not _compatible(field_ref.edm, literal.edm):
            raise errors.invalid_expression(
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{_edm(left)}' and '{_edm(right)}' for operator kind '{COMPARISONS[op]}'.",
                FILTER,
            )
        return Comparison(op, left, right)

    def require_boolean(self, node: Node, position: int | None = None) -> Node:
        if isinstance(node, FieldRef):
            if node.edm != "Edm.Boolean" or node.is_collection:
                raise errors.invalid_expression(
                    f"The filter expression must be a boolean; '{node.name}' is {node.edm} "
                    f"(in '{self.text}').",
                    FILTER,
                )
            self.clause()
            return Comparison("eq", node, Literal(True, "Edm.Boolean"))
        if isinstance(node, Literal) and node.edm != "Edm.Boolean":
            raise self.error(position or 0)
        return node


_STRING_EQUALITY = (
    "Invalid lambda expression. Found a test for equality or inequality where the opposite was "
    "expected in a lambda expression that iterates over a field of type Collection(Edm.String). "
    "For 'any', use expressions of the form 'x eq y' or 'search.in(...)'. For 'all', use "
    "expressions of the form 'x ne y', 'not (x eq y)', or 'not search.in(...)'."
)
_STRING_RANGE = (
    "Invalid lambda expression. Found a comparison operator (one of 'lt', 'le', 'gt', or "
    "'ge'). Only equality operators are allowed in lambda expressions that iterate over fields "
    "of type Collection(Edm.String). For 'any', use expressions of the form 'x eq y'. For "
    "'all', use expressions of the form 'x ne y' or 'not (x eq y)'."
)
_STRING_COMBINATION = (
    "Invalid lambda expression. Complex Boolean expressions are not supported in lambda "
    "expressions that iterate over fields of type Collection(Edm.String). For 'any', join "
    "subexpressions with 'or'; 'and' is not supported. For 'all', join subexpressions with "
    "'and'; 'or' is not supported."
)


def _check_string_lambda(quantifier: str, body: Node) -> None:
    """Azure's rules for lambdas over ``Collection(Edm.String)`` (Microsoft Learn,
    "Troubleshooting OData collection filters in Azure AI Search"; its error messages)."""
    positive = quantifier == "any"
    join = "or" if positive else "and"

    def check(node: Node, wanted: bool) -> None:
        if isinstance(node, Logical):
            if node.op != (join if wanted == positive else ("and" if positive else "or")):
                raise errors.invalid_expression(_STRING_COMBINATION, FILTER)
            for operand in node.operands:
                check(operand, wanted)
        elif isinstance(node, Not):
            check(node.operand, not wanted)
        elif isinstance(node, Comparison):
            if node.op not in ("eq", "ne"):
                raise errors.invalid_expression(_STRING_RANGE, FILTER)
            if (node.op == "eq") != wanted:
                raise errors.invalid_expression(_STRING_EQUALITY, FILTER)
        elif isinstance(node, SearchIn):
            if not wanted:
                raise errors.invalid_expression(_STRING_EQUALITY, FILTER)
        elif isinstance(node, Literal):
            return
        else:
            raise errors.invalid_expression(_STRING_EQUALITY, FILTER)

    # Inside 'any' the tests must be equalities ('wanted' True), inside 'all' inequalities.
    check(body, positive)


def _compatible(field_type: str, literal_type: str | None) -> bool:
    if literal_type is None:
        return True
    if field_type in NUMERIC_TYPES:
        return literal_type in NUMERIC_TYPES
    return field_type == literal_type


def _edm(node: Node) -> str:
    if isinstance(node, FieldRef):
        return node.edm
    if isinstance(node, Literal):
        return node.edm or "null"
    return "Edm.Boolean"


def _tokenize(text: str) -> Iterator[Token]:
    """The filter's tokens, one at a time (a parser that stops early reads no further)."""
    position = 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.lastgroup == "unterminated":
            raise errors.syntax_error(position, text)
        kind = str(match.lastgroup)
        if kind != "space":
            yield Token(kind, match.group(), position)
        position = match.end()


def parse_filter(text: str, index: Index) -> Node:
    """The filter's expression tree, checked against ``index``; Azure's 400 if it is invalid."""
    return _Parser(text, index).parse()


DEADLINE = ""
"""Where a lambda finds the request's deadline in the scope (no range variable has this name)."""


def matches(node: Node, document: Document, deadline: Deadline = UNLIMITED) -> bool:
    """Whether ``document`` passes the filter; long collections check the ``deadline``."""
    return bool(node.evaluate(document, {DEADLINE: deadline}))


# -- $orderby and $select -------------------------------------------------------------------------

SCORE = "search.score()"


@dataclass(frozen=True)
class OrderBy:
    field: str  # a field name or "search.score()"
    descending: bool


def parse_orderby(text: str, index: Index) -> list[OrderBy]:
    """``rating desc, search.score() desc`` -> clauses; fields must exist and be sortable."""
    parts = _split_list(text)
    if len(parts) > limits.MAX_ORDERBY_CLAUSES:
        raise errors.invalid_expression(
            f"There can be at most {limits.MAX_ORDERBY_CLAUSES} $orderby clauses.", "$orderby"
        )
    clauses: list[OrderBy] = []
    for part in parts:
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise errors.syntax_error(text.find(part), text, "$orderby")
        name = words[0]
        if name != SCORE:
            spec = index.fields.get(name)
            if spec is None:
                raise errors.no_such_property(name, "$orderby")
            if spec.element == GEOGRAPHY_POINT:
                raise errors.invalid_expression(
                    f"The field '{name}' of type Edm.GeographyPoint cannot be sorted on "
                    "directly; sort by distance with geo.distance(field, point).",
                    "$orderby",
                )
            if not spec.sortable:
                raise errors.invalid_expression(
                    f"'{name}' is not a sortable field. Only sortable fields can be used in "
                    "$orderby expressions.",
                    "$orderby",
                )
        clauses.append(OrderBy(name, len(words) == 2 and words[1] == "desc"))
    return clauses


def parse_select(text: str | None, index: Index) -> list[str]:
    """The retrievable fields to return, in index order (``*`` or nothing: all of them)."""
    retrievable = [f.name for f in index.fields.values() if f.retrievable]
    if text is None or text.strip() in ("", "*"):
        return retrievable
    wanted: list[str] = []
    for name in _split_list(text):
        spec = index.fields.get(name)
        if spec is None:
            raise errors.no_such_property(name, "$select")
        if not spec.retrievable:
            raise errors.invalid_expression(
                f"'{name}' is not a retrievable field. Only retrievable fields can be used in "
                "$select expressions.",
                "$select",
            )
        wanted.append(name)
    return [name for name in retrievable if name in wanted]


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def sort_key_value(value: Any, edm: str) -> tuple[int, Any]:
    """A sort key that puts ``null`` first (ascending) and compares date-times as instants."""
    if value is None:
        return (0, 0)
    if edm == DATETIME and isinstance(value, str):
        parsed = parse_datetime(value)
        return (1, parsed.timestamp()) if parsed is not None else (0, 0)
    return (1, value)
