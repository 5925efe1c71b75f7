"""Ingest stage: sample matching, chunk plans that cover every record exactly once (.tbi, .csi,
PLINK prefix), and chunked ingest against PLINK 2's own VCF import."""

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import cyvcf2
import numpy as np
import pandas as pd
import pysam
import pytest
from conftest import require_tool

from cohortgen.errors import InputError
from cohortgen.ingest.chunk import IngestRules, fam_for_samples, ingest_chunk
from cohortgen.ingest.plan import plan_chunks
from cohortgen.ingest.validate import check_sample_loss, check_sample_overlap, validate_inputs
from cohortgen.io.bed import read_bed, write_bed
from cohortgen.io.files import read_json
from cohortgen.kernels.bed import MISSING, pack_dosages, unpack_dosages
from cohortgen.simulate import DISEASES, simulate_cohort

TINY = {
    "n_samples": 120,
    "n_chromosomes": 2,
    "chromosome_mb": 2.0,
    "seed": 5,
    "n_related_pairs": 3,
    "n_low_call_samples": 2,
}
PER_CHUNK = 300


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict:
    """A tiny simulated cohort (VCF + .tbi, phenotype sheet)."""
    return simulate_cohort(tmp_path_factory.mktemp("cohort"), **TINY)


def vcf_records(path) -> list[tuple[str, int, str, str]]:
    """(chrom, pos, ref, alt) of every record, read straight through (no index)."""
    return [(v.CHROM, v.POS, v.REF, v.ALT[0]) for v in cyvcf2.VCF(str(path))]


def vcf_alt_dosages(path) -> np.ndarray:
    """int8 (n_records, n_samples) ALT dosage, MISSING where any allele is missing."""
    rows = []
    for record in cyvcf2.VCF(str(path)):
        gt = record.genotype.array()[:, :2]
        rows.append(np.where((gt < 0).any(axis=1), MISSING, (gt == 1).sum(axis=1)))
    return np.array(rows, dtype=np.int8)


def ingest_all(genotypes, plan, out_dir: Path):
    """Ingest every chunk of ``plan``; return (bim, dosages, fam, tallies), chunks concatenated."""
    bims, dosages, tallies = [], [], []
    for row in plan.itertuples():
        prefix = out_dir / row.chunk_id
        tallies.append(
            ingest_chunk(
                str(genotypes),
                row.contig,
                row.start,
                row.end,
                prefix,
                out_dir / f"{row.chunk_id}.json",
            )
        )
        packed, bim, fam = read_bed(prefix)
        bims.append(bim)
        dosages.append(unpack_dosages(packed, len(fam)))
    return pd.concat(bims, ignore_index=True), np.concatenate(dosages), fam, tallies


def assert_covers_every_record_once(genotypes, reference, out_dir, plan=None):
    plan = plan_chunks(str(genotypes), PER_CHUNK) if plan is None else plan
    bim, dosage, fam, tallies = ingest_all(genotypes, plan, out_dir)
    records = vcf_records(reference)
    assert plan.groupby("contig").size().min() >= 3, plan  # several chunks per contig
    assert list(zip(bim.chrom, bim.pos, bim.a2, bim.a1, strict=True)) == records
    assert sum(t["records_in"] for t in tallies) == len(records)
    assert all(t["records_in"] == t["records_kept"] for t in tallies)
    np.testing.assert_array_equal(dosage, vcf_alt_dosages(reference))
    assert fam["iid"].tolist() == list(cyvcf2.VCF(str(reference)).samples)
    return plan


def test_plan_chunks__tbi_covers_every_record_once(cohort, tmp_path):
    plan = assert_covers_every_record_once(cohort["vcf"], cohort["vcf"], tmp_path)
    assert plan["chunk_id"].is_unique
    for _, chunks in plan.groupby("contig"):
        assert chunks["start"].iloc[0] == 1
        assert (chunks["start"].to_numpy()[1:] == chunks["end"].to_numpy()[:-1] + 1).all()


@pytest.mark.parametrize("indexer", ["pysam", "bcftools"])
def test_plan_chunks__csi_covers_every_record_once(cohort, tmp_path, indexer):
    vcf = tmp_path / "csi.vcf.gz"
    shutil.copy(cohort["vcf"], vcf)
    if indexer == "pysam":
        pysam.tabix_index(str(vcf), preset="vcf", csi=True, force=True)
    else:
        subprocess.run([require_tool("bcftools"), "index", "--csi", str(vcf)], check=True)
    assert not Path(f"{vcf}.tbi").exists()
    assert_covers_every_record_once(vcf, cohort["vcf"], tmp_path)


def test_plan_chunks__bcf_without_contig_lengths(cohort, tmp_path):
    bcftools = require_tool("bcftools")
    header = subprocess.run(
        [bcftools, "view", "-h", str(cohort["vcf"])], check=True, capture_output=True, text=True
    ).stdout
    stripped = tmp_path / "header.txt"
    stripped.write_text(
        "".join(
            line.split(",length=")[0] + ">\n" if line.startswith("##contig") else line + "\n"
            for line in header.splitlines()
        )
    )
    bcf = tmp_path / "nolength.bcf"
    subprocess.run(
        [
            "bcftools",
            "reheader",
            "-h",
            str(stripped),
            "-o",
            str(tmp_path / "r.vcf.gz"),
            str(cohort["vcf"]),
        ],
        check=True,
    )
    subprocess.run(
        ["bcftools", "view", "-Ob", "-o", str(bcf), str(tmp_path / "r.vcf.gz")], check=True
    )
    subprocess.run(["bcftools", "index", str(bcf)], check=True)
    plan = assert_covers_every_record_once(bcf, cohort["vcf"], tmp_path)
    assert set(plan["contig"]) == {"1", "2"}


def test_plan_chunks__csi_last_record_in_higher_level_bin(tmp_path):
    """With no contig length in the header, a deletion spanning a 16 kb leaf boundary (indexed
    in a higher-level CSI bin) after the last leaf must still fall inside the plan."""
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB",
        "1\t100\t.\tA\tC\t.\t.\t.\tGT\t0/1\t1/1",
        f"1\t32760\t.\t{'A' * 20}\tA\t.\t.\t.\tGT\t0/0\t0/1",
    ]
    plain = tmp_path / "del.vcf"
    plain.write_text("\n".join(lines) + "\n")
    vcf = Path(pysam.tabix_index(str(plain), preset="vcf", csi=True, force=True))
    plan = plan_chunks(str(vcf), 1)
    assert plan["end"].max() >= 32760
    _, _, _, tallies = ingest_all(vcf, plan, tmp_path)
    assert sum(t["records_kept"] for t in tallies) == 2


def test_plan_chunks__variants_per_chunk_must_be_positive(cohort):
    with pytest.raises(InputError, match="variants_per_chunk"):
        plan_chunks(cohort["vcf"], 0)


def plink2_import(plink2, vcf, out: Path) -> Path:
    """PLINK 2's own import of ``vcf``: IIDs are the VCF sample IDs (FID 0, no '_' in the IDs)."""
    subprocess.run(
        [plink2, "--vcf", str(vcf), "--vcf-half-call", "missing", "--make-bed", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


def alt_dosages(packed, bim, n_samples, ref_alt) -> np.ndarray:
    """ALT dosage of each (ref, alt) in ``ref_alt``; flips rows where the .bim's A1 is REF."""
    dosage = unpack_dosages(packed, n_samples)
    swapped = np.array(
        [(a1, a2) == (ref, alt) for a1, a2, (ref, alt) in zip(bim.a1, bim.a2, ref_alt, strict=True)]
    )
    flipped = np.where(dosage == MISSING, MISSING, 2 - dosage)
    return np.where(swapped[:, None], flipped, dosage).astype(np.int8)


@pytest.mark.reference
def test_ingest_chunk__matches_plink2(cohort, tmp_path, plink2):
    vcf = cohort["vcf"]
    bim, dosage, fam, _ = ingest_all(vcf, plan_chunks(str(vcf), PER_CHUNK), tmp_path)
    packed, ref_bim, ref_fam = read_bed(plink2_import(plink2, vcf, tmp_path / "plink2"))
    # plink2 .bim: chrom, id, cm, pos, A1 (ALT), A2 (REF); compare allele sets, then ALT dosage
    assert list(zip(ref_bim.chrom, ref_bim.pos, strict=True)) == list(
        zip(bim.chrom, bim.pos, strict=True)
    )
    ours = list(zip(bim.a2, bim.a1, strict=True))
    assert [set(pair) for pair in zip(ref_bim.a1, ref_bim.a2, strict=True)] == [
        set(pair) for pair in ours
    ]
    assert ref_fam["iid"].tolist() == fam["iid"].tolist()
    np.testing.assert_array_equal(alt_dosages(packed, ref_bim, len(ref_fam), ours), dosage)
    assert (dosage == MISSING).any()


@pytest.mark.reference
def test_ingest_chunk__haploid_and_half_calls_match_plink2(tmp_path, plink2):
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=10000>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD",
        "1\t100\tv1\tA\tC\t.\t.\t.\tGT\t1\t0\t.\t0/1",
        "1\t200\tv2\tG\tT\t.\t.\t.\tGT\t./1\t1/.\t1|1\t0|0",
        "1\t300\tv3\tG\tT\t.\t.\t.\tGT\t1\t1\t0\t.",
    ]
    plain = tmp_path / "hap.vcf"
    plain.write_text("\n".join(lines) + "\n")
    vcf = pysam.tabix_index(str(plain), preset="vcf", force=True)
    bim, dosage, _, _ = ingest_all(vcf, plan_chunks(vcf, 100), tmp_path)
    packed, ref_bim, ref_fam = read_bed(plink2_import(plink2, vcf, tmp_path / "plink2"))
    expected = alt_dosages(packed, ref_bim, len(ref_fam), list(zip(bim.a2, bim.a1, strict=True)))
    np.testing.assert_array_equal(dosage, expected)
    np.testing.assert_array_equal(
        dosage, [[2, 0, MISSING, 1], [MISSING, MISSING, 2, 0], [2, 2, 0, MISSING]]
    )


@pytest.mark.reference
def test_plan_chunks__plink_prefix(cohort, tmp_path, plink2):
    prefix = plink2_import(plink2, cohort["vcf"], tmp_path / "fileset")
    plan = plan_chunks(str(prefix), PER_CHUNK)
    assert plan.groupby("contig").size().min() >= 3
    assert plan["n_variants"].sum() == len(vcf_records(cohort["vcf"]))
    bim, dosage, fam, tallies = ingest_all(prefix, plan, tmp_path)
    packed, ref_bim, ref_fam = read_bed(prefix)
    pd.testing.assert_frame_equal(bim, ref_bim)
    np.testing.assert_array_equal(dosage, unpack_dosages(packed, len(ref_fam)))
    assert fam["iid"].tolist() == ref_fam["iid"].tolist()
    assert sum(t["records_in"] for t in tallies) == len(ref_bim)


def test_plan_chunks__unsorted_plink_bim(tmp_path):
    rng = np.random.default_rng(1)
    n_variants, n_samples = 50, 9
    bim = pd.DataFrame(
        {
            "chrom": ["1"] * 20 + ["2"] * 10 + ["1"] * 20,
            "id": [f"v{k}" for k in range(n_variants)],
            "cm": 0.0,
            "pos": rng.permutation(np.arange(1, n_variants + 1) * 10),
            "a1": "A",
            "a2": "G",
        }
    )
    fam = pd.DataFrame(
        {
            "fid": "0",
            "iid": [f"s{k}" for k in range(n_samples)],
            "father": "0",
            "mother": "0",
            "sex": 0,
            "pheno": "-9",
        }
    )
    dosage = rng.integers(-1, 3, size=(n_variants, n_samples)).astype(np.int8)
    write_bed(tmp_path / "in", pack_dosages(dosage), bim, fam)
    plan = plan_chunks(str(tmp_path / "in"), 7)
    out, got, _, _ = ingest_all(tmp_path / "in", plan, tmp_path)
    assert sorted(out["id"]) == sorted(bim["id"])
    order = bim.reset_index().set_index("id").loc[out["id"], "index"].to_numpy()
    np.testing.assert_array_equal(got, dosage[order])
    assert (out["chrom"].to_numpy() == bim["chrom"].to_numpy()[order]).all()


def test_check_sample_overlap__exact_matches_counted():
    assert check_sample_overlap(["A", "B", "C"], ["B", "C", "D"], "g.vcf.gz", "p.tsv") == 2


@pytest.mark.parametrize(("geno", "sheet"), [("S001", "s001"), ("S001", "S001 "), ("ab", " AB")])
def test_check_sample_overlap__loose_match(geno, sheet):
    with pytest.raises(InputError) as info:
        check_sample_overlap(["X1", geno], ["X1", sheet], "g.vcf.gz", "p.tsv")
    message = str(info.value)
    assert "p.tsv" in message
    assert "g.vcf.gz" in message
    assert f"{geno!r} ~ {sheet!r}" in message


def test_check_sample_overlap__no_overlap():
    with pytest.raises(InputError, match=r"p\.tsv: none of its sample IDs appear in g\.vcf\.gz"):
        check_sample_overlap(["A", "B"], ["C", "D"], "g.vcf.gz", "p.tsv")


def test_check_sample_overlap__large_cohort_is_fast():
    geno = [f"S{k:06d}" for k in range(50_000)]
    assert check_sample_overlap(geno, geno[::-1], "g.vcf.gz", "p.tsv") == 50_000


def test_validate_inputs__writes_manifest(cohort, tmp_path):
    manifest = validate_inputs(
        cohort["vcf"], cohort["phenotypes"], list(DISEASES), ["age"], tmp_path / "manifest.json"
    )
    assert manifest["samples"] == {
        "genotypes": TINY["n_samples"],
        "phenotypes": TINY["n_samples"],
        "both": TINY["n_samples"],
    }
    assert read_json(tmp_path / "manifest.json") == manifest
    assert "S00001" not in (tmp_path / "manifest.json").read_text()


def test_validate_inputs__case_mismatch(cohort, tmp_path):
    sheet = tmp_path / "lower.tsv"
    sheet.write_text(Path(cohort["phenotypes"]).read_text().replace("S0", "s0"))
    with pytest.raises(InputError) as info:
        validate_inputs(cohort["vcf"], sheet, list(DISEASES), ["age"], tmp_path / "m.json")
    assert "'S00001' ~ 's00001'" in str(info.value)
    assert str(sheet) in str(info.value)


def test_validate_inputs__no_overlap(cohort, tmp_path):
    sheet = tmp_path / "other.tsv"
    sheet.write_text(Path(cohort["phenotypes"]).read_text().replace("S0", "P0"))
    with pytest.raises(InputError, match="none of its sample IDs"):
        validate_inputs(cohort["vcf"], sheet, list(DISEASES), ["age"], tmp_path / "m.json")


def small_vcf(tmp_path, records, contigs=("1",), samples=("A", "B", "C", "D"), name="s.vcf"):
    """bgzip + tabix a VCF of ``records`` (tab-separated strings)."""
    header = ["##fileformat=VCFv4.2",
              *[f"##contig=<ID={c},length=200000000>" for c in contigs],
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                         *samples])]
    plain = tmp_path / name
    plain.write_text("\n".join(header + list(records)) + "\n")
    return pysam.tabix_index(str(plain), preset="vcf", force=True)


def sex_sheet(tmp_path, sexes: dict) -> Path:
    """A phenotype sheet with only sample_id and sex (NA for unknown)."""
    path = tmp_path / "sex.tsv"
    path.write_text("sample_id\tsex\n" + "".join(f"{s}\t{x or 'NA'}\n" for s, x in sexes.items()))
    return path


def plink2_sex_import(plink2, vcf, sexes: dict, out: Path, *extra) -> Path:
    """PLINK 2's import with sexes, PAR split (b38) and haploid hets set missing."""
    update = out.with_suffix(".sex")
    update.write_text("#IID\tSEX\n" + "".join(f"{s}\t{x}\n" for s, x in sexes.items()))
    subprocess.run([plink2, "--vcf", str(vcf), "--vcf-half-call", "missing", "--update-sex",
                    str(update), "--split-par", "b38", "--set-hh-missing", *extra,
                    "--make-bed", "--out", str(out)], check=True, capture_output=True)
    return out


@pytest.mark.reference
def test_ingest_chunk__simulated_chrx_matches_plink2(tmp_path, plink2):
    cohort = simulate_cohort(tmp_path / "x", **{**TINY, "n_chromosomes": 1, "x_mb": 3.5})
    sheet = pd.read_csv(cohort["phenotypes"], sep="\t", dtype={"sample_id": str})
    sexes = dict(zip(sheet["sample_id"], sheet["sex"], strict=True))
    plan = plan_chunks(cohort["vcf"], 400)
    x_plan = plan[plan["contig"] == "X"]
    tallies = [ingest_chunk(cohort["vcf"], r.contig, r.start, r.end, tmp_path / r.chunk_id,
                            tmp_path / f"{r.chunk_id}.json", cohort["phenotypes"])
               for r in x_plan.itertuples()]
    ours = [read_bed(tmp_path / c) for c in x_plan["chunk_id"]]
    dosage = np.concatenate([unpack_dosages(p, len(f)) for p, _, f in ours])
    packed, ref_bim, ref_fam = read_bed(plink2_sex_import(plink2, cohort["vcf"], sexes,
                                                          tmp_path / "p2"))
    on_x = ref_bim["chrom"].isin(["X", "PAR1"]).to_numpy()
    assert set(ref_bim["chrom"][on_x]) == {"X", "PAR1"}  # both PAR1 and non-PAR variants
    np.testing.assert_array_equal(unpack_dosages(packed, len(ref_fam))[on_x], dosage)
    assert ours[0][2]["sex"].tolist() == ref_fam["sex"].tolist()
    assert sum(t["records_kept"] for t in tallies) == on_x.sum()


@pytest.mark.reference
def test_ingest_chunk__y_mt_and_male_hets_match_plink2(tmp_path, plink2):
    records = ["X\t50000\tpar\tA\tC\t.\t.\t.\tGT\t0/1\t0/1\t1/1\t0/1",
               "X\t5000000\tx1\tA\tC\t.\t.\t.\tGT\t0/1\t1\t0/1\t0/1",
               "X\t5000100\tx2\tA\tC\t.\t.\t.\tGT\t./1\t1\t0\t1/1",
               "Y\t5000000\ty1\tA\tC\t.\t.\t.\tGT\t1\t0/1\t1\t1",
               "Y\t5000100\ty2\tA\tC\t.\t.\t.\tGT\t0\t0\t0/1\t0/1",
               "MT\t100\tm1\tA\tC\t.\t.\t.\tGT\t0/1\t1\t0/1\t0/1"]
    vcf = small_vcf(tmp_path, records, contigs=("X", "Y", "MT"))
    sexes = {"A": 1, "B": 1, "C": 2, "D": 0}
    sheet = sex_sheet(tmp_path, sexes)
    dosages, tallies = [], Counter()
    for contig in ("X", "Y", "MT"):
        tally = ingest_chunk(vcf, contig, 1, 200_000_000, tmp_path / contig,
                             tmp_path / f"{contig}.json", sheet)
        packed, _, fam = read_bed(tmp_path / contig)
        dosages.append(unpack_dosages(packed, 4))
        tallies.update(tally["genotypes_changed"])
    ref = read_bed(plink2_sex_import(plink2, vcf, sexes, tmp_path / "p2",
                                     "--set-mixed-mt-missing"))
    np.testing.assert_array_equal(np.concatenate(dosages), unpack_dosages(ref[0], 4))
    assert fam["sex"].tolist() == [1, 1, 2, 0]
    assert dict(tallies) == {"het_haploid_set_missing": 3, "female_y_set_missing": 2,
                             "mixed_mt_set_missing": 3, "half_calls_missing": 1}


@pytest.mark.reference
@pytest.mark.parametrize("mode", ["missing", "haploid", "reference"])
def test_ingest_chunk__half_call_modes_match_plink2(tmp_path, plink2, mode):
    vcf = small_vcf(tmp_path, ["1\t100\tv1\tA\tC\t.\t.\t.\tGT\t./1\t1/.\t./0\t0/1",
                               "1\t200\tv2\tA\tC\t.\t.\t.\tGT\t.|0\t1|1\t./.\t1"])
    ingest_chunk(vcf, "1", 1, 1000, tmp_path / "o", tmp_path / "o.json",
                 rules=IngestRules(half_calls=mode))
    subprocess.run([plink2, "--vcf", vcf, "--vcf-half-call", mode, "--make-bed", "--out",
                    str(tmp_path / "p2")], check=True, capture_output=True)
    packed, bim, fam = read_bed(tmp_path / "p2")
    ours = unpack_dosages(read_bed(tmp_path / "o")[0], 4)
    np.testing.assert_array_equal(ours, alt_dosages(packed, bim, 4, [("A", "C")] * 2))
    assert read_json(tmp_path / "o.json")["genotypes_changed"] == {f"half_calls_{mode}": 4}


def test_ingest_chunk__half_call_error_names_the_record(tmp_path):
    vcf = small_vcf(tmp_path, ["1\t100\tv1\tA\tC\t.\t.\t.\tGT\t0/0\t0/1\t1/1\t0/1",
                               "1\t200\tv2\tA\tC\t.\t.\t.\tGT\t./1\t0/1\t1/1\t0/1"])
    with pytest.raises(InputError, match=r"s\.vcf\.gz: record 1:200 has 1 half-call"):
        ingest_chunk(vcf, "1", 1, 1000, tmp_path / "o", tmp_path / "o.json",
                     rules=IngestRules(half_calls="error"))


@pytest.mark.reference
def test_ingest_chunk__multiallelic_split_matches_bcftools_norm(tmp_path, plink2):
    require_tool("bcftools")
    records = ["1\t100\trs1\tA\tC,G\t.\t.\t.\tGT\t1/2\t0/2\t2/2\t./1",
               "1\t200\trs2\tAT\tA,<DEL>,ATT\t.\t.\t.\tGT\t0/1\t3/3\t1/2\t0/0",
               "1\t300\trs3\tG\tT\t.\t.\t.\tGT\t0/1\t1/1\t0/0\t./.",
               "1\t400\trs4\tG\t<DEL>,*\t.\t.\t.\tGT\t0/1\t1/1\t0/0\t./."]
    vcf = small_vcf(tmp_path, records)
    tally = ingest_chunk(vcf, "1", 1, 1000, tmp_path / "o", tmp_path / "o.json",
                         rules=IngestRules(multiallelic="split"))
    packed, bim, fam = read_bed(tmp_path / "o")
    assert bim["id"].tolist() == ["1:100:A:C", "1:100:A:G", "1:200:AT:A", "1:200:AT:ATT", "rs3"]
    assert tally["records_in"] == 4
    assert tally["records_kept"] + sum(tally["records_excluded"].values()) == 4
    assert tally["records_excluded"] == {"symbolic_allele": 1}
    assert tally["multiallelic_split"] == {"records": 2, "symbolic_alts_dropped": 1}
    assert tally["variants_written"] == len(bim) == 5
    split = tmp_path / "split.vcf.gz"
    subprocess.run(["bcftools", "norm", "-m-", "-Oz", "-o", str(split), vcf], check=True,
                   capture_output=True)
    subprocess.run([plink2, "--vcf", str(split), "--vcf-half-call", "missing", "--snps-only",
                    "just-acgt", "--make-bed", "--out", str(tmp_path / "p2")], check=False,
                   capture_output=True)
    ref_packed, ref_bim, _ = read_bed(tmp_path / "p2")
    ours = unpack_dosages(packed, 4)
    ref = alt_dosages(ref_packed, ref_bim, 4, list(zip(ref_bim.a2, ref_bim.a1, strict=True)))
    keys = list(zip(bim.pos, bim.a1, strict=True))
    for row, key in enumerate(zip(ref_bim.pos, ref_bim.a1, strict=True)):
        np.testing.assert_array_equal(ours[keys.index(key)], ref[row], err_msg=str(key))
    assert len(ref_bim) >= 3


def test_ingest_chunk__plink_input_gets_sheet_sex_and_ploidy(tmp_path):
    bim = pd.DataFrame({"chrom": ["X", "X"], "id": ["par", "x"], "cm": 0.0,
                        "pos": [50_000, 5_000_000], "a1": "C", "a2": "A"})
    fam = fam_for_samples(["A", "B", "C"])
    write_bed(tmp_path / "in", pack_dosages(np.array([[1, 1, 1], [1, 1, 2]], np.int8)), bim, fam)
    sheet = sex_sheet(tmp_path, {"A": 1, "B": 2, "C": 1})
    tally = ingest_chunk(str(tmp_path / "in"), "X", 1, 10**8, tmp_path / "o",
                         tmp_path / "o.json", sheet)
    packed, _, out_fam = read_bed(tmp_path / "o")
    assert unpack_dosages(packed, 3).tolist() == [[1, 1, 1], [MISSING, 1, 2]]
    assert out_fam["sex"].tolist() == [1, 2, 1]
    assert tally["genotypes_changed"]["het_haploid_set_missing"] == 1


def test_check_sample_loss__within_limit():
    geno = [f"S{k}" for k in range(100)]
    check_sample_loss(geno, geno[:95] + ["P1"], "g.vcf.gz", "p.tsv", 0.05)


@pytest.mark.parametrize(
    ("geno", "sheet", "fragment"),
    [([f"S{k}" for k in range(100)], [f"S{k}" for k in range(90)],
      "p.tsv: lacks 10 of the 100 samples in g.vcf.gz"),
     ([f"S{k}" for k in range(90)], [f"S{k}" for k in range(100)],
      "g.vcf.gz: lacks 10 of the 100 samples in p.tsv")],
)
def test_check_sample_loss__beyond_limit(geno, sheet, fragment):
    with pytest.raises(InputError) as info:
        check_sample_loss(geno, sheet, "g.vcf.gz", "p.tsv", 0.05)
    assert fragment in str(info.value)
    assert "'S90', 'S91', 'S92'" in str(info.value)
    assert "ingest.max_sample_loss" in str(info.value)


def test_validate_inputs__duplicate_fam_iid_names_both_lines(tmp_path):
    bim = pd.DataFrame({"chrom": ["1"], "id": ["v"], "cm": 0.0, "pos": [100], "a1": "C",
                        "a2": "A"})
    write_bed(tmp_path / "in", pack_dosages(np.array([[0, 1, 2]], np.int8)), bim,
              fam_for_samples(["A", "B", "A"]))
    sheet = sex_sheet(tmp_path, {"A": 1, "B": 2})
    with pytest.raises(InputError, match=r"in\.fam, lines 1 and 3: sample ID 'A' is listed twice"):
        validate_inputs(str(tmp_path / "in"), str(sheet), [], [], tmp_path / "m.json")


@pytest.mark.parametrize("suffix", ["bim", "fam"])
def test_read_bed__non_utf8_bim_or_fam_names_line_and_byte(tmp_path, suffix):
    bim = pd.DataFrame({"chrom": ["1", "1"], "id": ["v1", "v2"], "cm": 0.0, "pos": [100, 200],
                        "a1": "C", "a2": "A"})
    write_bed(tmp_path / "in", pack_dosages(np.zeros((2, 3), np.int8)), bim,
              fam_for_samples(["A", "B", "C"]))
    path = tmp_path / f"in.{suffix}"
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1][:1] + "\u00e9".encode("latin-1") + lines[1][1:]  # Latin-1 byte 0xe9
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=rf"in\.{suffix}, line 2: byte 0xe9 at column 2 is "
                                         "not UTF-8 text; re-save the file as UTF-8"):
        read_bed(tmp_path / "in")


def test_ingest_chunk__plink_alleles_excluded_as_vcf_records(tmp_path):
    """.bim rows are kept or excluded by the VCF record rules: PLINK's missing allele "0" is no
    ALT (no REF as A2); symbolic alleles are excluded; I/D and other allele codes are kept;
    counts reconcile."""
    alleles = [("C", "A"), ("0", "A"), ("I", "D"), ("T", "N"), ("GA", "G"), (".", "T"),
               ("<DEL>", "A"), ("G", "T"), ("A", "0")]
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{k}" for k in range(len(alleles))], "cm": 0.0,
                        "pos": 100 * np.arange(1, len(alleles) + 1),
                        "a1": [a1 for a1, _ in alleles], "a2": [a2 for _, a2 in alleles]})
    dosage = np.arange(3 * len(alleles)).reshape(len(alleles), 3).astype(np.int8) % 3
    write_bed(tmp_path / "in", pack_dosages(dosage), bim, fam_for_samples(["A", "B", "C"]))
    tally = ingest_chunk(str(tmp_path / "in"), "1", 1, 10**6, tmp_path / "o", tmp_path / "o.json")
    packed, out_bim, _ = read_bed(tmp_path / "o")
    assert out_bim["id"].tolist() == ["v0", "v2", "v3", "v4", "v7"]
    assert out_bim["a1"].tolist() == ["C", "I", "T", "GA", "G"]
    np.testing.assert_array_equal(unpack_dosages(packed, 3), dosage[[0, 2, 3, 4, 7]])
    assert tally["records_excluded"] == {"no_alt_allele": 2, "no_ref_allele": 1,
                                         "symbolic_allele": 1}
    assert tally["records_in"] == len(alleles)
    assert tally["records_kept"] == tally["variants_written"] == 5
