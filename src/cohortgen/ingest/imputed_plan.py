"""``cohortgen plan-imputed``: check a cohort's imputed files against each other and against the
genotypes, and split them into chunks (one ``ingest-dosages`` job each).

Checks, each an InputError naming the file and the sample, contig or value:

- every file is an imputed input (:func:`cohortgen.ingest.dosages.input_kind`); a VCF/BCF has
  an index (.tbi/.csi);
- the files hold the same samples in the same order (one sample list for the cohort's dosages);
- no contig is in two files;
- samples match the genotypes by the exact-ID rules of input validation: IDs equal only after
  changing case or spaces are refused, and at most ``ingest.max_sample_loss`` of either side may
  be missing from the other (within it, association uses the samples in both; a QC-kept sample
  without dosages counts as missing, mean-imputed);
- the build: where both the genotype VCF and an imputed VCF declare a contig's length
  (``##contig``), the lengths agree (GRCh37 and GRCh38 differ on every primary chromosome);
  inputs that declare no lengths (a PLINK genotype fileset, BGEN and PGEN imputed files) have
  no variant beyond a chromosome's length in ``genome_build`` (:func:`check_positions`: it
  catches the other build on the chromosomes that are longer there, which whole-chromosome
  files cover to their ends).

Plan (``imputed/plan.tsv``): columns :data:`IMPUTED_PLAN_COLUMNS`; chunk IDs ``c0001``, ... in
file order; regions of about ``chunks.imputed_variants_per_chunk`` records, from the index
(VCF/BCF, as the genotype plan), the .pvar (PGEN) or the variant list (BGEN).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cohortgen.errors import InputError
from cohortgen.genome import CONTIG_LENGTHS, contig_code, contig_length
from cohortgen.ingest.dosages import file_samples, input_kind
from cohortgen.ingest.plan import is_plink_prefix, plan_vcf_chunks, positions_plan
from cohortgen.ingest.validate import check_sample_loss, check_sample_overlap, genotype_samples

if TYPE_CHECKING:
    import pandas as pd

IMPUTED_PLAN_COLUMNS = ["chunk_id", "file", "contig", "start", "end", "n_variants"]


def check_same_samples(files: list[Path], sample_lists: list[list[str]]) -> None:
    """InputError naming the first file whose samples differ from the first file's, and the
    first sample (position) where they do."""
    first = sample_lists[0]
    for path, samples in zip(files[1:], sample_lists[1:], strict=True):
        if samples == first:
            continue
        k = next((i for i, (a, b) in enumerate(zip(first, samples, strict=False)) if a != b),
                 min(len(first), len(samples)))
        theirs = samples[k] if k < len(samples) else "(none)"
        ours = first[k] if k < len(first) else "(none)"
        raise InputError(f"{path}: sample {k + 1} is {theirs!r}, but {ours!r} in {files[0]} "
                         f"({len(samples)} vs {len(first)} samples); the imputed files of a "
                         "cohort must list the same samples in the same order (reorder with "
                         "bcftools view -S, or plink2 --indiv-sort)")


def check_contigs_once(plans: list[tuple[Path, pd.DataFrame]]) -> None:
    """InputError naming a contig that two files hold, and both files."""
    owner: dict[int | str, Path] = {}
    for path, plan in plans:
        for contig in plan["contig"].unique():
            code = contig_code(contig) or contig
            if code in owner:
                raise InputError(f"{path}: holds contig {contig}, which {owner[code]} holds too; "
                                 "give each chromosome in one imputed file only")
            owner[code] = path


def declared_lengths(path: Path) -> dict:
    """{contig code: length} that a VCF/BCF header declares ({} when none)."""
    from cohortgen.ingest.plan import _contig_header

    names, lengths = _contig_header(path)
    return {contig_code(name) or name: length for name, length in lengths.items() if length}


def check_build(genotypes: str, files: list[Path]) -> None:
    """InputError where the genotype VCF and an imputed VCF declare different lengths for the
    same contig: they are on different genome builds."""
    if is_plink_prefix(genotypes):
        return
    ours = declared_lengths(Path(genotypes))
    for path in files:
        if input_kind(path) != "vcf":
            continue
        for code, length in declared_lengths(path).items():
            if code in ours and ours[code] != length:
                raise InputError(
                    f"{path}: contig {code} has length {length}, but {ours[code]} in "
                    f"{genotypes}: the imputed data and the genotypes are on different genome "
                    "builds; lift one over (e.g. bcftools +liftover) or give matching files")


def check_positions(path: str | Path, sites: pd.DataFrame, build: str) -> None:
    """InputError naming ``path`` and the first chromosome whose largest position in ``sites``
    (columns contig, end) lies beyond its length in ``build``: the file is on another build."""
    for contig, last in sites.groupby("contig", sort=False)["end"].max().items():
        length = contig_length(contig, build)
        if length is None or last <= length:
            continue
        others = [b for b in CONTIG_LENGTHS if b != build and last <= contig_length(contig, b)]
        hint = f" (it fits {others[0]})" if others else ""
        raise InputError(f"{path}: chromosome {contig} has a variant at position {last}, beyond "
                         f"its length in {build} ({length}){hint}: the file is on another "
                         "genome build than genome_build; lift it over (e.g. plink2 or "
                         "bcftools +liftover) or set genome_build to the build of the data")


def check_genotype_positions(genotypes: str, build: str) -> None:
    """:func:`check_positions` of a PLINK genotype fileset's .bim (its header declares no
    lengths; a genotype VCF's are compared by :func:`check_build`)."""
    if is_plink_prefix(genotypes):
        from cohortgen.ingest.plan import plan_bed_chunks

        check_positions(f"{genotypes}.bim", plan_bed_chunks(Path(genotypes), 10**9), build)


def file_plan(path: Path, kind: str, variants_per_chunk: int) -> pd.DataFrame:
    """Chunk plan (contig, start, end, n_variants) of one imputed file."""
    if kind == "vcf":
        return plan_vcf_chunks(path, variants_per_chunk).drop(columns="chunk_id")
    if kind == "pgen":
        from cohortgen.io.pgen import pvar_rows

        rows = pvar_rows(Path(f"{path}.pvar"))[0]
        sites = [(f["CHROM"], int(f["POS"])) for _, f in rows]
    else:
        from cohortgen.io.bgen import open_bgen

        reader = open_bgen(path)[0]
        sites = [(v.chrom, int(v.pos)) for v in reader]
        reader.close()
    if not sites:
        raise InputError(f"{path}: holds no variants")
    return positions_plan(sites, variants_per_chunk).drop(columns="chunk_id")


def plan_imputed(files: list[Path], genotypes: str, variants_per_chunk: int,
                 max_sample_loss: float, build: str = "GRCh38") -> pd.DataFrame:
    """The checked chunk plan of a cohort's imputed files (see the module docstring)."""
    import pandas as pd

    kinds = [input_kind(path) for path in files]
    sample_lists = [file_samples(path, kind) for path, kind in zip(files, kinds, strict=True)]
    check_same_samples(files, sample_lists)
    geno_samples = genotype_samples(genotypes)
    check_sample_overlap(sample_lists[0], geno_samples, str(files[0]), genotypes)
    check_sample_loss(sample_lists[0], geno_samples, str(files[0]), genotypes, max_sample_loss)
    check_build(genotypes, files)
    check_genotype_positions(genotypes, build)
    plans = [(path, file_plan(path, kind, variants_per_chunk))
             for path, kind in zip(files, kinds, strict=True)]
    for (path, plan), kind in zip(plans, kinds, strict=True):
        if kind != "vcf":
            check_positions(path, plan, build)
    check_contigs_once(plans)
    plan = pd.concat([p.assign(file=str(path)) for path, p in plans], ignore_index=True)
    plan.insert(0, "chunk_id", [f"c{k:04d}" for k in range(1, len(plan) + 1)])
    return plan[IMPUTED_PLAN_COLUMNS]


def imputed_chunk(plan_tsv: Path, chunk_id: str) -> tuple[str, str]:
    """(file, region ``contig:start-end``) of chunk ``chunk_id`` of an imputed plan."""
    import pandas as pd

    plan = pd.read_csv(plan_tsv, sep="\t", dtype={"chunk_id": str, "file": str, "contig": str})
    row = plan.loc[plan["chunk_id"] == chunk_id]
    if row.empty:
        raise InputError(f"{plan_tsv}: no chunk {chunk_id!r}; re-plan the imputed chunks")
    first = row.iloc[0]
    return first["file"], f"{first['contig']}:{first['start']}-{first['end']}"
