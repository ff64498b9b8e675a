//! The VRRP protocol core.
