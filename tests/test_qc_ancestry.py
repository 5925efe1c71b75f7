"""HWE within ancestry clusters (``qc.hwe_population``): the clusters recover simulated
populations, pooled HWE removes good variants of a three-population cohort (Wahlund effect) and
the within-cluster tests do not, each cluster's mid-p equals PLINK 2 ``--hardy midp --keep
<cluster>`` (autosomes and non-PAR chrX, 6 printed digits), and the default stays as before.

Cohort: three populations (900, 400 and 200 people) whose allele frequencies are drawn around an
ancestral one by the Balding-Nichols model with F_ST = 0.15 (continental scale), genotypes
drawn in HWE within each population (males hemizygous on non-PAR chrX)."""

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortgen.errors import InputError
from cohortgen.io.bed import write_bed
from cohortgen.io.files import read_tsv
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.qc.ancestry import (
    HweSettings,
    ancestry_clusters,
    hwe_groups,
    hwe_tested_clusters,
    numbered_by_size,
    parse_n_clusters,
    read_clusters,
)
from cohortgen.qc.pca import PcaSettings, pca_scores
from cohortgen.qc.summary import hwe_population_summary
from cohortgen.qc.variant_qc import VariantThresholds, variant_qc_chunk, variant_qc_table
from cohortgen.report.render import hwe_view, render_html

SIZES = (900, 400, 200)
F_ST = 0.15
N_AUTO, N_X = 1500, 300
BUILD = "GRCh38"
THRESHOLDS = VariantThresholds(0.9, 0.01, 1e-6)
NO_REPEATS = pd.DataFrame(columns=["id", "chrom", "pos", "ref", "alt", "n_occurrences"])


def three_populations(seed: int = 11) -> dict:
    """Dosages int8 (m, n) of the module docstring's cohort, its .bim, sex (1/2) and population."""
    rng = np.random.default_rng(seed)
    population = rng.permutation(np.repeat(np.arange(len(SIZES)), SIZES))
    n, m = population.size, N_AUTO + N_X
    sex = rng.choice([1, 2], size=n)
    ancestral = rng.uniform(0.1, 0.9, size=m)
    a, b = ancestral * (1 - F_ST) / F_ST, (1 - ancestral) * (1 - F_ST) / F_ST
    freq = rng.beta(a[:, None], b[:, None], size=(m, len(SIZES)))[:, population]  # (m, n)
    dosage = rng.binomial(2, freq).astype(np.int8)
    on_x = np.arange(m) >= N_AUTO
    males = sex == 1
    dosage[np.ix_(on_x, males)] = 2 * rng.binomial(1, freq[np.ix_(on_x, males)])
    dosage[rng.random(dosage.shape) < 0.005] = MISSING
    bim = pd.DataFrame({"chrom": np.where(on_x, "X", "1"), "id": [f"v{k}" for k in range(m)],
                        "cm": 0.0, "pos": np.where(on_x, 10_000_000, 1_000) + np.arange(m) * 50,
                        "a1": "A", "a2": "G"})
    return {"dosage": dosage, "bim": bim, "sex": sex, "population": population,
            "ids": [f"S{k:04d}" for k in range(n)]}


@pytest.fixture(scope="module")
def cohort():
    data = three_populations()
    packed = pack_dosages(data["dosage"])
    autosomal = pack_dosages(data["dosage"][:N_AUTO])
    n = len(data["ids"])
    eigenvalues, scores, _ = pca_scores(autosomal, n, np.arange(n), PcaSettings(n_pcs=10, seed=5))
    fit = ancestry_clusters(scores, eigenvalues, None, seed=5)
    return data | {"packed": packed, "eigenvalues": eigenvalues, "scores": scores, "fit": fit}


def one_to_one(labels: np.ndarray, truth: np.ndarray) -> bool:
    """True when the two labelings are the same partition."""
    pairs = set(zip(labels.tolist(), truth.tolist(), strict=True))
    return len(pairs) == len(set(labels.tolist())) == len(set(truth.tolist()))


def qc_table(cohort, population: str, kept=None) -> pd.DataFrame:
    n = len(cohort["ids"])
    kept = np.ones(n, dtype=bool) if kept is None else kept
    groups = hwe_groups(population, cohort["fit"].labels, kept, 50)
    return variant_qc_table(cohort["packed"], cohort["bim"], kept,
                            pd.DataFrame({"sex": cohort["sex"].astype(float)}), THRESHOLDS,
                            BUILD, NO_REPEATS, groups)


def test_ancestry_clusters__auto_recovers_three_simulated_populations(cohort):
    fit = cohort["fit"]
    assert fit.n_clusters == 3
    assert one_to_one(fit.labels, cohort["population"])
    assert np.bincount(fit.labels)[1:].tolist() == list(SIZES)  # numbered by size


def test_ancestry_clusters__fixed_number_and_deterministic(cohort):
    again = ancestry_clusters(cohort["scores"], cohort["eigenvalues"], 3, seed=5)
    np.testing.assert_array_equal(again.labels, cohort["fit"].labels)
    two = ancestry_clusters(cohort["scores"], cohort["eigenvalues"], 2, seed=5)
    assert two.n_clusters == 2
    assert set(two.labels.tolist()) == {1, 2}


def test_ancestry_clusters__one_population_gives_one_cluster():
    rng = np.random.default_rng(3)
    dosage = rng.binomial(2, rng.uniform(0.1, 0.9, (800, 1))[:, [0] * 600]).astype(np.int8)
    eigenvalues, scores, _ = pca_scores(pack_dosages(dosage), 600, np.arange(600),
                                        PcaSettings(n_pcs=10, seed=1))
    assert ancestry_clusters(scores, eigenvalues, None, seed=1).n_clusters == 1


def test_ancestry_clusters__without_pcs_or_with_too_many_clusters_is_input_error():
    with pytest.raises(InputError, match=r"pca\.n_pcs is 0.*hwe_population: all"):
        ancestry_clusters(np.zeros((10, 0)), np.zeros(0), None, seed=1)
    with pytest.raises(InputError, match="ancestry_clusters is 12 but only 10 samples"):
        ancestry_clusters(np.ones((10, 2)), np.ones(2), 12, seed=1)


@pytest.mark.parametrize("value", ["0", "-2", "2.5", "many"])
def test_parse_n_clusters__rejects_what_is_not_a_count(value):
    with pytest.raises(InputError, match=f"qc.ancestry_clusters is '{value}'"):
        parse_n_clusters(value)


def test_parse_n_clusters__auto_and_numbers():
    assert parse_n_clusters("auto") is None
    assert parse_n_clusters("3") == 3
    assert parse_n_clusters(4) == 4


def test_numbered_by_size__largest_first_ties_by_first_sample():
    np.testing.assert_array_equal(numbered_by_size(np.array([7, 3, 3, 9, 9, 7, 3])),
                                  [2, 1, 1, 3, 3, 2, 1])


def test_hwe_tested_clusters__rules():
    clusters = np.array([1] * 6 + [2] * 4 + [3] * 2 + [0])
    kept = np.ones(clusters.size, dtype=bool)
    kept[-1] = False
    kept[:3] = False  # cluster 2 now holds the most kept samples
    assert hwe_tested_clusters("all", clusters, kept, 3) == []
    assert hwe_tested_clusters("largest_cluster", clusters, kept, 3) == [2]
    assert hwe_tested_clusters("per_cluster", clusters, kept, 3) == [2, 1]
    assert hwe_tested_clusters("per_cluster", clusters, kept, 100) == [2]
    assert hwe_tested_clusters("per_cluster", clusters, kept, 2) == [2, 1, 3]
    groups = hwe_groups("per_cluster", clusters, kept, 3)
    assert [g.sum() for g in groups] == [4, 3]
    assert hwe_groups("all", clusters, kept, 3)[0] is kept


def test_variant_qc_table__pooled_hwe_removes_good_variants_clusters_do_not(cohort):
    pooled = qc_table(cohort, "all")
    largest = qc_table(cohort, "largest_cluster")
    per = qc_table(cohort, "per_cluster")
    on_x = (cohort["bim"]["chrom"] == "X").to_numpy()
    for region, share in ((~on_x, 0.2), (on_x, 0.05)):  # chrX: males are not tested for HWE
        assert (pooled["reason"][region] == "hwe").mean() > share  # Wahlund effect
        assert (largest["reason"][region] == "hwe").sum() == 0
        assert (per["reason"][region] == "hwe").sum() == 0
    assert set(per["hwe_test"]) == {"exact", "exact_x"}
    # per_cluster reports the smallest mid-p over the clusters, so never above the largest's
    assert (per["hwe_midp"] <= largest["hwe_midp"]).all()


def test_variant_qc_table__per_cluster_catches_a_bad_variant_of_a_small_cluster(cohort):
    dosage = cohort["dosage"].copy()
    third = cohort["fit"].labels == 3
    dosage[0, third] = np.where(np.arange(third.sum()) % 2 == 0, 0, 2)  # no hets in cluster 3
    data = cohort | {"packed": pack_dosages(dosage)}
    assert qc_table(data, "largest_cluster")["reason"].iloc[0] == ""
    assert qc_table(data, "per_cluster")["reason"].iloc[0] == "hwe"


@pytest.mark.reference
def test_hwe_per_cluster__matches_plink2_hardy_midp_keep_cluster(cohort, plink2, tmp_path):
    ids, sex, labels = cohort["ids"], cohort["sex"], cohort["fit"].labels
    dosage = cohort["dosage"].copy()
    off = np.r_[0:10, N_AUTO:N_AUTO + 10]  # off HWE within cluster 2: most hets made hom REF
    rows = np.ix_(off, (labels == 2) & (np.random.default_rng(4).random(labels.size) < 0.8))
    dosage[rows] = np.where(dosage[rows] == 1, 0, dosage[rows])
    cohort = cohort | {"packed": pack_dosages(dosage)}
    write_bed(tmp_path / "g", cohort["packed"], cohort["bim"], pd.DataFrame(
        {"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": sex, "pheno": "-9"}))
    kept = np.random.default_rng(2).random(len(ids)) < 0.95
    per = qc_table(cohort, "per_cluster", kept)
    smallest = np.full(len(per), np.inf)
    worst_log10 = 0.0
    for cluster in (1, 2, 3):
        members = kept & (labels == cluster)
        keep = tmp_path / f"keep{cluster}.txt"
        keep.write_text("".join(f"{s}\t{s}\n" for s in np.array(ids)[members]))
        out = tmp_path / f"c{cluster}"
        subprocess.run([plink2, "--bfile", tmp_path / "g", "--keep", keep, "--hardy", "midp",
                        "--out", out, "--threads", "1"], check=True, capture_output=True)
        ref = pd.concat([pd.read_csv(f"{out}.{ext}", sep="\t") for ext in ("hardy", "hardy.x")])
        groups = [members]
        got = variant_qc_table(cohort["packed"], cohort["bim"], kept,
                               pd.DataFrame({"sex": sex.astype(float)}), THRESHOLDS, BUILD,
                               NO_REPEATS, groups)["hwe_midp"].to_numpy()
        want = ref["MIDP"].to_numpy()
        np.testing.assert_array_equal(ref["ID"], cohort["bim"]["id"])
        # 6 significant digits printed: within half a unit of the last one
        assert np.all(np.abs(got - want) <= 0.5e-5 * 10.0 ** np.floor(np.log10(want)))
        worst_log10 = max(worst_log10, float(np.abs(np.log10(got) - np.log10(want)).max()))
        smallest = np.minimum(smallest, want)
    assert worst_log10 < 1e-5
    assert (smallest[off] < 1e-10).sum() >= 10  # small mid-p values were compared too
    # per_cluster's mid-p is the smallest of PLINK 2's per-cluster mid-p values
    assert np.all(np.abs(per["hwe_midp"] - smallest) <= 0.5e-5 * 10.0 ** np.floor(
        np.log10(smallest)))


def write_chunk(cohort, root: Path) -> dict:
    """The cohort as a chunk fileset, its keep list, phenotype sheet and a samples.tsv with
    the fitted clusters."""
    ids, n = cohort["ids"], len(cohort["ids"])
    write_bed(root / "g", cohort["packed"], cohort["bim"], pd.DataFrame(
        {"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": cohort["sex"],
         "pheno": "-9"}))
    (root / "keep.txt").write_text("".join(f"{s}\n" for s in ids))
    pd.DataFrame({"sample_id": ids, "sex": cohort["sex"], "age": 50,
                  "d": np.arange(n) % 2}).to_csv(root / "pheno.tsv", sep="\t", index=False)
    NO_REPEATS.to_csv(root / "repeated.tsv", sep="\t", index=False)
    samples = pd.DataFrame({"sample_id": ids, "keep": True,
                            "ancestry_cluster": cohort["fit"].labels})
    samples.to_csv(root / "samples.tsv", sep="\t", index=False)
    return {"keep": root / "keep.txt", "pheno": root / "pheno.tsv",
            "repeated": root / "repeated.tsv", "samples": root / "samples.tsv"}


def test_variant_qc_chunk__default_is_byte_identical_and_ignores_clusters(cohort, tmp_path):
    paths = write_chunk(cohort, tmp_path)
    common = (tmp_path / "g", paths["keep"], paths["pheno"], ["d"], THRESHOLDS, BUILD,
              paths["repeated"])
    variant_qc_chunk(*common, tmp_path / "before.tsv")
    variant_qc_chunk(*common, tmp_path / "all.tsv", HweSettings("all", paths["samples"]))
    before = (tmp_path / "before.tsv").read_bytes()
    assert (tmp_path / "all.tsv").read_bytes() == before
    one = pd.DataFrame({"sample_id": cohort["ids"], "keep": True, "ancestry_cluster": 1})
    one.to_csv(tmp_path / "one.tsv", sep="\t", index=False)
    variant_qc_chunk(*common, tmp_path / "one_cluster.tsv",
                     HweSettings("per_cluster", tmp_path / "one.tsv"))
    assert (tmp_path / "one_cluster.tsv").read_bytes() == before
    variant_qc_chunk(*common, tmp_path / "per.tsv", HweSettings("per_cluster", paths["samples"]))
    per = read_tsv(tmp_path / "per.tsv", dtype={"chrom": str, "id": str})
    assert (per["reason"] == "hwe").sum() == 0


def test_read_clusters__kept_sample_without_cluster_is_input_error(tmp_path):
    pd.DataFrame({"sample_id": ["a", "b"], "ancestry_cluster": [1, None]}).to_csv(
        tmp_path / "samples.tsv", sep="\t", index=False, na_rep="NA")
    with pytest.raises(InputError, match=r"samples\.tsv: 1 kept samples have no ancestry"):
        read_clusters(tmp_path / "samples.tsv", ["a", "b"], np.array([True, True]))
    np.testing.assert_array_equal(
        read_clusters(tmp_path / "samples.tsv", ["a", "b"], np.array([True, False])), [1, 0])


def test_hwe_population_summary__and_report_line_with_small_cells(tmp_path):
    samples = pd.DataFrame({"keep": [True] * 63 + [False],
                            "ancestry_cluster": pd.array([1] * 40 + [2] * 20 + [3] * 3 + [None],
                                                         dtype="Int64")})
    summary = hwe_population_summary(samples, "per_cluster", 10)
    assert summary == {"population": "per_cluster", "min_cluster_size": 10,
                       "kept_per_cluster": {"1": 40, "2": 20, "3": 3}, "tested_clusters": [1, 2]}
    json.dumps(summary)
    view = hwe_view(summary, 5)
    assert view["clusters"] == [("1", "40"), ("2", "not shown"), ("3", "<5")]
    html = render_html({"cohort": "c", "qc": {"hwe": summary}, "min_cell_count": 5})
    line = re.search(r'<p class="hwe">(.*?)</p>', html, re.DOTALL).group(1)
    assert "qc.hwe_population: per_cluster" in line
    assert "at least 10 kept people (1, 2)" in line
    assert line.endswith("Kept people per cluster: 1: 40; 2: not shown; 3: &lt;5.")
    assert hwe_population_summary(samples, "all", 10) == {"population": "all"}
    assert "qc.hwe_population: all" in render_html({"cohort": "c", "qc": {}})


@pytest.fixture(scope="module")
def sample_qc_run(tmp_path_factory, plink2):
    """The msprime cohort of cohortgen.simulate (three populations), sample QC with
    ``per_cluster`` and variant QC of its one chunk."""
    from cohortgen.io.bed import read_bed
    from cohortgen.qc.pruned import PruneSettings, select_pruned_set
    from cohortgen.qc.sample_qc import SampleQcPaths, SampleSettings, sample_qc
    from cohortgen.qc.variant_qc import write_repeated_ids
    from cohortgen.qc.variant_stats import variant_stats_chunk
    from cohortgen.simulate import simulate_cohort

    root = tmp_path_factory.mktemp("ancestry_qc")
    simulate_cohort(root / "sim", n_samples=1000, n_chromosomes=2, chromosome_mb=20.0, seed=4)
    chunk = root / "c1"
    subprocess.run([plink2, "--vcf", root / "sim/genotypes.vcf.gz", "--make-bed", "--out", chunk,
                    "--threads", "1"], check=True, capture_output=True)
    pheno = root / "sim/phenotypes.tsv"
    variant_stats_chunk(chunk, pheno, BUILD, root / "c1.npz")
    n = len(read_bed(chunk)[2])
    select_pruned_set([chunk], np.ones(n, dtype=bool), PruneSettings(genome_build=BUILD),
                      root / "pruned", root / "pruned.json")
    out = SampleQcPaths(root / "samples.tsv", root / "keep.txt", root / "pairs.tsv",
                        root / "pcs.tsv", root / "pca.json")
    settings = SampleSettings(pca=PcaSettings(seed=9), hwe_population="per_cluster")
    table = sample_qc(Path(f"{chunk}.fam"), [root / "c1.npz"], pheno, ["hypertension"],
                      ["age", "sex"], root / "pruned", settings, out)
    write_repeated_ids([f"{chunk}.bim"], root / "repeated.tsv")
    variant_qc_chunk(chunk, out.keep_txt, pheno, ["hypertension"], THRESHOLDS, BUILD,
                     root / "repeated.tsv", root / "vqc.tsv",
                     HweSettings("per_cluster", out.samples_tsv, 50))
    truth = json.loads((root / "sim/truth.json").read_text())["sample_population"]
    return {"table": table, "out": out, "truth": truth, "root": root}


@pytest.mark.reference
def test_sample_qc__ancestry_clusters_recover_msprime_populations(sample_qc_run):
    table, out = sample_qc_run["table"], sample_qc_run["out"]
    pcs = read_tsv(out.pcs_tsv, dtype={"sample_id": str})
    pcs = pcs[pcs["pca"] == "fitted"]  # clustered; the projected relatives are not
    clustered = table.set_index("sample_id")["ancestry_cluster"]
    labels = clustered.loc[pcs["sample_id"]].to_numpy(np.int64)
    truth = np.array([sample_qc_run["truth"][s] for s in pcs["sample_id"]])
    crossed = pd.crosstab(labels, truth).to_numpy()  # clusters x populations
    assert crossed.shape == (3, 3)
    assert sorted(crossed.argmax(axis=1).tolist()) == [0, 1, 2]  # one population per cluster
    # msprime populations exchange migrants: near-exact (4 of 763 samples off at this seed)
    assert crossed.max(axis=1).sum() / len(truth) > 0.98
    assert clustered.drop(pcs["sample_id"]).isna().all()
    assert out.samples_tsv.stat().st_mode & 0o077 == 0
    written = read_tsv(out.samples_tsv, dtype={"sample_id": str, "ancestry_cluster": "Int64"})
    assert written["ancestry_cluster"].equals(table["ancestry_cluster"])
    summary = json.loads(out.pca_json.read_text())["ancestry_clusters"]
    assert summary["n_clusters"] == 3
    assert summary["sizes"] == {str(c): int((labels == c).sum()) for c in (1, 2, 3)}
    variants = read_tsv(sample_qc_run["root"] / "vqc.tsv", dtype={"chrom": str, "id": str})
    assert variants["hwe_midp"].notna().all()


def test_sample_qc__default_does_not_cluster(tmp_path):
    from cohortgen.qc.sample_qc import SampleSettings, cluster_column

    column, summary = cluster_column(SampleSettings(), np.ones(2), np.ones((3, 2)),
                                     np.arange(3), 4)
    assert summary is None
    assert column.isna().all()
