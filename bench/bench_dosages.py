"""Imputed-dosage VCF reading: our two readers (the native text reader and the cyvcf2 one)
and ``cohortgen ingest-dosages`` against ``plink2 --vcf <file> dosage=DS --make-pgen``.

Usage: ``.venv/bin/python bench/bench_dosages.py [--samples 2000] [--variants 2000] [--gp]``

A random Minimac4-like VCF (GT:DS, DS with 3 decimals, INFO R2; ``--gp`` adds GP) is written
once; in the same run, both tools convert it to .pgen with one thread each (plink2 ``--threads
1``, ours with ``OMP_NUM_THREADS=1``, process start-up included), then each of our readers
reads it in this process. Every timed run follows an untimed one (kernels compiled and cached,
the file in the page cache). Prints CPU seconds (user + system, of the child process or of
this one: the machine may be shared, so CPU time rather than wall time) and MB/s of
decompressed VCF text per core, with the load average when each number was taken.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam

from cohortgen.io.dosage_vcf import read_vcf_dosages


def write_vcf(path: Path, n_samples: int, n_variants: int, gp: bool) -> int:
    """Write the bgzipped, indexed VCF; returns its uncompressed size in bytes."""
    rng = np.random.default_rng(0)
    header = ("##fileformat=VCFv4.2\n##contig=<ID=22,length=51304566>\n"
              '##INFO=<ID=R2,Number=1,Type=Float,Description="r2">\n'
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
              '##FORMAT=<ID=DS,Number=A,Type=Float,Description="DS">\n'
              + ('##FORMAT=<ID=GP,Number=G,Type=Float,Description="GP">\n' if gp else "")
              + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
              + "\t".join(f"s{i}" for i in range(n_samples)) + "\n")
    size = len(header)
    plain = path.with_suffix("")
    with open(plain, "w") as out:
        out.write(header)
        for k in range(n_variants):
            p = rng.uniform(0.01, 0.5)
            haps = np.clip(rng.binomial(1, p, (n_samples, 2)) + rng.normal(0, 0.05, (n_samples, 2)),
                           0, 1)
            haps = np.round(haps, 3)
            if gp:
                a, b = haps[:, 0], haps[:, 1]
                probs = np.round(np.column_stack([(1 - a) * (1 - b), a * b]), 3)
                cells = "\t".join(
                    f"{int(x > .5)}|{int(y > .5)}:{x + y:.3f}:{p0:.3f},{1 - p0 - p2:.3f},{p2:.3f}"
                    for x, y, (p0, p2) in zip(a, b, probs, strict=True))
                fmt = "GT:DS:GP"
            else:
                cells = "\t".join(f"{int(a > .5)}|{int(b > .5)}:{a + b:.3f}" for a, b in haps)
                fmt = "GT:DS"
            line = (f"22\t{16_000_000 + k}\tv{k}\tA\tG\t.\tPASS\tR2={rng.random():.3f}\t{fmt}\t"
                    f"{cells}\n")
            out.write(line)
            size += len(line)
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return size


def child_cpu(command: list[str]) -> float:
    """CPU seconds (user + system) of running ``command`` with one thread."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, capture_output=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def reader_cpu(vcf: Path, reader: str) -> float:
    """CPU seconds of this process reading every block of ``vcf`` with ``reader``."""
    start = time.process_time()
    for _ in read_vcf_dosages(vcf, "22", 1, 10**9, reader=reader):
        pass
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=2000)
    parser.add_argument("--gp", action="store_true", help="GT:DS:GP rather than GT:DS")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        vcf = Path(tmp) / "imp.vcf.gz"
        size = write_vcf(vcf, args.samples, args.variants, args.gp)
        for reader in ("text", "htslib"):
            reader_cpu(vcf, reader)  # compile, cache
        ingest = [sys.executable, "-m", "cohortgen", "ingest-dosages", "--imputed", str(vcf),
                  "--region", "22", "--out-prefix", f"{tmp}/ours"]
        child_cpu(ingest)  # the kernel cache of this build
        runs = [("plink2 --vcf dosage=DS", lambda: child_cpu(
                    ["plink2", "--vcf", str(vcf), "dosage=DS", "--make-pgen", "--threads", "1",
                     "--out", f"{tmp}/plink2"])),
                ("cohortgen ingest-dosages", lambda: child_cpu(ingest)),
                ("text reader only", lambda: reader_cpu(vcf, "text")),
                ("htslib reader only", lambda: reader_cpu(vcf, "htslib"))]
        for name, run in runs:
            seconds = run()
            rows.append((name, seconds, os.getloadavg()[0]))
    print(f"{'':<26}{'CPU s':>8}{'MB/s/core':>11}{'load':>6}   ({size / 1e6:.1f} MB of VCF "
          f"text, {args.samples} samples x {args.variants} variants, "
          f"{'GT:DS:GP' if args.gp else 'GT:DS'})")
    for name, seconds, load in rows:
        print(f"{name:<26}{seconds:>8.2f}{size / 1e6 / seconds:>11.1f}{load:>6.1f}")


if __name__ == "__main__":
    main()
