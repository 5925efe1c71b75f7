"""Published scores as pgsc_calc users expect them: the scoring set (every QC-passed sample,
every variant passing the scoring filter), dominant/recessive weights and AVG against
``plink2 --score``, the per-line match log, and matched counts per category against
``pgscatalog-match``.

The test cohort has two ancestries mixed in one sample (variants with diverging allele
frequencies fail HWE in the mixed sample, a Wahlund effect), low-call-rate variants, duplicate
records, split multi-allelic positions, related samples and missing calls. Its variant QC
tables come from :func:`cohortgen.qc.variant_qc.variant_qc_table` itself.
"""

import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import require_reference_env

from cohortgen.errors import InputError
from cohortgen.io.bed import write_bed
from cohortgen.io.files import read_tsv, write_tsv
from cohortgen.io.scorefile import read_scoring_file
from cohortgen.kernels.bed import pack_dosages
from cohortgen.prs.match import complement, is_ambiguous
from cohortgen.prs.stage import score_published, scoring_variants
from cohortgen.qc.variant_qc import VariantThresholds, repeated_id_first_sites, variant_qc_table

BASES = np.array(list("ACGT"))
N_PER_POP, M_BASE = 150, 360
THRESHOLDS = VariantThresholds(call_rate=0.95, maf=0.01, hwe_midp=1e-6)
HEADER = ["###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/downloads/#dl_ftp_scoring "
          "for additional information", "#format_version=2.0", "#pgs_id=PGS999999",
          "#pgs_name=test", "#trait_reported=test", "#genome_build=GRCh38",
          "#weight_type=beta"]


def _genotypes(rng) -> tuple[np.ndarray, np.ndarray]:
    """ALT dosages int8 (m, n) (−1 missing) of two populations, and the population per sample.

    A third of the variants have opposite frequencies in the two populations (HWE fails in the
    mixed sample); a tenth have 8% missing calls (call rate fails); 1% of calls are missing."""
    n = 2 * N_PER_POP
    pop = np.repeat([0, 1], N_PER_POP)
    freq = rng.uniform(0.1, 0.5, M_BASE)
    diverged = rng.random(M_BASE) < 1 / 3
    freq_b = np.where(diverged, 1.0 - freq, freq)
    p = np.where(pop[None, :] == 0, freq[:, None], freq_b[:, None])
    dosage = rng.binomial(2, p).astype(np.int8)
    dosage[rng.random((M_BASE, n)) < 0.01] = -1
    low_call = rng.random(M_BASE) < 0.1
    dosage[low_call[:, None] & (rng.random((M_BASE, n)) < 0.08)] = -1
    return dosage, pop


def _bim(rng, dosage) -> tuple[pd.DataFrame, np.ndarray]:
    """Variant table with split multi-allelic records (every 30th position gets a second ALT)
    and duplicate records (every 45th variant repeated); dosages extended to match."""
    pairs = np.array([rng.choice(4, 2, replace=False) for _ in range(M_BASE)])
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{i}" for i in range(M_BASE)], "cm": 0.0,
                        "pos": 10_000 + np.arange(M_BASE) * 100, "a1": BASES[pairs[:, 0]],
                        "a2": BASES[pairs[:, 1]]})
    extra, rows = [], []
    for i in range(0, M_BASE, 30):
        other = [b for b in "ACGT" if b not in (bim.at[i, "a1"], bim.at[i, "a2"])][0]
        extra.append({**bim.loc[i].to_dict(), "id": f"v{i}_2", "a1": other})
        rows.append(i)
    for i in range(15, M_BASE, 45):
        extra.append({**bim.loc[i].to_dict(), "id": f"v{i}_dup"})
        rows.append(i)
    bim = pd.concat([bim, pd.DataFrame(extra)], ignore_index=True)
    dosage = np.concatenate([dosage, dosage[rows]])
    order = np.lexsort((np.arange(len(bim)), bim["pos"].to_numpy()))
    return bim.iloc[order].reset_index(drop=True), dosage[order]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Two chunk filesets with their variant QC tables, samples.tsv (kept, related and failed
    samples), keep list, PCs of the unrelated kept samples, and a whole-genome fileset."""
    root = tmp_path_factory.mktemp("published")
    rng = np.random.default_rng(2024)
    dosage, pop = _genotypes(rng)
    bim, dosage = _bim(rng, dosage)
    n = dosage.shape[1]
    ids = [f"P{i:03d}" for i in range(n)]
    sex = rng.integers(1, 3, n)
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": sex,
                        "pheno": "-9"})
    reason = np.select([np.arange(n) % 10 == 3, np.arange(n) % 25 == 7],
                       ["related", "low_call_rate"], "")
    kept = reason == ""
    write_tsv(root / "samples.tsv", pd.DataFrame({"sample_id": ids, "reason": reason}),
              private=True)
    (root / "keep.txt").write_text("".join(f"{s}\n" for s, k in zip(ids, kept, strict=True) if k))
    pcs = pd.DataFrame({"sample_id": ids, "PC1": pop + rng.normal(0, 0.1, n),
                        "PC2": rng.normal(size=n)})
    write_tsv(root / "pcs.tsv", pcs.loc[kept])
    write_bed(root / "all", pack_dosages(dosage), bim, fam)
    sheet = pd.DataFrame({"sex": sex, "asthma": rng.integers(0, 2, n).astype(float)},
                         index=pd.Index(ids, dtype="string"))
    half = len(bim) // 2
    while bim.at[half, "pos"] == bim.at[half - 1, "pos"]:
        half += 1
    chunks, qc_paths = [], []
    for c, rows in enumerate((slice(0, half), slice(half, len(bim)))):
        write_bed(root / f"c{c}", pack_dosages(dosage[rows]), bim.iloc[rows], fam)
        chunks.append(root / f"c{c}")
    first_sites = repeated_id_first_sites([Path(f"{p}.bim") for p in chunks])
    for c, rows in enumerate((slice(0, half), slice(half, len(bim)))):
        table = variant_qc_table(pack_dosages(dosage[rows]), bim.iloc[rows].reset_index(drop=True),
                                 kept, sheet, THRESHOLDS, "GRCh38", first_sites)
        write_tsv(root / f"c{c}.variant_qc.tsv", table)
        qc_paths.append(root / f"c{c}.variant_qc.tsv")
    return {"root": root, "bim": bim, "dosage": dosage, "ids": ids, "reason": reason,
            "chunks": chunks, "qc": qc_paths}


def _lines(rng, bim: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """Score lines: one per first record of each position, oriented same / swapped / flipped /
    flipped+swapped in turn (flips on non-ambiguous SNPs only), both alleles of the split
    multi-allelic records, a duplicated line, allele mismatches and absent positions."""
    first = ~bim["pos"].duplicated()
    rows = np.flatnonzero(first.to_numpy())
    ea, oa = bim["a1"].to_numpy()[rows].copy(), bim["a2"].to_numpy()[rows].copy()
    kind = np.arange(rows.size) % 4
    swap = np.isin(kind, [1, 3])
    ea[swap], oa[swap] = oa[swap], ea[swap].copy()
    flip = (kind >= 2) & ~is_ambiguous(pd.Series(ea), pd.Series(oa)).to_numpy()
    ea[flip] = complement(pd.Series(ea[flip])).to_numpy()
    oa[flip] = complement(pd.Series(oa[flip])).to_numpy()
    table = pd.DataFrame({"chr_name": "1", "chr_position": bim["pos"].to_numpy()[rows],
                          "effect_allele": ea, "other_allele": oa,
                          "effect_weight": rng.normal(0, 0.1, rows.size)})
    split = bim.loc[bim["id"].str.endswith("_2")]
    table = pd.concat([table, pd.DataFrame({
        "chr_name": "1", "chr_position": split["pos"].to_numpy(),
        "effect_allele": split["a1"].to_numpy(), "other_allele": split["a2"].to_numpy(),
        "effect_weight": rng.normal(0, 0.1, len(split))})], ignore_index=True)
    dup = table.iloc[[5]]
    mismatch = table.iloc[[7, 8]].assign(effect_allele="AC", other_allele="A")
    absent = table.iloc[[9, 10]].assign(chr_position=[5, 6])
    return pd.concat([table, dup, mismatch, absent], ignore_index=True)


def _write_pgs(path: Path, table: pd.DataFrame) -> None:
    body = table.to_csv(sep="\t", index=False, float_format="%.10g", lineterminator="\n")
    path.write_text("\n".join(HEADER) + "\n" + body)


@pytest.fixture(scope="module")
def scored(cohort):
    rng = np.random.default_rng(7)
    variants = scoring_variants(cohort["qc"], THRESHOLDS.call_rate, "GRCh38")
    table = _lines(rng, cohort["bim"], variants)
    types = np.select([np.arange(len(table)) % 7 == 1, np.arange(len(table)) % 7 == 4],
                      ["dominant", "recessive"], "additive")
    root = cohort["root"]
    _write_pgs(root / "mixed.txt", table.assign(is_dominant=types == "dominant",
                                                is_recessive=types == "recessive"))
    for kind in ("additive", "dominant", "recessive"):
        _write_pgs(root / f"{kind}.txt", table.assign(is_dominant=kind == "dominant",
                                                      is_recessive=kind == "recessive"))
    names = ["mixed", "additive", "dominant", "recessive"]
    records = score_published(names, [root / f"{n}.txt" for n in names], cohort["chunks"],
                              cohort["qc"], root / "samples.tsv", root / "pcs.tsv", "GRCh38",
                              0.5, False, THRESHOLDS.call_rate, root / "prs")
    return {"names": names, "records": records, "out": root / "prs", "variants": variants,
            "types": types}


def test_scoring_set__hwe_failures_are_matched_and_counted(cohort, scored):
    qc = pd.concat([read_tsv(p, dtype={"reason": str}) for p in cohort["qc"]])
    assert (qc["reason"] == "hwe").sum() > 20
    record = scored["records"]["additive"]
    assert record["status"] == "OK"
    log = read_tsv(scored["out"] / "match" / "additive.variants.tsv.gz",
                   dtype={"reason": str, "gwas_qc_reason": str, "variant_id": str})
    matched = log["status"].isin(["same", "swapped", "flipped", "flipped_swapped"])
    assert record["matched_failed_gwas_qc"] == int(log["failed_gwas_qc"].sum()) > 20
    assert set(log.loc[log["failed_gwas_qc"], "gwas_qc_reason"]) >= {"hwe"}
    assert not (log["failed_gwas_qc"] & ~matched).any()
    assert record["failed_filter"] == int((log["status"] == "failed_filter").sum()) > 5
    assert set(log.loc[log["status"] == "failed_filter", "gwas_qc_reason"]) <= {
        "low_call_rate", "duplicate", "duplicate_id", "all_missing"}


def test_scoring_set__every_qc_passed_sample_relatives_included(cohort, scored):
    scores = read_tsv(scored["out"] / "scores" / "additive.tsv.gz", dtype={"sample_id": str})
    wanted = [s for s, r in zip(cohort["ids"], cohort["reason"], strict=True)
              if r in ("", "related")]
    assert scores["sample_id"].tolist() == wanted
    related = scores["sample_id"].isin(
        [s for s, r in zip(cohort["ids"], cohort["reason"], strict=True) if r == "related"])
    assert related.sum() > 20
    assert scores.loc[related, "Z_norm1"].isna().all()
    assert scores.loc[~related, "Z_norm1"].notna().all()
    assert scored["records"]["additive"]["n_samples_scored"] == len(wanted)


def test_variant_log__one_row_per_line_shareable(scored, cohort):
    path = scored["out"] / "match" / "mixed.variants.tsv.gz"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    log = read_tsv(path, dtype={"variant_id": str, "gwas_qc_reason": str})
    table = read_scoring_file(cohort["root"] / "mixed.txt").table
    assert log["line"].tolist() == table["line"].tolist()
    assert log["effect_type"].tolist() == scored["types"].tolist()
    assert not set(log.columns) & {"sample_id", "SUM", "AVG"}
    counts = log["status"].value_counts()
    record = scored["records"]["mixed"]
    for status, n in counts.items():
        assert record[status] == n
    assert (log.loc[log["status"].isin(["missing", "allele_mismatch"]), "variant_id"]
            .fillna("").eq("").all())
    assert path.read_bytes()[4:8] == bytes(4)  # gzip mtime 0: reproducible bytes


def test_read_scoring_file__dominant_and_recessive_both_set_names_line(tmp_path):
    table = pd.DataFrame({"chr_name": ["1", "1"], "chr_position": [1, 2],
                          "effect_allele": ["A", "C"], "other_allele": ["G", "T"],
                          "effect_weight": [0.1, 0.2], "is_dominant": ["False", "True"],
                          "is_recessive": ["False", "True"]})
    _write_pgs(tmp_path / "bad.txt", table)
    with pytest.raises(InputError, match=r"bad\.txt, line 10: is_dominant and is_recessive"):
        read_scoring_file(tmp_path / "bad.txt")


def _plink2_score(plink2, cohort, lines, modifier, tmp_path) -> pd.DataFrame:
    """``plink2 --score`` of the matched ``lines`` on the scored samples of the whole fileset
    (``modifier``: additive, dominant or recessive)."""
    bim = cohort["bim"]
    variants = lines["variant"].to_numpy()
    scored = [s for s, r in zip(cohort["ids"], cohort["reason"], strict=True)
              if r in ("", "related")]
    (tmp_path / "keep").write_text("".join(f"{s}\t{s}\n" for s in scored))
    allele = np.where(lines["effect_is_alt"], bim["a1"].to_numpy()[variants],
                      bim["a2"].to_numpy()[variants])
    pd.DataFrame({"id": bim["id"].to_numpy()[variants], "allele": allele,
                  "w": lines["weight"].to_numpy()}).to_csv(
        tmp_path / f"{modifier}.txt", sep="\t", index=False, float_format="%.17g")
    extra = [] if modifier == "additive" else [modifier]
    subprocess.run([plink2, "--bfile", str(cohort["root"] / "all"), "--keep",
                    str(tmp_path / "keep"), "--score", str(tmp_path / f"{modifier}.txt"), "1",
                    "2", "3", "header", *extra, "cols=+nallele,+denom,+scoresums",
                    "--threads", "1", "--out", str(tmp_path / modifier)],
                   check=True, capture_output=True)
    return pd.read_csv(tmp_path / f"{modifier}.sscore", sep="\t",
                       dtype={"IID": str}).set_index("IID")


def _matched_lines(scored, name):
    from cohortgen.prs.match import match_variants

    table = read_scoring_file(scored["out"].parent / f"{name}.txt").table
    return match_variants(table, scored["variants"]).used


def _ours(scored, name) -> pd.DataFrame:
    return read_tsv(scored["out"] / "scores" / f"{name}.tsv.gz",
                    dtype={"sample_id": str}).set_index("sample_id")


def _assert_same_sums(ours: pd.Series, ref: pd.Series) -> None:
    """plink2 prints 6 significant digits: max abs diff within 5e-6 of the largest |SUM| (1e-5
    per plink2 value and run summed), slope 1 within 1e-5."""
    scale = np.abs(ref).max()
    assert np.abs(ours - ref).max() <= 1e-5 * scale
    assert np.polyfit(ref, ours, 1)[0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.reference
@pytest.mark.parametrize("name", ["additive", "dominant", "recessive"])
def test_score_published__matches_plink2_score_modifiers(scored, cohort, plink2, name,
                                                         tmp_path):
    """SUM as ``plink2 --score [dominant|recessive]`` (missing calls included); AVG = SUM /
    DENOM to 1e-9 (the TSV's 10 significant digits), and DENOM (2 × variants, what plink2
    2.00a3.5 divides by under mean imputation) is not ALLELE_CT where calls are missing."""
    ours = _ours(scored, name)
    ref = _plink2_score(plink2, cohort, _matched_lines(scored, name), name, tmp_path)
    ref = ref.loc[ours.index]
    _assert_same_sums(ours["SUM"], ref["SCORE1_SUM"])
    assert (ref["ALLELE_CT"] < ref["DENOM"]).sum() > 100
    np.testing.assert_allclose(ours["AVG"], ours["SUM"] / ref["DENOM"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours["AVG"], ref["SCORE1_AVG"], rtol=5e-6, atol=1e-6)


@pytest.mark.reference
def test_score_published__mixed_effect_types_as_plink2_runs_per_type(scored, cohort, plink2,
                                                                     tmp_path):
    """A score mixing additive, dominant and recessive lines is the sum of one plink2 run per
    effect type (as pgsc_calc computes it)."""
    ours = _ours(scored, "mixed")
    lines = _matched_lines(scored, "mixed")
    total = 0.0
    for kind in ("additive", "dominant", "recessive"):
        part = lines.loc[lines["effect_type"] == kind]
        assert len(part) > 20
        ref = _plink2_score(plink2, cohort, part, kind, tmp_path)
        total = total + ref.loc[ours.index, "SCORE1_SUM"]
    _assert_same_sums(ours["SUM"], total)


PGSCATALOG_CATEGORY = {
    ("matched", "altref"): "same", ("matched", "refalt"): "swapped",
    ("matched", "altref_flip"): "flipped", ("matched", "refalt_flip"): "flipped_swapped",
}
"""pgscatalog-match (match_status, match_type) of a line's best match -> cohortgen status.
Excluded lines map by their flag (ambiguous -> ambiguous_excluded, duplicate_ID ->
duplicate); unmatched lines are cohortgen's missing, allele_mismatch and failed_filter (a
variant failing the scoring filter is not in the target given to pgscatalog-match)."""


def _pgscatalog_categories(log: pd.DataFrame) -> pd.Series:
    """One cohortgen status per scoring-file line from pgscatalog-match's match log."""
    best = log.loc[log["best_match"].astype(str).str.lower() == "true"]
    best = best.drop_duplicates("row_nr").set_index("row_nr")
    lines = log.drop_duplicates("row_nr").set_index("row_nr")[[]].join(best)
    status = pd.Series("unmatched", index=lines.index, dtype=object)
    matched = lines["match_status"] == "matched"
    status[matched] = [PGSCATALOG_CATEGORY[("matched", t)]
                       for t in lines.loc[matched, "match_type"]]
    excluded = lines["match_status"] == "excluded"
    flag = {"ambiguous": "ambiguous_excluded", "duplicate_ID": "duplicate"}
    for column, name in flag.items():
        status[excluded & (lines[column].astype(str).str.lower() == "true")] = name
    return status


@pytest.mark.reference
def test_match__equal_counts_per_category_to_pgscatalog_match(scored, cohort, tmp_path):
    """Same scoring file, target = the cohort variants passing the scoring filter (a .pvar):
    equal line counts per category (mapping in :data:`PGSCATALOG_CATEGORY`)."""
    match = require_reference_env("pgscatalog", "pgscatalog-match")
    fmt = str(Path(match).with_name("pgscatalog-format"))
    variants = scored["variants"]
    target = variants.loc[variants["score_pass"]]
    pd.DataFrame({"#CHROM": target["chrom"], "POS": target["pos"], "ID": target["id"],
                  "REF": target["ref"], "ALT": target["alt"]}).to_csv(
        tmp_path / "target.pvar", sep="\t", index=False)
    (tmp_path / "formatted").mkdir()
    (tmp_path / "matched").mkdir()
    subprocess.run([fmt, "-s", str(cohort["root"] / "additive.txt"), "-t", "GRCh38", "-o",
                    str(tmp_path / "formatted")], check=True, capture_output=True)
    formatted = next((tmp_path / "formatted").glob("normalised_*"))
    subprocess.run([match, "-d", "cohort", "-s", str(formatted), "-t",
                    str(tmp_path / "target.pvar"), "--outdir", str(tmp_path / "matched"),
                    "--min_overlap", "0"], check=True, capture_output=True)
    log = pd.read_csv(tmp_path / "matched" / "cohort_log.csv.gz", dtype=str)
    theirs = _pgscatalog_categories(log).value_counts().to_dict()
    ours_log = read_tsv(scored["out"] / "match" / "additive.variants.tsv.gz",
                        dtype={"variant_id": str, "gwas_qc_reason": str})
    ours = ours_log["status"].replace(
        {"missing": "unmatched", "allele_mismatch": "unmatched",
         "failed_filter": "unmatched"}).value_counts().to_dict()
    assert ours == theirs
    assert min(ours[k] for k in ("same", "swapped", "flipped", "flipped_swapped",
                                 "ambiguous_excluded", "duplicate", "unmatched")) > 0
    assert (ours_log["failed_gwas_qc"]).sum() > 20


def test_match_variants__non_nucleotide_alleles_match_as_is_or_swapped_only():
    """Strand flips exist for A/C/G/T only: an ``I``/``D`` or ``N`` allele is never complemented,
    so such lines match as is or swapped, else not at all."""
    from cohortgen.prs.match import match_variants

    variants = pd.DataFrame({"chrom": "1", "pos": [100, 150, 200, 250, 300],
                             "ref": ["N", "N", "D", "D", "A"], "alt": ["C", "C", "I", "I", "T"],
                             "alt_freq": 0.3, "score_pass": True, "pass": True})
    lines = pd.DataFrame({
        "chrom": "1", "pos": [100, 150, 200, 250, 300],
        "effect_allele": ["C", "G", "D", "I", "T"], "other_allele": ["N", "N", "I", "D", "A"],
        "weight": 1.0, "effect_allele_frequency": np.nan, "effect_type": "additive",
        "line": np.arange(5) + 2})
    status = match_variants(lines, variants).lines["status"].tolist()
    # G/N is C/N flipped only if N had a complement: no match. T/A on A/T stays ambiguous.
    assert status == ["same", "allele_mismatch", "swapped", "same", "ambiguous_excluded"]
