"""The model organism: a tiny causal LM whose prior (strategy mix, error rates) is set on purpose.

- :mod:`.tasks`: the synthetic problems and the ``organism`` benchmark's :func:`~.tasks.organism_problems`;
- :mod:`.corpus`: worked solutions in two strategies (language, code) with the knobs of a profile;
- :mod:`.tokenizer`: the character-level tokenizer;
- :mod:`.config`, :mod:`.pretrain`: the model shape, the training budget, pretraining and saving;
- :mod:`.profiles`: the named recipes and their shipped checkpoints;
- :mod:`.stats`: the calibration table, measured through the evaluation pipeline.

Importing this package registers the ``organism`` prompt template, whose text is exactly the corpus's prompt, and
``organism-python-hint``: the organism's ``python-hint``. The organism reads no instructions (it has only seen
problems), so the hint is the one thing a prompt can say to it: the answer's opening already written as the code
fence, which is what "solve it with Python" does to a model that follows it.
"""

from rlvr_lab.organism.corpus import CODE, PROMPT_TEMPLATE
from rlvr_lab.prompts import PROMPTS, PromptTemplate

ORGANISM_TEMPLATE = PromptTemplate(name="organism", user=PROMPT_TEMPLATE, use_chat_template=False)
PROMPTS.add(ORGANISM_TEMPLATE.name, ORGANISM_TEMPLATE)
PYTHON_HINT_TEMPLATE = PromptTemplate(
    name="organism-python-hint",
    user=PROMPT_TEMPLATE,
    use_chat_template=False,
    assistant_prefix=CODE.split("{code}")[0],  # the code answer's opening, as the corpus writes it
)
PROMPTS.add(PYTHON_HINT_TEMPLATE.name, PYTHON_HINT_TEMPLATE)
