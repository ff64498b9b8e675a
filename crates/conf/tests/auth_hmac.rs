//! `auth_hmac` in keepalived.conf: the three key forms, rotation, defaults, strict mode, the
//! legacy block it replaces, and the mistakes keepalived reports (with baton's one
//! difference: an unusable `active_key` stops the instance instead of running it
//! unauthenticated).
#![allow(clippy::unwrap_used)]

use baton_conf::{AntiReplay, Code, FakeHost, HmacMode, LoadOptions, Loaded, Severity, load_str};

const KEY32: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn load(body: &str, host: &FakeHost) -> Loaded {
    let text = format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    advert_int 2\n{body}\n    virtual_ipaddress {{\n        10.0.0.100\n    }}\n}}\n"
    );
    load_str("k.conf", &text, &LoadOptions::default(), host)
}

fn host() -> FakeHost {
    FakeHost::new().interface("eth0")
}

fn codes(l: &Loaded) -> Vec<(Code, Severity, String)> {
    l.diagnostics
        .iter()
        .map(|d| (d.code, d.severity, d.message.clone()))
        .collect()
}

#[test]
fn keys_in_every_form_with_keepalived_defaults() {
    let h = host().key_file(
        "/etc/k/vrrp51",
        format!("hex:{KEY32}\r\n").as_bytes(),
        0o600,
    );
    let l = load(
        &format!(
            "    auth_hmac {{\n        key 1 hex:{KEY32}\n        key 2 file:/etc/k/vrrp51\n        key 7 0123456789abcdef0123456789abcdef\n        active_key 7\n    }}"
        ),
        &h,
    );
    assert_eq!(codes(&l), vec![]);
    let c = l.config.unwrap();
    let a = c.instances[0].auth_hmac.as_ref().unwrap();
    assert_eq!(
        a.keys.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![1, 2, 7]
    );
    assert_eq!(a.key(1).unwrap().secret, a.key(2).unwrap().secret);
    assert_eq!(a.key(1).unwrap().secret[31], 0x1f);
    assert_eq!(
        a.key(7).unwrap().secret,
        b"0123456789abcdef0123456789abcdef"
    );
    assert_eq!(a.active_key, 7);
    assert_eq!(a.anti_replay, AntiReplay::Time);
    // advert_int 2: three intervals is 6 s.
    assert_eq!(a.time_window, 6);
    assert_eq!(a.mode, HmacMode::Enforce);
    // The key never appears in a dump.
    let dump = serde_json::to_string(&c.instances[0]).unwrap();
    assert!(!dump.contains("0123456789abcdef0123"), "{dump}");
}

#[test]
fn settings_and_the_legacy_block_it_replaces() {
    let l = load(
        &format!(
            "    authentication {{\n        auth_type PASS\n        auth_pass 1111\n    }}\n    auth_hmac {{\n        key 1 hex:{KEY32}\n        active_key 1\n        anti_replay monotonic\n        time_window 30\n        mode receive-only\n    }}"
        ),
        &host(),
    );
    let i = &l.config.as_ref().unwrap().instances[0];
    assert_eq!(i.auth, None);
    let a = i.auth_hmac.as_ref().unwrap();
    assert_eq!(
        (a.anti_replay, a.time_window, a.mode),
        (AntiReplay::Monotonic, 30, HmacMode::ReceiveOnly)
    );
    let d = codes(&l);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].0, d[0].1), (Code::AuthInvalid, Severity::Warning));
}

#[test]
fn strict_mode_forces_enforce() {
    let l = load(
        &format!(
            "    strict_mode on\n    auth_hmac {{\n        key 1 hex:{KEY32}\n        active_key 1\n        mode permissive\n    }}"
        ),
        &host(),
    );
    let c = l.config.as_ref().unwrap();
    assert_eq!(
        c.instances[0].auth_hmac.as_ref().unwrap().mode,
        HmacMode::Enforce
    );
    assert!(
        codes(&l)
            .iter()
            .any(|d| d.0 == Code::StrictMode && d.2.contains("enforce"))
    );
}

#[test]
fn bad_keys_are_reported_and_skipped() {
    let h = host()
        .key_file("/k/open", format!("hex:{KEY32}").as_bytes(), 0o644)
        .key_file("/k/big", &[b'a'; 139], 0o600);
    let l = load(
        &format!(
            "    auth_hmac {{\n        key 1 shortkey\n        key 2 hex:zz\n        key 3 file:/k/missing\n        key 4 file:/k/big\n        key 5 file:/k/open\n        key 5 hex:{KEY32}\n        key 0 hex:{KEY32}\n        active_key 5\n    }}"
        ),
        &h,
    );
    let d = codes(&l);
    let has = |code: Code, text: &str| d.iter().any(|x| x.0 == code && x.2.contains(text));
    assert!(
        has(Code::AuthHmacInvalid, "key 1 is 8 bytes long"),
        "{d:#?}"
    );
    assert!(
        has(Code::AuthHmacInvalid, "key 2: 'hex:zz' is not valid hex"),
        "{d:#?}"
    );
    assert!(
        has(Code::AuthHmacInvalid, "key 3 file /k/missing"),
        "{d:#?}"
    );
    assert!(has(Code::AuthHmacInvalid, "too large"), "{d:#?}");
    assert!(has(Code::KeyFileInsecure, "mode 644"), "{d:#?}");
    assert!(has(Code::AuthHmacInvalid, "key 5 defined again"), "{d:#?}");
    assert!(has(Code::OutOfRange, ""), "{d:#?}");
    let a = l.config.unwrap().instances[0].auth_hmac.clone().unwrap();
    assert_eq!(a.keys.iter().map(|k| k.id).collect::<Vec<_>>(), vec![5]);
}

#[test]
fn an_active_key_that_names_nothing_stops_the_instance() {
    for block in [
        format!("    auth_hmac {{\n        key 1 hex:{KEY32}\n        active_key 2\n    }}"),
        format!("    auth_hmac {{\n        key 1 hex:{KEY32}\n    }}"),
    ] {
        let l = load(&block, &host());
        assert!(l.config.is_none(), "{block}");
        assert!(
            codes(&l)
                .iter()
                .any(|d| d.0 == Code::AuthHmacInvalid && d.2.contains("instance not started")),
            "{:?}",
            codes(&l)
        );
    }
}
