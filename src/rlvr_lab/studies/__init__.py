"""The studies: the papers' experiments as code, on any model the pipeline can load (by default the organisms).

- :mod:`.parallel`: a small dependency-aware process pool with one rich progress display;
- :mod:`.jobs`: the units of work it runs (a training run, a sampled and graded evaluation set, a perplexity
  matrix), each resumable from its files;
- :mod:`.evaluation`: the shared sample-then-grade step and the numbers read from a graded set;
- :mod:`.settings`: what all runs of a study share, and how one run's config and folder are derived;
- :mod:`.spurious`: the *Spurious Rewards* table (profiles × training signals, before and after);
- :mod:`.ablation`: the clipping ablation (presets × seeds, mean and spread);
- :mod:`.boundary`: the reasoning-boundary study (pass@k to large k, coverage, switches, perplexity);
- :mod:`.findings`: each paper's claims checked against the numbers, with the criterion stated;
- :mod:`.markdown`: tables as Markdown for the README;
- :mod:`.demo`: ``rlvr demo``, which sizes, schedules and reports all three.
"""
