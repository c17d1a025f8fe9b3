"""Neural watermark models: networks, shared embedding functions, training and shipped weights."""

from provmark.models.config import ModelConfig
from provmark.models.embedding import add_residual, to_internal
from provmark.models.hub import available_models, load_model, model_card
from provmark.models.networks import WatermarkModel

__all__ = ["ModelConfig", "WatermarkModel", "add_residual", "available_models", "load_model", "model_card", "to_internal"]
