"""The units of work of a study, as :func:`rlvr_lab.studies.parallel.run_jobs` runs them.

Each job is a frozen, picklable dataclass that knows its output files: ``finished()`` reads them (a re-run skips
finished jobs), ``run()`` resumes from whatever a killed run left, and ``progress_file()`` names the file that
grows by one line per unit of work.

- :class:`TrainJob`: one training run (:func:`rlvr_lab.rl.trainer.train`, resumed from its last checkpoint when
  its directory already holds one), then its final policy sampled and graded on the study's evaluation set;
- :class:`SampleJob`: sample a model on a problem set and grade the samples (:mod:`.evaluation`);
- :class:`PerplexityJob`: the perplexity of each model's responses under every model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from rlvr_lab.engines import SamplingConfig
from rlvr_lab.rl.config import TrainConfig
from rlvr_lab.studies.evaluation import TEMPLATE, ProblemSet, grade_store, graded_path, sample


@dataclass(frozen=True)
class TrainJob:
    """One training run, then its final policy evaluated like the base model (``final_eval.jsonl``, graded).

    The trainer's own held-out evaluations (before the first step and after the last) draw the training curves;
    the final evaluation here uses the study's problems, samples and seed, so it compares with the base model's
    evaluation sample for sample.
    """

    name: str
    phase: str
    config: TrainConfig
    problems: ProblemSet
    """Problems of the final evaluation."""
    sampling: SamplingConfig
    """Sampling of the final evaluation."""
    after: tuple[str, ...] = ()
    template: str = TEMPLATE
    """Prompt template of the final evaluation (the run's own, for the runs of :mod:`.audit`)."""
    nproc: int = 1
    """Processes of the run (``--backend trl`` on several GPUs)."""

    @property
    def run_dir(self) -> Path:
        return Path(self.config.out)

    @property
    def model_dir(self) -> Path:
        """The final policy (written by the trainer after the last step)."""
        return self.run_dir / "model"

    @property
    def final_store(self) -> Path:
        return self.run_dir / "final_eval.jsonl"

    @property
    def total(self) -> int:
        return self.config.steps

    def progress_file(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    def finished(self) -> bool:
        return (self.model_dir / "rlvr_train.json").is_file() and graded_path(self.final_store).is_file()

    def run(self) -> None:
        from rlvr_lab.backends import BACKENDS, Launch

        if not (self.model_dir / "rlvr_train.json").is_file():
            resume = (self.run_dir / "config.yaml").is_file()
            launch = Launch(nproc=self.nproc)
            BACKENDS.get(self.config.backend)().train(self.config, launch, resume=resume, show_progress=False)
        sample(
            str(self.model_dir),
            self.problems,
            self.sampling,
            self.final_store,
            self.config.engine_batch_size,
            self.template,
            self.config.decoder,
            self.config.dtype,
        )
        grade_store(self.final_store, self.problems, self.config.answer_fallbacks())


@dataclass(frozen=True)
class SampleJob:
    """Sample ``model`` on ``problems`` into ``store`` and grade it."""

    name: str
    phase: str
    model: str
    """A model spec for :func:`rlvr_lab.models.load_model` (profile name or folder)."""
    problems: ProblemSet
    sampling: SamplingConfig
    store: Path
    batch_size: int = 256
    after: tuple[str, ...] = ()
    template: str = TEMPLATE
    """Prompt template of the samples."""
    fallbacks: tuple[str, ...] = ()
    """Answer extractors after the boxed answer, as the runs compared with these samples grade theirs."""
    decoder: str = "auto"
    """The torch engine's decoder (:data:`rlvr_lab.engines.base.DecoderPath`)."""
    dtype: str = "auto"
    """The sampler's dtype: float32, bfloat16 or auto (resolved for the model when the job runs)."""

    @property
    def total(self) -> int:
        return self.problems.limit * self.sampling.n

    def progress_file(self) -> Path:
        return self.store

    def finished(self) -> bool:
        return graded_path(self.store).is_file()

    def run(self) -> None:
        sample(
            self.model,
            self.problems,
            self.sampling,
            self.store,
            self.batch_size,
            self.template,
            self.decoder,
            self.dtype,
        )
        grade_store(self.store, self.problems, self.fallbacks)


@dataclass(frozen=True)
class PerplexityJob:
    """Perplexity of each store's responses under each model, written as ``out`` (JSON, atomically).

    ``responses`` holds (label, store) pairs; the first ``per_problem`` samples of each problem are scored, with
    the same prompt the samples were drawn from. All models must share one tokenizer (the organisms do).
    """

    name: str
    phase: str
    models: tuple[tuple[str, str], ...]
    """(label, model spec) pairs: the columns."""
    responses: tuple[tuple[str, Path], ...]
    """(label, sample store) pairs: the rows."""
    problems: ProblemSet
    per_problem: int
    out: Path
    after: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return 1

    def progress_file(self) -> None:
        return None

    def finished(self) -> bool:
        return self.out.is_file()

    def run(self) -> None:
        from rlvr_lab.analysis.perplexity import ScoredResponses, perplexity_matrix
        from rlvr_lab.models.loading import load_model
        from rlvr_lab.prompts import encode_prompt, resolve_template
        from rlvr_lab.store import read_sample_table
        from rlvr_lab.studies.evaluation import TEMPLATE

        loaded = {label: load_model(spec) for label, spec in self.models}
        tokenizer = next(iter(loaded.values()))[1]
        template = resolve_template(TEMPLATE)
        prompts = {p.id: encode_prompt(template, p, tokenizer) for p in self.problems.load()}
        responses = {}
        for label, store in self.responses:
            table = read_sample_table(store, columns=["token_ids"])
            if "token_ids" not in table.column_names:
                raise ValueError(f"{store}: no token ids; sample it with token ids kept (--keep-tokens)")
            rows = zip(
                table.column("problem_id").to_pylist(),
                table.column("sample_idx").to_pylist(),
                table.column("token_ids").to_pylist(),
                strict=True,
            )
            kept = sorted((pid, idx, ids) for pid, idx, ids in rows if idx < self.per_problem and pid in prompts)
            responses[label] = ScoredResponses([prompts[pid] for pid, _, _ in kept], [ids for _, _, ids in kept])
        matrix = perplexity_matrix(
            {label: model for label, (model, _) in loaded.items()},
            responses,
            batch_size=64,
            pad_token_id=tokenizer.pad_token_id or 0,
        )
        tmp = self.out.with_name(self.out.name + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(matrix.as_dict(), indent=2) + "\n")
        os.replace(tmp, self.out)
