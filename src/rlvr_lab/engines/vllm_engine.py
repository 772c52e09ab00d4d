"""``vllm``: large-k sampling on GPUs through ``vllm.LLM``.

vllm is an optional dependency (``pip install vllm``, or the ``vllm`` extra); it is imported when an engine is
built, never when this module is, so the package works without it. Built for vLLM's V1 engine (0.10.2 or
later, which has ``logprobs_mode``).

Mapping choices:
- Sample ``i`` of prompt ``key`` is drawn with vLLM seed ``base(config.seed, key) + i`` (:func:`vllm_seed`), so a
  completion is a pure function of (seed, problem, index): it does not depend on its batch, and resumed or
  extended runs reproduce. The random stream itself is vLLM's and differs from ``torch``'s.
- Two request forms (:attr:`VLLMOptions.requests`), which draw the same samples: ``per-sample`` sends every
  (prompt, index) as its own request with ``n=1``; ``per-problem`` sends one request per run of consecutive
  indices ``a … a+m-1`` with ``n=m`` and seed ``base + a``, which vLLM fans out into children seeded
  ``base + a + j`` (vLLM 0.31, ``v1/engine/parallel_sampling.py``: "each child gets a clone with a unique seed",
  ``seed + index``), i.e. exactly the per-sample seeds. Greedy requests stay per-sample (vLLM refuses ``n > 1``
  without sampling). docs/scale.md has the measured speeds of both. vLLM's automatic prefix caching shares the
  prompt's cache in both.
- Log-probs: ``logprobs=0`` returns the sampled token's log-prob, and ``logprobs_mode="raw_logprobs"`` makes
  it the raw model distribution (before temperature, top-k and top-p), as :class:`Completion` requires; only when
  asked (:attr:`VLLMOptions.logprobs`: ``rlvr sample`` asks with ``--keep-tokens``), else the list is empty.
- Stops: with ``eos_token_ids=None`` vLLM stops on the tokenizer's and generation config's eos as usual; given
  ids replace them (``ignore_eos`` plus explicit ``stop_token_ids``), so ``()`` disables eos. The stop token
  stays in ``token_ids``, as in the other engines.

At GPU scale (:class:`VLLMOptions`):
- the engine options a large run needs (tensor parallelism, dtype, memory fraction, context length, prefix
  caching) come from ``rlvr sample --engine-options`` (``k=v,...`` or a YAML file) and are checked by name, so a
  typo fails before vLLM starts;
- no Hugging Face model is loaded: :func:`rlvr_lab.models.engines.open_engine` gives vLLM the model's folder and loads
  only the tokenizer;
- every request of a chunk goes to vLLM's scheduler in one ``generate`` call, which batches them as its memory
  allows; ``rlvr sample`` makes vLLM's chunks large (``VLLM_CHUNK``) so the scheduler is never starved, and small
  enough that a killed run loses minutes, not hours;
- vLLM logs to stdout by default; this module sends its logs (and anything its engine process prints) to stderr,
  so ``--json`` output stays one clean line;
- vLLM's ``dtype="auto"`` silently runs a float32 checkpoint in bfloat16 (or float16) on a GPU; the engine says on
  stderr which dtype the checkpoint has and which one vLLM runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel

from rlvr_lab.engines.base import ENGINES, Completion, ProgressFn, SampleRequest, SamplingConfig
from rlvr_lab.engines.common import check_fits, collect, empty_results, work_items
from rlvr_lab.engines.sampling import stream_id

VLLM_CHUNK = 16384
"""Samples per ``generate`` call in ``rlvr sample``: tens of batches of vLLM's default 1,024 sequences, so its
scheduler always has work queued, and about 1.5% of MATH-500 at n = 1024, which is what a kill can lose."""


REQUEST_FORMS = ("per-sample", "per-problem")
"""The values of :attr:`VLLMOptions.requests`."""


@dataclass(frozen=True)
class VLLMOptions:
    """Engine options of ``vllm.LLM`` that a large run sets; field names are vLLM's own."""

    tensor_parallel_size: int = 1
    """GPUs one model is split over (one engine per node; use shards for data parallelism)."""
    dtype: str = "auto"
    """Weights and activations: auto (vLLM picks from the checkpoint, float32 becomes bfloat16 on GPUs),
    bfloat16, float16 or float32."""
    gpu_memory_utilization: float = 0.9
    """Fraction of each GPU's memory vLLM may take for weights and KV cache."""
    max_model_len: int | None = None
    """Context length (prompt + completion); unset: the model's own."""
    enable_prefix_caching: bool = True
    """Share the KV cache of a prompt across its samples (n samples per problem share one prompt)."""
    max_num_seqs: int | None = None
    """Sequences decoded together; unset: vLLM's default."""
    seed: int = 0
    """vLLM's global seed (each request also carries its own, so samples do not depend on it)."""
    enforce_eager: bool = False
    """Skip CUDA graph capture (faster start, slower decoding)."""
    logprobs: bool = True
    """Return each sampled token's raw log-prob (vLLM computes a log-softmax over the vocabulary for them, at every
    token of pass@1024). ``rlvr sample`` asks for them only with ``--keep-tokens``, the only time it stores them;
    without them a completion's ``logprobs`` is empty. Not a ``vllm.LLM`` option."""

    requests: str = "per-sample"
    """How samples become vLLM requests: ``per-sample`` (one request with ``n=1`` per sample) or ``per-problem``
    (one request with ``n`` samples per run of consecutive sample indices of a prompt). Both draw the same
    samples (see the module docstring). Not a ``vllm.LLM`` option."""

    ENGINE_ONLY = ("logprobs", "requests")
    """Fields read by this engine, not passed to ``vllm.LLM``."""

    def __post_init__(self) -> None:
        if self.requests not in REQUEST_FORMS:
            raise ValueError(f"vllm engine option requests={self.requests!r}: choose from {list(REQUEST_FORMS)}")

    @classmethod
    def parse(cls, text: str | None) -> VLLMOptions:
        """Options from ``k=v,k=v`` or from a YAML file path; unknown names raise ``ValueError`` listing them."""
        if not text:
            return cls()
        if text.endswith((".yaml", ".yml")):
            import yaml

            path = Path(text)
            if not path.is_file():
                raise ValueError(f"engine options file {path} does not exist")
            raw = yaml.safe_load(path.read_text()) or {}
            if not isinstance(raw, Mapping):
                raise ValueError(f"{path}: engine options must be a mapping of option: value")
            return cls.from_mapping(raw, where=str(path))
        pairs: dict[str, Any] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"engine option {part!r} is not key=value")
            pairs[key.strip()] = value.strip()
        return cls.from_mapping(pairs, where="--engine-options")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str) -> VLLMOptions:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise ValueError(f"{where}: unknown vllm engine option(s) {unknown}; choose from {sorted(fields)}")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            values[key] = _coerce(value, cls.__annotations__[key], f"{where}: {key}")
        return cls(**values)

    def llm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``vllm.LLM`` (unset options are left to vLLM)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and k not in self.ENGINE_ONLY}


def _coerce(value: Any, annotation: str, where: str) -> Any:
    """A YAML or ``k=v`` value as the option's type (annotations are strings under ``from __future__``)."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if "None" in annotation:
            return None
        raise ValueError(f"{where} cannot be empty")
    kind = annotation.split("|")[0].strip()
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            lowered = str(value).lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError
            return lowered in ("true", "1")
        return {"int": int, "float": float, "str": str}[kind](value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a {kind}") from None


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 (and ``sys.stdout``) at stderr for the block.

    vLLM's logger writes to stdout, and its engine core runs in a child process that inherits the descriptor, so
    redirecting ``sys.stdout`` alone would not catch it.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def checkpoint_dtype(path: str) -> str | None:
    """The dtype a local checkpoint's ``config.json`` declares (``None`` for hub ids or when it says none)."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return None
    data = json.loads(config.read_text())
    text = data.get("text_config", {}) if isinstance(data.get("text_config"), dict) else {}
    value = data.get("torch_dtype") or data.get("dtype") or text.get("torch_dtype") or text.get("dtype")
    return str(value) if value else None


def import_vllm() -> Any:
    """The ``vllm`` module, or an ``ImportError`` that says how to install it."""
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    try:
        with stdout_to_stderr():
            return importlib.import_module("vllm")
    except ImportError as err:
        raise ImportError(
            "the 'vllm' engine needs vLLM, which is not installed: run `pip install vllm` "
            "(or `pip install 'rlvr-lab[vllm]'`) on a machine with a supported GPU"
        ) from err


def vllm_seed(seed: int, key: str, sample_index: int) -> int:
    """The vLLM seed of sample ``sample_index`` of prompt ``key``: a 62-bit hash of ``(seed, key)`` plus the index.

    Base plus index, not a hash per index, because vLLM seeds child ``j`` of a request with seed ``s`` and ``n``
    samples as ``s + j``: so one request per run of consecutive indices draws exactly the per-sample requests'
    samples. 62 bits keep ``base + index`` a signed 64-bit seed. Two prompts share a seed only when their bases lie
    within ``n`` of each other: for P prompts, a chance of about P² n / 2^62 (1e-10 for MATH-500 at n = 1024).
    """
    return (stream_id(seed, key, 0) >> 2) + sample_index


@dataclass(frozen=True)
class RequestRun:
    """Samples ``first … first + count - 1`` of request ``request``, filling its slots ``slot …``: one vLLM
    request with ``n = count``."""

    request: int
    slot: int
    first: int
    count: int


def request_runs(requests: Sequence[SampleRequest], per_problem: bool) -> list[RequestRun]:
    """The vLLM requests for ``requests``: one per sample, or (``per_problem``) one per run of consecutive sample
    indices in consecutive slots of a prompt (a resumed run asks for the missing indices, often one run)."""
    runs: list[RequestRun] = []
    for item in work_items(requests):
        last = runs[-1] if runs else None
        if (
            per_problem
            and last is not None
            and last.request == item.request
            and last.first + last.count == item.sample_index
            and last.slot + last.count == item.slot
        ):
            runs[-1] = dataclasses.replace(last, count=last.count + 1)
        else:
            runs.append(RequestRun(item.request, item.slot, item.sample_index, 1))
    return runs


def sampling_params_kwargs(
    config: SamplingConfig,
    key: str,
    sample_index: int,
    eos_token_ids: Sequence[int] | None,
    logprobs: bool = True,
    n: int = 1,
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for samples ``sample_index … sample_index + n - 1`` of one
    prompt (see the module docstring); ``logprobs`` False asks for none (``logprobs=None``)."""
    stops = set(config.stop_token_ids)
    if eos_token_ids is not None:
        stops |= set(eos_token_ids)
    return {
        "n": n,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k if config.top_k > 0 else -1,
        "max_tokens": config.max_new_tokens,
        "seed": vllm_seed(config.seed, key, sample_index),
        "stop_token_ids": sorted(stops),
        "ignore_eos": eos_token_ids is not None,
        "logprobs": 0 if logprobs else None,
    }


@ENGINES.register("vllm")
class VLLMEngine:
    """Sampling with ``vllm.LLM``.

    ``model``: a model folder or hub id, or a loaded Hugging Face model, whose ``name_or_path`` is used (vLLM
    loads its own copy from there, so in-memory weight changes are not seen: save them first).
    ``tokenizer``: unused (vLLM loads the model's own); accepted so every engine has the same factory shape.
    ``batch_size`` becomes vLLM's ``max_num_seqs`` unless ``options`` sets it. ``device`` is accepted for the same
    reason and not used: vLLM picks its platform itself (a GPU, or the CPU with vLLM's CPU build). ``options``:
    :class:`VLLMOptions`; ``llm_options`` go to ``vllm.LLM`` as they are (tests, rare settings).
    """

    name = "vllm"

    def __init__(
        self,
        model: str | PreTrainedModel,
        tokenizer: object = None,
        *,
        batch_size: int | None = None,
        device: str | None = None,
        eos_token_ids: Sequence[int] | None = None,
        options: VLLMOptions | None = None,
        **llm_options: Any,
    ) -> None:
        del tokenizer, device
        path = model if isinstance(model, str) else model.name_or_path
        if not path:
            raise ValueError("the vllm engine needs a model folder or hub id; this model has no name_or_path")
        vllm = import_vllm()
        self.vllm = vllm
        self.eos_token_ids = tuple(eos_token_ids) if eos_token_ids is not None else None
        options = options or VLLMOptions()
        self.logprobs = options.logprobs
        self.requests = options.requests
        kwargs = options.llm_kwargs()
        if batch_size is not None:
            kwargs.setdefault("max_num_seqs", batch_size)
        kwargs = {**kwargs, "logprobs_mode": "raw_logprobs", **llm_options}
        with stdout_to_stderr():
            self.llm = vllm.LLM(model=path, **kwargs)
        self.dtype = str(self.llm.llm_engine.model_config.dtype).removeprefix("torch.")
        declared = checkpoint_dtype(path)
        if declared is not None and declared != self.dtype:
            print(
                f"vllm: the checkpoint's weights are {declared}; vLLM samples in {self.dtype} "
                f"(dtype={kwargs.get('dtype', 'auto')})",
                file=sys.stderr,
            )

    def sample(
        self,
        requests: Sequence[SampleRequest],
        config: SamplingConfig,
        progress: ProgressFn | None = None,
    ) -> list[list[Completion]]:
        """One completion per (request, sample index); see :class:`rlvr_lab.engines.base.Engine`."""
        check_fits(requests, config.max_new_tokens, self.llm.llm_engine.model_config.max_model_len)
        results = empty_results(requests)
        runs = request_runs(requests, self.requests == "per-problem" and config.temperature > 0)
        prompts = [{"prompt_token_ids": list(requests[r.request].prompt_ids)} for r in runs]
        params = [
            self.vllm.SamplingParams(
                **sampling_params_kwargs(
                    config, requests[r.request].key, r.first, self.eos_token_ids, self.logprobs, n=r.count
                )
            )
            for r in runs
        ]
        with stdout_to_stderr():
            outputs = self.llm.generate(prompts, params, use_tqdm=False)
        for run, output in zip(runs, outputs, strict=True):
            for sample in output.outputs:  # child j of a run is sample run.first + j (vLLM's ``index``)
                token_ids = list(sample.token_ids)
                logprobs = (
                    [step[token].logprob for step, token in zip(sample.logprobs, token_ids, strict=True)]
                    if self.logprobs
                    else []
                )
                reason = "stop" if sample.finish_reason == "stop" else "length"
                results[run.request][run.slot + sample.index] = Completion(
                    token_ids, logprobs, reason, text=sample.text, sample_index=run.first + sample.index
                )
        if progress is not None:
            progress(sum(r.count for r in runs))
        return collect(results)
