"""Channeling API, presence: Status broadcasts, Rev counting and buddyPicture data URLs turned into
`img:` references served by the image end point (protocol.md 3.8, 4.7.7; gotchas 6, 35, 36)."""
from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from helpers import joined_pair

IMG_REF = re.compile(r"^img:([A-Za-z0-9_-]{20})/([A-Za-z0-9_=-]+)/picture\.(png|jpg|webp)$")


def picture(mime: str = "image/png", color=(255, 0, 0), size=(8, 8), fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode()


def status(value) -> dict:
    return {"Type": "Status", "Status": {"Type": "Status", "Status": value}}


pair = joined_pair


async def set_status(sender, receiver, value) -> dict:
    await sender.send(status(value))
    msg = await receiver.recv()
    assert msg["Data"]["Type"] == "Status" and msg["From"] == sender.id, msg
    return msg


# ---------------------------------------------------------------- Status (4.7.7)

@pytest.mark.gen_test
async def test_status_broadcast_shape_and_rev(server):
    a, b = await pair(server)
    msg = await set_status(a, b, {"displayName": "Ann", "message": "<hi> & bye"})
    assert list(msg) == ["Data", "From", "A"]
    assert server.hub.tickets.decode_attestation(msg["A"]) == a.id
    assert msg["Data"] == {"Type": "Status", "Id": a.id, "Ua": "test", "Rev": 2, "Prio": 100,
                           "Status": {"displayName": "Ann", "message": "<hi> & bye"}}
    assert list(msg["Data"]) == ["Type", "Id", "Ua", "Rev", "Prio", "Status"]
    assert await a.silent(0.2), "no echo to the sender"
    # Rev grows with every Status and every Hello (gotcha 36)
    assert (await set_status(a, b, "away"))["Data"]["Rev"] == 3
    await a.hello("r")
    assert (await b.recv())["Data"]["Type"] == "Joined"
    assert (await set_status(a, b, None))["Data"]["Rev"] == 5


@pytest.mark.gen_test
async def test_status_of_any_json_value(server):
    a, b = await pair(server)
    for value in ("text", 0, False, [], {}, [1, {"x": None}]):
        assert (await set_status(a, b, value))["Data"]["Status"] == value  # present unless null
    msg = await set_status(a, b, None)
    assert "Status" not in msg["Data"]


@pytest.mark.gen_test
async def test_status_outside_a_room_is_stored_not_broadcast(server):
    a = await server.connect()
    b = await server.connect()
    await b.hello("r")
    await a.send(status({"displayName": "later"}))
    assert await b.silent(0.2)
    welcome = await a.hello("r")
    me = next(u for u in welcome["Data"]["Users"] if u["Id"] == a.id)
    assert me["Status"] == {"displayName": "later"} and me["Rev"] == 2
    joined = await b.recv()
    assert joined["Data"]["Status"] == {"displayName": "later"}


@pytest.mark.gen_test
async def test_status_without_payload_is_ignored(server):
    a, b = await pair(server)
    await a.send({"Type": "Status", "Iid": "s"})
    assert await a.silent(0.2) and await b.silent(0.05)


# ---------------------------------------------------------------- buddy pictures (3.8, gotcha 35)

@pytest.mark.gen_test
async def test_buddy_picture_becomes_an_img_reference_served_as_an_image(server):
    a, b = await pair(server)
    msg = await set_status(a, b, {"displayName": "Ann", "buddyPicture": picture()})
    assert msg["Data"]["Status"]["displayName"] == "Ann"
    ref = msg["Data"]["Status"]["buddyPicture"]
    match = IMG_REF.match(ref)
    assert match and match.group(3) == "png", ref
    image_id, change_id = match.group(1), match.group(2)
    # the stored status carries the reference too
    users = await b.request("Users", {})
    assert next(u for u in users["Data"]["Users"] if u["Id"] == a.id)["Status"]["buddyPicture"] == ref
    # the end point ignores {flags} and {idx}
    for path in (f"static/img/buddy/s46/{ref[4:]}", f"static/img/buddy/xyz/{image_id}/whatever"):
        resp = await server.fetch(path)
        assert resp.code == 200, path
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["ETag"] == change_id
        assert resp.headers["Cache-Control"] == "public, no-transform, max-age=86400"
        with Image.open(io.BytesIO(resp.body)) as img:
            assert img.format == "PNG" and img.size == (8, 8)
            assert img.convert("RGB").getpixel((4, 4)) == (255, 0, 0)
    resp = await server.fetch(f"static/img/buddy/s46/{image_id}/x", headers={"If-None-Match": change_id})
    assert resp.code == 304


@pytest.mark.gen_test
async def test_buddy_picture_jpeg_and_unknown_image(server):
    a, b = await pair(server)
    msg = await set_status(a, b, {"buddyPicture": picture("image/jpeg", fmt="JPEG")})
    ref = msg["Data"]["Status"]["buddyPicture"]
    assert IMG_REF.match(ref).group(3) == "jpg"
    resp = await server.fetch(f"static/img/buddy/s46/{ref[4:]}")
    assert resp.code == 200 and resp.headers["Content-Type"] == "image/jpeg"
    resp = await server.fetch("static/img/buddy/s46/AAAAAAAAAAAAAAAAAAAA/x/picture.jpg")
    assert resp.code == 404 and resp.body == b"Unknown image\n"


@pytest.mark.gen_test
async def test_same_picture_keeps_the_change_id_new_picture_keeps_the_image_id(server):
    a, b = await pair(server)
    data = picture()
    first = (await set_status(a, b, {"buddyPicture": data}))["Data"]["Status"]["buddyPicture"]
    again = (await set_status(a, b, {"buddyPicture": data, "displayName": "x"}))["Data"]["Status"]["buddyPicture"]
    assert again == first
    other = (await set_status(a, b, {"buddyPicture": picture(color=(0, 0, 255))}))["Data"]["Status"]["buddyPicture"]
    id1, change1 = IMG_REF.match(first).group(1, 2)
    id2, change2 = IMG_REF.match(other).group(1, 2)
    assert id1 == id2 and change1 != change2
    resp = await server.fetch(f"static/img/buddy/s46/{id1}/x")
    with Image.open(io.BytesIO(resp.body)) as img:
        assert img.convert("RGB").getpixel((1, 1)) == (0, 0, 255)
    # another session gets another image id
    c = await server.connect()
    await c.hello("r")
    await a.recv_type("Joined")
    await b.recv_type("Joined")
    mine = (await set_status(c, b, {"buddyPicture": data}))["Data"]["Status"]["buddyPicture"]
    assert IMG_REF.match(mine).group(1) != id1


@pytest.mark.gen_test
@pytest.mark.parametrize("bad", [
    "data:image/png;base64,AAAA",                                     # not an image
    "data:image/png;base64,!!!not base64!!!",
    "data:image/png,rawbytes",                                        # not base64 encoded
    "data:text/html;base64," + base64.b64encode(b"<script>alert(1)</script>").decode(),
    "data:image/png;base64," + "A" * (600 * 1024),                    # oversized
])
async def test_bad_buddy_pictures_are_dropped_from_the_status(server, bad):
    a, b = await pair(server)
    msg = await set_status(a, b, {"displayName": "Ann", "buddyPicture": bad})
    assert msg["Data"]["Status"] == {"displayName": "Ann"}


@pytest.mark.gen_test
async def test_picture_with_wrong_declared_type_is_reencoded_or_dropped(server):
    a, b = await pair(server)
    msg = await set_status(a, b, {"buddyPicture": picture("image/png", fmt="JPEG")})
    ref = msg["Data"]["Status"].get("buddyPicture")
    if ref is not None:  # accepted only as a real, re-encoded image
        resp = await server.fetch(f"static/img/buddy/s46/{ref[4:]}")
        with Image.open(io.BytesIO(resp.body)) as img:
            assert img.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[resp.headers["Content-Type"]]


@pytest.mark.gen_test
async def test_huge_picture_dimensions_are_dropped(server):
    a, b = await pair(server)
    buffer = io.BytesIO()
    Image.new("1", (5000, 5000)).save(buffer, format="PNG")  # a small file of 25 megapixels
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    msg = await set_status(a, b, {"buddyPicture": url})
    assert msg["Data"]["Status"] == {}


@pytest.mark.gen_test
async def test_non_string_or_non_data_pictures_are_left_alone(server):
    a, b = await pair(server)
    for value in (5, {"x": 1}, None, "https://example.com/a.png", "img:abc/def/picture.png"):
        msg = await set_status(a, b, {"buddyPicture": value})
        assert msg["Data"]["Status"] == {"buddyPicture": value}


@pytest.mark.gen_test
async def test_image_is_deleted_on_disconnect(server):
    a, b = await pair(server)
    ref = (await set_status(a, b, {"buddyPicture": picture()}))["Data"]["Status"]["buddyPicture"]
    path = f"static/img/buddy/s46/{ref[4:]}"
    assert (await server.fetch(path)).code == 200
    a.close()
    await b.recv_type("Left")
    resp = await server.fetch(path)
    assert resp.code == 404 and resp.body == b"Unknown image\n"


@pytest.mark.gen_test
async def test_image_survives_a_reclaim_while_connected(server):
    a, b = await pair(server)
    ref = (await set_status(a, b, {"buddyPicture": picture()}))["Data"]["Status"]["buddyPicture"]
    image_id = IMG_REF.match(ref).group(1)
    a2 = await server.connect(a.self_doc["Token"])
    assert await a.closed()
    assert (await server.fetch(f"static/img/buddy/s46/{ref[4:]}")).code == 200
    await a2.hello("r")
    await b.recv_type("Joined")
    again = (await set_status(a2, b, {"buddyPicture": picture(color=(0, 255, 0))}))["Data"]["Status"]
    assert IMG_REF.match(again["buddyPicture"]).group(1) == image_id


@pytest.mark.gen_test
async def test_served_picture_is_a_fresh_encoding_not_the_uploaded_bytes(server):
    a, b = await pair(server)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (9, 9, 9)).save(buffer, format="PNG")
    polyglot = buffer.getvalue() + b"<script>alert(1)</script>"
    url = "data:image/png;base64," + base64.b64encode(polyglot).decode()
    ref = (await set_status(a, b, {"buddyPicture": url}))["Data"]["Status"]["buddyPicture"]
    resp = await server.fetch(f"static/img/buddy/s46/{ref[4:]}")
    assert resp.code == 200 and b"<script>" not in resp.body
    with Image.open(io.BytesIO(resp.body)) as img:
        assert img.size == (4, 4)


@pytest.mark.gen_test
async def test_reclaim_after_close_gets_a_new_image_id(server):
    a, b = await pair(server)
    ref = (await set_status(a, b, {"buddyPicture": picture()}))["Data"]["Status"]["buddyPicture"]
    a.close()
    await b.recv_type("Left")
    a2 = await server.connect(a.self_doc["Token"])
    assert a2.id == a.id
    await a2.hello("r")
    await b.recv_type("Joined")
    again = (await set_status(a2, b, {"buddyPicture": picture()}))["Data"]["Status"]["buddyPicture"]
    assert IMG_REF.match(again).group(1) != IMG_REF.match(ref).group(1)
