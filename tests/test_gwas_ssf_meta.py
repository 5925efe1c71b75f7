"""One reader of the GWAS-SSF metadata sidecar (io.sumstats.read_gwas_ssf_meta) for the GWAS
summary and the report: a missing sidecar is an InputError naming it, in both."""

import pandas as pd
import pytest

from cohortgen.assoc.gather import gathered_status
from cohortgen.errors import InputError
from cohortgen.io.sumstats import read_gwas_ssf_meta
from cohortgen.report.stage import imputed_r2_filter


def test_read_gwas_ssf_meta__reads_the_sidecar(tmp_path):
    (tmp_path / "d.tsv.gz-meta.yaml").write_text("cohortgen_status: OK\n")
    assert read_gwas_ssf_meta(tmp_path / "d.tsv.gz") == {"cohortgen_status": "OK"}
    (tmp_path / "e.tsv.gz-meta.yaml").write_text("")
    assert read_gwas_ssf_meta(tmp_path / "e.tsv.gz") == {}


@pytest.mark.parametrize("reader", [lambda p: gathered_status(p, "OK"),
                                    lambda p: imputed_r2_filter([p])])
def test_read_gwas_ssf_meta__a_missing_sidecar_is_named(tmp_path, reader):
    pd.DataFrame().to_csv(tmp_path / "d.tsv.gz")
    with pytest.raises(InputError, match=r"d\.tsv\.gz-meta\.yaml: no such file.*gather-gwas"):
        reader(tmp_path / "d.tsv.gz")
