//! The native-client flow (PROTOCOL.md §3): what Office-era clients speak to sign
//! the Windows user in without a browser. So far: the WS-Trust request parser.

pub mod wstrust;
