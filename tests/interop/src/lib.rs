//! Helpers that start and drive real Kerberos components for the interop tests.
