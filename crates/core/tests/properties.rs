//! Any interleaving of opens, writes (in any order, split into pieces), ends
//! and closes keeps the core's invariants.

use std::collections::HashMap;

use http2_duplex_core::{
    ConnectionKey, DuplexKey, Limits, Piece, PostHeaders, PostKind, Registry, ScopeKey,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    OpenScope,
    CloseScope(usize),
    Open(usize),
    /// Begin a write POST with the given seq offset from the next one.
    Begin {
        duplex: usize,
        ahead: u64,
    },
    /// A piece of one of the duplex's writes in flight.
    Piece {
        duplex: usize,
        write: usize,
        len: usize,
    },
    Complete {
        duplex: usize,
        write: usize,
    },
    End {
        duplex: usize,
    },
    Close(usize),
    /// A POST naming a duplex of one scope sent on another.
    CrossScope {
        duplex: usize,
        scope: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::OpenScope),
        1 => (0..4usize).prop_map(Op::CloseScope),
        3 => (0..4usize).prop_map(Op::Open),
        6 => (0..8usize, 0..6u64).prop_map(|(duplex, ahead)| Op::Begin { duplex, ahead }),
        8 => (0..8usize, 0..4usize, 1..200usize).prop_map(|(duplex, write, len)| Op::Piece { duplex, write, len }),
        6 => (0..8usize, 0..4usize).prop_map(|(duplex, write)| Op::Complete { duplex, write }),
        1 => (0..8usize).prop_map(|duplex| Op::End { duplex }),
        1 => (0..8usize).prop_map(Op::Close),
        1 => (0..8usize, 0..4usize).prop_map(|(duplex, scope)| Op::CrossScope { duplex, scope }),
    ]
}

/// What the caller (the Node layer) would see of one duplex.
struct Model {
    scope: ScopeKey,
    id: String,
    key: DuplexKey,
    next_seq: u64,
    /// seq → bytes sent so far (each byte is its seq's low bits and its index).
    in_flight: Vec<(u64, Vec<u8>, bool)>,
    delivered: Vec<u8>,
    expected: Vec<u8>,
    answered: Vec<u64>,
    ended: bool,
}

fn byte(seq: u64, index: usize) -> u8 {
    (seq as u8).wrapping_mul(31).wrapping_add(index as u8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn invariants_hold(ops in proptest::collection::vec(op(), 1..120)) {
        let limits = Limits { window: 4, window_bytes: 1500, max_write_bytes: 1000, ..Limits::default() };
        let mut registry = Registry::new(limits.clone());
        let mut scopes: Vec<ScopeKey> = vec![registry.open_scope()];
        let mut duplexes: Vec<Model> = Vec::new();
        let mut closed: HashMap<DuplexKey, ()> = HashMap::new();

        for op in ops {
            match op {
                Op::OpenScope => scopes.push(registry.open_scope()),
                Op::CloseScope(i) => {
                    let scope = scopes[i % scopes.len()];
                    let keys = registry.close_scope(scope);
                    for model in duplexes.iter_mut().filter(|m| m.scope == scope) {
                        prop_assert!(keys.contains(&model.key) || model.ended || closed.contains_key(&model.key));
                        closed.insert(model.key, ());
                    }
                }
                Op::Open(i) => {
                    let scope = scopes[i % scopes.len()];
                    if let Ok(opened) = registry.open_duplex(scope, ConnectionKey(scope.0)) {
                        duplexes.push(Model {
                            scope, id: opened.id, key: opened.key, next_seq: 0,
                            in_flight: Vec::new(), delivered: Vec::new(), expected: Vec::new(),
                            answered: Vec::new(), ended: false,
                        });
                    }
                }
                Op::Begin { duplex, ahead } => {
                    let Some(model) = pick(&mut duplexes, duplex) else { continue };
                    // A seq the client has not used yet, in or just past the window,
                    // so that writes arrive out of order and gaps get filled later.
                    let unused: Vec<u64> = (model.next_seq..model.next_seq + limits.window + 1)
                        .filter(|s| !model.in_flight.iter().any(|(f, _, _)| f == s))
                        .collect();
                    let seq = unused[ahead as usize % unused.len()];
                    let text = seq.to_string();
                    let headers = PostHeaders { id: Some(&model.id), seq: Some(&text), ..PostHeaders::default() };
                    match registry.route_post(model.scope, &headers) {
                        Ok(route) => {
                            prop_assert!(!closed.contains_key(&model.key) && !model.ended);
                            prop_assert_eq!(route.kind, PostKind::Write { seq });
                            prop_assert!(seq < model.next_seq + limits.window);
                            model.in_flight.push((seq, Vec::new(), false));
                        }
                        Err((rejection, fatal)) => {
                            if fatal.is_some() {
                                registry.close_duplex(model.key);
                                closed.insert(model.key, ());
                            }
                            prop_assert!(rejection.status >= 400);
                        }
                    }
                }
                Op::Piece { duplex, write, len } => {
                    let Some(model) = pick(&mut duplexes, duplex) else { continue };
                    if model.in_flight.is_empty() || closed.contains_key(&model.key) { continue }
                    let w = write % model.in_flight.len();
                    let (seq, sent, complete) = &mut model.in_flight[w];
                    if *complete { continue }
                    let data: Vec<u8> = (sent.len()..sent.len() + len).map(|i| byte(*seq, i)).collect();
                    match registry.piece(model.key, *seq, &data) {
                        Ok(Piece::Deliver) => {
                            prop_assert_eq!(*seq, model.next_seq, "only the current write is delivered");
                            model.delivered.extend_from_slice(&data);
                            sent.extend_from_slice(&data);
                        }
                        Ok(Piece::Held | Piece::HeldPause) => {
                            prop_assert!(*seq > model.next_seq);
                            sent.extend_from_slice(&data);
                        }
                        Err(rejection) => {
                            prop_assert!(rejection.fatal);
                            registry.close_duplex(model.key);
                            closed.insert(model.key, ());
                        }
                    }
                }
                Op::Complete { duplex, write } => {
                    let Some(model) = pick(&mut duplexes, duplex) else { continue };
                    if model.in_flight.is_empty() || closed.contains_key(&model.key) { continue }
                    let w = write % model.in_flight.len();
                    let (seq, _, complete) = &mut model.in_flight[w];
                    if *complete { continue }
                    *complete = true;
                    let seq = *seq;
                    let done = registry.complete(model.key, seq).expect("write in flight completes");
                    for chunk in done.released {
                        model.delivered.extend_from_slice(&chunk);
                    }
                    for answered in &done.answered {
                        prop_assert_eq!(*answered, model.next_seq, "answers come in seq order");
                        let at = model.in_flight.iter().position(|(s, _, _)| s == answered)
                            .expect("answered write was in flight");
                        let (_, sent, _) = model.in_flight.remove(at);
                        model.expected.extend_from_slice(&sent);
                        model.answered.push(*answered);
                        model.next_seq += 1;
                    }
                    // Only completed writes' bytes ever precede the current one's.
                    prop_assert!(model.delivered.starts_with(&model.expected));
                    if done.ended {
                        model.ended = true;
                    }
                }
                Op::End { duplex } => {
                    let Some(model) = pick(&mut duplexes, duplex) else { continue };
                    let count = model.in_flight.iter().map(|(s, _, _)| *s + 1).max().unwrap_or(model.next_seq).to_string();
                    let headers = PostHeaders { id: Some(&model.id), seq: Some(&count), end: Some("true"), ..PostHeaders::default() };
                    match registry.route_post(model.scope, &headers) {
                        Ok(PostRoute { kind: PostKind::End { now, .. }, .. }) => {
                            if now {
                                prop_assert!(model.in_flight.is_empty());
                                model.ended = true;
                            }
                        }
                        Ok(other) => prop_assert!(false, "end routed as {:?}", other),
                        Err((_, fatal)) => {
                            if fatal.is_some() {
                                registry.close_duplex(model.key);
                                closed.insert(model.key, ());
                            }
                        }
                    }
                }
                Op::Close(duplex) => {
                    let Some(model) = pick(&mut duplexes, duplex) else { continue };
                    registry.close_duplex(model.key);
                    closed.insert(model.key, ());
                }
                Op::CrossScope { duplex, scope } => {
                    let Some(model) = pick(&mut duplexes, duplex) else { continue };
                    let other = scopes[scope % scopes.len()];
                    if other == model.scope { continue }
                    let headers = PostHeaders { id: Some(&model.id), ..PostHeaders::default() };
                    let (rejection, fatal) = registry.route_post(other, &headers).unwrap_err();
                    prop_assert_eq!(rejection.status, 404);
                    prop_assert_eq!(fatal, None);
                }
            }
            let stats = registry.stats();
            prop_assert!(stats.held_bytes <= limits.window_bytes * stats.duplexes.max(1));
        }

        // Close everything: nothing may stay behind.
        for scope in scopes {
            registry.close_scope(scope);
        }
        let stats = registry.stats();
        prop_assert_eq!((stats.scopes, stats.duplexes, stats.held_bytes, stats.writes_in_flight), (0, 0, 0, 0));
    }
}

use http2_duplex_core::PostRoute;

fn pick(duplexes: &mut [Model], i: usize) -> Option<&mut Model> {
    let len = duplexes.len();
    if len == 0 {
        None
    } else {
        duplexes.get_mut(i % len)
    }
}
