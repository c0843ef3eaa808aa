"""Files to tensors: text vectorization and record readers."""

from __future__ import annotations

from lstmkit.data.readers import read_csv, read_jsonl, read_records
from lstmkit.data.text import TextVectorizer, vectorizer_from_config
from lstmkit.data.parallel import (ParallelCorpus, attribution_note, read_parallel_files, read_parallel_tsv,
                                   split_by_source_hash)
from lstmkit.data.subword import SubwordTokenizer, train_pair

__all__ = ["TextVectorizer", "vectorizer_from_config", "read_jsonl", "read_csv", "read_records", "ParallelCorpus",
           "read_parallel_tsv", "read_parallel_files", "split_by_source_hash", "attribution_note", "SubwordTokenizer",
           "train_pair"]
