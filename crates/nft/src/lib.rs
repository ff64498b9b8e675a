#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod batch;
mod error;
pub mod expr;
pub mod lvs;
pub mod socket;
pub mod table;
pub mod vrrp;

pub use error::Error;
pub use lvs::{Dataplane, Options, Report};
pub use vrrp::VipFilter;
