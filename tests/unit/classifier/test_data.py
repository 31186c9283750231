"""Labelled CSV loading: good files load, bad ones say what is wrong and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.data import load_csv, normalise
from classifier.exceptions import DataError
from classifier.labels import parse_label_map

LABELS = parse_label_map("0=negative,1=positive,2=neutral")


def write(tmp_path: Path, content: bytes | str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_loads_texts_and_maps_labels(tmp_path: Path) -> None:
    path = write(tmp_path, 'text,label\n"Stocks fall, again",0\nRally!,1\nMeeting on Monday,2\n')
    data = load_csv(path, LABELS)
    assert data.texts == ["Stocks fall, again", "Rally!", "Meeting on Monday"]
    assert data.labels == [0, 2, 1]  # negative, positive, neutral as canonical indices
    assert data.counts() == {"negative": 1, "neutral": 1, "positive": 1}


def test_extra_columns_any_order_and_a_bom_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffid,label,text\n1,2,hello\n")
    assert load_csv(path, LABELS).texts == ["hello"]


def test_missing_column_names_it_and_the_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "sentence,label\nhello,1\n")
    with pytest.raises(DataError, match=r"missing column 'text' \(found 'sentence', 'label'\)"):
        load_csv(path, LABELS)


def test_unknown_label_names_line_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "text,label\nfine,1\nodd,7\n")
    with pytest.raises(DataError, match=r"line 3: unknown label '7' \(known: 0, 1, 2\)"):
        load_csv(path, LABELS)


def test_label_names_without_a_map(tmp_path: Path) -> None:
    path = write(tmp_path, "text,label\nup,positive\ndown,bearish\n")
    assert load_csv(path, {}).labels == [2, 0]
    with pytest.raises(DataError, match="unknown label '1'"):
        load_csv(write(tmp_path, "text,label\nup,1\n", "n.csv"), {})


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="the file is empty"):
        load_csv(write(tmp_path, b""), LABELS)


def test_header_without_rows(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no rows"):
        load_csv(write(tmp_path, "text,label\n"), LABELS)


def test_non_utf8_names_the_byte_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "text,label\nok,1\nCaf\xe9 prices rise,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 \(byte 0xe9 on line 3\)"):
        load_csv(path, LABELS)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_csv(tmp_path / "nope.csv", LABELS)


def test_sample_is_seeded_and_keeps_pairs(tmp_path: Path) -> None:
    rows = "".join(f"text {i},{i % 3}\n" for i in range(50))
    data = load_csv(write(tmp_path, "text,label\n" + rows), LABELS)
    a, b = data.sample(10, seed=3), data.sample(10, seed=3)
    assert a == b and len(a) == 10
    for text, label in zip(a.texts, a.labels, strict=True):
        raw = int(text.split()[1]) % 3
        assert label == {0: 0, 1: 2, 2: 1}[raw]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("$AAPL up 5% https://t.co/AbC123", "$ticker up 5% http"),
        ("@jimcramer says buy $tsla.  now", "@user says buy $ticker. now"),
        ("Costs rose $5 billion; see www.example.com/x", "Costs rose $5 billion; see http"),
        ("mail me at a@b.com", "mail me at a@b.com"),
        ("  \n ", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_soft_label_columns_load_in_canonical_order_and_renormalised(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "text,label,p_positive,p_negative,p_neutral\n"
        "Stocks fall,0,0.1,0.7,0.2\n"
        "Rally!,1,0.8002,0.1,0.1\n",
    )
    data = load_csv(path, LABELS)
    assert data.soft is not None and data.soft[0] == pytest.approx((0.7, 0.2, 0.1))
    assert sum(data.soft[1]) == pytest.approx(1.0) and data.soft[1][2] > 0.79
    assert data.sample(1, seed=3).soft is not None
    assert load_csv(write(tmp_path, "text,label\nhi,2\n", "plain.csv"), LABELS).soft is None


HEAD = "text,label,p_negative,p_neutral,p_positive"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"{HEAD}\nx,0,0.5,0.6,0.3\n", r"line 2: .* sum to 1\.4"),
        (f"{HEAD}\nx,0,a,0.5,0.5\n", "line 2: .*not all numbers"),
        (f"{HEAD}\nx,0,-0.5,1,0.5\n", "not probabilities"),
        (f"{HEAD}\nx,0,nan,0.5,0.5\n", "not probabilities"),
        (f"{HEAD}\nx,0,0.5,0.5\n", "line 2: .*not all numbers"),
        ("text,label,p_negative,p_neutral\nx,0,0.5,0.5\n", "p_positive missing"),
    ],
)
def test_bad_soft_labels_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_csv(write(tmp_path, content), LABELS)
