"""Every BPMN MIWG conformance file gets a clear verdict (ok / not executable / error).

The files are real, valid BPMN from other modelling tools; most are descriptive models, so most
verdicts are "not executable". Each file is validated on its own (the folder holds several
versions of the same models, whose process ids collide).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from workflows.validation import validate_bundle

MIWG = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "miwg"
FILES = sorted(MIWG.glob("*/*.bpmn")) if MIWG.is_dir() else []
LINE = re.compile(r"^(ok|not executable: .+|error: [^:]+(:\d+)?: .+)$", re.DOTALL)

pytestmark = pytest.mark.skipif(not FILES, reason=f"MIWG conformance files not found at {MIWG}")


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_each_file_gets_a_clear_verdict(path: Path):
    started = time.monotonic()
    (verdict,) = validate_bundle({path.name: path.read_bytes()})
    assert time.monotonic() - started < 5
    line = verdict.line()
    assert LINE.match(line), line
    assert "internal validator error" not in line
    assert "Traceback" not in line
    if verdict.status == "error":
        assert verdict.problems[0].line, f"errors must carry a line: {line}"


def test_verdict_counts():
    counts = Counter(validate_bundle({p.name: p.read_bytes()})[0].status for p in FILES)
    assert len(FILES) >= 60
    # Measured on the suite at commit bc9f858: 3 ok, 60 not executable, 1 error
    # (bpmn-io/C.3.0-roundtrip: the condition "Service Level == 'Premium'" lost its XPath
    # language declaration in the round trip and is not valid Python).
    assert counts["error"] <= 2
    assert counts["ok"] >= 3
    assert counts["not_executable"] >= len(FILES) - 5
