"""`mvtrack review`: the store (OUT_DIR only, atomic saves), the JSON API and the command line."""

from __future__ import annotations

import base64
import csv
import io
import json
import threading
from datetime import UTC

import numpy as np
import pytest
from review_fixtures import N_FRAMES, SHAPE, write_out_dir
from starlette.testclient import TestClient
from typer.testing import CliRunner

from mvtrack.cli import app as cli
from mvtrack.results import read_result
from mvtrack.review.app import create_app
from mvtrack.review.store import (
    KEPT_PREFIX,
    ReviewError,
    ReviewStore,
    kept_name,
    summary_with_row,
    window_frames,
    worklist_order,
)


@pytest.fixture
def out_dir(tmp_path):
    return write_out_dir(tmp_path / "out")


@pytest.fixture
def client(out_dir):
    return TestClient(create_app(out_dir), base_url="http://127.0.0.1")


def _anchors(result: dict, view: str, shifts: dict[int, float]) -> dict:
    """Anchors moving both points of the given frames by ``shift`` px in y."""
    points = np.asarray(result["views"][view]["points_px"])
    return {view: {str(f): (points[f] + [[0.0, s], [0.0, s]]).tolist() for f, s in shifts.items()}}


def _summary(out_dir) -> dict[str, dict]:
    with open(out_dir / "summary.csv", newline="") as stream:
        return {row["study"]: row for row in csv.DictReader(stream)}


# -- pure helpers


def test_worklist_puts_flagged_unreviewed_studies_first():
    entries = [{"study": "a", "needs_review": False, "reviewed": False}, {"study": "b", "needs_review": True, "reviewed": True},
               {"study": "c", "needs_review": True, "reviewed": False}]
    assert [e["study"] for e in worklist_order(entries)] == ["c", "b", "a"]


def test_window_frames_and_kept_names():
    frames = np.concatenate([np.zeros((1, 4, 4)), np.full((1, 4, 4), 100.0), np.full((1, 4, 4), 1e6)])
    frames[0, 0, 0] = np.nan
    images = window_frames(frames)
    assert images.dtype == np.uint8 and images[0, 0, 0] == 0 and images[2].min() == 255
    from datetime import datetime

    now = datetime(2026, 12, 6, 20, 30, 1, tzinfo=UTC)
    first = kept_name(now, set())
    assert first == f"{KEPT_PREFIX}20261206T203001Z.json"
    assert kept_name(now, {first}) == f"{KEPT_PREFIX}20261206T203001Z-2.json"


def test_summary_gains_the_reviewed_column_before_status():
    header, rows = summary_with_row(["study", "mapse_mm", "status"], [{"study": "a", "mapse_mm": "1", "status": "done"},
                                                                        {"study": "b", "mapse_mm": "2", "status": "done"}],
                                    {"study": "b", "mapse_mm": 3.0, "reviewed": True, "not_a_column": 1})
    assert header == ["study", "mapse_mm", "reviewed", "status"]
    assert rows[1] == {"study": "b", "mapse_mm": 3.0, "status": "done", "reviewed": True}
    assert rows[0] == {"study": "a", "mapse_mm": "1", "status": "done"}


# -- API


def test_list_studies(client):
    data = client.get("/api/studies").json()
    assert [s["study"] for s in data["studies"]] == ["charlie", "alpha", "bravo"]  # QC-flagged first
    first = data["studies"][0]
    assert first["needs_review"] and first["qc_reasons"] and not first["reviewed"]
    assert first["views"] == ["2CH", "4CH"] and first["mapse_mm"] > 0 and "e_prime_cm_s" in first


def test_an_unreadable_result_is_listed_as_such(client, out_dir):
    (out_dir / "bravo" / "results.json").write_text("{broken")
    entry = next(s for s in client.get("/api/studies").json()["studies"] if s["study"] == "bravo")
    assert entry["unreadable"] and entry["needs_review"] and "unreadable" in entry["qc_reasons"][0]
    response = client.get("/api/studies/bravo")
    assert response.status_code == 500 and response.json()["error"].startswith("bravo/results.json: unreadable")


def test_pages_and_static_files_are_served(client):
    for path in ("/", "/study?id=alpha", "/static/study.js", "/static/worklist.js", "/static/review.css"):
        response = client.get(path)
        assert response.status_code == 200, path
    assert "cdn" not in client.get("/static/study.js").text.lower()  # works offline: nothing from elsewhere
    assert "http" not in client.get("/study").text.replace("https://", "http://").split("<body>")[0]


def test_get_a_view_and_its_frames(client):
    data = client.get("/api/studies/alpha").json()
    assert data["anchors"] == {} and data["kept"] == []
    assert np.asarray(data["result"]["views"]["2CH"]["points_px"]).shape == (N_FRAMES, 2, 2)
    frames = client.get("/api/studies/alpha/frames/2CH").json()
    assert (frames["height"], frames["width"]) == SHAPE and len(frames["frames"]) == N_FRAMES
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(frames["frames"][3])))
    assert image.format == "PNG" and image.size == (SHAPE[1], SHAPE[0])
    assert client.get("/api/studies/alpha/frames/3CH").status_code == 404


def test_a_study_without_saved_frames_says_how_to_get_them(client, out_dir):
    (out_dir / "alpha" / "cines" / "4CH.npz").unlink()
    response = client.get("/api/studies/alpha/frames/4CH")
    assert response.status_code == 404 and "rerun mvtrack analyze --force" in response.json()["error"]
    assert client.get("/api/studies/alpha").status_code == 200  # the points and curves are still there


def test_post_anchors_retracks_without_saving(client, out_dir):
    before = (out_dir / "alpha" / "results.json").read_bytes()
    result = client.get("/api/studies/alpha").json()["result"]
    es = int(np.argmax(result["views"]["2CH"]["displacement_mm"]))
    anchors = _anchors(result, "2CH", {0: 2.0, es: -2.0})
    reviewed = client.post("/api/studies/alpha/review", json={"anchors": anchors}).json()["result"]
    np.testing.assert_allclose(reviewed["views"]["2CH"]["points_px"][0], anchors["2CH"]["0"])
    assert reviewed["views"]["2CH"]["metrics"]["mapse_mm"] < result["views"]["2CH"]["metrics"]["mapse_mm"] - 2
    assert reviewed["review"]["reader_confirmed"] == ["2CH"]
    assert (out_dir / "alpha" / "results.json").read_bytes() == before


def test_save_keeps_the_previous_result_and_updates_every_output(client, out_dir):
    folder = out_dir / "charlie"
    before = folder.joinpath("results.json").read_text()
    report_before = folder.joinpath("report.html").stat().st_mtime_ns
    result = client.get("/api/studies/charlie").json()["result"]
    es = int(np.argmax(result["views"]["4CH"]["displacement_mm"]))
    anchors = _anchors(result, "4CH", {0: 1.5, es: -1.0})
    answer = client.post("/api/studies/charlie/save", json={"anchors": anchors}).json()
    assert answer["kept"].startswith(KEPT_PREFIX)
    assert folder.joinpath(answer["kept"]).read_text() == before  # nothing is lost
    saved = read_result(folder / "results.json")
    assert saved["review"]["anchors"]["4CH"].keys() == {"0", str(es)}
    assert saved["review"]["when"] and saved["review"]["tool_version"] and saved["review"]["models"]
    np.testing.assert_allclose(saved["views"]["4CH"]["review"]["points_px_auto"], result["views"]["4CH"]["points_px"])
    rows = _summary(out_dir)
    assert rows["charlie"]["reviewed"] == "True" and rows["alpha"]["reviewed"] == ""
    assert float(rows["charlie"]["mapse_4ch_mm"]) == pytest.approx(saved["views"]["4CH"]["metrics"]["mapse_mm"], abs=0.01)
    assert rows["charlie"]["status"] == "done"
    with open(folder / "results.csv", newline="") as stream:
        assert next(csv.DictReader(stream))["reviewed"] == "True"
    assert folder.joinpath("report.html").stat().st_mtime_ns > report_before
    assert folder.joinpath("curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left
    # the worklist and a reopened page see the review, and can continue it
    entry = next(s for s in client.get("/api/studies").json()["studies"] if s["study"] == "charlie")
    assert entry["reviewed"] and entry["reader_confirmed"] == ["4CH"]
    assert client.get("/api/studies/charlie").json()["anchors"] == json.loads(json.dumps(saved["review"]["anchors"]))


def test_undo_reset_and_restore(client, out_dir):
    auto = client.get("/api/studies/bravo").json()["result"]
    first = _anchors(auto, "2CH", {0: 2.0})
    second = {"2CH": {**first["2CH"], **_anchors(auto, "2CH", {5: -2.0})["2CH"]}}
    one = client.post("/api/studies/bravo/review", json={"anchors": first}).json()["result"]
    client.post("/api/studies/bravo/review", json={"anchors": second})
    undone = client.post("/api/studies/bravo/review", json={"anchors": first}).json()["result"]  # the page's undo
    assert undone["views"]["2CH"]["points_px"] == one["views"]["2CH"]["points_px"]
    client.post("/api/studies/bravo/save", json={"anchors": second})
    reset = client.post("/api/studies/bravo/review", json={"anchors": {}}).json()["result"]
    assert "review" not in reset and reset["views"]["2CH"]["points_px"] == auto["views"]["2CH"]["points_px"]
    assert reset["metrics"]["mapse_mm"] == pytest.approx(auto["metrics"]["mapse_mm"])
    # a saved review undone from the kept files
    [kept] = client.get("/api/studies/bravo").json()["kept"]
    answer = client.post("/api/studies/bravo/restore", json={"file": kept}).json()
    assert "review" not in read_result(out_dir / "bravo" / "results.json")
    assert len(client.get("/api/studies/bravo").json()["kept"]) == 2 and answer["kept"] != kept
    assert _summary(out_dir)["bravo"]["reviewed"] == "False"


@pytest.mark.parametrize("body, message", [
    ({"anchors": {"3CH": {"0": [[1, 2], [3, 4]]}}}, "tracked views are 2CH, 4CH"),
    ({"anchors": {"2CH": {"99": [[1, 2], [3, 4]]}}}, "outside the cine's frames"),
    ({"anchors": {"2CH": {"0": [[1, 2], [3, 900]]}}}, "outside the 72 x 64 frame"),
    ({"anchors": ["2CH"]}, "anchors must be"),
])
def test_bad_anchors_are_one_line_and_change_nothing(client, out_dir, body, message):
    before = (out_dir / "alpha" / "results.json").read_bytes()
    for action in ("review", "save"):
        response = client.post(f"/api/studies/alpha/{action}", json=body)
        assert response.status_code == 400 and message in response.json()["error"]
        assert "\n" not in response.json()["error"] and "Traceback" not in response.text
    assert (out_dir / "alpha" / "results.json").read_bytes() == before
    assert client.post("/api/studies/alpha/review", content=b"{not json").json()["error"] == "the request body is not JSON"


# -- only OUT_DIR


@pytest.mark.parametrize("path", [
    "/files/alpha/../../secret.txt", "/files/alpha/..%2f..%2fsecret.txt", "/files/%2e%2e/secret.txt",
    "/files/alpha/%2e%2e/%2e%2e/secret.txt", "/files/alpha//etc/passwd", "/files/alpha/%2Fetc%2Fpasswd",
    "/files/..%2Fsecret.txt/x", "/api/studies/..%2F..", "/api/studies/%2e%2e/frames/2CH", "/files/alpha/.lock",
    "/files/alpha/cines/../../../secret.txt", "/files/alpha/a/b/c", "/static/../cli.py", "/static/%2e%2e/cli.py",
    "/api/studies/outside/frames/2CH", "/files/alpha/link.txt", "/files/outside/secret.txt",
])
def test_nothing_outside_out_dir_is_served(out_dir, client, path):
    (out_dir.parent / "secret.txt").write_text("s3cret content")
    outside = out_dir.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("s3cret content")
    (outside / "results.json").write_bytes((out_dir / "alpha" / "results.json").read_bytes())
    (out_dir / "outside").symlink_to(outside, target_is_directory=True)  # a study folder that leads out
    (out_dir / "alpha" / "link.txt").symlink_to(out_dir.parent / "secret.txt")  # a file that leads out
    (out_dir / "alpha" / ".lock").write_text("h1dden content")
    response = client.get(path)
    assert response.status_code in (400, 404) and "content" not in response.text
    assert "outside" not in [s["study"] for s in client.get("/api/studies").json()["studies"]]


def test_a_study_file_is_served(client):
    assert client.get("/files/alpha/report.html").text.startswith("<!doctype html>")
    assert client.get("/files/alpha/results.csv").status_code == 200


def test_store_refuses_names_that_lead_out(out_dir):
    store = ReviewStore(out_dir)
    for study in ("..", ".", "/etc", "alpha/../bravo", "", ".hidden", "a\x00b"):
        with pytest.raises(ReviewError):
            store.study_dir(study)
    for name in ("../alpha/results.json", "/etc/passwd", "cines/../../bravo/results.json", "results.json/.."):
        with pytest.raises(ReviewError):
            store.study_file("alpha", name)
    with pytest.raises(ReviewError, match="not a results.json kept"):
        store.restore("alpha", "results.json")
    with pytest.raises(ReviewError, match="no such folder"):
        ReviewStore(out_dir / "missing")


def test_writes_only_from_local_pages(client):
    body = {"anchors": {}}
    assert client.post("/api/studies/alpha/save", json=body, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/api/studies/alpha/save", json=body, headers={"Origin": "http://127.0.0.1"}).status_code == 200
    assert client.get("/api/studies", headers={"Host": "evil.example"}).status_code == 400  # DNS rebinding


def test_concurrent_saves_from_two_apps_do_not_corrupt(out_dir):
    stores = [ReviewStore(out_dir), ReviewStore(out_dir)]  # two `mvtrack review` on one OUT_DIR
    auto = stores[0].result("alpha")
    errors = []

    def saves(store, shift):
        try:
            for k in range(2):
                store.save("alpha", _anchors(auto, "2CH", {0: shift + k}))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=saves, args=(store, shift)) for store, shift in zip(stores, (1.0, -1.0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    saved = read_result(out_dir / "alpha" / "results.json")  # valid, and one of the saves
    shift = saved["review"]["anchors"]["2CH"]["0"][0][1] - auto["views"]["2CH"]["points_px"][0][0][1]
    assert shift == pytest.approx(2.0, abs=1e-3) or shift == pytest.approx(0.0, abs=1e-3)
    kept = stores[0].kept("alpha")
    assert len(kept) == 4 and all(read_result(out_dir / "alpha" / k) for k in kept)
    assert _summary(out_dir)["alpha"]["reviewed"] == "True"
    assert not [p for p in (out_dir / "alpha").iterdir() if p.name.startswith(".") and p.name != ".mvtrack-review.lock"]


# -- command line


def test_cli_review_errors_are_one_line(tmp_path, out_dir):
    runner = CliRunner()
    result = runner.invoke(cli, ["review", str(tmp_path / "missing"), "--no-browser"])
    assert result.exit_code == 2 and "no such folder" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["review", str(out_dir / "alpha"), "--no-browser"])
    assert result.exit_code == 2 and "one study's folder" in result.output and str(out_dir) in result.output
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(cli, ["review", str(out_dir), "--no-browser", "--port", str(port)])
    assert result.exit_code == 2 and f"port {port}" in result.output and "Traceback" not in result.output


def test_cli_review_serves_on_localhost(out_dir, monkeypatch):
    import uvicorn

    seen = {}

    def run(self, sockets=None):
        seen["address"] = sockets[0].getsockname()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    result = CliRunner().invoke(cli, ["review", str(out_dir), "--no-browser"])
    assert result.exit_code == 0, result.output
    host, port = seen["address"]
    assert host == "127.0.0.1" and port > 0 and f"http://127.0.0.1:{port}/" in result.output
    assert "3 analysed studies" in result.output and not opened


def _raw_get(url: str, path: str) -> bytes:
    """GET ``path`` exactly as written (no client normalises its dot segments)."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_raw_dot_segments_stay_inside(out_dir):
    from mvtrack.review.browser import serving

    (out_dir.parent / "secret.txt").write_text("s3cret content")
    with serving(out_dir) as url:
        assert b"200 OK" in _raw_get(url, "/files/alpha/results.csv")
        for path in ("/files/alpha/../../secret.txt", "/files/alpha/cines/../../../secret.txt", "/static/../../../secret.txt",
                     "/files/alpha/%2e%2e/%2e%2e/secret.txt", "/static/..%2f..%2f..%2fsecret.txt", "/../secret.txt"):
            answer = _raw_get(url, path)
            assert b"s3cret" not in answer and answer.split(b" ")[1] in (b"400", b"404"), path


def test_save_redraws_the_overlay_movies_with_the_saved_points(client, out_dir):
    from mvtrack.io.npz import read_npz_cine
    from mvtrack.report.movie import write_movies

    folder = out_dir / "alpha"
    cine = read_npz_cine(folder / "cines" / "2CH.npz")
    auto = read_result(folder / "results.json")
    write_movies(cine.frames, np.asarray(auto["views"]["2CH"]["points_px"]), cine.times_s, folder / "overlay_2ch", ("gif",))
    before = (folder / "overlay_2ch.gif").read_bytes()
    client.post("/api/studies/alpha/save", json={"anchors": _anchors(auto, "2CH", {0: 3.0})})
    assert (folder / "overlay_2ch.gif").read_bytes() != before
    assert not (folder / "overlay_4ch.gif").exists()  # only the movies analyze wrote
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    assert "overlay_2ch.gif" in (folder / "report.html").read_text()
