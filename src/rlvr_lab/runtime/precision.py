"""Which floating-point type a model computes in: detected from the hardware, never assumed.

bfloat16 halves the bytes of weights and KV cache and, on CPUs with AMX or AVX-512 BF16 (recent Intel Xeons),
runs matrix products about 3x faster than float32 (``benchmarks/roofline.py`` measures it on the machine at
hand). On CPUs without those instructions (AMD before Zen 4, most laptops) torch emulates bfloat16 and it is
*slower* than float32, so ``auto`` must detect rather than assume.

The rule of ``auto`` (sampling and training alike): bfloat16 when the device supports it natively **and** the
model has at least :data:`BF16_MIN_PARAMS` parameters, else float32. The size floor keeps the shipped organisms
(under a million parameters) and the test models in float32: their matrix products are too small for bfloat16
to pay for its casts, and their calibration tables were measured in float32 (``docs/performance.md`` shows how
much bfloat16 moves them).

Detection on CPU reads the instruction-set flags of ``/proc/cpuinfo`` (``amx_bf16`` or ``avx512_bf16``); where
that file does not exist (macOS, Windows) bfloat16 counts as unsupported. ``RLVR_CPU_BF16=0`` (or ``1``)
overrides the detection, and :func:`bf16_supported` takes the flag set as an argument, so tests can force a CPU
without bfloat16 on any machine.

torch is imported inside the functions: the training config validates ``dtype`` names with
:data:`DTYPE_CHOICES`, and ``rlvr --help`` must not load torch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DTYPE_CHOICES: tuple[str, ...] = ("auto", "float32", "bfloat16")
BF16_MIN_PARAMS = 50_000_000
"""``auto`` picks bfloat16 only for models with at least this many parameters (SmolLM2-135M: yes; organisms: no)."""
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
"""Either of these ``/proc/cpuinfo`` flags means native bfloat16 matrix products."""
CPU_BF16_ENV = "RLVR_CPU_BF16"
"""``0`` or ``1``: override the CPU detection (e.g. to reproduce a run of a machine without bfloat16)."""


def _first_cpu_field(cpuinfo: Path, names: tuple[str, ...]) -> str | None:
    """The value of the first line of ``cpuinfo`` whose field is one of ``names`` (the first CPU's), or None where
    the file or the field does not exist."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in names:
            return value
    return None


@cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The instruction-set flags of the first CPU in ``cpuinfo``; empty where the file does not exist."""
    return frozenset((_first_cpu_field(cpuinfo, ("flags", "Features")) or "").split())


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The ``model name`` of the first CPU in ``cpuinfo``; empty where the file or the field does not exist."""
    return (_first_cpu_field(cpuinfo, ("model name",)) or "").strip()


def float_kernels(flags: Iterable[str] | None = None, model: str | None = None) -> dict[str, object]:
    """What picks the CPU's floating-point kernels, so their rounding: the CPU model, its matrix instruction sets
    and torch's version. Two runs that agree here and in their thread count compute the same bits; a long
    training run on other kernels is another draw of the same recipe (docs/organism.md, "Rebuilding on another
    CPU"). Recorded beside what such runs write."""
    import torch

    flags = cpu_flags() if flags is None else frozenset(flags)
    return {
        "cpu": cpu_model() if model is None else model,
        "amx": "amx_tile" in flags,
        "avx512f": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "torch": torch.__version__,
    }


def bf16_supported(device: str | torch.device = "cpu", flags: Iterable[str] | None = None) -> bool:
    """Whether ``device`` runs bfloat16 matrix products natively.

    CPU: ``RLVR_CPU_BF16`` if set, else whether ``flags`` (default: :func:`cpu_flags`) has AMX or AVX-512 BF16.
    CUDA: ``torch.cuda.is_bf16_supported()``. Other devices: no.
    """
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind != "cpu":
        return False
    forced = os.environ.get(CPU_BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if forced:
        raise ValueError(f"{CPU_BF16_ENV} must be 0 or 1, got {forced!r}")
    return not BF16_CPU_FLAGS.isdisjoint(cpu_flags() if flags is None else flags)


def resolve_dtype(
    name: str, num_params: int, device: str | torch.device = "cpu", flags: Iterable[str] | None = None
) -> torch.dtype:
    """The dtype ``name`` (``auto``, ``float32``, ``bfloat16``) means for a model of ``num_params`` on ``device``.

    An explicit name is honoured even where bfloat16 is emulated (slow, but useful to check numerics anywhere).
    """
    import torch

    if name == "auto":
        use_bf16 = num_params >= BF16_MIN_PARAMS and bf16_supported(device, flags)
        return torch.bfloat16 if use_bf16 else torch.float32
    if name not in DTYPE_CHOICES:
        raise ValueError(f"unknown dtype {name!r}; choose one of: {', '.join(DTYPE_CHOICES)}")
    return getattr(torch, name)


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"`` (as written in configs, headers and logs)."""
    return str(dtype).removeprefix("torch.")


def num_parameters(model: torch.nn.Module) -> int:
    """Parameters of ``model``, tied weights counted once."""
    return sum(p.numel() for p in model.parameters())


def packed_bf16_linear(device: str | torch.device = "cpu") -> bool:
    """Whether bfloat16 products on ``device`` can use weights prepacked once into oneDNN's blocked layout.

    Why: ``F.linear`` on a plain bfloat16 weight has oneDNN reorder the weight into the AMX tile layout at every
    call; at decode shapes (32 rows) that reorder costs 25-50% on top of the product itself
    (``docs/performance.md``). Packed once per ``sample`` call, the same products run 1.2-1.5x faster and give
    bit-identical results. Needs a CPU with native bfloat16 (:func:`bf16_supported`) and a torch built with oneDNN;
    the packing ops are torch's own (the ones ``torch.compile`` uses for frozen CPU graphs), so their absence or a
    refusal falls back to plain ``F.linear``.
    """
    import torch

    if torch.device(device).type != "cpu" or not bf16_supported(device):
        return False
    try:
        return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
