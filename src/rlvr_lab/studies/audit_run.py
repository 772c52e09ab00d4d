"""Run an audit (:mod:`.audit`) and write what it found: ``report.html``, ``summary.json`` and ``audit.json``.

The jobs run in worker processes (:func:`.parallel.run_jobs`; a redirected log gets one line per started and
finished job), and a re-run with the same settings reuses every finished arm: each (model, arm, seed) run lives in
its own folder (``runs/<model>/<arm>/s<seed>``) and is skipped once its final evaluation is graded; a killed run
resumes from its checkpoint. More seeds or models on a re-run add only the missing arms; any other change of
settings for the same folder is refused, since its finished runs would be reused under the new settings.

The report leads with the verdict table, then a paragraph in plain words, then the curves (the checks with their
intervals, pass@k of base and claimed arm, each arm's training curves), then every run's own curves.
"""

from __future__ import annotations

import dataclasses
import html
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray
from rich.console import Console

from rlvr_lab.metrics import GradedSamples, pass_at_k_matrix
from rlvr_lab.report import Plot, ReportFiles, ReportInputs, Section, Table, TrainingRun, load_run, write_report
from rlvr_lab.report.inputs import run_table
from rlvr_lab.report.summary import build_summary
from rlvr_lab.studies.audit import (
    CLAIMED,
    AuditConfig,
    audit_jobs,
    base_store,
    boundary_store,
    check_data,
    eval_problems,
    run_dir,
)
from rlvr_lab.studies.audit_checks import PRIMARY, Check, ModelData, audit_checks, gain_is_real
from rlvr_lab.studies.demo import kept_timings
from rlvr_lab.studies.evaluation import ProblemSet, load_set
from rlvr_lab.studies.markdown import markdown_table
from rlvr_lab.studies.parallel import run_jobs

CONFIG_FILE = "audit.yaml"
AUDIT_FILE = "audit.json"
TABLE_FILE = "audit.md"
GROWABLE = ("seeds", "models", "workers", "threads", "notes")
"""Settings a re-run may change: more seeds or models add arms; workers and threads change only speed."""


def check_saved_config(config: AuditConfig, root: Path) -> None:
    """Write ``audit.yaml``, or refuse a folder whose audit differs in anything but :data:`GROWABLE`."""
    path = root / CONFIG_FILE
    wanted = config.to_dict()
    if path.is_file():
        saved = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        changed = sorted(
            k for k in set(saved) | set(wanted) if k not in GROWABLE and _setting(saved, k) != _setting(wanted, k)
        )
        if changed:
            raise ValueError(
                f"{root} holds an audit with other settings ({', '.join(changed)} differ); its finished arms would "
                "be reused under the new ones: choose another --out, or delete the folder to start over"
            )
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(wanted, sort_keys=False), encoding="utf-8")


def _setting(config: dict[str, Any], key: str) -> Any:
    """``config[key]`` as far as it decides the runs (the claim's ``source`` only describes where it came from)."""
    value = config.get(key)
    if key == "claimed" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "source"}
    return value


# ----------------------------------------------------------------------------------------------------------------
# Reading the finished jobs


def answer_only_flags(graded: GradedSamples) -> list[NDArray[np.bool_]]:
    """Per problem (in ``graded``'s order), each sample's ``answer_only`` flag from the graded file."""
    import pyarrow.parquet as pq

    table = pq.read_table(graded.path, columns=["problem_id", "sample_idx", "answer_only"])
    flagged = {
        (pid, int(idx))
        for pid, idx, flag in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
        if flag
    }
    return [
        np.array([(pid, int(i)) in flagged for i in indices], dtype=bool)
        for pid, indices in zip(graded.problem_ids, graded.sample_idx, strict=True)
    ]


def sound_counts(graded: GradedSamples, problems: ProblemSet, prompt: str) -> NDArray[np.int64]:
    """(P,) correct samples that are sound: not answer-only, and on the organism, under its own prompts, with a
    chain that checks out (another model given the organism's problems, e.g. SmolLM2, writes no such chain)."""
    from rlvr_lab.organism import TEMPLATES

    flags = answer_only_flags(graded)
    if problems.benchmark != "organism" or prompt not in {t.name for t in TEMPLATES}:
        return np.array([int((ok & ~flag).sum()) for ok, flag in zip(graded.correct, flags, strict=True)])
    from rlvr_lab.organism.chains import check_chain, tasks_by_text

    if graded.completions is None:
        raise ValueError(f"{graded.path}: no completion column, so no chains to check")
    tasks = tasks_by_text(problems.split, problems.limit)
    prompts = {p.id: p.prompt for p in problems.load()}
    out = []
    for pid, ok, flag, texts in zip(graded.problem_ids, graded.correct, flags, graded.completions, strict=True):
        task = tasks[prompts[pid]]
        out.append(
            sum(1 for o, f, t in zip(ok, flag, texts, strict=True) if o and not f and check_chain(task, t).valid)
        )
    return np.asarray(out, dtype=np.int64)


def read_model_data(config: AuditConfig, root: Path, model: str) -> ModelData:
    """One model's per-problem numbers from its finished jobs, every set aligned on the base's problem order."""
    base = load_set(base_store(root, model))
    order = base.problem_ids
    arms: dict[str, dict[int, NDArray[np.float64]]] = {}
    claimed_sets = {}
    for arm in config.arms:
        for seed in config.seeds:
            graded = load_set(run_dir(root, model, arm, seed) / "final_eval.jsonl").aligned(order, str(base.path))
            arms.setdefault(arm, {})[seed] = graded.c / graded.n
            if arm == CLAIMED:
                claimed_sets[seed] = graded
    problems = eval_problems(config, config.sizes.eval_problems)
    prompt = config.claimed.config().prompt
    base_sound = sound_counts(base, problems, prompt)
    claimed_sound = {s: sound_counts(g, problems, prompt) for s, g in claimed_sets.items()}
    correct_claimed = sum(int(g.c.sum()) for g in claimed_sets.values())
    unsound = (
        1.0 - base_sound.sum() / base.c.sum() if base.c.sum() else float("nan"),
        1.0 - sum(int(v.sum()) for v in claimed_sound.values()) / correct_claimed if correct_claimed else float("nan"),
    )
    base_k = load_set(boundary_store(root, model, "base"))
    claimed_k = {
        s: load_set(boundary_store(root, model, f"claimed-s{s}")).aligned(base_k.problem_ids, str(base_k.path))
        for s in config.seeds
    }
    k = min([int(base_k.n.min()), *(int(g.n.min()) for g in claimed_k.values())])
    return ModelData(
        model=model,
        base=base.c / base.n,
        arms=arms,
        base_sound=base_sound / base.n,
        claimed_sound={s: claimed_sound[s] / claimed_sets[s].n for s in claimed_sound},
        unsound_shares=unsound,
        base_k=base_k.c,
        claimed_k={s: g.c for s, g in claimed_k.items()},
        k=k,
    )


# ----------------------------------------------------------------------------------------------------------------
# What the report shows


def verdict_table(checks: list[Check]) -> Table:
    rows = tuple(
        (
            c.family,
            c.finding.role_text(),
            c.finding.claim.claim,
            c.finding.observed(),
            c.seeds,
            c.problems,
            c.finding.verdict,
            c.finding.detail + _extra(c),
        )
        for c in checks
    )
    note = (
        "effect [95% interval], a t interval over seeds × problems; reproduced: the interval excludes 0 on the "
        "claim's side and p < 0.05 (Holm-adjusted within the family for secondary checks), opposite: the same on the "
        "other side, not significant: otherwise; one seed: evaluation noise only, no verdict (rlvr_lab.studies."
        "verdict). Primary comparison of each family, fixed before the run: "
        f"{'; '.join(f'{k}: {v}' for k, v in PRIMARY.items())}"
    )
    columns = ("family", "role", "check", "observed", "seeds", "problems", "verdict", "per seed / detail")
    return Table("Audit: is the gain real?", columns, rows, note)


def _extra(check: Check) -> str:
    e = check.extra
    if "sign_test_p" in e:
        return (
            f"; solved only by RL {e['solved_only_by_rl']}, only by base {e['solved_only_by_base']}, "
            f"sign test p = {e['sign_test_p']:.3g}"
        )
    if "unsound_share_base" in e:
        return (
            f"; correct answers answer-only or with a wrong chain: base {_pct(e['unsound_share_base'])}, "
            f"claimed {_pct(e['unsound_share_claimed'])}"
        )
    return ""


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def plain_words(config: AuditConfig, checks: list[Check]) -> str:
    """The paragraph under the verdict table: what was audited and what held, in plain words."""
    c = config.claimed
    first = c.config()
    s = config.sizes
    held = gain_is_real(checks)
    parts = [
        f"Audited: {c.reward} ({c.source}) on {', '.join(config.models)}, {len(config.seeds)} seed(s) per "
        f"arm, {s.steps or first.steps} steps, evaluated on {s.eval_problems} problems × {s.eval_samples} samples "
        f"and at k = {config.largest_k} on {s.boundary_problems} problems.",
        "By the audit's rule (every primary check of the controls, the model families and the clip ablation holds) "
        + ("the claimed gain is real." if held else "the claimed gain is not shown to be real."),
    ]
    for family in ("controls", "families", "clip ablation", "large k", "soundness"):
        members = [x for x in checks if x.family == family]
        if not members:
            continue
        primary = next((x for x in members if x.role == "primary"), members[0])
        parts.append(
            f"{family.capitalize()}: {sum(x.holds for x in members)} of {len(members)} checks hold; the primary one, "
            f"{primary.finding.claim.claim}, measured {primary.finding.observed()}: {primary.finding.verdict}"
            f"{_extra(primary)}."
        )
    parts += list(config.notes)
    if len(config.seeds) < 2:
        parts.append("With one seed no interval covers seed-to-seed variation, so no check gets a verdict.")
    return " ".join(parts)


def audit_section(
    config: AuditConfig,
    checks: list[Check],
    data: list[ModelData],
    runs: dict[tuple[str, str], list[TrainingRun]],
) -> Section:
    """The report's lead: verdict table, the paragraph, then the curves (``runs``: (model, arm) → its seeds)."""
    from rlvr_lab.report.plots import plot_arms_over_seeds, plot_paired_effects, plot_passk_curves

    items: list[str | Table | Plot] = [verdict_table(checks), f"<p>{html.escape(plain_words(config, checks))}</p>"]
    effects = {}
    for x in checks:
        if np.isfinite(x.finding.low):
            label = f"{x.family}: {x.subject}" + (f" ({x.model})" if x.subject != x.model else "")
            effects[label] = (x.finding.effect, x.finding.low, x.finding.high)
    if effects:
        figure = plot_paired_effects(effects, "Every check: effect and 95% interval", "effect")
        items.append(Plot(figure, "Each check's effect with its interval over seeds × problems (0: no effect)"))
    for m in data:
        if m.base_k is None or not m.claimed_k:
            continue
        ks = np.arange(1, m.k + 1)
        curves = {"base": (ks, pass_at_k_matrix(np.full(len(m.base_k), m.k), m.base_k, ks).mean(0), [], [])}
        for seed, c in m.claimed_k.items():
            curves[f"claimed s{seed}"] = (ks, pass_at_k_matrix(np.full(len(c), m.k), c, ks).mean(0), [], [])
        figure = plot_passk_curves(curves, f"pass@k, base and claimed arm ({m.model})")
        items.append(Plot(figure, f"pass@k for k ≤ {m.k}, the base and each seed of the claimed arm ({m.model})"))
    keys = (("train/accuracy", "training accuracy"), ("reward/mean", "reward"))
    for model in config.models:
        arms = {arm: runs[(model, arm)] for arm in config.arms if runs.get((model, arm))}
        if arms:
            caption = f"Each arm's training accuracy and reward over steps, mean over seeds ({model})"
            items.append(Plot(plot_arms_over_seeds(arms, keys), caption))
    return Section("Audit", tuple(items), lead=True)


# ----------------------------------------------------------------------------------------------------------------
# The whole audit


RUNS_NOTE = (
    '<p class="note">One row per run. Each arm\'s curves over its seeds are in the Audit section; '
    "<code>rlvr report DIR/runs/MODEL/ARM/sSEED --out R</code> draws one run's own curves.</p>"
)


def write_audit_report(
    root: Path, title: str, section: Section, every_run: tuple[TrainingRun, ...], record: dict[str, Any]
) -> ReportFiles:
    """``report.html`` (the audit section, then one table row per run) and ``summary.json`` (every run included).

    Why not one figure per run, as ``rlvr report`` draws: a quick organism audit has 36 runs, and drawing each run's
    curves took about 1.5 s of CPU per run in the parent after every job had finished (the audit's serial tail,
    measured in docs/audit.md), for figures the Audit section already shows per arm over seeds.
    """
    table = Section("Training runs", (run_table(every_run), RUNS_NOTE))
    shown = ReportInputs(runs=(), sections=(section, table), sources=(str(root),), extra={"audit": record})
    files = write_report(shown, root, title=title)
    summary = build_summary(dataclasses.replace(shown, runs=every_run), title)
    files.summary.write_text(json.dumps(summary, indent=2, allow_nan=False, ensure_ascii=False) + "\n")
    return files


@dataclass(frozen=True)
class AuditResult:
    report: Path
    summary: Path
    audit: Path
    record: dict[str, Any]
    seconds: float


def run_audit(config: AuditConfig, out: Path, console: Console | None = None) -> AuditResult:
    """Run (or resume) the audit into ``out``; write the report, ``summary.json``, ``audit.json`` and
    ``audit.md``."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    root = Path(out)
    check_data(config)
    check_saved_config(config, root)
    jobs = audit_jobs(config, root)
    console.print(
        f"[bold]rlvr audit[/] {config.claimed.name}: {len(jobs)} jobs in {config.workers} worker process(es) → {root}",
        highlight=False,
    )
    for note in config.notes:
        console.print(f"note: {note}", highlight=False)
    timings = kept_timings(root, run_jobs(jobs, workers=config.workers, threads=config.threads, console=console))
    data = [read_model_data(config, root, model) for model in config.models]
    checks = audit_checks(config, data)
    runs: dict[tuple[str, str], list[TrainingRun]] = {}
    for model in config.models:
        for arm in config.arms:
            for seed in config.seeds:
                path = run_dir(root, model, arm, seed)
                runs.setdefault((model, arm), []).append(load_run(path, name=f"{model} · {arm} · s{seed}"))
    record = {
        "claimed": {
            "name": config.claimed.name,
            "source": config.claimed.source,
            "reward": config.claimed.reward,
            "config": dict(config.claimed.values),
        },
        "models": list(config.models),
        "seeds": list(config.seeds),
        "gain_is_real": gain_is_real(checks),
        "paragraph": plain_words(config, checks),
        "checks": [c.as_dict() for c in checks],
        "timings_s": {t.phase: round(t.seconds, 1) for t in timings},
        "config": config.to_dict(),
    }
    section = audit_section(config, checks, data, runs)
    every_run = tuple(run for members in runs.values() for run in members)
    files = write_audit_report(root, f"rlvr audit: {config.claimed.name}", section, every_run, record)
    audit_path = root / AUDIT_FILE
    audit_path.write_text(json.dumps(record, indent=2, allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8")
    (root / TABLE_FILE).write_text(markdown_table(verdict_table(checks)) + "\n" + record["paragraph"] + "\n")
    seconds = time.monotonic() - started
    console.print(f"[bold]done in {seconds:.0f} s[/]: {files.html}, {audit_path}", highlight=False)
    return AuditResult(files.html, files.summary, audit_path, record, seconds)
