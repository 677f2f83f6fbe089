"""Stand-in for bitbake's hash equivalence server package, which the
bitbake-setup package does not ship.  bb imports it unconditionally; it is
only used when BB_HASHSERVE is set, which the example never does."""


def is_valid_unihash(unihash):
    return isinstance(unihash, str) and len(unihash) > 0


def _unavailable(*_args, **_kwargs):
    raise RuntimeError("hash equivalence server is not available in this bitbake "
                       "(unset BB_HASHSERVE)")


create_client = _unavailable
create_server = _unavailable
create_async_client = _unavailable
