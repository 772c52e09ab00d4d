"""The model organism: a tiny causal LM whose prior (strategy mix, error rates) is set on purpose.

- :mod:`.tasks`: the synthetic problems and the ``organism`` benchmark's :func:`~.tasks.organism_problems`;
- :mod:`.corpus`: worked solutions in two strategies (language, code) with the knobs of a profile;
- :mod:`.tokenizer`: the character-level tokenizer;
- :mod:`.config`, :mod:`.pretrain`: the model shape, the training budget, pretraining and saving;
- :mod:`.profiles`: the named recipes and their shipped checkpoints;
- :mod:`.stats`: the calibration table, measured through the evaluation pipeline.

Importing this package registers the ``organism`` prompt template, whose text is exactly the corpus's prompt, and
``organism-python-hint``, the corpus's hinted prompt written out (a v2 organism also gets it from ``python-hint``
through its chat template; the plain one serves any organism, v1 included).
"""

from rlvr_lab.organism.corpus import PROMPT_TEMPLATE, PYTHON_HINT
from rlvr_lab.prompts import PLACEHOLDER, PROMPTS, PromptTemplate

ORGANISM_TEMPLATE = PromptTemplate(name="organism", user=PROMPT_TEMPLATE, use_chat_template=False)
ORGANISM_HINT_TEMPLATE = PromptTemplate(
    name="organism-python-hint",
    user=PROMPT_TEMPLATE.format(problem=PLACEHOLDER + PYTHON_HINT),
    use_chat_template=False,
)
TEMPLATES = (ORGANISM_TEMPLATE, ORGANISM_HINT_TEMPLATE)
"""The organism's prompts: under these its answers come with a chain in its own notation (the audit checks them)."""
for _template in TEMPLATES:
    PROMPTS.add(_template.name, _template)
