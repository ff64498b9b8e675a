//! VRRP advertisements: version 2 (RFC 3768 §5.3) and version 3 (RFC 5798 §5.2, RFC 9568).
//!
//! ```text
//!  v2:  0                   1                   2                   3
//!      |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//!      |   Auth Type   |   Adver Int   |          Checksum             |
//!      |                     IP Address (1..n)                         |
//!      |                Authentication Data (1), (2)                   |
//!  v3: |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//!      |(rsvd) |     Max Adver Int     |          Checksum             |
//!      |                    IPvX Address (1..n)                        |
//! ```

use core::fmt;
use core::net::IpAddr;

use crate::checksum;
use crate::{Error, Family, Field, IPPROTO_VRRP, Result};

mod addresses;
pub use addresses::{Addresses, encode_addresses};

mod field {
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2: auth type (byte 4) and adver int in seconds (byte 5).
    pub const AUTH_TYPE: usize = 4;
    pub const ADVER_INT: usize = 5;
    /// v3: 4 reserved bits and 12 bits of max adver int in centiseconds.
    pub const MAX_ADVER_INT: core::ops::Range<usize> = 4..6;
    pub const CHECKSUM: core::ops::Range<usize> = 6..8;
    pub const ADDRESSES: usize = 8;
    pub const AUTH_DATA_LEN: usize = 8;
}

/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
/// The only VRRP message type (RFC 5798 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Largest VRRPv3 Max Adver Int: 12 bits of centiseconds, 40.95 s.
pub const MAX_V3_INTERVAL: u16 = 0x0fff;
/// A ucarp/OpenBSD CARP advertisement: 8 byte header, 8 byte counter, 20 byte SHA-1 HMAC.
const CARP_LEN: usize = 36;
/// CARP's "authlen" (in 32-bit words), which sits where VRRP keeps its address count.
const CARP_AUTHLEN: u8 = 7;

/// Protocol version of an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VRRPv{}", self.number())
    }
}

/// VRRPv2 authentication (RFC 2338 §5.3.6; dropped from RFC 3768 but kept by keepalived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth type 0.
    None,
    /// Auth type 1, "simple text password": 8 bytes, zero padded. Only these 8 bytes count.
    Pass([u8; 8]),
}

impl Auth {
    /// A PASS authentication from a configured password; like keepalived, only the first 8
    /// bytes are used.
    pub fn pass(password: &[u8]) -> Auth {
        let mut data = [0u8; 8];
        let n = password.len().min(8);
        data[..n].copy_from_slice(&password[..n]);
        Auth::Pass(data)
    }

    const fn type_code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
        }
    }
}

/// How the checksum of a VRRPv3 advert over IPv4 is formed. VRRPv2 always uses `Plain` and
/// VRRPv3 over IPv6 always uses `PseudoHeader`; only v3 over IPv4 has a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumForm {
    /// Over the VRRP message alone (RFC 9568 for IPv4; keepalived's `v3_checksum_as_v2`).
    Plain,
    /// Over the IP pseudo-header and the message (keepalived's default for v3/IPv4).
    PseudoHeader,
}

/// What a receiver accepts for VRRPv3 over IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumPolicy {
    /// Only this form.
    Expect(ChecksumForm),
    /// Either form; the parse result says which one matched.
    Either,
}

/// A zero-copy view of a VRRP message (the IP payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it. Accessors may panic on a short buffer; use
    /// [`Packet::new_checked`] for anything received.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap a buffer received on a socket of `family`, checking that its length agrees with
    /// its version and address count, so that no accessor can panic.
    pub fn new_checked(buffer: T, family: Family) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len(family)?;
        Ok(packet)
    }

    /// Check the version and the length. Refuses CARP, which shares protocol 112 and the
    /// group address and begins with the same version/type byte as VRRPv2.
    pub fn check_len(&self, family: Family) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated {
                field: Field::VrrpHeader,
                need: HEADER_LEN,
                have: data.len(),
            });
        }
        // CARP (ucarp, OpenBSD, pfSense) runs over IPv4 and IPv6 alike, so it is recognised
        // before the family matters: 36 bytes, version 2, "authlen" 7 where VRRPv2 keeps its
        // address count. A VRRPv2 message counting 7 addresses is 44 bytes long, so no valid
        // advert is ever mistaken for CARP.
        if self.version_number() == 2
            && data.len() == CARP_LEN
            && data[field::COUNT] == CARP_AUTHLEN
        {
            return Err(Error::Carp);
        }
        let expected = match self.version_number() {
            2 if family == Family::Ipv6 => return Err(Error::Version2OverIpv6),
            2 => HEADER_LEN + 4 * self.count() as usize + field::AUTH_DATA_LEN,
            3 => HEADER_LEN + family.addr_len() * self.count() as usize,
            v => return Err(Error::Version(v)),
        };
        if data.len() < expected {
            return Err(Error::Truncated {
                field: Field::VrrpAddressCount,
                need: expected,
                have: data.len(),
            });
        }
        if data.len() > expected {
            return Err(Error::Length {
                field: Field::VrrpAddressCount,
                expected,
                have: data.len(),
            });
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version_number(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }

    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// v2 only.
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_TYPE]
    }

    /// v2 only: advertisement interval in seconds.
    pub fn adver_int(&self) -> u8 {
        self.buffer.as_ref()[field::ADVER_INT]
    }

    /// v3 only: the 4 reserved bits (ignored on receive, RFC 5798 §5.2.5).
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[field::MAX_ADVER_INT.start] >> 4
    }

    /// v3 only: maximum advertisement interval in centiseconds (12 bits).
    pub fn max_adver_int(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::MAX_ADVER_INT];
        u16::from_be_bytes([b[0], b[1]]) & 0x0fff
    }

    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// v2 only: the 8 bytes of authentication data after the addresses.
    pub fn auth_data(&self) -> [u8; 8] {
        let data = self.buffer.as_ref();
        let mut out = [0u8; 8];
        out.copy_from_slice(&data[data.len() - field::AUTH_DATA_LEN..]);
        out
    }

    /// Checksum computed over this message (with the checksum field as it is, so a valid
    /// message gives 0).
    pub fn verify_checksum(&self, form: ChecksumForm, src: IpAddr, dst: IpAddr) -> bool {
        let data = self.buffer.as_ref();
        let mut acc = checksum::Accumulator::new();
        if form == ChecksumForm::PseudoHeader {
            acc.add_pseudo_header(src, dst, IPPROTO_VRRP, data.len());
        }
        acc.add_bytes(data);
        acc.finish() == 0
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The address list as raw bytes, borrowed from the underlying buffer.
    pub fn address_bytes(&self, family: Family) -> &'a [u8] {
        let n = self.count() as usize * family.addr_len();
        let data: &'a [u8] = self.buffer;
        &data[field::ADDRESSES..field::ADDRESSES + n]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version_type(&mut self, version: u8, msg_type: u8) {
        self.buffer.as_mut()[field::VER_TYPE] = (version << 4) | (msg_type & 0x0f);
    }

    pub fn set_vrid(&mut self, v: u8) {
        self.buffer.as_mut()[field::VRID] = v;
    }

    pub fn set_priority(&mut self, v: u8) {
        self.buffer.as_mut()[field::PRIORITY] = v;
    }

    pub fn set_count(&mut self, v: u8) {
        self.buffer.as_mut()[field::COUNT] = v;
    }

    pub fn set_auth_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = v;
    }

    pub fn set_adver_int(&mut self, v: u8) {
        self.buffer.as_mut()[field::ADVER_INT] = v;
    }

    /// Sets the 12-bit interval and clears the reserved bits.
    pub fn set_max_adver_int(&mut self, centis: u16) {
        let b = (centis & 0x0fff).to_be_bytes();
        self.buffer.as_mut()[field::MAX_ADVER_INT].copy_from_slice(&b);
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }

    pub fn address_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::ADDRESSES..]
    }

    pub fn set_auth_data(&mut self, data: &[u8; 8]) {
        let buf = self.buffer.as_mut();
        let len = buf.len();
        buf[len - field::AUTH_DATA_LEN..].copy_from_slice(data);
    }

    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, form: ChecksumForm, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let mut acc = checksum::Accumulator::new();
        if form == ChecksumForm::PseudoHeader {
            acc.add_pseudo_header(src, dst, IPPROTO_VRRP, data.len());
        }
        acc.add_bytes(data);
        let sum = acc.finish();
        self.set_checksum(sum);
    }
}

/// A validated advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdvertRepr<'a> {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// v2: Adver Int in seconds (8 bits). v3: Max Adver Int in centiseconds (12 bits).
    pub interval: u16,
    /// Always `Auth::None` for v3.
    pub auth: Auth,
    pub addresses: Addresses<'a>,
}

impl<'a> AdvertRepr<'a> {
    /// Validate a checked packet received on a socket of `family` between `src` and `dst`
    /// (needed for the pseudo-header). Returns the advert and the checksum form that matched.
    pub fn parse(
        packet: &Packet<&'a [u8]>,
        family: Family,
        src: IpAddr,
        dst: IpAddr,
        policy: ChecksumPolicy,
    ) -> Result<(AdvertRepr<'a>, ChecksumForm)> {
        Self::parse_covering(packet, &[], family, src, dst, policy)
    }

    /// [`AdvertRepr::parse`] for a message that arrived with an `auth_hmac` trailer
    /// (`crate::auth_ext::split`): over IPv6 the checksum covers the trailer too, over IPv4
    /// the message only.
    pub fn parse_with_trailer(
        packet: &Packet<&'a [u8]>,
        trailer: &[u8; crate::auth_ext::TRAILER_LEN],
        family: Family,
        src: IpAddr,
        dst: IpAddr,
        policy: ChecksumPolicy,
    ) -> Result<(AdvertRepr<'a>, ChecksumForm)> {
        let covered: &[u8] = match family {
            Family::Ipv4 => &[],
            Family::Ipv6 => trailer,
        };
        Self::parse_covering(packet, covered, family, src, dst, policy)
    }

    /// Parse, with `tail` (bytes after the message) covered by the checksum.
    fn parse_covering(
        packet: &Packet<&'a [u8]>,
        tail: &[u8],
        family: Family,
        src: IpAddr,
        dst: IpAddr,
        policy: ChecksumPolicy,
    ) -> Result<(AdvertRepr<'a>, ChecksumForm)> {
        packet.check_len(family)?;
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(Error::Type(packet.msg_type()));
        }
        let version = match packet.version_number() {
            2 => Version::V2,
            _ => Version::V3,
        };
        // Sum the message once; each checksum form then only adds its pseudo-header (or not).
        let mut message = checksum::Accumulator::new();
        message.add_bytes(packet.buffer);
        if !tail.is_empty() {
            // Both lengths are even (whole addresses, a 28-byte trailer), so the sums join.
            message.add_bytes(tail);
        }
        let covered_len = packet.buffer.len() + tail.len();
        let matches = |form| sum_is_valid(message, form, src, dst, covered_len);
        let form = match (version, family, policy) {
            (Version::V2, ..) => ChecksumForm::Plain,
            (Version::V3, Family::Ipv6, _) => ChecksumForm::PseudoHeader,
            (Version::V3, Family::Ipv4, ChecksumPolicy::Expect(form)) => form,
            (Version::V3, Family::Ipv4, ChecksumPolicy::Either) => {
                if matches(ChecksumForm::PseudoHeader) {
                    ChecksumForm::PseudoHeader
                } else {
                    ChecksumForm::Plain
                }
            }
        };
        if !matches(form) {
            return Err(checksum_error(packet, tail, form, src, dst));
        }
        let (interval, auth) = match version {
            Version::V2 => {
                let auth = match packet.auth_type() {
                    0 => Auth::None,
                    1 => Auth::Pass(packet.auth_data()),
                    2 => return Err(Error::AuthAh),
                    t => return Err(Error::AuthType(t)),
                };
                (packet.adver_int() as u16, auth)
            }
            Version::V3 => (packet.max_adver_int(), Auth::None),
        };
        if interval == 0 {
            return Err(Error::ZeroInterval);
        }
        let addresses = Addresses {
            family,
            bytes: packet.address_bytes(family),
        };
        Ok((
            AdvertRepr {
                version,
                vrid: packet.vrid(),
                priority: packet.priority(),
                interval,
                auth,
                addresses,
            },
            form,
        ))
    }

    /// Bytes this advert takes on the wire.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self.addresses.bytes.len()
            + match self.version {
                Version::V2 => field::AUTH_DATA_LEN,
                Version::V3 => 0,
            }
    }

    /// Write the advert into `buf` (at least [`Self::buffer_len`] bytes) and fill the checksum
    /// in `form` (ignored for v2, which is always plain, and v3/IPv6, always pseudo-header).
    /// `auth` is ignored for v3, which has no authentication. Everything is validated before
    /// anything is written. Returns the number of bytes written.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        form: ChecksumForm,
    ) -> Result<usize> {
        let len = self.buffer_len();
        let have = buf.len();
        let Some(buf) = buf.get_mut(..len) else {
            return Err(Error::Truncated {
                field: Field::OutputBuffer,
                need: len,
                have,
            });
        };
        let count = self.addresses.len();
        let count = u8::try_from(count).map_err(|_| Error::TooManyAddresses(count))?;
        if self.interval == 0 {
            return Err(Error::ZeroInterval);
        }
        let form = match (self.version, self.addresses.family) {
            (Version::V2, Family::Ipv6) => return Err(Error::Version2OverIpv6),
            (Version::V2, Family::Ipv4) if self.interval > u8::MAX as u16 => {
                return Err(Error::IntervalRange(self.interval));
            }
            (Version::V3, _) if self.interval > MAX_V3_INTERVAL => {
                return Err(Error::IntervalRange(self.interval));
            }
            (Version::V2, Family::Ipv4) => ChecksumForm::Plain,
            (Version::V3, Family::Ipv4) => form,
            (Version::V3, Family::Ipv6) => ChecksumForm::PseudoHeader,
        };
        let mut packet = Packet::new_unchecked(buf);
        packet.set_version_type(self.version.number(), TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_count(count);
        match self.version {
            Version::V2 => {
                packet.set_auth_type(self.auth.type_code());
                // Checked against u8::MAX above.
                packet.set_adver_int(self.interval as u8);
                let data = match self.auth {
                    Auth::None => [0u8; 8],
                    Auth::Pass(d) => d,
                };
                packet.set_auth_data(&data);
            }
            Version::V3 => packet.set_max_adver_int(self.interval),
        }
        packet.address_bytes_mut()[..self.addresses.bytes.len()]
            .copy_from_slice(self.addresses.bytes);
        packet.fill_checksum(form, src, dst);
        Ok(len)
    }

    /// The interval as a duration.
    pub fn interval_duration(&self) -> core::time::Duration {
        interval_duration(self.version, self.interval)
    }
}

/// What an advertisement interval field means: seconds in v2, centiseconds in v3.
pub fn interval_duration(version: Version, field: u16) -> core::time::Duration {
    match version {
        Version::V2 => core::time::Duration::from_secs(u64::from(field)),
        Version::V3 => core::time::Duration::from_millis(u64::from(field) * 10),
    }
}

/// Whether the sum of a whole message (checksum field included) is valid in `form`.
fn sum_is_valid(
    message: checksum::Accumulator,
    form: ChecksumForm,
    src: IpAddr,
    dst: IpAddr,
    len: usize,
) -> bool {
    let mut acc = message;
    if form == ChecksumForm::PseudoHeader {
        acc.add_pseudo_header(src, dst, IPPROTO_VRRP, len);
    }
    acc.finish() == 0
}

/// The error for a message whose checksum is wrong in `form`: what it carries and what the
/// sender should have written (the sum with the checksum field taken as zero).
#[cold]
fn checksum_error(
    packet: &Packet<&[u8]>,
    tail: &[u8],
    form: ChecksumForm,
    src: IpAddr,
    dst: IpAddr,
) -> Error {
    let data = packet.buffer;
    let mut acc = checksum::Accumulator::new();
    if form == ChecksumForm::PseudoHeader {
        acc.add_pseudo_header(src, dst, IPPROTO_VRRP, data.len() + tail.len());
    }
    acc.add_bytes(&data[..field::CHECKSUM.start]);
    acc.add_bytes(&data[field::CHECKSUM.end..]);
    acc.add_bytes(tail);
    Error::Checksum {
        got: packet.checksum(),
        expected: acc.finish(),
    }
}

impl fmt::Display for AdvertRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vrid {} prio {} ",
            self.version, self.vrid, self.priority
        )?;
        match self.version {
            Version::V2 => write!(f, "intvl {}s", self.interval)?,
            Version::V3 => write!(f, "intvl {}cs", self.interval)?,
        }
        if let Auth::Pass(_) = self.auth {
            f.write_str(" auth PASS")?;
        }
        write!(f, " addrs {:?}", self.addresses)
    }
}

#[cfg(test)]
mod tests;
