"""Loopback fakes of outside systems that several test packages (and benches) share."""
