"""Imputed-dosage VCF reading: ``cohortgen ingest-dosages`` (process start included) vs
``plink2 --vcf <file> dosage=DS --make-pgen``.

Usage: ``.venv/bin/python bench/bench_dosages.py [--samples 2000] [--variants 2000]``

A random Minimac4-like VCF (GT:DS, DS with 3 decimals, INFO R2) is written once; both tools
convert it to .pgen in the same run, one thread each, then our VCF reader alone is timed in
this process. Prints wall seconds and MB/s of uncompressed VCF text for each.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam

from cohortgen.io.dosage_vcf import read_vcf_dosages


def write_vcf(path: Path, n_samples: int, n_variants: int) -> int:
    """Write the bgzipped, indexed VCF; returns its uncompressed size in bytes."""
    rng = np.random.default_rng(0)
    header = ("##fileformat=VCFv4.2\n##contig=<ID=22,length=51304566>\n"
              '##INFO=<ID=R2,Number=1,Type=Float,Description="r2">\n'
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
              '##FORMAT=<ID=DS,Number=A,Type=Float,Description="DS">\n'
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
              + "\t".join(f"s{i}" for i in range(n_samples)) + "\n")
    size = len(header)
    plain = path.with_suffix("")
    with open(plain, "w") as out:
        out.write(header)
        for k in range(n_variants):
            p = rng.uniform(0.01, 0.5)
            haps = np.clip(rng.binomial(1, p, (n_samples, 2)) + rng.normal(0, 0.05, (n_samples, 2)),
                           0, 1)
            cells = "\t".join(f"{int(a > .5)}|{int(b > .5)}:{a + b:.3f}" for a, b in haps)
            info = f"R2={rng.random():.3f}"
            line = f"22\t{16_000_000 + k}\tv{k}\tA\tG\t.\tPASS\t{info}\tGT:DS\t{cells}\n"
            out.write(line)
            size += len(line)
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return size


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        vcf = Path(tmp) / "imp.vcf.gz"
        size = write_vcf(vcf, args.samples, args.variants)
        ours = timed([sys.executable, "-m", "cohortgen", "ingest-dosages", "--imputed", str(vcf),
                      "--region", "22", "--out-prefix", f"{tmp}/ours"])
        plink = timed(["plink2", "--vcf", str(vcf), "dosage=DS", "--make-pgen", "--threads", "1",
                       "--out", f"{tmp}/plink2"])
        start = time.perf_counter()
        for _ in read_vcf_dosages(vcf, "22", 1, 10**9):
            pass
        reader = time.perf_counter() - start
    print(f"{'tool':<26}{'seconds':>9}{'MB/s':>8}   ({size / 1e6:.1f} MB of VCF text, "
          f"{args.samples} samples x {args.variants} variants)")
    for name, seconds in (("cohortgen ingest-dosages", ours), ("plink2 --vcf dosage=DS", plink),
                          ("read_vcf_dosages only", reader)):
        print(f"{name:<26}{seconds:>9.2f}{size / 1e6 / seconds:>8.1f}")


if __name__ == "__main__":
    main()
