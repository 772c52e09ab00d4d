"""Runtime: where data is found (:mod:`.data`), how many threads a command uses (:mod:`.threads`), which
floating-point type it computes in (:mod:`.precision`). Depends on nothing else of ours."""
