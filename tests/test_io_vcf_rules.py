"""Record rules shared by both readers (cohortgen.io.vcf_rules)."""

import pytest
from test_io_vcf import RECORDS, vcf_text, write_vcf

from cohortgen.errors import InputError
from cohortgen.io.vcf_rules import (
    POS_0_TELOMERE,
    check_id,
    exclusion_reason,
    in_region,
    line_location,
    position_reason,
)


@pytest.mark.parametrize(("pos", "start", "end", "expected"), [
    (0, 1, 10, True), (0, 2, 10, False), (1, 1, 10, True), (10, 1, 10, True), (11, 1, 10, False),
    (5, 6, 10, False),
])
def test_in_region__pos_0_belongs_to_the_first_region(pos, start, end, expected):
    assert in_region(pos, start, end) is expected


def test_position_reason__telomere_only_at_0():
    assert [position_reason(pos) for pos in (0, 1, 2**31 - 1)] == [POS_0_TELOMERE, None, None]


def test_exclusion_reason__alleles():
    assert exclusion_reason("A", []) == "no_alt_allele"
    assert exclusion_reason("A", ["C", "G"]) == "multiallelic"
    assert exclusion_reason("A", ["C", "G"], "split") is None
    assert exclusion_reason("A", ["<DEL>"]) == "symbolic_allele"


def test_check_id__whitespace_names_file_line_and_record(tmp_path):
    path = write_vcf(tmp_path, vcf_text(RECORDS[:2]), index=False)
    check_id(path, "1", 100, "rs1")
    with pytest.raises(InputError) as info:
        check_id(path, "1", 200, "rs 2")
    assert str(info.value).startswith(f"{path}, line 7: record 1:200: ID 'rs 2'")


def test_line_location__no_such_line(tmp_path):
    path = write_vcf(tmp_path, vcf_text(RECORDS[:1]), index=False)
    assert line_location(path, b"1\t100\t") == f"{path}, line 6"
    assert line_location(path, b"2\t100\t") == str(path)
    assert line_location(tmp_path / "absent.vcf.gz", b"1") == str(tmp_path / "absent.vcf.gz")
