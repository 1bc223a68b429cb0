"""Run every ``bench_*.py`` in this folder, one after another, and print one combined report.

    python benchmarks/run_all.py                  # the scripts' defaults (README sizes)
    python benchmarks/run_all.py --quick          # small sizes, a few minutes
    python benchmarks/run_all.py --write-readme   # defaults, then the report into README.md

Scripts are discovered (``bench_*.py``), so a new one is included without editing this file;
an expected script that is missing is named in the report. Each script's output (its title
line, Markdown table and notes) is shown live and collected; the report starts with the
machine (CPU model, cores, RAM, Python, pandas, pyarrow, date).

``--write-readme`` replaces what lies between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` in the README (its Performance section) with the report, atomically
(temporary file + ``os.replace``), leaving every byte outside the markers as it is. It writes
only when every script succeeded, and refuses ``--quick``/``--only`` figures unless
``--readme`` names another file. This is the ``make bench`` entry point.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
#: scripts the README's figures come from: a missing one is named in the report
EXPECTED = (
    "bench_emulator.py",
    "bench_fanout.py",
    "bench_faults.py",
    "bench_frames.py",
    "bench_load.py",
    "bench_walk.py",
)
#: arguments under ``--quick``; a script not listed gets ``--quick`` if it accepts it
QUICK = {
    "bench_emulator.py": ["--sessions", "20000"],
    "bench_fanout.py": ["--quick"],
    "bench_frames.py": ["--sessions", "100000", "--repeat", "1"],
    "bench_walk.py": ["--sessions", "5000", "--memory-sessions", "100000"],
    "bench_plots.py": ["--sessions", "100000", "--repeat", "1"],
    "bench_panel.py": ["--sessions", "20000", "--repeat", "3"],
    "bench_store.py": ["--sessions", "20000", "--sql-rows", "1000000"],
}

#: arguments of a full run where a script's own defaults are not the README's sizes
FULL = {
    # the >= 50x reload-vs-re-fetch target is stated at 1M sessions (20k: fixed costs dominate)
    "bench_store.py": ["--sessions", "1000000", "--repeat", "1"],
}


class MarkerError(ValueError):
    """The README's generated-block markers are missing, repeated or out of order."""


def replace_between_markers(text: str, block: str, start: str = START, end: str = END) -> str:
    """``text`` with everything between ``start`` and ``end`` replaced by ``block``.

    The markers stay; the block is put on its own lines between them; every character
    outside the markers is kept as it is. Raises :class:`MarkerError` unless each marker
    occurs exactly once, ``start`` before ``end``.
    """
    for marker in (start, end):
        count = text.count(marker)
        if count != 1:
            problem = "is missing" if count == 0 else f"occurs {count} times"
            raise MarkerError(
                f"the marker {marker!r} {problem}: the text needs exactly one {start!r} "
                f"followed by one {end!r} around the generated block"
            )
    head, rest = text.split(start)
    if end in head:
        raise MarkerError(f"the marker {end!r} comes before {start!r}")
    _, tail = rest.split(end)
    return f"{head}{start}\n{block.strip(chr(10))}\n{end}{tail}"


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as fh:  # keep line endings as they are
        return fh.read()


def write_readme(path: Path, block: str, *, attempts: int = 3) -> bool:
    """Replace the generated block of ``path`` atomically; ``False`` if it was already current.

    The new text is written to a temporary file in the same folder (same permissions), then
    moved over ``path`` with ``os.replace``. The file is read again just before the move: if
    someone changed it meanwhile, their version is used and the block replaced again.
    """
    for _ in range(attempts):
        original = _read(path)
        updated = replace_between_markers(original, block)
        if updated == original:
            return False
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(updated)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, path.stat().st_mode & 0o7777)
            if _read(path) != original:  # edited while we wrote: start again from theirs
                os.unlink(tmp)
                continue
            os.replace(tmp, path)
            return True
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    raise RuntimeError(f"{path} kept changing while the block was being written; try again")


def describe_machine() -> str:
    """CPU model, cores, RAM, OS, Python, pandas and pyarrow versions, and the date (UTC)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    for name in ("pandas", "pyarrow"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, {', '.join(versions)}; {date}"
    )


@dataclass
class Result:
    script: str
    args: list[str]
    seconds: float
    returncode: int
    output: str


def quick_args(script: Path) -> list[str]:
    if script.name in QUICK:
        return QUICK[script.name]
    return ["--quick"] if '"--quick"' in script.read_text(encoding="utf-8") else []


def run_script(script: Path, args: list[str]) -> Result:
    """Run one script, echoing its standard output live and collecting it."""
    print(f"\n## {script.name} {' '.join(args)}".rstrip(), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    returncode = proc.wait()
    seconds = time.perf_counter() - t0
    print(f"({script.name}: {seconds:.0f} s, exit code {returncode})", flush=True)
    return Result(script.name, args, seconds, returncode, "".join(lines))


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_REPR = re.compile(r"^<[\w.]+ object( at 0x[0-9a-f]+)?>$")  # what a widget shows on a terminal


def clean_output(output: str) -> str:
    """A script's output for the report: no terminal escapes, no lines that were only escapes
    or object reprs (a widget displayed outside Jupyter), and no repeated machine description
    (the scripts end their title line with `` — <machine>``; the report says it once); a
    blank line before and after each Markdown table."""
    sys.path.insert(0, str(HERE))
    try:
        from _common import machine
    finally:
        sys.path.remove(str(HERE))
    kept: list[str] = []
    for line in output.replace(f" — {machine()}", "").splitlines():
        plain = _ANSI.sub("", line)
        if (plain != line and not plain.strip()) or _REPR.match(plain.strip()):
            continue
        plain = plain.rstrip()
        if kept and kept[-1] and plain and kept[-1].startswith("|") != plain.startswith("|"):
            kept.append("")  # a table needs blank lines around it, or prose joins it as a row
        kept.append(plain)
    return "\n".join(kept).strip("\n")


def report(results: list[Result], missing: list[str], machine: str, quick: bool) -> str:
    """The combined Markdown report."""
    total = sum(r.seconds for r in results)
    command = "benchmarks/run_all.py" + (" --quick" if quick else "")
    lines = [
        f"Generated by `{command}` in {total // 60:.0f} min {total % 60:.0f} s. Machine: {machine}.",
        "Figures are medians where a script says so; the machine is shared, so expect noise.",
    ]
    for name in missing:
        lines += ["", f"**{name}: not found — not run** (re-run `make bench` once it exists)."]
    for r in results:
        args = f" {' '.join(r.args)}" if r.args else ""
        lines += ["", f"#### `{r.script}{args}` ({r.seconds:.0f} s)", ""]
        lines.append(clean_output(r.output) or "(no output)")
        if r.returncode:
            lines.append(f"\n**{r.script} FAILED (exit code {r.returncode})**")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument(
        "--write-readme", action="store_true", help="write the report between the README markers"
    )
    parser.add_argument("--readme", type=Path, default=README, help="the file --write-readme edits")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this script (repeatable)"
    )
    args = parser.parse_args(argv)
    partial = args.quick or args.only
    if args.write_readme:
        if partial and args.readme.resolve() == README:
            parser.error("--quick/--only figures are not written into README.md")
        replace_between_markers(_read(args.readme), "")  # markers checked before hours of work
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        wanted = {n if n.endswith(".py") else f"{n}.py" for n in args.only}
        unknown = wanted - {s.name for s in scripts}
        if unknown:
            parser.error(f"no such script: {', '.join(sorted(unknown))}")
        scripts = [s for s in scripts if s.name in wanted]
    found = {s.name for s in HERE.glob("bench_*.py")}
    missing = [n for n in EXPECTED if n not in found]
    for name in missing:
        print(f"NOTE: {name} not found in {HERE} — it is not run (re-run once it exists).")
    machine = describe_machine()
    print(f"Machine: {machine}", flush=True)
    results = [
        run_script(s, quick_args(s) if args.quick else FULL.get(s.name, [])) for s in scripts
    ]
    text = report(results, missing, machine, args.quick)
    print("\n# Combined report\n")
    print(text)
    failed = [r.script for r in results if r.returncode]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        if args.write_readme:
            print(f"{args.readme} was not written (some scripts failed)", file=sys.stderr)
        return 1
    if args.write_readme:
        changed = write_readme(args.readme, text)
        print(f"{args.readme}: {'generated block replaced' if changed else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
