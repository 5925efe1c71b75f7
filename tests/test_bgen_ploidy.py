"""BGEN calls of ploidy above 2 (BGEN allows up to 63): an InputError naming the file, the
variant and the sample, phased or not, bi- or multi-allelic, from the reader and the command
line; haploid and diploid calls in the same record still read."""

import re

import bgen
import numpy as np
import pytest

from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.io.bgen import read_bgen_dosages

SAMPLES = ["s1", "s2", "s3", "s4"]


def write_bgen(path, n_alleles: int, phased: bool, ploidy: list[int]):
    """One record 22:100 (rs100) before one 22:200 (rs200), samples of ``ploidy``: even
    genotype (unphased) or allele (phased) probabilities, NaN beyond a sample's own."""
    width = (n_alleles * max(ploidy) if phased
             else max(len(_genotypes(n_alleles, k)) for k in ploidy))
    probs = np.full((len(SAMPLES), width), np.nan)
    for i, k in enumerate(ploidy):
        n = n_alleles * k if phased else len(_genotypes(n_alleles, k))
        probs[i, :n] = 1.0 / (n_alleles if phased else n)
    n_diploid = 2 * n_alleles if phased else len(_genotypes(n_alleles, 2))
    diploid = np.full((len(SAMPLES), n_diploid), 1.0 / (n_alleles if phased else n_diploid))
    alleles = ["A", "G", "T"][:n_alleles]
    with bgen.BgenWriter(str(path), len(SAMPLES), samples=SAMPLES) as writer:
        writer.add_variant("v100", "rs100", "22", 100, alleles, diploid,
                           ploidy=np.full(len(SAMPLES), 2, np.uint8), phased=phased,
                           bit_depth=16)
        writer.add_variant("v200", "rs200", "22", 200, alleles, probs,
                           ploidy=np.array(ploidy, np.uint8), phased=phased, bit_depth=16)
    return path


def _genotypes(n_alleles: int, ploidy: int) -> list[tuple]:
    """Unordered genotypes of ``ploidy`` copies of ``n_alleles`` alleles."""
    if ploidy == 0:
        return [()]
    return [(a, *rest) for a in range(n_alleles) for rest in _genotypes(n_alleles, ploidy - 1)
            if not rest or a <= rest[0]]


@pytest.mark.parametrize("phased", [False, True])
@pytest.mark.parametrize(("n_alleles", "multiallelic"), [(2, "drop"), (3, "split"),
                                                         (3, "drop")])
def test_read_bgen_dosages__ploidy_above_two_names_file_variant_and_sample(
        tmp_path, phased, n_alleles, multiallelic):
    path = write_bgen(tmp_path / "triploid.bgen", n_alleles, phased, [2, 1, 3, 4])
    message = (r"triploid\.bgen: record 22:200 \(rs200\): sample s3: ploidy 3 \(2 sample\(s\) "
               r"above 2\); cohortgen reads haploid and diploid calls only")
    with pytest.raises(InputError, match=message):
        list(read_bgen_dosages(path, "22", 1, 1000, multiallelic=multiallelic))


@pytest.mark.parametrize("phased", [False, True])
def test_read_bgen_dosages__haploid_and_diploid_calls_still_read(tmp_path, phased):
    path = write_bgen(tmp_path / "mixed.bgen", 2, phased, [2, 1, 2, 1])
    block = next(read_bgen_dosages(path, "22", 1, 1000))
    # ALT probability 0.5: diploid 1.0, haploid 0.5 stored on PLINK 2's diploid scale (1.0)
    np.testing.assert_allclose(block.dosage[1], [1.0, 1.0, 1.0, 1.0], atol=1e-4)


def test_main__ingest_dosages_ploidy_above_two_is_a_one_line_error(tmp_path, capsys):
    path = write_bgen(tmp_path / "triploid.bgen", 2, False, [2, 2, 3, 2])
    status = main(["ingest-dosages", "--imputed", str(path), "--region", "22",
                   "--out-prefix", str(tmp_path / "out"), "--options", "{}"])
    assert status != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(r"triploid\.bgen: record 22:200 \(rs200\): sample s3: ploidy 3", err)
