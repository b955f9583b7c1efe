# Local stub: passlib (the libpass fork) ships no types; see context.pyi.
