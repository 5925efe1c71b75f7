"""Wall time and peak RSS of `cohortgen ingest` (one chunk, process start included) against
`plink2 --vcf ... --make-bed` on the same VCF, and where cohortgen's time goes.

Usage: ``.venv/bin/python bench/bench_ingest.py [--samples 2000 5000] [--variants 20000]
[--threads 2] [--repeats 1] [--out /tmp/cohortgen-bench-ingest]``

The VCF is written directly (random GT-only records, 0.2% missing, unphased diploid), bgzipped
and tabix-indexed; it is re-used when present. Both tools get ``--threads`` (cohortgen uses
them to inflate bgzip blocks and parse records). Timings come from ``/usr/bin/time`` (elapsed,
max RSS), the best of ``--repeats`` runs of each tool, taken in turn. The start-up line is
``cohortgen ingest`` of a two-record chunk (process start, imports, loading cached kernels). The
profile lines time, in one process (kernels already loaded), reading the chunk's records with
each record reader (``ingest.vcf_reader``: native, bgzip blocks inflated with libdeflate or zlib
and record lines parsed by a kernel, the threads working ahead while blocks are decoded; htslib,
cyvcf2's region query, one thread), GT decoding and packing.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pysam

BIN = Path(sys.executable).parent
CELLS = np.frombuffer(b"0/0\t0/1\t1/1\t./.\t", dtype=np.uint8).reshape(4, 4)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[2_000, 5_000])
    parser.add_argument("--variants", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/cohortgen-bench-ingest"))
    return parser.parse_args()


def write_random_vcf(path: Path, n_samples: int, n_variants: int, seed: int = 1) -> Path:
    """A bgzipped + indexed VCF of random genotypes (allele frequency 5-50%)."""
    if Path(f"{path}.tbi").exists():
        return path
    rng = np.random.default_rng(seed)
    plain = path.with_suffix("")
    with open(plain, "wb") as out:
        out.write(b"##fileformat=VCFv4.2\n##contig=<ID=1,length=1000000000>\n")
        out.write(b'##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        names = "\t".join(f"S{i:06d}" for i in range(n_samples))
        out.write(f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{names}\n".encode())
        for first in range(0, n_variants, 1000):
            m = min(1000, n_variants - first)
            freq = rng.uniform(0.05, 0.5, size=(m, 1))
            codes = (rng.random((m, n_samples)) < freq).astype(np.uint8)
            codes += rng.random((m, n_samples)) < freq
            codes[rng.random((m, n_samples)) < 0.002] = 3
            body = CELLS[codes].reshape(m, -1)
            body[:, -1] = ord("\n")
            for k in range(m):
                pos = 100 * (first + k + 1)
                out.write(f"1\t{pos}\t.\tA\tG\t.\tPASS\t.\tGT\t".encode() + body[k].tobytes())
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one command, from /usr/bin/time."""
    result = subprocess.run(["/usr/bin/time", "-f", "%e %M", *command], capture_output=True,
                            text=True, check=True)
    wall, rss_kb = result.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss_kb) / 1024


def ingest_command(vcf: Path, plan: Path, out: Path, threads: int) -> list[str]:
    return [str(BIN / "cohortgen"), "ingest", "--genotypes", str(vcf), "--plan", str(plan),
            "--chunk", "c0001", "--out-prefix", str(out), "--tally", f"{out}.json", "--threads",
            str(threads)]


def two_record_plan(plan: Path) -> Path:
    """A copy of ``plan`` whose chunk c0001 holds the first two records only."""
    header = plan.read_text().splitlines()[0]
    tiny = plan.with_name(f"tiny_{plan.name}")
    tiny.write_text(f"{header}\nc0001\t1\t1\t200\t2\n")
    return tiny


def profile(vcf: Path, n_variants: int, threads: int, reader: str) -> dict:
    """Seconds spent in each part of one chunk's ingest with record reader ``reader``, in this
    process, block by block as ``cohortgen ingest`` does it."""
    from cohortgen.io.vcf import RecordTally, read_region_blocks
    from cohortgen.kernels.bed import pack_dosages
    from cohortgen.kernels.gt import decode_calls

    list(read_region_blocks(vcf, "1", 1, 200, RecordTally()))  # load the kernels
    parts = dict.fromkeys(["read+parse", "decode", "pack"], 0.0)
    blocks = read_region_blocks(vcf, "1", 1, 100 * n_variants, RecordTally(), threads=threads,
                                reader=reader)
    while True:
        start = time.perf_counter()
        block = next(blocks, None)
        read = time.perf_counter()
        if block is None:
            break
        dosage = decode_calls(block.alleles, block.alt_index, 0)[0]
        decoded = time.perf_counter()
        pack_dosages(dosage)
        packed = time.perf_counter()
        for name, seconds in zip(parts, (read - start, decoded - read, packed - decoded),
                                 strict=True):
            parts[name] += seconds
    parts["read+parse"] += read - start
    return parts


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"# ingest of one chunk, {args.variants} variants, threads {args.threads}")
    print(f"{'samples':>8} {'tool':<10} {'wall_s':>7} {'peak_MiB':>9} {'ratio':>6}")
    for n_samples in args.samples:
        vcf = write_random_vcf(args.out / f"r{n_samples}.vcf.gz", n_samples, args.variants)
        plan = args.out / f"plan{n_samples}.tsv"
        subprocess.run([str(BIN / "cohortgen"), "plan", "--genotypes", str(vcf),
                        "--options", f'{{"chunks": {{"variants_per_chunk": {args.variants * 2}}}}}',
                        "--out", str(plan)],
                       check=True)
        ours_command = ingest_command(vcf, plan, args.out / f"ours{n_samples}", args.threads)
        plink_command = ["plink2", "--vcf", str(vcf), "--make-bed", "--threads",
                         str(args.threads), "--out", str(args.out / f"plink{n_samples}")]
        runs = [(timed(ours_command), timed(plink_command)) for _ in range(args.repeats)]
        ours, plink = min(run[0] for run in runs), min(run[1] for run in runs)
        print(f"{n_samples:>8} {'plink2':<10} {plink[0]:>7.2f} {plink[1]:>9.0f}")
        print(f"{n_samples:>8} {'cohortgen':<10} {ours[0]:>7.2f} {ours[1]:>9.0f} "
              f"{ours[0] / plink[0]:>6.2f}")
        startup = min(timed(ingest_command(vcf, two_record_plan(plan), args.out / "tiny",
                                           args.threads))[0] for _ in range(args.repeats))
        print(f"   start-up: {startup:.2f}s")
        for reader in ("native", "htslib"):
            parts = profile(vcf, args.variants, args.threads, reader)
            print(f"   profile ({reader}): "
                  + ", ".join(f"{k} {v:.2f}s" for k, v in parts.items()))


if __name__ == "__main__":
    main()
