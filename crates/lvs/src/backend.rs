//! The data plane behind the core: nftables today, IPVS later. The core only describes
//! the table; a backend makes the kernel match it.

use crate::table::{Change, Table};

/// A forwarding data plane.
pub trait Backend {
    type Error: std::fmt::Display;

    /// Apply `changes` as one transaction: all or none. They come from
    /// [`Table::diff`] (through `Action::Apply`), in an order that is valid to apply.
    fn apply(&mut self, changes: &[Change]) -> Result<(), Self::Error>;

    /// Make the data plane hold exactly `table` whatever it holds now (at start, and
    /// after a failed transaction). The default removes nothing it does not know about:
    /// backends that own their table should flush it first.
    fn resync(&mut self, table: &Table) -> Result<(), Self::Error> {
        self.apply(&Table::default().diff(table))
    }
}
