"""Model surgery by path: LoRA adapters, int8 weights, export for serving."""
