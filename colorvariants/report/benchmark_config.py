"""What a benchmark runs: the table of rows it can train (``VARIANTS``) and the budget they share (``BenchmarkConfig``).

Light to import (no torch): the CLI builds its ``--methods`` help and its config from here before anything trains.
Reference rows that need no training are ``choices.REFERENCE_ROWS``.

>>> BenchmarkConfig(methods=("cvssl",)).epoch_cap()
20
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from colorvariants.config import ConfigError
from colorvariants.report.choices import REFERENCE_ROWS

DEFAULT_METHODS = ("triplet", "simclr", "mocov2", "cvssl")
DEFAULT_EPOCHS = 20  # the epoch budget when no wall-clock budget is given


@dataclass(frozen=True)
class Variant:
    """A named benchmark row: a method plus config overrides (``model.x=y`` / ``data.x=y`` strings)."""

    method: str
    overrides: tuple[str, ...] = ()
    description: str = ""


# Every row the benchmark can train, in one table (lightly's METHODS idea).
VARIANTS: dict[str, Variant] = {
    "triplet": Variant("triplet", ("data.sampler=pk",), "supervised triplet on style labels"),
    "simclr": Variant("simclr", (), "SimCLR, lightly's SimCLRTransform defaults"),
    "mocov2": Variant("mocov2", (), "MoCo v2, lightly's MoCoV2Transform defaults"),
    "cvssl": Variant("cvssl", (), "CV-SSL: fixed part crops + strong colour views"),
    # Issue 5's control: SimCLR made colour-invariant by stronger jitter only (no parts, no luminance remap).
    "simclr-colorinv": Variant("simclr", ("model.views.cj_hue=0.5", "model.views.cj_sat=1.0",
                                          "model.views.random_gray_scale=0.5"),
                               "SimCLR with hue 0.5, saturation 1.0, grayscale 0.5"),
    # Ablations of CV-SSL (BENCHMARKS.md).
    "cvssl-whole-only": Variant("cvssl", ("model.layout=whole",), "CV-SSL without part crops"),
    "cvssl-hue-only": Variant("cvssl", ("model.views.luminance_prob=0.0", "model.views.recolor_luminance=false",
                                        "model.views.channel_perm_prob=0.0", "model.views.gray_prob=0.0",
                                        "model.views.cj_bright=0.0", "model.views.cj_contrast=0.0"),
                              "CV-SSL whose views only rotate hue (no luminance change)"),
    "cvssl-concat": Variant("cvssl", ("model.embedding=concat",), "CV-SSL, whole+parts concatenated embedding"),
    "cvssl-palette": Variant("cvssl", ("model.views.palette_prob=0.5",),
                             "CV-SSL whose garments also get new colourways, slot by slot (palette.py)"),
    "cvssl-studio": Variant("cvssl", ("model.views.rotate_deg=0", "model.views.backdrop_prob=0"),
                            "CV-SSL whose views share pose and background (no rotation, no new background)"),
    "cvssl-crop": Variant("cvssl", ("model.part_source=crop",),
                          "CV-SSL whose parts are cut from the view and run through the backbone again"),
    "cvssl-fp32": Variant("cvssl", ("trainer.precision=32-true",), "CV-SSL trained in fp32 (no bf16 autocast)"),
}
@dataclass
class BenchmarkConfig:
    """Budget and settings shared by every method, so the comparison is fair."""

    methods: tuple[str, ...] = DEFAULT_METHODS
    image_size: int = 64
    max_epochs: int | None = None  # per method; None: DEFAULT_EPOCHS without max_minutes, no cap with it
    max_minutes: float | None = None  # per method; whichever of epochs/minutes comes first
    backbone: str = "resnet18"
    batch_size: int = 32  # CV-SSL, 2 CPU minutes: batch 128 -> recall@1 0.230, 32 -> 0.319 (more steps)
    seed: int = 0
    references: tuple[str, ...] = REFERENCE_ROWS
    threads: int | None = None
    overrides: tuple[str, ...] = ()  # applied to every method (e.g. "data.crop=bbox")
    n_gallery_queries: int = 8
    dedup_k: int = 10
    dedup_precision: float = 0.9
    dedup_rerank: str = "csls"  # dedup's CLI defaults (colorvariants/cli/commands/dedup.py), chosen on val
    dedup_method: str = "components"
    dedup_guard: str = "both"
    # Re-ranked rows beside each plain one (no re-training): evaluate's metrics with each of these re-rankers.
    rerankers: tuple[str, ...] = ("csls", "kreciprocal:k1=10,k2=3", "qe:n=3,alpha=3", "dba:n=1")
    progress_bar: bool = True
    # Background removers (BACKGROUND_REMOVERS names): each adds a "<row>+bg-<name>" twin of every row.
    preprocess: tuple[str, ...] = ()
    preprocess_workers: int = 2
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Unknown row names fail here, before the first method trains (a typo never costs a training run)."""
        known = [*VARIANTS, *REFERENCE_ROWS]
        unknown = [m for m in (*self.methods, *self.references) if m not in known]
        if unknown:
            raise ConfigError(f"unknown benchmark method(s) {unknown}; known: {', '.join(known)}. "
                              "Fix: correct --methods (a comma list of known names).")

    def epoch_cap(self) -> int | None:
        """Each row's epoch cap: as given; else none under a time budget (time alone ends it) or DEFAULT_EPOCHS."""
        if self.max_epochs is not None:
            return self.max_epochs
        return None if self.max_minutes else DEFAULT_EPOCHS
