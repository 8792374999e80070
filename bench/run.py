"""``make bench``: the API task completion against the raw engine step, history growth and
throughput with 1 and 4 worker processes on SQLite and PostgreSQL.

Writes ``bench/results.json`` and prints a table. Servers run as ``fengqiao serve`` runs them
(Granian, worker processes × threads) on loopback, the access log off; clients are separate
processes. Nothing here asserts timings: it measures.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

from bench.client import Api, free_port, wait_ready
from bench.engine_step import measure as engine_measure
from bench.engine_step import summary
from bench.steps import DIAGRAM

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
PG_SERVER = os.environ.get("FENGQIAO_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def prepare_database(url: str) -> None:
    """A fresh schema with the bench diagram deployed and a mediator (password ``bench``)."""
    from cases.db import make_engine, make_session_factory
    from cases.migrate import upgrade
    from cases.services import create_user
    from web.demo import build_org_tree
    from workflows.deploy import deploy, read_forms

    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        units = build_org_tree(session)
        create_user(session, username="bench", password="bench",
                    memberships=[("mediator", units["village"]), ("supervisor", units["town"])])
        deploy(session, {DIAGRAM: (ROOT / "bench" / DIAGRAM).read_bytes()}, read_forms(ROOT / "bench" / "forms"))
        session.commit()
    engine.dispose()


def fresh_postgres() -> str | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS fengqiao_bench WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE fengqiao_bench"))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 -- PostgreSQL is optional for the bench
        print(f"PostgreSQL unavailable ({exc.__class__.__name__}); skipping its rows", file=sys.stderr)
        return None
    return make_url(PG_SERVER).set(database="fengqiao_bench").render_as_string(hide_password=False)


SERVER_THREADS = 4
"""Threads per worker process, the ``fengqiao serve`` default."""


class Server:
    """``fengqiao serve`` (Granian) on a free loopback port, its timer sweep running as in production."""

    def __init__(self, url: str, workers: int, tmp: Path, threads: int = SERVER_THREADS) -> None:
        self.port = free_port()
        env = {**os.environ, "FENGQIAO_DATABASE_URL": url, "FENGQIAO_SECRET_KEY": "bench-secret",
               "FENGQIAO_LOGIN_MAX_FAILURES": "1000", "FENGQIAO_ACCESS_LOG": "0",
               "FENGQIAO_DOCUMENTS_DIR": str(tmp / "documents")}
        log = open(tmp / f"serve-{self.port}.log", "w")
        self.log = log
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("fengqiao")), "serve", "--port", str(self.port),
             "--workers", str(workers), "--threads", str(threads)],
            cwd=ROOT, env=env, stdout=log, stderr=log)
        wait_ready(self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


def paired_latency(port: int, rounds: int = 40) -> tuple[list[float], list[float]]:
    """(raw engine step ms, API completion ms): round after round, one whole case (nine user tasks)
    through the raw engine in this process, then one through the API with one client. Interleaved,
    so a slower or faster spell of this shared machine weighs on both sides of the ratio alike."""
    api = Api(port)
    engine: list[float] = []
    timings: list[float] = []
    for _ in range(rounds):
        engine += engine_measure(cases=1)
        step: tuple[int, str] | None = api.new_case()
        while step is not None:
            t0 = time.perf_counter()
            step = api.complete(*step)
            timings.append((time.perf_counter() - t0) * 1000)
    return engine, timings


class _Case:
    """One case driven through the API with ``more_visits`` (return visit after return visit)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.step: tuple[int, str] | None = api.new_case()
        self.completed = 0

    def advance(self) -> float:
        assert self.step is not None
        t0 = time.perf_counter()
        self.step = self.api.complete(*self.step, more_visits=True)
        self.completed += 1
        return (time.perf_counter() - t0) * 1000


def paired_growth(port: int, short: int = 10, long: int = 200, rounds: int = 4,
                  window: int = 10) -> tuple[list[float], list[float]]:
    """(ms of steps taken after about ``short`` completed steps, ms after about ``long``): each round
    brings one case to ``long - window // 2`` completed steps and two to ``short - window // 4``,
    then times ``window`` steps of the long case alternating with ``window`` steps of the short
    ones. All are return visits, so both sides time the same kind of step, interleaved."""
    api = Api(port)
    at_short: list[float] = []
    at_long: list[float] = []
    for _ in range(rounds):
        big = _Case(api)
        while big.completed < long - window // 2:
            big.advance()
        smalls = [_Case(api), _Case(api)]
        for small in smalls:
            while small.completed < short - window // 4:
                small.advance()
        for i in range(window):
            at_long.append(big.advance())
            at_short.append(smalls[i % 2].advance())
    return at_short, at_long


def _load_worker(args: tuple[int, float, int]) -> int:
    port, seconds, _seed = args
    api = Api(port)
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        step: tuple[int, str] | None = api.new_case()
        while step is not None and time.perf_counter() < deadline:
            step = api.complete(*step)
            done += 1
    return done


def _cpu_by_process(server: Server, pool_pids: list[int]) -> dict[tuple[str, int], tuple[float, float]]:
    """(group, pid) -> (CPU seconds so far, start time) of the processes a throughput run spends CPU
    in: the server's, the database server's (every process named ``postgres`` on this machine: its
    backends come and go with the server's connections) and the client processes."""
    import psutil

    found: dict[tuple[str, int], tuple[float, float]] = {}
    root = psutil.Process(server.proc.pid)
    groups = [("server", [root, *root.children(recursive=True)]),
              ("postgresql", [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]),
              ("clients", [psutil.Process(pid) for pid in pool_pids])]
    for name, procs in groups:
        for proc in procs:
            try:
                times = proc.cpu_times()
                found[(name, proc.pid)] = (times.user + times.system, proc.create_time())
            except psutil.Error:  # ended between listing and reading
                continue
    return found


def _cpu_spent(before: dict[tuple[str, int], tuple[float, float]],
               after: dict[tuple[str, int], tuple[float, float]]) -> dict[str, float]:
    """CPU seconds per group between two readings; a process started in between counts whole."""
    spent: dict[str, float] = {"server": 0.0, "postgresql": 0.0, "clients": 0.0}
    for key, (cpu, started) in after.items():
        earlier = before.get(key)
        spent[key[0]] += cpu - (earlier[0] if earlier is not None and earlier[1] == started else 0.0)
    return spent


def throughput(server: Server, clients: int = 4, seconds: float = 6.0,
               trials: int = 3) -> tuple[float, list[float], dict[str, float]]:
    """Completions per second with ``clients`` client processes: the median of ``trials`` runs
    (how the workers happen to share the clients' connections varies from run to run), each run
    listed, and the CPU milliseconds per completion the server, PostgreSQL and the clients spent
    over all runs (a machine with two cores has 2,000 ms of CPU per second to give)."""
    port = server.port
    found = []
    with Pool(clients) as pool:
        pids = sorted(set(pool.map(_pid, range(clients * 4))))
        before = _cpu_by_process(server, pids)
        done = 0
        for _ in range(trials):
            counts = pool.map(_load_worker, [(port, seconds, i) for i in range(clients)])
            found.append(round(sum(counts) / seconds, 1))
            done += sum(counts)
        spent = _cpu_spent(before, _cpu_by_process(server, pids))
    cpu = {f"{name}_ms": round(value * 1000 / max(done, 1), 2) for name, value in spent.items()}
    return sorted(found)[len(found) // 2], found, cpu


def _pid(_: int) -> int:
    time.sleep(0.05)  # so that every pool process takes a share
    return os.getpid()


def main() -> None:
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="fengqiao-bench-"))
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                               "server": {"server": "granian (fengqiao serve)", "threads_per_worker": SERVER_THREADS}}
    results["agreement_render_ms"] = agreement_render()

    sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
    prepare_database(sqlite_url)
    server = Server(sqlite_url, 1, tmp)
    try:
        engine_timings, api_timings = paired_latency(server.port)
        at_short, at_long = paired_growth(server.port)
    finally:
        server.stop()
    engine, api = summary(engine_timings), summary(api_timings)
    results["engine_step_ms"] = engine
    results["api_completion_ms"] = api
    results["api_vs_engine_p50_ratio"] = round(api["p50"] / engine["p50"], 2)
    results["api_vs_engine_p95_ratio"] = round(api["p95"] / engine["p95"], 2)
    step10, step200 = summary(at_short), summary(at_long)
    results["step10_ms"], results["step200_ms"] = step10, step200
    results["step200_vs_step10_ratio"] = round(step200["p50"] / step10["p50"], 2)

    results["completions_per_s"] = {}
    results["completions_per_s_trials"] = {}
    results["cpu_ms_per_completion"] = {}
    databases = [("sqlite", sqlite_url)]
    pg = fresh_postgres()
    if pg:
        prepare_database(pg)
        databases.append(("postgresql", pg))
    for name, url in databases:
        for workers in (1, 4):
            server = Server(url, workers, tmp)
            try:
                key = f"{name}_{workers}_workers"
                (results["completions_per_s"][key], results["completions_per_s_trials"][key],
                 results["cpu_ms_per_completion"][key]) = throughput(server)
            finally:
                server.stop()

    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nresults written to {RESULTS.relative_to(ROOT)}")


def agreement_render(n: int = 20) -> dict[str, Any]:
    """Median of ``n`` warm renders of the mediation agreement (bench/render_agreement.py); the headline is
    one copy in Chinese, the unit behind the 150 ms target."""
    from bench.render_agreement import TARGET_MS
    from bench.render_agreement import run as render_run

    found = render_run(n)
    one = found["agreement_zh_one_copy"]
    return {"median": one["median_ms"], "min": one["min_ms"], "max": one["max_ms"], "n": one["n"],
            "target": TARGET_MS, "all_copies_zh_median": found["agreement_zh"]["median_ms"],
            "one_copy_en_median": found["agreement_en_one_copy"]["median_ms"]}


def print_table(r: dict[str, Any]) -> None:
    e, a = r["engine_step_ms"], r["api_completion_ms"]
    rows = [
        ("raw engine step (deserialize, complete, serialize)", f"{e['p50']:.2f}", f"{e['p95']:.2f}"),
        ("API task completion (HTTP, auth, validation, engine, audit, commit)", f"{a['p50']:.2f}",
         f"{a['p95']:.2f}"),
        ("API step after 10 completed steps", f"{r['step10_ms']['p50']:.2f}", f"{r['step10_ms']['p95']:.2f}"),
        ("API step after 200 completed steps", f"{r['step200_ms']['p50']:.2f}",
         f"{r['step200_ms']['p95']:.2f}"),
    ]
    print(f"{'measure':72} {'p50 ms':>9} {'p95 ms':>9}")
    for name, p50, p95 in rows:
        print(f"{name:72} {p50:>9} {p95:>9}")
    d = r.get("agreement_render_ms")
    if d:
        print(f"{'agreement render (zh, one copy; median of ' + str(d['n']) + ' warm renders)':72} {d['median']:>9.1f}"
              f" {'':>9}  (target < {d['target']:.0f}; all copies {d['all_copies_zh_median']:.1f}, "
              f"en {d['one_copy_en_median']:.1f})")
    print(f"\napi_vs_engine_p50_ratio  {r['api_vs_engine_p50_ratio']}   (target <= 2.5)")
    print(f"step200_vs_step10_ratio  {r['step200_vs_step10_ratio']}   (target <= 1.2)")
    for key, value in r["completions_per_s"].items():
        trials = r.get("completions_per_s_trials", {}).get(key, [])
        cpu = r.get("cpu_ms_per_completion", {}).get(key, {})
        spent = ", ".join(f"{k[:-3]} {v}" for k, v in cpu.items())
        print(f"completions/s {key:28} {value}   (median of {trials}; CPU ms per completion: {spent})")


if __name__ == "__main__":
    main()
