"""QC funnel: real ingest tallies (multi-allelic records split) reconcile from records in to
variants written to variants passing QC; counts are checked against the written filesets."""

import json
import re

import numpy as np
import pandas as pd
import pysam
import pytest

from cohortgen.errors import InputError
from cohortgen.ingest.chunk import IngestRules, ingest_chunk
from cohortgen.io.bed import read_bed, read_bim
from cohortgen.io.files import write_tsv
from cohortgen.kernels.bed import MISSING, unpack_dosages
from cohortgen.qc.genotypes import write_qc_genotypes
from cohortgen.qc.keep import write_keep
from cohortgen.qc.summary import FLAGS, summarize_qc
from cohortgen.report.render import render_html
from cohortgen.report.stage import qc_context

SAMPLES = ("A", "B", "C", "D")
KEPT = ("A", "B", "C")
RECORDS = [  # CHROM POS ID REF ALT, then GT of A B C D
    "1\t100\trs1\tA\tC,G\t1/2\t0/2\t2/2\t./1",  # split: 2 variants
    "1\t150\trs2\tC\tT,*\t0/1\t0/0\t1/1\t0/2",  # split: 1 variant, * dropped
    "1\t200\trs3\tAT\tA,<DEL>,ATT\t0/1\t3/3\t1/2\t0/0",  # split: 2 variants, <DEL> dropped
    "1\t220\trs4\tG\tA\t0/0\t0/0\t0/0\t0/1",  # monomorphic among the kept samples
    "1\t300\trs5\tG\tT\t0/1\t1/1\t0/0\t./.",
    "1\t400\trs6\tG\t<DEL>,*\t0/1\t1/1\t0/0\t./.",  # excluded: no ACGT ALT
    "1\t500\trs7\tN\tA\t0/1\t0/1\t0/0\t0/0",  # excluded: non-ACGT REF
    "1\t600\trs8\tC\tT\t./.\t./.\t0/1\t0/0",  # low call rate among the kept samples
    "1\t700\trs9\tC\tG,T\t0/1\t0/2\t1/2\t0/0",  # split: 2 variants
]
CHUNKS = {"c1": (1, 250), "c2": (251, 1000)}


def write_vcf(tmp_path) -> str:
    """bgzip + tabix a VCF of RECORDS."""
    header = ["##fileformat=VCFv4.2", "##contig=<ID=1,length=200000000>",
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                         *SAMPLES])]
    body = ["\t".join([*r.split("\t")[:5], ".", ".", ".", "GT", *r.split("\t")[5:]])
            for r in RECORDS]
    plain = tmp_path / "g.vcf"
    plain.write_text("\n".join(header + body) + "\n")
    return pysam.tabix_index(str(plain), preset="vcf", force=True)


def variant_qc_rows(prefix) -> pd.DataFrame:
    """A variant QC table in the real format (chrom, id, reason, pass): low_call_rate below
    all 3 kept samples called, else monomorphic when the kept calls carry one allele only."""
    packed, bim, fam = read_bed(prefix)
    dosage = unpack_dosages(packed, len(fam))[:, fam["iid"].isin(KEPT).to_numpy()]
    called = dosage != MISSING
    alt = np.where(called, dosage, 0).sum(axis=1)
    n_alleles = 2 * called.sum(axis=1)
    reason = np.where(called.sum(axis=1) < len(KEPT), "low_call_rate",
                      np.where((alt == 0) | (alt == n_alleles), "monomorphic", ""))
    return pd.DataFrame({"chrom": bim["chrom"], "id": bim["id"], "reason": reason,
                         "pass": reason == ""})


@pytest.fixture(scope="module")
def qc_inputs(tmp_path_factory) -> dict:
    """Two chunks ingested with ``multiallelic: split``, their tallies and variant QC tables,
    sample QC outputs (D removed for call rate, no related pair) and the QC'd genotypes."""
    root = tmp_path_factory.mktemp("funnel")
    vcf = write_vcf(root)
    paths = {"tallies": [], "variant_qc": [], "prefixes": []}
    for name, (start, end) in CHUNKS.items():
        prefix = root / name
        ingest_chunk(vcf, "1", start, end, prefix, root / f"{name}.json",
                     rules=IngestRules(multiallelic="split"))
        write_tsv(root / f"{name}.vqc.tsv", variant_qc_rows(prefix))
        paths["tallies"].append(root / f"{name}.json")
        paths["variant_qc"].append(root / f"{name}.vqc.tsv")
        paths["prefixes"].append(prefix)
    keep = [s in KEPT for s in SAMPLES]
    write_tsv(root / "samples.tsv", pd.DataFrame(
        {"sample_id": SAMPLES, "keep": keep, "reason": ["" if k else "low_call_rate" for k in keep],
         **{flag: False for flag in FLAGS}}))
    write_tsv(root / "pairs.tsv", pd.DataFrame(columns=["id1", "id2", "kinship", "degree"]))
    write_keep(root / "keep.txt", KEPT)
    write_qc_genotypes(paths["prefixes"], paths["variant_qc"], root / "keep.txt",
                       root / "genotypes")
    return {"root": root, **paths}


def summarize(qc_inputs, tmp_path, tallies=None, variant_qc=None) -> dict:
    root = qc_inputs["root"]
    return summarize_qc(tallies or qc_inputs["tallies"], root / "samples.tsv", root / "pairs.tsv",
                        variant_qc or qc_inputs["variant_qc"], root / "genotypes",
                        tmp_path / "summary.json", tmp_path / "variants.tsv.gz")


def test_summarize_qc__funnel_reconciles_through_multiallelic_split(qc_inputs, tmp_path):
    summary = summarize(qc_inputs, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    ingest, variants = summary["ingest"], summary["variants"]
    bims = pd.concat([read_bim(p.with_suffix(".bim")) for p in qc_inputs["prefixes"]])
    multi_alt = [int(r.split("\t")[1]) for r in RECORDS if "," in r.split("\t")[4]]
    from_split = bims["pos"].isin(multi_alt).to_numpy()
    split = ingest["multiallelic_split"]
    assert ingest["records_in"] == len(RECORDS)
    assert ingest["records_in"] == ingest["records_kept"] + sum(ingest["records_excluded"].values())
    assert ingest["records_kept"] == bims["pos"].nunique()  # one position per record here
    assert split["records"] == bims["pos"][from_split].nunique()
    assert split["variants"] == from_split.sum()
    assert ingest["variants_written"] == len(bims) > ingest["records_kept"]
    assert ingest["variants_written"] == (ingest["records_kept"] - split["records"]
                                          + split["variants"])
    assert variants["in"] == ingest["variants_written"]
    assert variants["in"] == variants["kept"] + sum(variants["removed"].values())
    table = pd.concat([variant_qc_rows(p) for p in qc_inputs["prefixes"]])
    assert variants["removed"] == table.loc[~table["pass"], "reason"].value_counts().to_dict()
    assert variants["kept"] == len(read_bim(qc_inputs["root"] / "genotypes.bim"))


def test_summarize_qc__variant_count_mismatch_raises(qc_inputs, tmp_path):
    one_chunk = qc_inputs["variant_qc"][1:]
    n_one = len(read_bim(qc_inputs["prefixes"][1].with_suffix(".bim")))
    n_all = sum(len(read_bim(p.with_suffix(".bim"))) for p in qc_inputs["prefixes"])
    with pytest.raises(InputError, match=f"hold {n_one} variants but the ingest tallies count "
                                         f"{n_all} variants written"):
        summarize(qc_inputs, tmp_path, variant_qc=one_chunk)


def test_summarize_qc__damaged_tally_raises_naming_it(qc_inputs, tmp_path):
    tally = json.loads(qc_inputs["tallies"][0].read_text())
    tally["records_in"] += 1
    damaged = tmp_path / "c1.json"
    damaged.write_text(json.dumps(tally))
    with pytest.raises(InputError, match=r"c1\.json: \d+ records in but \d+ kept \+ \d+ excl"):
        summarize(qc_inputs, tmp_path, tallies=[damaged, *qc_inputs["tallies"][1:]])


def test_summarize_qc__report_funnel_reconciles_step_by_step(qc_inputs, tmp_path):
    summary = summarize(qc_inputs, tmp_path)
    html = render_html({"cohort": "c", "qc": qc_context(summary)})
    rows = re.findall(r'<tr class="(step|reason)"><td>([^<]*)</td><td[^>]*>[^<]*</td>'
                      r'<td class="num">([\d,]+)</td></tr>', html)
    count = {label: int(n.replace(",", "")) for _, label, n in rows}
    split = summary["ingest"]["multiallelic_split"]
    written = (f"Variants written at ingest ({split['records']} multi-allelic records split "
               f"into {split['variants']} variants)")
    at_ingest = sum(n for label, n in count.items() if label.startswith("Records removed"))
    by_qc = sum(n for label, n in count.items() if label.startswith("Variants removed"))
    assert count["Input"] == len(RECORDS)
    assert count[written] == count["Input"] - at_ingest - split["records"] + split["variants"]
    assert count["Passed quality control"] == count[written] - by_qc
    assert [label for _, label, _ in rows].index(written) == 1 + len(
        summary["ingest"]["records_excluded"])  # after the ingest rows, before the QC rows
