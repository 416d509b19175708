"""Inference: chat completions and embeddings, on both API surfaces."""
