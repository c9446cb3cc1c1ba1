"""A person's own words to a seeker's profile over HTTP and on the command line (issue 21 item 4), demo."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.cli import main
from api.http.app import create_app
from api.http.routers.normalise import MAX_PROFILE_CHARS
from api.settings import Settings
from matching.profile import phrases

PERSON = {"experiences": [
    {"title": "préparatrice de commandes", "description": "Préparation de commandes, conduite de chariot élévateur"},
    {"title": "Conducteur de ligne agro",
     "description": "J'ai appliqué les règles d'hygiène en zone de production alimentaire."},
    {"title": "cariste"}],
    "text": "J'ai relevé les températures de la chaîne du froid.", "k": 3}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(referentiel="demo", database=tmp_path_factory.mktemp("db") / "p.sqlite3")
    with TestClient(create_app(settings)) as c:
        yield c


def test_phrases_cut_lists_and_drop_the_first_person():
    assert phrases("J'ai conduit des chariots, fait les inventaires.\nJe gérais l'équipe / les plannings") == [
        "conduit des chariots", "fait les inventaires", "gérais l'équipe", "les plannings"]


def test_a_profile_gives_occupations_skills_with_their_phrase_and_the_seeker_fields(client):
    response = client.post("/normalise/profile", json=PERSON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["best"]["code"] for e in body["experiences"]] == ["N1103", "H2102", "N1101"]
    assert [o["code"] for o in body["occupations"]][:3] == ["N1101", "N1103", "H2102"]  # score 1.0 ties by code
    assert body["occupations"][0]["experience"] == 2 and len(body["occupations"]) == 3
    skills = {s["code"]: (s["sentence"], s["source"]) for s in body["skills"]}
    assert skills["DS0001"] == ("appliqué les règles d'hygiène en zone de production alimentaire",
                                "experiences.1.description")
    assert skills["DS0352"] == ("conduite de chariot élévateur", "experiences.0.description")
    assert skills["DS0005"][1] == "text"
    assert body["seeker"] == {"occupation": "N1103", "past_occupations": ["H2102", "N1101"],
                              "skills": [s["code"] for s in body["skills"]]}


def test_the_seeker_fields_are_accepted_by_post_seekers(client):
    """The answer is ready to become a seeker: the seekers endpoint takes its fields as they are."""
    seeker = client.post("/normalise/profile", json=PERSON).json()["seeker"]
    key = client.app.state.security.keys.create("counsellor")[0]
    response = client.post("/seekers", json={"id": "words-1", **seeker, "consent": True}, headers={"X-API-Key": key})
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["occupation"] == "N1103" and stored["past_occupations"] == ["H2102", "N1101"]
    assert set(seeker["skills"]) <= set(stored["skills"])


def test_text_alone_is_a_profile_without_occupations(client):
    body = client.post("/normalise/profile", json={"text": "Relever et consigner les températures de la chaîne du froid"}).json()
    assert body["occupations"] == [] and body["experiences"] == [] and body["seeker"]["occupation"] is None
    assert [s["code"] for s in body["skills"]] == ["DS0005"]


@pytest.mark.parametrize(("person", "field", "status"), [
    ({}, "experiences", 422),
    ({"experiences": [], "text": "   "}, "experiences", 422),
    ({"experiences": [{"title": "cariste"}, {"title": ""}]}, "experiences.1.title", 422),
    ({"experiences": [{"title": "cari\u0000ste"}]}, "experiences.0.title", 422),
    ({"experiences": [{"title": "x" * 600}]}, "experiences.0.title", 422),
    ({"experiences": [{"title": "cariste", "description": 3}]}, "experiences.0.description", 422),
    ({"experiences": [{"title": "cariste"}] * 51}, "experiences", 422),
    ({"text": "x" * 20_001}, "text", 422),
    ({"experiences": [{"title": "cariste"}], "k": 0}, "k", 422),
])
def test_bad_input_is_a_problem_naming_the_field(client, person, field, status):
    response = client.post("/normalise/profile", json=person)
    assert response.status_code == status and response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field, response.json()


def test_too_much_text_is_a_413_before_any_work(client):
    many = {"experiences": [{"title": "cariste", "description": "x" * 19_000}] * (MAX_PROFILE_CHARS // 19_000 + 1)}
    response = client.post("/normalise/profile", json=many)
    assert response.status_code == 413 and response.json()["type"].endswith("/too-much-work")


def test_the_anonymous_work_budget_applies(tmp_path):
    settings = Settings(referentiel="demo", database=tmp_path / "p.sqlite3", work_chars_per_request_anonymous=100)
    with TestClient(create_app(settings)) as c:
        response = c.post("/normalise/profile", json={"text": "conduite de chariot élévateur " * 5})
        assert response.status_code == 413 and response.json()["type"].endswith("/work-budget-exceeded")
        assert c.post("/normalise/profile", json={"experiences": [{"title": "cariste"}]}).status_code == 200


def test_the_cli_reads_json_lines_and_the_command_line(tmp_path, capsys):
    people = tmp_path / "people.jsonl"
    people.write_text(json.dumps({"id": "p-1", **PERSON}, ensure_ascii=False) + "\n\n"
                      + json.dumps({"experiences": ["cariste"]}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["normalise", "profile", str(people), "-k", "2", "--out", str(out)]) == 0
    first, second = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert first["id"] == "p-1" and first["seeker"]["id"] == "p-1" and first["seeker"]["occupation"] == "N1103"
    assert all(len(e["candidates"]) <= 2 for e in first["experiences"])
    assert second["seeker"] == {"occupation": "N1101", "past_occupations": [], "skills": []}
    capsys.readouterr()
    assert main(["normalise", "profile", "-e", "cariste", "-t", "conduite de chariot élévateur"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["seeker"]["occupation"] == "N1101" and printed["skills"][0]["code"] == "DS0352"


@pytest.mark.parametrize(("content", "args", "message"), [
    (json.dumps({"experiences": [{"title": "cariste"}, {"title": "  "}]}), [], "line 1, experiences.1.title: the text is empty"),
    ("{not json\n", [], "line 1: not a JSON object"),
    (json.dumps({"id": "a/b", "text": "inventaires"}), [], "line 1, id: must not contain '/'"),
    (json.dumps({"experiences": "cariste"}), [], "line 1, experiences: expected a list"),
    (None, [], "nothing to read"),
    (None, ["-t", "x" * 20_001], "the command line, text: the text has 20,001 characters"),
])
def test_the_cli_names_the_bad_line_and_field(tmp_path, capsys, content, args, message):
    argv = ["normalise", "profile"]
    if content is not None:
        path = tmp_path / "people.jsonl"
        path.write_text(content + "\n", encoding="utf-8")
        argv.append(str(path))
    assert main(argv + args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_long_descriptions_are_read_in_parts_with_the_same_answer(client):
    """Past budget.CHUNK_CHARS of phrases the server reads them in parts (a deadline and a client that
    leaves are checked between parts): the answer is the one read in one go."""
    from matching.profile import Experience, read_profile

    filler = "Accueil des clients du magasin et mise en rayon, " * 170          # about 8,500 characters
    experiences = [{"title": t, "description": filler + d} for t, d in [
        ("cariste", "conduite de chariot élévateur"),
        ("agent de quai", "Relever et consigner les températures de la chaîne du froid"),
        ("conducteur de ligne", "Appliquer les règles d'hygiène en zone de production alimentaire"),
        ("préparateur", "Préparation de commandes")]]
    body = {"experiences": experiences, "text": "conduire un chariot élévateur", "k": 3}
    key = client.app.state.security.keys.create("federation")[0]   # past the anonymous 20,000 characters
    response = client.post("/normalise/profile", json=body, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    state = client.app.state.passerelles
    alone = read_profile(state.title_normaliser, state.skill_normaliser,
                         [Experience(e["title"], e["description"]) for e in experiences], body["text"], k=3)
    answer = response.json()
    assert {s["source"] for s in answer["skills"]} >= {"experiences.1.description", "experiences.2.description", "text"}
    assert {k: v for k, v in answer.items() if k not in ("referentiel", "threshold")} == json.loads(
        json.dumps(alone.as_dict()))
