"""Distillation against RL: does learning from a stronger teacher widen the boundary where RL narrows it?

Yue et al. (2025, §4.3, Fig. 7): a model distilled from a stronger teacher (DeepSeek-R1-Distill-Qwen) solves more
problems at large k than its base, while RL from the same base does not. Here:

- :func:`distill` (``rlvr distill``): the teacher answers the RL training problems (the first ``train_problems``
  of the organism train split, the problems the RL runs train on), the answers are graded, and the student is
  fine-tuned on up to ``max_per_problem`` correct answers per problem (:func:`rlvr_lab.rl.sft.sft`): rejection
  sampling, as R1's distillation data was made;
- the study: the teacher is the base organism pretrained further on an error-free corpus
  (:func:`rlvr_lab.organism.teacher.build_teacher`) unless one is given; the student is the base; GT-RL is
  ground-truth GRPO from the base with the demo's settings. Base, teacher, GT-RL and distilled are evaluated with
  the same samples per problem and sampling seed, and compared at k = 1 … n.

Findings, criteria fixed here, paired bootstrap over problems: the distilled model's pass@n exceeds the base's;
GT-RL's pass@n does not exceed the base's (the paper: it falls below it); the distilled model's pass@n exceeds
GT-RL's.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rich.console import Console

from rlvr_lab.engines import SamplingConfig
from rlvr_lab.report import Table
from rlvr_lab.rl.sft import SFTConfig
from rlvr_lab.studies.evaluation import ProblemSet, graded_path
from rlvr_lab.studies.output import (
    curve_band,
    ensure_trained,
    eval_store,
    evaluate_model,
    per_problem_pass,
    plain,
    rl_run,
    run_label,
    write_study,
)
from rlvr_lab.studies.paired import over_problems
from rlvr_lab.studies.settings import BASE_SEED, EvalSettings, TrainingSettings, slug
from rlvr_lab.studies.verdict import Claim, Finding

NAME = "distillation"
PAPER = "Yue et al., 2025 (distillation)"
META_FILE = "rlvr_distill.json"


@dataclass(frozen=True)
class DistillConfig:
    """What ``rlvr distill`` does: teacher samples on the RL training problems, correct ones kept, SFT."""

    teacher: str
    student: str
    out: str
    """Folder: teacher_samples.jsonl (graded beside it), model/ (the distilled student)."""
    train_problems: int = 400
    """The first N organism train problems (the RL runs' training set)."""
    samples: int = 8
    """Teacher samples per problem."""
    max_per_problem: int = 4
    """Correct samples kept per problem, at most (so easy problems do not crowd out hard ones)."""
    max_new_tokens: int = 64
    temperature: float = 1.0
    sft: SFTConfig = field(default_factory=SFTConfig)
    threads: int = 1


def distill(config: DistillConfig, console: Console | None = None) -> Path:
    """Run :class:`DistillConfig`; return the distilled model's folder (reused when already written)."""
    import torch

    from rlvr_lab.models.loading import load_model
    from rlvr_lab.organism.pretrain import torch_threads
    from rlvr_lab.prompts import encode_prompt, resolve_template
    from rlvr_lab.rl.sft import sft
    from rlvr_lab.store import read_sample_table
    from rlvr_lab.studies.evaluation import TEMPLATE

    console = console or Console(stderr=True)
    out = Path(config.out)
    model_dir = out / "model"
    if (model_dir / META_FILE).is_file():
        return model_dir
    problems = ProblemSet("train", config.train_problems)
    sampling = SamplingConfig(
        n=config.samples, temperature=config.temperature, max_new_tokens=config.max_new_tokens, seed=BASE_SEED
    )
    store = out / "teacher_samples.jsonl"
    with torch_threads(config.threads):
        evaluate_model(config.teacher, problems, sampling, store, console=console)
    graded = graded_rows(graded_path(store))
    samples = read_sample_table(store)
    columns = (samples.column(c).to_pylist() for c in ("problem_id", "sample_idx", "token_ids"))
    token_ids = {(pid, idx): ids for pid, idx, ids in zip(*columns, strict=True)}
    kept: dict[str, list[list[int]]] = {}
    for pid, idx, correct in sorted(graded):
        if correct and len(kept.setdefault(pid, [])) < config.max_per_problem:
            kept[pid].append(token_ids[(pid, idx)])
    student, tokenizer = load_model(config.student)
    template = resolve_template(TEMPLATE)
    prompts = {p.id: encode_prompt(template, p, tokenizer) for p in problems.load()}
    pairs = [(prompts[pid], ids) for pid in sorted(kept) for ids in kept[pid]]
    console.print(
        f"  distilling {config.teacher} → {config.student}: {len(pairs)} correct answers on "
        f"{sum(1 for v in kept.values() if v)} of {config.train_problems} problems"
    )
    started = time.monotonic()
    with torch_threads(config.threads):
        torch.manual_seed(config.sft.seed)
        losses = sft(student, pairs, tokenizer.pad_token_id or 0, config.sft)
    student.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    record = {
        "config": plain(config),
        "pairs": len(pairs),
        "problems_with_a_correct_answer": sum(1 for v in kept.values() if v),
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "seconds": time.monotonic() - started,
    }
    (model_dir / META_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return model_dir


def graded_rows(graded_file: Path) -> list[tuple[str, int, bool]]:
    """(problem_id, sample_idx, correct) of a graded file."""
    import pyarrow.parquet as pq

    table = pq.read_table(graded_file, columns=["problem_id", "sample_idx", "correct"])
    return list(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


@dataclass(frozen=True)
class DistillationStudyConfig:
    model: str = "qwen-math-like"
    """The base model, the student, and the start of the GT-RL run."""
    teacher: str = ""
    """A teacher model; empty: build one from the base (an organism profile) with build_teacher."""
    teacher_steps: int = 400
    """Further pretraining steps of a built teacher."""
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(steps=50))
    """Settings of the GT-RL run (and its training problems are the distillation problems)."""
    samples_per_problem: int = 8
    """Teacher samples per training problem."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    problems: int = 60
    """The first N organism test problems."""
    samples: int = 256
    """Samples per problem of every evaluation."""


def _teacher(config: DistillationStudyConfig, root: Path, console: Console) -> str:
    """The teacher's folder: the one given, else the base model pretrained further on an error-free corpus."""
    from rlvr_lab.organism.config import TrainConfig as PretrainConfig
    from rlvr_lab.organism.teacher import TEACHER_TRAIN, build_teacher

    if config.teacher:
        return config.teacher
    console.print(f"  teacher: {config.model} + {config.teacher_steps} error-free pretraining steps")
    train = PretrainConfig(**{**plain(TEACHER_TRAIN), "steps": config.teacher_steps})
    return str(build_teacher(config.model, root / "teachers" / f"{slug(config.model)}-{config.teacher_steps}", train))


def _models(config: DistillationStudyConfig, root: Path, console: Console) -> dict[str, tuple[str, str]]:
    """label -> (model spec, store name) of the four models, building the teacher, GT-RL and the distilled one."""
    t = config.training
    teacher = _teacher(config, root, console)
    gt_run = rl_run(root, config.model, t, "grpo")
    gt_model = ensure_trained(gt_run, console)
    distilled = distill(
        DistillConfig(
            teacher=teacher,
            student=config.model,
            out=str(root / "distilled" / f"{slug(config.model)}-from-{slug(Path(teacher).name)}"),
            train_problems=t.train_problems,
            samples=config.samples_per_problem,
            max_new_tokens=t.max_new_tokens,
            sft=config.sft,
            threads=t.threads,
        ),
        console,
    )
    return {
        "base": (config.model, config.model),
        "teacher": (teacher, f"teacher-{Path(teacher).name}"),
        "GT-RL": (str(gt_model), run_label(gt_run)),
        "distilled": (str(distilled), f"distilled-{Path(distilled).parent.name}"),
    }


def distillation_findings(pn: dict[str, NDArray[np.float64]], n: int) -> list[Finding]:
    """The paper's three claims on per-problem pass@n of base, GT-RL and distilled (criteria fixed here)."""
    claims = [  # (claim, measured model, reference model, predicted sign)
        ("distillation widens the boundary: pass@{n}(distilled) > pass@{n}(base)", "distilled", "base", 1),
        ("RL does not widen it: pass@{n}(GT-RL) < pass@{n}(base)", "GT-RL", "base", -1),
        ("distillation beats RL at large k: pass@{n}(distilled) > pass@{n}(GT-RL)", "distilled", "GT-RL", 1),
    ]
    out = []
    for text, measured, reference, sign in claims:
        claim = Claim(PAPER, text.format(n=n), f"pass@{n} {measured} − {reference}", sign)  # type: ignore[arg-type]
        out.append(over_problems(claim, pn[reference], pn[measured]))
    return out


def run_distillation_study(config: DistillationStudyConfig, root: Path, console: Console | None = None) -> Path:
    """Build or take the teacher, train GT-RL, distil, evaluate the four models, write ``ROOT/distillation/``."""
    console = console or Console(stderr=True)
    root = Path(root)
    t = config.training
    console.print(f"[bold]distillation vs RL[/] on {config.model} → {root / NAME}")
    models = _models(config, root, console)
    evaluation = EvalSettings(problems=config.problems, samples=config.samples)  # sampling seed 0, temperature 1
    problems, sampling = evaluation.problem_set(), evaluation.sampling(t.max_new_tokens)
    graded = {
        label: evaluate_model(spec, problems, sampling, eval_store(root, name, problems, sampling), console=console)
        for label, (spec, name) in models.items()
    }
    base = graded["base"]
    graded = {label: g.aligned(base.problem_ids, other=str(base.path)) for label, g in graded.items()}
    n = config.samples
    findings = distillation_findings({label: per_problem_pass(g, n) for label, g in graded.items()}, n)
    ks = [k for k in (1, 4, 16, 64, 256) if k < n] + [n]
    rows = [(label, *(float(per_problem_pass(g, k).mean()) for k in ks)) for label, g in graded.items()]
    distill_record = json.loads((Path(models["distilled"][0]) / META_FILE).read_text())
    table = Table(
        f"Base, GT-RL and distilled ({config.model})",
        ("model", *(f"pass@{k}" for k in ks)),
        tuple(rows),
        note=f"{config.problems} held-out problems × {n} samples, sampling seed {BASE_SEED}; distilled on "
        f"{distill_record['pairs']} correct teacher answers to {distill_record['problems_with_a_correct_answer']} "
        f"of {t.train_problems} RL training problems; GT-RL: {t.steps} GRPO steps",
    )
    from rlvr_lab.report.plots import plot_passk_curves

    figure = plot_passk_curves(
        {label: curve_band(g) for label, g in graded.items()},
        f"pass@k: base, teacher, GT-RL, distilled ({config.model})",
    )
    result = {
        "pass_at_k": {row[0]: dict(zip(map(str, ks), row[1:], strict=True)) for row in rows},
        "pass@1": {label: float(per_problem_pass(g, 1).mean()) for label, g in graded.items()},
        "distill": distill_record,
        "teacher": models["teacher"][0],
    }
    return write_study(
        root / NAME, NAME, f"Distillation vs RL ({config.model})", config, table, figure, findings, result
    )
