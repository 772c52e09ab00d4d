"""A lean forward pass for Llama-like models (Llama, Qwen2, Qwen3, Mistral) over a preallocated KV cache.

Why: on CPU with small models, ``generate`` spends most of a decode step in Python (module calls, mask
building, cache bookkeeping) and in ``torch.cat`` growing the cache. This path runs the same maths with
about twenty tensor ops per layer and writes each new key/value into its place.

- Weights are taken from the live model at the start of every ``sample`` call, never kept across calls:
  the RL trainer changes them between calls. The q/k/v and gate/up projections are concatenated then (one
  matrix product instead of three, or two) and the copies die with the call.
- The decoder computes in its own dtype (``dtype``, default the model's): a float32 model sampled in bfloat16
  gets bfloat16 copies of its weights (a tied embedding cast once), a bfloat16 KV cache and bfloat16
  activations (the model itself is left untouched); rotary tables are computed in float32 and then cast, as
  transformers does.
- The cache is one ``(rows, 2, kv_heads, max_len, head_dim)`` tensor per layer (keys and values). Each
  row holds one sequence from position 0, with no padding: a finished row is refilled by prefilling the new
  prompt into positions ``0 .. P-1`` of that row alone, and the stale tail beyond is hidden by the
  per-row mask ``key position <= query position`` until the row overwrites it.
- Rotary tables come from the model's own ``rotary_emb`` module, so scaled rope variants (linear, llama3,
  yarn) match; rope types that depend on the running length (dynamic, longrope) are left to the generic path.
- RMSNorm, rope and attention follow transformers' op order (fp32 norm statistics, ``q*cos + rotate(q)*sin``),
  so results agree with the model's own forward to rounding.

Not covered (``unsupported_reason`` says which, and the engine falls back to the generic path): other
activations or norms, sliding windows shorter than the sequence, quantised or otherwise wrapped linear layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from rlvr_lab.engines import native_step
from rlvr_lab.engines.common import dedupe
from rlvr_lab.engines.prompt_cache import PrefilledPrompt, PromptCache
from rlvr_lab.runtime.precision import packed_bf16_linear

LEAN_MODEL_TYPES = frozenset({"llama", "qwen2", "qwen3", "mistral"})
_STATIC_ROPE_TYPES = frozenset({"default", "linear", "llama3", "yarn"})
_ATTN_PROJ = ("q_proj", "k_proj", "v_proj", "o_proj")
_MLP_PROJ = ("gate_proj", "up_proj", "down_proj")


def unsupported_reason(model: PreTrainedModel, max_len: int) -> str | None:
    """Why the lean path cannot run ``model`` for sequences of ``max_len`` tokens, or ``None`` if it can."""
    config = model.config
    if config.model_type not in LEAN_MODEL_TYPES:
        return f"model type {config.model_type!r} is not one of {sorted(LEAN_MODEL_TYPES)}"
    if getattr(config, "hidden_act", None) != "silu":
        return f"activation {getattr(config, 'hidden_act', None)!r} is not silu"
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") not in _STATIC_ROPE_TYPES:
        return f"rope type {rope.get('rope_type')!r} depends on the running length"
    window = getattr(config, "sliding_window", None)
    sliding = config.model_type == "mistral" or "sliding_attention" in (getattr(config, "layer_types", None) or [])
    if sliding and window is not None and window < max_len:
        return f"sliding window {window} is shorter than the {max_len} tokens needed"
    body = getattr(model, "model", None)
    if body is None or not all(hasattr(body, a) for a in ("embed_tokens", "layers", "norm", "rotary_emb")):
        return "the model does not have the embed_tokens / layers / norm / rotary_emb layout"
    for layer in body.layers:
        linears = [getattr(layer.self_attn, n, None) for n in _ATTN_PROJ] + [
            getattr(layer.mlp, n, None) for n in _MLP_PROJ
        ]
        if not all(type(m) is nn.Linear for m in linears):
            return "a projection is not a plain nn.Linear (quantised or wrapped)"
    if type(model.get_output_embeddings()) is not nn.Linear:
        return "the output head is not a plain nn.Linear"
    return None


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' LlamaRMSNorm: statistics in fp32, then ``weight * normalised.to(dtype)``."""
    if x.dtype in (torch.float32, torch.float64):
        return F.rms_norm(x, weight.shape, weight, eps)
    return weight * F.rms_norm(x.float(), weight.shape, None, eps).to(x.dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding ``x*cos + rotate_half(x)*sin``, with ``rotate_half(x)*sin == roll(x)*signed_sin``.

    ``signed_sin`` is ``sin`` with its first half negated, so the rotation is one roll instead of two slices,
    a negation and a concatenation.
    """
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * signed_sin


def decode_attention(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """One decode step's attention: ``q`` ``(R, H, D)`` over ``keys`` and ``values`` ``(R, Hkv, S, D)``, with
    ``mask`` ``(R, 1, 1, S)`` additive or ``None``; returns ``(R, Hkv, H / Hkv, D)``, query heads in order.

    Why not ``enable_gqa``: the ``H / Hkv`` query heads that share a key head go in as that head's query positions
    (there is no causal mask, so positions do not interact), which hands torch's CPU flash kernel ``R * Hkv`` blocks
    of several queries instead of ``R * H`` blocks of one, each paying the kernel's per-block cost. The maths is the
    same; the rounding differs (float32: 4e-7; ``tests/test_engines.py``). With one query head per key head (the
    organisms) the call is the one ``enable_gqa`` would make, bit for bit. For SmolLM2-135M (9 query heads over 3) a
    bfloat16 decode step at 32 rows is 1.5-1.6x faster on an AMD EPYC without AMX and the same in float32
    (``benchmarks/decode_attention.py``, ``docs/performance.md``).
    """
    rows, heads, dim = q.shape
    grouped = q.reshape(rows, keys.shape[1], heads // keys.shape[1], dim)  # query head h -> key head h // group
    return F.scaled_dot_product_attention(grouped, keys, values, attn_mask=mask, scale=scale)


@dataclass(frozen=True)
class _Norm:
    """An RMSNorm's weight (in the decoder's dtype) and epsilon."""

    weight: torch.Tensor
    eps: float

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _rms(x, self.weight, self.eps)


@dataclass(frozen=True)
class _Linear:
    """A projection's weight and bias (in the decoder's dtype)."""

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


@dataclass(frozen=True)
class _PackedLinear:
    """A bfloat16 projection whose weight is prepacked in oneDNN's blocked layout (see
    :func:`rlvr_lab.runtime.precision.packed_bf16_linear`): the same numbers as ``F.linear``, without the
    per-call weight reorder."""

    packed: torch.Tensor
    bias: torch.Tensor | None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")


def _pack(linear: _Linear, rows: int) -> _Linear | _PackedLinear:
    """``linear`` with its weight packed for ``rows``-row inputs, or as it is if oneDNN refuses."""
    try:
        return _PackedLinear(torch.ops.mkldnn._reorder_linear_weight(linear.weight, rows), linear.bias)
    except (AttributeError, RuntimeError):
        return linear


@dataclass(frozen=True)
class _Layer:
    """One decoder layer's weights, with the q/k/v and gate/up projections concatenated.

    ``qkv``: ``((H + 2 Hkv) D, C)``; ``gate_up``: ``(2 I, C)``; the rest are the live modules' own tensors,
    or their copies in the decoder's dtype.
    """

    input_norm: _Norm
    qkv: _Linear | _PackedLinear
    q_norm: _Norm | None
    k_norm: _Norm | None
    out: _Linear | _PackedLinear
    post_norm: _Norm
    gate_up: _Linear | _PackedLinear
    down: _Linear | _PackedLinear


class _Caster:
    """Tensors of the live model in the decoder's dtype: the originals when the dtypes agree, else one copy each
    (a tied weight is cast once and shared)."""

    def __init__(self, dtype: torch.dtype, pack_rows: int | None = None) -> None:
        self.dtype = dtype
        self.pack_rows = pack_rows  # pack projections for this many rows; None: plain F.linear
        self.copies: dict[int, torch.Tensor] = {}

    def __call__(self, tensor: torch.Tensor | None) -> torch.Tensor | None:
        if tensor is None or tensor.dtype == self.dtype:
            return tensor
        if id(tensor) not in self.copies:
            self.copies[id(tensor)] = tensor.detach().to(self.dtype)
        return self.copies[id(tensor)]

    def norm(self, module: nn.Module | None) -> _Norm | None:
        return None if module is None else _Norm(self(module.weight), module.variance_epsilon)

    def linear(self, *modules: nn.Linear) -> _Linear:
        """One projection, or several concatenated along the output (their biases zero-filled where absent)."""
        if len(modules) == 1:
            linear = _Linear(self(modules[0].weight), self(modules[0].bias))
        else:
            weight = torch.cat([m.weight.detach() for m in modules]).to(self.dtype)
            bias = None
            if any(m.bias is not None for m in modules):
                parts = [m.bias if m.bias is not None else m.weight.new_zeros(m.out_features) for m in modules]
                bias = torch.cat(parts).detach().to(self.dtype)
            linear = _Linear(weight, bias)
        return linear if self.pack_rows is None else _pack(linear, self.pack_rows)

    def layer(self, layer: nn.Module) -> _Layer:
        attn, mlp = layer.self_attn, layer.mlp
        return _Layer(
            input_norm=self.norm(layer.input_layernorm),
            qkv=self.linear(attn.q_proj, attn.k_proj, attn.v_proj),
            q_norm=self.norm(getattr(attn, "q_norm", None)),  # Qwen3 normalises each head before rope
            k_norm=self.norm(getattr(attn, "k_norm", None)),
            out=self.linear(attn.o_proj),
            post_norm=self.norm(layer.post_attention_layernorm),
            gate_up=self.linear(mlp.gate_proj, mlp.up_proj),
            down=self.linear(mlp.down_proj),
        )


class LeanDecoder:
    """KV cache of ``rows`` sequences of up to ``max_len`` tokens, and the model's forward over it.

    Implements the row-decoder contract of :mod:`rlvr_lab.engines.torch_engine`. Built once per ``sample``
    call: the concatenated projections are copies of the live weights made then, and dropped with the decoder.
    """

    refills_partially = True

    def __init__(
        self, model: PreTrainedModel, rows: int, max_len: int, dtype: torch.dtype | None = None, native: bool = False
    ) -> None:
        """``native``: run each decode step as one C++ call (:mod:`rlvr_lab.engines.native_step`), built on first
        use; a ``ValueError`` names why when the model or the CPU cannot take it."""
        reason = unsupported_reason(model, max_len)
        if reason is not None:
            raise ValueError(f"the lean decoder cannot run this model: {reason}")
        body = model.model
        attn = body.layers[0].self_attn
        self.heads: int = model.config.num_attention_heads
        self.kv_heads: int = model.config.num_key_value_heads
        self.head_dim: int = attn.head_dim
        self.scale: float = attn.scaling
        self.dtype = dtype or body.embed_tokens.weight.dtype
        device = body.embed_tokens.weight.device
        # bfloat16 projections are prepacked for oneDNN wherever it can; float32 ones only for the native step (the
        # eager float32 step keeps F.linear's products, with which the shipped organism tables were drawn)
        if self.dtype == torch.bfloat16:
            packs = packed_bf16_linear(device)
        else:
            packs = native and self.dtype == torch.float32 and native_step.packs_float32(device)
        cast = _Caster(self.dtype, pack_rows=rows if packs else None)
        self.embed: torch.Tensor = cast(body.embed_tokens.weight)
        self.final_norm = cast.norm(body.norm)
        self.head = cast.linear(model.get_output_embeddings())
        self.layers = [cast.layer(layer) for layer in body.layers]
        weight = self.embed
        self.max_len = max_len
        # keys and values of a layer in one tensor, so one index_copy_ writes both. The native step reads only the
        # positions a row has written (the prefill writes 0 .. len - 1, each step its own position before reading),
        # so its cache is left unfilled (the zero fill was 6% of an organism rollout, and a row rarely reaches
        # max_len); the eager step reads the whole span under a -inf mask, where a zero weight times an unwritten
        # NaN would be NaN, so its cache starts at zero.
        alloc = weight.new_empty if native else weight.new_zeros
        self.cache = [alloc(rows, 2, self.kv_heads, max_len, self.head_dim) for _ in self.layers]
        positions = torch.arange(max_len, device=weight.device)
        cos, sin = body.rotary_emb(weight[:1], positions.unsqueeze(0))  # (1, max_len, head_dim) each, in fp32
        half = self.head_dim // 2
        self.cos = cos[0].to(self.dtype)  # as transformers: rotary tables computed in fp32, cast to the dtype
        self.signed_sin = torch.cat([-sin[0, :, :half], sin[0, :, half:]], dim=-1).to(self.dtype)
        self.positions = positions
        self.prompts = PromptCache()
        self._index_rows(rows)
        self.native: native_step.StepWeights | None = None  # set: each decode step is one C++ call
        if native:
            reason = native_step.unsupported_reason(self)
            if reason is not None:
                raise ValueError(f"the native decode step cannot run this model: {reason}")
            native_step.build()
            self.native = native_step.StepWeights.of(self)

    def projections(self) -> list[_Linear | _PackedLinear]:
        """Every projection in a decode step's order: each layer's q/k/v, output, gate/up and down, then the head."""
        return [p for layer in self.layers for p in (layer.qkv, layer.out, layer.gate_up, layer.down)] + [self.head]

    def _index_rows(self, rows: int) -> None:
        """Flat offsets of each (row, k/v, kv head) in a cache viewed as ``(rows * 2 * Hkv * max_len, D)``."""
        self.rows = rows
        self.slot_offsets = torch.arange(rows * 2 * self.kv_heads, device=self.positions.device) * self.max_len

    # ------------------------------------------------------------------ shared pieces of a layer

    def _attention_inputs(
        self, layer: _Layer, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotated queries ``(*lead, H, D)`` and rotated keys with values ``(*lead, 2, Hkv, D)`` of ``h``.

        ``h``: ``(*lead, C)``; ``cos``, ``sin`` broadcast against ``(*lead, heads, D)``.
        """
        lead = h.shape[:-1]
        qkv = layer.qkv(layer.input_norm(h)).view(*lead, self.heads + 2 * self.kv_heads, self.head_dim)
        if layer.q_norm is not None and layer.k_norm is not None:
            q = _rotate(layer.q_norm(qkv[..., : self.heads, :]), cos, sin)
            k = _rotate(layer.k_norm(qkv[..., self.heads : self.heads + self.kv_heads, :]), cos, sin)
        else:
            qk = _rotate(qkv[..., : self.heads + self.kv_heads, :], cos, sin)  # one rotation for q and k
            q, k = qk[..., : self.heads, :], qk[..., self.heads :, :]
        kv = torch.stack([k, qkv[..., self.heads + self.kv_heads :, :]], dim=-3)
        return q, kv

    def _finish_layer(self, layer: _Layer, h: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """Output projection, residual, MLP, residual. ``h``: ``(*lead, C)``; ``attended``: ``(*lead, H * D)``."""
        h = h + layer.out(attended)
        gate, up = layer.gate_up(layer.post_norm(h)).chunk(2, dim=-1)
        return h + layer.down(F.silu(gate) * up)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.final_norm(h))

    # ------------------------------------------------------------------ the row-decoder contract

    def prefill(self, rows: torch.Tensor, prompts: list[list[int]]) -> torch.Tensor:
        """Write ``prompts`` into cache ``rows`` ``(k,)`` from position 0; return next-token logits ``(k, V)``.

        A prompt prefilled earlier in this call is copied from :attr:`prompts` (its keys, values and first logits)
        instead of being run again. Why: continuous batching refills a row or two at a time, so the ``n`` samples of
        one prompt would otherwise run its prefill about ``n`` times: for SmolLM2 on HumanEval (prompts of ~200
        tokens, answers of ~170) as many positions as the decoding, though at the faster rate of a many-row product
        (measured: 4% of the call). The prompts not yet seen run
        once each (right-padded to the longest; padding sits after each prompt, so causal attention never lets a
        real token see it).
        """
        distinct, inverse_list = dedupe(prompts)
        entries = [self.prompts.get(p) for p in distinct]
        missing = [i for i, entry in enumerate(entries) if entry is None]
        computed = self._run_prompts([distinct[i] for i in missing])
        for i, (_, entry) in zip(missing, computed, strict=True):
            entries[i] = entry
        self.prompts.add(computed)
        inverse = torch.tensor(inverse_list, device=self.positions.device)
        for i, entry in enumerate(entries):
            targets = rows[inverse == i]
            for cache, kv in zip(self.cache, entry.kv, strict=True):
                cache[targets, :, :, : kv.shape[-2]] = kv
        return torch.stack([entry.logits for entry in entries])[inverse]

    def _run_prompts(self, prompts: list[list[int]]) -> list[tuple[list[int], PrefilledPrompt]]:
        """The forward pass over ``prompts``: each one's keys and values per layer and its next-token logits."""
        if not prompts:
            return []
        device = self.positions.device
        lengths = torch.tensor([len(p) for p in prompts], device=device)
        width = int(lengths.max())
        ids = torch.zeros(len(prompts), width, dtype=torch.long, device=device)
        for i, prompt in enumerate(prompts):
            ids[i, : len(prompt)] = torch.tensor(prompt, device=device)
        h = F.embedding(ids, self.embed)  # (u, P, C)
        cos, sin = self.cos[:width].unsqueeze(1), self.signed_sin[:width].unsqueeze(1)  # (P, 1, D)
        gqa = self.kv_heads != self.heads
        kvs = []
        for layer in self.layers:
            q, kv = self._attention_inputs(layer, h, cos, sin)  # (u, P, H, D), (u, P, 2, Hkv, D)
            kv = kv.permute(0, 2, 3, 1, 4)  # (u, 2, Hkv, P, D)
            kvs.append(kv)
            out = F.scaled_dot_product_attention(
                q.transpose(1, 2), kv[:, 0], kv[:, 1], is_causal=True, scale=self.scale, enable_gqa=gqa
            )  # (u, H, P, D)
            h = self._finish_layer(layer, h, out.transpose(1, 2).flatten(2))
        last = h[torch.arange(len(prompts), device=device), lengths - 1]  # (u, C)
        logits = self._logits(last)
        return [
            (prompt, PrefilledPrompt([kv[i, :, :, : len(prompt)].clone() for kv in kvs], logits[i]))
            for i, prompt in enumerate(prompts)
        ]

    def decode(self, tokens: torch.Tensor, positions: torch.Tensor, span: int) -> torch.Tensor:
        """Feed ``tokens`` ``(rows,)`` at ``positions`` ``(rows,)``; return next-token logits ``(rows, V)``.

        ``span`` bounds the attended keys: every live row has ``position < span``.
        """
        if self.native is not None:
            return native_step.decode_step(self, self.native, tokens, positions, span)
        rows = self.rows
        h = F.embedding(tokens, self.embed)  # (R, C)
        cos, sin = self.cos[positions].unsqueeze(1), self.signed_sin[positions].unsqueeze(1)  # (R, 1, D)
        slots = self.slot_offsets + positions.repeat_interleave(2 * self.kv_heads)  # (R * 2 * Hkv,)
        # rows see keys up to their own position; when every row sits at span - 1 nothing needs hiding
        hidden = self.positions[:span] > positions.unsqueeze(1)  # (R, span)
        mask = None
        if bool(hidden.any()):
            mask = torch.zeros(hidden.shape, dtype=h.dtype, device=h.device).masked_fill_(hidden, float("-inf"))
            mask = mask.view(rows, 1, 1, span)
        for layer, cache in zip(self.layers, self.cache, strict=True):
            q, kv = self._attention_inputs(layer, h, cos, sin)  # (R, H, D), (R, 2, Hkv, D)
            cache.view(-1, self.head_dim).index_copy_(0, slots, kv.reshape(-1, self.head_dim))
            out = decode_attention(q, cache[:, 0, :, :span], cache[:, 1, :, :span], mask, self.scale)
            h = self._finish_layer(layer, h, out.view(rows, -1))
        return self._logits(h)

    def keep(self, rows: torch.Tensor) -> None:
        """Shrink the cache to ``rows`` (in that order), when most rows have finished and none will refill."""
        self.cache = [c[rows] for c in self.cache]
        self._index_rows(len(rows))
