"""Parallel corpora for machine translation: sentence pairs read from files, and a deterministic split.

Two file forms:

* :func:`read_parallel_tsv`: one pair per line of a tab-separated UTF-8 file; by default column 1 is
  the source sentence and column 2 the target (1-based column numbers, as ``lstmkit translate train
  DATA.tsv`` says). A file of exactly three columns keeps its third column as the per-pair
  attribution unless told otherwise. The Anki/Tatoeba file ``spa.tsv`` is such a file::

      Go.<TAB>Ve.<TAB>CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #4986655 (cueyayotl)

* :func:`read_parallel_files`: two aligned plain-text files, line *i* of each is a pair::

      train.en: Go.\\nHi.\\n        train.es: Ve.\\nHola.\\n

Sentences are kept exactly as in the file: only the line's trailing ``\\n`` (and a ``\\r`` before it)
is removed; casing, punctuation, accents and inner whitespace are untouched. Lines are split on
``\\n`` only (never on other Unicode line breaks, which would cut sentences). A leading UTF-8 BOM is
skipped. Every problem (missing or empty file, a byte that is not UTF-8, an empty line, a line with
the wrong number of columns, an empty or whitespace-only sentence, two files of different lengths)
is a :class:`~lstmkit.errors.DataError` whose one-line message names ``file:line`` and what was
expected versus found.

The split (:func:`split_by_source_hash`)
----------------------------------------
Each pair goes to a part by a hash of one side's sentence, exactly as read (``key="src"`` hashes the
source side, ``key="tgt"`` the target side)::

    h = sha256(sentence.encode("utf-8")).digest()
    u = int.from_bytes(h[:8], "big") / 2**64        # a fraction in [0, 1)
    part = "test" if u < test else "valid" if u < test + valid else "train"

So all pairs with the same sentence on the hashed side (an English sentence with several Spanish
translations) land in the same part, membership does not depend on the order of the lines, and
within each part the pairs keep the file's order. To train both directions on the same test
sentences, hash the same *language* both times: for a file read as English→Spanish, split with
``key="src"``; after :meth:`ParallelCorpus.reversed` (Spanish→English) split with ``key="tgt"``.
The parts are then the same pairs, reversed.

On ``/work/shared/data/anki_spa_eng/spa.tsv`` (140,868 pairs, 119,342 distinct English sentences)
with the defaults ``valid=0.05, test=0.05`` and the English side hashed, the parts are:

    ======  ========  =====================
    part    pairs     distinct English
    ======  ========  =====================
    train   126,975   107,526
    valid   6,786     5,841
    test    7,107     5,975
    ======  ========  =====================

>>> corpus = read_parallel_tsv("spa.tsv")                          # doctest: +SKIP
>>> train, valid, test = split_by_source_hash(corpus)              # doctest: +SKIP
>>> es_en_train, _, es_en_test = split_by_source_hash(corpus.reversed(), key="tgt")  # doctest: +SKIP
>>> es_en_test.src == test.tgt                                      # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from lstmkit.errors import ConfigError, DataError, InputValueError

_BOM = b"\xef\xbb\xbf"
_KEYS = ("src", "tgt")


@dataclass
class ParallelCorpus:
    """Aligned sentence pairs: ``src[i]`` translates to ``tgt[i]``.

    ``attribution`` holds one string per pair (the licence / contributor note of that pair) or is
    ``None``; ``source`` says where the pairs came from (a path, or ``"SRC + TGT"`` for two files).

    >>> c = ParallelCorpus(["Go.", "Hi."], ["Ve.", "Hola."], None, "toy")
    >>> len(c), c.reversed().src
    (2, ['Ve.', 'Hola.'])
    """

    src: list[str]
    tgt: list[str]
    attribution: list[str] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("src", "tgt"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise InputValueError(f"ParallelCorpus.{name} must be a list of strings; found {type(value).__name__}")
        if len(self.src) != len(self.tgt):
            raise InputValueError(
                f"ParallelCorpus: src has {len(self.src)} sentences but tgt has {len(self.tgt)}; expected one per pair"
            )
        if self.attribution is not None and len(self.attribution) != len(self.src):
            raise InputValueError(
                f"ParallelCorpus: attribution has {len(self.attribution)} entries but there are {len(self.src)} pairs"
            )

    def __len__(self) -> int:
        return len(self.src)

    def reversed(self) -> ParallelCorpus:
        """The same pairs in the other direction (``src`` and ``tgt`` swapped), e.g. Es→En from En→Es."""
        attribution = None if self.attribution is None else list(self.attribution)
        return ParallelCorpus(list(self.tgt), list(self.src), attribution, self.source)

    def subset(self, indices: Sequence[int]) -> ParallelCorpus:
        """The pairs at ``indices`` (in that order), attribution included."""
        idx = list(indices)
        attribution = None if self.attribution is None else [self.attribution[i] for i in idx]
        return ParallelCorpus([self.src[i] for i in idx], [self.tgt[i] for i in idx], attribution, self.source)

    def split(
        self, valid: float = 0.05, test: float = 0.05, key: str = "src"
    ) -> tuple[ParallelCorpus, ParallelCorpus, ParallelCorpus]:
        """``(train, valid, test)`` by :func:`split_by_source_hash`."""
        return split_by_source_hash(self, valid=valid, test=test, key=key)


# ----------------------------------------------------------------------------- reading


def _read_lines(path: str | PathLike[str], kind: str) -> tuple[Path, list[str]]:
    """The lines of a UTF-8 file, each without its trailing ``\\n`` / ``\\r\\n`` and nothing else removed."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{kind} file not found: {p}")
    if p.is_dir():
        raise DataError(f"{kind} path is a directory, expected a file: {p}")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {kind} file {p}: {e.strerror or e}") from None
    skip = len(_BOM) if raw.startswith(_BOM) else 0
    try:
        text = raw[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = e.start + skip
        line = raw.count(b"\n", 0, offset) + 1
        bad = raw[offset : offset + 1].hex()
        raise DataError(
            f"{p}:{line}: not valid UTF-8 at byte offset {offset} (byte 0x{bad}): {e.reason}; "
            f"expected a UTF-8 file (convert it, e.g. iconv -f latin1 -t utf-8)"
        ) from None
    if not text.strip():
        raise DataError(f"{kind} file is empty: {p}")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return p, [line[:-1] if line.endswith("\r") else line for line in lines]


def _check_col(name: str, value: object, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        expected = "an int >= 1 (1-based column number)" + (" or None" if optional else "")
        raise ConfigError(f"{name} must be {expected}; found {value!r}")
    return value


def read_parallel_tsv(
    path: str | PathLike[str],
    src_col: int = 1,
    tgt_col: int = 2,
    attribution_col: int | None = None,
    expected_columns: int | None = None,
) -> ParallelCorpus:
    """Sentence pairs from a tab-separated UTF-8 file, one pair per line.

    ``src_col`` / ``tgt_col`` / ``attribution_col`` are 1-based column numbers. Every line must have
    the same number of columns: ``expected_columns`` when given, otherwise as many as line 1.
    With ``attribution_col=None`` and a file of exactly 3 columns, column 3 is kept as the attribution
    (unless it is the source or target column); otherwise there is no attribution (``None``).
    Attribution cells may be empty; source and target cells may not (nor whitespace only).

    >>> c = read_parallel_tsv("spa.tsv")                     # doctest: +SKIP
    >>> c.src[0], c.tgt[0], c.attribution[0][:18]            # doctest: +SKIP
    ('Go.', 'Ve.', 'CC-BY 2.0 (France)')

    Errors (one line each), e.g. ``data.tsv:7: expected 3 tab-separated columns (as on line 1), found 2``,
    ``data.tsv:9: column 2 (target) is empty (whitespace only); expected a sentence``.
    """
    src_col = _check_col("src_col", src_col)
    tgt_col = _check_col("tgt_col", tgt_col)
    attribution_col = _check_col("attribution_col", attribution_col, optional=True)
    if expected_columns is not None:
        _check_col("expected_columns", expected_columns)
    if src_col == tgt_col:
        raise ConfigError(f"src_col and tgt_col must differ; both are {src_col}")
    if attribution_col is not None and attribution_col in (src_col, tgt_col):
        raise ConfigError(f"attribution_col={attribution_col} is also the source or target column")

    p, lines = _read_lines(path, "parallel")
    if expected_columns is None:
        if not lines[0].strip():
            raise DataError(f"{p}:1: empty line; expected tab-separated columns (source, target, ...)")
        ncols = lines[0].count("\t") + 1
        as_on = " (as on line 1)"
    else:
        ncols = expected_columns
        as_on = ""
    if attribution_col is None and ncols == 3 and 3 not in (src_col, tgt_col):
        attribution_col = 3
    used = {"src_col": src_col, "tgt_col": tgt_col}
    if attribution_col is not None:
        used["attribution_col"] = attribution_col
    widest = max(used, key=lambda k: used[k])
    if used[widest] > ncols:
        where = "expected_columns is" if expected_columns is not None else "line 1 has"
        raise DataError(
            f"{p}:1: {widest}={used[widest]} but {where} {ncols} tab-separated column{'s' if ncols != 1 else ''}"
        )

    src: list[str] = []
    tgt: list[str] = []
    attribution: list[str] | None = [] if attribution_col is not None else None
    roles = ((src_col, "source", src), (tgt_col, "target", tgt))
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{p}:{lineno}: empty line; expected {ncols} tab-separated columns")
        cells = line.split("\t")
        if len(cells) != ncols:
            raise DataError(f"{p}:{lineno}: expected {ncols} tab-separated columns{as_on}, found {len(cells)}")
        for col, role, out in roles:
            cell = cells[col - 1]
            if not cell.strip():
                what = "empty" if not cell else "whitespace only"
                raise DataError(f"{p}:{lineno}: column {col} ({role}) is {what}; expected a sentence")
            out.append(cell)
        if attribution is not None:
            attribution.append(cells[attribution_col - 1])  # type: ignore[operator]
    return ParallelCorpus(src, tgt, attribution, str(p))


def read_parallel_files(src_path: str | PathLike[str], tgt_path: str | PathLike[str]) -> ParallelCorpus:
    """Sentence pairs from two aligned UTF-8 text files: line *i* of ``src_path`` translates to line *i*
    of ``tgt_path``. The whole line is the sentence (tabs included). No attribution (``None``); the
    corpus' ``source`` is ``"SRC_PATH + TGT_PATH"``.

    Errors (one line each): a missing or empty file, a non-UTF-8 byte, an empty or whitespace-only
    line (``train.es:12: empty line; expected a sentence (the translation of train.en:12)``), and files
    of different lengths (``train.es:101: file ends after 100 lines but train.en has 102; expected the
    same number of lines``).
    """
    sp, src = _read_lines(src_path, "source")
    tp, tgt = _read_lines(tgt_path, "target")
    if len(src) != len(tgt):
        short, long_ = (tp, sp) if len(tgt) < len(src) else (sp, tp)
        n_short, n_long = min(len(src), len(tgt)), max(len(src), len(tgt))
        raise DataError(
            f"{short}:{n_short + 1}: file ends after {n_short} lines but {long_} has {n_long}; "
            f"expected the same number of lines (line i of each file is a pair)"
        )
    for lines, p, other in ((src, sp, tp), (tgt, tp, sp)):
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                what = "empty line" if not line else "line is whitespace only"
                raise DataError(f"{p}:{lineno}: {what}; expected a sentence (the pair of {other}:{lineno})")
    return ParallelCorpus(src, tgt, None, f"{sp} + {tp}")


# ----------------------------------------------------------------------------- split


def hash_fraction(sentence: str) -> float:
    """The sentence's place in [0, 1): the first 8 bytes of its UTF-8 SHA-256, big-endian, over 2**64."""
    digest = hashlib.sha256(sentence.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _check_fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name} must be a fraction in [0, 1); found {value!r}")
    return float(value)


def split_by_source_hash(
    corpus: ParallelCorpus, valid: float = 0.05, test: float = 0.05, key: str = "src"
) -> tuple[ParallelCorpus, ParallelCorpus, ParallelCorpus]:
    """``(train, valid, test)``: each pair placed by :func:`hash_fraction` of its ``key`` side's sentence.

    ``key="src"`` hashes the source sentences, ``key="tgt"`` the target ones; see the module docstring
    for why (the same sentence always lands in the same part, in either direction). A part may be
    empty (``valid=0``, or a tiny corpus); within each part pairs keep the corpus' order.
    """
    if not isinstance(corpus, ParallelCorpus):
        raise InputValueError(f"split_by_source_hash expects a ParallelCorpus; found {type(corpus).__name__}")
    valid = _check_fraction("valid", valid)
    test = _check_fraction("test", test)
    if valid + test >= 1.0:
        raise ConfigError(f"valid + test must be below 1 to leave pairs for training; found {valid} + {test}")
    if key not in _KEYS:
        raise ConfigError(f"key must be 'src' or 'tgt' (the side whose sentence is hashed); found {key!r}")
    sentences = corpus.src if key == "src" else corpus.tgt
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    cache: dict[str, int] = {}
    for i, s in enumerate(sentences):
        part = cache.get(s)
        if part is None:
            u = hash_fraction(s)
            part = 2 if u < test else 1 if u < test + valid else 0
            cache[s] = part
        parts[part].append(i)
    return corpus.subset(parts[0]), corpus.subset(parts[1]), corpus.subset(parts[2])


# ----------------------------------------------------------------------------- attribution

_MANYTHINGS = "www.manythings.org/anki"
_SITE_RE = re.compile(r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:/\S*)?$")


def attribution_note(corpus: ParallelCorpus) -> str:
    """A one-line note on where the pairs come from and their licence, for model files and the CLI.

    With an attribution column in the ``"LICENCE Attribution: SITE #id (user) & ..."`` form of the
    Anki/Tatoeba exports, it names the licence(s) and the sites; for spa.tsv::

        Data: .../spa.tsv. License: CC-BY 2.0 (France). Attribution: www.manythings.org/anki and
        tatoeba.org (each pair's sentence numbers and contributors: the file's attribution column).

    (one line). Without attribution it names the source path and asks to check the licence.
    """
    if not isinstance(corpus, ParallelCorpus):
        raise InputValueError(f"attribution_note expects a ParallelCorpus; found {type(corpus).__name__}")
    source = corpus.source or "(unnamed corpus)"
    notes = [a.strip() for a in corpus.attribution or [] if a.strip()]
    if not notes:
        return (
            f"Data: {source}. No attribution given with the data; "
            f"check its license before sharing models or samples."
        )
    licences: list[str] = []
    sites: list[str] = []
    for a in notes:
        head, sep, tail = a.partition("Attribution:")
        if not sep:
            continue
        if head.strip() and head.strip() not in licences:
            licences.append(head.strip())
        for word in tail.split():
            if _SITE_RE.match(word) and word not in sites:
                sites.append(word)
    if not licences and not sites:
        return f"Data: {source}. Attribution per pair in the file's attribution column, e.g. {notes[0]!r}."
    if "tatoeba.org" in sites and _MANYTHINGS not in sites:
        # The Anki exports of manythings.org carry this form; their terms ask to credit both sites.
        sites.insert(0, _MANYTHINGS)
    parts = [f"Data: {source}."]
    if licences:
        parts.append(f"License: {'; '.join(licences)}.")
    if sites:
        parts.append(
            f"Attribution: {' and '.join(sites)} "
            f"(each pair's sentence numbers and contributors: the file's attribution column)."
        )
    return " ".join(parts)


__all__ = [
    "ParallelCorpus",
    "read_parallel_tsv",
    "read_parallel_files",
    "split_by_source_hash",
    "hash_fraction",
    "attribution_note",
]
