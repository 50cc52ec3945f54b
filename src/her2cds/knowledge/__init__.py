"""The versioned knowledge base: schema, loader and data files (``data/``)."""

from her2cds.knowledge.loader import KnowledgeBase, load_knowledge_base

__all__ = ["KnowledgeBase", "load_knowledge_base"]
