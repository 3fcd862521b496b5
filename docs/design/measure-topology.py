#!/usr/bin/env python3
"""Declares the rabbitChat per-user topology at scale on a PRIVATE RabbitMQ node, for the
issue 16 design (docs/design/accounts-and-devices.md). Needs pika (pip install pika).

  measure-topology.py URL base      --users durable capped `user.<nick>` queues (x-max-length 1000,
                                    x-max-length-bytes 4 MiB, reject-publish), each bound to the
                                    durable direct exchange `chat.direct` with its nick (today)
  measure-topology.py URL bindings  one more binding per user queue, on a second direct exchange
                                    `chat.sessions` (option C's per-user routing keys)
  measure-topology.py URL sessions  --sessions exclusive auto-delete queues, each bound to
                                    `chat.direct` with a user's nick and consumed, --per-connection
                                    per connection, held open --hold seconds (option B)
  measure-topology.py URL stream    one shared stream `chat.private` (2 GiB retention) with
                                    --records private-message records of about 170 bytes,
                                    published with confirms (option A, recommended)
  measure-topology.py URL read      reads --records of `chat.private` from `first` with one
                                    consumer (prefetch 1000, acked every 100) and prints records/s
Prints what it did and how long it took; measure with `rabbitmq-diagnostics status` and
`memory_breakdown` after it (mode sessions: while it holds its connections open).
Names carry --prefix so the run never touches real chat queues. Run it only against a node
you started yourself (scripts/rabbitmq.sh with RABBITMQ_PORT other than 5672).
"""
import argparse
import time

import pika

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("mode", choices=["base", "bindings", "sessions", "stream", "read"])
parser.add_argument("--records", type=int, default=100_000, help="records published (mode stream)")
parser.add_argument("--users", type=int, default=10_000)
parser.add_argument("--sessions", type=int, default=20_000, help="exclusive queues (mode sessions)")
parser.add_argument("--per-connection", type=int, default=2_000, help="exclusive queues per connection")
parser.add_argument("--hold", type=float, default=0, help="seconds to keep the connections open")
parser.add_argument("--prefix", default="measure.")
args = parser.parse_args()

CAPS = {"x-max-length": 1000, "x-max-length-bytes": 4 * 1024 * 1024, "x-overflow": "reject-publish"}
p = args.prefix


def connect():
    params = pika.URLParameters(args.url)
    params.heartbeat = 0
    params.blocked_connection_timeout = 60
    return pika.BlockingConnection(params)


started = time.monotonic()
if args.mode == "base":
    conn = connect()
    ch = conn.channel()
    ch.exchange_declare(p + "chat.direct", "direct", durable=True)
    for i in range(args.users):
        q = f"{p}user.u{i:05d}"
        ch.queue_declare(q, durable=True, arguments=CAPS)
        ch.queue_bind(q, p + "chat.direct", routing_key=f"u{i:05d}")
    conn.close()
    print(f"declared {args.users} durable capped queues + bindings in {time.monotonic() - started:.1f} s")
elif args.mode == "bindings":
    # Option A's extra state, if a second exchange routes a user's sessions' key: one more
    # binding per user (here on a second durable direct exchange `chat.sessions`).
    conn = connect()
    ch = conn.channel()
    ch.exchange_declare(p + "chat.sessions", "direct", durable=True)
    for i in range(args.users):
        ch.queue_bind(f"{p}user.u{i:05d}", p + "chat.sessions", routing_key=f"u{i:05d}")
    conn.close()
    print(f"declared {args.users} extra bindings in {time.monotonic() - started:.1f} s")
elif args.mode == "stream":
    conn = connect()
    ch = conn.channel()
    ch.queue_declare(p + "chat.private", durable=True,
                     arguments={"x-queue-type": "stream", "x-max-length-bytes": 2 * 1024 ** 3})
    ch.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=2, type="tell")
    for i in range(args.records):
        body = ('{"from":"u%05d","kind":"tell","msgId":"%032x","text":"%s","to":"u%05d","ts":1700000000000}'
                % (i % args.users, i, "x" * 60, (i * 7 + 1) % args.users)).encode()
        ch.basic_publish("", p + "chat.private", body, props)
    conn.close()
    print(f"published {args.records} confirmed records to the stream in {time.monotonic() - started:.1f} s")
elif args.mode == "read":
    conn = connect()
    ch = conn.channel()
    ch.basic_qos(prefetch_count=1000)
    total = ch.queue_declare(p + "chat.private", passive=True)  # count is 0 for streams
    seen = 0
    first_at = None

    def on_message(channel, method, properties, body):
        global seen, first_at
        if first_at is None:
            first_at = time.monotonic()
        seen += 1
        if seen % 100 == 0:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if seen >= args.records:
            channel.stop_consuming()

    ch.basic_consume(p + "chat.private", on_message, arguments={"x-stream-offset": "first"})
    ch.start_consuming()
    took = time.monotonic() - first_at
    conn.close()
    print(f"read {seen} records in {took:.2f} s after the first: {seen / took:.0f} records/s")
else:
    # Option B: one exclusive auto-delete queue per live session, bound to chat.direct with the
    # nick, so a private message is routed to user.<nick> and to every session queue.
    conns = []
    made = 0
    while made < args.sessions:
        conn = connect()
        ch = conn.channel()
        for _ in range(min(args.per_connection, args.sessions - made)):
            nick = f"u{made % args.users:05d}"
            q = f"{p}session.{made:05d}"
            ch.queue_declare(q, exclusive=True, auto_delete=True,
                             arguments={"x-max-length": 1000, "x-overflow": "drop-head"})
            ch.queue_bind(q, p + "chat.direct", routing_key=nick)
            ch.basic_consume(q, on_message_callback=lambda *a: None, auto_ack=True)
            made += 1
        conns.append(conn)
    print(f"declared {made} exclusive queues (+ binding + consumer each) on {len(conns)} connections "
          f"in {time.monotonic() - started:.1f} s; holding {args.hold:.0f} s", flush=True)
    end = time.monotonic() + args.hold
    while time.monotonic() < end:
        for c in conns:
            c.process_data_events(time_limit=0)
        time.sleep(1)
    for c in conns:
        c.close()
