"""Load test of ``provmark serve`` on loopback: POST /verify of a 1024 px JPEG from concurrent clients.

Starts the server as its own process (real uvicorn, fresh keys in a temp folder, ``--workers``
worker processes), signs ``--distinct`` 1024 px photos through POST /sign, then for each kind
of upload (``signed``: embedded manifest; ``stripped``: metadata removed, manifest found
through the watermark and the content checked; ``unmarked``: a plain photo) sends
``--requests`` requests from ``--clients`` concurrent clients (one keep-alive connection
each), twice: every request the same file (``same``), and the ``--distinct`` files in turn
(``distinct``: per-worker caches help less). Reports errors, p50, p95 and max latency and
throughput, the machine's load (``uptime``) before and after, and the server's CPU time per
request (all its processes) with the latency it implies on an otherwise idle machine (Little's
law: clients x CPU per request / cores). Since the machine is shared, it also times the
verification in this process (``provmark.api.Engine.report``, one torch thread, median of
``--repeat`` calls per file): the per-request cost with no HTTP, no queueing and less
sensitivity to load. Table and benchmarks/results/service_load.json.

    nice .venv/bin/python benchmarks/service_load.py [--photos DIR] [--requests 200] [--clients 16] [--workers 2] [--distinct 8]
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
    """User + system CPU time so far of a process and its children (the worker processes), Linux /proc."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total + sum(cpu_seconds(int(child)) for child in children)


def load(port: int, bodies: list[bytes], requests: int, clients: int, pid: int) -> dict[str, float]:
    """``requests`` POST /verify from ``clients`` threads, the bodies in turn: latency percentiles
    in ms, errors, rate, and the server's CPU time per request (what an idle machine's throughput follows from)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    sent = [0]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if sent[0] == requests:
                    break
                body = bodies[sent[0] % len(bodies)]
                sent[0] += 1
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
        "requests": requests, "clients": clients, "files": len(bodies), "errors": len(errors), "error_samples": errors[:3],
        "p50_ms": cuts[49], "p95_ms": cuts[94], "max_ms": max(latencies, default=float("nan")),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"), "per_s": len(latencies) / wall,
        "server_cpu_ms_per_request": cpu_ms,
        # Little's law on an idle machine: clients / (cores / CPU per request)
        "idle_estimate_ms": clients * cpu_ms / (os.cpu_count() or 1),
    }  # fmt: skip


def in_process(keys: Path, bodies: dict[str, list[bytes]], repeat: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU ms of ``Engine.report`` per file kind, in this process on one torch thread
    (CPU time is the least sensitive to other jobs on a shared machine)."""
    import torch

    from provmark.api import Engine

    torch.set_num_threads(1)
    engine = Engine(keys)
    engine.warm_up()
    out = {}
    for kind, files in bodies.items():
        wall, cpu = [], []
        for body in files:
            engine.report(body, "upload.jpg")  # the first call of a file fills the per-process caches, as in a worker
            for _ in range(repeat):
                start, start_cpu = time.perf_counter(), time.process_time()
                engine.report(body, "upload.jpg")
                cpu.append(1000 * (time.process_time() - start_cpu))
                wall.append(1000 * (time.perf_counter() - start))
        out[kind] = {"calls": len(wall), "median_ms": statistics.median(wall), "median_cpu_ms": statistics.median(cpu)}
    return out


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def stripped_copy(signed: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(signed)).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "photos")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--distinct", type=int, default=8, help="files per kind in the 'distinct' runs")
    parser.add_argument("--repeat", type=int, default=5, help="in-process calls per file")
    args = parser.parse_args()
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_urlsafe(16)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        keys = Path(tmp) / "keys"
        server = start_server(keys, port, args.workers, token, log)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            signed = []
            for photo in photos[: args.distinct]:
                status, body = call(conn, "POST", "/sign?model=Load%201.0", jpeg_1024(photo), {"Authorization": f"Bearer {token}"})
                if status != 200:
                    raise SystemExit(f"/sign failed: {status} {body[:200]!r}")
                signed.append(body)
            unmarked = [jpeg_1024(p) for p in photos[args.distinct : 2 * args.distinct]]
            bodies = {"signed": signed, "stripped": [stripped_copy(b) for b in signed], "unmarked": unmarked}
            for files in bodies.values():  # warm the path once per kind
                call(conn, "POST", "/verify", files[0], {})
            load_before = uptime()
            for kind, files in bodies.items():
                rows[f"{kind} same"] = load(port, files[:1], args.requests, args.clients, server.pid)
                rows[f"{kind} distinct"] = load(port, files, args.requests, args.clients, server.pid)
            load_after = uptime()
        finally:
            server.terminate()
            server.wait(timeout=30)
        local = in_process(keys, bodies, args.repeat)
    print(f"POST /verify, 1024 px JPEG, {args.requests} requests from {args.clients} clients, {args.workers} worker processes, "
          f"{os.cpu_count()} cores\nbefore: {load_before}\nafter:  {load_after}")  # fmt: skip
    print(f"{'upload':<19}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'req/s':>8}{'CPU ms/req':>12}{'idle est. ms':>14}")
    for kind, r in rows.items():
        print(f"{kind:<19}{r['errors']:>7}{r['p50_ms']:>9.0f}{r['p95_ms']:>9.0f}{r['max_ms']:>9.0f}{r['per_s']:>8.1f}"
              f"{r['server_cpu_ms_per_request']:>12.0f}{r['idle_estimate_ms']:>14.0f}")  # fmt: skip
    print("in process (Engine.report, one torch thread), median wall / CPU ms: "
          + ", ".join(f"{k} {v['median_ms']:.1f} / {v['median_cpu_ms']:.1f}" for k, v in local.items()))  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "uptime_before": load_before, "uptime_after": load_after},
        "workers": args.workers, "worker_kind": "process", "rows": rows, "in_process_ms": local,
    }  # fmt: skip
    (RESULTS / "service_load.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS / 'service_load.json'}")


if __name__ == "__main__":
    main()
