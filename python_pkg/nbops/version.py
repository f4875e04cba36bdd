"""The nbops version, in a module of its own so faces and images can name it without importing the package hub."""

__version__ = "0.1.0"
