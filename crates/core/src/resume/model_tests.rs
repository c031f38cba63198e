//! A seeded random model of both sides: random writes and ends each way over
//! a connection that is cut at random points (what is in flight is lost),
//! hangs, and resume attempts that fail before or after the server saw
//! them. Each side's adapter keeps its queue as real bytes (byte `i` of a
//! direction is `i % 251`), so a wrong drop or resend shows as a wrong
//! byte. Checks: each side receives exactly what the other wrote, in
//! order, nothing twice; at most `resume_buffer` bytes unacknowledged;
//! both sides complete.

use std::collections::VecDeque;

use crate::registry::{ConnectionKey, DuplexKey};

use super::{Action, Budgets, Client, Config, Counts, Server};

/// xorshift64*: deterministic per seed, no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

#[derive(Debug)]
enum Message {
    Data { bytes: Vec<u8>, ack: Option<u64> },
    End { ack: Option<u64> },
    Ack(u64),
}

/// One side's adapter: the application's writes, the queue of bytes sent
/// and not acknowledged, what it received.
#[derive(Default)]
struct Side {
    /// Bytes the application wrote, taken or waiting for room.
    written: u64,
    /// Of them, waiting for room.
    waiting: u64,
    /// The queue: bytes sent (or queued while detached), unacknowledged.
    queue: VecDeque<u8>,
    /// Offset of the queue's first byte.
    queue_start: u64,
    app_ended: bool,
    end_given: bool,
    held: bool,
    received: u64,
    got_end: bool,
    complete: bool,
    resumes: u32,
    /// Writes taken while detached.
    detached_writes: u32,
    /// Transports it closed: a hang or an attempt timed out (client), a
    /// resume of a duplex still attached (server).
    closes: u32,
    /// Complete actions: more than one at the server when a client resumed
    /// a complete duplex to get the last ack.
    completes: u32,
    /// The connection it sends on (`None`: detached).
    transport: Option<u32>,
    /// (Server) The connection a resume replaced, until closed.
    replaced: Option<u32>,
}

impl Side {
    fn check_counts(&self, counts: Counts, resume_buffer: u64) {
        let data_sent = counts.sent - u64::from(self.end_given);
        assert_eq!(data_sent, self.written - self.waiting);
        assert_eq!(
            self.queue_start + self.queue.len() as u64,
            data_sent,
            "{counts:?}"
        );
        assert_eq!(self.queue_start, counts.peer_acked.min(data_sent));
        assert!(self.queue.len() as u64 <= resume_buffer);
        assert_eq!(counts.received, self.received + u64::from(self.got_end));
    }
}

/// The connections: the live one's two directions; dead ones lose all.
struct Net {
    live: Option<u32>,
    next: u32,
    to_server: VecDeque<Message>,
    to_client: VecDeque<Message>,
}

impl Net {
    fn open(&mut self) -> u32 {
        self.next += 1;
        self.live = Some(self.next);
        self.to_server.clear();
        self.to_client.clear();
        self.next
    }

    fn kill(&mut self, transport: Option<u32>) {
        if transport.is_some() && transport == self.live {
            self.live = None;
            self.to_server.clear();
            self.to_client.clear();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Server,
    Client,
}

struct Model {
    rng: Rng,
    now: u64,
    config: Config,
    server: Server,
    client: Client,
    key: DuplexKey,
    id: String,
    secret: String,
    s: Side,
    c: Side,
    net: Net,
    /// The client's resume attempt not yet resolved: its count.
    attempt: Option<u64>,
}

impl Model {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let config = Config {
            resume_buffer: 1 + rng.below(64),
            resume_timeout_ms: u64::MAX / 4,
        };
        let key = DuplexKey(7);
        let mut server = Server::new(config, Budgets::default());
        let id = "n1.duplex".to_owned();
        let secret = server.open(key, &id, ConnectionKey(1)).encode();
        let mut net = Net {
            live: None,
            next: 0,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
        };
        let transport = Some(net.open());
        Model {
            rng,
            now: 0,
            config,
            server,
            client: Client::new(config, 1_000, 0),
            key,
            id,
            secret,
            s: Side {
                transport,
                ..Side::default()
            },
            c: Side {
                transport,
                ..Side::default()
            },
            net,
            attempt: None,
        }
    }

    fn side(&mut self, who: Who) -> &mut Side {
        match who {
            Who::Server => &mut self.s,
            Who::Client => &mut self.c,
        }
    }

    fn send(&mut self, from: Who, message: Message) {
        let transport = self.side(from).transport;
        if transport.is_none() || transport != self.net.live {
            return; // detached, or a dead connection: lost
        }
        match from {
            Who::Server => self.net.to_client.push_back(message),
            Who::Client => self.net.to_server.push_back(message),
        }
    }

    fn take_ack(&mut self, who: Who) -> Option<u64> {
        if !self.rng.chance(70) {
            return None;
        }
        match who {
            Who::Server => self.server.take_ack(self.key),
            Who::Client => self.client.take_ack(),
        }
    }

    fn room(&self, who: Who) -> u64 {
        match who {
            Who::Server => self.server.room(self.key),
            Who::Client => self.client.room(),
        }
    }

    /// The application writes `n` bytes (and maybe ends), as far as room allows.
    fn write(&mut self, who: Who, n: u64) {
        let side = self.side(who);
        side.written += n;
        side.waiting += n;
        self.flush(who);
    }

    fn flush(&mut self, who: Who) {
        loop {
            let waiting = self.side(who).waiting;
            let room = self.room(who);
            if waiting == 0 || room == 0 {
                break;
            }
            let n = 1 + self.rng.below(waiting.min(room));
            let mut out = Vec::new();
            let taken = match who {
                Who::Server => {
                    let mut keyed = Vec::new();
                    let taken = self.server.handle_write(self.key, n, &mut keyed);
                    out = unkey(keyed, self.key);
                    taken
                }
                Who::Client => self.client.handle_write(n, &mut out),
            };
            assert!(taken, "{n} bytes within the room {room}");
            let side = self.side(who);
            let start = side.queue_start + side.queue.len() as u64;
            let bytes: Vec<u8> = (start..start + n).map(byte).collect();
            side.queue.extend(&bytes);
            side.waiting -= n;
            if side.transport.is_none() {
                side.detached_writes += 1;
            }
            let ack = self.take_ack(who);
            self.send(who, Message::Data { bytes, ack });
            self.carry_out(who, out);
        }
        let side = self.side(who);
        if side.app_ended && side.waiting == 0 && !side.end_given {
            side.end_given = true;
            match who {
                Who::Server => self.server.handle_end(self.key),
                Who::Client => self.client.handle_end(),
            }
            let ack = self.take_ack(who);
            self.send(who, Message::End { ack });
        }
    }

    fn carry_out(&mut self, who: Who, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Drop { bytes } => {
                    let side = self.side(who);
                    assert!(bytes as usize <= side.queue.len());
                    side.queue.drain(..bytes as usize);
                    side.queue_start += bytes;
                }
                Action::Hold => {
                    let side = self.side(who);
                    assert!(!side.held);
                    side.held = true;
                }
                Action::Flow => {
                    let side = self.side(who);
                    assert!(side.held);
                    side.held = false;
                    self.flush(who);
                }
                Action::Ack { count } => self.send(who, Message::Ack(count)),
                Action::CloseTransport => {
                    if who == Who::Client {
                        self.attempt = None;
                    }
                    let side = self.side(who);
                    side.closes += 1;
                    let closed = match who {
                        Who::Server => Some(side.replaced.take().expect("a replaced transport")),
                        // None: an attempt's.
                        Who::Client => side.transport.take(),
                    };
                    self.net.kill(closed);
                }
                Action::Reconnect { count, .. } => {
                    assert_eq!(who, Who::Client);
                    assert_eq!(count, self.c.received + u64::from(self.c.got_end));
                    self.attempt = Some(count);
                }
                Action::Resumed { .. } => self.side(who).resumes += 1,
                Action::Resend { from, end } => {
                    let side = self.side(who);
                    assert_eq!(from, side.queue_start);
                    let bytes: Vec<u8> = side.queue.iter().copied().collect();
                    assert!(!end || side.end_given);
                    if !bytes.is_empty() {
                        self.send(who, Message::Data { bytes, ack: None });
                    }
                    if end {
                        self.send(who, Message::End { ack: None });
                    }
                }
                Action::Complete => {
                    let side = self.side(who);
                    side.complete = true;
                    side.completes += 1;
                }
                Action::Fail(error) => panic!("{who:?} failed: {error}"),
            }
        }
    }

    /// One message of the live connection arrives.
    fn deliver(&mut self, to: Who) {
        let message = match to {
            Who::Server => self.net.to_server.pop_front(),
            Who::Client => self.net.to_client.pop_front(),
        };
        let Some(message) = message else { return };
        let now = self.now;
        let mut out = Vec::new();
        let (data, end, ack) = match message {
            Message::Data { bytes, ack } => (Some(bytes), false, ack),
            Message::End { ack } => (None, true, ack),
            Message::Ack(count) => (None, false, Some(count)),
        };
        if let Some(bytes) = data {
            let side = self.side(to);
            assert!(!side.got_end, "data after the end");
            for (i, &b) in bytes.iter().enumerate() {
                assert_eq!(b, byte(side.received + i as u64), "byte {}", side.received);
            }
            side.received += bytes.len() as u64;
            let n = bytes.len() as u64;
            match to {
                Who::Server => {
                    let mut keyed = Vec::new();
                    self.server.handle_data(self.key, n, now, &mut keyed);
                    out.extend(unkey(keyed, self.key));
                }
                Who::Client => self.client.handle_data(n, now, &mut out),
            }
        }
        if end {
            let side = self.side(to);
            assert!(!side.got_end, "a second end");
            side.got_end = true;
            match to {
                Who::Server => {
                    let mut keyed = Vec::new();
                    self.server.handle_peer_end(self.key, now, &mut keyed);
                    out.extend(unkey(keyed, self.key));
                }
                Who::Client => self.client.handle_peer_end(now, &mut out),
            }
        }
        if let Some(count) = ack {
            match to {
                Who::Server => {
                    let mut keyed = Vec::new();
                    self.server.handle_ack(self.key, count, now, &mut keyed);
                    out.extend(unkey(keyed, self.key));
                }
                Who::Client => self.client.handle_ack(count, now, &mut out),
            }
        }
        self.carry_out(to, out);
    }

    /// The live connection is cut; each side may notice at once or not.
    fn cut(&mut self) {
        self.net.kill(self.net.live);
        if self.s.transport.is_some() && self.rng.chance(50) {
            self.s.transport = None;
            self.server.handle_transport_failed(self.key, self.now);
        }
        if self.c.transport.is_some() && self.rng.chance(70) {
            self.client_failed();
        }
        // Otherwise the client finds out by its hang check.
    }

    fn client_failed(&mut self) {
        self.c.transport = None;
        self.attempt = None;
        let mut out = Vec::new();
        self.client.handle_transport_failed(self.now, &mut out);
        self.carry_out(Who::Client, out);
    }

    /// The attempt in flight: lost on its way, lost after the server took
    /// it, or answered. `reliable`: answered.
    fn resolve_attempt(&mut self, reliable: bool) {
        let Some(count) = self.attempt.take() else {
            return;
        };
        let fate = if reliable { 99 } else { self.rng.below(100) };
        if fate < 15 {
            return self.client_failed();
        }
        let new = self.net.open();
        let mut keyed = Vec::new();
        let accepted = self
            .server
            .handle_resume(&self.id, &self.secret, count, self.now, &mut keyed)
            .expect("the resume is accepted");
        // Its CloseTransport is for the old connection, if still attached
        // (a complete duplex's was closed at its completion).
        let complete = self.s.complete;
        self.s.replaced = self.s.transport.replace(new).filter(|_| !complete);
        self.carry_out(Who::Server, unkey(keyed, self.key));
        assert_eq!(self.s.replaced, None);
        if fate < 30 {
            // The answer is lost: the new connection is cut too.
            self.net.kill(Some(new));
            if self.rng.chance(50) {
                self.s.transport = None;
                self.server.handle_transport_failed(self.key, self.now);
            }
            return self.client_failed();
        }
        self.c.transport = Some(new);
        let mut out = Vec::new();
        self.client
            .handle_resumed(accepted.received, self.now, &mut out);
        self.carry_out(Who::Client, out);
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        while self.server.poll_timeout().is_some_and(|at| at <= self.now) {
            let mut keyed = Vec::new();
            self.server.handle_timeout(self.now, &mut keyed);
            let out = unkey(keyed, self.key);
            self.carry_out(Who::Server, out);
        }
        while self.client.poll_timeout().is_some_and(|at| at <= self.now) {
            let mut out = Vec::new();
            self.client.handle_timeout(self.now, &mut out);
            self.carry_out(Who::Client, out);
        }
    }

    fn step(&mut self, cuts: bool) {
        let buffer = self.config.resume_buffer;
        match self.rng.below(100) {
            // The applications respect backpressure: no write while held.
            0..=14 if !self.s.app_ended && self.s.waiting == 0 => {
                let n = 1 + self.rng.below(2 * buffer);
                self.write(Who::Server, n);
            }
            15..=29 if !self.c.app_ended && self.c.waiting == 0 => {
                let n = 1 + self.rng.below(2 * buffer);
                self.write(Who::Client, n);
            }
            30..=54 => self.deliver(Who::Server),
            55..=79 => self.deliver(Who::Client),
            80..=89 => {
                let ms = self.rng.below(400);
                self.advance(ms);
            }
            90..=95 => self.resolve_attempt(!cuts),
            96..=98 if cuts && self.rng.chance(30) => self.cut(),
            99 if cuts && self.rng.chance(20) => {
                let who = if self.rng.chance(50) {
                    Who::Server
                } else {
                    Who::Client
                };
                self.end(who);
            }
            _ => {}
        }
        self.check();
    }

    fn check(&self) {
        let buffer = self.config.resume_buffer;
        if let Some(counts) = self.server.counts(self.key) {
            self.s.check_counts(counts, buffer);
        }
        self.c.check_counts(self.client.counts(), buffer);
        assert!(self.s.received <= self.c.written);
        assert!(self.c.received <= self.s.written);
    }

    fn end(&mut self, who: Who) {
        self.side(who).app_ended = true;
        self.flush(who);
    }
}

fn unkey(keyed: Vec<(DuplexKey, Action)>, key: DuplexKey) -> Vec<Action> {
    keyed
        .into_iter()
        .map(|(duplex, action)| {
            assert_eq!(duplex, key);
            action
        })
        .collect()
}

#[test]
fn random_writes_cuts_and_resumes_lose_duplicate_and_reorder_nothing() {
    #[derive(Debug, Default)]
    struct Tally {
        resumes: u32,
        detached_writes: u32,
        completed_under_cuts: u32,
        /// Hangs and attempts that timed out.
        client_closes: u32,
        /// Resumes of a duplex the server still had attached.
        server_closes: u32,
        /// Resumes of a complete duplex (the client missed the last ack).
        late_completes: u32,
    }
    let mut tally = Tally::default();
    for seed in 0..300 {
        let mut model = Model::new(seed);
        for _ in 0..1_500 {
            model.step(true);
        }
        tally.completed_under_cuts += u32::from(model.c.complete);
        model.end(Who::Server);
        model.end(Who::Client);
        // No more cuts: everything gets through and both complete.
        let mut steps = 0;
        while !(model.s.complete && model.c.complete) {
            model.step(false);
            steps += 1;
            assert!(steps < 200_000, "seed {seed}: no completion");
        }
        assert_eq!(model.s.received, model.c.written, "seed {seed}");
        assert_eq!(model.c.received, model.s.written, "seed {seed}");
        assert!(model.s.got_end && model.c.got_end);
        assert!(model.s.queue.is_empty() && model.c.queue.is_empty());
        tally.resumes += model.c.resumes;
        tally.detached_writes += model.s.detached_writes + model.c.detached_writes;
        tally.client_closes += model.c.closes;
        tally.server_closes += model.s.closes;
        tally.late_completes += model.s.completes - 1;
    }
    // The runs did exercise what they are for.
    assert!(tally.resumes > 1_000, "{tally:?}");
    assert!(tally.detached_writes > 300, "{tally:?}");
    assert!(tally.completed_under_cuts > 50, "{tally:?}");
    assert!(tally.client_closes > 50, "{tally:?}");
    assert!(tally.server_closes > 300, "{tally:?}");
    assert!(tally.late_completes > 0, "{tally:?}");
}
