"""The language model: one owner (:class:`~ragls.model.host.ModelHost`) behind a small backend
interface (in-process llama.cpp, or a remote OpenAI-compatible endpoint).

Importing this package does not import llama-cpp-python; the llama backend is imported when a
model is loaded, so retrieval-only use never pays for it.
"""

from ragls.model.backend import AdapterStatus, ModelError, ModelLoadError, ModelStatus, ModelUnavailable
from ragls.model.host import ModelHost

__all__ = ["AdapterStatus", "ModelError", "ModelHost", "ModelLoadError", "ModelStatus", "ModelUnavailable"]
