"""Models: which folder a name means (:mod:`.specs`, torch-free), loading it (:mod:`.loading`), the built-in
SmolLM2-135M (:mod:`.smollm`) and opening a sampling engine for it (:mod:`.engines`).

Named models are a registry (:data:`.specs.NAMED_MODELS`) that plug-ins such as the organism fill, so nothing
here imports them. Import the submodules directly: this package face stays empty so that a misspelt name is
checked (``specs``) without importing torch (``loading``).
"""
