"""Exceptions raised by the diagram-code sandbox.

Kept in their own module so the guards, the compiler and the script engine can share them
without import cycles.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Diagram code was refused or failed a sandbox limit.

    ``args[0]`` is always the human-readable message (SpiffWorkflow builds its error text from
    it); ``line`` is the 1-based line in the script, or ``None`` when unknown.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message, line)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        if self.line:
            return f"line {self.line}: {self.message}"
        return self.message


class SandboxTimeout(SandboxError):
    """Diagram code ran longer than the configured time limit."""


class _Deadline(BaseException):
    """Raised by the tracer inside sandboxed code.

    Diagram code cannot catch it: ``try`` and ``with`` are refused at compile time. It is a
    ``BaseException`` so that ``except Exception`` in helper code it passes through does not
    swallow it either. It is converted into
    ``SandboxTimeout`` (or ``SandboxError`` for memory) as soon as it leaves the sandbox.
    """

    def __init__(self, error: SandboxError) -> None:
        super().__init__(error.message)
        self.error = error
