//! Butane YAML front end: translates Butane configs (variants `flatcar` and
//! `fcos`) into Ignition JSON exactly as upstream Butane does.
