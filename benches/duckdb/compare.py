#!/usr/bin/env python3
"""segmint against DuckDB, side by side (benchmark.md): the segment suite evaluated by
`segmint eval` and, as SQL (suite_sql.py), by DuckDB over the same Parquet files, both on
warm in-memory data, DuckDB limited to 2 threads; per segment both member counts (they
must agree), both p50 times and their ratio.

    python3 benches/duckdb/compare.py --data data/M [--repeat 11] [--segmint target/release/segmint]

It installs the pinned duckdb (requirements.txt) into benches/duckdb/.venv on first use.
Writes a Markdown table to stdout and JSON next to it (--out). Exits 1 if any count differs.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = HERE / ".venv"
TABLES = ["customers", "addresses", "products", "orders", "order_items", "order_addresses",
          "carts", "cart_items", "wishlist_items", "product_views"]


def ensure_duckdb():
    """Re-runs this script inside a virtual environment that has the pinned duckdb."""
    try:
        import duckdb  # noqa: F401
        return
    except ImportError:
        pass
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"installing duckdb into {VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements.txt")],
                       check=True)
    if os.environ.get("SEGMINT_COMPARE_IN_VENV"):
        sys.exit("duckdb is still missing inside the virtual environment")
    os.environ["SEGMINT_COMPARE_IN_VENV"] = "1"
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def percentile(sorted_values, q):
    return sorted_values[round((len(sorted_values) - 1) * q)]


def run_segmint(binary, data, as_of, repeat, segments):
    files = sorted(str(p) for p in segments.glob("*.json"))
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "segmint.json"
        subprocess.run([binary, "eval", "--data", str(data), "--as-of", as_of, "--segments", str(segments),
                        "--repeat", str(repeat), "--report", str(report), *files],
                       check=True, stdout=subprocess.DEVNULL)
        return json.loads(report.read_text())


def run_duckdb(data, as_of, repeat, threads):
    import duckdb
    sys.path.insert(0, str(HERE))
    from suite_sql import ACTIVE_CARTS, queries

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    started = time.perf_counter()
    for table in TABLES:
        path = data / f"{table}.parquet"
        if path.exists():
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{path}')")
    con.execute(ACTIVE_CARTS)
    load_seconds = time.perf_counter() - started
    results = {}
    for name, sql in queries(as_of).items():
        times = []
        count = None
        for _ in range(repeat):
            t = time.perf_counter()
            count = con.execute(sql).fetchone()[0]
            times.append((time.perf_counter() - t) * 1e3)
        rest = sorted(times[1:] or times)
        results[name] = {"count": count, "first_ms": times[0], "p50_ms": percentile(rest, 0.5),
                         "p99_ms": percentile(rest, 0.99)}
    return {"load_seconds": load_seconds, "threads": threads, "version": duckdb.__version__,
            "segments": results}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, help="a generated dataset directory (Parquet)")
    parser.add_argument("--as-of", help="evaluation instant (default: the dataset's reference time)")
    parser.add_argument("--repeat", type=int, default=11, help="runs per segment; p50/p99 exclude the first")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--segmint", default=str(ROOT / "target" / "release" / "segmint"))
    parser.add_argument("--segments", type=Path, default=ROOT / "benches" / "segments")
    parser.add_argument("--out", type=Path, help="also write the comparison as JSON here")
    args = parser.parse_args()
    if args.repeat < 2:
        parser.error("--repeat must be at least 2: the first run is not counted")
    ensure_duckdb()

    as_of = args.as_of
    if as_of is None:
        meta = json.loads((args.data / "dataset.json").read_text())
        as_of = meta["reference_time"]
    instant = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    # segmint reads an instant without a zone as UTC, so must this.
    instant = instant.replace(tzinfo=timezone.utc) if instant.tzinfo is None else instant.astimezone(timezone.utc)

    print(f"segmint: evaluating the suite {args.repeat} times per segment ...", file=sys.stderr)
    ours = run_segmint(args.segmint, args.data, as_of, args.repeat, args.segments)
    print(f"duckdb: loading {args.data} and running the suite {args.repeat} times per query ...",
          file=sys.stderr)
    theirs = run_duckdb(args.data, instant, args.repeat, args.threads)

    rows = []
    mismatches = []
    for segment in ours["segments"]:
        name = segment["id"]
        peer = theirs["segments"].get(name)
        if peer is None:
            sys.exit(f"suite_sql.py has no query for {name}")
        ratio = peer["p50_ms"] / segment["p50_ms"] if segment["p50_ms"] > 0 else float("inf")
        same = peer["count"] == segment["count"]
        if not same:
            mismatches.append(name)
        rows.append({"segment": name, "segmint_count": segment["count"], "duckdb_count": peer["count"],
                     "counts_equal": same, "segmint_p50_ms": segment["p50_ms"],
                     "segmint_p99_ms": segment["p99_ms"], "duckdb_p50_ms": peer["p50_ms"],
                     "duckdb_p99_ms": peer["p99_ms"], "ratio": ratio})
    geometric = statistics.geometric_mean([r["ratio"] for r in rows])
    slowest = min(r["ratio"] for r in rows)

    print(f"\n{args.data}, as of {as_of}; segmint: up to 2 threads per evaluation, p50/p99 of "
          f"{args.repeat - 1} runs after a first; DuckDB {theirs['version']}: {args.threads} threads, "
          f"tables in memory (loaded in {theirs['load_seconds']:.2f} s), p50/p99 of "
          f"{args.repeat - 1} runs after a first.\n")
    print("| segment | members (segmint) | members (DuckDB) | equal | segmint p50 ms | DuckDB p50 ms | DuckDB / segmint |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['segment']} | {r['segmint_count']} | {r['duckdb_count']} | "
              f"{'yes' if r['counts_equal'] else '**NO**'} | {r['segmint_p50_ms']:.3f} | "
              f"{r['duckdb_p50_ms']:.3f} | {r['ratio']:.1f}x |")
    total_ours = sum(r["segmint_p50_ms"] for r in rows)
    total_theirs = sum(r["duckdb_p50_ms"] for r in rows)
    print(f"| **whole suite** | | | | {total_ours:.3f} | {total_theirs:.3f} | {total_theirs / total_ours:.1f}x |")
    print(f"\ngeometric mean of the ratios: {geometric:.1f}x; smallest: {slowest:.1f}x "
          f"(targets: every segment >= 10x, geometric mean >= 20x)")
    if args.out:
        args.out.write_text(json.dumps({"data": str(args.data), "as_of": as_of, "repeat": args.repeat,
                                        "duckdb": {k: v for k, v in theirs.items() if k != "segments"},
                                        "segments": rows, "geometric_mean": geometric,
                                        "smallest_ratio": slowest}, indent=2) + "\n")
    if mismatches:
        print(f"\nmember counts differ for: {', '.join(mismatches)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
