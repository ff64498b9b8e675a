//! Network namespace labs.
