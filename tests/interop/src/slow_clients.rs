//! Clients that take their time, against a server on a loopback port: half a
//! request head, a silent connection, an idle keep-alive connection, a body
//! that stops a tenth of the way, and one that trickles in a byte at a time. A server with a client timeout closes
//! each of them soon after it; one without keeps them open.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The slow connections, opened.
pub struct SlowClients {
    waiting: Vec<(String, TcpStream)>,
    refused: Vec<(String, TcpStream)>,
}

/// How long a slow connection is waited on before it counts as held open.
const PATIENCE: Duration = Duration::from_secs(10);

fn connect(port: u16) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(PATIENCE)).expect("timeout");
    c
}

impl SlowClients {
    /// Opens them against `port`; `answered_path` is a GET that answers 200
    /// (the idle connection's one request). `also` are further ports on which a
    /// connection only stays silent (another listener of the same server).
    pub fn open(port: u16, answered_path: &str, also: &[u16]) -> Self {
        let mut waiting = Vec::new();
        // Half a request head, then nothing (a slow-loris client).
        let mut partial = connect(port);
        partial
            .write_all(b"GET /authorize HTTP/1.1\r\nhost: localhost\r\nx-slow: ")
            .expect("write");
        waiting.push(("half a head".to_string(), partial));
        // Connected, and silent.
        waiting.push(("silent".to_string(), connect(port)));
        for other in also {
            waiting.push((format!("silent on port {other}"), connect(*other)));
        }
        // Answered once, then idle on keep-alive.
        let mut answered = connect(port);
        answered
            .write_all(
                format!("GET {answered_path} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes(),
            )
            .expect("write");
        let mut status = [0u8; 12];
        answered.read_exact(&mut status).expect("an answer");
        assert_eq!(&status, b"HTTP/1.1 200", "GET {answered_path}");
        let mut rest = [0u8; 4096];
        // The rest of the answer (small), so what is read later is what comes after.
        answered
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        while matches!(answered.read(&mut rest), Ok(n) if n > 0) {}
        answered.set_read_timeout(Some(PATIENCE)).expect("timeout");
        waiting.push(("idle after an answer".to_string(), answered));
        // A whole head, and a tenth of the body it announces.
        let head = b"POST /login HTTP/1.1\r\nhost: localhost\r\n\
                     content-type: application/x-www-form-urlencoded\r\n\
                     content-length: 100\r\n\r\nstep=user";
        let mut stalled = connect(port);
        stalled.write_all(head).expect("write");
        // The same, then a byte every 100 ms (the whole body would take 9 s).
        let mut trickling = connect(port);
        trickling.write_all(head).expect("write");
        let mut writer = trickling.try_clone().expect("clone");
        std::thread::spawn(move || {
            for _ in 0..91 {
                std::thread::sleep(Duration::from_millis(100));
                if writer.write_all(b"x").is_err() {
                    return;
                }
            }
        });
        let refused = vec![
            ("stalled body".to_string(), stalled),
            ("trickling body".to_string(), trickling),
        ];
        Self { waiting, refused }
    }

    /// Waits until the server has closed every one (each at most 10 s), and
    /// returns how long that took from now. Panics naming the first one still
    /// open, or answered with a success; the slow bodies must get a 400.
    pub fn closed_within(self) -> Duration {
        let start = Instant::now();
        let read_all = |what: &str, c: &mut TcpStream| {
            let mut rest = Vec::new();
            match c.read_to_end(&mut rest) {
                Ok(_) => rest,
                // Reset once the server has answered and closed while the
                // trickle still writes: what arrived before counts.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !rest.is_empty() => {
                    rest
                }
                Err(e) => panic!("{what}: still open after {:?}: {e}", start.elapsed()),
            }
        };
        for (what, mut c) in self.waiting {
            let rest = read_all(&what, &mut c);
            assert!(!rest.starts_with(b"HTTP/1.1 2"), "{what}: no answer");
        }
        for (what, mut c) in self.refused {
            let answer = read_all(&what, &mut c);
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.starts_with("HTTP/1.1 400"), "{what}: {answer}");
        }
        start.elapsed()
    }
}
