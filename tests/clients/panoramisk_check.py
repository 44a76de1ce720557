#!/usr/bin/env python3
"""Black-box check of the `panoramisk` (1.4) AMI client library against an AMI server.

Usage: panoramisk_check.py HOST PORT

Steps (each prints one line; exit status 0 only when all pass):
  a) log in as admin/amp111 with events on, send Ping, expect a success reply;
  b) a second Manager (admin, events off) sends `Action: UserEvent` with
     `UserEvent: PanoramiskProbe` and `Probe: <random token>`; the first Manager's
     `UserEvent` handler must receive it with that header and token;
  c) log in with the secret `wrong`: the library must report the failure.

How panoramisk 1.4 reports a login: `Manager.connect()` returns the connection task;
once connected, the manager sends `Action: Login` and keeps its future in
`manager.authenticated_future`. That future resolves to the reply `Message`; the
manager's own done-callback (`Manager.login`) sets `manager.authenticated =
bool(reply.success)` and calls `on_login` only on success. A failed login raises
nothing: the reply has `Response: Error` (so `.success` is False),
`manager.authenticated` stays False and `on_login` is not called. When the server then
closes the connection, `on_disconnect` runs and the manager schedules a reconnect after
`reconnect_timeout` seconds.

panoramisk's keep-alive Ping (`ping_delay`) and reconnect (`reconnect_timeout`) timers
are set to an hour here so neither fires during the check; they are plain loop timers
and are dropped when `asyncio.run` closes the loop, so they do not keep the process
alive.
"""

import asyncio
import logging
import secrets
import sys
import time

from panoramisk import Manager

USER = "admin"
SECRET = "amp111"
STEP_TIMEOUT = 8.0  # seconds, per step
TOTAL_TIMEOUT = 25.0  # seconds, whole run
NEVER = 3600  # seconds: panoramisk's ping/reconnect timers never fire during the run


class CheckFailed(Exception):
    pass


def make_manager(host, port, secret, events, on_login=None, on_disconnect=None):
    config = dict(
        host=host,
        port=port,
        username=USER,
        secret=secret,
        events=events,
        ping_delay=NEVER,
        ping_interval=NEVER,
        reconnect_timeout=NEVER,
        loop=asyncio.get_running_loop(),
    )
    if on_login is not None:
        config["on_login"] = on_login
    if on_disconnect is not None:
        config["on_disconnect"] = on_disconnect
    return Manager(**config)


async def bounded(awaitable, what):
    try:
        return await asyncio.wait_for(awaitable, STEP_TIMEOUT)
    except asyncio.TimeoutError:
        raise CheckFailed(f"timed out after {STEP_TIMEOUT:.0f} s waiting for {what}") from None


async def login(manager, what):
    """Connects `manager` and returns the Login reply (a panoramisk Message)."""
    try:
        await bounded(manager.connect(), f"the TCP connection ({what})")
    except OSError as e:
        raise CheckFailed(f"could not connect ({what}): {e}") from None
    # The connect task's done-callback (Manager.connection_made, registered before we
    # awaited the task) has sent Login and stored its future.
    fut = manager.authenticated_future
    if fut is None:
        raise CheckFailed(f"panoramisk did not send Login ({what})")
    reply = await bounded(asyncio.shield(fut), f"the Login reply ({what})")
    await asyncio.sleep(0)  # let Manager.login (the future's own callback) finish
    return reply


async def step_login_ping(host, port, managers):
    logged_in = asyncio.get_running_loop().create_future()

    def on_login(_manager):
        if not logged_in.done():
            logged_in.set_result(True)

    m = make_manager(host, port, SECRET, "on", on_login=on_login)
    managers.append(m)
    reply = await login(m, "admin, events on")
    if not reply.success or reply.response != "Success":
        raise CheckFailed(f"login as {USER} refused: {reply!r}")
    if not m.authenticated:
        raise CheckFailed(f"Login reply was {reply!r} but manager.authenticated is False")
    await bounded(logged_in, "panoramisk's on_login callback")
    pong = await bounded(m.send_action({"Action": "Ping"}), "the Ping reply")
    if not pong.success or pong.response != "Success":
        raise CheckFailed(f"Ping reply is not a success: {pong!r}")
    print(f"ok a: logged in as {USER} (events on) and Ping answered "
          f"Response: {pong.response}, Ping: {pong.ping!r}, Timestamp: {pong.timestamp!r}")
    return m


async def step_user_event(host, port, listener, managers):
    token = secrets.token_hex(8)
    received = asyncio.get_running_loop().create_future()
    seen = []

    def on_user_event(_manager, event):
        seen.append(event)
        # Match on the token: other clients of the same server may fire probes too.
        if (
            event.get("UserEvent") == "PanoramiskProbe"
            and event.get("Probe") == token
            and not received.done()
        ):
            received.set_result(event)

    listener.register_event("UserEvent", on_user_event)

    # Events off for the sender: with events on, its own UserEvent (which carries the
    # sender's ActionID) could reach it before the reply and panoramisk would take the
    # event for the reply.
    sender = make_manager(host, port, SECRET, "off")
    managers.append(sender)
    reply = await login(sender, "second connection, admin, events off")
    if not reply.success or not sender.authenticated:
        raise CheckFailed(f"second login refused: {reply!r}")
    ack = await bounded(
        sender.send_action({"Action": "UserEvent", "UserEvent": "PanoramiskProbe", "Probe": token}),
        "the UserEvent reply",
    )
    if not ack.success or ack.response != "Success":
        raise CheckFailed(f"UserEvent reply is not a success: {ack!r}")
    try:
        event = await bounded(asyncio.shield(received), "the UserEvent on the first connection")
    except CheckFailed as e:
        raise CheckFailed(f"{e} (with Probe: {token}); UserEvents seen: {seen!r}") from None
    if "Probe" not in list(event):
        raise CheckFailed(f"UserEvent header name is not 'Probe' as sent: {event!r}")
    print(f"ok b: second connection's UserEvent (reply {ack.message!r}) reached the first "
          f"connection's handler with UserEvent: {event['UserEvent']}, Probe: {event['Probe']}")


async def step_bad_secret(host, port, managers):
    logged_in = []
    disconnected = asyncio.get_running_loop().create_future()

    def on_login(_manager):
        logged_in.append(True)

    def on_disconnect(_manager, exc):
        if not disconnected.done():
            disconnected.set_result(exc)

    m = make_manager(host, port, "wrong", "on", on_login=on_login, on_disconnect=on_disconnect)
    managers.append(m)
    started = time.monotonic()
    reply = await login(m, "admin with secret 'wrong'")
    took = time.monotonic() - started
    if reply.success or m.authenticated:
        raise CheckFailed(f"login with a wrong secret accepted: {reply!r}")
    if reply.response != "Error":
        raise CheckFailed(f"failed login reply has Response {reply.response!r}, expected 'Error': {reply!r}")
    await asyncio.sleep(0)
    if logged_in:
        raise CheckFailed("on_login was called for a refused login")
    await bounded(asyncio.shield(disconnected), "the server to close the refused connection")
    print(f"ok c: secret 'wrong' refused after {took:.1f} s: Response: {reply.response}, "
          f"Message: {reply.message!r}; manager.authenticated is False, on_login not called, "
          f"on_disconnect called when the server closed")


async def run(host, port):
    managers = []
    try:
        listener = await step_login_ping(host, port, managers)
        await step_user_event(host, port, listener, managers)
        await step_bad_secret(host, port, managers)
    finally:
        for m in managers:
            m.close()
        await asyncio.sleep(0.05)  # let the transports finish closing


def main(argv):
    if len(argv) != 3:
        print("usage: panoramisk_check.py HOST PORT", file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="panoramisk log: %(levelname)s %(name)s: %(message)s",
    )

    async def bounded_run():
        try:
            await asyncio.wait_for(run(host, port), TOTAL_TIMEOUT)
        except asyncio.TimeoutError:
            raise CheckFailed(f"the whole check took more than {TOTAL_TIMEOUT:.0f} s") from None

    try:
        asyncio.run(bounded_run())
    except CheckFailed as e:
        print(f"FAIL: {e}")
        return 1
    except Exception as e:  # the library itself blew up
        print(f"FAIL: unexpected {type(e).__name__}: {e}")
        import traceback

        traceback.print_exc()
        return 1
    print("PASS: panoramisk 1.4 works against the server")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
