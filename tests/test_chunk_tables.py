"""The association chunk tables (``assoc/<trait>.columns``): the column-table format
(:mod:`cohortgen.io.columns`) round trip, the floats stored as the former ``%.10g`` text held
them (:func:`cohortgen.io.files.tsv_float_values` against pandas reading that text), and the
gathered GWAS-SSF files byte-identical to those gathered from the former text tables."""

import io

import numpy as np
import pandas as pd
import pytest
from test_assoc_chunk import pack_dosages, small_bim

from cohortgen.assoc.chunk import (
    CHUNK_COLUMNS,
    STATUSES,
    ChunkTable,
    FallbackSettings,
    _joined_blocks,
    chunk_table,
    write_trait_tables,
)
from cohortgen.assoc.gather import gather_gwas, read_chunk_table, trait_method, write_trait_files
from cohortgen.assoc.null_model import fit_null_models
from cohortgen.assoc.stage import null_model_table
from cohortgen.errors import InputError
from cohortgen.io.columns import (
    Categories,
    column_table_bytes,
    read_column_table,
    write_column_table,
)
from cohortgen.io.files import (
    read_json,
    read_tsv,
    tsv_float_values,
    tsv_text,
    write_json,
    write_tsv,
)
from cohortgen.io.sumstats import GWAS_SSF_COLUMNS, IMPUTED_COLUMNS, untested_path_for


def write_chunk_frame(path, frame: pd.DataFrame) -> None:
    """A chunk table of one trait's rows ``frame`` (:data:`CHUNK_COLUMNS`, ``disease`` the
    trait's name, then any imputed columns), as tests write them by hand."""
    names = [c for c in frame.columns if c != "disease"]
    trait = frame["disease"].iloc[0] if len(frame) else "d"
    write_column_table(path, {c: frame[c].to_numpy() for c in names}, {"trait": trait},
                       len(frame))


def edge_floats() -> np.ndarray:
    """float64 values at every magnitude and the awkward ones: ties at ten digits, powers of
    ten and their neighbours, subnormals, ±0, NaN and ±inf."""
    rng = np.random.default_rng(7)
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, 0.5, 1.5, 2.5e-8, 1e-13, 1e22, 9.9999999995,
               99999999995.0, 1.00000000005, 5e-324, 2.2250738585072014e-308, 1e308,
               0.30000000000000004, 123456789012345.0, 1e-5, 0.0001, 1e10, 999999999.95]
    powers = 10.0 ** np.arange(-320, 308)
    return np.concatenate([
        special, powers, np.nextafter(powers, 0), np.nextafter(powers, np.inf),
        10.0 ** rng.uniform(-324, 308, 20_000) * rng.choice([-1, 1], 20_000),
        rng.uniform(0, 1, 20_000), np.round(rng.uniform(0, 100, 20_000), 9),
        np.round(rng.uniform(0, 1, 20_000), 11), rng.integers(0, 10**7, 2_000).astype(float)])


def test_tsv_float_values__equal_pandas_reading_the_10g_text():
    x = edge_floats()
    text = tsv_text(pd.DataFrame({"x": x, "k": 1}), "%.10g")
    expected = pd.read_csv(io.StringIO(text), sep="\t", na_values=["NA"],
                           keep_default_na=False)["x"].to_numpy(float)
    ours = tsv_float_values(x)
    assert np.array_equal(ours.view(np.int64), expected.view(np.int64))  # bit for bit


def every_type_columns(m: int) -> dict:
    rng = np.random.default_rng(3)
    names = ["rs1", "χ-ünïcode-ID", "", "tab\tand\nnewline", "A" * 10_000]
    return {
        "chromosome": np.array([str(k % 23 + 1) for k in range(m)], dtype=object),
        "base_pair_location": np.arange(m, dtype=np.int64) * 7 + 2**40,
        "effect_allele": np.array([names[k % len(names)] for k in range(m)], dtype=object),
        "beta": np.where(np.arange(m) % 5 == 0, np.nan, rng.normal(size=m)),
        "p_value": np.where(np.arange(m) % 7 == 0, np.inf, rng.uniform(size=m)),
        "typed": np.arange(m) % 2 == 0,
        "n_small": np.arange(m, dtype=np.uint8),
        "status": Categories(np.arange(m, dtype=np.uint8) % len(STATUSES), STATUSES),
    }


@pytest.mark.parametrize("m", [0, 1, 37])
def test_column_table__round_trip_of_every_column_type(tmp_path, m):
    columns = every_type_columns(m)
    write_column_table(tmp_path / "t.columns", columns, {"trait": "ldl-ø"}, m)
    table, meta = read_column_table(tmp_path / "t.columns")
    assert meta == {"trait": "ldl-ø"}
    assert table.columns.tolist() == list(columns)
    assert len(table) == m
    for name, column in columns.items():
        if isinstance(column, Categories):
            assert table[name].tolist() == [STATUSES[c] for c in column.codes]
        else:
            np.testing.assert_array_equal(table[name].to_numpy(), column)
    assert table["base_pair_location"].dtype == np.int64
    assert table["n_small"].dtype == np.int64
    assert table["beta"].dtype == np.float64
    assert table["typed"].dtype == bool
    assert (tmp_path / "t.columns").stat().st_size % 8 == 0


def test_column_table__deterministic_bytes(tmp_path):
    columns = every_type_columns(50)
    assert column_table_bytes(columns, {"trait": "d"}, 50) == column_table_bytes(
        every_type_columns(50), {"trait": "d"}, 50)


@pytest.mark.parametrize(("content", "message"), [
    (b"chromosome\tbase_pair_location\n1\t100\n", "no column-table header"),
    (b"", "no column-table header"),
    (None, "cut short"),
])
def test_read_column_table__bad_file_names_it(tmp_path, content, message):
    path = tmp_path / "d.columns"
    if content is None:
        write_column_table(path, every_type_columns(20), {"trait": "d"}, 20)
        content = path.read_bytes()[:-9]
    path.write_bytes(content)
    with pytest.raises(InputError, match=rf"d\.columns: .*{message}.*rerun"):
        read_column_table(path)


def test_read_chunk_table__another_trait_or_a_missing_column_is_an_input_error(tmp_path):
    frame = chunk_frame("q")
    write_chunk_frame(tmp_path / "q.columns", frame)
    with pytest.raises(InputError, match=r"q\.columns: the chunk table of trait 'q', not 'd'"):
        read_chunk_table(tmp_path / "q.columns", "d")
    write_chunk_frame(tmp_path / "short.columns", frame.drop(columns="mac"))
    with pytest.raises(InputError, match=r"short\.columns: no column\(s\) mac"):
        read_chunk_table(tmp_path / "short.columns", "q")


def chunk_frame(trait: str) -> pd.DataFrame:
    return pd.DataFrame({
        "disease": trait, "chromosome": "1", "base_pair_location": [100, 200],
        "effect_allele": "A", "other_allele": "G", "beta": 0.1, "standard_error": 0.05,
        "effect_allele_frequency": [0.3, 0.25], "p_value": [0.5, 0.2],
        "variant_id": ["v1", "v2"], "rsid": np.nan, "n": 500, "n_cases": 200,
        "n_controls": 300, "effect_allele_frequency_cases": 0.3,
        "effect_allele_frequency_controls": 0.3, "status": "OK", "mac": [300, 250]})[CHUNK_COLUMNS]


def small_chunk(imputed: bool) -> tuple[ChunkTable, list[str]]:
    """A chunk of 300 variants (alleles long, IDs non-ASCII, MAC from 0 up, calls missing) for
    a disease ``d`` and a quantitative trait ``q`` (no case columns), with the imputed columns
    if asked; traits d, q and one untested."""
    rng = np.random.default_rng(11)
    n, m = 400, 300
    freq = np.concatenate([np.zeros(5), rng.uniform(0.001, 0.5, m - 5)])
    dosage = rng.binomial(2, freq[:, None], (m, n)).astype(np.int8)
    dosage[rng.uniform(size=(m, n)) < 0.01] = -1
    covariates = rng.normal(size=(n, 2))
    phenotypes = np.column_stack([(rng.uniform(size=n) < 0.3).astype(float),
                                  rng.normal(size=n) + 0.5 * covariates[:, 0]])
    models = fit_null_models(covariates, phenotypes, quantitative=[False, True])
    ids = [f"s{i}" for i in range(n)]
    null = null_model_table(ids, models, pd.DataFrame(phenotypes, columns=["d", "q"]),
                            ["OK", "OK"])
    bim = small_bim(m)
    bim["a1"] = ["ACGT" * 300 if k % 50 == 1 else "T" for k in range(m)]
    bim["id"] = [f"variant-ü-{k}" if k % 3 else f"rs{k}" for k in range(m)]
    if imputed:
        bim["info"] = np.where(np.arange(m) % 10 == 0, np.nan, rng.uniform(0.3, 1, m))
        bim["typed"] = (np.arange(m) % 4 == 0).astype(np.int64)
    table = chunk_table(pack_dosages(dosage), bim, ids, null, ["d", "q"], FallbackSettings(),
                        quantitative=["q"])
    return table, ["d", "q", "untested"]


def gathered_from_text(trait: str, paths: list, null_json, out_gz) -> None:
    """The GWAS-SSF files of ``trait`` as gather-gwas wrote them from the former text chunk
    tables (``write_tsv`` at ``%.10g``): read back, the trait's rows, then the same writer."""
    dtype = {name: str for name in ("chromosome", "variant_id", "disease", "status",
                                    "effect_allele", "other_allele")}
    table = pd.concat([read_tsv(p, dtype=dtype) for p in paths], ignore_index=True)
    imputed = [c for c in IMPUTED_COLUMNS if c in table.columns]
    table = table.loc[table["disease"] == trait, GWAS_SSF_COLUMNS + imputed].reset_index(
        drop=True)
    null = read_json(null_json)
    write_trait_files(trait, table, null, "GRCh38", out_gz, null["diseases"][trait]["status"],
                      trait_method(trait, "remove", None), None)


@pytest.mark.parametrize("imputed", [False, True])
def test_write_trait_tables__gather_equals_the_text_tables(tmp_path, imputed):
    """Each trait gathered from the column tables (split in two chunks) writes the same bytes
    (GWAS-SSF, index, sidecar, untested table) as from the text tables the chunk step wrote
    before (``write_tsv`` at ``%.10g`` of the long table's rows of the trait); the tables hold
    the trait's rows of the long table, floats as that text reads back."""
    table, traits = small_chunk(imputed)
    frame = table.frame()
    halves = [ChunkTable(table.variants.iloc[rows].reset_index(drop=True),
                         {t: {k: v[rows] for k, v in cols.items()}
                          for t, cols in table.traits.items()})
              for rows in (slice(0, 140), slice(140, None))]
    write_json(tmp_path / "null.json", {"covariates": ["age"], "diseases": {
        "d": {"status": "OK", "n_cases": 120, "n_controls": 280},
        "q": {"status": "OK", "type": "quantitative", "n": 400},
        "untested": {"status": "SKIPPED: too few cases", "n_cases": 3, "n_controls": 397}}})
    for k, half in enumerate(halves):
        write_trait_tables(tmp_path / f"new{k}", half, traits)
        old = half.frame()
        for trait in traits:
            write_tsv(tmp_path / f"old{k}" / f"{trait}.tsv", old[old["disease"] == trait],
                      float_format="%.10g")
    for trait in traits:
        stored = read_chunk_table(tmp_path / "new0" / f"{trait}.columns", trait)
        text = read_tsv(tmp_path / "old0" / f"{trait}.tsv", dtype={
            name: str for name in ("chromosome", "variant_id", "disease", "status",
                                   "effect_allele", "other_allele")})
        assert stored.columns.tolist() == GWAS_SSF_COLUMNS + (IMPUTED_COLUMNS if imputed
                                                              else [])
        if trait != "untested":
            assert tsv_text(stored, "%.10g") == tsv_text(text.drop(columns="disease"), "%.10g")
            rows = frame.loc[frame["disease"] == trait].iloc[:140]
            np.testing.assert_array_equal(stored["p_value"], tsv_float_values(rows["p_value"]))
        gather_gwas(trait, [tmp_path / f"new{k}" / f"{trait}.columns" for k in (0, 1)],
                    tmp_path / "null.json", "GRCh38", tmp_path / "new" / f"{trait}.tsv.gz")
        gathered_from_text(trait, [tmp_path / f"old{k}" / f"{trait}.tsv" for k in (0, 1)],
                           tmp_path / "null.json", tmp_path / "old" / f"{trait}.tsv.gz")
        for name in (f"{trait}.tsv.gz", f"{trait}.tsv.gz.tbi", f"{trait}.tsv.gz-meta.yaml",
                     untested_path_for(tmp_path / f"{trait}.tsv.gz").name):
            assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes()
    assert len(read_chunk_table(tmp_path / "new1" / "untested.columns", "untested")) == 0


def test_chunk_table__frame_statuses_and_empty_traits():
    table, _ = small_chunk(False)
    frame = table.frame()
    assert frame.columns.tolist() == CHUNK_COLUMNS
    assert frame["disease"].tolist() == ["d"] * 300 + ["q"] * 300
    assert set(frame["status"]) <= set(STATUSES)
    assert (frame.loc[frame["disease"] == "q", "n_cases"].isna()).all()
    empty = ChunkTable(table.variants.iloc[:0], {"d": _joined_blocks([])}).frame()
    assert empty.columns.tolist() == CHUNK_COLUMNS
    assert empty.empty
