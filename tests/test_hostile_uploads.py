"""Hostile and broken uploads through the real app (TestClient) and a real `ragqa serve`: each is
refused with its reason, never a 500, never a crash, never unbounded memory or time, never a file
written outside the data folder; the other files of the same upload are added.

PDFs are written by hand here (`_pdf`), an encrypted one with the standard RC4 40-bit security
handler (`_encrypted_pdf`), and checked to be what they claim with pypdfium2 itself. Zip bombs are
written by hand too (`_zip`): one megabyte of deflated spaces repeated, so a part that inflates
to gigabytes costs milliseconds and a few megabytes to make.
"""

from __future__ import annotations

import hashlib
import io
import resource
import socket
import struct
import time
import tracemalloc
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import openpyxl
import pypdfium2 as pdfium
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from fastapi.testclient import TestClient
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.ingest.docstore import DocumentStore
from ragqa.ingest.errors import ReadError
from ragqa.ingest.readers import read_document
from ragqa.service.app import create_app
from ragqa.service.pipeline import Pipeline

from . import serving
from .conftest import settings_for

KEY = "hostile"
AUTH = {"Authorization": f"Bearer {KEY}"}
GOOD = "第一条 本市设立夜航管理所。\n".encode()
MB = 1 << 20


# ---------------------------------------------------------------- an app on its own small index


def _app(tmp_path: Path, **settings: Any) -> TestClient:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "规定.txt").write_text("第一条 本市设立银杏档案馆，负责档案保管。\n第二条 银杏档案馆开放查阅。\n", encoding="utf-8")
    ingest_paths([corpus], tmp_path / "index", HashEmbedder(16))
    config = settings_for(tmp_path / "index", admin_key=KEY, **settings)
    return TestClient(create_app(config, Pipeline.from_settings(config)))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _app(tmp_path) as c:
        yield c


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the broken-file cases, which each add their own good file."""
    with _app(tmp_path_factory.mktemp("broken")) as c:
        yield c


def _upload(client: TestClient, *files: tuple[str, bytes]) -> httpx.Response:
    return client.post("/v1/documents", files=[("files", (name, data, "application/octet-stream")) for name, data in files], headers=AUTH)


def _raw_upload(client: TestClient, *files: tuple[bytes, bytes]) -> httpx.Response:
    """A multipart body written byte for byte: httpx percent-encodes control characters in file
    names, a hostile client need not."""
    body = b"".join(b'--B\r\nContent-Disposition: form-data; name="files"; filename="' + name + b'"\r\n'
                    b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n" for name, data in files) + b"--B--\r\n"
    return client.post("/v1/documents", content=body, headers={**AUTH, "content-type": "multipart/form-data; boundary=B"})


def _outcome(response: httpx.Response) -> tuple[list[str], dict[str, str]]:
    assert response.status_code == 200, response.text
    body = response.json()
    return body["added"], {s["name"]: s["reason"] for s in body["skipped"]}


def _lines(client: TestClient, doc: str) -> list[str]:
    response = client.get(f"/v1/documents/{doc}/lines")
    assert response.status_code == 200, response.text
    return [line["text"] for line in response.json()["lines"]]


def _assert_only_expected_files(tmp_path: Path) -> None:
    """Nothing was written outside the index and data folders, and the data folder holds the
    catalog's files and nothing else (no upload left half-received in incoming/)."""
    assert {p.name for p in tmp_path.iterdir()} <= {"corpus", "index", ".index.builds", "index.data"}
    data = tmp_path / "index.data"
    if not data.exists():  # the store starts with the first upload that adds something
        return
    assert {p.name for p in data.iterdir()} <= {"catalog.json", "files", "incoming", "jobs.jsonl", ".lock"}
    assert not (data / "incoming").exists() or not any((data / "incoming").iterdir())
    stored = list((data / "files").iterdir()) if (data / "files").exists() else []
    assert sorted(p.name for p in stored) == sorted(e.file for e in DocumentStore(data).entries().values())
    assert all(p.is_file() and not p.is_symlink() for p in stored)


# ---------------------------------------------------------------- hand-written PDFs

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def _text_pdf(content: bytes = b"BT /F1 24 Tf 72 700 Td (Hello encrypted world) Tj ET", extra: list[bytes] | None = None,
              trailer: bytes = b"", box: bytes = b"0 0 612 792") -> bytes:
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [" + box + b"] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
                 b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
                 b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", *(extra or [])], trailer)


def _encrypted_pdf(user: bytes, owner: bytes = b"owner") -> bytes:
    """A one-page PDF encrypted by the standard security handler, revision 2 (RC4, 40-bit key),
    its content stream encrypted with it; `user` is the password that opens it."""
    file_id = hashlib.md5(b"ragqa").digest()
    o = _rc4(hashlib.md5((owner + _PAD)[:32]).digest()[:5], (user + _PAD)[:32])
    key = hashlib.md5((user + _PAD)[:32] + o + (-44).to_bytes(4, "little", signed=True) + file_id).digest()[:5]
    content = _rc4(hashlib.md5(key + (4).to_bytes(3, "little") + b"\0\0").digest()[:10], b"BT /F1 24 Tf 72 700 Td (Hello encrypted world) Tj ET")
    encrypt = b"<< /Filter /Standard /V 1 /R 2 /O <" + o.hex().encode() + b"> /U <" + _rc4(key, _PAD).hex().encode() + b"> /P -44 >>"
    ids = b"<" + file_id.hex().encode() + b">"
    return _text_pdf(content, [encrypt], b"/Encrypt 6 0 R /ID [" + ids + b" " + ids + b"] ")


# ---------------------------------------------------------------- hand-written zips

_SPACES = b" " * MB


def _deflated(*pieces: bytes, spaces_mb: int = 0) -> tuple[bytes, int, int]:
    """(raw deflate stream, crc32, size) of pieces[0] + `spaces_mb` MB of spaces + pieces[1:]:
    separately compressed, fully flushed blocks, which concatenate into one valid stream."""
    head, *tail = pieces
    one = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = one.compress(_SPACES) + one.flush(zlib.Z_FULL_FLUSH)
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = first.compress(head) + first.flush(zlib.Z_FULL_FLUSH) + block * spaces_mb + last.compress(b"".join(tail)) + last.flush()
    crc = zlib.crc32(head)
    for _ in range(spaces_mb):
        crc = zlib.crc32(_SPACES, crc)
    return stream, zlib.crc32(b"".join(tail), crc), len(head) + spaces_mb * MB + sum(map(len, tail))


def _zip(members: list[tuple[str, tuple[bytes, int, int]]]) -> bytes:
    """A zip archive of already deflated members (name, (stream, crc, size))."""
    out, central = bytearray(), bytearray()
    for name, (stream, crc, size) in members:
        n = name.encode()
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(stream), size, len(n), 0, 0, 0, 0, 0, len(out)) + n
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(stream), size, len(n), 0) + n + stream
    return bytes(out + central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0))


def _office_bomb(original: bytes, part: str, after: bytes, spaces_mb: int, recorded_size: int | None = None) -> bytes:
    """`original` (a real .docx/.xlsx) with `spaces_mb` MB of spaces inserted into `part` after
    `after`: still a valid document that inflates to that much more. With `recorded_size`, the
    zip directory says `part` inflates to that (a lie)."""
    members = []
    with zipfile.ZipFile(io.BytesIO(original)) as z:
        for info in z.infolist():
            data = z.read(info.filename)
            if info.filename == part:
                cut = data.index(after) + len(after)
                stream, crc, size = _deflated(data[:cut], data[cut:], spaces_mb=spaces_mb)
                members.append((info.filename, (stream, crc, recorded_size or size)))
            else:
                members.append((info.filename, _deflated(data)))
    return _zip(members)


def _docx(text: str = "第一条 这是一份正常的文件。") -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- 1. encrypted PDF


def test_an_encrypted_pdf_is_skipped_as_encrypted_and_the_rest_of_the_upload_added(client: TestClient) -> None:
    locked = _encrypted_pdf(user=b"secret")
    with pytest.raises(pdfium.PdfiumError):
        pdfium.PdfDocument(locked)
    assert "Hello encrypted world" in pdfium.PdfDocument(locked, password="secret")[0].get_textpage().get_text_range()  # a real one
    zero = io.BytesIO()
    pdfium.PdfDocument.new().save(zero)
    added, skipped = _outcome(_upload(client, ("加密.pdf", locked), ("好.txt", GOOD), ("仅限打印.pdf", _encrypted_pdf(user=b"")),
                                      ("零页.pdf", zero.getvalue())))
    assert sorted(added) == ["仅限打印.pdf", "好.txt"]  # an owner password alone does not stop reading
    assert set(skipped) == {"加密.pdf", "零页.pdf"} and "encrypted" in skipped["加密.pdf"] and "加密" in skipped["加密.pdf"]
    # read right after the encrypted one, PDFium still reports "password" for a file without pages
    assert "encrypted" not in skipped["零页.pdf"] and "no pages" in skipped["零页.pdf"]
    assert _lines(client, "仅限打印.pdf") == ["Hello encrypted world"]
    alone = _upload(client, ("加密.pdf", locked))
    assert alone.status_code == 400 and alone.json()["error"]["code"] == "unreadable_document" and "encrypted" in alone.text


# ---------------------------------------------------------------- 2. zip bombs


def test_a_docx_zip_bomb_is_refused_from_its_zip_directory_before_it_is_inflated(client: TestClient, tmp_path: Path) -> None:
    bomb = _office_bomb(_docx(), "word/document.xml", b"<w:body>", spaces_mb=2048)
    assert len(bomb) < 3 * MB
    path = tmp_path / "bomb.docx"
    path.write_bytes(bomb)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ReadError, match="zip bomb"):
            read_document(path, "bomb.docx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MB and time.monotonic() - started < 5, f"{peak / MB:.0f} MB, {time.monotonic() - started:.1f} s"
    added, skipped = _outcome(_upload(client, ("炸弹.docx", bomb), ("好.txt", GOOD)))
    assert added == ["好.txt"] and "zip bomb" in skipped["炸弹.docx"] and "inflate to 2,04" in skipped["炸弹.docx"]


def test_an_xlsx_part_that_inflates_a_thousandfold_is_refused(client: TestClient) -> None:
    bomb = _office_bomb(_xlsx([["任务", "单位"], ["建设", "市住建局"]]), "xl/worksheets/sheet1.xml", b"<sheetData>", spaces_mb=64)
    added, skipped = _outcome(_upload(client, ("炸弹.xlsx", bomb), ("好.txt", GOOD)))
    assert added == ["好.txt"] and "zip bomb" in skipped["炸弹.xlsx"] and "sheet1.xml" in skipped["炸弹.xlsx"]


def test_a_part_larger_than_its_zip_directory_says_is_not_inflated_past_it(tmp_path: Path) -> None:
    """The zip directory's sizes are what the bomb check trusts: zipfile, which python-docx and
    openpyxl read with, stops at them (and fails the CRC), so a lying directory gains nothing."""
    liar = _office_bomb(_docx(), "word/document.xml", b"<w:body>", spaces_mb=512, recorded_size=50_000)
    (tmp_path / "liar.docx").write_bytes(liar)
    tracemalloc.start()
    try:
        with pytest.raises(ReadError, match="CRC"):
            read_document(tmp_path / "liar.docx", "liar.docx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * MB, f"{peak / MB:.0f} MB"


# ---------------------------------------------------------------- 3. sizes


def test_a_file_over_the_upload_limit_is_a_413_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with _app(tmp_path, max_upload_mb=1, max_upload_request_mb=8) as c:
        response = _upload(c, ("大.txt", "第一条 大文件。\n".encode() * (2 * MB // 22)))
        assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large", response.text
        assert [d["doc"] for d in c.get("/v1/documents").json()["documents"]] == ["规定.txt"]
    _assert_only_expected_files(tmp_path)


def test_an_upload_request_over_its_limit_is_a_413(tmp_path: Path) -> None:
    with _app(tmp_path, max_upload_request_mb=1) as c:
        declared = _upload(c, ("大.txt", b"x" * (2 * MB)))
        assert declared.status_code == 413 and declared.json()["error"]["code"] == "request_too_large", declared.text

        def pieces() -> Iterator[bytes]:
            yield b'--B\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
            for _ in range(4):
                yield b"x" * MB
            yield b"\r\n--B--\r\n"

        chunked = c.post("/v1/documents", content=pieces(), headers={**AUTH, "content-type": "multipart/form-data; boundary=B"})
        assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "request_too_large", chunked.text
        assert [d["doc"] for d in c.get("/v1/documents").json()["documents"]] == ["规定.txt"]
    _assert_only_expected_files(tmp_path)


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serving.Service]:
    base = tmp_path_factory.mktemp("big")
    (base / "corpus").mkdir()
    (base / "corpus" / "规定.txt").write_text("第一条 本市设立银杏档案馆。\n", encoding="utf-8")
    ingest_paths([base / "corpus"], base / "index", HashEmbedder(16))
    env = {"RAGQA_ADMIN_KEY": KEY, "RAGQA_MAX_UPLOAD_MB": "120", "RAGQA_MAX_UPLOAD_REQUEST_MB": "128"}
    service = serving.start(base / "index", [], env, base / "serve.log")
    yield service
    serving.stop(service)


def _peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


def test_a_100_mb_upload_is_received_in_pieces_not_held_in_memory(big_server: serving.Service) -> None:
    def body() -> Iterator[bytes]:
        yield b'--B\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n\r\n'
        piece = b"x" * MB
        for _ in range(100):
            yield piece
        yield b"\r\n--B--\r\n"

    before = _peak_rss_kb(big_server.process.pid)
    response = httpx.post(f"{big_server.url}/v1/documents", content=body(), timeout=120,
                          headers={**AUTH, "content-type": "multipart/form-data; boundary=B"})
    grown = (_peak_rss_kb(big_server.process.pid) - before) // 1024
    # received in full (staged, then refused by type: .bin is no document), yet the peak barely moved
    assert response.status_code == 400 and "unsupported file type .bin" in response.text, response.text
    assert grown < 40, f"the server's peak memory grew by {grown} MB while receiving a 100 MB upload"


def _push(url: str, head: str, total: int, chunked: bool) -> int:
    """Send `head` and up to `total` bytes of body until the server stops taking them; the bytes sent."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    piece = b"x" * 65536
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n" if chunked else piece
    with socket.create_connection((host, int(port))) as sock:
        sock.settimeout(10)
        sock.sendall(head.encode())
        try:
            while sent < total:
                sock.sendall(frame)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
    return sent


def test_an_upload_request_over_its_limit_is_refused_before_it_is_read_in_full(big_server: serving.Service) -> None:
    head = f"POST /v1/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: multipart/form-data; boundary=B\r\n"
    declared = _push(big_server.url, head + f"Content-Length: {1 << 30}\r\n\r\n", 1 << 30, chunked=False)
    assert declared < 16 * MB, f"the server took {declared // MB} MB of a 1 GB upload it refused from its headers"
    streamed = _push(big_server.url, head + "Transfer-Encoding: chunked\r\n\r\n", 1 << 30, chunked=True)
    assert streamed < (128 + 32) * MB, f"the server took {streamed // MB} MB of a chunked upload over its 128 MB limit"


# ---------------------------------------------------------------- 4. file names


HOSTILE_NAMES = [
    (b"../../etc/passwd.txt", "folder"),
    (b"..\\x.txt", "folder"),
    (b"/abs/path.txt", "folder"),
    (b"a/b.txt", "folder"),
    (b"a\x00b.txt", "control character (U+0000)"),
    (b"a\x01b.txt", "control character (U+0001)"),
    (b"a\x7fb.txt", "control character (U+007F)"),
    (b"a\tb.txt", "control character (U+0009)"),
    ("a\x85b.txt".encode(), "control character (U+0085)"),  # C1: next line
    ("报告\u202etxt.exe.txt".encode(), "control character (U+202E)"),  # right-to-left override
    ("报告\u2067txt.exe\u2069.txt".encode(), "control character (U+2067)"),  # right-to-left isolate
    (b"x" * 296 + b".txt", "300 bytes long"),
    (b"", "without a name"),
    (b".hidden.txt", "hidden"),
    (b"a.txt ", "unsupported file type"),  # its type is ".txt " (a name is never trimmed)
]


@pytest.mark.parametrize(("name", "reason"), HOSTILE_NAMES, ids=[repr(n)[2:40] for n, _ in HOSTILE_NAMES])
def test_a_hostile_file_name_is_refused_with_its_reason_and_nothing_lands_outside_the_store(
    client: TestClient, tmp_path: Path, name: bytes, reason: str
) -> None:
    added, skipped = _outcome(_raw_upload(client, (name, GOOD), (b"ok.txt", GOOD)))
    assert added == ["ok.txt"]
    assert list(skipped) == [name.decode()[:255]], skipped  # the server saw the name as sent (a skipped name is shown to 255)
    assert reason in skipped[name.decode()[:255]], skipped
    assert sorted(d["doc"] for d in client.get("/v1/documents").json()["documents"]) == ["ok.txt", "规定.txt"]
    _assert_only_expected_files(tmp_path)


def test_names_that_differ_only_in_case_never_overwrite_each_other(client: TestClient, tmp_path: Path) -> None:
    # in one upload: the first is kept, the second skipped; the same for one name twice
    added, skipped = _outcome(_upload(client, ("Report.txt", "第一条 第一份。\n".encode()), ("report.txt", "第一条 第二份。\n".encode()),
                                      ("重复.txt", "第一条 甲。\n".encode()), ("重复.txt", "第一条 乙。\n".encode())))
    assert added == ["Report.txt", "重复.txt"]
    assert "differ only in case" in skipped["report.txt"] and "'Report.txt'" in skipped["report.txt"]
    assert "earlier file named '重复.txt'" in skipped["重复.txt"]
    assert _lines(client, "Report.txt") == ["第一条 第一份。"] and _lines(client, "重复.txt") == ["第一条 甲。"]
    # one after the other: refused, naming the document it clashes with; the exact name replaces it
    later = _upload(client, ("REPORT.TXT", "第一条 第三份。\n".encode()))
    assert later.status_code == 400 and later.json()["error"]["code"] == "unreadable_document"
    assert "'Report.txt'" in later.json()["error"]["message"] and "differ only in case" in later.json()["error"]["message"]
    assert _lines(client, "Report.txt") == ["第一条 第一份。"]
    nfd = unicodedata.normalize("NFD", "Café.txt")
    assert _outcome(_upload(client, ("Café.txt", GOOD)))[0] == ["Café.txt"]
    assert _upload(client, (nfd, GOOD)).status_code == 400  # the same name in another Unicode form
    assert _outcome(_upload(client, ("Report.txt", "第一条 第四份。\n".encode())))[0] == ["Report.txt"]
    assert _lines(client, "Report.txt") == ["第一条 第四份。"]
    docs = sorted(d["doc"] for d in client.get("/v1/documents").json()["documents"])
    assert docs == ["Café.txt", "Report.txt", "规定.txt", "重复.txt"]
    _assert_only_expected_files(tmp_path)


# ---------------------------------------------------------------- 5. broken files


def _zero_page_pdf() -> bytes:
    out = io.BytesIO()
    pdfium.PdfDocument.new().save(out)
    return out.getvalue()


def _lying_sheet() -> bytes:
    """A 5 KB workbook whose sheet claims A1:XFD1048576 and has one cell there (openpyxl padded
    every row to the claimed width: 17 billion cells)."""
    original = _xlsx([["任务", "单位"], ["建设", "市住建局"]])
    members = []
    with zipfile.ZipFile(io.BytesIO(original)) as z:
        for info in z.infolist():
            data = z.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:B2"/>', b'<dimension ref="A1:XFD1048576"/>').replace(
                    b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>end</t></is></c></row></sheetData>')
            members.append((info.filename, _deflated(data)))
    return _zip(members)


def _empty_rows_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["任务", "单位"])
    sheet.append(["建设", "市住建局"])
    for row in range(3, 100_003):
        sheet.cell(row=row, column=1).number_format = "0.00"  # a formatted, empty cell: the row is written
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _docx_with(part: str, replace: bytes, by: bytes) -> bytes:
    members = []
    with zipfile.ZipFile(io.BytesIO(_docx())) as z:
        for info in z.infolist():
            data = z.read(info.filename)
            members.append((info.filename, _deflated(data.replace(replace, by) if info.filename == part else data)))
    return _zip(members)


def _circular_styles_docx() -> bytes:
    """Two paragraph styles each based on the other, and a paragraph in one of them."""
    document = docx.Document()
    paragraph = document.add_paragraph("第一条 样式循环的文件。")
    styles = document.styles.element
    for me, other in (("LoopA", "LoopB"), ("LoopB", "LoopA")):
        styles.append(parse_xml(
            f'<w:style {nsdecls("w")} w:type="paragraph" w:styleId="{me}"><w:name w:val="{me}"/><w:basedOn w:val="{other}"/></w:style>'))
    paragraph._p.get_or_add_pPr().append(parse_xml(f'<w:pStyle {nsdecls("w")} w:val="LoopA"/>'))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _roman_numbering_docx() -> bytes:
    """A paragraph numbered in upper roman from 10**12 (rendered digit by digit, that was a
    gigabyte of "M")."""
    document = docx.Document()
    numbering = document.part.numbering_part.element
    lvl = '<w:lvl w:ilvl="0"><w:start w:val="1000000000000"/><w:numFmt w:val="upperRoman"/><w:lvlText w:val="%1."/></w:lvl>'
    numbering.insert(0, parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="97">{lvl}</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="97"><w:abstractNumId w:val="97"/></w:num>'))
    num_pr = document.add_paragraph("第一条 编号很大的条款。")._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_ilvl().val = 0
    num_pr.get_or_add_numId().val = 97
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


BROKEN: list[tuple[str, Any, str | None]] = [  # (name, bytes or a maker, a word of the reason; None: read)
    ("零页.pdf", _zero_page_pdf, "not a readable PDF"),
    ("截断30.pdf", lambda: _text_pdf()[: len(_text_pdf()) * 3 // 10], "not a readable PDF"),
    ("截断90.pdf", lambda: _text_pdf()[: len(_text_pdf()) * 9 // 10], "not a readable PDF"),
    ("文本.docx", "第一条 这其实是文本。\n".encode(), "not an intact zip archive"),
    ("文本.xlsx", "第一条 这其实是文本。\n".encode(), "not an intact zip archive"),
    ("空行.xlsx", _empty_rows_xlsx, None),
    ("声明过大.xlsx", _lying_sheet, None),
    ("不是图片.png", b"this is not a png at all", "not a readable image"),
    ("截断.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF", "not a readable image"),
    ("坏XML.docx", lambda: _docx_with("word/document.xml", b"<w:body>", b"<w:body <<<"), "XMLSyntaxError"),
    ("样式循环.docx", _circular_styles_docx, None),
    ("罗马编号.docx", _roman_numbering_docx, None),
]


@pytest.mark.parametrize(("name", "data", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_file_is_skipped_with_its_reason_or_read_within_seconds(shared: TestClient, name: str, data: Any, reason: str | None) -> None:
    payload = data() if callable(data) else data
    good = f"好-{name}.txt"
    started = time.monotonic()
    added, skipped = _outcome(_upload(shared, (name, payload), (good, GOOD)))
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"{name}: {elapsed:.1f} s"
    if reason is None:
        assert sorted(added) == sorted([name, good]), skipped
        assert _lines(shared, name)
    else:
        assert added == [good] and reason in skipped[name], skipped


def test_the_lying_sheet_and_the_empty_rows_read_as_their_rows(shared: TestClient) -> None:
    _outcome(_upload(shared, ("空行2.xlsx", _empty_rows_xlsx()), ("声明过大2.xlsx", _lying_sheet())))
    assert _lines(shared, "空行2.xlsx") == ["Sheet", "任务\t单位", "建设\t市住建局"]
    lying = _lines(shared, "声明过大2.xlsx")
    assert lying[0] == "Sheet" and lying[1].startswith("任务\t单位\t") and lying[-1].endswith("\tend") and len(lying) == 4


def test_a_page_that_declares_itself_five_metres_wide_is_not_rendered_at_full_size(shared: TestClient) -> None:
    """A blank 200 x 200 inch page has no text layer, so it goes to OCR: rendered at 2x, as other
    pages are, it was 830 million pixels (3.2 GB of memory for a 300-byte file)."""
    huge = _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    added, skipped = _outcome(_upload(shared, ("巨幅.pdf", huge), ("好-巨幅.txt", GOOD)))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 - before
    assert added == ["好-巨幅.txt"] and "no text" in skipped["巨幅.pdf"]
    assert grown < 1500, f"peak memory grew by {grown} MB"


# ---------------------------------------------------------------- 6. the same file twice


def test_the_same_file_uploaded_twice_is_one_document(client: TestClient, tmp_path: Path) -> None:
    text = "关于设立松柏服务站的通知\n松柏服务站每周二接待群众来访。\n".encode()
    first = _outcome(_upload(client, ("通知.txt", text)))
    second = _outcome(_upload(client, ("通知.txt", text)))
    assert first == second == (["通知.txt"], {})  # replaced by itself
    docs = client.get("/v1/documents").json()["documents"]
    assert sorted(d["doc"] for d in docs) == ["规定.txt", "通知.txt"]
    catalog = DocumentStore(tmp_path / "index.data").entries()
    assert catalog["通知.txt"].sha256 == hashlib.sha256(text).hexdigest() and catalog["通知.txt"].origin == "upload"
    _assert_only_expected_files(tmp_path)  # one stored file for it, not two
    # the same bytes under another name are another document
    assert _outcome(_upload(client, ("通知副本.txt", text)))[0] == ["通知副本.txt"]
    assert len(client.get("/v1/documents").json()["documents"]) == 3


def test_a_page_image_of_a_huge_page_is_drawn_small(tmp_path: Path) -> None:
    """GET /v1/documents/{doc}/pages/{n}.png needs no key: a stored page that claims to be
    200 inches square is drawn within MAX_PIXELS, not at 108 dpi (460 million pixels)."""
    from PIL import Image
    from ragqa.service.pages import MAX_PIXELS, render_page

    huge = _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>"])  # fmt: skip
    (tmp_path / "huge.pdf").write_bytes(huge)
    image = Image.open(io.BytesIO(render_page(tmp_path / "huge.pdf", 1)))
    assert image.width * image.height <= MAX_PIXELS and image.width > 1000
