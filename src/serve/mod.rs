//! check_raw_serve's library: many checks in one process. This layer sits
//! above `checks` (it runs their probes) and below `main`; its modules are
//! pure (time is passed in, never read) so that each is unit-tested alone.

pub mod keepalived;
