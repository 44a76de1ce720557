#!/usr/bin/env node
// Black-box check of the `asterisk-manager` (0.2.0) Node AMI client library against an
// AMI server.
//
// Usage: node check.js HOST PORT
//
// Steps (each prints one line; exit status 0 only when all pass):
//   a) log in as admin/amp111 the way the library's README does (credentials and
//      events=true given to the constructor), send Ping, expect a success reply;
//   b) a second connection (admin) sends `Action: UserEvent` with
//      `UserEvent: NodeProbe` and a custom `Probe: <random token>` header; the first
//      connection must emit it (as `userevent` and `userevent-nodeprobe`) with the
//      header name lower-cased (`probe`) and the token as its value;
//   c) log in with the secret `wrong`: the library must report the failure.
//
// How asterisk-manager 0.2.0 reports a login: `ami.login(callback)` sends
// `Action: login` (with `Event: on|off`, singular, which Asterisk ignores) and calls
// `callback(err)`. The reply is routed by ActionID; when its `Response` is `Error`
// (case-insensitive) `err` is the parsed reply object ({response: 'Error', actionid,
// message: 'Authentication failed'}), otherwise the callback gets no error and the
// manager marks itself authenticated and sends the actions it held back. Passing the
// credentials to the constructor (README usage) runs the same login with no callback:
// a failure is then visible only as a `response` event with `response: 'Error'`, and
// actions stay held forever. Every reply is also emitted as `response`.

'use strict';

const crypto = require('crypto');
const Manager = require('asterisk-manager');

const USER = 'admin';
const SECRET = 'amp111';
const STEP_TIMEOUT_MS = 8000;
const TOTAL_TIMEOUT_MS = 25000;

class CheckFailed extends Error {}

const managers = [];
const timers = new Set();

function show(obj) {
  return JSON.stringify(obj);
}

// Resolves or rejects like `executor`, but fails after STEP_TIMEOUT_MS. `what` is a
// string or a function giving one (evaluated on timeout).
function bounded(what, executor) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      const desc = typeof what === 'function' ? what() : what;
      reject(new CheckFailed(`timed out after ${STEP_TIMEOUT_MS / 1000} s waiting for ${desc}`));
    }, STEP_TIMEOUT_MS);
    timers.add(timer);
    const done = (f) => (v) => {
      clearTimeout(timer);
      timers.delete(timer);
      f(v);
    };
    executor(done(resolve), done(reject));
  });
}

// Records socket errors (connection refused, reset, ...) so a timeout can name them.
// `ami.failLogin`, while a login is pending, fails it at once on a socket error.
function track(ami, label) {
  ami.errors = [];
  ami.failLogin = null;
  ami.on('error', (err) => {
    ami.errors.push(String(err));
    if (ami.failLogin) ami.failLogin(new CheckFailed(`${label}: socket error before the login reply: ${err}`));
  });
  ami.label = label;
  managers.push(ami);
  return ami;
}

function errorsOf(ami) {
  return ami.errors.length ? ` (socket errors: ${ami.errors.join('; ')})` : '';
}

// A manager with the given credentials, not yet connected.
function unconnected(secret, events, label) {
  return track(new Manager(undefined, undefined, USER, secret, events), label);
}

// Connects `ami` and logs in with `ami.login(callback)`; resolves with the callback's
// `err` (undefined on success).
function connectAndLogin(ami, host, port, what) {
  return bounded(() => `the login of ${what}${errorsOf(ami)}`, (resolve, reject) => {
    ami.failLogin = reject;
    ami.connect(port, host, () => ami.login((err) => {
      ami.failLogin = null;
      resolve(err);
    }));
  });
}

function action(ami, req, what) {
  return bounded(what, (resolve, reject) => {
    ami.action(req, (err, res) => {
      if (err) reject(new CheckFailed(`${what}: error reply ${show(err)}`));
      else resolve(res);
    });
  });
}

async function stepLoginPing(host, port) {
  // README usage: the constructor connects and logs in; actions are held until the
  // login succeeds, so the Ping reply also proves the login.
  const listener = track(new Manager(port, host, USER, SECRET, true), 'listener');
  const loginReply = bounded(() => `the login reply on the first connection${errorsOf(listener)}`, (resolve, reject) => {
    listener.failLogin = reject;
    const onResponse = (res) => {
      if (/^Authentication/i.test(res.message || '') || (res.response || '').toLowerCase() === 'error') {
        listener.removeListener('response', onResponse);
        listener.failLogin = null;
        resolve(res);
      }
    };
    listener.on('response', onResponse);
  });
  const pong = action(listener, { action: 'Ping' }, 'the Ping reply');
  pong.catch(() => {}); // awaited below, after the login reply
  const login = await loginReply;
  if (login.response !== 'Success') {
    throw new CheckFailed(`login as ${USER} refused: ${show(login)}`);
  }
  const res = await pong;
  if (res.response !== 'Success') {
    throw new CheckFailed(`Ping reply is not a success: ${show(res)}`);
  }
  console.log(`ok a: logged in as ${USER} (reply ${show(login.message)}) and Ping answered ` +
    `response=${res.response}, ping=${show(res.ping)}, timestamp=${show(res.timestamp)}`);
  return listener;
}

async function stepUserEvent(host, port, listener) {
  const token = crypto.randomBytes(8).toString('hex');
  const seen = [];
  const generic = new Promise((resolve) => {
    listener.on('userevent', (evt) => {
      seen.push(evt);
      if (evt.userevent === 'NodeProbe' && evt.probe === token) resolve(evt);
    });
  });
  // Match on the token: other clients of the same server may fire probes too.
  const received = bounded(`the UserEvent on the first connection (with probe ${token})`, (resolve) => {
    const onProbe = (evt) => {
      if (evt.probe !== token) return;
      listener.removeListener('userevent-nodeprobe', onProbe);
      resolve(evt);
    };
    listener.on('userevent-nodeprobe', onProbe);
  });

  const sender = unconnected(SECRET, false, 'sender');
  const err = await connectAndLogin(sender, host, port, 'the second connection');
  if (err) throw new CheckFailed(`second login refused: ${show(err)}`);
  const ack = await action(
    sender,
    { action: 'UserEvent', userevent: 'NodeProbe', Probe: token },
    'the UserEvent reply',
  );
  if (ack.response !== 'Success') {
    throw new CheckFailed(`UserEvent reply is not a success: ${show(ack)}`);
  }
  let evt;
  try {
    evt = await received;
  } catch (e) {
    throw new CheckFailed(`${e.message}; UserEvents seen: ${show(seen)}`);
  }
  await bounded("the generic 'userevent' emit", (resolve) => generic.then(resolve));
  if (evt.event !== 'UserEvent') {
    throw new CheckFailed(`event name is ${show(evt.event)}, expected "UserEvent": ${show(evt)}`);
  }
  // Matched on `evt.probe` above, so the header arrived lower-cased as `probe`.
  if (Object.prototype.hasOwnProperty.call(evt, 'Probe')) {
    throw new CheckFailed(`library did not lower-case the Probe header: ${show(evt)}`);
  }
  console.log(`ok b: second connection's UserEvent (reply ${show(ack.message)}) reached the first ` +
    `connection as userevent-nodeprobe with userevent=${evt.userevent}, probe=${evt.probe}`);
}

async function stepBadSecret(host, port) {
  const ami = unconnected('wrong', false, 'bad secret');
  const closed = new Promise((resolve) => ami.once('close', resolve));
  const started = Date.now();
  const err = await connectAndLogin(ami, host, port, "admin with secret 'wrong'");
  const took = (Date.now() - started) / 1000;
  if (!err) throw new CheckFailed('login with a wrong secret accepted (callback got no error)');
  if (err.response !== 'Error') {
    throw new CheckFailed(`failed login reply has response ${show(err.response)}, expected "Error": ${show(err)}`);
  }
  await bounded('the server to close the refused connection', (resolve) => closed.then(resolve));
  console.log(`ok c: secret 'wrong' refused after ${took.toFixed(1)} s: login callback got ` +
    `err with response=${err.response}, message=${show(err.message)}; server closed the connection`);
}

async function run(host, port) {
  const listener = await stepLoginPing(host, port);
  await stepUserEvent(host, port, listener);
  await stepBadSecret(host, port);
}

function shutdown(code) {
  for (const t of timers) clearTimeout(t);
  timers.clear();
  for (const ami of managers) ami.disconnect();
  process.exitCode = code;
  // Everything is closed; should something still hold the event loop, do not hang.
  setTimeout(() => {
    console.log('note: event loop still busy after closing the connections; exiting');
    process.exit(code);
  }, 2000).unref();
}

function main() {
  const [host, portArg] = process.argv.slice(2);
  const port = Number(portArg);
  if (!host || !Number.isInteger(port)) {
    console.error('usage: node check.js HOST PORT');
    process.exitCode = 2;
    return;
  }
  const total = setTimeout(() => {
    console.log(`FAIL: the whole check took more than ${TOTAL_TIMEOUT_MS / 1000} s`);
    shutdown(1);
  }, TOTAL_TIMEOUT_MS);
  run(host, port).then(
    () => {
      clearTimeout(total);
      console.log('PASS: asterisk-manager 0.2.0 works against the server');
      shutdown(0);
    },
    (e) => {
      clearTimeout(total);
      if (e instanceof CheckFailed) console.log(`FAIL: ${e.message}`);
      else console.log(`FAIL: unexpected ${e && e.stack ? e.stack : e}`);
      shutdown(1);
    },
  );
}

main();
