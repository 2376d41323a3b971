"""The command line's shared behaviour: every error ends in one line with a fix (exit 2), every interrupt ends in
"interrupted: finished work is kept" (exit 130), and every option's ``--help`` shows its default."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from colorvariants.cli.common import DefaultsHelpFormatter
from colorvariants.cli.main import build_parser, main
from colorvariants.cli.registry import COMMANDS, Command
from colorvariants.models.checkpoint import save_model
from colorvariants.models.registry import build_method

ROOT = Path(__file__).resolve().parents[2]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Fix:" in err and "Traceback" not in err and err.count("\n") == 1, err
    return err


def _sub_parsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every (nested) sub-command parser by its command line (``index build``)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(_sub_parsers(sub, f"{prefix}{name} "))
    return found


def test_every_option_help_shows_its_default() -> None:
    for name, parser in _sub_parsers(build_parser()).items():
        assert parser.formatter_class is DefaultsHelpFormatter, name
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            default = action.default
            if (not action.option_strings or action.required or default in (None, argparse.SUPPRESS)
                    or default is False or default == []):
                continue
            shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
            helptext = " ".join((action.help or "").split())
            line = text[text.index(f" {action.option_strings[-1]}", text.index("options:")):]
            assert "default" in helptext.lower() or f"(default: {shown})" in line[:400], (name, action.dest)


@pytest.mark.parametrize("command,flags", [
    ("embed", ["--batch-size", "--shard-size", "--on-error", "--crop"]), ("query", ["-k"]),
    ("evaluate", ["--ks"]), ("dedup", ["--k", "--edge-recall"]), ("validate", ["--min-side", "--workers"]),
    ("export-onnx", ["--opset"]), ("demo", ["--out", "--styles"]),
    ("fit", ["--max-epochs", "--image-size", "--batch-size", "--seed"]),
])
def test_the_options_users_asked_about_say_their_default(command: str, flags: list[str]) -> None:
    text = " ".join(_sub_parsers(build_parser())[command].format_help().split())
    for flag in flags:
        after = text[text.index(f" {flag} ", text.index("options:")):]
        next_option = after.find(" --", len(flag) + 2)
        assert "default" in after[: next_option if next_option > 0 else None], (command, flag)


def test_a_config_value_of_the_wrong_type_is_a_one_line_error(tiny_manifest: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--config", str(ROOT / "configs" / "cvssl.yaml"), "--manifest", str(tiny_manifest),
                 "--out", str(tmp_path / "run"), "model.temperature=abc"]) == 2
    assert "model.temperature='abc' must be a number" in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_unknown_benchmark_methods_fail_before_anything_trains(tiny_manifest: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--manifest", str(tiny_manifest), "--out", str(tmp_path / "b"),
                 "--methods", "cvssl,simclrr"]) == 2
    assert "'simclrr'" in _one_line_error(capsys) and not (tmp_path / "b" / "runs").exists()


def _fake_run(tmp: Path, method: str = "cvssl") -> Path:
    """A fit run folder with config.yaml and a last.ckpt of ``method`` (no training needed to check a resume)."""
    from colorvariants.data.datamodule import DataConfig
    from colorvariants.models.resume import resolved_config
    from colorvariants.models.training import FitConfig

    run = tmp / "run"
    (run / "checkpoints").mkdir(parents=True)
    saved = resolved_config(FitConfig(method=method, data=DataConfig(image_size=32)))
    (run / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    torch.save({"state_dict": {}, "hyper_parameters": {"method": method, "config": saved["model"]}},
               run / "checkpoints" / "last.ckpt")
    return run


def test_resuming_with_another_methods_config_is_a_one_line_error(tiny_manifest: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = _fake_run(tmp_path, "cvssl")
    assert main(["fit", "--config", str(ROOT / "configs" / "triplet.yaml"), "--manifest", str(tiny_manifest),
                 "--out", str(run), "--image-size", "32", "--resume"]) == 2
    assert "method: 'cvssl' -> 'triplet'" in _one_line_error(capsys)


def test_resuming_from_a_crafted_pickle_is_a_one_line_error(tiny_manifest: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    run = _fake_run(tmp_path)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {}, "x": Evil()}, run / "checkpoints" / "last.ckpt")
    assert main(["fit", "--config", str(ROOT / "configs" / "cvssl.yaml"), "--manifest", str(tiny_manifest),
                 "--out", str(run), "--image-size", "32", "--resume"]) == 2
    assert "cannot be loaded safely" in _one_line_error(capsys) and not marker.exists()


def test_an_interrupt_that_a_library_turns_into_exit_1_still_ends_as_interrupted(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def like_lightning(args: argparse.Namespace) -> int:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise SystemExit(1) from None  # Lightning's graceful shutdown ends in exit(1)
        return 0

    monkeypatch.setitem(COMMANDS, "zz-long", Command("zz-long", "a long command", lambda p: None, like_lightning))
    assert main(["zz-long"]) == 130
    assert "interrupted: finished work is kept" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_an_interrupt_swallowed_by_a_finaliser_is_raised_again(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Seen in `fit`: the SIGINT landed in a file object's ``__del__``, where Python ignores exceptions, and
    training went on; the interrupt is now raised again until the command ends."""

    class Finalised:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the KeyboardInterrupt is raised here, inside __del__: ignored

    def keeps_training(args: argparse.Namespace) -> int:
        Finalised()
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(0.01)
        return 0

    monkeypatch.setitem(COMMANDS, "zz-train", Command("zz-train", "a long command", lambda p: None, keeps_training))
    assert main(["zz-train"]) == 130
    assert "interrupted: finished work is kept" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_during_embed_keeps_finished_shards_and_exits_130(tiny_manifest: Path, tmp_path: Path,
                                                                 cli: Callable[..., subprocess.CompletedProcess]
                                                                 ) -> None:
    cmd = (sys.executable, "-m", "colorvariants")
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
    torch.manual_seed(0)
    save_model(build_method("triplet", {"image_size": 32, "embedding_dim": 16}), tmp_path / "model.pt")
    out = tmp_path / "emb"
    args = ["embed", "--ckpt", str(tmp_path / "model.pt"), "--manifest", str(tiny_manifest), "--out", str(out),
            "--cache-dir", str(tmp_path / "cache"), "--shard-size", "8", "--batch-size", "2", "--accelerator", "cpu"]
    for _ in range(3):
        proc = subprocess.Popen([*cmd, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        while proc.poll() is None and not list((out / "shards").glob("shard-*.npy")):
            time.sleep(0.005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
            break
        proc.communicate()
        cli("embed", *args[1:], "--overwrite")  # finished before the first shard: try again from a clean folder
        (out / "meta.json").unlink()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted: finished work is kept" in err and "Traceback" not in err
    kept = len(list((out / "shards").glob("shard-*.npy")))
    assert kept >= 1 and not (out / "meta.json").exists()
    assert f"{kept} of " in cli(*args).stdout
