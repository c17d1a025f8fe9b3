"""Load test of ``provmark serve`` on loopback: POST /verify of a 1024 px JPEG from concurrent clients.

Starts the server as its own process (real uvicorn, fresh keys in a temp folder, ``--workers``
worker threads), signs one 1024 px photo through POST /sign, then for each kind of upload
(``signed``: embedded manifest; ``stripped``: metadata removed, manifest found through the
watermark and the content checked; ``unmarked``: a plain photo) sends ``--requests`` requests
from ``--clients`` concurrent clients (one keep-alive connection each). Reports errors, p50,
p95 and max latency and throughput, with the machine's load average, and the server's CPU time
per request with the latency it implies on an otherwise idle machine (Little's law: clients x
CPU per request / cores), as a table and as benchmarks/results/service_load.json.

    .venv/bin/python benchmarks/service_load.py [--photos DIR] [--requests 200] [--clients 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZE = 1024


def jpeg_1024(path: Path) -> bytes:
    with Image.open(path) as im:
        image = ImageOps.exif_transpose(im).convert("RGB")
    scale = SIZE / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def start_server(keys: Path, port: int, workers: int, token: str, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-c", "from provmark.cli.main import main; main()", "serve", "--keys", str(keys),
               "--port", str(port), "--workers", str(workers)]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PROVMARK_SIGN_TOKEN": token})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            if call(conn, "GET", "/healthz", b"", {})[0] == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"server did not start: {log.read_text()}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(port: int, body: bytes, requests: int, clients: int, pid: int) -> dict[str, float]:
    """``requests`` POST /verify from ``clients`` threads: latency percentiles in ms, errors, rate,
    and the server's CPU time per request (what an idle machine's throughput follows from)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    remaining = [requests]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if remaining[0] == 0:
                    break
                remaining[0] -= 1
            start = time.perf_counter()
            try:
                status, reply = call(conn, "POST", "/verify", body, {"Content-Type": "image/jpeg"})
                ok = status == 200 and b'"ai_generated"' in reply
                problem = None if ok else f"HTTP {status}: {reply[:120]!r}"
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elapsed = 1000 * (time.perf_counter() - start)
            with lock:
                (errors.append(problem) if problem else latencies.append(elapsed))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    cpu_before = cpu_seconds(pid)
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    cpu_ms = 1000 * (cpu_seconds(pid) - cpu_before) / requests
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [float("nan")] * 99
    return {
        "requests": requests, "clients": clients, "errors": len(errors), "error_samples": errors[:3],
        "p50_ms": cuts[49], "p95_ms": cuts[94], "max_ms": max(latencies, default=float("nan")),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"), "per_s": len(latencies) / wall,
        "server_cpu_ms_per_request": cpu_ms,
        # Little's law on an idle machine: clients / (cores / CPU per request)
        "idle_estimate_ms": clients * cpu_ms / (os.cpu_count() or 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        keys = Path(tmp) / "keys"
        server = start_server(keys, port, args.workers, token, log)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status, signed = call(conn, "POST", "/sign?model=Load%201.0", jpeg_1024(photos[0]), {"Authorization": f"Bearer {token}"})
            if status != 200:
                raise SystemExit(f"/sign failed: {status} {signed[:200]!r}")
            stripped = io.BytesIO()
            Image.open(io.BytesIO(signed)).convert("RGB").save(stripped, format="JPEG", quality=90)
            bodies = {"signed": signed, "stripped": stripped.getvalue(), "unmarked": jpeg_1024(photos[1])}
            for body in bodies.values():  # warm the path once per kind
                call(conn, "POST", "/verify", body, {})
            load_before = os.getloadavg()
            rows = {kind: load(port, body, args.requests, args.clients, server.pid) for kind, body in bodies.items()}
            load_after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"POST /verify, 1024 px JPEG, {args.requests} requests from {args.clients} clients, {args.workers} workers, "
          f"{os.cpu_count()} cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")  # fmt: skip
    print(f"{'upload':<10}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'req/s':>8}{'CPU ms/req':>12}{'idle est. ms':>14}")
    for kind, r in rows.items():
        print(f"{kind:<10}{r['errors']:>7}{r['p50_ms']:>9.0f}{r['p95_ms']:>9.0f}{r['max_ms']:>9.0f}{r['per_s']:>8.1f}"
              f"{r['server_cpu_ms_per_request']:>12.0f}{r['idle_estimate_ms']:>14.0f}")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load_before": load_before, "load_after": load_after},
        "workers": args.workers, "rows": rows,
    }  # fmt: skip
    (RESULTS / "service_load.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS / 'service_load.json'}")


if __name__ == "__main__":
    main()
