"""The policy's forward compiled with ``torch.compile`` for the update (``TrainConfig.compile``; opt-in).

Why: on CPU a bfloat16 update of the organisms (a 0.66M-parameter Llama, micro-batches of 16 rows of about 35
tokens) spends more time in the ~300 small element-wise ops of a forward and backward (norms, rope, SiLU, casts,
residuals), each a dispatcher and autograd call of a few microseconds, than in its matrix products. Inductor fuses
them into a few generated C++ loops per layer and takes the Python and dispatcher overhead away; the products stay
oneDNN's. Measured on the demo's ``clip`` step (128 rows, mini-batches of 32 in micro-batches of 16, one thread):
see ``docs/performance.md`` ("torch.compile shared by a worker's runs").

Why it pays only when a process trains many runs: compiling costs 35-50 s with inductor's on-disk cache empty
(against 0.5 s for an eager step of the demo). ``dynamic=True`` makes one graph serve every micro-batch length, and
the graphs are keyed on the model class's code and guarded on shapes and dtypes, not on the module object, so a later
run in the same process (``rlvr demo`` runs dozens in each worker) builds a new model of the same architecture and
reuses them without compiling again. Two graphs are built: the training forward (with its backward) and the no-grad
pass of ``log π_old``.

What changes: inductor computes a fused chain of element-wise ops in float32 and rounds once where eager bfloat16
rounds after every op, so the log-probs differ from eager's by bfloat16 rounding (a mean of 0.02 nats a token at the
organisms' shape, as far from float32 as eager's), and the no-grad graph and the training graph, fused apart, agree
to about 1e-5 nats on average (4e-3 at most) where eager's are equal bit for bit.
"""

from __future__ import annotations

from transformers import PreTrainedModel


def compile_forward(model: PreTrainedModel) -> PreTrainedModel:
    """Compile ``model``'s forward in place (``nn.Module.compile``: the weights, their names in ``state_dict`` and
    ``save_pretrained`` are unchanged) and return it. The first forward of each kind compiles."""
    model.compile(dynamic=True)
    return model
