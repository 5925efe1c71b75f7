"""Imputed-dosage VCF reading: our two readers (the native text reader and the cyvcf2 one)
and ``cohortgen ingest-dosages`` against ``plink2 --vcf <file> dosage=DS --make-pgen``.

Usage: ``.venv/bin/python bench/bench_dosages.py [--samples 2000] [--variants 10000] [--gp]
[--workdir DIR]``

A random Minimac4-like VCF (GT:DS, DS with 3 decimals, INFO R2; ``--gp`` adds GP) is written
once (``--workdir``: kept and reused; 21,000 samples x 10,000 variants GT:DS is 2.1 GB of text,
about 110 CPU s to write); in the same run, both tools convert it to .pgen with one thread
each (plink2 ``--threads 1``, ours with ``OMP_NUM_THREADS=1``, process start-up included), then
each of our readers reads it in this process. Kernels are compiled and cached, and both
binaries warmed, on a small file first; each converter's run on that small file (50 samples x 50
variants) is its start-up row (MB/s of it meaningless), to subtract from its row. Prints CPU
seconds (user + system, of the child process or of this one: the machine may be shared, so CPU
time rather than wall time), MB/s of decompressed VCF text per core, the peak RSS of each
converter job, with the load average when each number was taken."""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cohortgen.io.dosage_vcf import read_vcf_dosages


def cell_table(gp: bool) -> np.ndarray:
    """object (1001 * 1001,): the FORMAT cell of haplotype dosages (a, b) in thousandths, at
    index ``a * 1001 + b``: GT (each haplotype called where its dosage is above 0.5), DS = a + b
    (3 decimals) and with ``gp`` GP = ((1 - a)(1 - b), rest, ab) (3 decimals)."""
    cells = []
    for a in range(1001):
        for b in range(1001):
            gt_ds = f"{int(a > 500)}|{int(b > 500)}:{(a + b) / 1000:.3f}"
            if gp:
                p0 = round((1000 - a) * (1000 - b) / 1e6, 3)
                p2 = round(a * b / 1e6, 3)
                gt_ds += f":{p0:.3f},{1 - p0 - p2:.3f},{p2:.3f}"
            cells.append(gt_ds)
    return np.array(cells, dtype=object)


def write_vcf(path: Path, n_samples: int, n_variants: int, gp: bool) -> int:
    """Write the bgzipped (``bgzip``), indexed (``tabix``) VCF; returns its uncompressed size in
    bytes. Haplotype dosages: Binomial(1, p) plus Normal(0, 0.05) noise, clipped to [0, 1],
    in thousandths; each record's cells are looked up in :func:`cell_table`."""
    rng = np.random.default_rng(0)
    table = cell_table(gp)
    fmt = "GT:DS:GP" if gp else "GT:DS"
    header = ("##fileformat=VCFv4.2\n##contig=<ID=22,length=51304566>\n"
              '##INFO=<ID=R2,Number=1,Type=Float,Description="r2">\n'
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
              '##FORMAT=<ID=DS,Number=A,Type=Float,Description="DS">\n'
              + ('##FORMAT=<ID=GP,Number=G,Type=Float,Description="GP">\n' if gp else "")
              + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
              + "\t".join(f"s{i}" for i in range(n_samples)) + "\n")
    size = len(header)
    with open(path, "wb") as out:
        bgzip = subprocess.Popen(["bgzip", "-c"], stdin=subprocess.PIPE, stdout=out)
        bgzip.stdin.write(header.encode())
        for k in range(n_variants):
            p = rng.uniform(0.01, 0.5)
            haps = rng.binomial(1, p, (n_samples, 2)) + rng.normal(0, 0.05, (n_samples, 2))
            milli = np.rint(np.clip(haps, 0, 1) * 1000).astype(np.int64)
            cells = "\t".join(table[milli[:, 0] * 1001 + milli[:, 1]].tolist())
            line = (f"22\t{16_000_000 + k}\tv{k}\tA\tG\t.\tPASS\tR2={rng.random():.3f}\t{fmt}\t"
                    f"{cells}\n").encode()
            bgzip.stdin.write(line)
            size += len(line)
        bgzip.stdin.close()
        if bgzip.wait() != 0:
            raise RuntimeError(f"bgzip failed writing {path}")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)
    return size


def child_run(command: list[str]) -> tuple[float, float]:
    """(CPU seconds (user + system), peak RSS in MB) of running ``command`` with one thread."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"{command[0]} ... failed (status {status})")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def reader_cpu(vcf: Path, reader: str) -> tuple[float, float]:
    """(CPU seconds, NaN: no RSS of its own) of this process reading every block of ``vcf``
    with ``reader``."""
    start = time.process_time()
    for _ in read_vcf_dosages(vcf, "22", 1, 10**9, reader=reader):
        pass
    return time.process_time() - start, float("nan")


def commands(vcf: Path, out: str) -> dict[str, list[str]]:
    """The two converters' command lines, ``vcf`` -> ``out``.pgen, one thread each."""
    return {"plink2 --vcf dosage=DS": ["plink2", "--vcf", str(vcf), "dosage=DS", "--make-pgen",
                                       "--threads", "1", "--out", f"{out}.plink2"],
            "cohortgen ingest-dosages": [sys.executable, "-m", "cohortgen", "ingest-dosages",
                                         "--imputed", str(vcf), "--region", "22",
                                         "--out-prefix", f"{out}.ours"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=10000,
                        help="variants (default: one chunk job's, chunks.variants_per_chunk)")
    parser.add_argument("--gp", action="store_true", help="GT:DS:GP rather than GT:DS")
    parser.add_argument("--workdir", type=Path, help="keep the VCF here and reuse it when "
                        "present (default: a temporary directory, removed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        base = args.workdir or Path(tmp)
        name = f"imp_{args.samples}x{args.variants}_{'gp' if args.gp else 'ds'}.vcf.gz"
        vcf, size_file = base / name, base / f"{name}.bytes"
        if not size_file.is_file():
            size_file.write_text(str(write_vcf(vcf, args.samples, args.variants, args.gp)))
        size = int(size_file.read_text())
        small = Path(tmp) / "warm.vcf.gz"
        write_vcf(small, 50, 50, args.gp)
        for reader in ("text", "htslib"):  # compile, cache
            reader_cpu(small, reader)
        for command in commands(small, f"{tmp}/warm").values():
            child_run(command)  # the kernel cache of this build, the binaries in the page cache
        runs = [(label, lambda c=command: child_run(c))
                for label, command in commands(vcf, f"{tmp}/run").items()]
        runs += [(f"{label.split()[0]} start-up", lambda c=command: child_run(c))
                 for label, command in commands(small, f"{tmp}/small").items()]
        runs += [(f"{reader} reader only", lambda r=reader: reader_cpu(vcf, r))
                 for reader in ("text", "htslib")]
        rows = [(label, *run(), os.getloadavg()[0]) for label, run in runs]
    print(f"{'':<26}{'CPU s':>8}{'MB/s/core':>11}{'peak MB':>9}{'load':>6}   ({size / 1e6:.1f} "
          f"MB of VCF text, {args.samples} samples x {args.variants} variants, "
          f"{'GT:DS:GP' if args.gp else 'GT:DS'})")
    for label, seconds, peak, load in rows:
        print(f"{label:<26}{seconds:>8.2f}{size / 1e6 / seconds:>11.1f}{peak:>9.0f}{load:>6.1f}")


if __name__ == "__main__":
    main()
