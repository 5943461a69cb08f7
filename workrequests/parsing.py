"""Reading the inputs of a work request from pasted text, a file or a list.

The rules, the same for every way in:

- Each line is one row. Rows are read as CSV, so a file with several columns
  works; a quoted field may hold commas but not a line break.
- The first row is a header only when one of its cells names a known column
  (`settings.INPUT_HEADER_NAMES`, such as `smiles` or `input`, in any case);
  that column is then used. Without such a header every row is an input and
  the first column is used, so the first molecule of a header-less file is
  never dropped.
- Surrounding whitespace is trimmed; rows with nothing in the input column
  are skipped.
- A row that cannot be an input at all (control or binary characters, longer
  than `settings.INPUT_MAX_LENGTH`) is an error that names its line; so are
  text that is not UTF-8 and more inputs than the model accepts.

Whether an input is chemically valid is the model's business, not ours.
"""

import csv
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings

_REPORTED_ERRORS = 20
# Reading stops after this many bad lines, or once there are more inputs
# than the model accepts: a huge file of junk costs no more than a small one.
_COLLECTED_ERRORS = 100


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


@dataclass
class ParsedInputs:
    inputs: list[str] = field(default_factory=list)
    column: str | None = None
    skipped_blank: int = 0
    errors: list[LineError] = field(default_factory=list)
    limit_error: str | None = None
    stopped_early: bool = False

    @property
    def is_valid(self) -> bool:
        return not self.errors and self.limit_error is None and bool(self.inputs)

    def error_summary(self) -> str:
        """One message that says what is wrong, naming the first bad lines."""
        if self.errors:
            shown = " ".join(str(error) for error in self.errors[:_REPORTED_ERRORS])
            more = len(self.errors) - _REPORTED_ERRORS
            if self.stopped_early:
                suffix = " And more lines after these."
            elif more > 0:
                suffix = f" And {more} more lines."
            else:
                suffix = ""
            return f"Some lines cannot be inputs. {shown}{suffix}"
        if self.limit_error:
            return self.limit_error
        return "No inputs were found."


def decode_upload(data: bytes) -> tuple[str | None, LineError | None]:
    """UTF-8 text of an uploaded file, or the line where it stops being text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, LineError(1, "the file is UTF-16 text; save it as UTF-8.")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        return None, LineError(line, "the file holds binary data, not text.")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return None, LineError(line, "the file is not UTF-8 text.")


def parse_text(text: str, *, limit: int) -> ParsedInputs:
    """Inputs from pasted text or a decoded file, with a header when named."""
    result = ParsedInputs()
    column_index = 0
    header_seen = False
    known = {name.lower() for name in settings.INPUT_HEADER_NAMES}

    for number, line in enumerate(_lines(text), start=1):
        if _should_stop(result, limit):
            break
        if not line.strip():
            result.skipped_blank += 1
            continue
        problem = _line_problem(line)
        if problem:
            result.errors.append(LineError(number, problem))
            continue
        cells = _cells(line)
        if cells is None:
            result.errors.append(LineError(number, "the line is not valid CSV."))
            continue

        if not header_seen:
            header_seen = True
            names = [cell.strip().lower() for cell in cells]
            matches = [index for index, name in enumerate(names) if name in known]
            if matches:
                column_index = matches[0]
                result.column = cells[column_index].strip()
                continue

        value = cells[column_index].strip() if column_index < len(cells) else ""
        if not value:
            result.skipped_blank += 1
            continue
        result.inputs.append(value)

    _check_limit(result, limit)
    return result


def parse_list(values: list[object], *, limit: int) -> ParsedInputs:
    """Inputs given as a JSON list: one string per input, no header."""
    result = ParsedInputs()
    for number, value in enumerate(values, start=1):
        if _should_stop(result, limit):
            break
        if not isinstance(value, str):
            result.errors.append(LineError(number, "each input must be a string."))
            continue
        if not value.strip():
            result.skipped_blank += 1
            continue
        problem = _line_problem(value)
        if problem:
            result.errors.append(LineError(number, problem))
            continue
        result.inputs.append(value.strip())

    _check_limit(result, limit)
    return result


def _lines(text: str) -> list[str]:
    """The lines of `text`, ended by LF, CRLF or a lone CR and nothing else.

    `str.splitlines` would also break at form feeds, vertical tabs, file
    separators and Unicode line separators, hiding control characters that
    make a line unacceptable, and numbering the lines after them wrongly.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _should_stop(result: ParsedInputs, limit: int) -> bool:
    if len(result.errors) >= _COLLECTED_ERRORS:
        result.stopped_early = True
    return result.stopped_early or len(result.inputs) > limit


def _line_problem(line: str) -> str | None:
    if len(line.strip()) > settings.INPUT_MAX_LENGTH:
        return f"longer than {settings.INPUT_MAX_LENGTH} characters."
    for character in line:
        if character == "\t":
            continue
        if unicodedata.category(character) in {"Cc", "Cs", "Co", "Cn", "Zl", "Zp"}:
            return "holds control or binary characters."
    return None


def _cells(line: str) -> list[str] | None:
    try:
        # Strict, so that an unclosed quote is an error, not an input.
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return None
    return rows[0] if rows else [""]


def _check_limit(result: ParsedInputs, limit: int) -> None:
    if len(result.inputs) > limit:
        result.limit_error = (
            f"This model accepts at most {limit} inputs per request; more were given."
        )
