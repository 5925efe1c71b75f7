"""Settings of the association chunk step that other steps read too (gather-gwas names the test
in the GWAS-SSF sidecar): kept apart from :mod:`cohortgen.assoc.chunk` so that reading them does
not import the chunk step's Numba kernels."""

from dataclasses import dataclass

from cohortgen.errors import InputError


@dataclass(frozen=True)
class FallbackSettings:
    """When the Firth fallback applies and which rows get no p (see the docstring of
    :mod:`cohortgen.assoc.chunk`)."""

    min_mac: int = 5
    firth_p_threshold: float = 0.05
    firth_min_carriers: int = 0
    firth_p_value: str = "lrt"
    firth_mode: str = "approximate"
    p_value: str = "score"

    def __post_init__(self):
        if self.p_value not in ("score", "spa", "wald"):
            raise InputError(f"assoc.p_value must be 'score', 'spa' or 'wald', got "
                             f"{self.p_value!r}")
        if self.firth_mode not in ("approximate", "full"):
            raise InputError(f"assoc.firth_mode must be 'approximate' or 'full', got "
                             f"{self.firth_mode!r}")
        if self.firth_p_value not in ("lrt", "wald"):
            raise InputError(f"assoc.firth_p_value must be 'lrt' or 'wald', got "
                             f"{self.firth_p_value!r}")
        if self.firth_mode == "approximate" and self.firth_p_value != "lrt":
            raise InputError("assoc.firth_p_value 'wald' needs assoc.firth_mode 'full' (the "
                             "approximate Firth p is the penalised LRT); change one of them")


def describe_test(settings: FallbackSettings, quantitative: bool) -> str:
    """The association test of a trait's standard rows and its fallback, in words (the
    GWAS-SSF sidecar's ``cohortgen_method.test``)."""
    if quantitative:
        return "linear regression t-test (least squares, as PLINK 2 --glm)"
    firth = (f"Firth fallback ({settings.firth_mode}, "
             f"{'penalised LRT' if settings.firth_p_value == 'lrt' else 'Wald'} p)")
    if settings.p_value == "wald":
        return ("logistic regression Wald test (maximum likelihood, covariates refitted per "
                f"variant, as PLINK 2 --glm); {firth} where PLINK 2 firth-fallback falls back")
    if settings.p_value == "spa":
        return "logistic score test, saddlepoint p-value (SPA) where |z| >= 2"
    return f"logistic score test; {firth} where the score p is small"
