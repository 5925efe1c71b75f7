"""Any allele codes and non-primary contigs, ingest to gather (issues #11, #16).

A simulated PLINK fileset is rewritten with array allele codes (1/2, A/B, D/I on three of every
four variants) and extra rows on unplaced, alt and decoy contigs; every stage from ingest to the
GWAS-SSF gather runs in-process on it and on the same data with its ACGT alleles. QC and
association must be identical (exactly: the same genotypes go through the same arithmetic), the
extra contigs excluded at ingest with their reasons, and only nucleotide rows written to GWAS-SSF.
"""

import gzip
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from cohortgen.assoc.chunk import association_chunk
from cohortgen.assoc.gather import gather_gwas
from cohortgen.assoc.stage import fit_null_stage
from cohortgen.ingest.chunk import ingest_chunk
from cohortgen.ingest.plan import plan_chunks
from cohortgen.io.alleles import is_missing_allele, is_nucleotide, is_symbolic_allele
from cohortgen.io.bed import read_bed, write_bed
from cohortgen.io.files import read_tsv
from cohortgen.io.sumstats import NON_NUCLEOTIDE, read_gwas_ssf, untested_path_for
from cohortgen.prs.stage import match_score
from cohortgen.qc.genotypes import write_qc_genotypes
from cohortgen.qc.pruned import PruneSettings, select_pruned_set
from cohortgen.qc.sample_qc import SampleQcPaths, SampleSettings, preliminary_samples, sample_qc
from cohortgen.qc.summary import summarize_qc
from cohortgen.qc.variant_qc import VariantThresholds, variant_qc_chunk, write_repeated_ids
from cohortgen.qc.variant_stats import variant_stats_chunk
from cohortgen.simulate import simulate_cohort

BUILD = "GRCh38"
DISEASES = ["hypertension", "type2_diabetes"]
CODES = [None, ("1", "2"), ("A", "B"), ("D", "I")]
"""(A2, A1) codes by variant row modulo 4; None keeps the ACGT alleles."""
EXTRA_CONTIGS = {"chrUn_KI270302v1": "unplaced_contig", "chr1_KI270706v1_random":
                 "unplaced_contig", "0": "unplaced_contig", "chr6_GL000251v2_alt": "alt_contig",
                 "HLA-A*01:01:01:01": "alt_contig", "chrEBV": "decoy_contig",
                 "chrUn_JTFH01000001v1_decoy": "decoy_contig"}
"""Contigs of the extra rows and the reason ingest gives for excluding them."""


def run(*command):
    subprocess.run([str(c) for c in command], check=True, capture_output=True)


def run_stages(genotypes: Path, phenotypes: Path, root: Path) -> dict:
    """Plan, ingest, variant stats, pruned set, sample QC, variant QC, QC'd set, QC summary,
    null models, association and the GWAS-SSF gather of one cohort, as the workflow runs them."""
    root.mkdir()
    plan = plan_chunks(str(genotypes), 10**6)
    prefixes, tallies, partials, vqc = [], [], [], []
    for chunk in plan.itertuples():
        prefix = root / chunk.chunk_id
        prefixes.append(prefix)
        tallies.append(root / f"{chunk.chunk_id}.ingest.json")
        partials.append(root / f"{chunk.chunk_id}.npz")
        vqc.append(root / f"{chunk.chunk_id}.vqc.tsv")
        ingest_chunk(str(genotypes), chunk.contig, chunk.start, chunk.end, prefix, tallies[-1],
                     phenotypes)
        variant_stats_chunk(prefix, phenotypes, BUILD, partials[-1])
    fam = Path(f"{prefixes[0]}.fam")
    prelim = preliminary_samples(fam, partials, phenotypes, 0.95)
    select_pruned_set(prefixes, prelim, PruneSettings(genome_build=BUILD), root / "pruned",
                      root / "pruned.json")
    out = SampleQcPaths(root / "samples.tsv", root / "keep.txt", root / "pairs.tsv",
                        root / "pcs.tsv", root / "pca.json")
    sample_qc(fam, partials, phenotypes, DISEASES, ["age", "sex"], root / "pruned",
              SampleSettings(), out)
    write_repeated_ids([f"{p}.bim" for p in prefixes], root / "repeated.tsv")
    for prefix, path in zip(prefixes, vqc, strict=True):
        variant_qc_chunk(prefix, out.keep_txt, phenotypes, DISEASES,
                         VariantThresholds(0.95, 0.01, 1e-6, 0, 1e-5), BUILD,
                         root / "repeated.tsv", path)
    write_qc_genotypes(prefixes, vqc, out.keep_txt, root / "genotypes")
    summary = summarize_qc(tallies, out.samples_tsv, out.related_pairs_tsv, vqc,
                           root / "genotypes", root / "summary.json", root / "variants.tsv.gz")
    fit_null_stage(fam, out.keep_txt, phenotypes, DISEASES, ["age", "sex"], 10,
                   root / "null.tsv", root / "null.json", out.pcs_tsv)
    assoc = pd.concat([association_chunk(prefix, root / "null.tsv", root / "null.json", path,
                                         root / f"assoc_{prefix.name}")
                       for prefix, path in zip(prefixes, vqc, strict=True)], ignore_index=True)
    gwas = root / f"{DISEASES[0]}.tsv.gz"
    gather_gwas(DISEASES[0],
                [root / f"assoc_{p.name}" / f"{DISEASES[0]}.columns" for p in prefixes],
                root / "null.json", BUILD, gwas)
    return {"root": root, "summary": summary, "assoc": assoc, "samples": read_tsv(out.samples_tsv),
            "gwas": read_gwas_ssf(gwas), "meta": gwas.with_name(gwas.name + "-meta.yaml"),
            "untested": read_tsv(untested_path_for(gwas), dtype={"reason": str}),
            "variants": read_tsv(root / "variants.tsv.gz", dtype={"chrom": str, "id": str})}


def with_extra_contigs(prefix: Path, out: Path, recode: bool) -> None:
    """``prefix`` plus one row per :data:`EXTRA_CONTIGS` contig (copies of the first row), the
    alleles recoded by :data:`CODES` when ``recode``."""
    packed, bim, fam = read_bed(prefix)
    bim = bim.copy()
    if recode:
        for k, codes in enumerate(CODES):
            if codes is not None:
                bim.loc[k::len(CODES), ["a2", "a1"]] = codes
    extra = pd.DataFrame({"chrom": list(EXTRA_CONTIGS), "id": [f"x{k}" for k in
                                                              range(len(EXTRA_CONTIGS))],
                          "cm": 0.0, "pos": 1000, "a1": "T", "a2": "C"})
    rows = np.concatenate([packed, np.repeat(packed[:1], len(extra), axis=0)])
    write_bed(out, rows, pd.concat([bim, extra], ignore_index=True), fam)


def vcf_with_extra_contigs(vcf: Path, out: Path) -> Path:
    """``vcf`` plus, after its records, one record per :data:`EXTRA_CONTIGS` contig (a copy of
    the first record), declared in the header; bgzipped and indexed."""
    lines = gzip.open(vcf, "rt").read().splitlines()
    body = lines.index(next(line for line in lines if line.startswith("#CHROM")))
    first = lines[body + 1].split("\t")
    header = [*lines[:body], *[f"##contig=<ID={c},length=10000>" for c in EXTRA_CONTIGS]]
    extra = ["\t".join([contig, "1000", f"x{k}", *first[3:]])
             for k, contig in enumerate(EXTRA_CONTIGS)]
    plain = out.with_suffix("")
    plain.write_text("\n".join([*header, *lines[body:], *extra]) + "\n")
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


@pytest.fixture(scope="module")
def both_codings(tmp_path_factory, plink2):
    """The stages run on the ACGT fileset and on its recoded twin (module docstring)."""
    tmp = tmp_path_factory.mktemp("alleles")
    sim = simulate_cohort(tmp / "sim", 300, 1, 4.0, seed=11, n_related_pairs=4,
                          n_low_call_samples=3)
    run(plink2, "--vcf", sim["vcf"], "--make-bed", "--out", tmp / "vcf", "--threads", "1")
    with_extra_contigs(tmp / "vcf", tmp / "acgt", recode=False)
    with_extra_contigs(tmp / "vcf", tmp / "coded", recode=True)
    pheno = Path(sim["phenotypes"])
    return run_stages(tmp / "acgt", pheno, tmp / "run_acgt"), run_stages(tmp / "coded", pheno,
                                                                         tmp / "run_coded")


def read_plink2(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"ID": str, "REF": str, "ALT": str, "A1": str,
                                              "AX": str}).rename(columns=lambda c: c.lstrip("#"))


@pytest.mark.reference
def test_array_allele_codes__qc_and_association_equal_acgt(both_codings):
    acgt, coded = both_codings
    assert coded["summary"] == acgt["summary"]
    assert coded["summary"]["variants"]["kept"] > 500
    pd.testing.assert_frame_equal(coded["samples"], acgt["samples"], check_exact=True)
    drop = ["ref", "alt", "id"]
    pd.testing.assert_frame_equal(coded["variants"].drop(columns=drop),
                                  acgt["variants"].drop(columns=drop), check_exact=True)
    assert set(coded["variants"]["alt"]) >= {"2", "B", "I"}
    allele_columns = ["effect_allele", "other_allele", "variant_id"]
    assert (coded["assoc"]["status"] != "MONOMORPHIC").sum() > 500
    pd.testing.assert_frame_equal(coded["assoc"].drop(columns=allele_columns),
                                  acgt["assoc"].drop(columns=allele_columns), check_exact=True)
    assert set(coded["assoc"]["effect_allele"]) >= {"2", "B", "I"}


@pytest.mark.reference
def test_array_allele_codes__variant_qc_matches_plink2_on_the_coded_fileset(both_codings,
                                                                           plink2):
    """PLINK 2 reads the coded fileset (chromosome 1) as we do: per variant the same ALT code,
    ALT frequency (--freq) and HWE mid-p (--hardy midp) over the kept samples, within PLINK 2's
    6 printed significant digits (5e-6 absolute on frequencies, relative on p-values)."""
    _, coded = both_codings
    root = coded["root"]
    run(plink2, "--bfile", root.parent / "coded", "--allow-extra-chr", "--chr", "1", "--keep",
        root / "keep.txt", "--freq", "--hardy", "midp", "--out", root / "p2", "--threads", "1")
    ours = coded["variants"].set_index("id")
    freq = read_plink2(root / "p2.afreq").set_index("ID")
    hardy = read_plink2(root / "p2.hardy").set_index("ID")
    ours = ours.loc[freq.index]
    assert (freq["ALT"] == ours["alt"]).all()
    assert set(freq["ALT"]) >= {"2", "B", "I"}
    np.testing.assert_allclose(ours["alt_freq"], freq["ALT_FREQS"], rtol=0, atol=5e-6)
    hwe = hardy.loc[freq.index, "P"] if "P" in hardy else hardy.loc[freq.index, "MIDP"]
    np.testing.assert_allclose(ours["hwe_midp"], hwe, rtol=5e-6, atol=1e-300)


@pytest.mark.reference
def test_array_allele_codes__gwas_ssf_keeps_nucleotide_rows_and_lists_others(both_codings):
    acgt, coded = both_codings
    nucleotide = acgt["gwas"]["variant_id"].isin(
        coded["gwas"]["variant_id"]).to_numpy()
    pd.testing.assert_frame_equal(coded["gwas"].reset_index(drop=True),
                                  acgt["gwas"].loc[nucleotide].reset_index(drop=True),
                                  check_exact=True)
    n_coded = len(acgt["gwas"]) - len(coded["gwas"])
    assert n_coded > 2 * len(coded["gwas"]) > 500  # three of four rows are coded
    assert (coded["untested"]["reason"] == NON_NUCLEOTIDE).sum() == n_coded
    assert (acgt["untested"]["reason"] != NON_NUCLEOTIDE).all()


@pytest.mark.reference
def test_extra_contigs__excluded_at_ingest_with_reasons_in_the_funnel(both_codings):
    for result in both_codings:
        excluded = result["summary"]["ingest"]["records_excluded"]
        assert excluded == {"alt_contig": 2, "decoy_contig": 2, "unplaced_contig": 3}


@pytest.mark.reference
def test_extra_contigs__vcf_input_runs_to_gather_as_plink_input(both_codings):
    """The simulated VCF with the same extra contigs: excluded at ingest with their reasons,
    and association results identical to the PLINK fileset's (which PLINK 2 made from it)."""
    acgt, _ = both_codings
    tmp = acgt["root"].parent
    vcf = vcf_with_extra_contigs(tmp / "sim" / "genotypes.vcf.gz", tmp / "extra.vcf.gz")
    result = run_stages(vcf, tmp / "sim" / "phenotypes.tsv", tmp / "run_vcf")
    assert result["summary"]["ingest"]["records_excluded"] == {
        "alt_contig": 2, "decoy_contig": 2, "unplaced_contig": 3}
    assert result["summary"]["variants"] == acgt["summary"]["variants"]
    pd.testing.assert_frame_equal(result["assoc"].drop(columns="variant_id"),
                                  acgt["assoc"].drop(columns="variant_id"), check_exact=True)
    assert len(result["gwas"]) == len(acgt["gwas"]) > 500


@pytest.mark.parametrize(("allele", "missing", "symbolic", "nucleotide"), [
    ("A", False, False, True), ("ACGT", False, False, True), ("1", False, False, False),
    ("B", False, False, False), ("I", False, False, False), ("a", False, False, False),
    ("N", False, False, False), ("0", True, False, False), (".", True, True, False),
    ("", True, True, False), ("<DEL>", False, True, False), ("*", False, True, False),
    ("G]17:198982]", False, True, False), ("[13:123456[T", False, True, False)])
def test_allele_predicates__codes(allele, missing, symbolic, nucleotide):
    assert is_missing_allele(allele) is missing
    assert is_symbolic_allele(allele) is symbolic
    assert is_nucleotide(allele) is nucleotide


def test_match_score__array_coded_variants_are_not_matched_but_counted(tmp_path):
    """A cohort A/B variant is not strand-matched to a score's A (other allele unknown): only
    nucleotide variants are matched, the others counted; rows map back to the full table."""
    path = tmp_path / "score.txt"
    path.write_text("###PGS CATALOG SCORING FILE\n#format_version=2.0\n#genome_build=GRCh38\n"
                    "chr_name\tchr_position\teffect_allele\teffect_weight\n"
                    "1\t100\tA\t0.5\n1\t200\tA\t0.2\n1\t300\tG\t0.1\n")
    variants = pd.DataFrame({"chrom": "1", "pos": [200, 300, 100], "ref": ["A", "1", "G"],
                             "alt": ["B", "2", "A"], "alt_freq": 0.3, "pass": True,
                             "score_pass": True})
    result, record = match_score(path, variants, BUILD, 0.0, False)
    assert result.lines["status"].tolist() == ["same", "missing", "missing"]
    assert result.lines["variant"].tolist() == [2, -1, -1]
    assert record["cohort_variants_not_nucleotide"] == 2
