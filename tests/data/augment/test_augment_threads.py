"""View threads: "auto" times 1 thread against torch's count on the real calls and keeps the faster."""

from __future__ import annotations

import time

import pytest
import torch

from colorvariants.data.augment._common import AugmentationError
from colorvariants.data.augment.threads import ThreadTuner, ViewThreads, check_cpu_threads
from colorvariants.data.augment.views import ColorVariantViewConfig, ColorVariantViews

CPU = torch.device("cpu")


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("slow", [1, 2])
def test_tuner_keeps_the_faster_count_then_times_again(two_threads: None, slow: int) -> None:
    tuner = ThreadTuner(trials=2, recheck=3)
    used = []
    for _ in range(4):  # timing: 2 calls per candidate, alternating
        with tuner(CPU):
            used.append(torch.get_num_threads())
            time.sleep(0.02 if torch.get_num_threads() == slow else 0.0)
    assert sorted(used) == [1, 1, 2, 2]
    assert torch.get_num_threads() == 2  # restored after each call
    fast = 3 - slow
    for _ in range(3):
        with tuner(CPU):
            assert torch.get_num_threads() == fast
    assert tuner.chosen == fast
    with tuner(CPU):  # recheck spent: timing starts over
        pass
    assert tuner.chosen is None


def test_auto_views_match_fixed_threads(two_threads: None) -> None:
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    auto = ColorVariantViews(ColorVariantViewConfig())
    fixed = ColorVariantViews(ColorVariantViewConfig(cpu_threads=1))
    for seed in range(7):  # through the timing calls and into the chosen count
        a = auto(images, generator=torch.Generator().manual_seed(seed))
        b = fixed(images, generator=torch.Generator().manual_seed(seed))
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y)
    assert auto._threads.tuner is not None and auto._threads.tuner.chosen in (1, 2)


@pytest.mark.parametrize("bad", [0, -1, "two", True, 1.5])
def test_bad_thread_settings_are_refused(bad: object) -> None:
    with pytest.raises(AugmentationError, match="cpu_threads"):
        check_cpu_threads(bad)  # type: ignore[arg-type]
    with pytest.raises(AugmentationError, match="cpu_threads"):
        ViewThreads(bad)  # type: ignore[arg-type]
