"""Other frameworks' model files to and from lstmkit models.

* :mod:`lstmkit.interop.keras`: Keras 3 ``.keras`` files <-> :class:`lstmkit.models.Sequential`
  (``load_keras`` / ``save_keras``; reads and writes the files with ``zipfile``, ``json`` and
  ``h5py``, without importing Keras).
"""

from __future__ import annotations
