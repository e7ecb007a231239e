"""`bptt-grade serve` without the extra, `bptt-grade token create|import`."""
import csv
import io

import pytest

from grader import cli
from grader.service.store import Store, database_url


def test_serve_without_the_service_extra_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr("grader.service.missing_extra", lambda: ["fastapi", "uvicorn"])
    assert cli.main(["serve"]) == 2
    assert capsys.readouterr().err == ("bptt-grade: the grading service needs fastapi, uvicorn: "
                                       "pip install 'bptt-grade[service]'\n")


def test_token_create_prints_a_token_stored_only_as_its_hash(tmp_path, capsys):
    assert cli.main(["token", "create", "--role", "instructor", "--name", "ines", "--data", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 43                      # 256 bits, base64url
    store = Store.open(database_url(tmp_path, None))
    assert store.token_user(token).role == "instructor"
    assert token.encode() not in (tmp_path / "service.sqlite").read_bytes()
    store.close()


def test_token_import_prints_a_csv_of_student_tokens(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("student,email\nalice,a@example.org\n\nbob,b@example.org\n")
    assert cli.main(["token", "import", str(roster), "--data", str(tmp_path / "data")]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [row[0] for row in rows] == ["student", "alice", "bob"] and rows[1][1] != rows[2][1]
    store = Store.open(database_url(tmp_path / "data", None))
    assert store.token_user(rows[2][1]).name == "bob"
    store.close()


@pytest.mark.parametrize("text, message", [
    ("alice\nalice\n", "bptt-grade: the roster names 'alice' more than once; keep one line each\n"),
])
def test_a_bad_roster_is_refused(tmp_path, capsys, text, message):
    roster = tmp_path / "roster.csv"
    roster.write_text(text)
    assert cli.main(["token", "import", str(roster), "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err == message


def test_a_missing_roster_is_refused(tmp_path, capsys):
    assert cli.main(["token", "import", str(tmp_path / "nope.csv"), "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"bptt-grade: cannot read the roster {tmp_path / 'nope.csv'}: ")
