"""Files to tensors: text vectorization and record readers."""

from __future__ import annotations

from lstmkit.data.readers import read_csv, read_jsonl, read_records
from lstmkit.data.text import TextVectorizer, vectorizer_from_config

__all__ = ["TextVectorizer", "vectorizer_from_config", "read_jsonl", "read_csv", "read_records"]
