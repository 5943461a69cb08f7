"""Log formatting that keeps the context passed in `extra`.

Log calls use a fixed message and pass their context as fields, for example
`logger.info("Instance ready", extra={"instance": 7})`. The standard formatter
drops those fields; this one appends them as `key=value` pairs.
"""

import logging

_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class FieldsFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
        }
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return line
