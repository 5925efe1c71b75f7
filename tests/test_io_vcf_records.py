"""The native record reader (cohortgen.io.vcf_records): lines come whole across pieces; the
kernel marks malformed exactly the lines the plain-Python checks find a problem in."""

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_io_vcf import random_vcf_text, write_vcf
from test_kernels_gt import CELL, FIXED_COLUMNS, run_parse_record_lines

from cohortgen.io.vcf_records import _fixed_problem, parsed_pieces
from cohortgen.kernels.gt import LINE_FIRST_SAMPLE, LINE_MALFORMED, LINE_STATUS


@settings(deadline=None, max_examples=300)
@given(st.tuples(*FIXED_COLUMNS), st.lists(CELL, min_size=0, max_size=4), st.integers(1, 12),
       st.integers(1, 4))
def test_parse_record_lines__malformed_iff_fixed_problem(fixed, cells, n_columns, n_samples):
    """The reader asks :func:`_fixed_problem` for the message of exactly the lines the kernel
    marks malformed, so the kernel must mark the lines it finds a problem in, and only those."""
    line = "\t".join([*fixed, *cells][:n_columns]).encode()
    facts = run_parse_record_lines([line], n_samples)[1][0]
    problem = _fixed_problem(line, 0, int(facts[LINE_FIRST_SAMPLE]), len(line),
                             [f"S{k}" for k in range(n_samples)])
    assert (facts[LINE_STATUS] == LINE_MALFORMED) == (problem is not None), problem


@pytest.mark.parametrize("threads", [1, 3])
def test_parsed_pieces__lines_across_pieces(tmp_path, threads):
    """Pieces of 1,000 compressed bytes, smaller than a bgzip block: every line of the several
    blocks comes whole, once, in order, from the virtual offset of the first record on (each
    piece read before the next is asked for: the reader re-uses text buffers)."""
    path = write_vcf(tmp_path, random_vcf_text(n_records=3000, n_samples=40))
    text = gzip.decompress(path.read_bytes())
    first = text.index(b"\n1\t") + 1  # in the first block: the header is short
    lines, n_pieces = [], 0
    for piece in parsed_pieces(path, first, 40, threads, read_size=1000):
        lines += [piece.text[s:e] for s, e in zip(piece.starts, piece.ends, strict=True)]
        n_pieces += 1
    assert n_pieces > 20
    assert lines == text[first:].rstrip(b"\n").split(b"\n")
