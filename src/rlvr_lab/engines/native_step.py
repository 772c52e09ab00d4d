"""The lean decoder's decode step as one C++ call, in bfloat16 or float32 (``path="native"`` of the torch engine;
opt-in).

Why: at 32 rows a bfloat16 decode step of SmolLM2-135M spends about a third of its time outside the matrix products,
in some 25 small eager ops a layer (norms, rope, the cache write, attention, SiLU, residuals) that do not speed up
with a second thread, so the sampler stayed at 53-66% of its two-thread roof (issue 20). The organisms sample in
float32, where the same ops (and torch's attention kernel, which pays a fixed cost per row and head at head_dim 40)
took about two thirds of a 512-row step (issue 19). ``native_step.cpp`` runs the whole step (every layer and the
head) in one call: the products are torch's (oneDNN on prepacked weights; in float32 where oneDNN is built in, else
``at::linear``); what lies between is plain loops the compiler vectorises, AVX-512 for the attention's dot products
and weighted sums where the CPU has it, one pass per row for each residual and the RMSNorm after it, and one task
per (row, key head) for rope, the cache write and attention. Measured in ``docs/performance.md`` ("A decode step in
one C++ call").

The maths is the eager step's, each intermediate rounded to the step's dtype where eager rounds it; what differs is
the order of float32 sums inside a product, a norm, a dot product or the softmax, and an ``exp`` of our own
(relative error about 2e-7), so logits agree with eager's to rounding, not bit for bit, and a sampled token can
differ where two choices lie within that rounding. ``tests/test_native_step.py`` holds the bfloat16 step as close
to a float32 forward as the eager step is, and the float32 step to the eager float32 step's logits and, on a
shipped organism, its samples. That is why it is opt-in, and why no shipped figure was drawn with it.

Built at first use with ``torch.utils.cpp_extension`` (a C++ compiler and ``ninja``: ``pip install ninja``; about
25 s here, then loaded from torch's extension cache), ``-march=native``, under a name that carries this CPU's model
and instruction-set flags and the source's hash, so another CPU sharing a home folder, or an edited source, builds
its own. Covers float32, and bfloat16 with weights prepacked by oneDNN; head_dim 32, 40 (the organisms), 64 or 128
(SmolLM2, Llama); no q/k norms (Qwen3's); biases are passed through. :func:`unsupported_reason` names what else
stops it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import torch

from rlvr_lab.runtime.precision import cpu_flags, cpu_model

if TYPE_CHECKING:
    from rlvr_lab.engines.lean_decoder import LeanDecoder

SOURCE = Path(__file__).with_name("native_step.cpp")
HEAD_DIMS = (32, 40, 64, 128)
DTYPES = (torch.float32, torch.bfloat16)
BUILD_FLAGS = {"extra_cflags": ["-O3", "-march=native", "-fopenmp", "-fno-math-errno"], "extra_ldflags": ["-fopenmp"]}
"""What :func:`build` compiles with. ``-fno-math-errno``: ``sqrt`` and ``nearbyint`` need not set ``errno``, so they
compile to instructions (the built library calls no maths function of libm)."""


def unsupported_reason(decoder: LeanDecoder) -> str | None:
    """Why :func:`decode_step` cannot run ``decoder``'s step, or ``None`` if it can."""
    if decoder.dtype not in DTYPES:
        return f"the native step computes in float32 or bfloat16, not {decoder.dtype}"
    if decoder.embed.device.type != "cpu":
        return f"the native step runs on CPU, not {decoder.embed.device}"
    bf16 = decoder.dtype == torch.bfloat16  # bfloat16 products need every weight prepacked; float32 ones take either
    if bf16 and not all(hasattr(p, "packed") for p in decoder.projections()):  # lean_decoder._PackedLinear
        return "oneDNN did not prepack the bfloat16 projections (a CPU without native bfloat16, or a torch without it)"
    if decoder.head_dim not in HEAD_DIMS:
        return f"head_dim {decoder.head_dim} is not one of {HEAD_DIMS}"
    if any(layer.q_norm is not None for layer in decoder.layers):
        return "the model normalises queries and keys per head (Qwen3), which the native step does not"
    if len({layer.input_norm.eps for layer in decoder.layers} | {decoder.final_norm.eps}) != 1:
        return "the RMSNorms do not share one epsilon"
    return None


def packs_float32(device: torch.device) -> bool:
    """Whether the native step's float32 projections go to oneDNN prepacked, as the bfloat16 ones always do: at the
    organisms' shapes (256 rows, widths 160 to 896) oneDNN on a prepacked weight took 7-14% less time than
    ``F.linear`` (MKL), which packs its operands at every call (measured on the AMD EPYC, docs/performance.md)."""
    return device.type == "cpu" and torch.backends.mkldnn.is_available()


def missing_build_tools() -> str | None:
    """What the build lacks (a C++ compiler, ``ninja``), or ``None``. ``ninja`` installed by pip into this
    interpreter's environment counts even when that environment's ``bin`` is not on ``PATH`` (a venv's tools
    run by their full path): its folder is put on ``PATH`` for torch's build to find."""
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        return "a C++ compiler (c++, or $CXX)"
    if shutil.which("ninja") is None:
        try:
            import ninja
        except ImportError:
            return "ninja (pip install ninja)"
        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    return None


@functools.cache
def build() -> ModuleType:
    """The compiled extension, built on first use (about 25 s) and loaded from torch's extension cache after.

    Raises ``RuntimeError`` naming what is missing (a compiler, ``ninja``) when the build cannot run."""
    from torch.utils.cpp_extension import load

    missing = missing_build_tools()
    if missing is not None:
        raise RuntimeError(f"could not build the native decode step ({SOURCE}): it needs {missing}")
    text = SOURCE.read_bytes()
    key = hashlib.sha1(b"\n".join([cpu_model().encode(), *sorted(f.encode() for f in cpu_flags()), text]))
    try:
        return load(
            f"rlvr_native_step_{key.hexdigest()[:10]}",
            sources=[str(SOURCE)],
            **BUILD_FLAGS,
        )
    except (RuntimeError, OSError, ImportError) as error:
        raise RuntimeError(
            f"could not build the native decode step ({SOURCE}; the compiler's output is above); the eager step is "
            f"path='lean'. {type(error).__name__}: {error}"
        ) from error


@dataclass(frozen=True)
class StepWeights:
    """What :func:`decode_step` hands the C++ besides the step's inputs and the cache, gathered once per decoder
    (the decoder's weights do not change during its ``sample`` call) rather than at every step."""

    norms: list[torch.Tensor]  # each layer's input and post-attention norm weights, then the final norm's
    weights: list[torch.Tensor]  # :meth:`LeanDecoder.projections`' weights in that order (bfloat16: prepacked)
    biases: list[torch.Tensor]  # their biases, an empty tensor for none
    eps: float
    packed: list[bool]  # which weights are oneDNN-prepacked, each (all in bfloat16; in float32 those oneDNN took)

    @classmethod
    def of(cls, decoder: LeanDecoder) -> StepWeights:
        layers = decoder.layers
        projections = decoder.projections()
        empty = decoder.embed.new_empty(0)
        return cls(
            norms=[n.weight for layer in layers for n in (layer.input_norm, layer.post_norm)]
            + [decoder.final_norm.weight],
            weights=[p.packed if hasattr(p, "packed") else p.weight for p in projections],
            biases=[empty if p.bias is None else p.bias for p in projections],
            eps=layers[0].input_norm.eps,
            packed=[hasattr(p, "packed") for p in projections],
        )


def decode_step(
    decoder: LeanDecoder, weights: StepWeights, tokens: torch.Tensor, positions: torch.Tensor, span: int
) -> torch.Tensor:
    """:meth:`LeanDecoder.decode` in one C++ call: the same arguments, the same cache writes, logits ``(rows, V)``."""
    return build().decode_step(
        tokens.contiguous(),  # the C++ reads them as flat int64 arrays
        positions.contiguous(),
        span,
        decoder.embed,
        weights.norms,
        weights.weights,
        weights.biases,
        decoder.cache,  # read at each step: keep() replaces it
        decoder.cos,
        decoder.signed_sin,
        weights.eps,
        decoder.heads,
        decoder.kv_heads,
        decoder.scale,
        weights.packed,
    )
