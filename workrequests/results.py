"""A request's results, merged in input order and written as CSV or JSON.

Both downloads have the same columns: `input` first, then the model's output
columns in the order the model declares them (then any other key a model
returned, in the order first seen), then `error`. Floats keep full
precision: Python writes the shortest text that reads back as the same
number. In the CSV, text that a spreadsheet would run as a formula is
quoted so that it shows as text.
"""

import csv
import io
import json
from typing import Any

from workrequests.models import ResultChunk, WorkRequest

INPUT_COLUMN = "input"
ERROR_COLUMN = "error"


def merged_records(work_request: WorkRequest) -> list[dict[str, Any] | None]:
    """One record per input position; None where nothing is stored yet."""
    records: list[dict[str, Any] | None] = [None] * work_request.input_count
    chunks = ResultChunk.objects.filter(work_request=work_request).values_list(
        "positions", "records"
    )
    for positions, chunk_records in chunks:
        for position, record in zip(positions, chunk_records, strict=True):
            records[position] = record
    return records


def done_positions(work_request: WorkRequest) -> set[int]:
    positions = ResultChunk.objects.filter(work_request=work_request).values_list(
        "positions", flat=True
    )
    return {position for chunk in positions for position in chunk}


def result_columns(
    declared: list[str], records: list[dict[str, Any] | None]
) -> list[str]:
    columns = [INPUT_COLUMN]
    seen = {INPUT_COLUMN, ERROR_COLUMN}
    for name in declared:
        if name not in seen:
            columns.append(name)
            seen.add(name)
    for record in records:
        for name in record or {}:
            if name not in seen:
                columns.append(name)
                seen.add(name)
    columns.append(ERROR_COLUMN)
    return columns


def result_table(work_request: WorkRequest, inputs: list[str]) -> dict[str, Any]:
    """Columns and rows, in input order, ready to render."""
    records = merged_records(work_request)
    columns = result_columns(work_request.model.output_columns, records)
    rows = []
    for value, record in zip(inputs, records, strict=True):
        row: dict[str, Any] = {name: None for name in columns}
        row.update(record or {})
        row[INPUT_COLUMN] = value
        if record is None:
            row[ERROR_COLUMN] = "No result was computed for this input."
        rows.append(row)
    return {"columns": columns, "rows": rows}


def render_csv(table: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(name) for name in table["columns"]])
    for row in table["rows"]:
        writer.writerow([_cell(row[name]) for name in table["columns"]])
    return buffer.getvalue()


def render_json(table: dict[str, Any]) -> str:
    return json.dumps(table["rows"], ensure_ascii=False, allow_nan=False, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict | list):
        return _text(json.dumps(value, ensure_ascii=False))
    return _text(str(value))


def _text(value: str) -> str:
    """Text a spreadsheet will show as text, never run as a formula.

    Spreadsheets treat a cell starting with =, +, -, @ or a tab as a formula,
    so text from a model or a user that starts so gets a leading quote,
    which spreadsheets hide. Numbers are written as numbers.
    """
    if value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
