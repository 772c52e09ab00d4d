"""Hydra's override grammar, as verl's ``main_ppo`` command line is parsed by it: values quoted so they read back
unchanged. A module of its own so the export and the reward manager's overrides both use it without importing
each other."""

from __future__ import annotations

import re


def hydra_quote(text: str) -> str:
    """``text`` as a quoted Hydra override value, so that its grammar reads it back unchanged whatever it holds
    (``&``, ``=``, ``,``, spaces: a reward spec such as ``format&not:python`` or ``incorrect:store=PATH`` does not
    parse unquoted). Hydra 1.3's quoted strings escape a quote, and the backslashes right before one or at the
    end, with backslashes."""
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)
    return f"'{escaped}'"
