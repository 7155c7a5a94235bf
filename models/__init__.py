"""Model backends: what the graph needs from a model, and its OpenAI-compatible and transformers implementations."""
