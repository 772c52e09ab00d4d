"""Analyses over graded samples: reasoning strategy labels, strategy switches, perplexity."""
