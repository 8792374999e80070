"""RestrictedPython policy and run-time guards for diagram code.

The policy (``SandboxPolicy``) rewrites the operators that can allocate without bound
(``*``, ``**``, ``<<``, ``+``, ``%`` and their augmented forms, f-string format specs) into calls
to the guard helpers below, which refuse oversized results *before* allocating. Sizes count nested
contents (see :func:`nested_size`): ``[big_list] * 300`` is refused although it holds only 300
references, because printing, comparing or serializing it visits 300 copies of ``big_list``.

It refuses ``try`` (``except``/``finally``/``except*``) and ``with`` statements outright, so no
diagram code can catch the time-limit signal or run code after it fired.

``sum`` only adds numbers, and ``sorted``/``min``/``max``/``list.sort`` and f-string fields refuse
inputs whose nested size is above ``MAX_ITEMS`` (their C loops cannot be interrupted by the time
limit). See :mod:`workflows.sandbox` for what remains possible.

``guard_globals()`` returns the names RestrictedPython-compiled code expects (``_getattr_``,
``_getitem_``...) plus a curated ``__builtins__``.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from RestrictedPython import RestrictingNodeTransformer, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector

from workflows.sandbox_errors import SandboxError

MAX_ITEMS = 1_000_000
"""Largest string / bytes / list / tuple / range diagram code may create in one operation."""

MAX_INT_BITS = 100_000
"""Largest integer (in bits, about 30,000 decimal digits) diagram code may create."""

_SEQ = (str, bytes, bytearray, list, tuple)
_FORBIDDEN_NAMES = frozenset({
    "open", "eval", "exec", "compile", "getattr", "globals", "locals", "vars", "input",
    "breakpoint", "help", "memoryview", "type", "object", "super", "classmethod", "staticmethod",
    "property", "dir", "exit", "quit",
})
_DENIED_ATTRIBUTES = frozenset({"mro", "format", "format_map"})


MAX_NESTING = 100
"""Deepest nesting :func:`nested_size` follows; deeper data cannot be repeated or concatenated."""

_FLAT_SIZED = frozenset({str, bytes, bytearray, range})
_DICT_VIEWS = frozenset({type({}.keys()), type({}.values()), type({}.items())})
_CONTAINERS = frozenset({list, tuple, set, frozenset, dict}) | _DICT_VIEWS
_SIZED = _FLAT_SIZED | _CONTAINERS


def nested_size(obj: Any, budget: int = MAX_ITEMS) -> int:
    """The number of items in ``obj`` counting nested contents, exact up to ``budget``.

    A list, tuple, set, dict (keys and values) or dict view counts its length plus the nested size
    of each element; a string, bytes or range counts its length; anything else counts 0. A shared
    object counts every time it occurs, as ``str()``, ``==`` or serializing would visit it.

    Counting stops as soon as the total exceeds ``budget``: the result is then a lower bound
    (still above ``budget``), and the cost stays proportional to ``budget``. Data nested deeper
    than ``MAX_NESTING`` levels, or containing itself, raises ``SandboxError``.
    """
    if type(obj) not in _SIZED:
        return 0
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(item: Any, depth: int, room: int) -> int:
        n = len(item)
        if n > room or type(item) in _FLAT_SIZED or n == 0:
            return n
        key = id(item)
        known = memo.get(key)
        if known is not None:
            return known
        if key in active or depth >= MAX_NESTING:
            raise SandboxError(f"data nested more than {MAX_NESTING} levels deep (or containing itself) "
                               "cannot be repeated, concatenated, sorted or formatted")
        if type(item) in _DICT_VIEWS:
            mapping = item.mapping  # a read-only proxy of the dict
            parts: tuple[Any, ...] = (mapping.keys(), mapping.values())
        elif type(item) is dict:
            parts = (item.keys(), item.values())
        else:
            parts = (item,)
        active.add(key)
        total = n
        for part in parts:
            if _SIZED.isdisjoint(map(type, part)):  # the common case: no nested contents, C speed
                continue
            for element in part:
                kind = type(element)
                if kind in _FLAT_SIZED:
                    total += len(element)
                elif kind in _CONTAINERS:
                    total += size(element, depth + 1, room - total)
                else:
                    continue
                if total > room:
                    active.discard(key)
                    return total
        active.discard(key)
        memo[key] = total
        return total

    return size(obj, 0, budget)


def _too_many(what: str, n: int, nested: bool = False) -> SandboxError:
    if nested:
        return SandboxError(f"{what} would create a sequence of at least {n:,} items counting the "
                            f"contents of nested lists, dicts and strings; the limit is {MAX_ITEMS:,}")
    return SandboxError(f"{what} would create a sequence of {n} items; the limit is {MAX_ITEMS:,}")


def _too_big(what: str, bits: int) -> SandboxError:
    return SandboxError(
        f"{what} would create an integer of about {bits} bits; the limit is {MAX_INT_BITS:,} bits")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_repeat(seq: Any, times: int) -> None:
    """Refuse ``seq * times`` when the result's nested size would exceed ``MAX_ITEMS``."""
    if times <= 0 or len(seq) == 0:
        return
    if len(seq) * times > MAX_ITEMS:
        raise _too_many("multiplication", len(seq) * times)
    size = nested_size(seq, MAX_ITEMS // times)
    if size * times > MAX_ITEMS:
        raise _too_many("multiplication", size * times, nested=True)


def _check_concat(what: str, a: Any, b: Any, count_a: bool = True) -> None:
    """Refuse ``a + b`` (or ``a += b`` with ``count_a=False``: only ``len(a)`` counts, as ``a``'s
    contents are not copied) when the result's nested size would exceed ``MAX_ITEMS``."""
    flat = len(a) + len(b)
    if flat > MAX_ITEMS:
        raise _too_many(what, flat)
    size_a = nested_size(a, MAX_ITEMS) if count_a else len(a)
    total = size_a + nested_size(b, MAX_ITEMS - size_a) if size_a <= MAX_ITEMS else size_a
    if total > MAX_ITEMS:
        raise _too_many(what, total, nested=True)


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, _SEQ) and isinstance(b, int):
        _check_repeat(a, b)
    elif isinstance(b, _SEQ) and isinstance(a, int):
        _check_repeat(b, a)
    elif _is_int(a) and _is_int(b):
        bits = a.bit_length() + b.bit_length()
        if bits > MAX_INT_BITS:
            raise _too_big("multiplication", bits)


def guarded_mul(a: Any, b: Any) -> Any:
    """``a * b`` refusing huge sequences and integers."""
    _check_mul(a, b)
    return a * b


def guarded_pow(a: Any, b: Any, mod: Any = None) -> Any:
    """``a ** b`` / ``pow(a, b[, mod])`` refusing huge integers."""
    if mod is None and _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1:
        bits = b * (abs(a).bit_length() - 1) + 1
        if bits > MAX_INT_BITS:
            raise _too_big("exponentiation", bits)
    return pow(a, b) if mod is None else pow(a, b, mod)


def guarded_lshift(a: Any, b: Any) -> Any:
    """``a << b`` refusing huge integers."""
    if _is_int(a) and _is_int(b) and a != 0:
        bits = a.bit_length() + b
        if bits > MAX_INT_BITS:
            raise _too_big("left shift", bits)
    return a << b


def guarded_add(a: Any, b: Any) -> Any:
    """``a + b`` refusing concatenations whose nested size is above ``MAX_ITEMS``."""
    if isinstance(a, _SEQ) and isinstance(b, _SEQ):
        _check_concat("concatenation", a, b)
    return a + b


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBER = re.compile(r"\d+")


def _check_width(n: int, what: str) -> None:
    if n > MAX_ITEMS:
        raise _too_many(what, n)


def guarded_mod(a: Any, b: Any) -> Any:
    """``a % b`` refusing ``%``-format widths/precisions above ``MAX_ITEMS``."""
    if isinstance(a, (str, bytes)):
        text = a if isinstance(a, str) else a.decode("latin-1")
        star = False
        for width, precision in _PERCENT_SPEC.findall(text):
            for part in (width, precision):
                if part == "*":
                    star = True
                elif part:
                    _check_width(int(part), "formatting")
        if star:
            values = b if isinstance(b, tuple) else (b,)
            for v in values:
                if _is_int(v):
                    _check_width(abs(v), "formatting")
    return a % b


def guarded_format_value(value: Any, conversion: int, spec: str) -> str:
    """One f-string ``{value!conv:spec}`` field, refusing widths above ``MAX_ITEMS`` and
    containers whose nested size is above it."""
    if type(value) in _CONTAINERS:
        _check_input("an f-string field", value)
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("s"):
        value = str(value)
    elif conversion == ord("a"):
        value = ascii(value)
    for number in _SPEC_NUMBER.findall(spec):
        if len(number) > 7 or int(number) > MAX_ITEMS:
            raise SandboxError(f"formatting width {number} is above the limit of {MAX_ITEMS:,}")
    return format(value, spec)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "-=": operator.isub, "/=": operator.itruediv, "//=": operator.ifloordiv,
    ">>=": operator.irshift, "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand,
    "**=": guarded_pow, "<<=": guarded_lshift, "%=": guarded_mod,
}


def guarded_inplacevar(op: str, x: Any, y: Any) -> Any:
    """``x op= y`` for a plain name (RestrictedPython's ``_inplacevar_``) with size guards."""
    if op == "+=":
        if isinstance(x, _SEQ) and isinstance(y, Iterable) and hasattr(y, "__len__"):
            # a list grows in place (its old contents are not copied); a str/tuple is rebuilt
            _check_concat("concatenation", x, y, count_a=not isinstance(x, (list, bytearray)))
        return operator.iadd(x, y)
    if op == "*=":
        _check_mul(x, y)
        return operator.imul(x, y)
    try:
        return _INPLACE[op](x, y)
    except KeyError:
        raise SandboxError(f"operator {op} is not allowed") from None


def _str_width_guard(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(width: int, *args: Any) -> Any:
        _check_width(width, "padding")
        return method(width, *args)
    return wrapper


def _replace_guard(s: str | bytes, method: Callable[..., Any]) -> Callable[..., Any]:
    def replace(old: Any, new: Any, count: int = -1) -> Any:
        occurrences = len(s) + 1 if len(old) == 0 else s.count(old)
        if count >= 0:
            occurrences = min(occurrences, count)
        _check_width(len(s) + occurrences * (len(new) - len(old)), "replace")
        return method(old, new, count)
    return replace


def _join_guard(sep: str | bytes, method: Callable[..., Any]) -> Callable[..., Any]:
    def join(items: Iterable[Any]) -> Any:
        items = list(items)
        total = sum(len(i) for i in items if isinstance(i, (str, bytes)))
        _check_width(total + len(sep) * max(len(items) - 1, 0), "join")
        return method(items)
    return join


def _expandtabs_guard(s: str | bytes, method: Callable[..., Any]) -> Callable[..., Any]:
    def expandtabs(tabsize: int = 8) -> Any:
        tabs = s.count("\t") if isinstance(s, str) else s.count(b"\t")
        _check_width(len(s) + tabs * max(tabsize, 0), "expandtabs")
        return method(tabsize)
    return expandtabs


def _extend_guard(seq: list[Any] | bytearray, method: Callable[..., Any]) -> Callable[..., Any]:
    def extend(items: Iterable[Any]) -> Any:
        if hasattr(items, "__len__"):
            _check_concat("extend", seq, items, count_a=False)
        return method(items)
    return extend


def _translate_guard(s: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def translate(table: Any) -> Any:
        if isinstance(table, dict):
            longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
            _check_width(len(s) * max(longest, 1), "translate")
        return method(table)
    return translate


def _sort_guard(seq: list[Any], method: Callable[..., Any]) -> Callable[..., Any]:
    def sort(*, key: Any = None, reverse: bool = False) -> None:
        _check_input("list.sort()", seq)
        method(key=key, reverse=reverse)
    return sort


def guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` for diagram code: RestrictedPython's ``safer_getattr`` plus size guards.

    Denies ``mro`` (a way to reach ``BaseException``) and ``format``/``format_map`` on
    strings; wraps size-sensitive ``str``/``bytes``/``list`` methods.
    """
    if name in _DENIED_ATTRIBUTES:
        raise AttributeError(f'"{name}" is not allowed in diagram code')
    value = safer_getattr(obj, name, default)
    if isinstance(obj, (str, bytes)):
        if name in ("ljust", "rjust", "center", "zfill"):
            return _str_width_guard(value)
        if name == "replace":
            return _replace_guard(obj, value)
        if name == "join":
            return _join_guard(obj, value)
        if name == "expandtabs":
            return _expandtabs_guard(obj, value)
        if name == "translate" and isinstance(obj, str):
            return _translate_guard(obj, value)
    elif isinstance(obj, (list, bytearray)) and name == "extend":
        return _extend_guard(obj, value)
    elif isinstance(obj, list) and name == "sort":
        return _sort_guard(obj, value)
    return value


def limited_range(*args: int) -> range:
    """``range`` limited to ``MAX_ITEMS`` items."""
    r = range(*args)
    if len(r) > MAX_ITEMS:
        raise _too_many("range", len(r))
    return r


_NUMBERS = (int, float, complex, Decimal, Fraction)


def safe_sum(iterable: Iterable[Any], /, start: Any = 0) -> Any:
    """``sum`` for numbers only: adding lists or strings copies them over and over in C."""
    if not isinstance(start, _NUMBERS):
        raise SandboxError(f"sum() only adds numbers, not {type(start).__name__}")
    total: Any = start
    for value in iterable:
        if not isinstance(value, _NUMBERS):
            raise SandboxError(f"sum() only adds numbers, not {type(value).__name__}; to join lists use "
                               "a comprehension such as [x for part in parts for x in part], "
                               "to join strings use ''.join(...)")
        total = total + value
    return total


def _check_input(name: str, items: Any) -> None:
    n = nested_size(items, MAX_ITEMS)
    if n > MAX_ITEMS:
        raise SandboxError(f"{name} was given at least {n:,} items counting the contents of nested "
                           f"lists, dicts and strings; the limit is {MAX_ITEMS:,}")


def safe_sorted(iterable: Iterable[Any], /, *, key: Any = None, reverse: bool = False) -> list[Any]:
    """``sorted`` refusing inputs whose nested size is above ``MAX_ITEMS``."""
    items = list(iterable)
    _check_input("sorted()", items)
    items.sort(key=key, reverse=reverse)
    return items


def _extreme(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def extreme(*args: Any, **kwargs: Any) -> Any:
        if not args:
            return func(*args, **kwargs)  # the builtin's own TypeError
        if len(args) == 1:
            items = list(args[0])
        elif "default" in kwargs:
            raise TypeError(f"Cannot specify a default for {name}() with multiple positional arguments")
        else:
            items = list(args)
        _check_input(f"{name}()", items)
        return func(items, **kwargs)
    extreme.__name__ = name
    extreme.__doc__ = f"``{name}`` refusing inputs whose nested size is above ``MAX_ITEMS``."
    return extreme


safe_min = _extreme("min", min)
safe_max = _extreme("max", max)


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_UNSAFE_BUILTINS = frozenset({
    "__build_class__", "_getattr_", "setattr", "delattr", "id", "pow", "range",
    "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
})


def sandbox_builtins() -> dict[str, Any]:
    """The curated ``__builtins__`` of diagram code."""
    names = {k: v for k, v in safe_builtins.items() if k not in _UNSAFE_BUILTINS}
    names.update({
        "len": len, "min": safe_min, "max": safe_max, "sum": safe_sum, "sorted": safe_sorted, "abs": abs,
        "round": round, "any": any, "all": all, "dict": dict, "list": list, "set": set,
        "frozenset": frozenset, "tuple": tuple, "str": str, "int": int, "float": float,
        "bool": bool, "enumerate": enumerate, "zip": zip, "reversed": reversed,
        "map": map, "filter": filter, "isinstance": isinstance,
        "range": limited_range, "pow": guarded_pow,
    })
    return names


def guard_globals() -> dict[str, Any]:
    """Globals every compiled diagram script needs: guards and ``__builtins__``."""
    return {
        "__builtins__": sandbox_builtins(),
        "_getattr_": guarded_getattr,
        "_getitem_": _guarded_getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": guarded_inplacevar,
        "_apply_": _apply,
        "_print_": PrintCollector,
        "_mul_": guarded_mul,
        "_pow_": guarded_pow,
        "_lshift_": guarded_lshift,
        "_add_": guarded_add,
        "_mod_": guarded_mod,
        "_format_value_": guarded_format_value,
    }


_BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_", ast.Mod: "_mod_",
}


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus allocation guards and uncatchable time limits."""

    def _visit_children(self, node: Any) -> Any:
        return self.node_contents_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        """Route allocation-prone operators through guard helpers."""
        node = self._visit_children(node)
        helper = _BINOP_GUARDS.get(type(node.op))
        if helper is None:
            return node
        call = ast.Call(func=ast.Name(helper, ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        """Format f-string fields through ``guarded_format_value``."""
        node = self._visit_children(node)
        spec: ast.expr = node.format_spec if node.format_spec is not None else ast.Constant("")
        call = ast.Call(func=ast.Name("_format_value_", ast.Load()),
                        args=[node.value, ast.Constant(node.conversion), spec], keywords=[])
        field = ast.FormattedValue(value=call, conversion=-1, format_spec=None)
        return ast.fix_missing_locations(ast.copy_location(field, node))

    def visit_Name(self, node: ast.Name) -> Any:
        """Refuse names of dangerous builtins at compile time (they are absent at run time too)."""
        if node.id in _FORBIDDEN_NAMES:
            self.error(node, f"{node.id!r} is not available in diagram code")
        return super().visit_Name(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        """Refuse ``.format``/``.format_map``/``.mro`` at compile time."""
        if node.attr in _DENIED_ATTRIBUTES:
            self.error(node, f"'.{node.attr}' is not allowed in diagram code; use an f-string")
        return super().visit_Attribute(node)

    def visit_Import(self, node: ast.Import) -> ast.AST:
        """Refuse ``import`` at compile time (there is no ``__import__`` at run time either)."""
        self.error(node, "import statements are not allowed in diagram code")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        """Refuse ``from ... import`` at compile time."""
        self.error(node, "import statements are not allowed in diagram code")
        return node

    def visit_Try(self, node: ast.AST) -> ast.AST:
        """Refuse ``try`` in every form: a handler (or ``finally:``) could catch or outlive the
        time-limit signal, e.g. when looking up the handler's name itself raises ``NameError``."""
        self.error(node, "try/except is not allowed in diagram code")
        return node

    visit_TryStar = visit_Try

    def visit_With(self, node: ast.AST) -> ast.AST:
        """Refuse ``with``: a context manager's ``__exit__`` could swallow the time-limit signal."""
        self.error(node, "'with' statements are not allowed in diagram code")
        return node
