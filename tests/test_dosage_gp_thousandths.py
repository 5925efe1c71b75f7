"""The text reader's shortcut for Minimac4's GP cells (three values written ``d.ddd``: summed
and compared with DS in thousandths) decides every cell as the rules do (the cyvcf2 reader):
the same dosages, or the same error, at and around each limit."""

import numpy as np
import pytest
from test_dosage import SAMPLES
from test_dosage_vcf_fast import vcf_of

from cohortgen.errors import InputError
from cohortgen.io.dosage_vcf import read_vcf_dosages

HEADER = """##fileformat=VCFv4.2
##contig=<ID=22,length=51304566>
##contig=<ID=X,length=156040895>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">
##FORMAT=<ID=GP,Number=G,Type=Float,Description="Genotype probabilities">
"""

CELLS = [
    ("22", "0/1:1.000:0.250,0.500,0.250"), ("22", "0/0:0.000:1.000,0.000,0.000"),
    ("22", "1/1:2.000:0.000,0.000,1.000"), ("22", "0/1:1.019:0.250,0.500,0.250"),
    ("22", "0/1:0.981:0.250,0.500,0.250"), ("22", "0/1:1.020:0.250,0.500,0.250"),
    ("22", "0/1:0.980:0.250,0.500,0.250"), ("22", "0/1:1.021:0.250,0.500,0.250"),
    ("22", "0/1:0.990:0.330,0.330,0.330"), ("22", "0/1:1.000:0.340,0.330,0.340"),
    ("22", "0/1:1.000:0.335,0.330,0.336"), ("22", "0/1:1.000:0.330,0.330,0.329"),
    ("22", "0/0:0.000:1.001,0.000,0.000"), ("22", "0/0:0.000:1.500,0.000,0.000"),
    ("22", "./.:.:0.250,0.500,0.250"), ("22", "0/1:1.000:."),
    ("22", "0/1:1.000:0.250,0.500,0.250,0.000"), ("22", "0/1:1.000:0.25,0.500,0.250"),
    ("22", "0/1:1.000:0.250,0.500,0.2500"), ("X", "1:1.000:0.000,1.000"),
    ("X", "1:1.000:0.000,1.000,0.000"), ("X", "0/1:1.000:0.250,0.500,0.250"),
]


def outcome(vcf, contig: str, reader: str):
    """The reader's dosages of the region, or its error message."""
    try:
        return np.vstack([b.dosage for b in read_vcf_dosages(vcf, contig, 1, 10**9,
                                                             reader=reader)])
    except InputError as error:
        return str(error)


@pytest.mark.parametrize(("contig", "cell"), CELLS)
def test_text_reader__gp_in_thousandths_decided_as_the_rules(tmp_path, contig, cell):
    good = "0/1:1.000:0.250,0.500,0.250"
    lines = [f"{contig}\t{500 + k}\tv{k}\tA\tG\t.\tPASS\t.\tGT:DS:GP\t"
             + "\t".join([good, cell if k == 1 else good, good]) for k in range(3)]
    vcf = vcf_of(tmp_path, lines, header=HEADER, samples=SAMPLES[:3])
    text, rules = outcome(vcf, contig, "text"), outcome(vcf, contig, "htslib")
    if isinstance(rules, str):
        assert text == rules
    else:
        np.testing.assert_array_equal(text, rules)
