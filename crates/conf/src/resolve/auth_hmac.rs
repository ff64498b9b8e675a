//! `auth_hmac` as it will run: keys read and checked, defaults from the instance, strict
//! mode, and the legacy `authentication` block dropped, as keepalived 2.4.3 does. One
//! deliberate difference: keepalived discards the whole block when `active_key` names no
//! key and runs the instance unauthenticated; baton refuses to run that instance at all, so
//! a typo never turns authentication off.

use std::path::Path;

use super::{diag, warn};
use crate::diag::Code;
use crate::host::Host;
use crate::model::{AntiReplay, AuthHmac, HmacKey, HmacMode, VrrpInstance};
use crate::parse::cx::Cx;
use crate::parse::instance::RawInstance;
use crate::parse::instance::auth_hmac::{RawKeyValue, decode_key};

/// keepalived refuses key files longer than this ("too large").
pub(crate) const KEY_FILE_LIMIT: usize = 138;
/// Key lengths keepalived accepts: at least the hash's output, at most its block.
const KEY_LEN: std::ops::RangeInclusive<usize> = 32..=64;

/// Replace every `file:` key with the bytes its file holds (a `hex:` string or ASCII,
/// trailing CR/LF stripped); a file that cannot be used drops its key with an error. A file
/// others may read is loaded with a warning, as keepalived does.
pub(crate) fn read_key_files(cx: &mut Cx<'_>, instances: &mut [RawInstance], host: &dyn Host) {
    for inst in instances {
        let name = inst.name.clone();
        let Some(block) = inst.auth_hmac.as_mut() else {
            continue;
        };
        block.keys.retain_mut(|k| {
            let RawKeyValue::File(path) = &k.value else {
                return true;
            };
            match read_one(host, path) {
                Ok((bytes, mode)) => {
                    if mode & 0o077 != 0 {
                        warn(
                            cx,
                            Code::KeyFileInsecure,
                            &k.span,
                            format!(
                                "({name}) auth_hmac key {} file {} can be read by other users (mode {mode:o}); chmod 600 it",
                                k.id,
                                path.display()
                            ),
                        );
                    }
                    k.value = RawKeyValue::Bytes(bytes);
                    true
                }
                Err(why) => {
                    diag(
                        cx,
                        Code::AuthHmacInvalid,
                        &k.span,
                        format!(
                            "({name}) auth_hmac key {} file {}: {why}; key ignored",
                            k.id,
                            path.display()
                        ),
                    );
                    false
                }
            }
        });
    }
}

fn read_one(host: &dyn Host, path: &Path) -> Result<(Vec<u8>, u32), String> {
    let file = host
        .read_key_file(path, KEY_FILE_LIMIT)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::FileTooLarge => {
                format!("too large (more than {KEY_FILE_LIMIT} bytes)")
            }
            _ => e.to_string(),
        })?;
    let mut bytes = file.bytes;
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    let text = String::from_utf8(bytes).map_err(|_| "not text".to_string())?;
    let key = decode_key(&text).ok_or_else(|| "not valid hex".to_string())?;
    Ok((key, file.mode))
}

/// The instance's `auth_hmac`, or `Err(())` when the block cannot be used and the instance
/// must not run (reported).
pub(super) fn resolve(
    cx: &mut Cx<'_>,
    inst: &mut VrrpInstance,
    raw: &mut RawInstance,
) -> Result<(), ()> {
    let Some(block) = raw.auth_hmac.take() else {
        return Ok(());
    };
    let name = &raw.name;
    let mut keys = Vec::new();
    for k in block.keys {
        let RawKeyValue::Bytes(secret) = k.value else {
            continue;
        };
        if !KEY_LEN.contains(&secret.len()) {
            diag(
                cx,
                Code::AuthHmacInvalid,
                &k.span,
                format!(
                    "({name}) auth_hmac key {} is {} bytes long; keys must be 32 to 64 bytes - key ignored",
                    k.id,
                    secret.len()
                ),
            );
            continue;
        }
        keys.push(HmacKey {
            id: k.id,
            secret,
            span: k.span,
        });
    }
    let active = match &block.active_key {
        None => {
            diag(
                cx,
                Code::AuthHmacInvalid,
                &block.span,
                format!(
                    "({name}) auth_hmac has no active_key; instance not started (keepalived would run it unauthenticated)"
                ),
            );
            return Err(());
        }
        Some(a) if !keys.iter().any(|k| k.id == a.v) => {
            diag(
                cx,
                Code::AuthHmacInvalid,
                &a.span,
                format!(
                    "({name}) active_key {} names no usable key; instance not started (keepalived would run it unauthenticated)",
                    a.v
                ),
            );
            return Err(());
        }
        Some(a) => a.v,
    };
    let mut mode = block.mode.as_ref().map_or(HmacMode::Enforce, |m| m.v);
    if inst.strict
        && mode != HmacMode::Enforce
        && let Some(m) = &block.mode
    {
        diag(
            cx,
            Code::StrictMode,
            &m.span,
            format!("({name}) strict mode requires auth_hmac mode enforce; enforce used"),
        );
        mode = HmacMode::Enforce;
    }
    if inst.auth.take().is_some() {
        warn(
            cx,
            Code::AuthInvalid,
            &block.span,
            format!(
                "({name}) auth_hmac replaces the authentication block, which is ignored (as keepalived does)"
            ),
        );
    }
    inst.auth_hmac = Some(Box::new(AuthHmac {
        keys,
        active_key: active,
        anti_replay: block.anti_replay.unwrap_or(AntiReplay::Time),
        time_window: block
            .time_window
            .unwrap_or_else(|| default_time_window(inst.advert_int)),
        mode,
    }));
    Ok(())
}

/// keepalived's default freshness window: three advert intervals in whole seconds, at
/// least 5 and at most 300.
pub(crate) fn default_time_window(advert_int: std::time::Duration) -> u32 {
    let secs = advert_int.as_secs().min(u64::from(u32::MAX)) as u32;
    secs.saturating_mul(3).clamp(5, 300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn default_window_follows_keepalived() {
        for (int, w) in [
            (0.5, 5),
            (1.0, 5),
            (2.0, 6),
            (2.5, 6),
            (3.0, 9),
            (50.0, 150),
            (120.0, 300),
        ] {
            assert_eq!(
                default_time_window(Duration::from_secs_f64(int)),
                w,
                "{int}"
            );
        }
    }
}
