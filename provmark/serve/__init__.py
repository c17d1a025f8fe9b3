"""``provmark serve``: a verification page, ``POST /verify``, the C2PA Soft Binding Resolution API
over the manifest store, and ``POST /sign`` for generator pipelines (FastAPI, extra ``[serve]``).

    from provmark.serve import Engine, Limits, create_app
    app = create_app(Engine("keys"), Limits())      # any ASGI server runs it
"""

from provmark.serve.app import create_app
from provmark.serve.engine import Engine
from provmark.serve.limits import Limits

__all__ = ["Engine", "Limits", "create_app"]
