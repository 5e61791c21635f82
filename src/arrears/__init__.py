"""arrears: open-source debt collection and recovery for banks and consumer lenders."""

__version__ = "0.1.0"
__all__ = ["__version__"]
