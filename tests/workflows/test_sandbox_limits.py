"""Sandbox limits the tracer alone cannot enforce: uncatchable time limits, and single C-level
calls (``sum``, ``==``, ``str``, ``sorted``) over structures that repeat a big list."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from workflows.sandbox import SandboxError, SandboxTimeout, compile_check, make_script_engine
from workflows.sandbox_guards import MAX_ITEMS, nested_size


def env(**kwargs):
    return make_script_engine(**kwargs).environment


def run_bounded(script: str, seconds: float = 10.0, **kwargs) -> tuple[BaseException | None, float]:
    """Execute ``script`` in a daemon thread so a regression fails the test instead of hanging it."""
    outcome: list = []

    def go() -> None:
        started = time.monotonic()
        try:
            env(**kwargs).execute(script, {})
            outcome.append((None, time.monotonic() - started))
        except BaseException as err:
            outcome.append((err, time.monotonic() - started))

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the script was still running after {seconds} s"
    return outcome[0]


# ------------------------------------------------------------------ the time limit cannot be caught

SWALLOWING_SCRIPT = """
while True:
    try:
        try:
            while True:
                pass
        except BaseException:
            pass
    except NameError:
        pass
"""


def test_the_review_reproduction_is_refused_before_running():
    with pytest.raises(SandboxError, match="try/except is not allowed in diagram code") as info:
        compile_check(SWALLOWING_SCRIPT, "exec")
    assert info.value.line == 3
    err, elapsed = run_bounded(SWALLOWING_SCRIPT, time_limit=0.2)
    assert isinstance(err, SandboxError) and "try/except" in str(err) and elapsed < 2


@pytest.mark.parametrize("script", [
    # generators: close()/throw() cannot run a handler, there is none
    "def g():\n    while True:\n        yield 1\nwhile True:\n    it = g()\n    for v in it:\n        break\n    it.close()",
    "def g():\n    while True:\n        yield 1\nx = list(g())",
    # C code calling back into diagram code passes the signal on
    "x = sorted(range(10), key=lambda i: [j for j in range(10**6) for k in range(10**6)])",
    "x = list(map(lambda i: [j for j in range(10**6) for k in range(10**6)], [1]))",
    "x = min([1, 2], key=lambda i: len([j for j in range(10**6) for k in range(10**6)]))",
])
def test_the_time_limit_passes_through_generators_and_callbacks(script):
    err, elapsed = run_bounded(script, time_limit=0.2)
    assert isinstance(err, (SandboxTimeout, SandboxError)), err
    assert elapsed < 2


# ------------------------------------------------------------------ nested sizes

def test_nested_size_counts_nested_contents_and_shared_references():
    a = [0] * 1000
    assert nested_size(a) == 1000
    assert nested_size([a, a, a]) == 3 + 3000  # shared objects count every time they occur
    # 2 entries + keys "k", "v" + "abc" + [1, (2, 3)] (2 items, the tuple 2 more)
    assert nested_size({"k": "abc", "v": [1, (2, 3)]}) == 2 + (1 + 1) + 3 + (2 + 2)
    assert nested_size("abcd") == 4 and nested_size(range(7)) == 7 and nested_size(5) == 0
    assert nested_size({"a": [1, 2]}.values()) == 1 + 1 + 2
    assert nested_size([[]] * 10) == 10


def test_nested_size_stops_at_the_budget_and_stays_cheap():
    big = [0] * 999_999
    huge = [big] * 10_000  # 10**10 nested items, cheap to hold
    started = time.monotonic()
    assert nested_size(huge) > MAX_ITEMS
    assert nested_size(huge, 10) > 10
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("make", [
    lambda: (lambda x: (x.append(x), x)[1])([]),  # a list containing itself
    lambda: __import__("functools").reduce(lambda acc, _: [acc], range(200), []),  # 200 levels deep
])
def test_nested_size_refuses_cycles_and_very_deep_data(make):
    with pytest.raises(SandboxError, match="nested more than"):
        nested_size(make())


# ------------------------------------------------------------------ the review's C-level reproductions

@pytest.mark.parametrize("script, message", [
    ("a=[0]*999999\nb=[0]*999999\nx = [a]*300 == [b]*300", "multiplication would create a sequence of at least"),
    ("a=[0]*999999\nx = len(str([a]*20))", "multiplication would create a sequence of at least"),
    ("a=[0]*999999\nx = len(sum([a]*300, []))", "multiplication would create a sequence of at least"),
    ("x = sum([[1], [2]], [])", "sum\\(\\) only adds numbers, not list"),
    ("x = sum(['a', 'b'], '')", "sum\\(\\) only adds numbers, not str"),
    ("a=[0]*999999\nx = sum([a, a])", "sum\\(\\) only adds numbers, not list"),
    ("x = [['a' * 999999]] * 2", "counting the contents of nested lists"),
    ("x = ('abc',) * 400000", "counting the contents of nested lists"),
    # doubling with + / += / extend
    ("l = [[0] * 999999]\nfor i in range(30):\n    l = l + l", "concatenation would create"),
    ("l = [[0] * 500000]\nfor i in range(30):\n    l += l", "concatenation would create"),
    ("t = ([0] * 500000,)\nfor i in range(30):\n    t += t", "concatenation would create"),
    ("l = [[0] * 500000]\nfor i in range(30):\n    l.extend(l)", "extend would create"),
    ("s = ['x' * 600000]\nfor i in range(30):\n    s = s + s", "concatenation would create"),
    ("x = ('a' * 999999).translate({97: 'bb'})", "translate would create"),
    # structures built by a loop are refused by the C-level consumers that are guarded
    ("a=[0]*999999\nl = []\nfor i in range(50):\n    l.append(a)\nx = sorted(l)", "sorted\\(\\) was given at least"),
    ("a=[0]*999999\nl = []\nfor i in range(50):\n    l.append(a)\nx = max(l)", "max\\(\\) was given at least"),
    ("a=[0]*999999\nl = []\nfor i in range(50):\n    l.append(a)\nx = min(*l)", "min\\(\\) was given at least"),
    ("a=[0]*999999\nl = []\nfor i in range(50):\n    l.append(a)\nl.sort()", "list.sort\\(\\) was given at least"),
    ("a=[0]*999999\nl = []\nfor i in range(50):\n    l.append(a)\nx = f'{l}'", "an f-string field was given"),
    ("l = []\nl.append(l)\nx = l * 2", "containing itself"),
])
def test_c_level_amplifiers_are_refused_quickly(script, message):
    err, elapsed = run_bounded(script, time_limit=5.0)
    assert isinstance(err, SandboxError) and not isinstance(err, SandboxTimeout), err
    assert elapsed < 2, elapsed
    import re
    assert re.search(message, str(err)), str(err)


# ------------------------------------------------------------------ ordinary code still works

def test_ordinary_code_is_unaffected():
    ctx: dict = {"parties": [{"name": "张伟", "claim": 3000}, {"name": "李娜", "claim": 1200}],
                 "amounts": [Decimal("1.10"), Decimal("2.20")]}
    env().execute(
        "total = sum(p['claim'] for p in parties)\n"
        "money = sum(amounts, Decimal('0')) if False else sum(amounts)\n"
        "mean = sum([1, 2.5], 0.5)\n"
        "first = min(parties, key=lambda p: p['claim'])['name']\n"
        "top = max(p['claim'] for p in parties)\n"
        "pair = (min(3, 1, 2), max(3, 1, 2), max([], default=0))\n"
        "names = sorted((p['name'] for p in parties), reverse=True)\n"
        "by_claim = sorted(parties, key=lambda p: p['claim'])\n"
        "line = '-' * 20 + '|'\n"
        "grid = [[0] * 10 for _ in range(10)]\n"
        "row = [0] * 999999\n"
        "acc = []\n"
        "for i in range(2000):\n"
        "    acc = acc + [i]\n"
        "more = []\n"
        "for i in range(20000):\n"
        "    more += [i]\n"
        "recs = [{'n': i, 's': 'x' * 10} for i in range(1000)]\n"
        "recs = recs + recs\n"
        "label = f'{names} {pair}'\n"
        "ordered = [3, 1, 2]\n"
        "ordered.sort()\n"
        "t = 'abc'.translate({97: 'A'})\n",
        ctx)
    assert ctx["total"] == 4200 and ctx["money"] == Decimal("3.30") and ctx["mean"] == 4.0
    assert ctx["first"] == "李娜" and ctx["top"] == 3000 and ctx["pair"] == (1, 3, 0)
    assert ctx["names"] == ["李娜", "张伟"] and ctx["by_claim"][0]["name"] == "李娜"
    assert len(ctx["acc"]) == 2000 and len(ctx["more"]) == 20000 and len(ctx["recs"]) == 2000
    assert ctx["ordered"] == [1, 2, 3] and ctx["t"] == "Abc" and len(ctx["row"]) == 999999


def test_builtin_argument_errors_are_kept():
    e = env()
    with pytest.raises(TypeError):
        e.evaluate("min()", {})
    with pytest.raises(TypeError):
        e.evaluate("max(1, 2, default=0)", {})
    with pytest.raises(ValueError):
        e.evaluate("max([])", {})
