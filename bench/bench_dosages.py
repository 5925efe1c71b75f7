"""Imputed-dosage VCF ingest: ``cohortgen ingest-dosages`` as the workflow runs it, chunk by
chunk, against ``plink2 --vcf <file> dosage=DS --make-pgen`` on the whole file.

Usage: ``.venv/bin/python bench/bench_dosages.py [--samples 2000] [--variants 100000]
[--chunk 50000 [10000 ...]] [--gp] [--readers] [--workdir DIR]``

A Minimac4-like chromosome-22 VCF (FORMAT GT:DS, ``--gp`` GT:DS:GP; DS and GP with 3 decimals;
INFO AF, MAF, R2 and TYPED or IMPUTED) is written once by a Numba byte-level kernel and
``bgzip -@2 -l 1``, then indexed (``tabix``); with ``--workdir`` it is kept there and reused
by later runs with the same ``--samples``, ``--variants`` and ``--gp`` (21,000 samples x
100,000 variants GT:DS is 21 GB of text, 2.1 GB bgzipped,
written in 232 CPU s plus bgzip's; 21,000 x 10,000 GT:DS:GP 5.9 GB of text, 0.39 GB
bgzipped). Error model, that of
:mod:`cohortgen.simulate_imputed` (its quality and call-confidence constants): ALT frequency
log-uniform on [0.001, 0.5]; 10% of sites typed (quality 1), the others imputed with a
per-variant quality q ~ Beta(5, 1) (MAF >= 0.05) or Beta(2, 1.5) (rarer); true genotypes in
HWE; each call informed with probability q, with strength u ~ Beta(20, 1) towards its true
genotype; GP the posterior under the HWE prior, rounded to thousandths summing to 1; DS = GP1 +
2 GP2; GT the most probable genotype; 0.1% of calls missing (``./.:.``).

In the same run, with one thread each (plink2 ``--threads 1``, ours ``OMP_NUM_THREADS=1``,
process start-up included): plink2 converts the whole file (with its default workspace, half
the machine's memory: its peak RSS reached 12 GB at 21,000 samples x 100,000 variants on a
24 GB machine); ours runs one job per chunk of
``--chunk`` records (``chunks.imputed_variants_per_chunk``; default 50,000; several values:
one row each, to show the per-job peak RSS does not grow with the chunk), each the command of
the rule ``ingest_imputed_chunk`` (``--plan`` from ``plan-imputed``'s chunking of the file,
``--chunk``, ``--keep`` (all samples but 1%), ``--phenotypes``, ``--options`` of the default
config). Kernels are compiled and cached, and both binaries warmed, on a small file first; each
converter's run on it (50 samples x 50 variants, one job) is its start-up row. With ``--gp``,
a row of ``plink2 --vcf <file> dosage=GP-force`` too (plink2 then parses GP, as ours does,
where ``dosage=DS`` skips it). ``--readers``
adds each of our VCF readers (text, htslib) reading the whole file in this process.

Prints CPU seconds (user + system of the child processes, summed over a row's jobs: the
machine may be shared, so CPU time rather than wall time), MB/s of decompressed VCF text per
CPU second, the number of jobs and the largest peak RSS of one job, with the load average when
each row was taken."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cohortgen.ingest.imputed_plan import IMPUTED_PLAN_COLUMNS, file_plan
from cohortgen.io.dosage_vcf import read_vcf_dosages
from cohortgen.kernels._numba import kernel
from cohortgen.simulate_imputed import (
    CALL_CONFIDENCE,
    HEADER_LINES,
    QUALITY_COMMON,
    QUALITY_RARE,
    RARE_MAF,
)

TYPED_SHARE = 0.1
MISSING_SHARE = 0.001
MIN_FREQ = 0.001
FIRST_POS = 16_000_000
CELL_BYTES = 28
"""Longest FORMAT cell with its tab: ``0/0:0.000:0.000,0.000,0.000`` + tab."""
LINE_BYTES = 160
"""Bound on the bytes of a record's fixed columns and newline."""
_CHROM = np.frombuffer(b"22\t", dtype=np.uint8)
_ID = np.frombuffer(b"\t22:", dtype=np.uint8)
_FIXED = np.frombuffer(b":A:G\tA\tG\t.\tPASS\tAF=", dtype=np.uint8)
_MAF = np.frombuffer(b";MAF=", dtype=np.uint8)
_R2 = np.frombuffer(b";R2=", dtype=np.uint8)
_TYPED = np.frombuffer(b";TYPED\tGT:DS", dtype=np.uint8)
_IMPUTED = np.frombuffer(b";IMPUTED\tGT:DS", dtype=np.uint8)
_GP = np.frombuffer(b":GP", dtype=np.uint8)
_MISSING = np.frombuffer(b"./.:.", dtype=np.uint8)
_MISSING_GP = np.frombuffer(b"./.:.:.", dtype=np.uint8)
"""Texts of the record writer (Numba constants)."""


@kernel
def _put_int(buf: np.ndarray, p: int, value: int) -> int:
    """Write the decimal digits of ``value`` (>= 0) at ``buf[p]``; return the end offset."""
    digits = 1
    while value >= 10 ** digits:
        digits += 1
    for k in range(digits - 1, -1, -1):
        buf[p + k] = 48 + value % 10
        value //= 10
    return p + digits


@kernel
def _put_fixed(buf: np.ndarray, p: int, value: int, decimals: int) -> int:
    """Write ``value`` / 10**decimals with ``decimals`` decimals (``value`` >= 0)."""
    p = _put_int(buf, p, value // 10 ** decimals)
    buf[p] = 46
    fraction = value % 10 ** decimals
    for k in range(decimals, 0, -1):
        buf[p + k] = 48 + fraction % 10
        fraction //= 10
    return p + decimals + 1


@kernel
def _put_text(buf: np.ndarray, p: int, text: np.ndarray) -> int:
    buf[p:p + text.size] = text
    return p + text.size


@kernel
def seed_kernels(seed: int) -> None:
    """Seed the random stream of the kernels (Numba's own, per thread)."""
    np.random.seed(seed)


@kernel
def _site_units(units: np.ndarray, freq: float, quality: float, missing_share: float,
                strength_shape: float) -> None:
    """Fill ``units`` (int64 (n, 3)) with each sample's GP in thousandths (rows summing to
    1000; -1 in column 0 for a missing call) at a site of ALT frequency ``freq`` and quality
    ``quality`` (1: typed)."""
    prior = np.array([(1 - freq) ** 2, 2 * freq * (1 - freq), freq * freq])
    post = np.empty(3)
    for i in range(units.shape[0]):
        if np.random.random() < missing_share:
            units[i, 0] = -1
            continue
        truth = int(np.random.random() < freq) + int(np.random.random() < freq)
        if quality >= 1:
            strength = 1.0
        elif np.random.random() < quality:
            strength = np.random.random() ** (1 / strength_shape)
        else:
            strength = 0.0
        a = 1 / 3 + 2 * strength / 3
        total = 0.0
        for g in range(3):
            post[g] = prior[g] * (a if g == truth else (1 - a) / 2)
            total += post[g]
        short = 1000
        best_rest, best = -1.0, 0
        for g in range(3):
            scaled = post[g] / total * 1000
            units[i, g] = int(np.floor(scaled))
            short -= units[i, g]
        while short > 0:  # largest remainder, ties to the lower genotype
            best_rest, best = -1.0, 0
            for g in range(3):
                rest = post[g] / total * 1000 - units[i, g]
                if rest > best_rest and rest < 1:
                    best_rest, best = rest, g
            units[i, best] += 1
            short -= 1


@kernel
def _put_record(buf: np.ndarray, p: int, pos: int, typed: bool, units: np.ndarray,
                gp: bool) -> int:
    """Write one record line (with its newline) of the site's ``units`` at ``buf[p]``;
    return the end offset. INFO AF, MAF, R2 (Minimac4's: var(DS) / (2 AF (1 - AF))) of the
    written dosages, 5 decimals."""
    n_called, ds_sum, ds_sq = 0, 0.0, 0.0
    for i in range(units.shape[0]):
        if units[i, 0] >= 0:
            ds = (units[i, 1] + 2 * units[i, 2]) / 1000
            n_called += 1
            ds_sum += ds
            ds_sq += ds * ds
    af = ds_sum / max(2 * n_called, 1)
    spread = 2 * af * (1 - af)
    mean = ds_sum / max(n_called, 1)
    r2 = min((ds_sq / max(n_called, 1) - mean * mean) / spread, 1.0) if spread > 0 else 0.0
    p = _put_text(buf, p, _CHROM)
    p = _put_int(buf, p, pos)
    p = _put_text(buf, p, _ID)
    p = _put_int(buf, p, pos)
    p = _put_text(buf, p, _FIXED)
    p = _put_fixed(buf, p, int(round(af * 1e5)), 5)
    p = _put_text(buf, p, _MAF)
    p = _put_fixed(buf, p, int(round(min(af, 1 - af) * 1e5)), 5)
    p = _put_text(buf, p, _R2)
    p = _put_fixed(buf, p, int(round(max(r2, 0.0) * 1e5)), 5)
    if typed:
        p = _put_text(buf, p, _TYPED)
    else:
        p = _put_text(buf, p, _IMPUTED)
    if gp:
        p = _put_text(buf, p, _GP)
    for i in range(units.shape[0]):
        buf[p] = 9
        p += 1
        if units[i, 0] < 0:
            p = _put_text(buf, p, _MISSING_GP if gp else _MISSING)
            continue
        a, b, c = units[i, 0], units[i, 1], units[i, 2]
        genotype = 0 if a >= b and a >= c else (1 if b >= c else 2)
        buf[p] = 48 + int(genotype == 2)
        buf[p + 1] = 47
        buf[p + 2] = 48 + int(genotype >= 1)
        buf[p + 3] = 58
        p = _put_fixed(buf, p + 4, b + 2 * c, 3)
        if gp:
            buf[p] = 58
            p = _put_fixed(buf, p + 1, a, 3)
            buf[p] = 44
            p = _put_fixed(buf, p + 1, b, 3)
            buf[p] = 44
            p = _put_fixed(buf, p + 1, c, 3)
    buf[p] = 10
    return p + 1


@kernel
def write_records(buf: np.ndarray, n_samples: int, first_pos: int, n_records: int,
                  gp: bool) -> tuple:
    """Write ``n_records`` record lines into ``buf`` (uint8, at least ``n_records`` ×
    (LINE_BYTES + CELL_BYTES × ``n_samples``)), positions from ``first_pos`` on with gaps of
    1 to 60 bases; return (bytes written, the next position). The error model is the module
    docstring's; the draws come from the stream :func:`seed_kernels` seeded."""
    units = np.empty((n_samples, 3), dtype=np.int64)
    p, pos = 0, first_pos
    for _ in range(n_records):
        freq = MIN_FREQ * (0.5 / MIN_FREQ) ** np.random.random()
        typed = np.random.random() < TYPED_SHARE
        if typed:
            quality = 1.0
        elif freq >= RARE_MAF:
            quality = np.random.beta(QUALITY_COMMON[0], QUALITY_COMMON[1])
        else:
            quality = np.random.beta(QUALITY_RARE[0], QUALITY_RARE[1])
        _site_units(units, freq, quality, MISSING_SHARE, CALL_CONFIDENCE[0])
        p = _put_record(buf, p, pos, typed, units, gp)
        pos += 1 + int(np.random.random() * 60)
    return p, pos


def header(n_samples: int, gp: bool) -> bytes:
    """The VCF header (Minimac4's INFO and FORMAT lines), samples ``s0`` ... """
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=22,length=50818468>",
             *[line for line in HEADER_LINES if gp or "ID=GP" not in line],
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                        *(f"s{i}" for i in range(n_samples))])]
    return ("\n".join(lines) + "\n").encode()


def write_vcf(path: Path, n_samples: int, n_variants: int, gp: bool, seed: int = 1) -> int:
    """Write the bgzipped (``bgzip -@2 -l 1``), indexed (``tabix``) VCF of the module
    docstring; returns its uncompressed size in bytes."""
    seed_kernels(seed)
    batch = max(1, 64_000_000 // (LINE_BYTES + CELL_BYTES * n_samples))
    buf = np.empty(batch * (LINE_BYTES + CELL_BYTES * n_samples), dtype=np.uint8)
    text = header(n_samples, gp)
    size, pos = len(text), FIRST_POS
    with open(path, "wb") as out:
        bgzip = subprocess.Popen(["bgzip", "-@2", "-l", "1", "-c"], stdin=subprocess.PIPE,
                                 stdout=out)
        bgzip.stdin.write(text)
        for first in range(0, n_variants, batch):
            used, pos = write_records(buf, n_samples, pos, min(batch, n_variants - first), gp)
            bgzip.stdin.write(buf[:used].data)
            size += used
        bgzip.stdin.close()
        if bgzip.wait() != 0:
            raise RuntimeError(f"bgzip failed writing {path}")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return size


def write_job_inputs(vcf: Path, base: Path, n_samples: int, chunk: int) -> Path:
    """The rule's inputs beside ``base``: ``plan.<chunk>.tsv`` (plan-imputed's chunking of
    ``vcf``), ``keep.txt`` (every sample but each 100th, as if QC removed 1%) and
    ``phenotypes.tsv`` (sample_id, sex); returns the plan."""
    plan = file_plan(vcf, "vcf", chunk)
    plan.insert(0, "chunk_id", [f"c{k:04d}" for k in range(1, len(plan) + 1)])
    plan["file"] = str(vcf)
    path = base / f"plan.{chunk}.tsv"
    plan[IMPUTED_PLAN_COLUMNS].to_csv(path, sep="\t", index=False)
    (base / "keep.txt").write_text("".join(f"s{i}\n" for i in range(n_samples) if i % 100))
    (base / "phenotypes.tsv").write_text(
        "sample_id\tsex\n" + "".join(f"s{i}\t{1 + i % 2}\n" for i in range(n_samples)))
    return path


def child_run(command: list[str]) -> tuple[float, float]:
    """(CPU seconds (user + system), peak RSS in MB) of running ``command`` with one thread,
    as GNU time reports them (``getrusage`` of a child of this process would report at least
    this process's own RSS: Linux keeps the peak across fork and exec)."""
    with tempfile.NamedTemporaryFile("r") as usage, tempfile.TemporaryFile() as errors:
        status = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", usage.name, *command],
                                stdout=subprocess.DEVNULL, stderr=errors,
                                env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode
        if status != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed:\n{errors.read().decode()[-2000:]}")
        user, system, peak_kb = usage.read().split()[-3:]
    return float(user) + float(system), int(peak_kb) / 1024


def reader_cpu(vcf: Path, reader: str) -> tuple[float, float]:
    """(CPU seconds, NaN: no RSS of its own) of this process reading every block of ``vcf``
    with ``reader``."""
    start = time.process_time()
    for _ in read_vcf_dosages(vcf, "22", 1, 10**9, reader=reader):
        pass
    return time.process_time() - start, float("nan")


def plink2_command(vcf: Path, out: str, dosage: str = "DS") -> list[str]:
    """plink2's import of ``vcf`` to ``out``.pgen with ``dosage=<dosage>``, one thread."""
    return ["plink2", "--vcf", str(vcf), f"dosage={dosage}", "--make-pgen", "--threads", "1",
            "--out", out]


def ingest_commands(plan: Path, base: Path, out: str) -> list[list[str]]:
    """One ``cohortgen ingest-dosages`` command per chunk of ``plan``, as the rule
    ``ingest_imputed_chunk`` runs it (default config's options)."""
    from cohortgen.options import STEP_OPTIONS, step_config, validate_config

    options = json.dumps(step_config(STEP_OPTIONS["ingest_dosages"], validate_config({}, "")))
    chunks = [line.split("\t")[0] for line in plan.read_text().splitlines()[1:]]
    return [[sys.executable, "-m", "cohortgen", "ingest-dosages", "--plan", str(plan),
             "--chunk", chunk, "--keep", str(base / "keep.txt"), "--phenotypes",
             str(base / "phenotypes.tsv"), "--options", options,
             "--out-prefix", f"{out}.{chunk}"] for chunk in chunks]


def jobs_run(commands: list[list[str]], outputs: Path | None = None) -> tuple[float, float, int]:
    """(CPU seconds summed, largest peak RSS in MB, number) of running ``commands`` one by
    one; then removes the directory ``outputs`` (their outputs: disk space) when given."""
    runs = [child_run(command) for command in commands]
    if outputs is not None:
        shutil.rmtree(outputs)
    return sum(cpu for cpu, _ in runs), max(rss for _, rss in runs), len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, nargs="+", default=[50_000],
                        help="records per ingest job (chunks.imputed_variants_per_chunk); "
                        "several: one row each")
    parser.add_argument("--gp", action="store_true", help="GT:DS:GP rather than GT:DS")
    parser.add_argument("--readers", action="store_true",
                        help="also time each of our VCF readers alone, in this process")
    parser.add_argument("--workdir", type=Path, help="keep the VCF here and reuse it when "
                        "present (default: a temporary directory, removed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        base, run = args.workdir or Path(tmp), Path(tmp)
        name = f"imp_{args.samples}x{args.variants}_{'gp' if args.gp else 'ds'}.vcf.gz"
        vcf, size_file = base / name, base / f"{name}.bytes"
        if not size_file.is_file():
            start = time.process_time()
            size_file.write_text(str(write_vcf(vcf, args.samples, args.variants, args.gp)))
            print(f"wrote {vcf}: {int(size_file.read_text()) / 1e9:.2f} GB of text, "
                  f"{time.process_time() - start:.0f} CPU s in this process (bgzip apart)")
        size = int(size_file.read_text())
        small = run / "warm.vcf.gz"
        write_vcf(small, 50, 50, args.gp)
        small_plan = write_job_inputs(small, run, 50, 50)
        if args.readers:
            for reader in ("text", "htslib"):  # compile, cache
                reader_cpu(small, reader)
        warm = [plink2_command(small, f"{run}/warm.plink2"),
                *ingest_commands(small_plan, run, f"{run}/warm.ours")]
        jobs_run(warm)  # the kernel cache of this build, the binaries in the page cache
        (run / "plink2").mkdir()
        runs = [("plink2 --vcf dosage=DS",
                 lambda: jobs_run([plink2_command(vcf, f"{run}/plink2/out")], run / "plink2"))]
        if args.gp:
            (run / "plink2gp").mkdir()
            runs.append(("plink2 dosage=GP-force", lambda: jobs_run(
                [plink2_command(vcf, f"{run}/plink2gp/out", "GP-force")], run / "plink2gp")))
        for chunk in args.chunk:
            plan = write_job_inputs(vcf, run, args.samples, chunk)
            runs.append((f"ingest-dosages /{chunk}",
                         lambda p=plan, c=chunk: jobs_run(
                             ingest_commands(p, run, f"{run}/ours{c}/out"), run / f"ours{c}")))
        runs += [("plink2 start-up", lambda: jobs_run(warm[:1])),
                 ("ingest-dosages start-up", lambda: jobs_run(warm[1:]))]
        if args.readers:
            runs += [(f"{reader} reader only", lambda r=reader: (*reader_cpu(vcf, r), 1))
                     for reader in ("text", "htslib")]
        rows = [(label, *measure(), os.getloadavg()[0]) for label, measure in runs]
    print(f"{'':<26}{'CPU s':>8}{'MB/s/core':>11}{'jobs':>6}{'peak MB/job':>13}{'load':>6}   "
          f"({size / 1e6:.1f} MB of VCF text, {args.samples} samples x {args.variants} "
          f"variants, {'GT:DS:GP' if args.gp else 'GT:DS'})")
    for label, seconds, peak, jobs, load in rows:
        print(f"{label:<26}{seconds:>8.2f}{size / 1e6 / seconds:>11.1f}{jobs:>6}{peak:>13.0f}"
              f"{load:>6.1f}")


if __name__ == "__main__":
    main()
