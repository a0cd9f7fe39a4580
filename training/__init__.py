"""Training pipeline: scripts that turn a dataset into a model pack (``python -m training <step>``).

Training may import ``engine``; the engine never imports training.
"""
