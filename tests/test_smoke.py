import pytest


@pytest.mark.gen_test
async def test_two_clients_chat(server):
    a = await server.connect()
    b = await server.connect()
    welcome = await a.hello("room1")
    assert welcome["Data"]["Type"] == "Welcome"
    await b.hello("room1")
    joined = await a.recv_type("Joined")
    assert joined["Data"]["Id"] == b.id
    await a.send({"Type": "Chat", "Chat": {"To": "", "Type": "Chat", "Chat": {"Message": "hi", "NoEcho": True}}})
    msg = await b.recv_type("Chat")
    assert msg["Data"]["Chat"]["Message"] == "hi"
    assert msg["From"] == a.id and msg["A"]
