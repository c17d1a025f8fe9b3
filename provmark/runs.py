"""Front door to training runs: train a watermark model into a run folder, or resume one.

A run folder holds the checkpoint, the log and the best model so far; :func:`train_model`
continues a run after an interruption from where its checkpoint left it::

    from provmark.api import TrainConfig, train_model

    state = train_model("runs/v3", TrainConfig(data="photos", steps=4000))
    state.best_score, state.best_step              # best validation bit accuracy, and when
"""

from __future__ import annotations

import os
from collections.abc import Callable

from provmark.models.training import TrainConfig, TrainState, open_trainer


def train_model(
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
) -> TrainState:
    """Train a watermark model into the run folder ``out`` (or, with ``resume``, continue it).

    A new run needs ``config`` and an ``out`` without a checkpoint. A resumed run keeps its
    stored config; a ``config`` given then only changes the total ``steps``. A checkpoint is
    saved on the way out, also on Ctrl-C (the ``KeyboardInterrupt`` is raised again) and on any
    error. Raises :class:`~provmark.errors.ModelError` for a folder that does not fit the call.

    >>> state = train_model("runs/v3", TrainConfig(data="photos", steps=200))  # doctest: +SKIP
    >>> state = train_model("runs/v3", TrainConfig(data="", steps=400), resume=True)  # doctest: +SKIP
    >>> state.step  # doctest: +SKIP
    400
    """
    return open_trainer(out, config, resume, log=log).run()
