"""The studies' plans and tables, without training: which jobs the demo runs, in which order, with which configs;
the refusal to mix settings in one folder; the Markdown tables.

The end-to-end run (training, sampling, the report) is ``tests/test_demo.py`` (slow).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rlvr_lab.report import Table
from rlvr_lab.studies.demo import FULL, QUICK, DemoConfig, check_saved_config, demo_jobs
from rlvr_lab.studies.jobs import PerplexityJob, SampleJob, TrainJob
from rlvr_lab.studies.markdown import markdown_table
from rlvr_lab.studies.settings import run_dir
from rlvr_lab.studies.spurious import votes_store


def _train_jobs(jobs: list) -> list[TrainJob]:
    return [job for job in jobs if isinstance(job, TrainJob)]


@pytest.mark.parametrize(("config", "runs"), [(FULL, 12 + 4 * 5 - 1), (QUICK, 12 + 4 * 2 - 1)])
def test_the_ablation_shares_its_clip_seed0_run_with_the_table(config: DemoConfig, runs: int, tmp_path: Path) -> None:
    jobs = demo_jobs(config, tmp_path)
    trains = _train_jobs(jobs)
    assert len(trains) == runs
    assert len({job.name for job in jobs}) == len(jobs)
    assert len({job.run_dir for job in trains}) == runs
    shared = run_dir(tmp_path, "qwen-math-like", "random:0.5", "clip", 0)
    assert shared == tmp_path / "runs" / "qwen-math-like" / "random-0.5" / "clip-s0"
    assert [job.run_dir for job in trains].count(shared) == 1


def test_the_decoder_reaches_every_sampling_job_and_run(tmp_path: Path) -> None:
    """``rlvr demo --decoder native`` samples everything with it: rollouts and evaluations of every run, the base
    evaluations, the label stores and the boundary; the default leaves every job on ``auto``."""
    native = dataclasses.replace(FULL, training=dataclasses.replace(FULL.training, decoder="native"))
    for config, decoder in ((FULL, "auto"), (native, "native")):
        jobs = demo_jobs(config, tmp_path)
        samplers = [job for job in jobs if isinstance(job, SampleJob)]
        assert len(samplers) == 4 + 3  # base evaluations and label stores of two profiles, three boundary models
        assert {job.decoder for job in samplers} == {decoder}
        assert {job.config.decoder for job in _train_jobs(jobs)} == {decoder}


def test_the_dtype_reaches_every_sampling_job_and_run(tmp_path: Path) -> None:
    """``rlvr demo --dtype bfloat16`` samples and trains everything in it, with the update's attention in float32;
    the default leaves every job on ``auto`` and the attention on ``compute`` (the runs' configs as before)."""
    bf16 = dataclasses.replace(FULL, training=dataclasses.replace(FULL.training, dtype="bfloat16", attention="float32"))
    for config, dtype, attention in ((FULL, "auto", "compute"), (bf16, "bfloat16", "float32")):
        jobs = demo_jobs(config, tmp_path)
        assert {job.dtype for job in jobs if isinstance(job, SampleJob)} == {dtype}
        assert {(job.config.dtype, job.config.attention) for job in _train_jobs(jobs)} == {(dtype, attention)}


def test_jobs_come_in_dependency_friendly_order(tmp_path: Path) -> None:
    jobs = demo_jobs(FULL, tmp_path)
    kinds = [type(job).__name__ for job in jobs]
    # base evaluations and label stores first (two profiles), then the two runs the boundary study samples
    assert kinds[:4] == ["SampleJob"] * 4
    assert [job.name for job in jobs[4:6]] == [
        "train qwen-math-like ground_truth clip s0",
        "train qwen-math-like random:0.5 clip s0",
    ]
    boundary = [job for job in jobs if job.phase == "boundary"]
    assert [job.name for job in boundary] == [
        "boundary sample base",
        "boundary sample GT-RL",
        "boundary sample random-RL",
        "boundary perplexity",
    ]
    assert boundary[1].after == ("train qwen-math-like ground_truth clip s0",)
    assert boundary[1].model == str(tmp_path / "runs" / "qwen-math-like" / "ground_truth" / "clip-s0" / "model")
    assert isinstance(boundary[3], PerplexityJob)
    assert boundary[3].after == tuple(job.name for job in boundary[:3])
    assert all(isinstance(job, TrainJob) for job in jobs[jobs.index(boundary[-1]) + 1 :])
    position = {job.name: i for i, job in enumerate(jobs)}
    assert all(position[name] < position[job.name] for job in jobs for name in job.after)


def test_run_configs_follow_presets_and_shared_settings(tmp_path: Path) -> None:
    trains = {job.name: job for job in _train_jobs(demo_jobs(FULL, tmp_path))}
    updates = {
        preset: trains[f"train qwen-math-like random:0.5 {preset} s1"].config.schedule().updates_per_rollout
        for preset in ("clip", "no-clip", "on-policy-batch", "small-rollout")
    }
    assert updates == {"clip": 4, "no-clip": 4, "on-policy-batch": 1, "small-rollout": 1}
    assert trains["train qwen-math-like random:0.5 no-clip s1"].config.clip == "none"
    incorrect = trains["train olmo-like incorrect clip s0"]
    assert incorrect.config.reward == f"incorrect:store={votes_store(tmp_path, 'olmo-like')},votes=8"
    assert incorrect.after == ("base votes olmo-like",)
    for job in trains.values():
        c = job.config
        assert (c.steps, c.eval_limit, c.eval_samples, c.threads, c.prompt) == (
            FULL.training.steps,
            FULL.training.curve_problems,
            FULL.training.curve_samples,
            1,
            "organism",
        )
        # the final policy is evaluated exactly like the base model: same problems, samples and seed
        assert (job.problems.limit, job.sampling.n, job.sampling.seed) == (FULL.evaluation.problems, 8, 0)
        assert job.final_store == job.run_dir / "final_eval.jsonl"
    base = next(job for job in demo_jobs(FULL, tmp_path) if job.name == "base eval qwen-math-like")
    assert isinstance(base, SampleJob)
    assert (base.sampling.n, base.sampling.seed, base.problems.limit) == (FULL.evaluation.samples, 0, 120)


def test_a_folder_refuses_a_demo_with_other_settings(tmp_path: Path) -> None:
    check_saved_config(QUICK, tmp_path)
    assert (tmp_path / "demo.yaml").is_file()
    check_saved_config(QUICK, tmp_path)  # same settings: fine (a resumed run)
    with pytest.raises(ValueError, match=r"other settings \(differences in \['workers'\]\)"):
        check_saved_config(dataclasses.replace(QUICK, workers=1), tmp_path)
    # a demo.yaml written before TrainingSettings.decoder existed resumes with the default, refuses another
    saved = tmp_path / "demo.yaml"
    saved.write_text("".join(line for line in saved.read_text().splitlines(True) if "decoder:" not in line))
    check_saved_config(QUICK, tmp_path)
    native = dataclasses.replace(QUICK, training=dataclasses.replace(QUICK.training, decoder="native"))
    with pytest.raises(ValueError, match=r"differences in \['training'\]"):
        check_saved_config(native, tmp_path)
    # the same for dtype and attention (session 18): a folder from before them resumes, bfloat16 is refused
    old_lines = saved.read_text().splitlines(True)
    saved.write_text("".join(line for line in old_lines if "dtype:" not in line and "attention:" not in line))
    check_saved_config(QUICK, tmp_path)
    bf16 = dataclasses.replace(QUICK, training=dataclasses.replace(QUICK.training, dtype="bfloat16"))
    with pytest.raises(ValueError, match=r"differences in \['training'\]"):
        check_saved_config(bf16, tmp_path)


def test_markdown_table() -> None:
    table = Table(
        "Spurious rewards",
        ("model", "reward", "acc. after", "Δ acc.", "Δ acc. std", "clip frac."),
        (
            ("qwen-math-like", "random:0.5", 0.41234, 0.0512, 0.0213, 0.00021),
            ("olmo|like", "format", None, -0.2, float("nan"), 0.0),
        ),
        note="avg@8",
    )
    assert markdown_table(table) == (
        "**Spurious rewards**\n\n"
        "| model | reward | acc. after | Δ acc. | Δ acc. std | clip frac. |\n"
        "|---|---|---:|---:|---:|---:|\n"
        "| qwen-math-like | random:0.5 | 0.412 | +0.051 | 0.021 | 2.1e-04 |\n"
        "| olmo\\|like | format | — | -0.200 | — | 0.000 |\n\n"
        "*avg@8*\n"
    )


def test_a_rerun_keeps_the_wall_times_of_the_run_that_did_the_work(tmp_path: Path) -> None:
    from rlvr_lab.studies.demo import kept_timings
    from rlvr_lab.studies.parallel import PhaseTiming

    first = kept_timings(tmp_path, [PhaseTiming("training", 3, 0, 120.0), PhaseTiming("boundary", 2, 0, 40.0)])
    assert [t.seconds for t in first] == [120.0, 40.0]
    # Re-run: training all skipped (measured 0 s), boundary half redone (measured 15 s, a real measurement).
    again = kept_timings(tmp_path, [PhaseTiming("training", 3, 3, 0.0), PhaseTiming("boundary", 2, 1, 15.0)])
    assert [(t.phase, t.skipped, t.seconds) for t in again] == [("training", 3, 120.0), ("boundary", 1, 15.0)]
    third = kept_timings(tmp_path, [PhaseTiming("training", 3, 3, 0.0), PhaseTiming("boundary", 2, 2, 0.0)])
    assert [t.seconds for t in third] == [120.0, 15.0]


def test_the_studies_index_names_every_module() -> None:
    """``studies/__init__.py`` is the package's index: every module is listed there."""
    import pkgutil

    import rlvr_lab.studies as studies

    modules = {m.name for m in pkgutil.iter_modules(studies.__path__)}
    listed = {name for name in modules if f":mod:`.{name}`" in (studies.__doc__ or "")}
    assert modules == listed, f"not in the index: {sorted(modules - listed)}"


@pytest.mark.parametrize(("dtype", "recorded"), [("auto", "float32"), ("bfloat16", "bfloat16")])
def test_a_sampling_job_records_the_dtype_it_sampled_in(dtype: str, recorded: str, tmp_path: Path) -> None:
    """``auto`` is resolved for the model before the header is written (the organisms are under the 50M-parameter
    floor: float32), so the header names the dtype of the samples, not the request."""
    from rlvr_lab.engines import SamplingConfig
    from rlvr_lab.store import read_header
    from rlvr_lab.studies.evaluation import ProblemSet, sample

    store = tmp_path / "s.jsonl"
    sampling = SamplingConfig(n=2, temperature=1.0, max_new_tokens=8, seed=0)
    sample("qwen-math-like-v2", ProblemSet("test", 2), sampling, store, batch_size=4, dtype=dtype)
    assert read_header(store).dtype == recorded
    assert len(store.read_text().splitlines()) == 1 + 2 * 2
