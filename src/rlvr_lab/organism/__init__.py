"""The model organism: a tiny causal LM whose prior (strategy mix, error rates) is set on purpose."""
