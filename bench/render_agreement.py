"""Benchmark: warm render time of the mediation agreement (documents.render_document).

Usage: python bench/render_agreement.py [N]   (N warm renders per measure, default 20)

Prints and returns the median / min / max in milliseconds of N warm renders (after 3 warm-up renders) of:
  * ``agreement_zh``: the Chinese sample agreement as issued, all copies in one PDF (2 parties -> 3 copies);
  * ``agreement_zh_one_copy``: the same agreement, one copy (``copy=1``), the unit behind the < 150 ms target;
  * ``agreement_en_one_copy``: the English one copy.
Each render goes through the whole public path: completeness check, Jinja, WeasyPrint layout, PDF/A-3b
writing with subset fonts, and the SHA-256 of the PDF.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

TARGET_MS = 150.0


def _measure(fn: Any, n: int) -> dict[str, float]:
    for _ in range(3):
        fn(-1)
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1), "n": n}


def run(n: int = 20) -> dict[str, dict[str, float]]:
    t0 = time.perf_counter()
    from documents.render import render_document
    from documents.samples import sample_context
    import_ms = (time.perf_counter() - t0) * 1000

    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    zh = sample_context("agreement", "zh")
    en = sample_context("agreement", "en")

    def render(ctx: dict[str, Any], lang: str, copy: int | None) -> Any:
        def one(i: int) -> Any:
            # A different case number each time, so nothing can be served from a cache.
            return render_document("agreement", {**ctx, "case_number": f"BENCH-{i:04d}"}, lang,
                                   generated_at=when, copy=copy)
        return one

    t1 = time.perf_counter()
    first = render_document("agreement", zh, "zh", generated_at=when)
    first_ms = (time.perf_counter() - t1) * 1000
    results = {
        "agreement_zh": _measure(render(zh, "zh", None), n),
        "agreement_zh_one_copy": _measure(render(zh, "zh", 1), n),
        "agreement_en_one_copy": _measure(render(en, "en", 1), n),
    }
    print(f"import {import_ms:.0f} ms; first render {first_ms:.0f} ms "
          f"({first.copies} copies, {first.page_count} pages, {len(first.pdf) // 1024} KiB)")
    for name, r in results.items():
        flag = "ok" if r["median_ms"] < TARGET_MS else f"over the {TARGET_MS:.0f} ms target"
        print(f"{name:24s} median {r['median_ms']:6.1f} ms  min {r['min_ms']:6.1f}  max {r['max_ms']:6.1f}"
              f"  (n={n}) {flag}")
    return results


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
