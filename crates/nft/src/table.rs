//! Tables baton owns: how one is claimed at start and what a refusal to claim it means.
//!
//! Every user of nftables in baton (the LVS data plane and the demo's firewall now; the
//! filtering of traffic to virtual addresses on a backup later) owns tables of its own, so
//! none of them can disturb the administrator's rules or each other's: claim the table at
//! start with [`claim`], change it in transactions, delete it at exit.

use std::io;

use crate::Error;
use crate::batch::{Batch, TABLE_GROUP, TableId};
use crate::socket::{BatchFailure, NftSocket};

/// Messages that replace whatever table of that name exists (left by a crashed older run,
/// or made by hand) with an empty one owned by this socket: the kernel lets no other process
/// change it and deletes it when the socket closes, a crash included. Creating before
/// deleting makes the delete succeed whether or not a stale table was there.
pub fn claim(b: &mut Batch, t: &TableId) {
    remove_stale(b, t);
    b.add_table(TABLE_GROUP, t, true);
}

/// Messages that delete a table of that name if there is one.
pub fn remove_stale(b: &mut Batch, t: &TableId) {
    b.add_table(TABLE_GROUP, t, false);
    b.delete_table(TABLE_GROUP, t);
}

/// An error for a refused claim: a table owned by another live process (EPERM) means
/// another baton runs in this network namespace.
pub fn explain(object: String, error: io::Error, t: &TableId) -> Error {
    if error.raw_os_error() == Some(libc::EPERM) {
        return Error::Owned {
            table: t.to_string(),
        };
    }
    Error::Refused { object, error }
}

/// Commit a batch that must succeed whole (claiming a table, changing it as one): a refusal
/// names the first object the kernel refused, and a claim refused by another owner says so.
pub fn commit(sock: &mut NftSocket, b: &Batch, t: &TableId) -> Result<(), Error> {
    match sock.commit(b) {
        Ok(()) => Ok(()),
        Err(BatchFailure::Io(e)) => Err(Error::Socket(e)),
        Err(BatchFailure::Refused(rs)) => match rs.into_iter().next() {
            Some(rf) => {
                let object = b
                    .label(rf.index)
                    .map(|l| l.what.clone())
                    .unwrap_or_default();
                Err(explain(object, rf.error, t))
            }
            None => Err(Error::Socket(io::Error::other("refused"))),
        },
    }
}
