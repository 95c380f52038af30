#!/usr/bin/python3
"""A ticketflow client written from proto/events.md alone (no C code shared).

Usage: python_client.py ZMQ_ENDPOINT HTTP_PORT
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


def http(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def main():
    endpoint, port = sys.argv[1], int(sys.argv[2])
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    ext = f"py-{os.getpid()}"
    customer = f"wx-openid-{os.getpid()}"

    kind, body = request(sock, "service.ping", {})
    assert kind == "service.pong" and body["service"] == "intake", body

    submit = {"channel": "wechat", "external_id": ext, "source": "customer",
              "body": "快递三天没有更新了，电话13812345678", "subject": "物流",
              "customer": {"id": customer, "type": "returning", "name": "张三"},
              "order_no": "2023102712345678", "wants": "information",
              "expected_at": "2026-11-24T12:00:00+08:00"}
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

    status, body = http(port, "POST", "/v1/tickets",
                        {"channel": "web", "body": "网页上提交的问题", "customer": {"id": "web-1"},
                         "external_id": ext + "-http"})
    assert status == 201 and body["ticket_no"].startswith("CS"), (status, body)
    status2, body2 = http(port, "POST", "/v1/tickets",
                          {"channel": "web", "body": "网页上提交的问题", "customer": {"id": "web-1"},
                           "external_id": ext + "-http"})
    assert status2 == 200 and body2["ticket_no"] == body["ticket_no"], (status2, body2)
    status, shown = http(port, "GET", "/v1/tickets/" + body["ticket_no"])
    assert status == 200 and shown["ticket_no"] == body["ticket_no"] and shown["status"] == "received", shown
    status, err = http(port, "POST", "/v1/tickets", {"channel": "web", "customer": {"id": "x"}})
    assert status == 400 and err["error"]["code"] == "missing_field" and err["error"]["field"] == "body", err
    status, err = http(port, "GET", "/v1/tickets/CS209901019999")
    assert status == 404 and err["error"]["code"] == "not_found", err
    print("python client: all checks passed")


if __name__ == "__main__":
    main()
