"""Renderers: turn an Assessment into text (no clinical logic here)."""
