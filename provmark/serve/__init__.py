"""``provmark serve``: a verification page, ``POST /verify``, the C2PA Soft Binding Resolution API
over the manifest store, and ``POST /sign`` for generator pipelines (FastAPI, extra ``[serve]``).

    from provmark.serve import Limits, create_app
    app = create_app("keys", Limits(workers=2))     # any ASGI server runs it; each worker holds an Engine
"""

from provmark.serve.app import create_app
from provmark.serve.engine import Engine
from provmark.serve.limits import Limits

__all__ = ["Engine", "Limits", "create_app"]
