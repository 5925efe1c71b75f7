"""Peak memory of an ``ingest-dosages`` job does not grow with its region's variant count: the
spilled dosages go to the .pgen a block at a time, not through a map of the whole spill."""

import subprocess
import sys
import textwrap

import numpy as np

from cohortgen.ingest.dosages import _write_dosages

SAMPLES, VARIANTS, BLOCK = 2000, 5000, 256
SPILL_MB = SAMPLES * VARIANTS * 4 / 2**20  # 38 MiB


def peak_growth_mb(spill, pgen) -> float:
    """MiB by which a fresh interpreter's peak resident memory (VmHWM: this process's own,
    not the forking parent's) grows while writing ``spill`` to ``pgen``."""
    code = textwrap.dedent(f"""
        from pathlib import Path
        import numpy as np, pgenlib
        from cohortgen.ingest.dosages import _write_dosages

        def peak():
            text = Path("/proc/self/status").read_text()
            return int(text.split("VmHWM:")[1].split()[0]) / 1024

        before = peak()
        _write_dosages(Path({str(pgen)!r}), Path({str(spill)!r}), {VARIANTS}, {SAMPLES},
                       {BLOCK})
        print(peak() - before)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return float(result.stdout)


def test_write_dosages__peak_memory_is_a_block_not_the_spill(tmp_path):
    rng = np.random.default_rng(0)
    dosage = np.round(rng.uniform(0, 2, (VARIANTS, SAMPLES)) * 16384) / 16384
    spill = tmp_path / "spill.dosages"
    dosage.astype(np.float32).tofile(spill)
    growth = peak_growth_mb(spill, tmp_path / "out.pgen")
    assert growth < SPILL_MB / 4, f"peak grew {growth:.1f} MiB writing a {SPILL_MB:.0f} MiB spill"


def test_write_dosages__rows_round_trip_through_pgenlib(tmp_path):
    import pgenlib

    rng = np.random.default_rng(1)
    dosage = (np.round(rng.uniform(0, 2, (7, 5)) * 16384) / 16384).astype(np.float32)
    dosage.tofile(tmp_path / "spill")
    _write_dosages(tmp_path / "out.pgen", tmp_path / "spill", 7, 5, 3)
    reader = pgenlib.PgenReader(bytes(tmp_path / "out.pgen"))
    back = np.empty((7, 5), dtype=np.float32)
    reader.read_dosages_range(0, 7, back)
    reader.close()
    assert np.abs(back - dosage).max() == 0
