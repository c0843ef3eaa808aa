"""The Keras-style model classes by name: each ``Model`` subclass adds itself when it is defined.

A saved file names its class (``config.class_name``); the loader finds it here, so the loader needs
no import of the classes themselves (which would make a circle with ``Model.save``).
"""

from __future__ import annotations

#: class name -> class, filled by ``Model.__init_subclass__``
MODEL_CLASSES: dict[str, type] = {}

__all__ = ["MODEL_CLASSES"]
