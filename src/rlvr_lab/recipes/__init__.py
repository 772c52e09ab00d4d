"""Recipes: the papers' setups (and the organism's) as data files shipped with the package, every value with its
source. Read by ``rlvr train``, ``rlvr export verl``, ``rlvr sample`` and ``rlvr audit``; checked against each
backend's own configuration machinery in the tests."""
