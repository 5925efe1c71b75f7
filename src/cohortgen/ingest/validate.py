"""Input validation: genotype and phenotype files readable, samples match, manifest written.

The manifest (results/<cohort>/input/manifest.json) records what was read: paths, sizes,
SHA-256 checksums and sample counts. It holds no sample IDs. The imputed files (290 GB of
bgzipped VCF at 21,000 samples x 10 M variants) are checksummed one file per job
(:func:`write_file_record`, ``cohortgen checksum``), so that a cluster reads them in parallel
and a changed file is hashed again alone; their records enter the manifest as they are.
"""

from pathlib import Path

from cohortgen.errors import InputError
from cohortgen.ingest.plan import is_plink_prefix
from cohortgen.io.bed import read_fam
from cohortgen.io.files import read_json, sha256sum, write_json
from cohortgen.io.phenotypes import check_covariates_known, read_phenotypes
from cohortgen.io.vcf_header import vcf_samples


def genotype_files(genotypes: str) -> list[Path]:
    """The files behind a genotype input (VCF/BCF, or .bed/.bim/.fam of a prefix)."""
    if is_plink_prefix(genotypes):
        return [Path(f"{genotypes}{suffix}") for suffix in (".bed", ".bim", ".fam")]
    return [Path(genotypes)]


def genotype_samples(genotypes: str) -> list[str]:
    """Sample IDs of the genotype input in file order."""
    if is_plink_prefix(genotypes):
        fam_path = Path(f"{genotypes}.fam")
        if not fam_path.exists():
            raise InputError(f"{fam_path}: not found; 'genotypes' must be a .vcf.gz/.bcf file "
                             "or a PLINK prefix with .bed/.bim/.fam beside it")
        samples = read_fam(fam_path)["iid"].astype(str).tolist()
        _check_unique_fam_ids(fam_path, samples)
        return samples
    return vcf_samples(Path(genotypes))


def _check_unique_fam_ids(fam_path: Path, samples: list[str]) -> None:
    """InputError naming the first sample ID (IID) listed twice and both of its lines."""
    first_line: dict[str, int] = {}
    for line, sample in enumerate(samples, start=1):
        if sample in first_line:
            raise InputError(
                f"{fam_path}, lines {first_line[sample]} and {line}: sample ID {sample!r} is "
                "listed twice (samples are matched by IID, so each must appear once); remove "
                "or rename the duplicate"
            )
        first_line[sample] = line


def _normalized(sample: str) -> str:
    return sample.strip().lower()


def check_sample_overlap(geno_samples: list[str], sheet_samples: list[str], genotypes: str,
                         phenotypes: str) -> int:
    """Number of samples in both; InputError if none, or if IDs match only loosely."""
    sheet, geno = set(sheet_samples), set(geno_samples)
    overlap = len(sheet & geno)
    loose = {_normalized(s): s for s in sheet_samples if s not in geno}
    near = [(g, loose[_normalized(g)]) for g in geno_samples
            if g not in sheet and _normalized(g) in loose]
    if near:
        pairs = ", ".join(f"{g!r} ~ {p!r}" for g, p in near[:3])
        raise InputError(
            f"{phenotypes}: {len(near)} sample ID(s) match {genotypes} only after changing case "
            f"or trimming spaces ({pairs}); IDs are matched exactly, so fix them in the sheet"
        )
    if overlap == 0:
        raise InputError(
            f"{phenotypes}: none of its sample IDs appear in {genotypes}; check that both files "
            "describe the same cohort and use the same IDs"
        )
    return overlap


def check_sample_loss(geno_samples: list[str], sheet_samples: list[str], genotypes: str,
                      phenotypes: str, max_loss: float) -> None:
    """InputError if more than ``max_loss`` of the genotyped samples lack a sheet row, or of the
    sheet's samples lack genotypes (the analysis uses samples in both)."""
    sheet, geno = set(sheet_samples), set(geno_samples)
    no_sheet = [s for s in geno_samples if s not in sheet]
    no_geno = [s for s in sheet_samples if s not in geno]
    for lacking, total, source, other in ((no_sheet, len(geno_samples), genotypes, phenotypes),
                                          (no_geno, len(sheet_samples), phenotypes, genotypes)):
        if len(lacking) > max_loss * total:
            raise InputError(
                f"{other}: lacks {len(lacking)} of the {total} samples in {source} (more than "
                f"ingest.max_sample_loss = {max_loss:g}), e.g. {', '.join(map(repr, lacking[:3]))}"
                "; check that both files cover the same samples, or raise "
                "ingest.max_sample_loss to analyse only the samples in both"
            )


def file_record(path: Path) -> dict:
    """A manifest entry: ``{"path", "bytes", "sha256"}`` of the file ``path`` (SHA-256 of its
    bytes, hex: about 1.3 GB per CPU s with the CPU's SHA instructions, so a large file's time
    is its read from disk)."""
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256sum(path)}


def write_file_record(path: Path, out_json: Path) -> dict:
    """Write the :func:`file_record` of ``path`` to ``out_json``; return it."""
    record = file_record(Path(path))
    write_json(out_json, record)
    return record


def read_file_record(record_json: Path) -> dict:
    """The record :func:`write_file_record` wrote; InputError when its file is gone or has
    another size now (it changed after the checksum was taken)."""
    record = read_json(record_json)
    path = Path(record["path"])
    size = path.stat().st_size if path.is_file() else None
    if size != record["bytes"]:
        now = "is gone" if size is None else f"has {size} bytes"
        raise InputError(f"{path}: {now}, but {record['bytes']} when its checksum "
                         f"({record_json}) was taken: the file changed during the run; "
                         "rerun the workflow")
    return record


def validate_inputs(genotypes: str, phenotypes: str, diseases: list[str], covariates: list[str],
                    manifest_json: Path, max_sample_loss: float = 0.05,
                    imputed_records: list[dict] = ()) -> dict:
    """Check both inputs and write the manifest; return it. ``imputed_records`` (the
    :func:`file_record` of each file of the cohort's imputed dosages, which ``cohortgen
    plan-imputed`` checks) are listed after the genotype and phenotype files."""
    sheet = read_phenotypes(Path(phenotypes), diseases, covariates)
    check_covariates_known(sheet, covariates, Path(phenotypes))
    geno_samples = genotype_samples(genotypes)
    overlap = check_sample_overlap(geno_samples, sheet.index.tolist(), genotypes, phenotypes)
    check_sample_loss(geno_samples, sheet.index.tolist(), genotypes, phenotypes, max_sample_loss)
    files = [*genotype_files(genotypes), Path(phenotypes)]
    manifest = {
        "files": [*map(file_record, files), *imputed_records],
        "samples": {"genotypes": len(geno_samples), "phenotypes": len(sheet),
                    "both": overlap},
        "diseases": diseases,
        "covariates": covariates,
    }
    write_json(manifest_json, manifest)
    return manifest
