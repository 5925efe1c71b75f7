"""Seeded demo cohort: msprime genotypes, relatives, missingness, nine liability-threshold diseases.

``simulate_cohort`` writes ``genotypes.vcf.gz`` (+ ``.tbi``), ``phenotypes.tsv`` and ``truth.json``.

With ``x_mb > 0`` an X contig follows the autosomes, in GRCh38 coordinates: PAR1 is
10,001-2,781,479 (no variant is written before 10,001), the rest non-PAR. It is simulated like an
autosome; males are written haploid in non-PAR (their first haplotype: GT ``0``/``1``/``.``) and
diploid in PAR, females diploid. Children inherit X by sex (:func:`x_parents`): the first
haplotype (a son's only non-PAR X) is a recombinant of the mother's two, the second the father's
(his single X unrecombined outside PAR), so a daughter's two X come from different parents. X
takes no part in the diseases or the realized kinships; its genealogy comes from a second
generator seeded with (seed, X_STREAM), its missingness from the main one after the autosomes,
so adding X leaves the autosomes and phenotypes unchanged.
Every random draw comes from one ``numpy.random.Generator`` seeded with ``seed`` (msprime seeds are
drawn from it too), so the same arguments give byte-identical files.

Ancestry: three populations split from one ancestral population ``SPLIT_TIME`` generations ago,
with low symmetric migration; Ne 10,000, recombination 1e-8 and mutation 1.25e-8 per bp per
generation, one independent simulation per chromosome. Sites with one JC69 mutation are kept
(REF = ancestral base, ALT = derived base), then common variants (MAF >= 1% in the written samples)
are thinned to at most one per ``THIN_SPACING_BP`` window, like a genotyping array.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import msprime
import numpy as np
import pysam

from cohortgen.errors import InputError
from cohortgen.io.files import commit_output

logger = logging.getLogger(__name__)

NE = 10_000
RECOMBINATION_RATE = 1e-8
MUTATION_RATE = 1.25e-8
SPLIT_TIME = 400
MIGRATION_RATE = 5e-4
POPULATIONS = ("A", "B", "C")
POPULATION_FRACTIONS = (0.6, 0.25, 0.15)
POPULATION_LIABILITY_SHIFT = (0.0, 0.15, -0.15)
MIN_MAF = 0.01
THIN_SPACING_BP = 2_500
BACKGROUND_MISSING = (0.001, 0.003)
LOW_CALL_MISSING = (0.12, 0.20)  # realized rate stays >= 10% at a few thousand variants
NA_FRACTION = 0.01
LARGE_EFFECT_VARIANCE = 0.06
LARGE_EFFECT_MIN_MAF = 0.2

# name: (prevalence, liability effect of standardized age, liability effect of male sex)
DISEASES: dict[str, tuple[float, float, float]] = {
    "hypertension": (0.30, 0.50, 0.10),
    "type2_diabetes": (0.12, 0.35, 0.10),
    "dyslipidemia": (0.20, 0.30, 0.15),
    "obesity": (0.35, 0.10, -0.05),
    "chronic_kidney_disease": (0.08, 0.50, 0.05),
    "coronary_artery_disease": (0.06, 0.50, 0.35),
    "stroke": (0.04, 0.50, 0.10),
    "osteoporosis": (0.10, 0.50, -0.60),
    "asthma": (0.07, -0.10, -0.10),
}
PHENOTYPE_COLUMNS = ("sample_id", "sex", "age", *DISEASES)

# (relationship, expected kinship, degree); pairs cycle through these in order
RELATIONSHIPS = (
    ("parent_offspring", 0.25, 1),
    ("full_siblings", 0.25, 1),
    ("half_siblings", 0.125, 2),
)

# VCF genotype cells, 4 bytes each (NUL padding is removed on writing): code 2*hap0 + hap1
# (0..3), 4 = missing, then haploid 5 = '0', 6 = '1', 7 = '.'.
_GT_CELLS = np.frombuffer(
    b"0|0\t0|1\t1|0\t1|1\t./.\t0\t\0\0" b"1\t\0\0.\t\0\0", dtype=np.uint8
).reshape(8, 4)
MISSING_CODE = 4
HAPLOID_CODE = 5
PAR1 = (10_001, 2_781_479)  # GRCh38, 1-based inclusive
X_STREAM = 23  # X's genealogy is drawn from a generator seeded with (seed, X_STREAM)


@dataclass(frozen=True)
class Child:
    """A written sample replaced by a child of two simulated individuals (msprime indices)."""

    sample: int
    parent1: int
    parent2: int


@dataclass(frozen=True)
class CohortPlan:
    """Who is simulated and how written samples map onto simulated individuals.

    ``sim_index``: int64, shape (n_samples,), msprime individual of each written sample.
    ``n_per_population``: individuals simulated per population (written + unwritten parents).
    """

    sample_ids: list[str]
    population: np.ndarray
    sim_index: np.ndarray
    n_per_population: tuple[int, ...]
    children: list[Child]
    pairs: list[dict]
    low_call: np.ndarray


@dataclass
class Chromosome:
    """Kept variants of one chromosome.

    ``positions``: int64, shape (n_variants,), 1-based, strictly increasing.
    ``haplotypes``: int8, shape (n_variants, 2 * n_samples), 0 = REF, 1 = ALT; sample j is columns
    2j (first haplotype) and 2j + 1.
    ``origins``: per (child sample, haplotype 0/1), int8 0/1 per pre-thinning candidate site: which
    haplotype of the parent it was copied from (for realized kinship).
    """

    name: str
    length: int
    positions: np.ndarray
    ref: list[str]
    alt: list[str]
    haplotypes: np.ndarray
    origins: dict[tuple[int, int], np.ndarray]
    male_haploid: np.ndarray | None = None  # bool (n_variants,): X non-PAR sites

    @property
    def variant_ids(self) -> list[str]:
        """IDs ``chrom:pos:ref:alt``."""
        return [
            f"{self.name}:{p}:{r}:{a}"
            for p, r, a in zip(self.positions.tolist(), self.ref, self.alt, strict=True)
        ]


def simulate_cohort(
    out_dir: Path,
    n_samples: int = 2000,
    n_chromosomes: int = 3,
    chromosome_mb: float = 20.0,
    seed: int = 42,
    n_related_pairs: int = 10,
    n_low_call_samples: int = 10,
    x_mb: float = 0.0,
) -> dict:
    """Writes out_dir/genotypes.vcf.gz (+ .tbi), out_dir/phenotypes.tsv, out_dir/truth.json.

    ``x_mb``: length of an X contig in Mb (0: none; else at least 3, so it has a non-PAR part).
    Returns a summary dict: n_samples, n_variants, n_variants_per_chromosome, n_related_pairs,
    n_low_call_samples and the output paths (str).
    """
    _check_arguments(n_samples, n_chromosomes, chromosome_mb, n_related_pairs, n_low_call_samples)
    if x_mb and not 3 <= x_mb <= 160:
        raise InputError(f"simulate: x_mb={x_mb} must be 0 (no X) or between 3 and 160")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    plan = plan_cohort(rng, n_samples, n_related_pairs, n_low_call_samples)
    length = int(round(chromosome_mb * 1e6))
    chromosomes = [simulate_chromosome(rng, plan, str(c + 1), length) for c in range(n_chromosomes)]
    diseases = simulate_phenotypes(rng, plan, chromosomes)
    missing_rate = sample_missing_rates(rng, plan)
    x_rng = np.random.default_rng([seed, X_STREAM])  # so X leaves the autosomes unchanged
    male = diseases["sex"] == 1
    x = [simulate_x(x_rng, plan, int(round(x_mb * 1e6)), male)] if x_mb else []

    final = {
        "vcf": out_dir / "genotypes.vcf.gz",
        "tbi": out_dir / "genotypes.vcf.gz.tbi",
        "phenotypes": out_dir / "phenotypes.tsv",
        "truth": out_dir / "truth.json",
    }
    partial = {key: path.with_name(f".partial.{path.name}") for key, path in final.items()}
    write_vcf(rng, partial["vcf"], plan.sample_ids, chromosomes + x, missing_rate, male=male)
    write_phenotypes(partial["phenotypes"], plan, diseases)
    counts = {c.name: int(c.positions.size) for c in chromosomes + x}
    truth = truth_record(seed, plan, chromosomes, diseases, missing_rate)
    if x:
        truth["model"]["chromosome_lengths"]["X"] = x[0].length
        truth["model"]["x_par1"] = list(PAR1)
    truth["n_variants_per_chromosome"] = counts
    partial["truth"].write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    for key in ("vcf", "tbi", "phenotypes", "truth"):
        commit_output(partial[key], final[key])

    summary = {
        "n_samples": n_samples,
        "n_variants": sum(counts.values()),
        "n_variants_per_chromosome": counts,
        "n_related_pairs": len(plan.pairs),
        "n_low_call_samples": int(plan.low_call.size),
        **{key: str(path) for key, path in final.items()},
    }
    logger.info("simulated %d samples, %d variants %s", n_samples, summary["n_variants"], counts)
    return summary


def _check_arguments(
    n_samples: int, n_chromosomes: int, chromosome_mb: float, n_pairs: int, n_low_call: int
) -> None:
    """Raise InputError for settings that cannot give a cohort."""
    if n_samples < 50:
        raise InputError(f"simulate: n_samples={n_samples} is too small; use at least 50")
    if not 1 <= n_chromosomes <= 22:
        raise InputError(f"simulate: n_chromosomes={n_chromosomes} must be between 1 and 22")
    if not 0.5 <= chromosome_mb <= 250:
        raise InputError(f"simulate: chromosome_mb={chromosome_mb} must be between 0.5 and 250")
    if n_pairs < 0 or n_low_call < 0:
        raise InputError("simulate: n_related_pairs and n_low_call_samples must be >= 0")
    smallest = int(n_samples * min(POPULATION_FRACTIONS))
    pairs_per_population = -(-n_pairs // len(POPULATIONS))
    if 2 * n_pairs + n_low_call > n_samples // 2 or 2 * pairs_per_population > smallest // 2:
        raise InputError(
            f"simulate: {n_pairs} related pairs and {n_low_call} low-call samples do not fit "
            f"in {n_samples} samples; lower them or raise n_samples"
        )


def plan_cohort(
    rng: np.random.Generator, n_samples: int, n_pairs: int, n_low_call: int
) -> CohortPlan:
    """Assign populations, related pairs (and their unwritten parents) and low-call samples."""
    counts = np.floor(np.asarray(POPULATION_FRACTIONS) * n_samples).astype(np.int64)
    counts[0] += n_samples - counts.sum()
    population = rng.permutation(np.repeat(np.arange(len(POPULATIONS)), counts))
    rank = np.empty(n_samples, dtype=np.int64)
    for p in range(len(POPULATIONS)):
        members = np.flatnonzero(population == p)
        rank[members] = np.arange(members.size)

    available = np.ones(n_samples, dtype=bool)
    extras = [0] * len(POPULATIONS)
    drafts: list[tuple[int, int, int, tuple[str, float, int]]] = []
    for k in range(n_pairs):
        p = k % len(POPULATIONS)
        first = int(rng.choice(np.flatnonzero(available & (population == p))))
        available[first] = False
        second = int(rng.choice(np.flatnonzero(available & (population == p))))
        available[second] = False
        drafts.append((first, second, p, RELATIONSHIPS[k % len(RELATIONSHIPS)]))

    def new_parent(p: int) -> tuple[int, int]:
        """(population, k-th unwritten parent of that population)."""
        extras[p] += 1
        return (p, extras[p] - 1)

    specs = []
    for first, second, p, (relationship, _, _) in drafts:
        if relationship == "parent_offspring":
            specs.append((second, ("sample", first), ("extra", new_parent(p))))
        elif relationship == "full_siblings":
            x, y = new_parent(p), new_parent(p)
            specs += [(first, ("extra", x), ("extra", y)), (second, ("extra", x), ("extra", y))]
        else:
            x, y, z = new_parent(p), new_parent(p), new_parent(p)
            specs += [(first, ("extra", x), ("extra", y)), (second, ("extra", x), ("extra", z))]

    n_per_population = tuple(int(counts[p] + extras[p]) for p in range(len(POPULATIONS)))
    offsets = np.concatenate([[0], np.cumsum(n_per_population)])[:-1]
    sim_index = offsets[population] + rank

    def resolve(ref: tuple[str, object]) -> int:
        kind, value = ref
        if kind == "sample":
            return int(sim_index[value])
        p, e = value
        return int(offsets[p] + counts[p] + e)

    children = [Child(s, resolve(a), resolve(b)) for s, a, b in specs]
    sample_ids = [f"S{i + 1:05d}" for i in range(n_samples)]
    pairs = [
        {
            "sample_1": sample_ids[first],
            "sample_2": sample_ids[second],
            "relationship": relationship,
            "expected_kinship": kinship,
            "degree": degree,
        }
        for first, second, _, (relationship, kinship, degree) in drafts
    ]
    low_call = np.sort(rng.choice(np.flatnonzero(available), size=n_low_call, replace=False))
    return CohortPlan(
        sample_ids, population, sim_index, n_per_population, children, pairs, low_call
    )


def demography() -> msprime.Demography:
    """Three populations split from an ancestral one SPLIT_TIME generations ago, low migration."""
    model = msprime.Demography()
    for name in POPULATIONS:
        model.add_population(name=name, initial_size=NE)
    model.add_population(name="ANC", initial_size=NE)
    model.add_population_split(time=SPLIT_TIME, derived=list(POPULATIONS), ancestral="ANC")
    model.set_symmetric_migration_rate(list(POPULATIONS), MIGRATION_RATE)
    return model


def simulate_chromosome(
    rng: np.random.Generator, plan: CohortPlan, name: str, length: int,
    x_male: np.ndarray | None = None,
) -> Chromosome:
    """Simulate one chromosome, build relatives, keep common variants thinned to array density.
    ``x_male`` (bool per written sample): the chromosome is X, inherited by sex."""
    ancestry_seed, mutation_seed = (int(s) for s in rng.integers(1, 2**31 - 1, size=2))
    ts = msprime.sim_ancestry(
        samples=dict(zip(POPULATIONS, plan.n_per_population, strict=True)),
        demography=demography(),
        sequence_length=length,
        recombination_rate=RECOMBINATION_RATE,
        ploidy=2,
        random_seed=ancestry_seed,
    )
    ts = msprime.sim_mutations(
        ts, rate=MUTATION_RATE, model=msprime.JC69(), random_seed=mutation_seed
    )
    positions, ref, alt, packed = biallelic_sites(ts, min_frequency=MIN_MAF / 2)
    priority = rng.random(positions.size)
    candidates = thin_positions(positions, priority, THIN_SPACING_BP, per_window=3)
    n_haplotypes = 2 * ts.num_individuals
    simulated = np.unpackbits(packed[candidates], axis=1, count=n_haplotypes).astype(np.int8)
    haplotypes, origins = written_haplotypes(rng, plan, simulated, positions[candidates], length,
                                             x_male)

    frequency = haplotypes.mean(axis=1, dtype=np.float64)
    common = np.minimum(frequency, 1 - frequency) >= MIN_MAF
    kept_idx = candidates[common]
    chosen = thin_positions(positions[kept_idx], priority[kept_idx], THIN_SPACING_BP, 1)
    keep = np.flatnonzero(common)[chosen]
    sites = candidates[keep]
    return Chromosome(
        name=name,
        length=length,
        positions=positions[sites] + 1,
        ref=[ref[i] for i in sites],
        alt=[alt[i] for i in sites],
        haplotypes=np.ascontiguousarray(haplotypes[keep]),
        origins=origins,
    )


def simulate_x(rng: np.random.Generator, plan: CohortPlan, length: int,
               male: np.ndarray) -> Chromosome:
    """An X contig simulated like an autosome but inherited by sex (``male``: bool per written
    sample, see :func:`written_haplotypes`), without variants before PAR1; ``male_haploid``
    marks its non-PAR variants."""
    x = simulate_chromosome(rng, plan, "X", length, x_male=male)
    keep = x.positions >= PAR1[0]
    x.positions, x.haplotypes = x.positions[keep], np.ascontiguousarray(x.haplotypes[keep])
    x.ref = [r for r, k in zip(x.ref, keep, strict=True) if k]
    x.alt = [a for a, k in zip(x.alt, keep, strict=True) if k]
    x.male_haploid = x.positions > PAR1[1]
    return x


def biallelic_sites(
    ts, min_frequency: float
) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """Sites with exactly one mutation and derived frequency in [min_frequency, 1 - min_frequency].

    Returns 0-based positions (int64), REF and ALT bases, and haplotypes packed with
    ``np.packbits`` (uint8, shape (n_sites, ceil(n_haplotypes / 8)), 1 = ALT).
    """
    n_mutations = np.bincount(ts.mutations_site, minlength=ts.num_sites)
    ts = ts.delete_sites(np.flatnonzero(n_mutations != 1))  # now one mutation per site, in order
    n_haplotypes = ts.num_samples
    low, high = min_frequency * n_haplotypes, (1 - min_frequency) * n_haplotypes
    keep = np.zeros(ts.num_sites, dtype=bool)
    packed = []
    for i, variant in enumerate(ts.variants(copy=False)):
        count = np.count_nonzero(variant.genotypes)
        if low <= count <= high:
            keep[i] = True
            packed.append(np.packbits(variant.genotypes.astype(np.uint8)))
    width = (n_haplotypes + 7) // 8
    matrix = np.array(packed, dtype=np.uint8).reshape(len(packed), width)
    positions = ts.sites_position[keep].astype(np.int64)
    ref = ts.sites_ancestral_state[keep].tolist()
    alt = ts.mutations_derived_state[keep].tolist()
    return positions, ref, alt, matrix


def thin_positions(
    positions: np.ndarray, priority: np.ndarray, spacing: int, per_window: int
) -> np.ndarray:
    """Indices (sorted) of at most ``per_window`` variants per ``spacing``-bp window.

    Within a window the variants with the lowest ``priority`` (float, shape like positions) win.
    """
    window = positions // spacing
    order = np.lexsort((priority, window))
    sorted_window = window[order]
    starts = np.flatnonzero(np.r_[True, sorted_window[1:] != sorted_window[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, sorted_window.size]))
    rank = np.arange(sorted_window.size) - run_start
    return np.sort(order[rank < per_window])


def meiosis_origin(rng: np.random.Generator, positions: np.ndarray, length: int) -> np.ndarray:
    """One meiosis: which parental haplotype (int8 0/1, shape (n_sites,)) each site comes from.

    Crossovers are Poisson(RECOMBINATION_RATE * length), uniform along the chromosome.
    """
    n_crossovers = rng.poisson(RECOMBINATION_RATE * length)
    crossovers = np.sort(rng.uniform(0, length, size=n_crossovers))
    start = rng.integers(2)
    return ((start + np.searchsorted(crossovers, positions, side="right")) % 2).astype(np.int8)


def x_parents(plan: CohortPlan, child: Child, male: np.ndarray) -> tuple[int, int]:
    """(mother, father), msprime individuals, of ``child`` on X. A written parent (parent and
    offspring pairs) has the sheet's sex (``male``: bool per written sample); otherwise the
    first unwritten parent is the mother."""
    written = np.flatnonzero(plan.sim_index == child.parent1)
    if written.size and male[written[0]]:
        return child.parent2, child.parent1
    return child.parent1, child.parent2


def written_haplotypes(
    rng: np.random.Generator,
    plan: CohortPlan,
    simulated: np.ndarray,
    positions: np.ndarray,
    length: int,
    x_male: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    """Haplotypes of written samples (int8, (n_sites, 2 * n_samples)); children replace samples.

    ``simulated``: int8, shape (n_sites, 2 * n_simulated_individuals), msprime sample node order;
    ``positions``: 0-based. On X (``x_male``: bool per written sample) a child's first haplotype
    comes from the mother and the second from the father, who passes his single X (his first
    haplotype, the one written for a man) unrecombined at non-PAR sites (:func:`x_parents`).
    Also returns, per (child sample, haplotype 0/1), the meiosis origin array (see meiosis_origin).
    """
    columns = np.stack([2 * plan.sim_index, 2 * plan.sim_index + 1], axis=1).ravel()
    haplotypes = simulated[:, columns]
    origins = {}
    for child in plan.children:
        parents = ((child.parent1, child.parent2) if x_male is None
                   else x_parents(plan, child, x_male))
        for slot, parent in enumerate(parents):
            origin = meiosis_origin(rng, positions, length)
            if x_male is not None and slot == 1:  # a father's single non-PAR X
                origin = np.where(positions + 1 > PAR1[1], 0, origin).astype(np.int8)
            haplotypes[:, 2 * child.sample + slot] = np.where(
                origin == 0, simulated[:, 2 * parent], simulated[:, 2 * parent + 1]
            )
            origins[child.sample, slot] = origin
    return haplotypes, origins


def simulate_phenotypes(
    rng: np.random.Generator, plan: CohortPlan, chromosomes: list[Chromosome]
) -> dict:
    """Sex (1 male, 2 female), age (30..80), nine 0/1 diseases (NaN = NA) by liability threshold.

    Returns {"sex": int array, "age": int array, "diseases": {name: {...values, truth...}}}.
    """
    n = len(plan.sample_ids)
    sex = rng.integers(1, 3, size=n)
    age = rng.integers(30, 81, size=n)
    covariates = np.stack([(age - 55.0) / 14.7, (sex == 1).astype(np.float64)], axis=1)
    population_shift = np.asarray(POPULATION_LIABILITY_SHIFT)[plan.population]
    variant_ids = [v for c in chromosomes for v in c.variant_ids]
    offsets = np.cumsum([0] + [c.positions.size for c in chromosomes])

    def dosage(index: np.ndarray) -> np.ndarray:
        """Alt-allele dosages (float64, (n_samples, len(index))) of global variant indices."""
        chrom = np.searchsorted(offsets, index, side="right") - 1
        columns = []
        for i, c in zip(index.tolist(), chrom.tolist(), strict=True):
            h = chromosomes[c].haplotypes[i - offsets[c]]
            columns.append(h[0::2] + h[1::2])
        return np.stack(columns, axis=1).astype(np.float64)

    all_maf = np.concatenate([_maf(c.haplotypes) for c in chromosomes])
    diseases = {}
    for name, (prevalence, age_effect, male_effect) in DISEASES.items():
        h2 = float(rng.uniform(0.2, 0.4))
        n_causal = int(rng.integers(20, 51))
        n_large = 2 if prevalence >= 0.1 else 1
        large = rng.choice(np.flatnonzero(all_maf >= LARGE_EFFECT_MIN_MAF), n_large, replace=False)
        rest = np.setdiff1d(np.arange(all_maf.size), large)
        small = rng.choice(rest, n_causal - n_large, replace=False)
        causal = np.concatenate([large, small])
        x = dosage(causal)
        sd = x.std(axis=0)
        z = (x - x.mean(axis=0)) / sd
        weights = np.concatenate(
            [
                rng.choice([-1.0, 1.0], n_large) * np.sqrt(LARGE_EFFECT_VARIANCE),
                rng.normal(size=n_causal - n_large),
            ]
        )
        small_value = z[:, n_large:] @ weights[n_large:]
        small_target = max(h2 - n_large * LARGE_EFFECT_VARIANCE, 0.02)
        weights[n_large:] *= np.sqrt(small_target / small_value.var())
        genetic = z @ weights
        weights *= np.sqrt(h2 / genetic.var())
        genetic = z @ weights
        fixed = covariates @ np.array([age_effect, male_effect]) + population_shift
        noise_var = max(1.0 - h2 - fixed.var(), 0.1)
        liability = genetic + fixed + rng.normal(scale=np.sqrt(noise_var), size=n)
        threshold = np.quantile(liability, 1 - prevalence)
        status = (liability > threshold).astype(np.float64)
        status[rng.random(n) < NA_FRACTION] = np.nan
        diseases[name] = {
            "status": status,
            "truth": {
                "prevalence": prevalence,
                "prevalence_observed": round(float(np.nanmean(status)), 6),
                "heritability_liability": round(h2, 6),
                "heritability_liability_observed": round(float(genetic.var() / liability.var()), 6),
                "liability_threshold": round(float(threshold), 6),
                "age_effect_per_sd": age_effect,
                "male_effect": male_effect,
                "causal_variants": [
                    {
                        "id": variant_ids[i],
                        "effect_per_alt_allele": round(float(w / s), 6),
                        "effect_per_sd": round(float(w), 6),
                        "large": bool(k < n_large),
                    }
                    for k, (i, w, s) in enumerate(zip(causal.tolist(), weights, sd, strict=True))
                ],
            },
        }
    return {"sex": sex, "age": age, "diseases": diseases}


def _maf(haplotypes: np.ndarray) -> np.ndarray:
    """Minor allele frequency per variant (float64) of int8 haplotypes (n_variants, 2n)."""
    frequency = haplotypes.mean(axis=1, dtype=np.float64)
    return np.minimum(frequency, 1 - frequency)


def sample_missing_rates(rng: np.random.Generator, plan: CohortPlan) -> np.ndarray:
    """Per-sample missing-genotype probability (float64, (n_samples,)): low-call samples 12-20%."""
    rate = rng.uniform(*BACKGROUND_MISSING, size=len(plan.sample_ids))
    rate[plan.low_call] = rng.uniform(*LOW_CALL_MISSING, size=plan.low_call.size)
    return rate


def genotype_codes(
    rng: np.random.Generator, chrom: Chromosome, missing_rate: np.ndarray, male: np.ndarray
) -> np.ndarray:
    """uint8 codes (n_variants, n_samples): 2*hap0 + hap1, MISSING_CODE where set missing; males
    at ``chrom.male_haploid`` sites HAPLOID_CODE + hap0 (or the haploid missing code)."""
    haplotypes = chrom.haplotypes
    codes = (2 * haplotypes[:, 0::2] + haplotypes[:, 1::2]).astype(np.uint8)
    draws = rng.random(codes.shape, dtype=np.float32)
    missing = draws < missing_rate.astype(np.float32)
    codes[missing] = MISSING_CODE
    if chrom.male_haploid is not None:
        rows, columns = np.ix_(chrom.male_haploid, male)
        first = haplotypes[:, 0::2][rows, columns]
        codes[rows, columns] = HAPLOID_CODE + np.where(missing[rows, columns], 2, first)
    return codes


def vcf_header(sample_ids: list[str], chromosomes: list[Chromosome]) -> str:
    """VCFv4.2 header lines, ending with the #CHROM line."""
    lines = ["##fileformat=VCFv4.2", "##source=cohortgen-simulate"]
    lines += [f"##contig=<ID={c.name},length={c.length}>" for c in chromosomes]
    lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    fixed = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
    lines.append("\t".join(fixed + sample_ids))
    return "\n".join(lines) + "\n"


def write_vcf(
    rng: np.random.Generator,
    path: Path,
    sample_ids: list[str],
    chromosomes: list[Chromosome],
    missing_rate: np.ndarray,
    male: np.ndarray,
) -> None:
    """Write a bgzipped, tabix-indexed VCF at ``path`` (index at ``path`` + ".tbi");
    ``male``: bool (n_samples,), haploid on non-PAR X."""
    plain = path.with_name(path.name.removesuffix(".gz"))
    with open(plain, "wb") as out:
        out.write(vcf_header(sample_ids, chromosomes).encode())
        for chrom in chromosomes:
            codes = genotype_codes(rng, chrom, missing_rate, male)
            body = _GT_CELLS[codes].reshape(codes.shape[0], -1)
            padded = chrom.male_haploid is not None
            for variant_id, row in zip(chrom.variant_ids, body, strict=True):
                c, pos, ref, alt = variant_id.split(":")
                out.write(f"{c}\t{pos}\t{variant_id}\t{ref}\t{alt}\t.\tPASS\t.\tGT\t".encode())
                cells = row[row != 0] if padded else row
                out.write(cells[:-1].tobytes() + b"\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)


def write_phenotypes(path: Path, plan: CohortPlan, phenotypes: dict) -> None:
    """Tab-separated sheet, columns PHENOTYPE_COLUMNS; diseases 0/1/NA."""
    status = np.stack([d["status"] for d in phenotypes["diseases"].values()], axis=1)
    cells = np.where(np.isnan(status), "NA", np.where(status == 1, "1", "0"))
    lines = ["\t".join(PHENOTYPE_COLUMNS)]
    for i, sample in enumerate(plan.sample_ids):
        row = [sample, str(phenotypes["sex"][i]), str(phenotypes["age"][i]), *cells[i]]
        lines.append("\t".join(row))
    path.write_text("\n".join(lines) + "\n")


def realized_kinship(plan: CohortPlan, chromosomes: list[Chromosome], pair: dict) -> float:
    """Kinship of a pair from the simulated meioses (IBD to the shared parents, site-weighted).

    Parent-offspring is 0.25 exactly; siblings get 1/4 of the fraction of sites where they copied
    the same haplotype of each shared parent.
    """
    if pair["relationship"] == "parent_offspring":
        return 0.25
    index = {sample: i for i, sample in enumerate(plan.sample_ids)}
    first, second = index[pair["sample_1"]], index[pair["sample_2"]]
    parents = {c.sample: (c.parent1, c.parent2) for c in plan.children}
    kinship = 0.0
    for slot in (0, 1):
        if parents[first][slot] != parents[second][slot]:
            continue
        same = np.concatenate(
            [c.origins[first, slot] == c.origins[second, slot] for c in chromosomes]
        )
        kinship += float(same.mean()) / 4
    return round(kinship, 6)


def truth_record(
    seed: int,
    plan: CohortPlan,
    chromosomes: list[Chromosome],
    phenotypes: dict,
    missing_rate: np.ndarray,
) -> dict:
    """JSON-ready record of the simulation: seed, model, relatives, low-call, causal variants."""
    return {
        "generator": "cohortgen-simulate",
        "seed": seed,
        "model": {
            "ne": NE,
            "recombination_rate": RECOMBINATION_RATE,
            "mutation_rate": MUTATION_RATE,
            "mutation_model": "JC69",
            "populations": list(POPULATIONS),
            "split_time_generations": SPLIT_TIME,
            "migration_rate": MIGRATION_RATE,
            "population_liability_shift": dict(
                zip(POPULATIONS, POPULATION_LIABILITY_SHIFT, strict=True)
            ),
            "min_maf": MIN_MAF,
            "thin_spacing_bp": THIN_SPACING_BP,
            "chromosome_lengths": {c.name: c.length for c in chromosomes},
        },
        "sample_population": dict(
            zip(plan.sample_ids, [POPULATIONS[p] for p in plan.population.tolist()], strict=True)
        ),
        "related_pairs": [
            {**pair, "realized_kinship": realized_kinship(plan, chromosomes, pair)}
            for pair in plan.pairs
        ],
        "low_call_samples": [plan.sample_ids[i] for i in plan.low_call.tolist()],
        "low_call_missing_rate": {
            plan.sample_ids[i]: round(float(missing_rate[i]), 6) for i in plan.low_call.tolist()
        },
        "diseases": {name: d["truth"] for name, d in phenotypes["diseases"].items()},
    }


# --- Family-rich cohort (in memory; for calibration and power tests and benchmarks) -------------
#
# Unlike :func:`simulate_cohort` (msprime, linkage disequilibrium, a VCF on disk), this builds
# unlinked variants quickly: founders draw alleles from Balding-Nichols subpopulation frequencies
# (fine-scale structure, Fst ``fst``), descendants inherit them by Mendelian transmission with
# Poisson crossovers (a genome of ``genome_morgans``, about the 35 of the human autosomes, split
# evenly over the chromosomes; variants evenly spaced on each genetic map), so
# the realised kinship of relatives varies around its expectation as in real pedigrees.
# Families: nuclear (two parents and 2-3 children, all written) and first-cousin pairs (children
# of two siblings, whose parents and grandparents are not written); the other written samples are
# unrelated founders. Everyone in a family comes from one subpopulation.

FAMILY_CHILDREN = (2, 3)
"""Children per nuclear family (drawn uniformly)."""


@dataclass(frozen=True)
class Pedigree:
    """Simulated individuals in generation order (parents before children); every array (N,).

    father, mother: int64 index of each parent, -1 for founders; subpop: int64 subpopulation;
    family: int64 family id (-1 for unrelated founders); written: bool, in the cohort.
    """

    father: np.ndarray
    mother: np.ndarray
    subpop: np.ndarray
    family: np.ndarray
    written: np.ndarray


@dataclass(frozen=True)
class FamilyCohort:
    """A simulated family-rich cohort, n written samples and m variants.

    genotypes: int8 (m, n) ALT dosage 0/1/2 (no missing calls); chrom: int64 (m,) chromosome
    1..c of each variant; subpop, family: int64 (n,) (family -1: unrelated); father, mother:
    int64 (n,) written index of each parent, -1 when not written; status: float64 (n, d) 0/1 per
    disease (prevalences in ``prevalence``); liability_genetic: float64 (n, d) genetic liability
    (variance ``h2``); causal: int64 (d, k) variant indices of the causal variants of each
    disease; pairs: list of (i, j, expected kinship, relationship) of written relatives, i < j.
    """

    sample_ids: list[str]
    genotypes: np.ndarray
    chrom: np.ndarray
    subpop: np.ndarray
    family: np.ndarray
    father: np.ndarray
    mother: np.ndarray
    prevalence: tuple[float, ...]
    status: np.ndarray
    liability_genetic: np.ndarray
    causal: np.ndarray
    pairs: list[tuple[int, int, float, str]]


def family_pedigree(rng: np.random.Generator, n_samples: int, family_fraction: float,
                    cousin_fraction: float, n_subpops: int) -> Pedigree:
    """Nuclear families until ``family_fraction`` of the n written samples are in them, then
    ``cousin_fraction`` of them in first-cousin pairs, the rest unrelated written founders."""
    father, mother, subpop, family, written = [], [], [], [], []

    def add(f: int, m: int, pop: int, fam: int, write: bool) -> int:
        for column, value in zip((father, mother, subpop, family, written),
                                 (f, m, pop, fam, write), strict=True):
            column.append(value)
        return len(father) - 1

    n_written, n_families = 0, 0
    while n_written < family_fraction * n_samples:
        pop = int(rng.integers(n_subpops))
        dad, mum = add(-1, -1, pop, n_families, True), add(-1, -1, pop, n_families, True)
        n_children = int(rng.choice(FAMILY_CHILDREN))
        for _ in range(n_children):
            add(dad, mum, pop, n_families, True)
        n_written += 2 + n_children
        n_families += 1
    for _ in range(int(round(cousin_fraction * n_samples / 2))):
        pop = int(rng.integers(n_subpops))
        grandad, granny = add(-1, -1, pop, n_families, False), add(-1, -1, pop, n_families, False)
        for _ in range(2):
            sibling = add(grandad, granny, pop, n_families, False)
            spouse = add(-1, -1, pop, n_families, False)
            add(sibling, spouse, pop, n_families, True)
        n_written += 2
        n_families += 1
    if n_written > n_samples:
        raise InputError(f"simulate: family_fraction {family_fraction} and cousin_fraction "
                         f"{cousin_fraction} need {n_written} samples, more than {n_samples}")
    for _ in range(n_samples - n_written):
        add(-1, -1, int(rng.integers(n_subpops)), -1, True)
    return Pedigree(*(np.array(c, dtype=np.int64) for c in (father, mother, subpop, family)),
                    np.array(written, dtype=bool))


def subpopulation_frequencies(rng: np.random.Generator, n_variants: int, n_subpops: int,
                              fst: float) -> np.ndarray:
    """Balding-Nichols ALT frequencies float64 (n_subpops, n_variants): ancestral frequency
    p ~ U(0.05, 0.5), each subpopulation's ~ Beta(p(1 − F)/F, (1 − p)(1 − F)/F)."""
    ancestral = rng.uniform(0.05, 0.5, size=n_variants)
    scale = (1.0 - fst) / fst
    return rng.beta(ancestral * scale, (1.0 - ancestral) * scale, size=(n_subpops, n_variants))


def gamete(rng: np.random.Generator, haplotypes: np.ndarray, map_position: np.ndarray,
           chrom_starts: np.ndarray, morgans: float) -> np.ndarray:
    """One meiosis: int8 (m,) haplotype copied from a parent's two (``haplotypes`` int8 (2, m)).

    map_position: float64 (m,) position of each variant on its chromosome, in Morgans;
    chrom_starts: int64 index of each chromosome's first variant, then m. Per chromosome,
    Poisson(``morgans``) crossovers uniform on the map and a random first parental haplotype.
    """
    origin = np.empty(map_position.size, dtype=np.int64)
    for start, stop in zip(chrom_starts[:-1], chrom_starts[1:], strict=True):
        crossovers = np.sort(rng.uniform(0.0, morgans, size=rng.poisson(morgans)))
        first = rng.integers(2)
        origin[start:stop] = (first + np.searchsorted(crossovers, map_position[start:stop])) % 2
    return np.where(origin == 0, haplotypes[0], haplotypes[1]).astype(np.int8)


def pedigree_genotypes(rng: np.random.Generator, pedigree: Pedigree, frequencies: np.ndarray,
                       n_chromosomes: int, morgans: float) -> np.ndarray:
    """ALT dosages int8 (m, n_written) of the written individuals: founders' haplotypes drawn
    from their subpopulation's frequencies (float64 (k, m)), the others by :func:`gamete`."""
    m = frequencies.shape[1]
    chrom_starts = np.arange(n_chromosomes + 1) * m // n_chromosomes
    map_position = np.concatenate([(np.arange(stop - start) + 0.5) / (stop - start) * morgans
                                   for start, stop in zip(chrom_starts[:-1], chrom_starts[1:],
                                                          strict=True)])
    haplotypes = np.empty((pedigree.father.size, 2, m), dtype=np.int8)
    for i in range(pedigree.father.size):
        if pedigree.father[i] < 0:
            haplotypes[i] = rng.random((2, m)) < frequencies[pedigree.subpop[i]]
        else:
            for slot, parent in enumerate((pedigree.father[i], pedigree.mother[i])):
                haplotypes[i, slot] = gamete(rng, haplotypes[parent], map_position,
                                             chrom_starts, morgans)
    written = haplotypes[pedigree.written]
    return np.ascontiguousarray((written[:, 0] + written[:, 1]).T)


def related_written_pairs(pedigree: Pedigree) -> list[tuple[int, int, float, str]]:
    """(i, j, expected kinship, relationship) of written relatives, indices into the written
    samples, i < j: parent_offspring and full_siblings 1/4, first_cousins 1/16."""
    index = np.full(pedigree.father.size, -1, dtype=np.int64)
    index[pedigree.written] = np.arange(int(pedigree.written.sum()))
    pairs = []
    for fam in np.unique(pedigree.family[pedigree.family >= 0]):
        members = np.flatnonzero((pedigree.family == fam) & pedigree.written)
        for a, b in ((a, b) for a in members for b in members if a < b):
            if a in (pedigree.father[b], pedigree.mother[b]):
                relationship = (0.25, "parent_offspring")
            elif pedigree.father[a] == pedigree.father[b] >= 0:
                relationship = (0.25, "full_siblings")
            elif pedigree.father[a] < 0 and pedigree.father[b] < 0:
                continue  # the two parents of a nuclear family
            else:
                relationship = (0.0625, "first_cousins")
            pairs.append((int(index[a]), int(index[b]), *relationship))
    return sorted(pairs)


def family_liability(rng: np.random.Generator, genotypes: np.ndarray, causal: np.ndarray,
                     h2: float, shared_env: float, family: np.ndarray, subpop_shift: np.ndarray,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(liability, genetic part), float64 (n,): genetic variance ``h2`` from standardised causal
    dosages (rows ``causal`` of ``genotypes`` int8 (m, n)) with N(0, 1) effects, a family effect
    of variance ``shared_env`` shared within each family (none for unrelated samples), the
    subpopulation shift ``subpop_shift`` (float64 (n,)) and independent noise; total variance
    1 before the shift."""
    x = genotypes[causal].T.astype(np.float64)
    z = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-12)
    genetic = z @ rng.normal(size=causal.size)
    genetic *= np.sqrt(h2 / genetic.var())
    n_families = int(family.max()) + 1
    family_effect = np.append(rng.normal(scale=np.sqrt(shared_env), size=n_families), 0.0)
    environment = family_effect[np.where(family >= 0, family, n_families)]
    noise = rng.normal(scale=np.sqrt(max(1.0 - h2 - shared_env, 0.0)), size=family.size)
    return genetic + environment + noise + subpop_shift, genetic


def simulate_family_cohort(seed: int, n_samples: int = 2000, n_variants: int = 20_000,
                           n_chromosomes: int = 4, prevalence: tuple[float, ...] = (0.04, 0.30),
                           h2: float = 0.5, n_causal: int = 200, shared_env: float = 0.1,
                           family_fraction: float = 0.3, cousin_fraction: float = 0.05,
                           n_subpops: int = 6, fst: float = 0.005, subpop_shift_sd: float = 0.2,
                           genome_morgans: float = 35.0) -> FamilyCohort:
    """A family-rich cohort (section comment above), every draw from ``default_rng(seed)``.

    Each disease (one per ``prevalence``) has its own ``n_causal`` causal variants (effects
    N(0, 1) on standardised dosages, genetic variance ``h2`` of the liability), a family
    environment of variance ``shared_env`` and a liability shift per subpopulation N(0,
    ``subpop_shift_sd``²); the cases are the top ``prevalence`` of the liability.
    """
    if not 0 < fst < 1 or not 0 <= h2 + shared_env <= 1 or n_chromosomes < 2:
        raise InputError("simulate: need 0 < fst < 1, h2 + shared_env <= 1, >= 2 chromosomes")
    rng = np.random.default_rng(seed)
    pedigree = family_pedigree(rng, n_samples, family_fraction, cousin_fraction, n_subpops)
    frequencies = subpopulation_frequencies(rng, n_variants, n_subpops, fst)
    genotypes = pedigree_genotypes(rng, pedigree, frequencies, n_chromosomes,
                                   genome_morgans / n_chromosomes)
    subpop, family = pedigree.subpop[pedigree.written], pedigree.family[pedigree.written]
    index = np.full(pedigree.father.size + 1, -1, dtype=np.int64)  # index[-1] stays -1
    index[np.flatnonzero(pedigree.written)] = np.arange(n_samples)
    father, mother = (index[p[pedigree.written]] for p in (pedigree.father, pedigree.mother))
    status, genetic, causal = [], [], []
    for p in prevalence:
        chosen = np.sort(rng.choice(n_variants, size=n_causal, replace=False))
        shift = rng.normal(scale=subpop_shift_sd, size=n_subpops)[subpop]
        liability, g = family_liability(rng, genotypes, chosen, h2, shared_env, family, shift)
        status.append((liability > np.quantile(liability, 1.0 - p)).astype(np.float64))
        genetic.append(g)
        causal.append(chosen)
    return FamilyCohort(
        sample_ids=[f"F{i + 1:05d}" for i in range(n_samples)], genotypes=genotypes,
        chrom=np.arange(n_variants) * n_chromosomes // n_variants + 1, subpop=subpop,
        family=family, father=father, mother=mother, prevalence=tuple(prevalence),
        status=np.stack(status, axis=1), liability_genetic=np.stack(genetic, axis=1),
        causal=np.stack(causal), pairs=related_written_pairs(pedigree))
