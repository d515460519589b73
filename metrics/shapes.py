"""Compiled query shapes: each query's SQL is compiled by Ibis once per *shape* and run with bound values.

Every filter state builds the same queries with different values (dates, countries, the Prime choice, a
focus label) and reads different materialised tables. Compiling an Ibis expression to SQL costs 15–60 ms
(graph rewrites in Python), a fifth to a third of a cold page at 100 k–1 M orders, and it is the same
work for every state. So an expression is reduced to its shape — its operation tree with the filter
values replaced by numbered slots and the engine's own result tables by numbered table slots — and the
SQL of a shape is compiled once, with a placeholder (``$p0``) per value slot. Later queries of that shape
only bind their values: values never enter SQL text, and the SQL stays Ibis's own.

What becomes a slot (everything else is part of the shape, so two expressions differing there compile
separately):

- a literal of a date, timestamp, string, integer, float or boolean type that is an operand of a
  comparison, a membership test, a date difference or an alias — the places filter values go. A literal
  anywhere else (a rounding precision, a bucket count, a format) keeps its value in the shape, and so does
  a literal value used in both kinds of place;
- equal values share a slot, and which slots are equal is part of the shape (so no compiled SQL relies on
  two values being equal that may differ next time);
- tables the engine materialised (``ci_result_…``) and registered memtables, by order of appearance;
  their names are substituted into the compiled text (identifiers, never values).

Only the DuckDB backend uses shapes (bound parameters of its Python API); Spark compiles each query as
before, where compilation is small against the cluster's own planning.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis.expr.datashape as ds
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import sqlglot.expressions as sge

#: Parent operations whose literal operands become value slots.
_SLOT_PARENTS: tuple[type, ...] = (
    ops.Equals, ops.NotEquals, ops.Less, ops.LessEqual, ops.Greater, ops.GreaterEqual, ops.Between,
    ops.InValues, ops.DateDelta, ops.TimestampDelta, ops.Alias,
)
#: Prefixes of table names that are per-state results (slots, substituted by name).
_RESULT_PREFIXES = ("ci_result_", "ibis_pandas_memtable_", "ibis_pyarrow_memtable_", "ibis_polars_memtable_")
#: Distinct shapes kept (least recently used dropped first); a page set uses about 70.
MAX_SHAPES = 1024


def _slot_type(dtype: dt.DataType) -> bool:
    return dtype.is_date() or dtype.is_timestamp() or dtype.is_string() or dtype.is_integer() \
        or dtype.is_floating() or dtype.is_boolean()


class _Unshapeable(Exception):
    """The expression holds something the shape key cannot represent: compile it directly."""


@dataclass(frozen=True)
class Shape:
    """An expression's shape key and the values and table names it binds."""

    key: tuple
    literals: tuple[ops.Literal, ...]  # one per value slot, in slot order
    constant: frozenset[int]  # slots whose values are part of the key
    tables: tuple[str, ...]  # result-table names, in slot order
    memtables: bool


def shape_of(op: ops.Node) -> Shape:
    """The shape of an operation tree (raises :class:`_Unshapeable`)."""
    literal_slots: dict[ops.Literal, int] = {}
    constant: set[int] = set()
    table_slots: dict[str, int] = {}
    refs: dict[int, int] = {}
    memo: dict[int, Any] = {}
    nodes: list[Any] = []
    memtables = False

    def literal(node: ops.Literal, parent: ops.Node) -> Any:
        if not _slot_type(node.dtype) or node.value is None:
            return ("C", node.dtype, _hashable(node.value))
        slot = literal_slots.setdefault(node, len(literal_slots))
        if not isinstance(parent, _SLOT_PARENTS):
            constant.add(slot)
        return ("L", node.dtype, slot)

    def arg(value: Any, parent: ops.Node) -> Any:
        if isinstance(value, ops.Literal):
            return literal(value, parent)
        if isinstance(value, ops.Node):
            return node_key(value)
        if isinstance(value, tuple):
            return tuple(arg(v, parent) for v in value)
        if isinstance(value, Mapping):
            return tuple((k, arg(v, parent)) for k, v in value.items())
        return _hashable(value)

    def node_key(node: ops.Node) -> Any:
        # a node is named by its position in ``nodes`` (children first): the key stays linear in the
        # tree's size however often a relation is referenced (nested tuples would repeat shared subtrees)
        found = memo.get(id(node))
        if found is not None:
            return found
        nonlocal memtables
        if isinstance(node, ops.PhysicalTable) and node.name.startswith(_RESULT_PREFIXES):
            memtables = memtables or isinstance(node, ops.InMemoryTable)
            entry: Any = ("T", type(node).__name__, table_slots.setdefault(node.name, len(table_slots)),
                          node.schema)
        elif isinstance(node, ops.InMemoryTable):
            raise _Unshapeable("a memtable outside the engine's naming")
        elif isinstance(node, ops.SelfReference):
            # a view's identifier is a process-wide counter: only which references are the same counts
            entry = ("R", node_key(node.parent), refs.setdefault(node.identifier, len(refs)))
        else:
            entry = (type(node).__name__, *(arg(v, node) for v in node.__args__))
        nodes.append(entry)
        memo[id(node)] = found = ("N", len(nodes) - 1)
        return found

    try:
        node_key(op)
    except RecursionError as exc:
        raise _Unshapeable("too deep") from exc
    literals = tuple(literal_slots)
    fixed = tuple((s, _hashable(literals[s].value)) for s in sorted(constant))
    return Shape(key=(tuple(nodes), fixed), literals=literals, constant=frozenset(constant),
                 tables=tuple(table_slots), memtables=memtables)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError as exc:
        raise _Unshapeable(f"unhashable {type(value).__name__}") from exc
    return value


@dataclass(frozen=True)
class Compiled:
    """The SQL of a shape: table slot ``i`` as the marker ``\x00i\x00``, value slot ``i`` as ``$p<i>``."""

    sql: str
    params: tuple[int, ...]  # the value slots the SQL binds


def _marker(slot: int) -> str:
    return f"\x00{slot}\x00"


class ValueSlot(ops.Scalar):  # type: ignore[misc]
    """A value slot in an operation tree: compiled to the placeholder ``$p<index>``."""

    dtype: dt.DataType
    index: int

    shape = ds.scalar


def _slot_compiler(base: type) -> type:
    """The backend's compiler, writing a value slot as a placeholder of the literal's own type. Integers
    stay untyped, as Ibis writes integer literals, so DuckDB types them from their use."""

    def visit_ValueSlot(self: Any, op: ValueSlot, **_: Any) -> sge.Expression:
        value = sge.Placeholder(this=f"p{op.index}")
        return value if op.dtype.is_integer() else sge.Cast(this=value, to=self.type_mapper.from_ibis(op.dtype))

    return type(f"Slot{base.__name__}", (base,), {"visit_ValueSlot": visit_ValueSlot})


class QueryShapes:
    """Compiled SQL per shape for one DuckDB backend (thread-safe; bounded, least recently used out)."""

    def __init__(self, backend: Any, max_shapes: int = MAX_SHAPES) -> None:
        self.backend = backend
        self.max_shapes = max_shapes
        self._compiled: OrderedDict[tuple, Compiled] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.compiler = _slot_compiler(type(backend.compiler))()

    def sql(self, expr: ir.Expr) -> tuple[str, dict[str, Any]] | None:
        """SQL text and bound values for ``expr`` (a table expression), or None when it has no shape."""
        try:
            shape = shape_of(expr.op())
        except _Unshapeable:
            return None
        with self._lock:
            compiled = self._compiled.get(shape.key)
            if compiled is not None:
                self._compiled.move_to_end(shape.key)
                self.hits += 1
        if compiled is None:
            compiled = self._compile(expr, shape)
            with self._lock:
                self.misses += 1
                self._compiled[shape.key] = compiled
                while len(self._compiled) > self.max_shapes:
                    self._compiled.popitem(last=False)
        if shape.memtables:
            self.backend._run_pre_execute_hooks(expr)  # registers the memtables it reads
        text = compiled.sql
        for slot, name in enumerate(shape.tables):
            text = text.replace(_marker(slot), name)
        return text, {f"p{s}": shape.literals[s].value for s in compiled.params}

    def _compile(self, expr: ir.Expr, shape: Shape) -> Compiled:
        slots = {lit: ValueSlot(lit.dtype, i) for i, lit in enumerate(shape.literals)
                 if i not in shape.constant}
        op = expr.as_table().op()
        if slots:
            op = op.replace(slots)
        tree = self.compiler.to_sqlglot(op.to_expr())
        used = sorted({int(p.name[1:]) for p in tree.find_all(sge.Placeholder)})
        text = tree.sql(dialect=self.backend.dialect)
        for slot, name in enumerate(shape.tables):
            text = text.replace(name, _marker(slot))
        return Compiled(sql=text, params=tuple(used))
