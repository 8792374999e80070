"""The sandbox every piece of diagram code runs in.

Gateway conditions, script tasks, pre/post scripts, timer expressions, DMN cells and
multi-instance expressions are all evaluated by SpiffWorkflow through the script engine built
by :func:`make_script_engine`. Its environment compiles code with RestrictedPython (see
:mod:`workflows.sandbox_guards` for the policy and guards), caches compiled code by source text,
and enforces a per-evaluation time limit (and a coarse memory-growth limit) with a
``sys.settrace`` tracer, so it works in any thread.

Errors inside diagram code reach the caller as SpiffWorkflow ``WorkflowTaskException`` whose
``task`` (and so ``task.task_spec.bpmn_id``) names the element.

The time limit cannot be caught: ``try`` (any form) and ``with`` are refused at compile time, so
no handler, ``finally:`` or ``__exit__`` in diagram code runs once the tracer fired.

Residual risk (what this in-process sandbox does *not* guarantee): the tracer only runs between
bytecodes of diagram code, so one C-level call cannot be interrupted, and the memory check runs
at the same points. The guards refuse the cheap amplifiers before they run (``seq * n``, ``+``,
``+=``, ``extend``, ``translate``, ``%``/f-string widths, big integers, ``sum`` of non-numbers,
and ``sorted``/``min``/``max``/``list.sort``/f-string fields over inputs whose nested size, see
:func:`workflows.sandbox_guards.nested_size`, is above one million). They do not bound every C
call: within its time limit a loop can still ``append`` some 10**5 references to a list of a
million items, and a single ``==``, ``<``, ``in``, ``hash()``, ``str()``/``repr()``, ``set()`` or
``list.index`` over that structure then runs (and may allocate) for minutes. Running diagram code
in a separate process with a hard CPU/memory limit would be the complete fix.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import time
from collections.abc import Callable, Collection
from functools import lru_cache
from types import CodeType, FrameType
from typing import Any, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from workflows.sandbox_errors import SandboxError, SandboxTimeout, _Deadline
from workflows.sandbox_guards import SandboxPolicy, guard_globals
from workflows.sandbox_helpers import helper_functions

__all__ = [
    "SandboxEnvironment", "SandboxError", "SandboxScriptEngine", "SandboxTimeout",
    "compile_check", "compile_code", "make_script_engine",
]

SANDBOX_FILENAME = "<string>"  # SpiffWorkflow looks for this name to find the failing line
MAX_SOURCE_CHARS = 100_000
DEFAULT_TIME_LIMIT = 1.0
DEFAULT_MEMORY_LIMIT_MB = 256
_MEMORY_CHECK_INTERVAL = 0.005
_LINE_PREFIX = re.compile(r"^Line (\d+): ")

Mode = Literal["eval", "exec"]


@lru_cache(maxsize=4096)
def compile_code(source: str, mode: Mode) -> CodeType:
    """Compile diagram code with the sandbox policy, cached by ``(source, mode)``.

    Raises ``SandboxError`` (with the line number when known) for syntax errors and refused
    constructs. Nothing is executed.
    """
    if not isinstance(source, str):
        raise SandboxError("no expression given" if mode == "eval" else "no script given")
    if mode == "eval" and not source.strip():
        raise SandboxError("the expression is empty")
    if len(source) > MAX_SOURCE_CHARS:
        raise SandboxError(f"the code is {len(source):,} characters long; the limit is {MAX_SOURCE_CHARS:,}")
    if mode == "eval":
        source = source.strip()
    try:
        tree = ast.parse(source, SANDBOX_FILENAME, mode)
    except SyntaxError as err:
        raise SandboxError(f"syntax error: {err.msg}", err.lineno) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise SandboxError(f"cannot compile: {type(err).__name__}: {err}") from None
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(tree, SANDBOX_FILENAME, policy=SandboxPolicy)  # type: ignore[arg-type]
    except (RecursionError, MemoryError) as err:
        raise SandboxError(f"cannot compile: {type(err).__name__}") from None
    if result.errors:
        first = result.errors[0]
        match = _LINE_PREFIX.match(first)
        line = int(match.group(1)) if match else None
        message = first[match.end():] if match else first
        if len(result.errors) > 1:
            message += f" (and {len(result.errors) - 1} more problem(s))"
        raise SandboxError(message, line)
    assert result.code is not None
    return result.code


def compile_check(source: str, mode: Mode) -> None:
    """Check that ``source`` compiles in the sandbox (``mode`` 'eval' or 'exec').

    Raises ``SandboxError(message, line)``; runs nothing.
    """
    compile_code(source, mode)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _make_tracer(time_limit: float, memory_limit: int | None) -> Callable[..., Any]:
    """A ``sys.settrace`` function that stops sandboxed frames past the deadline."""
    deadline = time.monotonic() + time_limit
    base_rss = _rss_bytes() if memory_limit else None
    next_memory_check = [time.monotonic() + _MEMORY_CHECK_INTERVAL]

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        now = time.monotonic()
        if now > deadline:
            raise _Deadline(SandboxTimeout(
                f"script exceeded the {float(time_limit)} s time limit", frame.f_lineno))
        if base_rss is not None and now > next_memory_check[0]:
            next_memory_check[0] = now + _MEMORY_CHECK_INTERVAL
            rss = _rss_bytes()
            if rss is not None and memory_limit is not None and rss - base_rss > memory_limit:
                raise _Deadline(SandboxError(
                    f"script used more than {memory_limit // 2**20} MiB of memory", frame.f_lineno))
        return local

    def global_trace(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != SANDBOX_FILENAME:
            return None
        frame.f_trace_opcodes = True  # a one-line loop emits no line events
        return local(frame, event, arg)

    return global_trace


class SandboxEnvironment(TaskDataEnvironment):
    """A ``TaskDataEnvironment`` that runs RestrictedPython-compiled code under limits.

    Keeps SpiffWorkflow's behaviour of stripping callables/globals from task data after a
    script and refusing task data that shadows a helper name.
    """

    def __init__(self, helpers: dict[str, Callable[..., Any]] | None = None,
                 time_limit: float = DEFAULT_TIME_LIMIT,
                 memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB) -> None:
        self._guards = guard_globals()
        super().__init__({**(helpers or {}), **self._guards})
        self.time_limit = float(time_limit)
        self.memory_limit = memory_limit_mb * 2**20 if memory_limit_mb else None

    def evaluate(self, expression: str, context: dict[str, Any],
                 external_context: dict[str, Any] | None = None) -> Any:
        """Evaluate an expression against task data; guards cannot be shadowed by data."""
        code = compile_code(expression, "eval")
        my_globals = dict(self.globals)
        self._prepare_context(context)
        my_globals.update(external_context or {})
        my_globals.update(context)
        my_globals.update(self._guards)
        return self._run(eval, code, my_globals)

    def execute(self, script: str, context: dict[str, Any],
                external_context: dict[str, Any] | None = None) -> bool:
        """Execute a script with task data as its namespace (SpiffWorkflow semantics)."""
        code = compile_code(script, "exec")
        return bool(self._run(super().execute, code, context, external_context))

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks have no implementation in Fengqiao."""
        raise SandboxError("service tasks are not supported")

    def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        previous = sys.gettrace()
        sys.settrace(_make_tracer(self.time_limit, self.memory_limit))
        try:
            return func(*args)
        except _Deadline as stop:
            raise stop.error from None
        except RecursionError:
            raise SandboxError("recursion too deep") from None
        except MemoryError:
            raise SandboxError("out of memory") from None
        finally:
            sys.settrace(previous)


def _short(text: Any, limit: int = 200) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


class SandboxScriptEngine(PythonScriptEngine):
    """``PythonScriptEngine`` whose error messages keep the sandbox's explanation."""

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        """Evaluate ``expression`` for ``task``; failures raise ``WorkflowTaskException``."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as se:
            se.add_note(f"Error evaluating expression '{_short(expression)}'")
            raise
        except Exception as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{_short(expression)}': {type(err).__name__}: {err}",
                task=task, exception=err, line_number=getattr(err, "line", None)) from err

    def create_task_exec_exception(self, task: Any, script: str, err: Exception) -> Exception:
        """Like the base class, but uses the line a ``SandboxError`` carries."""
        wte = super().create_task_exec_exception(task, script, err)
        if isinstance(err, SandboxError) and err.line and not getattr(wte, "line_number", None):
            wte.line_number = err.line
            lines = (script or "").splitlines()
            wte.error_line = lines[err.line - 1] if 0 < err.line <= len(lines) else ""
        return wte

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        """Service tasks have no implementation in Fengqiao."""
        raise WorkflowTaskException("Service tasks are not supported", task=task)


def make_script_engine(holidays: Collection[str] = (), workdays: Collection[str] = (),
                       time_limit: float = DEFAULT_TIME_LIMIT,
                       memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB) -> PythonScriptEngine:
    """Build the sandboxed script engine to attach to every ``BpmnWorkflow``.

    ``holidays``/``workdays`` are ISO dates used by ``add_working_days`` (days off and "调休"
    make-up working days); ``time_limit`` is seconds per evaluation.
    """
    env = SandboxEnvironment(helper_functions(holidays, workdays), time_limit, memory_limit_mb)
    return SandboxScriptEngine(environment=env)
