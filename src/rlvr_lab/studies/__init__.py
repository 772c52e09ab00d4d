"""The studies: the papers' experiments as code, on any model the pipeline can load (by default the organisms).

- :mod:`.parallel`: a small dependency-aware process pool with one rich progress display;
- :mod:`.jobs`: the units of work it runs (a training run, a sampled and graded evaluation set, a perplexity
  matrix), each resumable from its files;
- :mod:`.evaluation`: the shared sample-then-grade step and the numbers read from a graded set;
- :mod:`.settings`: what all runs of a study share, and how one run's config and folder are derived;
- :mod:`.spurious`: the *Spurious Rewards* table (profiles × training signals, before and after);
- :mod:`.ablation`: the clipping ablation (presets × paired seeds);
- :mod:`.boundary`: the reasoning-boundary study (pass@k to large k, coverage, switches, perplexity);
- :mod:`.verdict`, :mod:`.paired`: the one verdict rule and the paired intervals (over problems; over seeds and
  problems for training arms) every finding is judged with;
- :mod:`.findings`: each paper's claims as functions with their criteria fixed in code;
- :mod:`.clip_bias`: the clip-bias laboratory (tabular policies through the trainer's own update code);
- :mod:`.lr_rule`: the learning rate chosen by an on-policy random-reward control;
- :mod:`.markdown`: tables as Markdown for the README;
- :mod:`.demo`: ``rlvr demo``, which sizes, schedules and reports all three.
"""
