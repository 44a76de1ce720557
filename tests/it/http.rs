//! AMI over HTTP (`/rawman`, `/manager`, `/mxml`): the real binary, hyper's HTTP client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

use crate::support::{Client, Host, HostBuilder};

/// The longest any HTTP exchange may take in these tests.
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

const HTML_HEAD: &str = "<title>Asterisk&trade; Manager Interface</title><body bgcolor=\"#ffffff\"><table align=center bgcolor=\"#f1f1f1\" width=\"500\">\r\n\
<tr><td colspan=\"2\" bgcolor=\"#f1f1ff\"><h1>&nbsp;&nbsp;Manager Tester</h1></td></tr>\r\n";
const HTML_TAIL: &str = "</table></body>\r\n";
const HR: &str = "<tr><td colspan=\"2\"><hr></td></tr>\r\n";

/// One HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `mansession_id` the answer sets, after checking the cookie's syntax.
    fn session(&self) -> String {
        let cookie = self.header("set-cookie").expect("Set-Cookie");
        let id = cookie
            .strip_prefix("mansession_id=\"")
            .and_then(|rest| rest.split_once('"'))
            .map(|(id, _)| id.to_string())
            .unwrap_or_else(|| panic!("cookie {cookie:?}"));
        assert_eq!(id.len(), 32, "{cookie:?}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{cookie:?}");
        id
    }
}

/// Sends one request on a new connection from 127.0.0.1.
async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    send_from([127, 0, 0, 1], addr, method, target, headers, body).await
}

/// Sends one request on a new connection from the loopback address `from`.
async fn send_from(
    from: [u8; 4],
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let exchange = async {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from((from, 0)))
            .expect("bind client");
        let stream = socket.connect(addr).await.expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(target)
            .header("host", addr.to_string());
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        let resp = sender.send_request(req).await.expect("response");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).expect("UTF-8 body"),
        }
    };
    tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {target}: no answer"))
}

/// A browser-like client: keeps the session cookie it is given.
#[derive(Clone)]
struct Web {
    addr: SocketAddr,
    session: Option<String>,
}

impl Web {
    fn new(host: &Host) -> Web {
        Web {
            addr: host.http.expect("host started with HTTP"),
            session: None,
        }
    }

    /// GET `/asterisk/<path>`, sending and then keeping the cookie; checks the headers
    /// every manager answer has.
    async fn get(&mut self, path: &str) -> Reply {
        let cookie = self
            .session
            .as_ref()
            .map(|id| format!("mansession_id=\"{id}\""));
        let mut headers = Vec::new();
        if let Some(c) = &cookie {
            headers.push(("cookie", c.as_str()));
        }
        let r = send(self.addr, "GET", &format!("/asterisk/{path}"), &headers, "").await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert_eq!(r.header("cache-control"), Some("no-cache, no-store"));
        let kind = match path.split(['?', '/']).next() {
            Some("rawman") => "text/plain",
            Some("manager") => "text/html",
            _ => "text/xml",
        };
        assert_eq!(
            r.header("content-type"),
            Some(format!("{kind}; charset=utf-8").as_str())
        );
        self.session = Some(r.session());
        r
    }

    async fn login(&mut self, format: &str, user: &str, secret: &str) -> Reply {
        self.get(&format!(
            "{format}?action=login&username={user}&secret={secret}"
        ))
        .await
    }
}

fn http_host() -> Host {
    HostBuilder::default()
        .general("webenabled = true")
        .http("")
        .start()
}

/// `Response: Follows` output of `command` over TCP, read whole.
async fn tcp_command(c: &mut Client, command: &str) -> String {
    c.send(&["Action: Command", &format!("Command: {command}")])
        .await;
    c.read_until(b"--END COMMAND--\r\n\r\n").await
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped (`'` as `apos`).
fn esc(text: &str, apos: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', apos)
}

/// The HTML rows of one AMI message's `name: value` lines (test-side reading of §7.6).
fn rows(message: &str) -> String {
    message
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| {
            let v = v.strip_prefix(' ').unwrap_or(v);
            format!(
                "<tr><td>{}</td><td>{}</td></tr>\r\n",
                esc(n, "&#39;"),
                esc(v, "&#39;")
            )
        })
        .collect()
}

#[tokio::test]
async fn login_ping_listcommands_command_over_rawman_are_the_tcp_bytes() {
    let host = http_host();
    let mut tcp = host.login("admin", "amp111", Some("off")).await;
    let mut web = Web::new(&host);

    let r = web.login("rawman", "admin", "amp111").await;
    assert_eq!(
        r.body,
        "Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    );
    assert_eq!(
        r.header("set-cookie"),
        Some(format!("mansession_id=\"{}\"; Version=1; Max-Age=60", r.session()).as_str())
    );

    let r = web.get("rawman?action=ping&actionid=h2").await;
    assert_eq!(r.body, "Response: Pong\r\nActionID: h2\r\n\r\n");

    let tcp_list = tcp.request(&["Action: ListCommands", "ActionID: l"]).await;
    let r = web.get("rawman?action=listcommands&actionid=l").await;
    assert!(tcp_list.raw.contains("WaitEvent: "), "{}", tcp_list.raw);
    assert_eq!(r.body, tcp_list.raw);

    let tcp_version = tcp_command(&mut tcp, "core show version").await;
    let r = web
        .get("rawman?action=command&command=core%20show%20version")
        .await;
    assert!(tcp_version.starts_with("Response: Follows\r\nPrivilege: Command\r\nami-host "));
    assert_eq!(r.body, tcp_version);
    // A form body (POST) is the same request; `+` is a blank.
    let r = send(
        host.http.expect("http"),
        "POST",
        "/asterisk/rawman",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            (
                "cookie",
                &format!("mansession_id=\"{}\"", web.session.clone().expect("id")),
            ),
        ],
        "action=command&command=core+show+version",
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, tcp_version.as_str()));
}

#[tokio::test]
async fn login_ping_listcommands_command_over_manager_are_escaped_html_tables() {
    let host = http_host();
    let mut tcp = host.login("admin", "amp111", Some("off")).await;
    let mut web = Web::new(&host);

    let r = web.login("manager", "admin", "amp111").await;
    assert_eq!(
        r.body,
        format!(
            "{HTML_HEAD}<tr><td>Response</td><td>Success</td></tr>\r\n\
             <tr><td>Message</td><td>Authentication accepted</td></tr>\r\n{HTML_TAIL}"
        )
    );
    let r = web.get("manager?action=ping&actionid=h2").await;
    assert_eq!(
        r.body,
        format!(
            "{HTML_HEAD}<tr><td>Response</td><td>Pong</td></tr>\r\n\
             <tr><td>ActionID</td><td>h2</td></tr>\r\n{HTML_TAIL}"
        )
    );

    let list = tcp.request(&["Action: ListCommands"]).await;
    let r = web.get("manager?action=listcommands").await;
    // Every value is escaped: `(Priv: <none>)` of Events.
    assert!(
        r.body.contains(
            "<tr><td>Events</td><td>Control Event Flow (Priv: &lt;none&gt;)</td></tr>\r\n"
        ),
        "{}",
        r.body
    );
    let expected = rows(&list.raw);
    assert_eq!(r.body, format!("{HTML_HEAD}{expected}{HTML_TAIL}"));

    // Command: the output line has no colon, so only the two headers show.
    let r = web
        .get("manager?action=command&command=core%20show%20version")
        .await;
    assert_eq!(
        r.body,
        format!(
            "{HTML_HEAD}<tr><td>Response</td><td>Follows</td></tr>\r\n\
             <tr><td>Privilege</td><td>Command</td></tr>\r\n{HTML_TAIL}"
        )
    );
}

#[tokio::test]
async fn login_ping_listcommands_command_over_mxml_are_xml_elements() {
    let host = http_host();
    let mut tcp = host.login("admin", "amp111", Some("off")).await;
    let mut web = Web::new(&host);

    let r = web.login("mxml", "admin", "amp111").await;
    assert_eq!(
        r.body,
        "<ajax-response>\n\
         <response type='object' id='unknown'><generic response='Success' message='Authentication accepted' /></response>\n\
         </ajax-response>\n"
    );
    let r = web
        .get("mxml?action=ping&ActionID=h2&ajaxdest=d1&ajaxobjtype=pong")
        .await;
    assert_eq!(
        r.body,
        "<ajax-response>\n\
         <response type='object' id='d1'><pong response='Pong' actionid='h2' /></response>\n\
         </ajax-response>\n"
    );

    let list = tcp.request(&["Action: ListCommands"]).await;
    let r = web.get("mxml?action=listcommands").await;
    let attributes: String = list
        .headers
        .iter()
        .map(|(n, v)| {
            format!(
                " {}='{}'",
                esc(&n.to_lowercase(), "&apos;"),
                esc(v, "&apos;")
            )
        })
        .collect();
    assert_eq!(
        r.body,
        format!(
            "<ajax-response>\n<response type='object' id='unknown'><generic{attributes} /></response>\n</ajax-response>\n"
        )
    );

    let r = web
        .get("mxml?action=command&command=core%20show%20version")
        .await;
    assert_eq!(
        r.body,
        "<ajax-response>\n\
         <response type='object' id='unknown'><generic response='Follows' privilege='Command' /></response>\n\
         </ajax-response>\n"
    );
}

#[tokio::test]
async fn cookie_session_carries_login_and_no_cookie_means_authentication_required() {
    let host = http_host();
    let mut web = Web::new(&host);
    web.login("rawman", "admin", "amp111").await;
    let id = web.session.clone().expect("id");

    let r = web.get("rawman?action=ping").await;
    assert_eq!(r.body, "Response: Pong\r\n\r\n");
    assert_eq!(r.session(), id, "the same session goes on");

    // No cookie, or an unknown one: a new, unauthenticated session.
    let mut stranger = Web::new(&host);
    let r = stranger.get("rawman?action=ping&actionid=x").await;
    assert_eq!(
        r.body,
        "Response: Error\r\nActionID: x\r\nMessage: Authentication Required\r\n\r\n"
    );
    assert_ne!(r.session(), id);
    let mut forger = Web::new(&host);
    let last = if id.ends_with('0') { '1' } else { '0' };
    forger.session = Some(format!("{}{last}", &id[..31]));
    let r = forger.get("rawman?action=ping").await;
    assert_eq!(
        r.body,
        "Response: Error\r\nMessage: Authentication Required\r\n\r\n"
    );
    assert_ne!(r.session(), id);

    // The cookie works only from the address it was issued to.
    let cookie = format!("mansession_id=\"{id}\"");
    let r = send_from(
        [127, 0, 0, 2],
        web.addr,
        "GET",
        "/asterisk/rawman?action=ping",
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(
        r.body,
        "Response: Error\r\nMessage: Authentication Required\r\n\r\n"
    );
    assert_ne!(r.session(), id);

    // The id may also come as a parameter (clients without cookies).
    let r = send(
        web.addr,
        "GET",
        &format!("/asterisk/rawman?action=ping&mansession_id={id}"),
        &[],
        "",
    )
    .await;
    assert_eq!(r.body, "Response: Pong\r\n\r\n");

    // A failed login (here: the ACL, checked against the HTTP peer) ends the session.
    let host = HostBuilder::default()
        .general("webenabled = true")
        .http("")
        .extra("[users.lanonly]\nsecret = \"lan\"\nread = \"all\"\nwrite = \"all\"\ndeny = [\"0.0.0.0/0\"]\npermit = [\"10.0.0.0/8\"]\n")
        .start();
    let mut web = Web::new(&host);
    let r = web.login("rawman", "lanonly", "lan").await;
    assert_eq!(
        r.body,
        "Response: Error\r\nMessage: Authentication failed\r\n\r\n"
    );
    let needle = "failed to pass IP ACL as 'lanonly'";
    assert!(host.wait_log(needle).await.contains(needle));
    let failed = web.session.clone();
    web.get("rawman?action=ping").await;
    assert_ne!(web.session, failed);
}

#[tokio::test]
async fn session_expires_httptimeout_after_its_last_request() {
    let host = HostBuilder::default()
        .general("webenabled = true\nhttptimeout = 2")
        .http("")
        .start();
    let mut web = Web::new(&host);
    let r = web.login("rawman", "admin", "amp111").await;
    let id = r.session();
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.ends_with("; Version=1; Max-Age=2")),
        "{r:?}"
    );
    // Requests 1.2 s apart keep it alive well past 2 s after the login.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let r = web.get("rawman?action=ping").await;
        assert_eq!(r.body, "Response: Pong\r\n\r\n");
        assert_eq!(r.session(), id);
    }
    // WaitEvent is clamped to httptimeout - 10 (here 0): it returns at once.
    let started = Instant::now();
    let r = web.get("rawman?action=waitevent&timeout=30").await;
    assert!(started.elapsed() < Duration::from_secs(2), "{r:?}");
    assert_eq!(
        r.body,
        "Response: Success\r\nMessage: Waiting for Event...\r\n\r\nEvent: WaitEventComplete\r\n\r\n"
    );

    // Idle for longer than 2 s: removed and logged.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !host
        .log()
        .contains("HTTP Manager 'admin' timed out from 127.0.0.1")
    {
        assert!(Instant::now() < deadline, "no expiry log:\n{}", host.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut tcp = host.login("admin", "amp111", Some("off")).await;
    let shown = tcp_command(&mut tcp, "manager show connected").await;
    assert!(shown.contains("1 users connected."), "{shown}");
    let r = web.get("rawman?action=ping").await;
    assert_eq!(
        r.body,
        "Response: Error\r\nMessage: Authentication Required\r\n\r\n"
    );
    assert_ne!(r.session(), id);
}

#[tokio::test]
async fn waitevent_over_rawman_returns_a_tcp_userevent_or_times_out() {
    let host = http_host();
    let mut tcp = host.login("admin", "amp111", Some("user")).await;
    let mut web = Web::new(&host);
    web.login("rawman", "admin", "amp111").await;

    // Woken by a UserEvent sent over TCP about a second into the wait.
    let waiter = {
        let mut web = web.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = web
                .get("rawman?action=waitevent&timeout=5&actionid=h4")
                .await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;
    tcp.send(&["Action: UserEvent", "ActionID: 21u", "UserEvent: HttpWake"])
        .await;
    let event = tcp.wait_event("UserEvent").await;
    let (r, took) = waiter.await.expect("waiter");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(
        r.body,
        format!(
            "Response: Success\r\nActionID: h4\r\nMessage: Waiting for Event...\r\n\r\n{}\
             Event: WaitEventComplete\r\nActionID: h4\r\n\r\n",
            event.raw
        )
    );

    // Nothing happens: it times out after Timeout seconds.
    let started = Instant::now();
    let r = web
        .get("rawman?action=waitevent&timeout=1&actionid=h5")
        .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "took {took:?}"
    );
    assert_eq!(
        r.body,
        "Response: Success\r\nActionID: h5\r\nMessage: Waiting for Event...\r\n\r\n\
         Event: WaitEventComplete\r\nActionID: h5\r\n\r\n"
    );
}

#[tokio::test]
async fn newest_waitevent_wins_and_other_requests_run_beside_a_long_poll() {
    let host = http_host();
    let mut web = Web::new(&host);
    web.login("rawman", "admin", "amp111").await;
    let wait = |id: &'static str| {
        let mut web = web.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = web
                .get(&format!("rawman?action=waitevent&timeout=10&actionid={id}"))
                .await;
            (r, started.elapsed())
        })
    };
    let first = wait("first");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = wait("second");
    // The first is abandoned: an empty 200 with the cookie.
    let (r, took) = first.await.expect("first");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(r.body, "");
    // A Ping during the long poll answers at once.
    let started = Instant::now();
    let r = web.get("rawman?action=ping").await;
    assert_eq!(r.body, "Response: Pong\r\n\r\n");
    assert!(started.elapsed() < Duration::from_secs(2));
    // An event from this very session wakes the second waiter.
    let r = web
        .get("rawman?action=userevent&userevent=Mine&actionid=u")
        .await;
    assert_eq!(
        r.body,
        "Response: Success\r\nActionID: u\r\nMessage: Event Sent\r\n\r\n"
    );
    let (r, took) = second.await.expect("second");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(
        r.body,
        "Response: Success\r\nActionID: second\r\nMessage: Waiting for Event...\r\n\r\n\
         Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Mine\r\naction: userevent\r\nactionid: u\r\n\r\n\
         Event: WaitEventComplete\r\nActionID: second\r\n\r\n"
    );
}

#[tokio::test]
async fn userevent_markup_is_escaped_in_manager_and_mxml() {
    let host = http_host();
    let mut tcp = host.login("admin", "amp111", Some("off")).await;
    let mut html = Web::new(&host);
    html.get("manager?action=login&username=admin&secret=amp111&events=user")
        .await;
    let mut xml = Web::new(&host);
    xml.get("mxml?action=login&username=admin&secret=amp111&events=user")
        .await;

    let reply = tcp
        .request(&[
            "Action: UserEvent",
            "UserEvent: Evil",
            "Body: <script>alert('x&y')</script>",
        ])
        .await;
    assert_eq!(reply.get("Message"), Some("Event Sent"));

    let r = html.get("manager?action=ping").await;
    assert_eq!(
        r.body,
        format!(
            "{HTML_HEAD}<tr><td>Response</td><td>Pong</td></tr>\r\n{HR}\
             <tr><td>Event</td><td>UserEvent</td></tr>\r\n\
             <tr><td>Privilege</td><td>user,all</td></tr>\r\n\
             <tr><td>UserEvent</td><td>Evil</td></tr>\r\n\
             <tr><td>Action</td><td>UserEvent</td></tr>\r\n\
             <tr><td>Body</td><td>&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;</td></tr>\r\n\
             {HTML_TAIL}"
        )
    );
    assert!(!r.body.contains("<script>"));

    let r = xml.get("mxml?action=ping").await;
    assert_eq!(
        r.body,
        "<ajax-response>\n\
         <response type='object' id='unknown'><generic response='Pong' /></response>\n\
         <response type='object' id='unknown'><generic event='UserEvent' privilege='user,all' userevent='Evil' action='UserEvent' \
         body='&lt;script&gt;alert(&apos;x&amp;y&apos;)&lt;/script&gt;' /></response>\n\
         </ajax-response>\n"
    );
}

#[tokio::test]
async fn webenabled_off_answers_404_until_a_reload_turns_it_on() {
    let host = HostBuilder::default()
        .general("webenabled = false")
        .http("")
        .start();
    let addr = host.http.expect("http");
    let r = send(addr, "GET", "/asterisk/rawman?action=ping", &[], "").await;
    assert_eq!(r.status, 404);
    assert!(r.header("set-cookie").is_none());

    let config = std::fs::read_to_string(&host.config).expect("config");
    let config = config.replace("webenabled = false", "webenabled = true");
    std::fs::write(&host.config, config).expect("rewrite config");
    let mut tcp = host.login("admin", "amp111", Some("off")).await;
    let out = tcp_command(&mut tcp, "reload").await;
    assert_eq!(
        out,
        "Response: Follows\r\nPrivilege: Command\r\n--END COMMAND--\r\n\r\n"
    );

    let mut web = Web::new(&host);
    let r = web.get("rawman?action=ping").await;
    assert_eq!(
        r.body,
        "Response: Error\r\nMessage: Authentication Required\r\n\r\n"
    );
}

#[tokio::test]
async fn status_codes_for_paths_methods_and_malformed_queries() {
    let host = http_host();
    let addr = host.http.expect("http");
    let status = |method: &'static str, target: &'static str| async move {
        let r = send(addr, method, target, &[], "").await;
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.ends_with("charset=utf-8")),
            "{r:?}"
        );
        assert_eq!(r.header("cache-control"), Some("no-cache, no-store"));
        r.status
    };
    for path in [
        "/",
        "/rawman",
        "/asterisk",
        "/asterisk/rawman2",
        "/asterisk/rawman//",
        "/asterisk/rawman/x",
        "/asterisk/static/index.html",
    ] {
        assert_eq!(status("GET", path).await, 404, "{path}");
    }
    for path in [
        "/ASTERISK/RawMan?action=ping",
        "/asterisk/rawman/?action=ping",
        "/asterisk/%6Dxml",
        "/asterisk/manager",
    ] {
        assert_eq!(status("GET", path).await, 200, "{path}");
    }
    for method in ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let r = send(addr, method, "/asterisk/rawman?action=ping", &[], "").await;
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, POST"), "{method}");
    }
    for query in [
        "/asterisk/rawman?action=ping&actionid=%zz",
        "/asterisk/rawman?action=ping&actionid=%4",
        "/asterisk/rawman?action=ping&actionid=1%0D%0AEvent:%20Forged",
        "/asterisk/rawman?action=ping&actionid=%FF",
        "/asterisk/rawman?=ping",
    ] {
        let r = send(addr, "GET", query, &[], "").await;
        assert_eq!(r.status, 400, "{query}");
        assert!(r.header("set-cookie").is_none());
    }
    let r = send(
        addr,
        "POST",
        "/asterisk/rawman",
        &[("content-type", "application/json")],
        "{\"action\":\"ping\"}",
    )
    .await;
    assert_eq!(r.status, 415);
    let big = "a=".to_string() + &"x".repeat(70 * 1024);
    let r = send(
        addr,
        "POST",
        "/asterisk/rawman",
        &[("content-type", "application/x-www-form-urlencoded")],
        &big,
    )
    .await;
    assert_eq!(r.status, 413);
    // An empty request is an AMI error, as on TCP, not an HTTP one.
    let r = send(addr, "GET", "/asterisk/rawman", &[], "").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            200,
            "Response: Error\r\nMessage: Missing action in request\r\n\r\n"
        )
    );
    // Past the AMI header limit: the AMI error a TCP client gets.
    let many: String = (0..130).map(|i| format!("h{i}=v&")).collect();
    let r = send(
        addr,
        "GET",
        &format!("/asterisk/rawman?action=ping&actionid=7&{many}"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            200,
            "Response: Error\r\nActionID: 7\r\nMessage: Too many headers (limit 128)\r\n\r\n"
        )
    );
}

#[tokio::test]
async fn http_sessions_are_counted_in_manager_show_connected() {
    let host = http_host();
    let mut web = Web::new(&host);
    web.login("rawman", "reader", "reader").await;
    let mut tcp = host.login("admin", "amp111", Some("off")).await;
    let shown = tcp_command(&mut tcp, "manager show connected").await;
    assert!(
        shown.contains("\n  reader           127.0.0.1      \n"),
        "{shown}"
    );
    assert!(
        shown.contains("\n  admin            127.0.0.1      \n"),
        "{shown}"
    );
    assert!(shown.contains("2 users connected."), "{shown}");
    // Logoff ends the HTTP session at once.
    let r = web.get("rawman?action=logoff").await;
    assert_eq!(
        r.body,
        "Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    );
    let shown = tcp_command(&mut tcp, "manager show connected").await;
    assert!(shown.contains("1 users connected."), "{shown}");
}

#[tokio::test]
async fn an_idle_session_keeps_the_newest_events_the_ring_holds_and_goes_on() {
    let host = HostBuilder::default()
        .general("webenabled = true\neventqueue = 16")
        .http("")
        .start();
    let mut web = Web::new(&host);
    web.get("rawman?action=login&username=admin&secret=amp111&events=user")
        .await;
    let mut tcp = host.login("admin", "amp111", Some("off")).await;
    for i in 1..=40 {
        let reply = tcp
            .request(&["Action: UserEvent", &format!("UserEvent: Q{i}")])
            .await;
        assert_eq!(reply.get("Message"), Some("Event Sent"));
    }
    let r = web.get("rawman?action=ping").await;
    let (reply, events) = r.body.split_once("\r\n\r\n").expect("reply");
    assert_eq!(reply, "Response: Pong");
    let names: Vec<&str> = events
        .split("\r\n\r\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.lines()
                .find_map(|l| l.strip_prefix("UserEvent: "))
                .expect("UserEvent header")
        })
        .collect();
    // The ring holds 16 events: Q25 to Q40 are left, Q1 to Q24 were dropped.
    let expected: Vec<String> = (25..=40).map(|i| format!("Q{i}")).collect();
    assert_eq!(names, expected);
    let log = host
        .wait_log("HTTP session fell behind the event queue")
        .await;
    assert!(
        log.contains("HTTP session fell behind the event queue"),
        "{log}"
    );
    // Still logged in; nothing more queued.
    let r = web.get("rawman?action=ping").await;
    assert_eq!(r.body, "Response: Pong\r\n\r\n");
}
