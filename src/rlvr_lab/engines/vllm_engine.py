"""``vllm``: large-k sampling on GPUs through ``vllm.LLM``.

vllm is an optional dependency (``pip install vllm``, or the ``vllm`` extra); it is imported when an engine is
built, never when this module is, so the package works without it. Built for vLLM's V1 engine (0.10.2 or
later, which has ``logprobs_mode``).

Mapping choices:
- Every (request, sample index) is its own vLLM request with ``n=1`` and a per-request ``seed`` derived from
  ``(config.seed, key, sample index)``, as the ``torch`` engine seeds, so a completion does not depend on its
  batch and resumed runs reproduce (vLLM's automatic prefix caching still shares the prompt's cache).
  The random stream itself is vLLM's and differs from ``torch``'s.
- Log-probs: ``logprobs=0`` returns the sampled token's log-prob, and ``logprobs_mode="raw_logprobs"`` makes
  it the raw model distribution (before temperature, top-k and top-p), as :class:`Completion` requires.
- Stops: with ``eos_token_ids=None`` vLLM stops on the tokenizer's and generation config's eos as usual; given
  ids replace them (``ignore_eos`` plus explicit ``stop_token_ids``), so ``()`` disables eos. The stop token
  stays in ``token_ids``, as in the other engines.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from transformers import PreTrainedModel

from rlvr_lab.engines.base import ENGINES, Completion, ProgressFn, SampleRequest, SamplingConfig
from rlvr_lab.engines.common import check_fits, collect, empty_results, work_items
from rlvr_lab.engines.sampling import stream_id


def import_vllm() -> Any:
    """The ``vllm`` module, or an ``ImportError`` that says how to install it."""
    try:
        return importlib.import_module("vllm")
    except ImportError as err:
        raise ImportError(
            "the 'vllm' engine needs vLLM, which is not installed: run `pip install vllm` "
            "(or `pip install 'rlvr-lab[vllm]'`) on a machine with a supported GPU"
        ) from err


def sampling_params_kwargs(
    config: SamplingConfig, key: str, sample_index: int, eos_token_ids: Sequence[int] | None
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one completion (see the module docstring)."""
    stops = set(config.stop_token_ids)
    if eos_token_ids is not None:
        stops |= set(eos_token_ids)
    return {
        "n": 1,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k if config.top_k > 0 else -1,
        "max_tokens": config.max_new_tokens,
        "seed": stream_id(config.seed, key, sample_index) >> 1,  # vLLM wants a signed 64-bit seed
        "stop_token_ids": sorted(stops),
        "ignore_eos": eos_token_ids is not None,
        "logprobs": 0,
    }


@ENGINES.register("vllm")
class VLLMEngine:
    """Sampling with ``vllm.LLM``.

    ``model``: a model folder or hub id, or a loaded Hugging Face model, whose ``name_or_path`` is used (vLLM
    loads its own copy from there, so in-memory weight changes are not seen: save them first).
    ``tokenizer``: unused (vLLM loads the model's own); accepted so every engine has the same factory shape.
    ``batch_size`` becomes vLLM's ``max_num_seqs``. ``device`` is accepted for the same reason and not
    used: vLLM picks its platform itself (a GPU, or the CPU with vLLM's CPU build). ``llm_options`` go to
    ``vllm.LLM`` (``dtype``, ``gpu_memory_utilization``, ``tensor_parallel_size``, ``max_model_len``...).
    """

    name = "vllm"

    def __init__(
        self,
        model: str | PreTrainedModel,
        tokenizer: object = None,
        *,
        batch_size: int = 256,
        device: str | None = None,
        eos_token_ids: Sequence[int] | None = None,
        **llm_options: Any,
    ) -> None:
        del tokenizer, device
        path = model if isinstance(model, str) else model.name_or_path
        if not path:
            raise ValueError("the vllm engine needs a model folder or hub id; this model has no name_or_path")
        vllm = import_vllm()
        self.vllm = vllm
        self.eos_token_ids = tuple(eos_token_ids) if eos_token_ids is not None else None
        options = {"max_num_seqs": batch_size, "logprobs_mode": "raw_logprobs", **llm_options}
        self.llm = vllm.LLM(model=path, **options)

    def sample(
        self,
        requests: Sequence[SampleRequest],
        config: SamplingConfig,
        progress: ProgressFn | None = None,
    ) -> list[list[Completion]]:
        """One completion per (request, sample index); see :class:`rlvr_lab.engines.base.Engine`."""
        check_fits(requests, config.max_new_tokens, self.llm.llm_engine.model_config.max_model_len)
        results = empty_results(requests)
        items = work_items(requests)
        prompts = [{"prompt_token_ids": list(requests[i.request].prompt_ids)} for i in items]
        params = [
            self.vllm.SamplingParams(
                **sampling_params_kwargs(config, requests[i.request].key, i.sample_index, self.eos_token_ids)
            )
            for i in items
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        for item, output in zip(items, outputs, strict=True):
            sample = output.outputs[0]
            token_ids = list(sample.token_ids)
            logprobs = [step[token].logprob for step, token in zip(sample.logprobs, token_ids, strict=True)]
            reason = "stop" if sample.finish_reason == "stop" else "length"
            results[item.request][item.slot] = Completion(
                token_ids, logprobs, reason, text=sample.text, sample_index=item.sample_index
            )
        if progress is not None:
            progress(len(items))
        return collect(results)
