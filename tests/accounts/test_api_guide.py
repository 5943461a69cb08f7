"""The curl commands of docs/api.md, run as written against a live server.

The guide's shell blocks are run in order in one bash, with only the server
address changed, while a real Celery worker and the local instance agent
compute the request with the built-in RDKit model.
"""

import csv
import os
import re
import shutil
import subprocess

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from accounts.models import ApiToken, User
from config.schedule import install_schedule
from tests.stack import ROOT, running_stack, stack_logs
from workrequests.models import WorkRequest

GUIDE = ROOT / "docs" / "api.md"
GUIDE_ADDRESS = "http://127.0.0.1:8000"
FLOWS = ("## Without an account", "## With an account")


def _shell_blocks(markdown: str, heading: str) -> list[str]:
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)


def guide_script(base_url: str) -> str:
    markdown = GUIDE.read_text()
    setup = re.findall(r"```bash\n(.*?)```", markdown.split("\n## ", 1)[0], re.DOTALL)
    blocks = setup + [
        block for flow in FLOWS for block in _shell_blocks(markdown, flow)
    ]
    return "\n".join(blocks).replace(GUIDE_ADDRESS, base_url)


def _stack_environment(data_dir) -> dict[str, str]:
    database = connection.settings_dict
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "test-only-secret-key",
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
            f"/{database['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "MODELHUB_DATA_DIR": str(data_dir),
    }


def test_the_guide_has_every_step_of_both_flows():
    script = guide_script("http://server")

    assert script.startswith("MODELHUB=http://server\n")
    for step in (
        "/api/auth/anonymous/",
        "-F file=@examples/drugs.csv -F model=rdkit-descriptors",
        '/api/work-requests/$ID/"',
        "/result/?format=csv",
        "/api/auth/signup/",
        "/api/auth/token/",
        "-X DELETE",
    ):
        assert step in script, step


@pytest.mark.slow
def test_the_curl_flow_in_the_guide_works_against_a_live_server(
    live_server, transactional_db, tmp_path
):
    call_command("register_models", verbosity=0)
    # Beat runs too: its dispatch tick finds the request even when the
    # wake-up sent at submission is lost, as in production.
    install_schedule()
    work = tmp_path / "checkout"
    (work / "examples").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "drugs.csv", work / "examples" / "drugs.csv")
    logs = tmp_path / "logs"

    with running_stack(_stack_environment(tmp_path / "data"), logs, beat=True):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", guide_script(live_server.url)],
            cwd=work,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=420,
        )
        assert result.returncode == 0, result.stdout + result.stderr + stack_logs(logs)

    work_request = WorkRequest.objects.get()
    assert f"Request {work_request.pk} is COMPLETED" in result.stdout
    with (work / "examples" / "drugs.csv").open() as source:
        smiles = [row["smiles"] for row in csv.DictReader(source)]
    with (work / "results.csv").open() as downloaded:
        rows = list(csv.DictReader(downloaded))
    assert [row["input"] for row in rows] == smiles
    assert list(rows[0])[:2] == ["input", "molecular_weight"]
    # The file's last line is a deliberately broken SMILES: only it fails.
    assert [row["error"] != "" for row in rows] == [False] * 12 + [True]
    assert float(rows[0]["molecular_weight"]) == pytest.approx(180.159, abs=0.01)
    # The anonymous request moved into the account made in step 5, and the
    # account's token was revoked in step 8.
    user = User.objects.get(username="ada")
    assert work_request.user == user
    assert f"{work_request.pk} rdkit-descriptors COMPLETED" in result.stdout
    assert ApiToken.objects.count() == 0
