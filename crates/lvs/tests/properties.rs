//! Properties of the core over random services and random verdict sequences.
#![allow(clippy::unwrap_used)]

mod common;

use baton_lvs::{Input, Role, Verdict, real_weight};
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Server {
    weight: u32,
    inhibit: bool,
    alpha: bool,
    /// 1 or 2 checkers; the second is a misc_dynamic MISC_CHECK.
    dynamic: bool,
}

#[derive(Debug, Clone)]
struct Shape {
    servers: Vec<Server>,
    quorum: u32,
    hysteresis: u32,
    sorry: Option<bool>,
    omega: bool,
}

impl Shape {
    fn text(&self) -> String {
        let mut body = format!(
            " quorum {}\n hysteresis {}\n quorum_up /bin/qup\n quorum_down /bin/qdown\n",
            self.quorum, self.hysteresis
        );
        if self.omega {
            body.push_str(" omega\n");
        }
        if let Some(inhibit) = self.sorry {
            body.push_str(" sorry_server 10.9.9.9 8080\n");
            if inhibit {
                body.push_str(" sorry_server_inhibit\n");
            }
        }
        for (i, s) in self.servers.iter().enumerate() {
            body.push_str(&format!(
                " real_server 10.0.0.{} 8080 {{\n  weight {}\n  notify_up /bin/up\n  notify_down /bin/down\n",
                i + 1,
                s.weight
            ));
            if s.inhibit {
                body.push_str("  inhibit_on_failure\n");
            }
            if s.alpha {
                body.push_str("  alpha\n");
            }
            body.push_str("  TCP_CHECK {\n  }\n");
            if s.dynamic {
                body.push_str("  MISC_CHECK {\n   misc_path /bin/check\n   misc_dynamic\n  }\n");
            }
            body.push_str(" }\n");
        }
        format!(
            "virtual_server 192.168.5.10 80 {{\n protocol TCP\n lb_algo wrr\n lb_kind NAT\n{body}}}\n"
        )
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    let server = (0u32..4, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(weight, inhibit, alpha, dynamic)| Server {
            weight,
            inhibit,
            alpha,
            dynamic,
        },
    );
    (
        prop::collection::vec(server, 1..6),
        1u32..8,
        0u32..3,
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(|(servers, quorum, hysteresis, sorry, omega)| Shape {
            servers,
            quorum,
            hysteresis,
            sorry,
            omega,
        })
}

#[derive(Debug, Clone)]
enum Event {
    Verdict { rs: usize, checker: usize, v: u8 },
    ReloadSame,
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let e = prop_oneof![
        8 => (0usize..6, 0usize..2, 0u8..4).prop_map(|(rs, checker, v)| Event::Verdict { rs, checker, v }),
        1 => Just(Event::ReloadSame),
    ];
    prop::collection::vec(e, 0..40)
}

/// What must hold after every input.
fn check(r: &Run) {
    let lvs = &r.config.lvs;
    let vs = &lvs.virtual_servers[0];
    let st = r.services.state(vs.id).unwrap();
    let table = r.services.table();
    let svc = table.service(&vs.key()).unwrap();
    let live = st.live_weight();
    let (q, h) = (u64::from(vs.quorum), u64::from(vs.hysteresis));
    // Quorum matches the live weight, with hysteresis.
    if st.quorum_up {
        assert!(live > 0 && live + h >= q, "up with {live} < {q}-{h}");
    } else {
        assert!(live == 0 || live < q + h, "down with {live} >= {q}+{h}");
    }
    // The sorry server is in use exactly while quorum is lost.
    assert_eq!(st.sorry_alive, vs.sorry_server.is_some() && !st.quorum_up);
    for (i, rs) in vs.real_servers.iter().enumerate() {
        let rst = &st.real_servers[i];
        let dest = svc.destination(&rs.address);
        // A failed real server is never given traffic; it stays only inhibited, at 0.
        if !rst.alive {
            match dest {
                None => assert!(!rs.inhibit_on_failure),
                Some(d) => assert!(rs.inhibit_on_failure && d.weight == 0, "{d:?}"),
            }
        }
        // A live one has its weight unless the sorry server stands in.
        if rst.alive && !st.sorry_alive {
            assert_eq!(
                dest.map(|d| d.weight),
                Some(real_weight(rst.effective_weight))
            );
        }
        if st.sorry_alive
            && let Some(d) = dest
        {
            assert_eq!(d.weight, 0);
        }
        // Alive is all checkers up.
        assert_eq!(rst.alive, rst.failed_checkers() == 0);
    }
    let sorry = svc.destinations.iter().find(|d| d.role == Role::Sorry);
    match (&vs.sorry_server, st.sorry_alive) {
        (Some(_), true) => assert_eq!(sorry.map(|d| d.weight), Some(1)),
        (Some(s), false) => assert_eq!(sorry.map(|d| d.weight), s.inhibit.then_some(0)),
        (None, _) => assert!(sorry.is_none()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_table_and_quorum_follow_the_state(shape in shape(), events in events()) {
        let text = shape.text();
        let mut r = Run::corrected(&text);
        check(&r);
        for e in events {
            match e {
                Event::Verdict { rs, checker, v } => {
                    let n = shape.servers.len();
                    let rs = rs % n;
                    let checker = if shape.servers[rs].dynamic { checker } else { 0 };
                    let verdict = match v {
                        0 => Verdict::Down,
                        1 => Verdict::Up,
                        w => Verdict::Weight(u32::from(w) * 3),
                    };
                    r.verdict(0, rs, checker, verdict);
                }
                Event::ReloadSame => {
                    let before = r.services.table().clone();
                    let states = r.services.state(baton_conf::VirtualServerId(0)).cloned();
                    let out = r.reload(&text);
                    // Reload of the same configuration is a no-op.
                    prop_assert!(changes(&out).is_empty(), "{out:#?}");
                    prop_assert!(notifies(&out).is_empty(), "{out:#?}");
                    prop_assert_eq!(r.services.table(), &before);
                    prop_assert_eq!(r.services.state(baton_conf::VirtualServerId(0)).cloned(), states);
                }
            }
            check(&r);
        }
        // Shutdown empties the table; notifies only with omega.
        let out = r.input(Input::Shutdown);
        prop_assert!(r.services.table().services.is_empty());
        if !shape.omega {
            prop_assert!(notifies(&out).is_empty());
        }
    }
}
