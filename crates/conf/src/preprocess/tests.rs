use super::*;
use crate::source::MemSources;

fn settings(id: &str) -> Settings {
    Settings {
        config_id: id.to_string(),
        all_config: false,
        limits: crate::Limits {
            lines: 100_000,
            ..crate::Limits::default()
        },
    }
}

fn pre_with(src: &MemSources, id: &str) -> (Preprocessed, Diagnostics) {
    let mut diags = Diagnostics::default();
    let out = run(
        Path::new("/etc/k/keepalived.conf"),
        src,
        &settings(id),
        &mut diags,
    );
    (out, diags)
}

fn lines_of(text: &str, id: &str) -> Vec<String> {
    let src = MemSources::new().with_file("/etc/k/keepalived.conf", text);
    let (out, _) = pre_with(&src, id);
    out.lines
        .iter()
        .map(|l| {
            l.words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn comments_go_anywhere_outside_quotes() {
    let text = "state MASTER # 初始状态,MASTER 和 BACKUP\n! whole line\nscript \"/a # b\" ! c\n";
    assert_eq!(lines_of(text, "x"), ["state MASTER", "script /a # b"]);
}

#[test]
fn words_keep_file_line_and_column() {
    let src = MemSources::new().with_file(
        "/etc/k/keepalived.conf",
        "vrrp_instance VI_1 {\n  priority 200 # 优先级\n}\n",
    );
    let (out, _) = pre_with(&src, "x");
    let w = &out.lines[1].words[1];
    assert_eq!(
        (&*out.lines[1].file, w.line, w.col, w.len),
        ("/etc/k/keepalived.conf", 2, 12, 3)
    );
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let text = "@main router_id main_router\n@backup router_id backup_router\n\
                @^main 1.2.3.4\n@^backup 1.2.3.5\n@^backup2 1.2.3.6\n";
    assert_eq!(
        lines_of(text, "main"),
        ["router_id main_router", "1.2.3.5", "1.2.3.6"]
    );
    assert_eq!(lines_of(text, "other"), ["1.2.3.4", "1.2.3.5", "1.2.3.6"]);
}

#[test]
fn parameters_work_with_conditionals() {
    let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n\
                $IF_MAIN=@main\n$IF_MAIN advert_int 2\n";
    assert_eq!(lines_of(text, "main"), ["priority 240", "advert_int 2"]);
    assert_eq!(lines_of(text, "backup"), ["priority 200"]);
}

#[test]
fn multiline_definitions_expand_to_several_lines() {
    let text = "$INSTANCE= \\\nvrrp_instance VI_${NUM} { \\\n    interface eth0.${NUM} \\\n\
                @high priority 130 \\\n@low priority 120 \\\n}\n\n$NUM=0\n$INSTANCE\n$NUM=1\n$INSTANCE\n";
    assert_eq!(
        lines_of(text, "low"),
        [
            "vrrp_instance VI_0 {",
            "interface eth0.0",
            "priority 120",
            "}",
            "vrrp_instance VI_1 {",
            "interface eth0.1",
            "priority 120",
            "}"
        ]
    );
}

#[test]
fn expanded_lines_point_at_the_definition() {
    let src = MemSources::new().with_file(
        "/etc/k/keepalived.conf",
        "$I= \\\n  priority ${P} \\\n  advert_int 1\n$P=5\n$I\n",
    );
    let (out, _) = pre_with(&src, "x");
    let prio = &out.lines[0].words;
    assert_eq!((prio[0].line, prio[0].col), (2, 3));
    // The substituted value sits where `${P}` was written.
    assert_eq!(
        (prio[1].text.as_str(), prio[1].line, prio[1].col),
        ("5", 2, 12)
    );
}

#[test]
fn plain_continuation_joins_lines() {
    let text = "lvs_sync_daemon eth0 \\\n    inst VI_1 \\\n    id 5\nnext\n";
    assert_eq!(
        lines_of(text, "x"),
        ["lvs_sync_daemon eth0 inst VI_1 id 5", "next"]
    );
}

#[test]
fn sequences_and_lists_repeat_the_rest_of_the_line() {
    assert_eq!(
        lines_of("~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1\n", "x"),
        [
            "ip_address 10.0.0.1",
            "ip_address 10.0.1.1",
            "ip_address 10.0.2.1",
            "ip_address 10.0.3.1"
        ]
    );
    assert_eq!(
        lines_of(
            "~LST({IP, IP1}, {10,1},{20,4}) ~SEQ(IP2,168,2,172) 192.${IP2}.${IP}.${IP1}\n",
            "x"
        ),
        [
            "192.168.10.1",
            "192.170.10.1",
            "192.172.10.1",
            "192.168.20.4",
            "192.170.20.4",
            "192.172.20.4"
        ]
    );
}

#[test]
fn includes_are_relative_to_the_including_file() {
    let src = MemSources::new()
        .with_file("/etc/k/keepalived.conf", "a\ninclude conf.d/*.conf\nz\n")
        .with_file(
            "/etc/k/conf.d/1.conf",
            "b ${_PWD}\ninclude ../more/{x,y}.inc\n",
        )
        .with_file("/etc/k/conf.d/2.conf", "c\n")
        .with_file("/etc/k/more/x.inc", "x\n")
        .with_file("/etc/k/more/y.inc", "y\n");
    let (out, diags) = pre_with(&src, "id");
    let got: Vec<String> = out
        .lines
        .iter()
        .map(|l| format!("{}:{}", l.file, l.words[0].text))
        .collect();
    assert_eq!(
        got,
        [
            "/etc/k/keepalived.conf:a",
            "/etc/k/conf.d/1.conf:b",
            "/etc/k/more/x.inc:x",
            "/etc/k/more/y.inc:y",
            "/etc/k/conf.d/2.conf:c",
            "/etc/k/keepalived.conf:z"
        ]
    );
    assert_eq!(out.lines[1].words[1].text, "/etc/k/conf.d");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(out.files.len(), 5);
}

#[test]
fn missing_include_warns_and_all_config_makes_it_an_error() {
    let src = MemSources::new().with_file("/etc/k/keepalived.conf", "include nope.conf\n");
    let (_, diags) = pre_with(&src, "x");
    let d: Vec<&Diagnostic> = diags.iter().collect();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].code, d[0].severity),
        (Code::IncludeMissing, Severity::Warning)
    );
    assert_eq!((d[0].span.line, d[0].span.col), (1, 9));

    let mut diags = Diagnostics::default();
    let mut s = settings("x");
    s.all_config = true;
    run(Path::new("/etc/k/keepalived.conf"), &src, &s, &mut diags);
    assert!(diags.has_errors());
}

#[test]
fn include_cycles_are_caught() {
    let src = MemSources::new()
        .with_file("/etc/k/keepalived.conf", "include a.conf\n")
        .with_file("/etc/k/a.conf", "include keepalived.conf\nx\n");
    let (out, diags) = pre_with(&src, "x");
    assert_eq!(out.lines.len(), 1);
    assert!(diags.iter().any(|d| d.code == Code::IncludeCycle));
}

#[test]
fn expansion_is_bounded() {
    let src = MemSources::new().with_file(
        "/etc/k/keepalived.conf",
        "~SEQ(A,1,1000) ~SEQ(B,1,1000) ~SEQ(C,1,1000) x\n",
    );
    let mut diags = Diagnostics::default();
    let mut s = settings("x");
    s.limits.lines = 500;
    let out = run(Path::new("/etc/k/keepalived.conf"), &src, &s, &mut diags);
    assert_eq!(out.lines.len(), 500);
    assert_eq!(
        diags
            .iter()
            .filter(|d| d.code == Code::ExpansionLimit)
            .count(),
        1
    );
}

#[test]
fn unreadable_main_file_is_reported() {
    let src = MemSources::new();
    let (out, diags) = pre_with(&src, "x");
    assert!(!out.readable);
    assert_eq!(
        diags.iter().next().map(|d| d.code),
        Some(Code::FileUnreadable)
    );
}

fn codes_of(diags: &Diagnostics) -> Vec<(Code, Severity, String)> {
    diags
        .iter()
        .map(|d| (d.code, d.severity, d.message.clone()))
        .collect()
}

#[test]
fn an_include_that_is_not_a_regular_file_is_an_error_naming_it() {
    // Even through plain `include`, which only warns about absent files: a FIFO would make
    // the reader wait for a writer, so it is refused and the reload with it.
    let src = MemSources::new()
        .with_file(
            "/etc/k/keepalived.conf",
            "include conf.d/*.conf\ninclude /dev/zero\nx\n",
        )
        .with_file("/etc/k/conf.d/a.conf", "a\n")
        .with_special("/etc/k/conf.d/b.conf", "a FIFO")
        .with_special("/dev/zero", "a character device");
    let (out, diags) = pre_with(&src, "x");
    let lines: Vec<_> = out.lines.iter().map(|l| l.words[0].text.clone()).collect();
    assert_eq!(lines, ["a", "x"]);
    assert_eq!(
        codes_of(&diags),
        [
            (
                Code::NotRegularFile,
                Severity::Error,
                "cannot read included file '/etc/k/conf.d/b.conf': it is a FIFO, not a regular file"
                    .to_string()
            ),
            (
                Code::NotRegularFile,
                Severity::Error,
                "cannot read included file '/dev/zero': it is a character device, not a regular file"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn a_main_file_that_is_not_a_regular_file_is_refused() {
    let src = MemSources::new().with_special("/etc/k/keepalived.conf", "a FIFO");
    let (out, diags) = pre_with(&src, "x");
    assert!(!out.readable);
    assert_eq!(
        codes_of(&diags),
        [(
            Code::NotRegularFile,
            Severity::Error,
            "cannot read the configuration: it is a FIFO, not a regular file".to_string()
        )]
    );
}

#[test]
fn include_fan_out_is_bounded_by_the_files_read() {
    // Each file includes the next one twice: 2^20 reads without a bound on files, none of
    // them a cycle.
    let mut src = MemSources::new().with_file("/etc/k/keepalived.conf", "include f0\n");
    for i in 0..20 {
        src = src.with_file(
            format!("/etc/k/f{i}"),
            format!("include f{n}\ninclude f{n}\n", n = i + 1),
        );
    }
    src = src.with_file("/etc/k/f20", "x\n");
    let mut s = settings("x");
    s.limits.files = 100;
    let mut diags = Diagnostics::default();
    let started = std::time::Instant::now();
    let out = run(Path::new("/etc/k/keepalived.conf"), &src, &s, &mut diags);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(out.files.len(), 100);
    let refused: Vec<_> = diags
        .iter()
        .filter(|d| d.code == Code::FileTooLarge)
        .collect();
    assert!(!refused.is_empty());
    assert!(
        refused[0]
            .message
            .ends_with("more than 100 files would be read in all (the limit on files)"),
        "{}",
        refused[0].message
    );
    assert!(diags.has_errors());
}

#[test]
fn the_bytes_of_all_files_are_bounded() {
    let src = MemSources::new()
        .with_file("/etc/k/keepalived.conf", "include a\ninclude b\n")
        .with_file("/etc/k/a", "x".repeat(600))
        .with_file("/etc/k/b", "y".repeat(600));
    let mut s = settings("x");
    s.limits.file_bytes = 1000;
    s.limits.total_bytes = 1000;
    let mut diags = Diagnostics::default();
    let out = run(Path::new("/etc/k/keepalived.conf"), &src, &s, &mut diags);
    assert_eq!(out.lines.len(), 1);
    assert_eq!(
        codes_of(&diags),
        [(
            Code::FileTooLarge,
            Severity::Error,
            "cannot read included file '/etc/k/b': the files read in all would exceed the \
             1000-byte limit"
                .to_string()
        )]
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let src = MemSources::new().with_file("/etc/k/keepalived.conf", "x".repeat(2000));
    let mut s = settings("x");
    s.limits.file_bytes = 1000;
    let mut diags = Diagnostics::default();
    let out = run(Path::new("/etc/k/keepalived.conf"), &src, &s, &mut diags);
    assert!(!out.readable);
    assert_eq!(
        codes_of(&diags)[0].2,
        "cannot read the configuration: it is larger than the 1000-byte limit for one file"
    );
}

#[test]
fn parameters_that_grow_are_bounded_by_the_expanded_bytes() {
    // Each definition holds the last one twice: without a bound on bytes this doubles past
    // any memory within forty lines (each line under the 64 KiB line limit stops at 2^16).
    let mut text = String::from("$P0=xxxxxxxxxxxxxxxx\n");
    text.push_str("~SEQ(i,1,100000) $Q$i=$P0 $P0 $P0 $P0 $P0 $P0 $P0 $P0\n");
    let src = MemSources::new().with_file("/etc/k/keepalived.conf", &text);
    let mut s = settings("x");
    s.limits.expanded_bytes = 100_000;
    let mut diags = Diagnostics::default();
    run(Path::new("/etc/k/keepalived.conf"), &src, &s, &mut diags);
    assert_eq!(
        codes_of(&diags),
        [(
            Code::ExpansionLimit,
            Severity::Error,
            "the configuration expands to more than 100000 bytes of text (the limit on \
             expansion); the rest is ignored"
                .to_string()
        )]
    );
}

#[test]
fn a_repeated_mistake_is_reported_once_with_its_count() {
    let src = MemSources::new().with_file(
        "/etc/k/keepalived.conf",
        "~SEQ(i,1,3000) \"unterminated $i\n",
    );
    let (out, diags) = pre_with(&src, "x");
    assert_eq!(out.lines.len(), 3000);
    let v = diags.into_vec();
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].code, Code::UnterminatedQuote);
    assert!(
        v[0].notes[0]
            .message
            .starts_with("and 2999 more like this here")
    );
}
