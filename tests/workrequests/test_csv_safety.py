"""CSV downloads are opened in spreadsheets by people who are not engineers."""

from workrequests.results import render_csv


def test_text_that_a_spreadsheet_would_run_is_quoted():
    table = {
        "columns": ["input", "=cmd|' /C calc'!A0", "error"],
        "rows": [
            {
                "input": "=1+2",
                "=cmd|' /C calc'!A0": '=HYPERLINK("http://x")',
                "error": "@SUM(A1)",
            },
            {"input": "CCO", "=cmd|' /C calc'!A0": -0.5, "error": None},
        ],
    }

    lines = render_csv(table).splitlines()

    assert lines[0] == "input,'=cmd|' /C calc'!A0,error"
    assert lines[1] == '\'=1+2,"\'=HYPERLINK(""http://x"")",\'@SUM(A1)'
    assert lines[2] == "CCO,-0.5,"
