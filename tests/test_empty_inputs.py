"""Stages whose input ends up empty stop with an InputError naming the cause (issue #11).

No variant passes ingest, no autosomal variant, no sample fit for QC, no pruned variant, too few
samples for the PCA, no sample kept: each is a clear error, never a NumPy traceback.
"""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortgen.errors import InputError
from cohortgen.ingest.chunk import ingest_chunk
from cohortgen.io.bed import read_bed, write_bed
from cohortgen.qc.pca import PcaSettings
from cohortgen.qc.pruned import PruneSettings, select_pruned_set
from cohortgen.qc.sample_qc import (
    SampleQcPaths,
    SampleSettings,
    check_kept,
    check_pca_input,
    preliminary_samples,
    sample_qc,
)
from cohortgen.qc.summary import check_variants_ingested
from cohortgen.qc.variant_stats import variant_stats_chunk
from cohortgen.simulate import simulate_cohort

BUILD = "GRCh38"
DISEASES = ["hypertension"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, plink2):
    """A small simulated PLINK fileset (120 samples, one chromosome) and its sheet."""
    tmp = tmp_path_factory.mktemp("empty")
    sim = simulate_cohort(tmp / "sim", 120, 1, 2.0, seed=5, n_related_pairs=2,
                          n_low_call_samples=2)
    subprocess.run([plink2, "--vcf", sim["vcf"], "--make-bed", "--out", str(tmp / "g"),
                    "--threads", "1"], check=True, capture_output=True)
    return tmp / "g", Path(sim["phenotypes"])


def ingested(genotypes: Path, phenotypes: Path, root: Path, contig: str = "1"):
    """Ingest and variant statistics of one whole-contig chunk: (prefix, tally, partials)."""
    root.mkdir(exist_ok=True)
    prefix, tally, partials = root / "c1", root / "c1.ingest.json", root / "c1.npz"
    ingest_chunk(str(genotypes), contig, 1, 10**9, prefix, tally, phenotypes)
    variant_stats_chunk(prefix, phenotypes, BUILD, partials)
    return prefix, tally, partials


def rewritten(prefix: Path, out: Path, **columns) -> Path:
    """A copy of the fileset with .bim columns replaced."""
    packed, bim, fam = read_bed(prefix)
    write_bed(out, packed, bim.assign(**columns), fam)
    return out


def qc_paths(root: Path) -> SampleQcPaths:
    return SampleQcPaths(root / "s.tsv", root / "k.txt", root / "p.tsv", root / "pcs.tsv",
                         root / "pca.json")


@pytest.mark.parametrize(("columns", "reason"), [
    ({"chrom": "chrUn_KI270302v1"}, "unplaced_contig: "),
    ({"a1": "<DEL>"}, "symbolic_allele: "),
    ({"a1": "0"}, "no_alt_allele: ")])
def test_check_variants_ingested__no_variant_names_the_reasons(cohort, tmp_path, columns,
                                                               reason):
    genotypes = rewritten(cohort[0], tmp_path / "in", **columns)
    contig = columns.get("chrom", "1")
    _, tally, _ = ingested(genotypes, cohort[1], tmp_path / "run", contig)
    with pytest.raises(InputError, match="no variant passed ingest") as info:
        check_variants_ingested([tally])
    assert reason in str(info.value)
    assert "ingest.json" in str(info.value)


def test_preliminary_samples__no_autosomal_variant(cohort, tmp_path):
    genotypes = rewritten(cohort[0], tmp_path / "in", chrom="Y")
    prefix, tally, partials = ingested(genotypes, cohort[1], tmp_path / "run", "Y")
    check_variants_ingested([tally])  # Y variants were written
    with pytest.raises(InputError, match=r"c1\.fam: no autosomal variant reached sample QC"):
        preliminary_samples(Path(f"{prefix}.fam"), [partials], cohort[1], 0.95)


def test_preliminary_samples__no_sample_in_the_sheet(cohort, tmp_path):
    prefix, _, partials = ingested(cohort[0], cohort[1], tmp_path / "run")
    sheet = pd.read_csv(cohort[1], sep="\t", dtype=str)
    sheet["sample_id"] = "other_" + sheet["sample_id"]
    sheet.to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"no sample is fit for sample QC: 0 of 120 samples are "
                                         r"in the phenotype sheet"):
        preliminary_samples(Path(f"{prefix}.fam"), [partials], tmp_path / "sheet.tsv", 0.95)


def test_preliminary_samples__no_sample_with_the_call_rate(cohort, tmp_path):
    prefix, _, partials = ingested(cohort[0], cohort[1], tmp_path / "run")
    with pytest.raises(InputError, match=r"120 of 120 samples are in the phenotype sheet and "
                                         r"0 have an autosomal call rate >= 1\.01"):
        preliminary_samples(Path(f"{prefix}.fam"), [partials], cohort[1], 1.01)


def test_select_pruned_set__no_common_variant(cohort, tmp_path):
    prefix, _, partials = ingested(cohort[0], cohort[1], tmp_path / "run")
    prelim = preliminary_samples(Path(f"{prefix}.fam"), [partials], cohort[1], 0.95)
    with pytest.raises(InputError, match=r"only 0 autosomal common variants survive"):
        select_pruned_set([prefix], prelim, PruneSettings(min_maf=0.6, genome_build=BUILD),
                          tmp_path / "pruned", tmp_path / "pruned.json")


def pruned_run(cohort, root: Path):
    prefix, _, partials = ingested(cohort[0], cohort[1], root)
    prelim = preliminary_samples(Path(f"{prefix}.fam"), [partials], cohort[1], 0.95)
    select_pruned_set([prefix], prelim, PruneSettings(genome_build=BUILD), root / "pruned",
                      root / "pruned.json")
    return prefix, partials


def test_sample_qc__too_few_samples_for_pca(cohort, tmp_path):
    prefix, partials = pruned_run(cohort, tmp_path)
    settings = SampleSettings(het_sd=0.0)  # every sample is a heterozygosity outlier
    with pytest.raises(InputError, match=r"pruned: ancestry PCA needs at least 2 unrelated "
                                         r"samples .* there are 0 and \d+"):
        sample_qc(Path(f"{prefix}.fam"), [partials], cohort[1], DISEASES, ["age", "sex"],
                  tmp_path / "pruned", settings, qc_paths(tmp_path))


def test_sample_qc__no_sample_kept_counts_reasons(cohort, tmp_path):
    prefix, partials = pruned_run(cohort, tmp_path)
    settings = SampleSettings(pca_outlier_action="remove", pca=PcaSettings(outlier_sd=0.0))
    with pytest.raises(InputError, match=r"c1\.fam: sample QC removed all 120 samples \(.*"
                                         r"pca_outlier: \d+"):
        sample_qc(Path(f"{prefix}.fam"), [partials], cohort[1], DISEASES, ["age", "sex"],
                  tmp_path / "pruned", settings, qc_paths(tmp_path))
    assert not qc_paths(tmp_path).keep_txt.exists()


def test_check_pca_input__no_variant():
    with pytest.raises(InputError, match=r"p: ancestry PCA .* there are 50 and 0"):
        check_pca_input(Path("p"), 50, 0)


def test_check_kept__some_kept_passes():
    check_kept(Path("f.fam"), np.array(["", "related"], dtype=object))
