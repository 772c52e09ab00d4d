"""Organism profiles: named recipes (corpus knobs, model shape, budget, seed, targets) and their shipped checkpoints.

A profile fixes everything a build needs, so ``rlvr organism build --profile NAME`` is reproducible from the
seed, and the checkpoint built from it ships inside the package (``checkpoints/<name>/``), so ``rlvr`` can use a
profile by name with no build step. Each shipped checkpoint has its measured table beside it (``calibration.json``,
from ``rlvr organism stats NAME --json``; v2 also ``calibration-python-hint.json``, with ``--template
python-hint``), and a v2 profile writes its targets into :attr:`Profile.targets`, which ``rlvr organism stats``
prints as met or missed and the tests check on the shipped tables.

**v1** (``qwen-math-like``, ``olmo-like``; ~0.66M parameters, 4,000 steps): one code share for every problem and
the strategy decided by the first token. ``qwen-math-like``: code in about 65% of answers, more accurate than
language; ``olmo-like``: code as frequent but less accurate. Kept, unchanged draw for draw, for comparison and
because the demo and the README's tables are measured on them.

**v2** (``qwen-math-like-v2``, ``olmo-like-v2``, ``llama-like-v2``): designed from what is known of the real
models, before any RL result on it was looked at. What it adds, and why:

- *A per-problem strategy preference.* Qwen2.5-Math does not write code on every problem at the same rate; in
  the *Spurious Rewards* paper's strategy-switch table problems move both ways, so some must start mostly
  language. v2 sets P(code) per surface form (:data:`rlvr_lab.organism.corpus.FORMS`): imperative "Compute 7*8."
  and "Find 7*8." lean to code, "What is 7*8?" less, "What is 7 times 8?" and stories to language. It is a
  function of the visible text (a hash of the problem would be unlearnable on held-out problems and come out as
  the average), and for ``qwen-math-like-v2`` it averages 65% code with about 29% of problems mostly language.
- *The strategy is entered through several tokens:* an opener ("Let me", "I will", "OK, let me") slightly skewed
  by the strategy, a continuation (" write a program.", " think step by step.", neutral " solve it.", and in 10%
  of solutions the other strategy's phrase: the writer changes their mind), then the fence or "We get". A real
  model drifts into code over a few tokens; a policy update then spreads over them instead of one logit.
- *A problem type solved (almost) only by the overall worse strategy*, so a policy that collapses onto its
  better strategy loses it at large k, as Yue et al. (2025) describe RL narrowing the boundary: for
  ``qwen-math-like-v2`` word problems (the program misreads the story: code wrong 90% of the time, language 5%);
  for ``olmo-like-v2`` and ``llama-like-v2`` the times table (language recites it with slips 90% of the time, a
  program 5%).
- *A python hint.* 10% of corpus prompts end with the ``python-hint`` template's request, which raises the code
  logit (+3 for Qwen and Llama, +2 for OLMo); a v2 tokenizer carries a chat template that renders
  ``python-hint`` as exactly that prompt. So the hint moves code use on every profile, and helps or hurts as code
  is better or worse there, as the paper's "solve it with Python" prompt helps Qwen2.5-Math and hurts Llama and
  OLMo.
- *A third profile*, ``llama-like-v2``: code rare (about 10%) and poor, the paper's Llama.
- *Size and budget.* 1.3M parameters (hidden 160, 4 layers, FFN 448; 5.2 MB in fp32), twice v1 and one layer
  deeper (the carries and two-step stories are sequential computations). Measured per optimiser step (batch 32,
  one thread, CPU time on this project's loaded 2-core machine): 0.66M (v1) 149 ms, 1.3M 237 ms, 1.8M (192 x 4)
  310 ms; 3.45M (256 x 4) took 1.27 s of wall time per step against 0.40 s for v1 in the same conditions. The
  first builds (2,400 steps at a peak rate of 6e-3) were undertrained, not too small: `qwen-math-like-v2` got
  single-digit sums right in 42% of its code answers where its corpus has 97%. v2 keeps the size and trains
  longer at a lower peak rate, 8,000 steps at 3e-3 (about 20 minutes of one idle core; over the first 800 steps
  3e-3 reached a loss of 0.41 where 6e-3 was at 0.60, same seed and corpus), and the same 1.3M model then gets
  them right in 95% (the corpus's rate), the times table in 91% and two-digit sums in 66% of code answers. A
  well-learned fact is also what survives noisy RL updates: a fact the model is unsure of is moved by any update.
- *Knobs checked against their targets before any model is trained.* ``rlvr organism stats NAME --corpus``
  tables the corpus itself (:func:`rlvr_lab.organism.stats.measure_corpus`), what a perfect learner would show;
  a model can only fall short of it. The first v2 error rates (language wrong 40% of the time on Qwen's
  arithmetic, code 40% on OLMo's) could not meet the profiles' own accuracy-contrast targets even so (code
  better by 6.4 points in qwen-v2's corpus, target 10; language better by 7.5 in olmo-v2's, target 10), because
  the minority-only type takes back much of the majority strategy's lead. The rates are now 65% (table below)
  and every target a corpus can meet is met by its corpus with a margin (a test checks it): code better by 17
  points for qwen-v2, language better by 23 for olmo-v2 and 19 for llama-v2.

Difficulty in every profile comes from the problem types (``unit`` near-certain, ``mul22`` beyond the model) and
the per-type error rates, so per-problem accuracies spread from 0 to 1 and pass@k rises with k.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from rlvr_lab.organism.config import ModelConfig, TrainConfig
from rlvr_lab.organism.contamination import Contamination
from rlvr_lab.organism.corpus import FORMS, CorpusConfig
from rlvr_lab.registry import Registry

CHECKPOINTS_DIR = Path(__file__).resolve().parent / "checkpoints"
"""Where shipped checkpoints live (declared as package data)."""


@dataclass(frozen=True)
class Target:
    """One calibration target: ``low <= value <= high`` where ``value`` is read from a calibration table.

    ``metric`` is a dotted path into the table's JSON (``code_frequency``, ``pass_at_k.64``,
    ``by_type.word.acc_given_code``), or the difference of two (``acc_given_code - acc_given_language``); a path
    may start with a template name and a colon (``python-hint:code_frequency``) to read the table measured with
    that prompt template instead of the default ``organism`` one.
    """

    metric: str
    low: float = float("-inf")
    high: float = float("inf")
    why: str = ""
    corpus: bool = True
    """Whether the corpus itself must meet it (checked on :func:`rlvr_lab.organism.stats.measure_corpus`'s table,
    what a perfect learner would show); False for what only the model's limits bring, such as problems it never
    solves."""

    def templates(self) -> set[str]:
        """The prompt templates whose tables the metric reads."""
        return {_split_template(term)[0] for term in self.metric.split(" - ")}

    def value(self, tables: dict[str, dict]) -> float:
        """The metric's value in ``tables`` (calibration dicts keyed by template name)."""
        terms = [_read(tables, term) for term in self.metric.split(" - ")]
        return terms[0] - sum(terms[1:])

    def met(self, tables: dict[str, dict]) -> bool:
        value = self.value(tables)
        return value == value and self.low <= value <= self.high  # NaN never meets a target


DEFAULT_TEMPLATE = "organism"


def _split_template(term: str) -> tuple[str, str]:
    template, _, path = term.strip().rpartition(":")
    return template or DEFAULT_TEMPLATE, path


def _read(tables: dict[str, dict], term: str) -> float:
    template, path = _split_template(term)
    node: object = tables[template]
    for key in path.split("."):
        assert isinstance(node, dict), f"{term}: {key!r} is not in a table"
        node = node[key]
    return float("nan") if node is None else float(node)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Profile:
    """Everything a build needs, plus the targets its calibration is checked against."""

    name: str
    """Registry name; also the folder name of the shipped checkpoint."""
    description: str
    """What prior the profile imitates and the calibration targets."""
    corpus: CorpusConfig
    """The corpus knobs: strategy mix, error and format-slip rates."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Model shape."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Training budget and schedule."""
    seed: int = 0
    """Seed of the shipped build: initialisation, corpus and batch order."""
    targets: tuple[Target, ...] = ()
    """What ``rlvr organism stats`` checks the measured tables against (and the tests check the shipped ones)."""
    parent: str | None = None
    """Continue pretraining this profile's shipped checkpoint (its weights and tokenizer; ``model`` is then the
    parent's shape) for ``train``'s budget, instead of starting from a fresh initialisation; None: from scratch."""


PROFILES: Registry[Profile] = Registry("organism profile")


def _rates(unit: float, add1: float, mul1: float, word: float, add2: float, mul22: float) -> dict[str, float]:
    """A per-problem-type rate table, in the order of :data:`rlvr_lab.organism.tasks.KINDS`."""
    return {"unit": unit, "add1": add1, "mul1": mul1, "word": word, "add2": add2, "mul22": mul22}


# Format slips grow with difficulty, as in a model that trails off when unsure; the easiest type keeps none so
# some problems are solved in over 95% of samples.
_FORMAT_SLIP = _rates(0.0, 0.03, 0.05, 0.10, 0.15, 0.25)
# Slips of the careful strategy and of the sloppy one.
_CAREFUL = _rates(0.0, 0.03, 0.03, 0.05, 0.05, 0.30)
_SLOPPY = _rates(0.02, 0.40, 0.40, 0.40, 0.40, 0.50)

PROFILES.add(
    "qwen-math-like",
    Profile(
        name="qwen-math-like",
        description=(
            "Qwen2.5-Math-like prior: code in ~65% of answers (target 60-70% at temperature 1), accuracy given "
            "code clearly above accuracy given language, some answers unboxed, pass@1 well below pass@64."
        ),
        corpus=CorpusConfig(
            code_share=0.65,
            code_error=_CAREFUL,
            language_error=_SLOPPY,
            format_slip=_FORMAT_SLIP,
        ),
        seed=0,
    ),
)

PROFILES.add(
    "olmo-like",
    Profile(
        name="olmo-like",
        description=(
            "OLMo-like prior: code frequent (~60% of answers) but accuracy given code below accuracy given "
            "language; the same problem types, so the same spread of difficulty."
        ),
        corpus=CorpusConfig(
            code_share=0.60,
            code_error=_SLOPPY,
            language_error=_CAREFUL,
            format_slip=_FORMAT_SLIP,
        ),
        seed=0,
    ),
)


# --- v2 -------------------------------------------------------------------------------------------------------
V2_MODEL = ModelConfig(hidden_size=160, num_layers=4, num_heads=4, intermediate_size=448)
"""About 1.3M parameters (5.2 MB in fp32), twice v1's: see the module docstring for why this size."""
V2_TRAIN = TrainConfig(steps=8000, lr=3e-3, loss_tokens=18)
"""About 20 minutes of one idle core (35 with three builds on two cores); the lead-in adds about two tokens to a
solution (18 on average). See the module docstring for why 8,000 steps at 3e-3 (the first builds ran 2,400 at 6e-3
and were undertrained)."""


def _forms(
    what_is: float, compute: float, find: float, in_words: float, story: float, groups: float
) -> dict[str, float]:
    """A per-form code-preference table, in the order of :data:`rlvr_lab.organism.corpus.FORMS`."""
    table = {"what_is": what_is, "compute": compute, "find": find, "in_words": in_words, "story": story}
    table["groups"] = groups
    assert tuple(table) == FORMS
    return table


def _shared_targets(hint_change: str) -> tuple[Target, ...]:
    """Targets every v2 profile has: a spread of difficulty, slips to teach, and the hint moving code use."""
    return (
        Target("boxed_rate", 0.0, 0.98, "some answers unboxed: a format reward has something to teach"),
        Target("pass_at_k.64 - pass_at_k.1", 0.20, why="pass@k rises with k"),
        Target("solved_under_5pct", 0.01, why="some problems (almost) never solved", corpus=False),
        Target("solved_over_95pct", 0.01, why="some problems (almost) always solved"),
        Target("python-hint:code_frequency - code_frequency", 0.15, why=hint_change),
    )


# Qwen2.5-Math: code in ~65% of answers and code the better strategy, except on word problems, where the
# program misreads the story (it adds what was given away) and only worked language solves them. Language slips on
# 65% of the arithmetic (40% in the first v2 corpus, which could not meet the code-better target: see above).
_QWEN_CODE_ERROR = _rates(0.0, 0.03, 0.03, 0.90, 0.05, 0.30)
_QWEN_LANGUAGE_ERROR = _rates(0.02, 0.65, 0.65, 0.05, 0.65, 0.75)
# OLMo and Llama: language the better strategy, except on the times table, which language recites with slips
# and only a program gets right. Code is wrong on 65% of the rest (40% in the first v2 corpus: see above).
_LANGUAGE_FIRST_CODE_ERROR = _rates(0.02, 0.65, 0.05, 0.65, 0.65, 0.75)
_LANGUAGE_FIRST_LANGUAGE_ERROR = _rates(0.0, 0.03, 0.90, 0.05, 0.05, 0.30)


def _add_v2(
    name: str,
    description: str,
    errors: tuple[dict[str, float], dict[str, float]],
    code_preference: dict[str, float],
    hint_shift: float,
    targets: tuple[Target, ...],
) -> None:
    """Register a v2 profile: ``errors`` is (code error, language error) per problem type; the rest is shared."""
    corpus = CorpusConfig(
        code_error=errors[0],
        language_error=errors[1],
        format_slip=_FORMAT_SLIP,
        code_preference=code_preference,
        lead_ins=True,
        hint_share=0.10,
        hint_shift=hint_shift,
    )
    targets = (*targets, *_shared_targets("the hint makes the model use code more"))
    PROFILES.add(name, Profile(name, description, corpus, V2_MODEL, V2_TRAIN, seed=0, targets=targets))


_add_v2(
    "qwen-math-like-v2",
    "Qwen2.5-Math-like prior, v2: code in ~65% of answers with a per-problem preference (imperative phrasings lean "
    "to code, spelled-out and story problems to language), code clearly more accurate overall, but word problems "
    "solved (almost) only in language; the python hint raises code use.",
    (_QWEN_CODE_ERROR, _QWEN_LANGUAGE_ERROR),
    _forms(what_is=0.70, compute=0.95, find=0.85, in_words=0.30, story=0.30, groups=0.55),
    hint_shift=3.0,
    targets=(
        Target("code_frequency", 0.60, 0.70, "about 65% code, as Qwen2.5-Math-7B on MATH-500"),
        Target("acc_given_code - acc_given_language", 0.10, why="code is the better strategy overall"),
        Target("code_majority_share", 0.50, 0.90, "most problems mostly code ..."),
        Target("language_majority_share", 0.10, why="... and some mostly language, so switches can be seen"),
        Target("by_type.word.acc_given_language - by_type.word.acc_given_code", 0.30, why="word: language only"),
        Target("by_type.word.acc_given_code", high=0.15, why="a code-collapsed policy loses word problems"),
    ),
)
# The contamination account's organism (arXiv 2507.10532): qwen-math-like-v2's shipped weights pretrained on for
# 800 more steps of its own corpus (same seed and knobs) into which a known half of the evaluation's first 120 test
# problems (10 of each type) leaks with gold answers. A continuation, not a from-scratch build: a contaminated
# 8,000-step build needs about 35 minutes of one idle core, several hours on the session's loaded machine; the
# 800-step continuation about a tenth of that. The leaks come before 25% of the clean examples (about 5,100 leaked
# documents, 85 per leaked problem). The first build leaked at 5% (about 20 per problem) and failed the memorisation
# check (base accuracy S 0.598, clean 0.592, 120 problems × 8 samples) before any RL result on it was read; the rate
# was raised so that the check can pass (docs/organism.md).
_QWEN_V2 = PROFILES.get("qwen-math-like-v2")
CONTINUATION = TrainConfig(steps=800, lr=3e-4, loss_tokens=18)
"""Budget of a continued-pretraining profile: 800 steps, warmup 100, cosine from 3e-4 (twice the rate the parent
ended at) to 1.5e-5."""
PROFILES.add(
    "qwen-math-like-v2-contaminated",
    replace(
        _QWEN_V2,
        name="qwen-math-like-v2-contaminated",
        description="qwen-math-like-v2 pretrained on for 800 more steps of its own corpus, into which a known subset "
        "S of the held-out test problems (10 of each type among the first 120) leaks with gold answers in the "
        "organism's own style, before 25% of the clean examples; same seed and knobs. For the contamination account of "
        "spurious-reward gains.",
        corpus=replace(_QWEN_V2.corpus, contamination=Contamination(rate=0.25)),
        train=CONTINUATION,
        parent="qwen-math-like-v2",
    ),
)
_add_v2(
    "olmo-like-v2",
    "OLMo-like prior, v2: code frequent (~60%, with per-problem preferences) but language the more accurate "
    "strategy, except on the times table, solved (almost) only by code; the python hint raises code use.",
    (_LANGUAGE_FIRST_CODE_ERROR, _LANGUAGE_FIRST_LANGUAGE_ERROR),
    _forms(what_is=0.65, compute=0.90, find=0.80, in_words=0.25, story=0.25, groups=0.50),
    hint_shift=2.0,
    targets=(
        Target("code_frequency", 0.50, 0.70, "code frequent"),
        Target("acc_given_language - acc_given_code", 0.10, why="language is the better strategy overall"),
        Target("language_majority_share", 0.10, why="some problems mostly language"),
        Target("code_majority_share", 0.30, why="many problems mostly code"),
        Target("by_type.mul1.acc_given_code - by_type.mul1.acc_given_language", 0.30, why="mul1: code only"),
        Target("by_type.mul1.acc_given_language", high=0.15, why="a language-collapsed policy loses mul1"),
    ),
)
_add_v2(
    "llama-like-v2",
    "Llama-like prior, v2: code rare (~10%) and poor, language the better strategy, except on the times table, "
    "solved (almost) only by the rare code answers; the python hint raises code use (and so, on the whole, costs "
    "accuracy).",
    (_LANGUAGE_FIRST_CODE_ERROR, _LANGUAGE_FIRST_LANGUAGE_ERROR),
    _forms(what_is=0.08, compute=0.25, find=0.12, in_words=0.03, story=0.03, groups=0.05),
    hint_shift=3.0,
    targets=(
        Target("code_frequency", 0.03, 0.20, "code rare"),
        Target("acc_given_language - acc_given_code", 0.10, why="code answers poor"),
        Target("by_type.mul1.acc_given_code - by_type.mul1.acc_given_language", 0.30, why="mul1: code only"),
    ),
)


def get_profile(name: str) -> Profile:
    """The profile registered as ``name``; an unknown name raises ``ValueError`` listing the profiles."""
    return PROFILES.get(name)


def calibration_file(template: str = DEFAULT_TEMPLATE) -> str:
    """File name of a shipped table: ``calibration.json`` for the default template, else with the template's name."""
    return "calibration.json" if template == DEFAULT_TEMPLATE else f"calibration-{template}.json"


def shipped_tables(name: str) -> dict[str, dict]:
    """The calibration tables shipped beside profile ``name``'s checkpoint, keyed by prompt template."""
    path = shipped_checkpoint(name)
    if path is None:
        return {}
    tables = {}
    for file in sorted(path.glob("calibration*.json")):
        template = file.stem.removeprefix("calibration").removeprefix("-") or DEFAULT_TEMPLATE
        tables[template] = json.loads(file.read_text())
    return tables


def check_targets(profile: Profile, tables: dict[str, dict]) -> list[tuple[Target, float | None, bool | None]]:
    """Each target of ``profile`` with its value and whether it is met; ``(target, None, None)`` when ``tables``
    lack a template or a value it reads (``pass_at_k.64`` of a table with 8 samples per problem)."""
    checks: list[tuple[Target, float | None, bool | None]] = []
    for target in profile.targets:
        try:
            checks.append((target, target.value(tables), target.met(tables)))
        except KeyError:
            checks.append((target, None, None))
    return checks


def shipped_checkpoint(name: str) -> Path | None:
    """The packaged checkpoint folder of profile ``name``, or None if ``name`` is no profile or was not shipped."""
    if name not in PROFILES:
        return None
    path = CHECKPOINTS_DIR / name
    return path if (path / "config.json").is_file() else None
