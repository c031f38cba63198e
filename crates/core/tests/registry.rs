use http2_duplex_core::{
    BodyEnd, Budget, Code, ConnectionKey, Limits, Piece, PostHeaders, PostKind, Reason, Registry,
    Stats,
};

fn write<'a>(id: &'a str, seq: Option<&'a str>) -> PostHeaders<'a> {
    PostHeaders {
        id: Some(id),
        seq,
        ..PostHeaders::default()
    }
}

fn end(id: &str) -> PostHeaders<'_> {
    PostHeaders {
        id: Some(id),
        end: Some("true"),
        ..PostHeaders::default()
    }
}

#[test]
fn a_post_pairs_with_the_duplex_its_id_names() {
    let mut registry = Registry::new(Limits::default());
    let scope = registry.open_scope();
    let a = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    let b = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(uuid::Uuid::parse_str(&a.id).unwrap().get_version_num(), 4);
    let route = registry.route_post(scope, &write(&b.id, None)).unwrap();
    assert_eq!(route.key, b.key);
    assert_eq!(route.kind, PostKind::Write { seq: 0 });
    assert_eq!(registry.piece(b.key, 0, b"x"), Ok(Piece::Deliver));
    assert_eq!(registry.complete(b.key, 0).unwrap().answered, vec![0]);
}

#[test]
fn ids_are_scoped_to_their_session() {
    let mut registry = Registry::new(Limits::default());
    let one = registry.open_scope();
    let other = registry.open_scope();
    let duplex = registry.open_duplex(one, ConnectionKey(one.0)).unwrap();
    let (rejection, fatal) = registry
        .route_post(other, &write(&duplex.id, None))
        .unwrap_err();
    assert_eq!(
        (rejection.status, rejection.reason),
        (404, Reason::UnknownId)
    );
    assert_eq!(fatal, None);
    assert!(registry.route_post(one, &write(&duplex.id, None)).is_ok());
}

#[test]
fn missing_and_unknown_ids() {
    let mut registry = Registry::new(Limits::default());
    let scope = registry.open_scope();
    let no_id = PostHeaders::default();
    assert_eq!(
        registry.route_post(scope, &no_id).unwrap_err().0.status,
        404
    );
    assert_eq!(
        registry
            .route_post(scope, &write("nope", None))
            .unwrap_err()
            .0
            .status,
        404
    );
}

#[test]
fn end_forgets_the_id_and_a_second_end_is_unknown() {
    let mut registry = Registry::new(Limits::default());
    let scope = registry.open_scope();
    let duplex = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    let route = registry.route_post(scope, &end(&duplex.id)).unwrap();
    assert_eq!(
        route.kind,
        PostKind::End {
            destroyed: false,
            now: true
        }
    );
    assert_eq!(
        registry
            .route_post(scope, &end(&duplex.id))
            .unwrap_err()
            .0
            .status,
        404
    );
    assert_eq!(registry.stats().duplexes, 0);
}

#[test]
fn end_is_delivered_after_the_writes_before_it() {
    let mut registry = Registry::new(Limits::default());
    let scope = registry.open_scope();
    let duplex = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    registry
        .route_post(scope, &write(&duplex.id, Some("1")))
        .unwrap();
    registry.complete(duplex.key, 1).unwrap();
    let end = PostHeaders {
        seq: Some("2"),
        destroyed: Some("true"),
        ..end(&duplex.id)
    };
    let route = registry.route_post(scope, &end).unwrap();
    assert_eq!(
        route.kind,
        PostKind::End {
            destroyed: true,
            now: false
        }
    );
    registry
        .route_post(scope, &write(&duplex.id, Some("0")))
        .unwrap();
    let done = registry.complete(duplex.key, 0).unwrap();
    assert_eq!(done.answered, vec![0, 1]);
    assert!(done.ended);
    assert_eq!(
        registry.stats(),
        Stats {
            scopes: 1,
            ..Stats::default()
        }
    );
}

#[test]
fn closing_a_session_ends_its_duplexes_and_releases_what_they_held() {
    let mut registry = Registry::new(Limits::default());
    let scope = registry.open_scope();
    let other = registry.open_scope();
    let a = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    let b = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    let c = registry.open_duplex(other, ConnectionKey(other.0)).unwrap();
    registry
        .route_post(scope, &write(&a.id, Some("1")))
        .unwrap();
    assert_eq!(registry.piece(a.key, 1, b"early"), Ok(Piece::Held));
    assert_eq!(registry.stats().held_bytes, 5);
    assert_eq!(registry.close_scope(scope), vec![a.key, b.key]);
    assert_eq!(
        registry.stats(),
        Stats {
            scopes: 1,
            duplexes: 1,
            held_bytes: 0,
            writes_in_flight: 0
        }
    );
    assert!(registry.route_post(other, &write(&c.id, None)).is_ok());
    assert!(registry.close_scope(scope).is_empty());
}

#[test]
fn duplexes_per_session_are_bounded() {
    let mut registry = Registry::new(Limits {
        max_duplexes_per_scope: 2,
        ..Limits::default()
    });
    let scope = registry.open_scope();
    let first = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    let err = registry
        .open_duplex(scope, ConnectionKey(scope.0))
        .unwrap_err();
    assert_eq!(err.status, 429);
    assert_eq!(
        err.to_string(),
        "too many duplexes open in this pairing scope (max_duplexes_per_session 2)"
    );
    registry.close_duplex(first.key);
    assert!(registry.open_duplex(scope, ConnectionKey(scope.0)).is_ok());
}

// In a wide scope (scope: 'server'), one connection at its bound leaves the
// others their duplexes; the server's bound holds over every scope.
#[test]
fn duplexes_are_bounded_per_connection_scope_and_server() {
    let mut registry = Registry::new(Limits {
        max_duplexes_per_connection: Some(2),
        max_duplexes_per_scope: 5,
        max_duplexes: 6,
        ..Limits::for_scopes(false)
    });
    let wide = registry.open_scope();
    let greedy = registry.connection_key();
    let first = registry.open_duplex(wide, greedy).unwrap();
    registry.open_duplex(wide, greedy).unwrap();
    let err = registry.open_duplex(wide, greedy).unwrap_err();
    assert_eq!(
        (err.code(), err.status, err.fatal),
        (Code::ConnectionDuplexes, 429, false)
    );
    assert_eq!(
        err.to_string(),
        "too many duplexes open in this connection (max_duplexes_per_connection 2)"
    );
    // Another connection still opens duplexes in the same scope.
    let polite = registry.connection_key();
    registry.open_duplex(wide, polite).unwrap();
    registry.open_duplex(wide, polite).unwrap();
    let third = registry.connection_key();
    registry.open_duplex(wide, third).unwrap();
    let err = registry.open_duplex(wide, third).unwrap_err();
    assert_eq!((err.code(), err.status), (Code::TooManyDuplexes, 429));
    let narrow = registry.open_scope();
    registry.open_duplex(narrow, third).unwrap();
    let fourth = registry.connection_key();
    let err = registry.open_duplex(narrow, fourth).unwrap_err();
    assert_eq!((err.code(), err.status), (Code::ServerDuplexes, 503));
    // A closed duplex gives its place back at every level.
    registry.close_duplex(first.key);
    assert!(registry.open_duplex(wide, greedy).is_ok());
}

#[test]
fn a_session_scope_bounds_its_connection_as_set() {
    let mut registry = Registry::new(Limits {
        max_duplexes_per_scope: 300,
        ..Limits::for_scopes(true)
    });
    let scope = registry.open_scope();
    let connection = registry.connection_key();
    for _ in 0..300 {
        registry.open_duplex(scope, connection).unwrap();
    }
    let err = registry.open_duplex(scope, connection).unwrap_err();
    assert_eq!(err.code(), Code::TooManyDuplexes);
}

#[test]
fn bytes_held_are_budgeted_per_connection_and_server() {
    let mut registry = Registry::new(Limits {
        window_bytes: 10,
        max_held_bytes_per_connection: Some(10),
        max_held_bytes: 25,
        ..Limits::for_scopes(false)
    });
    let wide = registry.open_scope();
    let hold = |registry: &mut Registry, connection, bytes: usize| {
        let duplex = registry.open_duplex(wide, connection).unwrap();
        registry
            .route_post(wide, &write(&duplex.id, Some("1")))
            .unwrap();
        let piece = registry.piece(duplex.key, 1, &vec![0; bytes]);
        (duplex, piece)
    };
    let greedy = registry.connection_key();
    let (first, held) = hold(&mut registry, greedy, 6);
    assert_eq!(held, Ok(Piece::Held));
    let (second, paused) = hold(&mut registry, greedy, 6);
    assert_eq!(paused, Ok(Piece::HeldPause));
    assert!(!registry.may_read(first.key, 1));
    assert!(!registry.may_read(second.key, 1));
    // Another connection's duplexes are not paused by the first one's bytes.
    let polite = registry.connection_key();
    let (other, held) = hold(&mut registry, polite, 6);
    assert_eq!(held, Ok(Piece::Held));
    assert!(registry.may_read(other.key, 1));
    // Past twice its budget, the connection is refused.
    let (_, refused) = hold(&mut registry, greedy, 9);
    let err = refused.unwrap_err();
    assert_eq!(
        (err.code(), err.status, err.fatal),
        (Code::ConnectionHeldBytes, 413, true)
    );
    assert_eq!(
        err.reason,
        Reason::HeldBytesBudgetExceeded {
            budget: Budget::Connection,
            limit: 10
        }
    );
    // The server's budget holds over every connection.
    let third = registry.connection_key();
    let (_, paused) = hold(&mut registry, third, 8);
    assert_eq!(paused, Ok(Piece::HeldPause), "server at 26 of 25");
    assert!(!registry.may_read(other.key, 1));
    assert_eq!(registry.stats().held_bytes, 26);
    registry.close_duplex(first.key);
    registry.close_duplex(second.key);
    assert_eq!(registry.stats().held_bytes, 14);
    assert!(registry.may_read(other.key, 1));
}

#[test]
fn a_fatal_rejection_names_the_duplex() {
    let mut registry = Registry::new(Limits::default());
    let scope = registry.open_scope();
    let duplex = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    let (rejection, fatal) = registry
        .route_post(scope, &write(&duplex.id, Some("x")))
        .unwrap_err();
    assert_eq!(rejection.status, 400);
    assert_eq!(fatal, Some(duplex.key));
}

#[test]
fn a_session_at_its_budget_of_early_bytes_pauses_posts_and_refuses_past_twice_it() {
    let mut registry = Registry::new(Limits {
        window_bytes: 10,
        max_held_bytes_per_scope: 15,
        ..Limits::default()
    });
    let scope = registry.open_scope();
    let other_scope = registry.open_scope();
    // Each duplex holds its write 1 while write 0 has not arrived.
    let hold = |registry: &mut Registry, scope, bytes: usize| {
        let duplex = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
        registry
            .route_post(scope, &write(&duplex.id, Some("1")))
            .unwrap();
        let piece = registry.piece(duplex.key, 1, &vec![0; bytes]);
        (duplex, piece)
    };
    let (first, held) = hold(&mut registry, scope, 8);
    assert_eq!(held, Ok(Piece::Held));
    assert!(registry.may_read(first.key, 1));
    // At the budget: held, but that POST reads no further for now.
    let (second, paused) = hold(&mut registry, scope, 8);
    assert_eq!(paused, Ok(Piece::HeldPause));
    assert!(!registry.may_read(second.key, 1));
    assert!(!registry.may_read(first.key, 1));
    // Another session has its own budget.
    assert_eq!(hold(&mut registry, other_scope, 8).1, Ok(Piece::Held));
    // A paused write that becomes current reads on: it is delivered as it comes.
    registry
        .route_post(scope, &write(&second.id, Some("0")))
        .unwrap();
    let completion = registry.complete(second.key, 0).unwrap();
    assert_eq!(completion.released.concat(), [0; 8]);
    assert!(registry.may_read(second.key, 1));
    assert_eq!(registry.piece(second.key, 1, &[1; 9]), Ok(Piece::Deliver));
    // Under budget again: every paused POST of the session may read on.
    assert!(registry.may_read(first.key, 1));
    // A client that goes on past twice the budget is refused.
    assert_eq!(hold(&mut registry, scope, 8).1, Ok(Piece::HeldPause));
    assert_eq!(hold(&mut registry, scope, 8).1, Ok(Piece::HeldPause));
    let err = hold(&mut registry, scope, 8).1.unwrap_err();
    assert_eq!((err.status, err.fatal), (413, true));
    assert_eq!(
        err.reason,
        Reason::HeldBytesBudgetExceeded {
            budget: Budget::Scope,
            limit: 15
        }
    );
    assert_eq!(
        err.to_string(),
        "the duplexes of this pairing scope would hold more than twice max_held_bytes_per_session \
         (15 bytes) out of order: their POSTs went on after they were paused"
    );
    // What a closed duplex held is free again.
    registry.close_duplex(first.key);
    assert_eq!(registry.stats().held_bytes, 24);
}

#[test]
fn a_closed_id_is_refused_quietly_and_a_wrong_one_is_not() {
    let mut registry = Registry::new(Limits::default());
    let scope = registry.open_scope();
    let duplex = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    registry.close_duplex(duplex.key);
    let (closed, fatal) = registry
        .route_post(scope, &write(&duplex.id, None))
        .unwrap_err();
    assert_eq!(
        (closed.code(), closed.status, fatal),
        (Code::DuplexClosed, 404, None)
    );
    assert!(closed.is_quiet());
    let (wrong, _) = registry
        .route_post(scope, &write("not-an-id", None))
        .unwrap_err();
    assert_eq!(wrong.code(), Code::UnknownId);
    assert!(!wrong.is_quiet());
}

#[test]
fn a_reset_or_short_body_breaks_the_duplex() {
    let mut registry = Registry::new(Limits::default());
    let scope = registry.open_scope();
    let duplex = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    registry
        .route_post(scope, &write(&duplex.id, None))
        .unwrap();
    registry.piece(duplex.key, 0, b"ab").unwrap();
    let short = BodyEnd {
        reset: false,
        received: 2,
        declared: Some(5),
    };
    let err = registry.finish_body(duplex.key, 0, &short).unwrap_err();
    assert_eq!((err.code(), err.fatal), (Code::TruncatedBody, true));
    let whole = BodyEnd {
        declared: Some(2),
        ..short
    };
    assert_eq!(
        registry
            .finish_body(duplex.key, 0, &whole)
            .unwrap()
            .answered,
        vec![0]
    );
}

#[test]
fn ids_carry_the_node_and_a_post_for_another_node_is_named_as_such() {
    let mut registry = Registry::new(Limits::default());
    assert!(registry.set_node_id("N1").is_err());
    assert!(registry.set_node_id("").is_err());
    assert!(registry.set_node_id("n.1").is_err());
    registry.set_node_id("n1").unwrap();
    let scope = registry.open_scope();
    let duplex = registry.open_duplex(scope, ConnectionKey(scope.0)).unwrap();
    let (node, random) = duplex.id.split_once('.').unwrap();
    assert_eq!(node, "n1");
    assert_eq!(uuid_version(random), Some(4));
    assert!(registry.route_post(scope, &write(&duplex.id, None)).is_ok());
    let other = duplex.id.replacen("n1.", "n2.", 1);
    let (wrong, fatal) = registry
        .route_post(scope, &write(&other, None))
        .unwrap_err();
    assert_eq!(
        (wrong.code(), wrong.status, fatal),
        (Code::WrongNode, 404, None)
    );
    let (unknown, _) = registry
        .route_post(scope, &write("n1.nope", None))
        .unwrap_err();
    assert_eq!(unknown.code(), Code::UnknownId);
}

fn uuid_version(text: &str) -> Option<u8> {
    let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
    (hex.len() == 32).then(|| hex[12] - b'0')
}

// A tunnel counts once: its carrier pairs POSTs and holds bytes in every
// budget, but is not a duplex of the limits or of stats().
#[test]
fn a_tunnel_counts_as_one_duplex_and_its_carrier_pairs_posts() {
    let mut registry = Registry::new(Limits {
        max_duplexes_per_connection: Some(1),
        ..Limits::for_scopes(false)
    });
    let scope = registry.open_scope();
    let connection = registry.connection_key();
    let (tunnelled, carrier) = registry.open_tunnel(scope, connection).unwrap();
    assert_ne!(tunnelled.id, carrier.id);
    assert_eq!(registry.stats().duplexes, 1);
    let err = registry.open_tunnel(scope, connection).unwrap_err();
    assert_eq!(err.code(), Code::ConnectionDuplexes);
    let route = registry
        .route_post(scope, &write(&carrier.id, Some("1")))
        .unwrap();
    assert_eq!(route.key, carrier.key);
    assert_eq!(registry.piece(carrier.key, 1, b"later"), Ok(Piece::Held));
    assert_eq!(registry.stats().held_bytes, 5);
    registry.close_duplex(carrier.key);
    assert_eq!(registry.stats().held_bytes, 0);
    assert_eq!(registry.stats().duplexes, 1);
    registry.close_duplex(tunnelled.key);
    assert_eq!(registry.stats().duplexes, 0);
    assert!(registry.open_tunnel(scope, connection).is_ok());
}
