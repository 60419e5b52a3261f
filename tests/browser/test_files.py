"""File sharing (E9): chunk codec, a 5 MB transfer with matching SHA-256, cancel on both sides,
stop and unshare, drag and drop into a private chat, and the in-memory download path."""
from __future__ import annotations

import hashlib
import os
import struct
import zlib

import pytest

from .conftest import unnamed_controls

pytestmark = pytest.mark.browser

MB = 1_000_000


def two_in_room(server, clients, room):
    a = clients("Alice", server.room_url(room))
    b = clients("Bob", server.room_url(room))
    for x in (a, b):
        x.wait_ready(room)
        x.wait_buddies(1)
    return a, b


def card(client, name):
    return client.page.locator(".file-card", has=client.page.locator(".file-name", has_text=name))


def test_chunk_codec_matches_python(server, clients):
    a = clients("Alice", server.room_url("codec"))
    a.wait_ready("codec")
    for data in (b"", b"a", b"hello world", os.urandom(1000), os.urandom(60000)):
        assert a.page.evaluate("(b) => window.__spreedTest.crc32(b)", list(data)) == zlib.crc32(data)
    payload = os.urandom(777)
    encoded = bytes(a.page.evaluate("([i, b]) => window.__spreedTest.encodeChunk(i, b)", [1234567, list(payload)]))
    # version 0, three reserved bytes, index and CRC-32 little-endian, then the payload
    assert encoded[:4] == b"\0\0\0\0"
    assert struct.unpack("<II", encoded[4:12]) == (1234567, zlib.crc32(payload))
    assert encoded[12:] == payload
    # a chunk made the way the original client makes it decodes; damage and unknown versions do not
    original = bytes(4) + struct.pack("<II", 42, zlib.crc32(payload)) + payload
    decoded = a.page.evaluate("(b) => window.__spreedTest.decodeChunk(b)", list(original))
    assert decoded["index"] == 42 and bytes(decoded["payload"]) == payload
    damaged = bytearray(original)
    damaged[-1] ^= 0xFF
    assert a.page.evaluate("(b) => window.__spreedTest.decodeChunk(b)", list(damaged)) == {"error": "crc"}
    assert a.page.evaluate("(b) => window.__spreedTest.decodeChunk(b)", list(b"\x01" + original[1:])) == {"error": "version"}
    assert not a.real_errors(), a.errors


def test_file_transfer_cancel_stop_and_unshare(server, clients, tmp_path):
    room = "files"
    a, b = two_in_room(server, clients, room)
    source = tmp_path / "random.bin"
    source.write_bytes(os.urandom(5 * MB))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    # A shares a 5 MB file with the room through the chat's file button
    a.page.locator(".tool-chat").click()
    a.page.locator(".chat-file-input").set_input_files(str(source))
    own = card(a, "random.bin")
    own.wait_for()
    assert "You share a file" in own.text_content()
    frame = [f for f in a.sent("Chat") if f["Chat"]["Chat"].get("Message") == "File"][-1]["Chat"]
    info = frame["Chat"]["Status"]["FileInfo"]
    assert frame["To"] == "" and info["size"] == 5 * MB and info["chunks"] == 84 and info["name"] == "random.bin"
    assert len(info["id"]) == 96

    # B sees the card with name and size, downloads it; the saved file is the same
    b.page.locator(".tool-chat").click()
    incoming = card(b, "random.bin")
    incoming.wait_for()
    assert "Incoming file" in incoming.text_content() and "5 MB" in incoming.locator(".file-meta").text_content()
    with b.page.expect_download(timeout=30000) as download:
        incoming.locator("button", has_text="Download").click()
    saved = tmp_path / "saved.bin"
    download.value.save_as(str(saved))
    assert download.value.suggested_filename == "random.bin"
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == digest
    incoming.locator(".file-status", has_text="Download complete").wait_for()
    state = b.hook("downloads")[info["id"]]
    assert state["state"] == "done" and state["count"] == 84 and state["sink"] == "disk"
    own.locator(".file-status", has_text="Downloaded by Bob").wait_for()
    # the transfer went over a token connection: offers carry _token and a numeric _id
    offers = [f["Offer"]["Offer"] for f in b.sent("Offer")]
    assert offers and offers[0]["_token"] == info["id"] and isinstance(offers[0]["_id"], int)
    a.screenshot("files-sender")
    b.screenshot("files-receiver")

    # a second file, dropped onto a private chat with B; A serves it slowly so it can be cancelled
    a.hook("setFileDelay(80)")
    a.page.locator('.side-tab[data-tab="people"]').click()
    a.buddy(b).locator(".buddy-chat").click()
    a.page.locator(".chat-title", has_text="Chat with Bob").wait_for()
    a.page.evaluate("""() => {
        const bytes = new Uint8Array(3000000);
        for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'dropped.bin', { type: 'application/octet-stream' }));
        const chat = document.querySelector('.chat');
        for (const type of ['dragenter', 'dragover', 'drop']) {
            chat.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
        }
    }""")
    dropped = card(a, "dropped.bin")
    dropped.wait_for()
    private = [f for f in a.sent("Chat") if f["Chat"]["Chat"].get("Message") == "File"][-1]["Chat"]
    assert private["To"] == b.id
    token = private["Chat"]["Status"]["FileInfo"]["id"]
    incoming = card(b, "dropped.bin")
    incoming.wait_for()
    incoming.locator("button", has_text="Download").click()
    b.wait("(t) => (window.__spreedTest.downloads[t] || {}).count >= 3", arg=token)
    incoming.locator(".file-status", has_text="%").wait_for()
    dropped.locator(".file-status", has_text="Sending to Bob").wait_for()
    assert unnamed_controls(a.page) == [] and unnamed_controls(b.page) == []
    a.screenshot("files-sending")
    b.screenshot("files-downloading")
    # B cancels: B stops, and A's side stops serving (its transfer closes)
    incoming.locator("button", has_text="Cancel").click()
    incoming.locator(".file-status", has_text="Download cancelled").wait_for()
    a.wait("(t) => window.__spreedTest.shares[t].active === 0", arg=token)
    dropped.locator(".file-status", has_text="Sending to").wait_for(state="detached")
    assert b.hook("downloads")[token]["connections"] == 0
    assert not [c for c in b.hook("tokenConnections") if c["token"] == token]

    # B starts again; this time A stops sending: B sees why and can retry
    incoming.locator("button", has_text="Download").click()
    b.wait("(t) => (window.__spreedTest.downloads[t] || {}).count >= 2", arg=token)
    dropped.locator("button", has_text="Stop sending").click()
    incoming.locator(".file-status", has_text="Alice stopped the transfer").wait_for()
    assert b.hook("downloads")[token]["state"] == "error"

    # A unshares: a new attempt fails at once with an explanation and a Retry button
    dropped.locator("button", has_text="Unshare").click()
    dropped.locator(".file-status", has_text="You no longer share this file").wait_for()
    incoming.locator("button", has_text="Retry").click()
    incoming.locator(".file-status", has_text="Alice no longer shares this file").wait_for(timeout=10000)
    incoming.locator("button", has_text="Retry").wait_for()

    # the in-memory path (browsers without a private file system): a small file, byte for byte
    a.hook("setFileDelay(0)")
    b.hook("setMemoryDownloads(true)")
    small = tmp_path / "notes.txt"
    small.write_bytes(os.urandom(250_000))
    a.page.locator(".chat-file-input").set_input_files(str(small))
    incoming = card(b, "notes.txt")
    incoming.wait_for()
    with b.page.expect_download(timeout=20000) as download:
        incoming.locator("button", has_text="Download").click()
    saved = tmp_path / "notes-saved.txt"
    download.value.save_as(str(saved))
    assert saved.read_bytes() == small.read_bytes()
    small_token = [f for f in a.sent("Chat") if f["Chat"]["Chat"].get("Message") == "File"][-1]["Chat"]["Chat"]["Status"]["FileInfo"]["id"]
    assert b.hook("downloads")[small_token]["sink"] == "memory"
    for x in (a, b):
        assert not x.real_errors(), x.errors
