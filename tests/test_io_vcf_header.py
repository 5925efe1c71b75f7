"""VCF headers (cohortgen.io.vcf_header): bad files raise InputError naming the file; sample IDs
in file order; ``##contig`` IDs read as written."""

import gzip

import pytest
from test_io_vcf import FIXED, SAMPLES, assert_input_error, truncated_copy, vcf_text, write_vcf

from cohortgen.io.vcf_header import contig_id, open_vcf, vcf_samples


def test_open_vcf__plain_gzip(tmp_path):
    path = tmp_path / "plain.vcf.gz"
    path.write_bytes(gzip.compress(vcf_text().encode()))
    assert_input_error(lambda: open_vcf(path), str(path), "bgzip")


def test_open_vcf__not_vcf(tmp_path):
    path = write_vcf(tmp_path, "sample\tvalue\nA\t1\n", name="table.vcf.gz", index=False)
    assert_input_error(lambda: open_vcf(path), str(path), "cannot be read as VCF")


def test_open_vcf__missing_file(tmp_path):
    path = tmp_path / "absent.vcf.gz"
    assert_input_error(lambda: open_vcf(path), str(path), "not found")


def test_vcf_samples__duplicate_ids(tmp_path):
    path = write_vcf(tmp_path, vcf_text(samples=["A", "B", "A"]), index=False)
    assert_input_error(lambda: vcf_samples(path), str(path), "duplicate sample ID", "A")


def test_vcf_samples__file_order(tmp_path):
    assert vcf_samples(write_vcf(tmp_path, vcf_text())) == SAMPLES


def test_open_vcf__truncated(tmp_path):
    _, cut = truncated_copy(tmp_path)
    assert_input_error(lambda: open_vcf(cut), str(cut), "truncated")


def test_open_vcf__header_with_spaces(tmp_path):
    spaced = " ".join([*FIXED.split("\t"), *SAMPLES])
    text = vcf_text().replace("\t".join([FIXED, *SAMPLES]), spaced)
    path = write_vcf(tmp_path, text, index=False)
    assert_input_error(lambda: open_vcf(path), str(path), "spaces, not tabs")


@pytest.mark.parametrize(("line", "expected"), [
    ("##contig=<ID=1,length=248956422>\n", "1"),
    ("##contig=<ID=ctg>,length=1000>\n", "ctg>"),
    ("##contig=<ID=ctg>>\r\n", "ctg>"),
    ('##contig=<ID=chrUn,description="a, b",length=9>\n', "chrUn"),
    ("##contig=<length=9,ID=chrX>\n", "chrX"),
    ("##contig=<length=9>\n", ""),
])
def test_contig_id__as_written(line, expected):
    """The line's closing '>' alone is removed; quoted commas do not split; ID need not be
    first."""
    assert contig_id(line) == expected
