"""``make gpu-wheels``: the wheels a lent GPU machine lacks (CPython 3.12 manylinux x86_64), in .gpu-wheels/.

The device has Python 3.12, torch 2.11 (CUDA 13), torchvision 0.26, Lightning 2.6, numpy, pandas, pyarrow,
OpenCV, scikit-learn, PyYAML, tqdm, psutil, Pillow (KINDS.md of the device tool), but no lightly, faiss,
pytorch-metric-learning or wandb, and no network. This downloads the pinned ``CARRIED`` set (``--no-deps``:
each missing dependency is named here), builds a wheel for a pure-Python one that PyPI has only as source,
builds the project's own wheel, then checks what the device will install (``pip install --no-deps``):

- every wheel installs on CPython 3.12 manylinux x86_64 (``pip install --dry-run`` with that target);
- every requirement of every carried wheel is met by another carried wheel or by the device's packages (the
  known device versions are checked; wandb may be absent: the project imports it only for ``--wandb``);
- no carried wheel is a package the device already has (so nothing replaces its torch);
- the wheels, and the wheels plus the tracked working tree (what travels to the device), are under 64 MiB.

A GPU build of faiss is not carried: PyPI's ``faiss-gpu`` 1.15.1 wheel is 129 MiB and ``faiss-gpu-cu12``
1.14.1.post1 is 46 MiB and needs the CUDA 12 runtime wheels, which the CUDA 13 device lacks (measured from
PyPI's file listing, 2026-11). The check then uses faiss-cpu.

    python bench/gpu_check_wheels.py            # download, build, verify
    python bench/gpu_check_wheels.py --verify   # verify an existing .gpu-wheels/
"""

from __future__ import annotations

import argparse
import email.parser
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIMIT_MIB = 64.0  # the device tool carries at most 64 MiB: working tree plus carried paths
# Pinned to what the dev environment resolves today (lightly needs hydra-core -> omegaconf, antlr4 4.9.*).
CARRIED = (
    "lightly==1.6.0",
    "hydra-core==1.3.8",
    "omegaconf==2.3.1",
    "antlr4-python3-runtime==4.9.3",  # source only on PyPI: built here into a py3-none-any wheel
    "pytorch-metric-learning==2.9.0",
    "faiss-cpu==1.15.1",
)
# The device's packages: versions read there (KINDS.md, 2026-11) where known, else None (present, unread).
DEVICE: dict[str, str | None] = {
    "torch": "2.11.0", "torchvision": "0.26.0", "pytorch-lightning": "2.6.6", "lightning": None,
    "numpy": "2.5.2", "torchmetrics": "1.9.0", "lightning-utilities": None, "pandas": None, "pyarrow": None,
    "pyyaml": None, "tqdm": None, "pillow": None, "psutil": None, "opencv-python-headless": None,
    "packaging": None, "scikit-learn": None, "requests": None, "certifi": None, "urllib3": None, "six": None,
    "python-dateutil": None, "typing-extensions": None, "filelock": None, "fsspec": None, "timm": None,
}
OPTIONAL_AT_RUN_TIME = {"wandb"}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
TARGET = ["--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:",
          *(a for p in PLATFORMS for a in ("--platform", p))]


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def fetch(dest: Path) -> None:
    """Download the carried wheels, build the source-only ones, and build the project's wheel."""
    dest.mkdir(exist_ok=True)
    for old in dest.glob("*.whl"):  # one version of each, or the device's install stops
        old.unlink()
    for spec in CARRIED:
        try:
            pip("download", "-q", "--no-deps", *TARGET, "-d", str(dest), spec)
        except subprocess.CalledProcessError:
            print(f"{spec}: no binary wheel; building one from source (must be pure Python)", flush=True)
            pip("wheel", "-q", "--no-deps", "-w", str(dest), spec)
    pip("wheel", "-q", "--no-deps", "-w", str(dest), str(REPO))


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode())


def tracked_bytes() -> int:
    """Bytes of the files git tracks (what travels besides the carried paths), 0 outside a git checkout."""
    try:
        cmd = ["git", "-C", str(REPO), "ls-files", "-z"]
        out = subprocess.run(cmd, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    return sum((REPO / f).stat().st_size for f in out.decode().split("\0") if f and (REPO / f).is_file())


def verify(dest: Path) -> list[str]:
    """Every problem with the wheel set in ``dest`` as one line each (empty: ready to carry)."""
    try:
        from packaging.requirements import Requirement
        from packaging.version import Version
    except ImportError:  # pip vendors it
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
        from pip._vendor.packaging.version import Version  # type: ignore[no-redef]

    wheels = sorted(dest.glob("*.whl"))
    problems: list[str] = []
    if not wheels:
        return [f"no wheels in {dest}"]
    carried: dict[str, str] = {}
    for w in wheels:
        meta = metadata(w)
        carried[canonical(meta["Name"])] = meta["Version"]
    if "colorvariants" not in carried:
        problems.append("the project's own wheel is missing")
    for name in sorted(set(carried) & set(DEVICE)):
        problems.append(f"{name} is carried but the device has it: it would shadow the device's copy")
    env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    assumed = set()
    for w in wheels:
        for text in metadata(w).get_all("Requires-Dist") or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            name = canonical(req.name)
            version = carried.get(name) or DEVICE.get(name)
            if name in carried or (name in DEVICE and version is not None):
                if not req.specifier.contains(Version(version), prereleases=True):
                    problems.append(f"{w.name} needs {req}, but {name} {version} is what the device gets")
            elif name in DEVICE:
                assumed.add(name)
            elif name not in OPTIONAL_AT_RUN_TIME:
                problems.append(f"{w.name} needs {req}: neither carried nor on the device")
    if assumed:
        print("on the device, version not read (assumed to fit): " + ", ".join(sorted(assumed)))
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "-q", "--no-index", "--no-deps", *TARGET,
               "--target", tmp, *map(str, wheels)]
        out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        problems.append("pip would not install the set on CPython 3.12 manylinux x86_64: "
                        + (out.stderr.strip().splitlines() or ["?"])[-1])
    mib = sum(w.stat().st_size for w in wheels) / 2**20
    tree = tracked_bytes() / 2**20
    for w in wheels:
        print(f"  {w.stat().st_size / 2**20:7.2f} MiB  {w.name}")
    print(f"wheels: {len(wheels)} files, {mib:.1f} MiB; with the tracked working tree ({tree:.1f} MiB): "
          f"{mib + tree:.1f} MiB of the device tool's {LIMIT_MIB:.0f} MiB")
    if mib + tree > LIMIT_MIB:
        problems.append(f"{mib:.1f} MiB of wheels + {tree:.1f} MiB of working tree exceed "
                        f"{LIMIT_MIB:.0f} MiB")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=REPO / ".gpu-wheels")
    parser.add_argument("--verify", action="store_true", help="only verify the wheels already in --dest")
    args = parser.parse_args(argv)
    if not args.verify:
        fetch(args.dest)
    problems = verify(args.dest)
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if not problems:
        print(f"ready: carry {args.dest.name} and run `bash bench/gpu_check.sh` on the device")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
