"""The studies: the papers' experiments as code, on any model the pipeline can load (by default the organisms).

Shared machinery (every study uses these, none re-implements them):
- :mod:`.parallel`: a small dependency-aware process pool with one rich progress display;
- :mod:`.jobs`: the units of work it runs (a training run, a sampled and graded evaluation set, a perplexity
  matrix), each resumable from its files;
- :mod:`.evaluation`: the shared sample-then-grade step and the numbers read from a graded set;
- :mod:`.settings`: what all runs of a study share, and how one run's config and folder are derived;
- :mod:`.output`: evaluating a model once, training a run once, and writing a study's report, summary and table;
- :mod:`.verdict`: the one verdict rule, the :class:`~.verdict.Finding` type and the one findings table;
- :mod:`.paired`: the paired intervals every finding is judged with (over problems; over seeds and problems
  for training arms);
- :mod:`.markdown`: tables as Markdown for the README.

The studies (each ``rlvr study NAME`` or part of ``rlvr demo``):
- :mod:`.spurious`: the *Spurious Rewards* table (profiles × training signals, before and after);
- :mod:`.ablation`: the clipping ablation (presets × paired seeds);
- :mod:`.boundary`: the reasoning-boundary study (pass@k to large k, coverage, switches, perplexity);
- :mod:`.findings`: the demo's claims of both papers as functions with their criteria fixed in code;
- :mod:`.boundary_training`: the boundary over training (every saved checkpoint of one run);
- :mod:`.algorithms`: six RL algorithms against the base at large k;
- :mod:`.distillation`: distillation from a stronger teacher against RL;
- :mod:`.lucky`: correct answers that rest on a wrong chain, by k;
- :mod:`.prompting`: prompt-induced code reasoning (the python hint);
- :mod:`.clip_bias`: the clip-bias laboratory (tabular policies through the trainer's own update code);
- :mod:`.lr_rule`: the learning rate chosen by an on-policy random-reward control;
- :mod:`.calibration`: how often each finding's interval covers a known effect and calls a null (``rlvr study
  calibration``);
- :mod:`.mechanisms`: the competing explanations of spurious-reward gains (``rlvr study spurious-mechanisms``);
- :mod:`.demo`: ``rlvr demo``, which sizes, schedules and reports the demo's studies;
- ``rlvr audit``: :mod:`.audit` (what it checks), :mod:`.audit_claim` (the claimed arm), :mod:`.audit_checks`
  (the verdicts), :mod:`.audit_cost` (the cost of each arm), :mod:`.audit_run` (running it and its report).
"""
