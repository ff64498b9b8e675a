//! track_file on a real filesystem: writes, atomic replacement by rename, removal, garbage,
//! init_file, and a directory that does not exist.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_conf::{Config, Span, TrackFile, VrrpInstance};
use baton_track::{ScriptPolicy, TrackEvent, TrackerKind, Trackers};
use baton_wire::Family;
use common::*;
use tokio::sync::mpsc::Receiver;

const SECOND: Duration = Duration::from_secs(1);

fn track_file(name: &str, path: &Path, init_file: Option<(i64, bool)>) -> TrackFile {
    TrackFile {
        name: name.to_string(),
        span: Span::default(),
        path: path.to_path_buf(),
        weight: 1,
        reverse: false,
        init_file,
    }
}

fn start(files: Vec<TrackFile>) -> (Trackers, Receiver<TrackEvent>) {
    let mut config = Config::build(|_| {});
    let mut instance = VrrpInstance::new("VI_1", 51, Family::Ipv4);
    std::sync::Arc::make_mut(&mut instance.tracking).files =
        files.iter().map(|f| track_ref(&f.name)).collect();
    config.track_files = files;
    config.instances.push(instance);
    let options = fast_options();
    let policy = ScriptPolicy::new(&config.global, &options);
    Trackers::start(&config, &policy, &options).unwrap()
}

async fn value(rx: &mut Receiver<TrackEvent>, what: &str) -> i64 {
    match next_event(rx, 5 * SECOND, what).await {
        TrackEvent::FileValue { value, .. } => value,
        other => panic!("expected a file value ({what}), got {other:?}"),
    }
}

/// Replace `path` atomically, the way careful writers do: a temporary file renamed over it.
fn replace(path: &Path, content: &str) {
    let tmp: PathBuf = path.with_extension("tmp");
    fs::write(&tmp, content).unwrap();
    fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn writes_renames_and_removal_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prio");
    let (_trackers, mut rx) = start(vec![track_file("prio", &path, None)]);
    // Missing at start: 0.
    assert_eq!(value(&mut rx, "initial").await, 0);
    fs::write(&path, "5\n").unwrap();
    assert_eq!(value(&mut rx, "created").await, 5);
    fs::write(&path, "-20\n").unwrap();
    assert_eq!(value(&mut rx, "rewritten").await, -20);
    replace(&path, "0x10\n");
    assert_eq!(value(&mut rx, "renamed over").await, 16);
    fs::remove_file(&path).unwrap();
    assert_eq!(value(&mut rx, "removed").await, 0);
    fs::write(dir.path().join("elsewhere"), "7\n").unwrap();
    fs::rename(dir.path().join("elsewhere"), &path).unwrap();
    assert_eq!(value(&mut rx, "moved in").await, 7);
    // Unchanged value: no event.
    fs::write(&path, "7\n").unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
    assert!(quiet.is_err(), "unchanged value reported: {quiet:?}");
}

#[tokio::test]
async fn garbage_reads_as_zero_with_a_clear_warning() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prio");
    fs::write(&path, "9\n").unwrap();
    let (_trackers, mut rx) = start(vec![track_file("prio", &path, None)]);
    assert_eq!(value(&mut rx, "initial").await, 9);
    fs::write(&path, "banana\n").unwrap();
    assert_eq!(value(&mut rx, "garbage").await, 0);
    let text = logs.text();
    assert!(
        text.contains("holds no number ('banana'), using 0"),
        "{text}"
    );
    assert!(text.contains(path.to_str().unwrap()), "{text}");
    fs::write(&path, "1000\n").unwrap();
    assert_eq!(value(&mut rx, "too big").await, 254);
    assert!(logs.contains("value 1000 out of range, using 254"));
    // The tracker is still alive after all that.
    fs::write(&path, "3\n").unwrap();
    assert_eq!(value(&mut rx, "sane again").await, 3);
}

#[tokio::test]
async fn init_file_creates_or_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    let kept = dir.path().join("kept");
    let forced = dir.path().join("forced");
    fs::write(&kept, "4\n").unwrap();
    fs::write(&forced, "4\n").unwrap();
    let (_trackers, mut rx) = start(vec![
        track_file("fresh", &fresh, Some((12, false))),
        track_file("kept", &kept, Some((12, false))),
        track_file("forced", &forced, Some((-3, true))),
    ]);
    let mut seen = std::collections::HashMap::new();
    while seen.len() < 3 {
        if let TrackEvent::FileValue { name, value } =
            next_event(&mut rx, 5 * SECOND, "initial values").await
        {
            seen.insert(name.to_string(), value);
        }
    }
    assert_eq!(seen["fresh"], 12);
    assert_eq!(seen["kept"], 4);
    assert_eq!(seen["forced"], -3);
    assert_eq!(fs::read_to_string(&fresh).unwrap(), "12\n");
}

#[tokio::test]
async fn a_file_in_a_missing_directory_is_disabled_and_others_carry_on() {
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let lost = dir.path().join("no-such-dir").join("prio");
    let good = dir.path().join("good");
    let (_trackers, mut rx) = start(vec![
        track_file("lost", &lost, None),
        track_file("good", &good, None),
    ]);
    let mut disabled = None;
    let mut good_values = Vec::new();
    while disabled.is_none() || good_values.is_empty() {
        match next_event(&mut rx, 5 * SECOND, "disabled + good").await {
            TrackEvent::Disabled { kind, name, reason } => {
                assert_eq!((kind, &*name), (TrackerKind::File, "lost"));
                disabled = Some(reason);
            }
            TrackEvent::FileValue { name, value } => {
                assert_eq!(&*name, "good");
                good_values.push(value);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(disabled.unwrap().contains("does not exist"));
    assert!(logs.contains("track_file lost"), "{}", logs.text());
    fs::write(&good, "2\n").unwrap();
    assert_eq!(value(&mut rx, "good written").await, 2);
}
