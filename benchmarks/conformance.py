"""C2PA conformance: ``provmark verify`` beside ``c2pa.Reader`` on third-party files.

For every file of the fixture folder (default ``../shared/c2pa-fixtures/images``, with the
trust bundle of ``../trust``), in one run:

- the reference: c2pa.Reader (c2pa-python) with the same trust anchors and no network gives a
  state (Trusted / Valid / Invalid), ``none`` (no manifest) or ``error`` (it refused the data),
  its failure codes (active manifest and ingredients), and whether the file is tampered: an
  Invalid state with a ``*.mismatch`` code of the active manifest other than a time-stamp's;
- provmark: the ``provmark verify --json`` command on all files in one batch.

Agreement per file: state (``error`` agrees with provmark's ``Unreadable`` or a one-line
error), tampering (provmark's integrity is ``tampered`` exactly when the reference says so),
codes (every code the Reader lists is in provmark's report), and no crash (no traceback).
The same comparison then runs on provmark's own re-signs of every file (``sign --no-watermark``,
the old manifest as parent ingredient): a re-sign must not rate itself tampered.

Prints a table and writes benchmarks/results/conformance.json.

    .venv/bin/python -m benchmarks.conformance [--fixtures DIR] [--trust PEM]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import c2pa

C2PA_VERSION = metadata.version("c2pa-python")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FIXTURES = ROOT.parent / "shared" / "c2pa-fixtures"
#: Media types c2pa-python reads, by file extension (the Reader needs one; provmark sniffs content).
MIME_BY_EXT = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".tif": "image/tiff", ".tiff": "image/tiff", ".gif": "image/gif", ".avif": "image/avif",
    ".heic": "image/heic", ".heif": "image/heif", ".jxl": "image/jxl", ".svg": "image/svg+xml",
}  # fmt: skip


def reference(path: Path, trust: str) -> dict:
    """What c2pa.Reader says about ``path``."""
    context = c2pa.Context.from_dict(
        {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}, "trust": {"user_anchors": trust}}
    )
    try:
        reader = c2pa.Reader.try_create(MIME_BY_EXT.get(path.suffix.lower()), io.BytesIO(path.read_bytes()), None, context=context)
        if reader is None:
            return {"state": "none", "codes": [], "tampered": False}
        with reader:
            state = reader.get_validation_state() or "Invalid"
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        return {"state": "error", "codes": [], "tampered": False, "error": " ".join(str(exc).split())}
    finally:
        context.close()
    active = [f.get("code", "?") for f in results.get("activeManifest", {}).get("failure", [])]
    ingredients = [
        f.get("code", "?")
        for delta in results.get("ingredientDeltas") or []
        for f in (delta.get("validationDeltas") or {}).get("failure", [])
    ]
    tampered = state == "Invalid" and any(
        code.endswith(".mismatch") and not code.lower().startswith(("timestamp", "ingredient")) for code in active
    )
    return {"state": state, "codes": sorted(set(active + ingredients)), "tampered": tampered}


def provmark_reports(paths: list[Path], trust: Path) -> tuple[dict[str, dict], dict[str, str], str, int]:
    """Run ``provmark verify --json`` on all files: reports and error lines by path, stderr, exit code."""
    cli = "from provmark.cli.main import main; main()"
    command = [sys.executable, "-c", cli, "verify", "--json", "--trust", str(trust), *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    reports = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            report = json.loads(line)
            reports[report["path"]] = report
    errors = {}
    for line in done.stderr.splitlines():
        if line.startswith("provmark: error: "):
            text = line.removeprefix("provmark: error: ")
            errors[text.split(": ", 1)[0]] = text
    return reports, errors, done.stderr, done.returncode


def compare(path: Path, ref: dict, report: dict | None, error: str | None, crashed: bool) -> dict:
    """One row of the table: both verdicts and the four agreements."""
    c2pa_part = (report or {}).get("c2pa") or {}
    if report is None:
        state = "error"
    elif not c2pa_part.get("present"):
        state = "none"
    else:
        state = c2pa_part["state"]
    ours = "error" if state in ("error", "Unreadable") else state
    integrity = (report or {}).get("integrity", "-")
    codes = set(c2pa_part.get("failures") or []) | {c["code"] for c in c2pa_part.get("checks") or []}
    return {
        "file": path.name,
        "reader_state": ref["state"],
        "reader_codes": ref["codes"],
        "reader_tampered": ref["tampered"],
        "provmark_state": state,
        "provmark_problem": c2pa_part.get("problem") or (error if report is None else None),
        "provmark_integrity": integrity,
        "provmark_codes": sorted(codes),
        "agree_state": ours == ref["state"],
        "agree_tampering": (integrity == "tampered") == ref["tampered"],
        "agree_codes": set(ref["codes"]) <= codes,
        "no_crash": not crashed,
    }


CHECKS = ("agree_state", "agree_tampering", "agree_codes", "no_crash")


def run_round(paths: list[Path], trust: Path) -> tuple[list[dict], int]:
    """Reader and provmark on ``paths``: one row per file, and provmark's exit code."""
    text = trust.read_text()
    refs = {p: reference(p, text) for p in paths}
    reports, errors, stderr, code = provmark_reports(paths, trust)
    crashed = "Traceback" in stderr or code not in (0, 1, 3)
    return [compare(p, refs[p], reports.get(str(p)), errors.get(str(p)), crashed) for p in paths], code


def resign(paths: list[Path], work: Path) -> tuple[list[Path], Path, int, str]:
    """``provmark sign --no-watermark`` on every file (its manifest becomes the parent): the
    outputs, a trust file with the fixtures' anchors and the new signer's CA, exit code, stderr."""
    cli = "from provmark.cli.main import main; main()"
    keys = work / "keys"
    subprocess.run([sys.executable, "-c", cli, "keys", "init", "--dir", str(keys)], check=True, capture_output=True, cwd=ROOT)
    out = work / "signed"
    done = subprocess.run([sys.executable, "-c", cli, "sign", "--no-watermark", "--keys", str(keys), "--out", str(out),
                           *map(str, paths)], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    return sorted(out.iterdir()) if out.is_dir() else [], keys / "ca.pem", done.returncode, done.stderr


def print_table(rows: list[dict], only_disagreements: bool = False) -> dict[str, int]:
    header = ["file", "Reader", "provmark", "integrity", "state", "tamper", "codes", "crash-free"]
    table = [
        [r["file"], r["reader_state"], r["provmark_state"], r["provmark_integrity"]] + ["yes" if r[k] else "NO" for k in CHECKS]
        for r in rows
        if not only_disagreements or not all(r[k] for k in CHECKS)
    ]
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
    totals = {k: sum(r[k] for r in rows) for k in CHECKS}
    print(f"{len(rows)} files: " + ", ".join(f"{k} {v}/{len(rows)}" for k, v in totals.items()))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES / "images")
    parser.add_argument("--trust", type=Path, default=FIXTURES / "trust" / "test_cert_root_bundle.pem")
    args = parser.parse_args()
    paths = sorted(p for p in args.fixtures.iterdir() if p.is_file())
    print(f"c2pa-python {C2PA_VERSION}\n\n1. verify on the files as they are")
    rows, code = run_round(paths, args.trust)
    totals = print_table(rows)
    with tempfile.TemporaryDirectory() as tmp:
        signed, ca, sign_code, sign_stderr = resign(paths, Path(tmp))
        trust = Path(tmp) / "trust.pem"
        trust.write_text(args.trust.read_text() + "\n" + ca.read_text())
        print("\n2. verify on provmark's re-signs of them (the old manifest as parent); rows that disagree:")
        resigned, _ = run_round(signed, trust)
        resign_totals = print_table(resigned, only_disagreements=True)
    refused = len(paths) - len(signed)
    print(f"re-sign: {len(signed)} signed, {refused} refused with one line each, traceback: {'Traceback' in sign_stderr}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "c2pa_python": C2PA_VERSION,
        "files": len(rows),
        "totals": totals,
        "exit_code": code,
        "rows": rows,
        "resign": {
            "signed": len(signed), "refused": refused, "sign_exit_code": sign_code,
            "sign_traceback": "Traceback" in sign_stderr, "totals": resign_totals, "rows": resigned,
        },
    }  # fmt: skip
    (RESULTS / "conformance.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS / 'conformance.json'}")


if __name__ == "__main__":
    main()
