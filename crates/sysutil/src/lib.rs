//! Shared system utilities: the one atomic-write helper and the one wrapper
//! for running external tools.
