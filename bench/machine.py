"""The machine a benchmark ran on, printed first by every bench: figures from one CPU do not hold
on another (AMX on Intel, none on AMD), so each table says where it was measured."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    # models.precision keys its cache by the same name; not imported from there: `import models` sets
    # process options (OMP_WAIT_POLICY) that the benches' naive and informed loops must run without
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def cpu_features() -> list[str]:
    """The instruction-set extensions that change inference speed most (AMX, AVX-512 bf16/VNNI, AVX2)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next(line.split(":", 1)[1].split() for line in f if line.startswith("flags")))
    except (OSError, StopIteration):
        return []
    wanted = ("amx_tile", "amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx512f", "avx_vnni", "avx2")
    return [f for f in wanted if f in flags]


def gpu() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - no torch or no driver: no GPU to name
        pass
    return "no GPU"


def describe() -> str:
    """``Machine: 2-core AMD EPYC 9R14 (avx512f, avx2), no GPU, load 1.2 0.9 0.7, Linux 6.1``."""
    feats = ", ".join(cpu_features()) or "no AVX2"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"Machine: {os.cpu_count()}-core {cpu_model()} ({feats}), {gpu()}, load {load}, "
            f"{platform.system()} {platform.release()}")


if __name__ == "__main__":
    print(describe())
