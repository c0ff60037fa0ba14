"""A stand-in for the existing application's package, just enough to import its seed model unchanged."""
