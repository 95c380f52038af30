#!/usr/bin/python3
"""A ticketflow client written from proto/events.md alone (no C code shared).

Usage: python_client.py ZMQ_ENDPOINT HTTP_PORT CERT_FILE TOKEN
CERT_FILE: a client certificate of a wechat adapter (`ticketctl cert create
--role adapter --channel wechat`); TOKEN: an HTTP bearer token of a web
adapter (`ticketctl token create --role adapter --channel web`).
Exits 0 when every check passes; prints what failed otherwise.
Run with Debian's /usr/bin/python3 (python3-zmq, python3-msgpack).
"""
import json
import os
import sys
import urllib.error
import urllib.request

import msgpack
import zmq


def request(sock, msg_type, body, raw=None):
    """Send [empty delimiter, type, msgpack body]; return (type, decoded body)."""
    payload = raw if raw is not None else msgpack.packb(body, use_bin_type=True)
    sock.send_multipart([b"", msg_type.encode(), payload])
    if not sock.poll(5000):
        raise SystemExit(f"no reply to {msg_type}")
    frames = sock.recv_multipart()
    assert len(frames) == 3 and frames[0] == b"", frames
    return frames[1].decode(), msgpack.unpackb(frames[2], raw=False)


def load_cert(path):
    """The three Z85 keys of a certificate file: ours, our secret, the server's."""
    keys = {}
    for line in open(path, encoding="utf-8"):
        name, _, value = line.strip().partition(" = ")
        if name in ("public-key", "secret-key", "server-key"):
            keys[name] = value.strip('"')
    return keys["public-key"], keys["secret-key"], keys["server-key"]


def connect(ctx, endpoint, cert):
    """A DEALER that speaks CURVE with the certificate's keys."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if cert:
        public, secret, server = load_cert(cert)
        sock.curve_publickey = public.encode()
        sock.curve_secretkey = secret.encode()
        sock.curve_serverkey = server.encode()
    sock.connect(endpoint)
    return sock


def http(port, method, path, body=None, token=None, content_type="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def main():
    endpoint, port, cert, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = zmq.Context()
    # without keys the handshake fails: nothing ever comes back
    plain = connect(ctx, endpoint, None)
    plain.setsockopt(zmq.SNDTIMEO, 500)     # once refused, it has no peer to queue for
    try:
        plain.send_multipart([b"", b"service.ping", msgpack.packb({})])
    except zmq.Again:
        pass
    assert not plain.poll(500), "a client without keys was answered"
    sock = connect(ctx, endpoint, cert)
    ext = f"py-{os.getpid()}"
    customer = f"wx-openid-{os.getpid()}"

    kind, body = request(sock, "service.ping", {})
    assert kind == "service.pong" and body["service"] == "intake", body

    submit = {"channel": "wechat", "external_id": ext, "source": "customer",
              "body": "快递三天没有更新了，电话13812345678", "subject": "物流",
              "customer": {"id": customer, "type": "returning", "name": "张三"},
              "order_no": "2023102712345678", "wants": "information",
              "expected_at": "2026-11-24T12:00:00+08:00"}
    # a wechat adapter acts for wechat only
    kind, body = request(sock, "ticket.submit", dict(submit, channel="app"))
    assert kind == "error" and body["code"] == "forbidden" and body["field"] == "channel", body
    kind, body = request(sock, "ticket.submit", submit)
    assert kind == "ticket.accepted", (kind, body)
    assert body["duplicate"] is False and body["ticket_no"].startswith("CS"), body
    number = body["ticket_no"]

    kind, again = request(sock, "ticket.submit", submit)
    assert kind == "ticket.accepted" and again["duplicate"] is True, again
    assert again["ticket_no"] == number and again["ticket_id"] == body["ticket_id"], again

    kind, info = request(sock, "ticket.get", {"ticket_no": number})
    assert kind == "ticket.info", info
    ticket = info["ticket"]
    assert ticket["status"] == "received" and "138****5678" in ticket["body"], ticket
    assert ticket["history"][0]["to"] == "received", ticket

    # the same customer about the same order: a message in that ticket's thread
    more = dict(submit, external_id=ext + "-2", body="还是没有更新")
    kind, joined = request(sock, "ticket.submit", more)
    assert kind == "ticket.accepted" and joined.get("threaded") is True, joined
    assert joined["ticket_no"] == number and joined["duplicate"] is False, joined
    kind, updated = request(sock, "ticket.message", {"channel": "wechat", "ticket_no": number,
                                                     "customer_id": customer, "body": "补充:快递单号SF123"})
    assert kind == "ticket.updated" and updated["ticket_no"] == number, updated
    kind, err = request(sock, "ticket.message", {"channel": "wechat", "ticket_no": number,
                                                 "customer_id": "someone-else", "body": "x"})
    assert kind == "error" and err["code"] == "bad_value" and err["field"] == "customer_id", err
    kind, info = request(sock, "ticket.get", {"ticket_no": number})
    thread = info["ticket"]["thread"]
    assert [m["direction"] for m in thread] == ["in", "in"], thread
    assert [m["body"] for m in thread] == ["还是没有更新", "补充:快递单号SF123"], thread

    for bad_type, payload, code in [
        ("ticket.submit", b"\xdd\xff\x00\x00\x00", "bad_msgpack"),
        ("ticket.submit", msgpack.packb({"channel": "app"}), "missing_field"),
        ("ticket.submit", msgpack.packb({"channel": 1, "body": "x", "customer": {"id": "c"}}), "wrong_type"),
        ("ticket.submit", msgpack.packb({"channel": "app", "body": "x" * 16385, "customer": {"id": "c"}}), "too_long"),
        ("ticket.submit", msgpack.packb({"channel": "app", "body": b"\xff\xfe".decode("latin-1").encode("latin-1"),
                                         "customer": {"id": "c"}}, use_bin_type=False), "bad_utf8"),
        ("ticket.nonsense", msgpack.packb({}), "unknown_type"),
    ]:
        kind, body = request(sock, bad_type, None, raw=payload)
        assert kind == "error" and body["code"] == code, (bad_type, code, body)
        assert body["message"], body

    web = {"channel": "web", "body": "网页上提交的问题", "customer": {"id": "web-1"}, "external_id": ext + "-http"}
    status, body = http(port, "POST", "/v1/tickets", web)
    assert status == 401 and body["error"]["code"] == "unauthenticated", (status, body)
    status, body = http(port, "POST", "/v1/tickets", web, token="tf_" + "x" * 43)
    assert status == 401, (status, body)
    status, body = http(port, "POST", "/v1/tickets", web, token=token, content_type="text/plain")
    assert status == 415, (status, body)
    status, body = http(port, "GET", "/v1/tickets/" + number, token=token)
    assert status == 403 and body["error"]["code"] == "forbidden", (status, body)
    status, body = http(port, "POST", "/v1/tickets", web, token=token)
    assert status == 201 and body["ticket_no"].startswith("CS"), (status, body)
    # the customer's own lookup: the public reference, no token; a made-up one is not found
    ref = body["public_ref"]
    assert ref.startswith(body["ticket_no"] + "-"), body
    status, seen = http(port, "GET", "/v1/status/" + ref)
    assert status == 200 and seen["ticket_no"] == body["ticket_no"] and seen["status"] == "received", seen
    assert seen["status_text"] and "body" not in seen, seen
    forged = ref[:-1] + ("0" if ref[-1] != "0" else "1")
    status, err = http(port, "GET", "/v1/status/" + forged)
    assert status == 404 and err["error"]["code"] == "not_found", (status, err)
    status, err = http(port, "GET", "/v1/status/" + body["ticket_no"])
    assert status == 404, (status, err)
    status2, body2 = http(port, "POST", "/v1/tickets", web, token=token)
    assert status2 == 200 and body2["ticket_no"] == body["ticket_no"], (status2, body2)
    status, shown = http(port, "GET", "/v1/tickets/" + body["ticket_no"], token=token)
    assert status == 200 and shown["ticket_no"] == body["ticket_no"] and shown["status"] == "received", shown
    status, err = http(port, "POST", "/v1/tickets", {"channel": "web", "customer": {"id": "x"}}, token=token)
    assert status == 400 and err["error"]["code"] == "missing_field" and err["error"]["field"] == "body", err
    status, err = http(port, "GET", "/v1/tickets/CS209901019999", token=token)
    assert status == 404 and err["error"]["code"] == "not_found", err
    print("python client: all checks passed")


if __name__ == "__main__":
    main()
