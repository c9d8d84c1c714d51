"""`deeperfour weights download` against a real HTTP server on 127.0.0.1 (started here) serving a generated checkpoint:
a full download, one cut off and resumed with a Range request, a corrupted one refused, a server that is down."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from deeperfour.errors import WeightsError
from deeperfour.models.catalog import SOURCES, Source
from deeperfour.models.download import download, source_for
from deeperfour.models.registry import build_model
from deeperfour.models.store import metadata


class Server:
    """Serves `files` (path -> bytes) with Range support; `cut[path] = n` sends the first n bytes of the next full
    response, then drops the connection. Every request's path and Range header is kept in `requests`."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if self.path in server.cut and not rng:
                    body = body[: server.cut.pop(self.path)]
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)  # the connection drops mid-file
                    return
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client refused the file from its headers and hung up

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    with Server() as s:
        yield s


@pytest.fixture(scope="module")
def hayao_like(tmp_path_factory) -> bytes:
    """A checkpoint of CartoonGAN's keys and shapes (float16, like a *_float16 file), generated here."""
    sd = {k: (v * 0.5 + 0.1).half() for k, v in build_model("cartoongan").state_dict().items()}
    path = tmp_path_factory.mktemp("ckpt") / "cartoongan-hayao.pth"
    torch.save(sd, path)
    return path.read_bytes()


def source(data: bytes, url: str, **changes) -> Source:
    """The catalog's cartoongan:hayao entry with this test's file, address and hash."""
    fields = dict(
        model="cartoongan:hayao",
        filename="cartoongan-hayao.pth",
        urls=(url,),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        pinned_by="the test",
    )
    return Source(**{**fields, **changes})


def test_full_download_is_checked_imported_and_its_origin_recorded(server, hayao_like, tmp_path, monkeypatch):
    server.files["/cartoongan-hayao.pth"] = hayao_like
    store = tmp_path / "store"
    target = download(source(hayao_like, server.url + "/cartoongan-hayao.pth"), store, quiet=True)
    assert target == store / "cartoongan-hayao.safetensors"
    meta = metadata(target)
    assert meta["source"] == server.url + "/cartoongan-hayao.pth"
    assert meta["source_sha256"] == hashlib.sha256(hayao_like).hexdigest()
    assert meta["source_size"] == str(len(hayao_like)) and meta["downloaded_at"].endswith("Z")
    assert meta["sha256_check"] == "matched the hash published by the test"
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == ["cartoongan-hayao.safetensors"]
    assert server.requests == [("/cartoongan-hayao.pth", None)]

    from deeperfour.models.weights import load_model

    monkeypatch.setenv("DEEPERFOUR_MODEL_STORE", str(store))
    model, _ = load_model("cartoonize", "cartoongan", style="hayao")
    assert model.weights_path == target


def test_a_cut_off_download_resumes_where_it_stopped(server, hayao_like, tmp_path):
    server.files["/f.pth"] = hayao_like
    server.cut["/f.pth"] = cut = len(hayao_like) // 3
    store = tmp_path / "store"
    src = source(hayao_like, server.url + "/f.pth")
    with pytest.raises(WeightsError) as e:
        download(src, store, quiet=True)
    assert "interrupted after" in str(e.value) and "run the same command again to resume" in str(e.value)
    part = store / "downloads" / "cartoongan-hayao.pth.part"
    assert part.stat().st_size == cut  # kept for the next run
    assert not (store / "cartoongan-hayao.safetensors").exists()

    target = download(src, store, quiet=True)
    assert server.requests == [("/f.pth", None), ("/f.pth", f"bytes={cut}-")]
    assert metadata(target)["source_sha256"] == hashlib.sha256(hayao_like).hexdigest()
    assert not part.exists()


@pytest.mark.parametrize("damage", ["one-byte-flipped", "truncated-by-the-server"])
def test_a_corrupted_download_is_refused_and_deleted(server, hayao_like, tmp_path, damage):
    if damage == "one-byte-flipped":
        bad = bytearray(hayao_like)
        bad[len(bad) // 2] ^= 0xFF
        served, words = bytes(bad), "sha256"
    else:  # the server offers a shorter file than the published size
        served, words = hayao_like[:-1000], f"{len(hayao_like) - 1000:,} bytes, but cartoongan-hayao.pth is"
    server.files["/f.pth"] = served
    store = tmp_path / "store"
    with pytest.raises(WeightsError) as e:
        download(source(hayao_like, server.url + "/f.pth"), store, quiet=True)
    assert "refused" in str(e.value) and words in str(e.value), str(e.value)
    assert not (store / "cartoongan-hayao.safetensors").exists()
    assert [p.name for p in (store / "downloads").iterdir()] == []


def test_a_file_without_a_published_hash_records_the_one_computed(server, hayao_like, tmp_path):
    server.files["/f.pth"] = hayao_like
    target = download(source(hayao_like, server.url + "/f.pth", size=None, sha256=None), tmp_path, quiet=True)
    meta = metadata(target)
    assert meta["source_sha256"] == hashlib.sha256(hayao_like).hexdigest()
    assert meta["sha256_check"] == "no published hash: recorded as computed"


def test_mirrors_are_tried_in_order(server, hayao_like, tmp_path):
    server.files["/good.pth"] = hayao_like
    src = source(hayao_like, server.url + "/missing.pth")
    target = download(src, tmp_path, urls=[server.url + "/missing.pth", server.url + "/good.pth"], quiet=True)
    assert metadata(target)["source"] == server.url + "/good.pth"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "deeperfour", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_cli_server_down_is_one_line_and_leaves_nothing(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/ColorizeArtistic_gen.pth"
    r = run_cli("weights", "download", "deoldify-artistic", "--url", url, "--store", tmp_path / "store")
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "cannot download deoldify-artistic" in lines[0] and "connection refused" in lines[0]
    assert "offline?" in lines[0] and "deeperfour weights import FILE --model deoldify-artistic" in lines[0]
    assert not (tmp_path / "store" / "deoldify-artistic.safetensors").exists()


def test_cli_refuses_a_mirror_whose_file_is_not_the_published_one(server, hayao_like, tmp_path):
    """The real catalog entry: its pinned sha256 is not that of the generated checkpoint."""
    server.files["/mirror/cartoongan-hayao.pth"] = hayao_like
    store = tmp_path / "store"
    args = ("weights", "download", "cartoongan:hayao", "--url", server.url + "/mirror/cartoongan-hayao.pth")
    r = run_cli(*args, "--store", store, "--quiet")
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"is not the published {SOURCES['cartoongan:hayao'].sha256[:16]}" in lines[0]
    assert [p.name for p in store.rglob("*") if p.is_file()] == []


def test_unknown_models_are_named():
    with pytest.raises(WeightsError, match="say which CartoonGAN style"):
        source_for("cartoongan")
    with pytest.raises(WeightsError, match="nothing published to download for 'lai2018'"):
        source_for("lai2018")
    assert source_for("CartoonGAN:Shinkai").filename == "cartoongan-shinkai.pth"
