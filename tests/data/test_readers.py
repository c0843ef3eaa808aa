"""Record readers: good files parse; every bad file is one DataError naming the problem."""

from __future__ import annotations

import pytest

from lstmkit.data import read_csv, read_jsonl, read_records
from lstmkit.errors import DataError


def test_jsonl_reads_records_and_skips_blank_lines(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"text": "good", "label": 1}\n\n{"text": "bad", "label": 0}\n', encoding="utf-8")
    assert read_jsonl(p, ["text", "label"]) == [{"text": "good", "label": 1}, {"text": "bad", "label": 0}]


def test_jsonl_allows_utf8_bom(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"text": "caf\xc3\xa9"}\n')
    assert read_jsonl(p) == [{"text": "café"}]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"JSONL file not found: .*nope\.jsonl"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_jsonl(tmp_path)


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_empty_file(tmp_path, content):
    p = tmp_path / "e.jsonl"
    p.write_text(content)
    with pytest.raises(DataError, match="empty"):
        read_jsonl(p)


def test_bad_json_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": }\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: bad JSON at column \d+"):
        read_jsonl(p)


def test_non_object_line(tmp_path):
    p = tmp_path / "list.jsonl"
    p.write_text('[1, 2]\n')
    with pytest.raises(DataError, match=r"list\.jsonl:1: expected a JSON object, found list"):
        read_jsonl(p)


def test_missing_field_lists_fields_present(tmp_path):
    p = tmp_path / "f.jsonl"
    p.write_text('{"text": "a", "label": 1}\n{"review": "b", "label": 0}\n')
    with pytest.raises(DataError, match=r"f\.jsonl:2: missing field 'text'; fields present: 'review', 'label'"):
        read_jsonl(p, ["text", "label"])


def test_undecodable_bytes_name_byte_offset(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"latin\.jsonl: not valid UTF-8 at byte offset 28 \(line 2, byte 0xe9\)"):
        read_jsonl(p)


def test_errors_are_one_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text("{oops\n")
    with pytest.raises(DataError) as e:
        read_jsonl(p)
    assert "\n" not in str(e.value)


def test_csv_reads_header_and_rows(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('text,label\n"hello, world",1\nbye,0\n\n')
    assert read_csv(p, ["text", "label"]) == [{"text": "hello, world", "label": "1"}, {"text": "bye", "label": "0"}]


def test_csv_missing_column_lists_header(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("review,label\nx,1\n")
    with pytest.raises(DataError, match=r"missing field 'text'; fields present: 'review', 'label'"):
        read_csv(p, ["text"])


def test_csv_ragged_row_names_line(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("text,label\nx,1\ny,0,extra\n")
    with pytest.raises(DataError, match=r"a\.csv:3: row has 3 cells but the header has 2"):
        read_csv(p)


def test_csv_header_only(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("text,label\n")
    with pytest.raises(DataError, match="no records"):
        read_csv(p)


def test_read_records_dispatches_on_suffix(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"x": 1}\n')
    (tmp_path / "b.tsv").write_text("x\ty\n1\t2\n")
    assert read_records(tmp_path / "a.jsonl") == [{"x": 1}]
    assert read_records(tmp_path / "b.tsv") == [{"x": "1", "y": "2"}]
    with pytest.raises(DataError, match="unknown record file type '.txt'"):
        read_records(tmp_path / "c.txt")


# ------------------------------------------------------------------ labelled texts (text classification)
from lstmkit.data.readers import read_labeled_texts, read_text_folder  # noqa: E402


def test_labeled_jsonl_keeps_int_labels(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"review": "good", "y": 1}\n{"review": "bad", "y": 0}\n')
    assert read_labeled_texts(p, "review", "y") == (["good", "bad"], [1, 0])


def test_labeled_csv_string_labels(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('text,label\n"good, very",pos\nbad,neg\n')
    assert read_labeled_texts(p) == (["good, very", "bad"], ["pos", "neg"])


def test_labeled_missing_label_field_lists_fields(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("text,sentiment\ngood,pos\n")
    with pytest.raises(DataError, match=r"missing field 'label'; fields present: 'text', 'sentiment'"):
        read_labeled_texts(p)


def test_labeled_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"not found: .*nope\.csv"):
        read_labeled_texts(tmp_path / "nope.csv")


def test_labeled_bad_label_type(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"text": "good", "label": [1]}\n')
    with pytest.raises(DataError, match=r"record 1: field 'label' must be a string or an integer"):
        read_labeled_texts(p)


def test_folder_of_class_subfolders(tmp_path):
    for label, texts in {"neg": ["bad", "awful"], "pos": ["good"]}.items():
        (tmp_path / label).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(t)
    (tmp_path / "notes.md").write_text("ignored")
    assert read_labeled_texts(tmp_path) == (["bad", "awful", "good"], ["neg", "neg", "pos"])


def test_folder_without_txt_files(tmp_path):
    (tmp_path / "pos").mkdir()
    with pytest.raises(DataError, match="no class subfolders with .txt files"):
        read_text_folder(tmp_path)


def test_undecodable_bytes_name_offset_and_offer_encoding(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes(b"text,label\ncaf\xe9,pos\n")
    with pytest.raises(DataError, match=r"latin\.csv: not valid UTF-8 at byte offset 14 .*--encoding latin-1"):
        read_labeled_texts(p)
    assert read_labeled_texts(p, encoding="latin-1") == (["café"], ["pos"])


def test_undecodable_txt_in_folder_names_the_file(tmp_path):
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "x.txt").write_bytes(b"ok \xff")
    with pytest.raises(DataError, match=r"x\.txt: not valid UTF-8 at byte offset 3"):
        read_labeled_texts(tmp_path)


def test_unknown_encoding(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("text,label\na,b\n")
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        read_labeled_texts(p, encoding="klingon")


def test_read_text_errors(tmp_path):
    from lstmkit.data.readers import read_text

    with pytest.raises(DataError, match="training file not found"):
        read_text(tmp_path / "missing.txt", kind="training")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "bad.txt").write_bytes(b"hello \xff world")
    with pytest.raises(DataError, match=r"byte offset 6.*--encoding"):
        read_text(tmp_path / "bad.txt")
    assert read_text(tmp_path / "bad.txt", encoding="latin-1") == "hello \xff world"
    with pytest.raises(DataError, match="unknown encoding"):
        read_text(tmp_path / "bad.txt", encoding="no-such-codec")
