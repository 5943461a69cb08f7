import pytest

from workrequests.parsing import decode_upload, parse_list, parse_text


def test_it_reads_one_input_per_line_without_a_header():
    parsed = parse_text("CCO\nc1ccccc1\nCC(=O)O\n", limit=10)

    assert parsed.inputs == ["CCO", "c1ccccc1", "CC(=O)O"]
    assert parsed.column is None
    assert parsed.is_valid


def test_it_keeps_the_first_line_when_it_is_not_a_known_header():
    parsed = parse_text("name\nCCO\n", limit=10)

    assert parsed.inputs == ["name", "CCO"]


@pytest.mark.parametrize("header", ["smiles", "SMILES", " Smiles ", "input"])
def test_it_skips_a_header_that_names_a_known_column(header):
    parsed = parse_text(f"{header}\nCCO\nCCN\n", limit=10)

    assert parsed.inputs == ["CCO", "CCN"]
    assert parsed.column == header.strip()


def test_it_uses_the_named_column_of_a_csv():
    text = 'name,smiles,note\naspirin,CC(=O)Oc1ccccc1C(=O)O,"pain, fever"\nwater,O,\n'

    parsed = parse_text(text, limit=10)

    assert parsed.inputs == ["CC(=O)Oc1ccccc1C(=O)O", "O"]
    assert parsed.column == "smiles"


def test_it_skips_blank_lines_and_blank_cells_and_trims_whitespace():
    parsed = parse_text(
        "smiles,name\n\n  CCO  ,ethanol\n,nothing\n   \nCCN,x\n", limit=10
    )

    assert parsed.inputs == ["CCO", "CCN"]
    assert parsed.skipped_blank == 3


def test_it_reads_crlf_line_ends():
    parsed = parse_text("CCO\r\nCCN\r\n", limit=10)

    assert parsed.inputs == ["CCO", "CCN"]


def test_it_keeps_duplicates_in_order():
    parsed = parse_text("CCO\nCCN\nCCO\n", limit=10)

    assert parsed.inputs == ["CCO", "CCN", "CCO"]


def test_it_rejects_more_inputs_than_the_limit():
    parsed = parse_text("\n".join(["CCO"] * 4), limit=3)

    assert not parsed.is_valid
    assert parsed.error_summary() == (
        "This model accepts at most 3 inputs per request; more were given."
    )


def test_it_accepts_exactly_the_limit():
    assert parse_text("\n".join(["CCO"] * 3), limit=3).is_valid


def test_it_names_lines_with_control_characters():
    parsed = parse_text("CCO\nC\x07C\nCCN\x1b[0m\n", limit=10)

    assert not parsed.is_valid
    assert [error.line for error in parsed.errors] == [2, 3]
    assert "Line 2: holds control or binary characters." in parsed.error_summary()


def test_it_names_lines_that_are_too_long(settings):
    settings.INPUT_MAX_LENGTH = 5

    parsed = parse_text("CCO\nCCCCCCCC\n", limit=10)

    assert str(parsed.errors[0]) == "Line 2: longer than 5 characters."


def test_it_finds_no_inputs_in_an_empty_file():
    parsed = parse_text("\n\n  \n", limit=10)

    assert not parsed.is_valid
    assert parsed.error_summary() == "No inputs were found."


def test_a_header_alone_is_no_inputs():
    assert parse_text("smiles\n", limit=10).error_summary() == "No inputs were found."


def test_it_decodes_utf8_with_a_byte_order_mark():
    text, error = decode_upload("\ufeffsmiles\nCCO\n".encode())

    assert error is None
    assert parse_text(text, limit=10).inputs == ["CCO"]


def test_it_rejects_binary_junk_naming_the_line():
    text, error = decode_upload(b"CCO\nCCN\n\x89PNG\x00\x00\x1a")

    assert text is None
    assert str(error) == "Line 3: the file holds binary data, not text."


def test_it_rejects_text_that_is_not_utf8():
    text, error = decode_upload(b"CCO\n\xff\xfe\xfa\n")

    assert text is None
    assert str(error) == "Line 2: the file is not UTF-8 text."


def test_a_list_has_no_header_and_skips_blank_items():
    parsed = parse_list(["smiles", " CCO ", "", "CCN"], limit=10)

    assert parsed.inputs == ["smiles", "CCO", "CCN"]
    assert parsed.skipped_blank == 1


def test_a_list_must_hold_strings():
    parsed = parse_list(["CCO", 7, None], limit=10)

    assert [str(error) for error in parsed.errors] == [
        "Line 2: each input must be a string.",
        "Line 3: each input must be a string.",
    ]


def test_the_summary_names_at_most_twenty_lines():
    parsed = parse_text("\n".join(["C\x00C"] * 25), limit=100)

    summary = parsed.error_summary()
    assert "Line 20:" in summary
    assert "Line 21:" not in summary
    assert summary.endswith(
        "Line 20: holds control or binary characters. And 5 more lines."
    )


def test_the_summary_reads_as_sentences():
    parsed = parse_text("C\x00C\nCCO\nC\x07\n", limit=10)

    assert parsed.error_summary() == (
        "Some lines cannot be inputs. Line 1: holds control or binary characters. "
        "Line 3: holds control or binary characters."
    )


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x1c", "\x85", "\u2028"])
def test_line_separators_other_than_newlines_are_control_characters(separator):
    parsed = parse_text(f"CCO\nCC{separator}O\nCCN\n", limit=10)

    assert [str(error) for error in parsed.errors] == [
        "Line 2: holds control or binary characters."
    ]


def test_lines_end_at_lf_crlf_or_a_lone_cr():
    parsed = parse_text("CCO\rCCN\r\nO\nC", limit=10)

    assert parsed.inputs == ["CCO", "CCN", "O", "C"]
    assert parsed.skipped_blank == 0


def test_a_quoted_field_cannot_hold_a_line_break():
    parsed = parse_text('smiles,name\n"CCO","line1\nline2"\nCC,y\n', limit=10)

    assert not parsed.is_valid
    assert "Line 2: the line is not valid CSV." in parsed.error_summary()


def test_an_unclosed_quote_is_not_an_input():
    parsed = parse_text('smiles\n"CCO\n', limit=10)

    assert [str(error) for error in parsed.errors] == [
        "Line 2: the line is not valid CSV."
    ]


def test_reading_stops_soon_after_the_limit_is_passed():
    parsed = parse_text("CCO\n" * 2_000_000, limit=3)

    assert parsed.inputs == ["CCO"] * 4
    assert parsed.error_summary() == (
        "This model accepts at most 3 inputs per request; more were given."
    )


def test_reading_stops_after_a_hundred_bad_lines():
    parsed = parse_text("\x01\n" * 1_000_000, limit=10)

    assert len(parsed.errors) == 100
    assert parsed.error_summary().endswith("And more lines after these.")


def test_a_utf16_file_is_named_as_such():
    text, error = decode_upload("smiles\nCCO\n".encode("utf-16"))

    assert text is None
    assert str(error) == "Line 1: the file is UTF-16 text; save it as UTF-8."
