//! keepalived.conf front end: a preprocessor that keeps file:line:col for every token, a
//! recursive-descent parser, the typed [`Config`] with keepalived's defaults, validation and
//! diagnostics.

pub mod model;

pub use model::*;
